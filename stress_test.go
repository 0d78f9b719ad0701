package openssh

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// stressMasters is how many masters TestStress64Masters starts at once.
const stressMasters = 64

// stressRounds is how many times TestStress64Masters repeats its round on
// each transport.
const stressRounds = 3

// 64 masters started at once while busy loops keep every core loaded, then
// a command on each and Close, on both transports, three times: not one may
// fail. (Under load, the process transport used to declare live masters
// dead: "ssh -O check" output not copied yet read as a dead master.)
func TestStress64Masters(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	sshtest.CPUHog(t)
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		for round := 1; round <= stressRounds; round++ {
			start := time.Now()
			failures := stressRound(t, srv, tr)
			t.Logf("round %d: %d masters in %v, %d failures", round, stressMasters, time.Since(start).Round(time.Millisecond), len(failures))
			for _, f := range failures {
				t.Errorf("round %d: %s", round, f)
			}
			if n := sshtest.CountSSH(); n != 0 {
				// Close reaps the master; nothing may be left.
				t.Errorf("round %d: %d ssh processes after every Close returned", round, n)
			}
		}
	})
}

// stressRound starts stressMasters masters on srv at once, runs "true" on
// each and closes them; it returns a description of every failure.
func stressRound(t *testing.T, srv *sshtest.Server, tr Transport) []string {
	opts := make([]*Options, stressMasters)
	for i := range opts {
		opts[i] = testOptionsT(t, srv, tr) // each its own CtlDir
		// The load is the point, not the key exchange: ssh's default
		// post-quantum one costs three times the CPU of a login.
		opts[i].KexAlgorithms = []string{"curve25519-sha256"}
		// A slow login is not a failure here (the harness's 10 s
		// ConnectTimeout can pass before a loaded sshd sends its banner);
		// a live master declared dead is.
		opts[i].ConnectTimeout = 60 * time.Second
		opts[i].Timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(t.Context(), 180*time.Second)
	defer cancel()
	var (
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	fail := func(i int, what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf("master %d: %s: %v (%s)", i, what, err, errClass(err)))
	}
	masters := make([]*Master, stressMasters)
	start := time.Now()
	phase := func(name string) {
		t.Logf("  %s: %v", name, time.Since(start).Round(time.Millisecond))
		start = time.Now()
	}
	for i := range masters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := New(ctx, srv.Addr, opts[i])
			if err != nil {
				fail(i, "New", err)
				return
			}
			masters[i] = m
		}()
	}
	wg.Wait()
	phase("New")
	for i, m := range masters {
		if m == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.System(ctx, "true"); err != nil {
				fail(i, "System(true)", err)
			}
		}()
	}
	wg.Wait()
	phase("System")
	for i, m := range masters {
		if m == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Close(); err != nil {
				fail(i, "Close", err)
			}
		}()
	}
	wg.Wait()
	phase("Close")
	return failures
}
