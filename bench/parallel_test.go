package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
	"github.com/goopenssh/openssh/parallel"
)

// parWorkers is the parallelism of both the runner and the baseline pool.
const parWorkers = 32

// parHost is one of the 64 benchmark hosts.
type parHost struct {
	addr string
	srv  *sshtest.Server
}

// parHosts starts 4 sshd servers of 16 addresses each: 64 hosts on
// 127.0.0.2 ... 127.0.0.65.
func parHosts(b *testing.B) []parHost {
	b.Helper()
	var hosts []parHost
	for s := 0; s < 4; s++ {
		addrs := make([]string, 16)
		for i := range addrs {
			addrs[i] = fmt.Sprintf("127.0.0.%d", 2+16*s+i)
		}
		srv := sshtest.Start(b, sshtest.Config{Addrs: addrs})
		for _, a := range addrs {
			hosts = append(hosts, parHost{a, srv})
		}
	}
	return hosts
}

// parRunner returns a Runner over the hosts; every client uses
// curve25519-sha256.
func parRunner(b *testing.B, hosts []parHost, keep bool) *parallel.Runner {
	b.Helper()
	dir, err := os.MkdirTemp("", "bpar")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	r := &parallel.Runner{Workers: parWorkers, Connections: len(hosts), KeepMasters: keep}
	for i, h := range hosts {
		err := r.AddHost(fmt.Sprintf("h%d", i), h.addr, &openssh.Options{
			ConfigFile: h.srv.SSHConfig,
			CtlDir:     dir,
			Timeout:    30 * time.Second,
			MasterOpts: []string{"-o", "KexAlgorithms=curve25519-sha256"},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// parRound runs `true` on every host through the runner.
func parRound(b *testing.B, ctx context.Context, r *parallel.Runner) {
	if _, err := r.All(parallel.Command("true")); err != nil {
		b.Fatal(err)
	}
	if _, err := r.Run(ctx); err != nil {
		b.Fatalf("runner: %v", err)
	}
}

// parPlainSSH runs `ssh host true` on every host, a fresh connection each,
// through a pool of parWorkers goroutines: the baseline.
func parPlainSSH(b *testing.B, ctx context.Context, hosts []parHost) {
	jobs := make(chan parHost)
	errs := make(chan error, len(hosts))
	var wg sync.WaitGroup
	for range parWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range jobs {
				out, err := exec.CommandContext(ctx, "ssh", "-F", h.srv.SSHConfig, "-T",
					"-o", "KexAlgorithms=curve25519-sha256", "-o", "BatchMode=yes",
					"-o", "ControlMaster=no", "-o", "ControlPath=none",
					"--", h.addr, "true").CombinedOutput()
				if err != nil {
					errs <- fmt.Errorf("ssh %s: %v: %s", h.addr, err, out)
				}
			}
		}()
	}
	for _, h := range hosts {
		jobs <- h
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// parReport reports both timings and their ratio.
func parReport(b *testing.B, raw, lib time.Duration) {
	n := float64(b.N)
	b.ReportMetric(float64(raw.Microseconds())/1000/n, "ssh-ms/op")
	b.ReportMetric(float64(lib.Microseconds())/1000/n, "runner-ms/op")
	if raw > 0 {
		b.ReportMetric(float64(lib)/float64(raw), "runner/ssh")
	}
}

// BenchmarkParallel64Cold measures, on 64 hosts and in the same run,
// connect + `true` + disconnect on all of them: a fresh Runner (one master
// per host, closed at the end) against plain `ssh host true` per host. Both
// run 32 hosts at a time. Metrics: ssh-ms/op, runner-ms/op and runner/ssh.
func BenchmarkParallel64Cold(b *testing.B) {
	hosts := parHosts(b)
	ctx := b.Context()
	parPlainSSH(b, ctx, hosts) // warm up sshd and the page cache
	var raw, lib time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		parPlainSSH(b, ctx, hosts)
		t1 := time.Now()
		r := parRunner(b, hosts, false)
		parRound(b, ctx, r)
		raw += t1.Sub(t0)
		lib += time.Since(t1)
	}
	b.StopTimer()
	parReport(b, raw, lib)
}

// BenchmarkParallel64Warm measures a round of `true` on 64 hosts whose
// masters are already up, against plain `ssh host true` per host (a fresh
// connection each, which is what a tool without connection reuse pays
// every round). Metrics as for BenchmarkParallel64Cold.
func BenchmarkParallel64Warm(b *testing.B) {
	hosts := parHosts(b)
	ctx := b.Context()
	r := parRunner(b, hosts, true)
	parRound(b, ctx, r) // connect
	parPlainSSH(b, ctx, hosts)
	var raw, lib time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		parPlainSSH(b, ctx, hosts)
		t1 := time.Now()
		parRound(b, ctx, r)
		raw += t1.Sub(t0)
		lib += time.Since(t1)
	}
	b.StopTimer()
	parReport(b, raw, lib)
	if st := r.Stats(); st.MaxActive > parWorkers || st.MaxOpen > len(hosts) {
		b.Fatalf("limits exceeded: %+v", st)
	}
}
