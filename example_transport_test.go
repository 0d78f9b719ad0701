package openssh_test

import (
	"context"
	"fmt"
	"log"
	"sync"

	"github.com/goopenssh/openssh"
)

// With TransportMux, commands, checks and tunnels speak the control
// socket's protocol instead of starting an ssh process each: a short
// command costs a few hundred microseconds instead of a few milliseconds.
// The code is the same as with the default transport.
func ExampleTransport() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "admin@db1.example.com", &openssh.Options{Transport: openssh.TransportMux})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	var wg sync.WaitGroup
	for _, table := range []string{"users", "orders", "events"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := m.Capture(ctx, "psql", "-Atc", "select count(*) from "+table)
			if err != nil {
				log.Print(table, ": ", err)
				return
			}
			fmt.Printf("%s: %s", table, out)
		}()
	}
	wg.Wait()
	if err := m.Check(ctx); err != nil { // an alive check, no process
		log.Fatal(err)
	}
}
