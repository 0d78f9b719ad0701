// Package bench holds benchmarks of the openssh package against raw ssh
// run by hand on the same master, against a raw client of the control
// socket (internal/mux) and against golang.org/x/crypto/ssh. Run them with
// compare.sh, which alternates the implementations, takes medians and
// prints the ratios; they are never part of the normal test run.
package bench

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
)

// gib is the size of the streaming benchmarks: 1 GiB.
const gib = 1 << 30

// streamLine is the remote command that writes size bytes to stdout.
func streamLine(size int64) string {
	return "head -c " + strconv.FormatInt(size, 10) + " /dev/zero"
}

// newMaster starts a private sshd and a master on it.
func newMaster(b *testing.B) *openssh.Master {
	b.Helper()
	srv := sshtest.Start(b, sshtest.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := openssh.New(ctx, srv.Addr, &openssh.Options{
		ConfigFile: srv.SSHConfig,
		CtlDir:     b.TempDir(),
		Timeout:    20 * time.Second,
		BatchMode:  true,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// rawArgv is the ssh -S command line that runs line through m: the argv
// the process transport runs, from MakeRemoteCommand, for the raw
// baselines to start by hand.
func rawArgv(b *testing.B, m *openssh.Master, line string) []string {
	b.Helper()
	argv, err := m.MakeRemoteCommand(context.Background(), line)
	if err != nil {
		b.Fatal(err)
	}
	return argv
}

// rawRun runs argv with os/exec, standard streams on /dev/null.
func rawRun(ctx context.Context, argv []string) error {
	return exec.CommandContext(ctx, argv[0], argv[1:]...).Run()
}

// rawStream runs argv and counts what it writes to its stdout pipe.
func rawStream(ctx context.Context, argv []string) (int64, error) {
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	r, err := c.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := c.Start(); err != nil {
		return 0, err
	}
	n, cerr := io.Copy(io.Discard, r)
	if err := c.Wait(); err != nil {
		return n, err
	}
	return n, cerr
}

// libStream counts what m.PipeOut(line) yields.
func libStream(ctx context.Context, m *openssh.Master, line string) (int64, error) {
	r, err := m.PipeOut(ctx, line)
	if err != nil {
		return 0, err
	}
	n, cerr := io.Copy(io.Discard, r)
	if err := r.Close(); err != nil {
		return n, err
	}
	return n, cerr
}

// countWriter counts what is written to it: an io.Writer that is not a
// file, so the library copies the stream into it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// libWriterStream runs line with Cmd.Stdout an io.Writer that is not a
// file and returns how many bytes reached it.
func libWriterStream(ctx context.Context, m *openssh.Master, line string) (int64, error) {
	w := &countWriter{}
	c := m.Command(ctx, line)
	c.Stdout = w
	err := c.Run()
	return w.n, err
}

// checkSize fails unless a stream gave want bytes without error.
func checkSize(n, want int64, err error) error {
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("read %d bytes, want %d", n, want)
	}
	return nil
}

// BenchmarkSystemTrue is the latency of one remote "true": raw runs the
// ssh -S command line by hand (the same argv the library uses, from
// MakeRemoteCommand), lib runs Master.System on the default (process)
// transport. compare.sh takes the same figures from BenchmarkTrueSeq
// (process against raw), so it does not run this one.
func BenchmarkSystemTrue(b *testing.B) {
	m := newMaster(b)
	ctx := context.Background()
	argv := rawArgv(b, m, "true")
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			if err := rawRun(ctx, argv); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib", func(b *testing.B) {
		for b.Loop() {
			if err := m.System(ctx, "true"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPipeOut1GiB streams 1 GiB from the remote host into a Go
// reader: raw reads the stdout pipe of ssh -S run by hand, lib reads
// Master.PipeOut on the default (process) transport. compare.sh takes the
// same figures from BenchmarkStream1GiB.
func BenchmarkPipeOut1GiB(b *testing.B) {
	m := newMaster(b)
	ctx := context.Background()
	line := streamLine(gib)
	argv := rawArgv(b, m, line)
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(gib)
		for b.Loop() {
			n, err := rawStream(ctx, argv)
			if err := checkSize(n, gib, err); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lib", func(b *testing.B) {
		b.SetBytes(gib)
		for b.Loop() {
			n, err := libStream(ctx, m, line)
			if err := checkSize(n, gib, err); err != nil {
				b.Fatal(err)
			}
		}
	})
}
