package openssh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// TestPoolOneLoginPerHost: 200 goroutines asking for 10 hosts log in
// exactly 10 times, counted in sshd's log, and each host has one master.
func TestPoolOneLoginPerHost(t *testing.T) {
	var addrs []string
	for i := 1; i <= 10; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.0.%d", i))
	}
	srv := sshtest.Start(t, sshtest.Config{Addrs: addrs})
	defer checkNoLeaks(t)
	opts := testOptions(t, srv)
	opts.Timeout = 60 * time.Second
	pool := NewPool(&PoolOptions{Options: opts})
	defer pool.Close()
	before := strings.Count(srv.Log(), "Accepted publickey")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	got := make([]*Master, 200)
	errs := make([]error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = pool.Get(ctx, addrs[i%10])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Get %d (%s): %v", i, addrs[i%10], err)
		}
	}
	per := map[string]*Master{}
	for i, m := range got {
		a := addrs[i%10]
		if per[a] == nil {
			per[a] = m
		} else if per[a] != m {
			t.Errorf("host %s: two masters from the pool", a)
		}
		if m.Host() != a {
			t.Errorf("Get(%s) returned a master to %s", a, m.Host())
		}
	}
	if n := pool.Len(); n != 10 {
		t.Errorf("pool holds %d masters, want 10", n)
	}
	// sshd writes the log line as the login completes; give the last a moment.
	var n int
	for range 50 {
		if n = strings.Count(srv.Log(), "Accepted publickey") - before; n >= 10 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n != 10 {
		t.Errorf("sshd saw %d logins, want 10", n)
	}
	// The masters work.
	out, err := per[addrs[3]].Capture(ctx, "echo", "ok")
	if err != nil || string(out) != "ok\n" {
		t.Errorf("Capture on a pooled master: %q, %v", out, err)
	}
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Get(ctx, addrs[0]); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Get after Close: %v, want ErrPoolClosed", err)
	}
	for _, m := range per {
		if !errors.Is(m.Err(), ErrClosed) {
			t.Errorf("master to %s after pool Close: %v, want ErrClosed", m.Host(), m.Err())
		}
	}
}

// TestPoolReplacesDeadAndIdle: a killed master is replaced on the next Get;
// an idle master is closed after IdleTimeout, a busy one is not.
func TestPoolReplacesDeadAndIdle(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Config{})
	defer checkNoLeaks(t)
	pool := NewPool(&PoolOptions{Options: testOptions(t, srv), IdleTimeout: 400 * time.Millisecond})
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	m1, err := pool.Get(ctx, srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	pid := m1.MasterPID()
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; syscall.Kill(pid, 0) == nil; i++ { // until reaped
		if i > 500 {
			t.Fatal("killed master not reaped")
		}
		time.Sleep(10 * time.Millisecond)
	}
	m2, err := pool.Get(ctx, srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if m2 == m1 || m2.MasterPID() == pid {
		t.Fatal("the killed master was handed out again")
	}
	if out, err := m2.Capture(ctx, "echo", "again"); err != nil || string(out) != "again\n" {
		t.Fatalf("replacement master: %q, %v", out, err)
	}

	// A session running longer than IdleTimeout keeps its master.
	if err := m2.Command(ctx, "sleep", "1").Run(); err != nil {
		t.Fatal(err)
	}
	if m2.Err() != nil {
		t.Fatalf("busy master closed by the idle timer: %v", m2.Err())
	}
	// Idle: closed, and the pool forgets it.
	deadline := time.Now().Add(5 * time.Second)
	for m2.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("idle master not closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !errors.Is(m2.Err(), ErrClosed) {
		t.Errorf("idle master: %v, want ErrClosed", m2.Err())
	}
	m3, err := pool.Get(ctx, srv.Addr)
	if err != nil || m3 == m2 {
		t.Fatalf("Get after idle eviction: %v (same master: %v)", err, m3 == m2)
	}
}

// TestPoolSaturated: with MaxSessions 1 and MaxPerHost 2, a second master
// is started only while the first one's session slot is taken.
func TestPoolSaturated(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Config{})
	defer checkNoLeaks(t)
	opts := testOptions(t, srv)
	opts.MaxSessions = 1
	pool := NewPool(&PoolOptions{Options: opts, MaxPerHost: 2})
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m1, err := pool.Get(ctx, srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := pool.Get(ctx, srv.Addr); again != m1 {
		t.Fatal("an idle master was not reused")
	}
	cmdCtx, stop := context.WithCancel(ctx)
	cmd := m1.Command(cmdCtx, "sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stop()
	m2, err := pool.Get(ctx, srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if m2 == m1 {
		t.Fatal("a saturated master was handed out while the pool had room for another")
	}
	if m3, _ := pool.Get(ctx, srv.Addr); m3 != m2 {
		t.Error("the second master, idle, was not the one handed out")
	}
	if n := pool.Len(); n != 2 {
		t.Errorf("pool holds %d masters, want 2", n)
	}
}

// TestPoolFailedStart: concurrent Gets of a host that refuses connections
// share the failure of one start; nothing stays in the pool.
func TestPoolFailedStart(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Config{})
	defer checkNoLeaks(t)
	var starts atomic.Int32
	opts := testOptions(t, srv)
	pool := NewPool(&PoolOptions{Options: opts, New: func(ctx context.Context, target string, o *Options) (*Master, error) {
		starts.Add(1)
		return New(ctx, target, o)
	}})
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target := fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := pool.Get(ctx, target); !errors.Is(err, ErrConnRefused) {
				t.Errorf("Get of a closed port: %v, want ErrConnRefused", err)
			}
		}()
	}
	wg.Wait()
	if n := starts.Load(); n >= 20 {
		t.Errorf("%d starts for 20 concurrent Gets: failures were not shared", n)
	}
	if pool.Len() != 0 || len(pool.hosts) != 0 {
		t.Errorf("pool keeps %d masters, %d keys after failures", pool.Len(), len(pool.hosts))
	}
}

// TestPoolAsyncOptions: with Options.Async the pool still hands out a
// master that is up, and only one.
func TestPoolAsyncOptions(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Config{})
	defer checkNoLeaks(t)
	opts := testOptions(t, srv)
	opts.Async = true
	pool := NewPool(&PoolOptions{Options: opts})
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m1, err := pool.Get(ctx, srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if m2, err := pool.Get(ctx, srv.Addr); err != nil || m2 != m1 {
		t.Fatalf("second Get: %v (same master: %v)", err, m2 == m1)
	}
	if out, err := m1.Capture(ctx, "echo", "up"); err != nil || string(out) != "up\n" {
		t.Fatalf("Capture: %q, %v", out, err)
	}
}
