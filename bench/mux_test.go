package bench

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/mux"
	"github.com/goopenssh/openssh/internal/sshtest"
)

// muxBenchMaster starts a private sshd and an openssh master on it.
func muxBenchMaster(b *testing.B) (*openssh.Master, *sshtest.Server) {
	b.Helper()
	srv := sshtest.Start(b, sshtest.Config{})
	dir, err := os.MkdirTemp("", "bmux")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := openssh.New(ctx, srv.Addr, &openssh.Options{
		ConfigFile: srv.SSHConfig, CtlDir: dir, BatchMode: true, Timeout: 20 * time.Second,
	})
	if err != nil {
		b.Fatalf("openssh.New: %v", err)
	}
	b.Cleanup(func() { m.Close() })
	return m, srv
}

// muxNativeTrue runs `true` through a native mux session: one control
// connection, hello, new session with /dev/null for stdio, exit message.
func muxNativeTrue(ctx context.Context, ctl string) (int, error) {
	c, err := mux.Dial(ctx, ctl)
	if err != nil {
		return -1, err
	}
	defer c.Close()
	s, err := c.NewSession(ctx, mux.SessionRequest{Command: "true"}, nil, nil, nil)
	if err != nil {
		return -1, err
	}
	return s.Wait(ctx)
}

// muxProcessTrue runs `true` through `ssh -S ctl`, a process per command.
func muxProcessTrue(ctx context.Context, srv *sshtest.Server, ctl string) error {
	return exec.CommandContext(ctx, "ssh", "-F", srv.SSHConfig, "-S", ctl, "-T",
		"-o", "ControlMaster=no", "--", srv.Addr, "true").Run()
}

// BenchmarkMuxTrueLatency measures, in the same run, the latency of `true`
// through a native mux session and through an `ssh -S ctl` process on the
// same master. Each iteration runs one of each; the metrics are
// native-ms/op, process-ms/op and process/native (the speed-up).
func BenchmarkMuxTrueLatency(b *testing.B) {
	m, srv := muxBenchMaster(b)
	ctx := b.Context()
	ctl := m.CtlPath()
	// Warm up both paths once.
	if st, err := muxNativeTrue(ctx, ctl); err != nil || st != 0 {
		b.Fatalf("native true: %d, %v", st, err)
	}
	if err := muxProcessTrue(ctx, srv, ctl); err != nil {
		b.Fatalf("ssh -S true: %v", err)
	}
	var native, process time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if st, err := muxNativeTrue(ctx, ctl); err != nil || st != 0 {
			b.Fatalf("native true: %d, %v", st, err)
		}
		t1 := time.Now()
		if err := muxProcessTrue(ctx, srv, ctl); err != nil {
			b.Fatalf("ssh -S true: %v", err)
		}
		native += t1.Sub(t0)
		process += time.Since(t1)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(native.Microseconds())/1000/n, "native-ms/op")
	b.ReportMetric(float64(process.Microseconds())/1000/n, "process-ms/op")
	if native > 0 {
		b.ReportMetric(float64(process)/float64(native), "process/native")
	}
}

// BenchmarkMuxAliveCheck measures MUX_C_ALIVE_CHECK on an open connection
// (what a native Check costs), and the full dial + hello + alive check.
func BenchmarkMuxAliveCheck(b *testing.B) {
	m, _ := muxBenchMaster(b)
	ctx := b.Context()
	b.Run("conn", func(b *testing.B) {
		c, err := mux.Dial(ctx, m.CtlPath())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		for i := 0; i < b.N; i++ {
			if _, err := c.AliveCheck(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c, err := mux.Dial(ctx, m.CtlPath())
			if err != nil {
				b.Fatal(err)
			}
			_, err = c.AliveCheck(ctx)
			c.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
