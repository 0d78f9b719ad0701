package openssh_test

import (
	"context"
	"fmt"
	"log"

	"github.com/goopenssh/openssh"
)

// Print what the connection negotiated and the server's host key.
func ExampleMaster_Info() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "host.example.com", &openssh.Options{
		Ciphers: []string{"aes256-gcm@openssh.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	in, err := m.Info()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("server:", in.ServerVersion)
	fmt.Println("kex:", in.Kex, "host key:", in.HostKeyAlgorithm)
	fmt.Println("cipher:", in.CipherClientToServer, in.MACClientToServer, in.CompressionClientToServer)
	fmt.Println("fingerprint:", in.HostKeyFingerprint, "key:", in.HostKey)
}
