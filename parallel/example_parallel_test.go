package parallel_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/parallel"
	"github.com/pkg/sftp"
)

// Run a command on a group of hosts, copy a file to some of them, and wait
// for the web hosts before the database host goes on.
func ExampleRunner() {
	r := &parallel.Runner{Workers: 16, Reconnections: 1, Stdout: os.Stdout, Stderr: os.Stderr}
	defer r.Close()
	for _, h := range []string{"web1", "web2", "db1"} {
		if err := r.AddHost(h, "deploy@"+h+".example.com", &openssh.Options{}); err != nil {
			fmt.Println(err)
			return
		}
	}
	r.All(parallel.Command("uname -a; echo I am %LABEL%"))
	r.Push("web*", parallel.Put("app.tar", "/tmp/app.tar"))
	r.Push("web*", parallel.Command("tar", "-C", "/srv", "-xf", "/tmp/app.tar").OnError(parallel.Retry))
	r.All(parallel.Join("web*"))
	r.Push("db1", parallel.Command("echo the web hosts are done"))
	results, err := r.Run(context.Background())
	for _, x := range results {
		fmt.Println(x.Label, x.ExitCode, x.Err)
	}
	if err != nil {
		fmt.Println(err)
	}
}

// Local actions need no connection: here the join makes b and c wait for a,
// and the policies decide what a failure does.
func ExampleJoin() {
	var r parallel.Runner
	for _, h := range []string{"a", "b", "c"} {
		r.AddHost(h, "", nil)
	}
	step := func(msg string) parallel.Action {
		return parallel.Local(func(_ context.Context, label string) error {
			fmt.Println(label, msg)
			return nil
		})
	}
	r.Push("a", step("first"))
	r.Push("b,c", parallel.Join("a"))
	r.Push("b", step("after a"))
	r.Push("c", parallel.Local(func(context.Context, string) error { return fmt.Errorf("boom") }).OnError(parallel.Done))
	results, err := r.Run(context.Background())
	fmt.Println(results.Get("c").Err)
	fmt.Println(err)
	// Output:
	// a first
	// b after a
	// c: local: boom
	// parallel: 1 of 3 hosts failed (c)
}

// Collect a log from every host with rsync, each into a directory of its
// own, and check a file with SFTP, over the native control-socket client.
func ExampleRsyncGet() {
	r := &parallel.Runner{Workers: 32, Options: &openssh.Options{Transport: openssh.TransportMux}}
	defer r.Close()
	for _, h := range []string{"web1", "web2"} {
		r.AddHost(h, h+".example.com", nil)
	}
	r.All(parallel.RsyncGet([]string{"/var/log/app.log"}, "logs/%LABEL%/", &openssh.RsyncOpts{Compress: true}))
	r.All(parallel.SFTP(func(ctx context.Context, label string, c *sftp.Client) error {
		st, err := c.Stat("/etc/app.conf")
		if err != nil {
			return err
		}
		fmt.Println(label, st.Size())
		return nil
	}))
	results, err := r.Run(context.Background())
	for _, x := range results.Failed() {
		fmt.Println(x.Label, x.Err)
	}
	_ = err
}

// Copy a file to many hosts with a progress line per host, bounding each
// host's login (retries included) and the rate of new logins.
func ExampleAction_Progress() {
	r := &parallel.Runner{
		Workers:       64,
		Reconnections: 2,
		LoginTimeout:  20 * time.Second, // the whole connect of a host
		ConnectRate:   10,               // logins started per second
	}
	defer r.Close()
	for _, h := range []string{"web1", "web2", "web3"} {
		r.AddHost(h, h+".example.com", nil)
	}
	var mu sync.Mutex
	r.All(parallel.Put("app.tar", "/tmp/app.tar").Progress(func(label string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stderr, "%s: %d of %d bytes\n", label, done, total)
	}))
	if _, err := r.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
}

// The paths of SFTP and Func actions are their own: ExpandLabel does to
// them what the runner does to the arguments of commands and transfers.
func ExampleExpandLabel() {
	fmt.Println(parallel.ExpandLabel("/srv/%LABEL%/app-100%%.log", "web1"))
	// Output: /srv/web1/app-100%.log
}
