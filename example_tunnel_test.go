package openssh_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/goopenssh/openssh"
)

// An http.Client whose connections go through the SSH master: the URL is
// resolved and reached from the remote host.
func ExampleMaster_DialContext() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "user@gateway.example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	client := &http.Client{
		Transport: &http.Transport{DialContext: m.DialContext},
		Timeout:   30 * time.Second,
	}
	resp, err := client.Get("http://intranet.internal:8080/status")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s\n", body)
}

// A local forward added and removed on a running master, and a remote one
// on a port the server picks.
func ExampleMaster_Forward() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "user@db-gateway.example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	local := openssh.ForwardSpec{
		Kind:    openssh.LocalForward,
		Listen:  openssh.TCPAddr("127.0.0.1", 15432),
		Connect: openssh.TCPAddr("db.internal", 5432),
	}
	if _, err := m.Forward(ctx, local); err != nil {
		log.Fatal(err)
	}
	defer m.CancelForward(ctx, local)

	remote := openssh.ForwardSpec{
		Kind:    openssh.RemoteForward,
		Listen:  openssh.TCPAddr("127.0.0.1", 0), // the server picks the port
		Connect: openssh.UnixAddr("/run/myapp.sock"),
	}
	port, err := m.Forward(ctx, remote)
	if err != nil {
		log.Fatal(err)
	}
	defer m.CancelForward(ctx, remote) // the same spec, port 0 included
	fmt.Println("the remote host reaches myapp on port", port)
}

// Serving connections made on the remote host, from Go.
func ExampleMaster_Listen() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "user@host.example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	l, err := m.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	fmt.Println("remote clients connect to", l.Addr())
	// Serve HTTP to the remote host's loopback.
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from the Go side")
	}))
}

// Net::OpenSSH's capture_tunnel: send a request, read the whole answer.
func ExampleMaster_CaptureTunnel() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := openssh.New(ctx, "user@host.example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	out, err := m.CaptureTunnel(ctx, "tcp", "localhost:25", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", out)
}
