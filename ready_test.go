package openssh

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// The inotify watch sees a socket linked into place under its name, as ssh
// does it, ignores other names, and leaves no fd once closed.
func TestSocketWatch(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inotify is Linux only; elsewhere the master is found by polling")
	}
	checkNoLeaks(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "ctl")
	fds := sshtest.OpenFDs()
	w := watchSocket(path)
	if w == nil {
		t.Fatal("watchSocket: no inotify watch")
	}
	// A second waiter in the same directory, for another name, shares the
	// instance and leaves before the socket appears.
	w2 := watchSocket(filepath.Join(dir, "ctl2"))
	if w2 == nil {
		t.Fatal("watchSocket: no second watch")
	}
	if n := sshtest.OpenFDs(); n != fds+1 {
		t.Errorf("%d fds open with two watches, %d before: want one shared inotify fd", n, fds)
	}
	// Another name: no event.
	l1, err := net.Listen("unix", filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	select {
	case <-w.events():
		t.Fatal("event for another name")
	case <-w2.events():
		t.Fatal("event for another name")
	case <-time.After(100 * time.Millisecond):
	}
	w2.close()
	// ssh's way: bind a temporary name, link it to the real one.
	tmp := path + ".XXXXXXXX"
	l2, err := net.Listen("unix", tmp)
	if err != nil {
		t.Fatal(err)
	}
	l2.(*net.UnixListener).SetUnlinkOnClose(false)
	defer l2.Close()
	if err := os.Link(tmp, path); err != nil {
		t.Fatal(err)
	}
	os.Remove(tmp)
	select {
	case <-w.events():
	case <-time.After(5 * time.Second):
		t.Fatal("no event for the socket's name")
	}
	if !isSocket(path) {
		t.Fatal("not a socket after the event")
	}
	// A rename into place is seen too.
	os.Remove(path)
	tmp2 := path + ".YYYYYYYY"
	l3, err := net.Listen("unix", tmp2)
	if err != nil {
		t.Fatal(err)
	}
	l3.(*net.UnixListener).SetUnlinkOnClose(false)
	defer l3.Close()
	if err := os.Rename(tmp2, path); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.events():
	case <-time.After(5 * time.Second):
		t.Fatal("no event for a rename into place")
	}
	w.close()
	l1.Close()
	l2.Close()
	l3.Close()
	if n := sshtest.OpenFDs(); n != fds {
		t.Errorf("%d fds open after close, %d before the watch", n, fds)
	}
}

// BenchmarkMasterReady starts 1 master, then 64 at once, in one control
// directory and measures the time from New to ready, with the inotify
// watch and with polling alone, interleaved in the same run. Metrics: the
// median and the slowest time to ready of each, and their ratios.
// (Linux; elsewhere both are polling.)
func BenchmarkMasterReady(b *testing.B) {
	srv := sshtest.Start(b, sshtest.Config{})
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchReady(b, srv, n) })
	}
}

func benchReady(b *testing.B, srv *sshtest.Server, n int) {
	round := func(poll bool) (median, worst time.Duration) {
		setPollOnly(poll)
		defer setPollOnly(false)
		dir := testCtlDir(b)
		times := make([]time.Duration, n)
		masters := make([]*Master, n)
		ctx, cancel := context.WithTimeout(b.Context(), 120*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := testOptions(b, srv)
				o.CtlDir = dir
				o.KexAlgorithms = []string{"curve25519-sha256"}
				o.Timeout = 90 * time.Second
				t0 := time.Now()
				m, err := New(ctx, srv.Addr, o)
				times[i] = time.Since(t0)
				if err != nil {
					b.Errorf("New: %v", err)
					return
				}
				masters[i] = m
			}()
		}
		wg.Wait()
		for _, m := range masters {
			if m != nil {
				wg.Add(1)
				go func() { defer wg.Done(); m.Close() }()
			}
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		return times[n/2], times[n-1]
	}
	round(false) // warm up
	var newMed, newMax, oldMed, oldMax time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var med, worst time.Duration
		if i%2 == 0 {
			med, worst = round(false)
			newMed, newMax = newMed+med, newMax+worst
			med, worst = round(true)
			oldMed, oldMax = oldMed+med, oldMax+worst
		} else {
			med, worst = round(true)
			oldMed, oldMax = oldMed+med, oldMax+worst
			med, worst = round(false)
			newMed, newMax = newMed+med, newMax+worst
		}
	}
	b.StopTimer()
	k := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / k }
	b.ReportMetric(ms(newMed), "inotify-median-ms")
	b.ReportMetric(ms(oldMed), "poll-median-ms")
	b.ReportMetric(ms(newMax), "inotify-max-ms")
	b.ReportMetric(ms(oldMax), "poll-max-ms")
	if oldMed > 0 && oldMax > 0 {
		b.ReportMetric(float64(newMed)/float64(oldMed), "median-inotify/poll")
		b.ReportMetric(float64(newMax)/float64(oldMax), "max-inotify/poll")
	}
}
