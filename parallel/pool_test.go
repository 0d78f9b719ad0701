package parallel

import (
	"context"
	"strings"
	"testing"

	"github.com/goopenssh/openssh"
)

// TestRunnerPool: two Runners sharing a Pool log in once per host; the
// masters outlive the Runs and are closed by the pool.
func TestRunnerPool(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 3)
	pool := openssh.NewPool(&openssh.PoolOptions{Options: opts})
	defer pool.Close()
	before := strings.Count(srv.Log(), "Accepted publickey")
	for round := range 2 {
		r := newRunner(t, srv, nil)
		r.Pool = pool
		r.All(Command("echo", "ok"))
		res, err := r.Run(context.Background())
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for _, x := range res {
			if string(x.Stdout) != "ok\n" {
				t.Errorf("round %d %s: %q", round, x.Label, x.Stdout)
			}
		}
		r.Close()
	}
	if n := pool.Len(); n != 3 {
		t.Errorf("pool holds %d masters, want 3", n)
	}
	if n := strings.Count(srv.Log(), "Accepted publickey") - before; n != 3 {
		t.Errorf("%d logins for 3 hosts and 2 runs, want 3", n)
	}
}
