package bench

import (
	"context"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
)

// BenchmarkStopWrapper measures what the stop wrapper (see remotectl.go)
// costs a remote `true` (and /bin/true): per transport, 200 runs with the wrapper (the
// default) and 200 with KeepRemote (no wrapper), interleaved one by one,
// and reports the ratio of the medians and of the means. Run it alone:
//
//	go test -run '^$' -bench StopWrapper -benchtime 1x ./bench
func BenchmarkStopWrapper(b *testing.B) {
	srv := sshtest.Start(b, sshtest.Config{})
	for _, bc := range []struct {
		tr   openssh.Transport
		line string
	}{
		{openssh.TransportProcess, "true"},
		{openssh.TransportMux, "true"},
		{openssh.TransportMux, "/bin/true"}, // not a builtin: the shell forks it instead of exec'ing it
	} {
		tr := bc.tr
		b.Run(tr.String()+"/"+bc.line, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			m, err := openssh.New(ctx, srv.Addr, &openssh.Options{
				ConfigFile: srv.SSHConfig,
				CtlDir:     b.TempDir(),
				Timeout:    20 * time.Second,
				BatchMode:  true,
				Transport:  tr,
			})
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			const n = 200
			var on, off []time.Duration
			run := func(keep bool) time.Duration {
				c := m.Command(context.Background(), bc.line)
				c.KeepRemote = keep
				t0 := time.Now()
				if err := c.Run(); err != nil {
					b.Fatal(err)
				}
				return time.Since(t0)
			}
			for b.Loop() {
				on, off = on[:0], off[:0]
				run(false) // warm up; creates the pid file
				for i := range n {
					if i%2 == 0 {
						on = append(on, run(false))
						off = append(off, run(true))
					} else {
						off = append(off, run(true))
						on = append(on, run(false))
					}
				}
			}
			medOn, medOff := median(on), median(off)
			b.ReportMetric(float64(medOn.Microseconds()), "µs-wrapped-median")
			b.ReportMetric(float64(medOff.Microseconds()), "µs-plain-median")
			b.ReportMetric(float64(medOn)/float64(medOff), "ratio-median")
			b.ReportMetric(float64(sumDur(on))/float64(sumDur(off)), "ratio-mean")
		})
	}
}

func sumDur(d []time.Duration) time.Duration {
	var t time.Duration
	for _, x := range d {
		t += x
	}
	return t
}
