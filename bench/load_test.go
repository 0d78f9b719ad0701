package bench

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
)

// BenchmarkParallel64ColdLoaded runs the 64-host cold round (a fresh
// Runner: connect, `true`, close) under sshtest.CPUHog, alternating the
// transports, PAR_ROUNDS times each (default 5). Not one round may fail.
// Metrics: the median round of each transport, in ms.
func BenchmarkParallel64ColdLoaded(b *testing.B) {
	rounds := 5
	if s := os.Getenv("PAR_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("PAR_ROUNDS=%q", s)
		}
		rounds = n
	}
	e := newPeerEnv(b)
	ctx := b.Context()
	sshtest.CPUHog(b)
	trs := []openssh.Transport{openssh.TransportProcess, openssh.TransportMux}
	times := map[openssh.Transport][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r := range rounds {
			for _, tr := range trs {
				t0 := time.Now()
				run := e.runner(b, tr, false)
				err := e.round(ctx, run)
				run.Close()
				d := time.Since(t0)
				times[tr] = append(times[tr], d)
				if err != nil {
					b.Errorf("%v, round %d: %v", tr, r+1, err)
				}
				b.Logf("%v round %d: %v", tr, r+1, d.Round(time.Millisecond))
			}
		}
	}
	b.StopTimer()
	for _, tr := range trs {
		ts := times[tr]
		slices.Sort(ts)
		b.ReportMetric(float64(ts[len(ts)/2].Microseconds())/1000, tr.String()+"-median-ms")
	}
}
