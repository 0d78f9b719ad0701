package openssh_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/goopenssh/openssh"
)

// Share one master per host between many goroutines; masters idle for a
// minute are closed.
func ExamplePool() {
	pool := openssh.NewPool(&openssh.PoolOptions{
		Options:     &openssh.Options{BatchMode: true, Timeout: 30 * time.Second},
		IdleTimeout: time.Minute,
	})
	defer pool.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, host := range []string{"web1", "web2", "web1", "web2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := pool.Get(ctx, host) // one login per host
			if err != nil {
				log.Print(err)
				return
			}
			out, err := m.Capture(ctx, "uptime")
			fmt.Printf("%s: %s %v\n", host, out, err)
		}()
	}
	wg.Wait()
}
