package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
)

// demo starts one private sshd listening on 127.0.0.2 ... 127.0.0.(n+1), each
// address standing for a host, opens a master to every host in parallel,
// checks them, and prints a summary.
func demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	n := fs.Int("n", 8, "number of sandbox hosts (1-16)")
	fs.Parse(args)
	if *n < 1 || *n > 16 {
		return fmt.Errorf("demo: -n must be 1-16")
	}
	tb := &sandboxTB{}
	defer tb.Close()
	addrs := make([]string, *n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.0.%d", i+2)
	}
	start := time.Now()
	srv := sshtest.Start(tb, sshtest.Config{Addrs: addrs})
	fmt.Printf("sandbox: sshd pid %d on %s..%s port %d, user %s (%.0f ms)\n",
		srv.PID(), addrs[0], addrs[len(addrs)-1], srv.Port, srv.User, ms(time.Since(start)))
	ctlDir, err := os.MkdirTemp("", "ossh")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ctlDir)

	type result struct {
		host    string
		connect time.Duration
		check   time.Duration
		pid     int
		err     error
	}
	results := make([]result, len(addrs))
	masters := make([]*openssh.Master, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[i]
			r.host = a
			t0 := time.Now()
			m, err := openssh.New(ctx, a, &openssh.Options{
				ConfigFile: srv.SSHConfig,
				CtlDir:     ctlDir,
				BatchMode:  true,
				Timeout:    20 * time.Second,
				MasterOpts: []string{"-o", "KexAlgorithms=curve25519-sha256"},
			})
			r.connect = time.Since(t0)
			if err != nil {
				r.err = err
				return
			}
			masters[i] = m
			r.pid = m.MasterPID()
			t1 := time.Now()
			r.err = m.Check(ctx)
			r.check = time.Since(t1)
		}()
	}
	wg.Wait()
	failed := 0
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tMASTER PID\tCONNECT\tCHECK\tRESULT")
	for _, r := range results {
		status := "ok"
		if r.err != nil {
			status = r.err.Error()
			failed++
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f ms\t%.1f ms\t%s\n", r.host, r.pid, ms(r.connect), ms(r.check), status)
	}
	tw.Flush()
	for _, m := range masters {
		if m != nil {
			m.Close()
		}
	}
	fmt.Printf("%d hosts, %d failed; masters closed, sandbox torn down\n", len(addrs), failed)
	if failed > 0 {
		return fmt.Errorf("%d hosts failed", failed)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
