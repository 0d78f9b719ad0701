package openssh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// TestSignalRightAfterStart: a TERM sent by Cmd.Signal right after Start
// ends the command, however close it lands to the remote shell recording
// its pid or starting the next command of the line, and Wait reports it as
// ExitError.Signal "TERM". Before the control script waited for the shell
// to have a child, a TERM landing between the shell recording its pid and
// forking the line's first command (or between two commands) reached the
// shell alone; the shell deferred its trap until that command ended, so
// Wait hung. The rounds vary the time between Start and Signal to sweep
// over those instants; the second half runs under a CPU hog. Stop does the
// same with the ctx's stop, whose TERM goes the same way.
func TestSignalRightAfterStart(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	const rounds = 24
	// A PATH of 1000 directories that do not exist makes the shell take
	// some milliseconds to find a command before forking it: the instant
	// a signal can miss the command becomes wide enough for the rounds
	// to hit it (a long PATH is also what some hosts have). In
	// TwoCommands the lookup of env, not yet in the shell's hash table,
	// widens the gap between the two commands.
	var pb strings.Builder
	pb.WriteString("PATH=")
	for i := range 1000 {
		fmt.Fprintf(&pb, "/nonexistent/goopenssh/%d:", i)
	}
	longPath := pb.String() + "$PATH; "
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		for _, tc := range []struct {
			name  string
			line  func(s string) string
			delay func(i int) time.Duration // from Start to Signal
		}{
			{"Sleep", func(s string) string { return longPath + s },
				func(i int) time.Duration { return time.Duration(i%8) * 2 * time.Millisecond }},
			{"TwoCommands", func(s string) string { return longPath + "sleep 0.05; env " + s },
				func(i int) time.Duration { return time.Duration(i*37%100) * time.Millisecond }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for i := range rounds {
					if i == rounds/2 {
						sshtest.CPUHog(t)
					}
					s := uniqueSleep()
					// The deadline stops a command that the signal
					// missed, so that the test fails instead of
					// hanging.
					ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
					c := m.Command(ctx, tc.line(s))
					if err := c.Start(); err != nil {
						cancel()
						t.Fatalf("round %d: %v", i, err)
					}
					time.Sleep(tc.delay(i))
					if err := c.Signal(syscall.SIGTERM); err != nil {
						cancel()
						t.Fatalf("round %d: Signal: %v", i, err)
					}
					t0 := time.Now()
					err := c.Wait()
					d := time.Since(t0)
					cancel()
					if d > 5*time.Second {
						t.Fatalf("round %d: Wait returned %v after Signal (%v): the TERM did not reach %q", i, d.Round(time.Millisecond), err, s)
					}
					var ee *ExitError
					if !errors.As(err, &ee) || ee.Signal != "TERM" {
						t.Fatalf("round %d: err %v, want ExitError.Signal TERM", i, err)
					}
					waitRemoteGone(t, m, s)
				}
			})
		}
		// The ctx's stop sends TERM the same way, and KILL only after
		// StopGrace: a TERM that missed the command shows as a Wait
		// that takes the whole grace.
		t.Run("Stop", func(t *testing.T) {
			for i := range rounds {
				if i == rounds/2 {
					sshtest.CPUHog(t)
				}
				s := uniqueSleep()
				ctx, cancel := context.WithCancel(t.Context())
				c := m.Command(ctx, longPath+s)
				c.StopGrace = 30 * time.Second
				if err := c.Start(); err != nil {
					cancel()
					t.Fatalf("round %d: %v", i, err)
				}
				time.Sleep(time.Duration(i%8) * 2 * time.Millisecond)
				cancel()
				t0 := time.Now()
				err := c.Wait()
				if d := time.Since(t0); d > 5*time.Second {
					t.Fatalf("round %d: Wait returned %v after cancel (%v): the TERM did not reach %q", i, d.Round(time.Millisecond), err, s)
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("round %d: err %v, want context.Canceled", i, err)
				}
				waitRemoteGone(t, m, s)
			}
		})
	})
}
