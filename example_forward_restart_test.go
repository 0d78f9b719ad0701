package openssh_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/goopenssh/openssh"
)

// Offer this machine's network to the remote host as a SOCKS proxy (a
// remote dynamic forward), and keep it across a Restart.
func ExampleMaster_Forwards() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "build.example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	spec := openssh.ForwardSpec{Kind: openssh.RemoteForward, Listen: openssh.TCPAddr("127.0.0.1", 0)}
	port, err := m.Forward(ctx, spec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("on the remote host: curl --socks5-hostname 127.0.0.1:%d http://intranet/\n", port)

	err = m.Restart(ctx)
	if errors.Is(err, openssh.ErrForwardFailed) {
		log.Print("some forwards are gone: ", err) // the master itself is up
	} else if err != nil {
		log.Fatal(err)
	}
	for _, f := range m.Forwards() {
		fmt.Println(f.Spec, "now on port", f.Port)
	}
}
