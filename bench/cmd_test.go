// Package bench holds benchmarks of the openssh package against raw ssh
// run by hand on the same master. Run them with compare.sh, which prints
// the ratios; they are never part of the normal test run.
package bench

import (
	"context"
	"io"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
)

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

// BenchmarkSystemTrue is the latency of one remote "true": raw runs the
// ssh -S command line by hand (the same argv the library uses, from
// MakeRemoteCommand), lib runs Master.System.
func BenchmarkSystemTrue(b *testing.B) {
	m := newMaster(b)
	ctx := context.Background()
	argv, err := m.MakeRemoteCommand(ctx, "true")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
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
// Master.PipeOut.
func BenchmarkPipeOut1GiB(b *testing.B) {
	const size = 1 << 30
	m := newMaster(b)
	ctx := context.Background()
	line := "head -c " + strconv.Itoa(size) + " /dev/zero"
	argv, err := m.MakeRemoteCommand(ctx, line)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			c := exec.Command(argv[0], argv[1:]...)
			r, _ := c.StdoutPipe()
			if err := c.Start(); err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, r)
			if err := c.Wait(); err != nil || n != size {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("lib", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			r, err := m.PipeOut(ctx, line)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, r)
			if err := r.Close(); err != nil || n != size {
				b.Fatal(n, err)
			}
		}
	})
}
