package openssh_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/goopenssh/openssh"
)

// Connect to a host, check the master and close it.
func ExampleNew() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "alice@build.example.com:2222", &openssh.Options{
		Timeout:   30 * time.Second,
		BatchMode: true,
	})
	switch {
	case errors.Is(err, openssh.ErrHostKeyUnknown):
		log.Fatal("add the host key to known_hosts first: ", err)
	case errors.Is(err, openssh.ErrAuth):
		log.Fatal("no key was accepted: ", err)
	case err != nil:
		log.Fatal(err)
	}
	defer m.Close()
	if err := m.Check(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("master pid", m.MasterPID(), "socket", m.CtlPath())
}

// Start the master in the background and wait for it later.
func ExampleMaster_WaitForMaster() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "host.example.com", &openssh.Options{Async: true, Timeout: 20 * time.Second})
	if err != nil {
		log.Fatal(err) // bad options only: login errors come from WaitForMaster
	}
	defer m.Close()
	// ... other work while ssh logs in ...
	if err := m.WaitForMaster(ctx); err != nil {
		log.Fatal(err)
	}
}

// Parse a target the way New does.
func ExampleParseTarget() {
	t, err := openssh.ParseTarget("deploy@[2001:db8::7]:2222")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.User, t.Host, t.Port, t.HostSquared())
	_, err = openssh.ParseTarget("-oProxyCommand=evil")
	fmt.Println(errors.Is(err, openssh.ErrInvalid))
	// Output:
	// deploy 2001:db8::7 2222 [2001:db8::7]
	// true
}
