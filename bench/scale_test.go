package bench

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
)

// scaleEnv reads a positive integer from the environment.
func scaleEnv(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// BenchmarkScaleMasters opens SCALE_MASTERS masters (default 1000) on one
// machine, SCALE_PAR logins at a time (default 32), spread over the 64
// loopback hosts of 4 sshd (MaxStartups 100:30:200, so no login is
// dropped), on each transport: all must connect. Then it checks all of
// them at once, runs `true` on each (SCALE_PAR at a time; SCALE_TRUE=0
// skips it) and closes all of them at once. Metrics per transport: connect-all, Check-all, true-all
// and Close-all times, and the fds this process
// holds per master. It needs a hard RLIMIT_NOFILE of at least 4 per master
// (Go raises the soft limit to the hard one; see the README). Run it with
// `make bench` or -bench BenchmarkScaleMasters.
func BenchmarkScaleMasters(b *testing.B) {
	n := scaleEnv(b, "SCALE_MASTERS", 1000)
	par := scaleEnv(b, "SCALE_PAR", 32)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && uint64(rl.Cur) < uint64(4*n+256) {
		b.Fatalf("RLIMIT_NOFILE is %d: %d masters need at least %d (ulimit -n)", rl.Cur, n, 4*n+256)
	}
	hosts := parHosts(b)
	for _, tr := range []openssh.Transport{openssh.TransportProcess, openssh.TransportMux} {
		b.Run(tr.String(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				scaleRound(b, hosts, tr, n, par)
			}
		})
	}
}

// scaleRound opens n masters, checks and closes them, and reports.
func scaleRound(b *testing.B, hosts []parHost, tr openssh.Transport, n, par int) {
	dir, err := os.MkdirTemp("", "bscale")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(b.Context(), 20*time.Minute)
	defer cancel()
	masters := make([]*openssh.Master, n)
	defer func() {
		for _, m := range masters {
			if m != nil {
				m.Close()
			}
		}
	}()
	var failed atomic.Int32
	report := func(what string, i int, err error) {
		if failed.Add(1) <= 10 {
			b.Errorf("%v: master %d (%s): %s: %v", tr, i, hosts[i%len(hosts)].addr, what, err)
		}
	}
	fds0 := sshtest.OpenFDs()
	t0 := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				h := hosts[i%len(hosts)]
				m, err := openssh.New(ctx, h.addr, &openssh.Options{
					ConfigFile: h.srv.SSHConfig,
					CtlDir:     dir,
					Transport:  tr,
					Timeout:    120 * time.Second,
					BatchMode:  true,
					// A slow login under load is not a failure here.
					ConnectTimeout: 120 * time.Second,
					KexAlgorithms:  []string{"curve25519-sha256"},
				})
				if err != nil {
					report("New", i, err)
					continue
				}
				masters[i] = m
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	connect := time.Since(t0)
	fds1 := sshtest.OpenFDs()
	up := n - int(failed.Load())
	b.Logf("%v: %d of %d masters up in %v; fds %d -> %d", tr, up, n, connect.Round(time.Millisecond), fds0, fds1)

	each := func(f func(i int, m *openssh.Master)) time.Duration {
		t := time.Now()
		var wg sync.WaitGroup
		for i, m := range masters {
			if m == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				f(i, m)
			}()
		}
		wg.Wait()
		return time.Since(t)
	}
	check := each(func(i int, m *openssh.Master) {
		if err := m.Check(ctx); err != nil {
			report("Check", i, err)
		}
	})
	// `true` on every master, par at a time: on the process transport
	// that is one ssh -S per command. Close then also removes the remote
	// stop wrapper's file: one more session per master. SCALE_TRUE=0
	// skips this phase, to time the Close of masters that ran nothing.
	t1 := time.Now()
	run := make(chan int)
	if os.Getenv("SCALE_TRUE") == "0" {
		par = 0
	}
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range run {
				if err := masters[i].System(ctx, "true"); err != nil {
					report("System(true)", i, err)
				}
			}
		}()
	}
	for i, m := range masters {
		if m != nil && par > 0 {
			run <- i
		}
	}
	close(run)
	wg.Wait()
	trueAll := time.Since(t1)
	closeAll := each(func(i int, m *openssh.Master) {
		if err := m.Close(); err != nil {
			report("Close", i, err)
		}
	})
	clear(masters)
	b.Logf("%v: Check-all %v, true-all %v, Close-all %v", tr, check.Round(time.Millisecond), trueAll.Round(time.Millisecond), closeAll.Round(time.Millisecond))
	if k := sshtest.CountSSH(); k != 0 {
		b.Errorf("%v: %d ssh processes left after every Close returned", tr, k)
	}
	if f := failed.Load(); f > 0 {
		b.Errorf("%v: %d failures in all", tr, f)
	}
	b.ReportMetric(float64(up), "up")
	b.ReportMetric(connect.Seconds(), "connect-all-s")
	b.ReportMetric(check.Seconds(), "check-all-s")
	b.ReportMetric(trueAll.Seconds(), "true-all-s")
	b.ReportMetric(closeAll.Seconds(), "close-all-s")
	if up > 0 {
		b.ReportMetric(float64(fds1-fds0)/float64(up), "fds/master")
	}
}
