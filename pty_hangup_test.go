package openssh

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// Closing the pty of a running command hangs it up on both transports, as
// StartPty documents: Wait returns within a few seconds and the remote
// process is gone, instead of the command running on to its end.
func TestPtyCloseHangsUp(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	forEachTransport(t, func(t *testing.T, tr Transport) {
		checkNoLeaks(t)
		m, _ := newTestMasterT(t, srv, nil, tr)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		sleep := fmt.Sprintf("sleep 20.%06d", time.Now().Nanosecond()/1000)
		c := m.Command(ctx, "echo ready; "+sleep)
		ptm, err := c.StartPty()
		if err != nil {
			t.Fatal(err)
		}
		waitOnExit(t, c, ptm)
		if head, err := readUntil(ptm, "ready"); err != nil {
			t.Fatalf("reading ready: %q %v", head, err)
		}
		if !waitProcess(sleep, 10*time.Second) {
			t.Fatalf("the remote %q did not start", sleep)
		}
		start := time.Now()
		ptm.Close()
		err = noHang(t, 25*time.Second, "Wait", c.Wait)
		d := time.Since(start)
		t.Logf("Wait after closing the pty: %v (%s) after %v", err, errClass(err), d.Round(time.Millisecond))
		if d > 5*time.Second {
			t.Errorf("Wait returned %v after the pty was closed, want the command hung up within 5 s", d.Round(time.Millisecond))
		}
		if !waitUntil(func() bool { return !waitProcess(sleep, 0) }, 5*time.Second) {
			t.Errorf("the remote %q still runs 5 s after the pty was closed", sleep)
		}
	})
}

// waitUntil polls cond every 10 ms for at most d and reports whether it
// came true.
func waitUntil(cond func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
