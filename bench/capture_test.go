package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
)

// The capture benchmark runs every capture in a fresh process, so that its
// peak RSS is the capture's: this test binary again (TestCaptureChild, on
// either transport, over the benchmark's master as an external master),
// Net::OpenSSH's capture in perl (libnet-openssh-perl) over the same
// master, and raw ssh -S with its stdout on /dev/null (the ceiling: no
// capture at all).

// captureSize is the size captured: 256 MiB, or $BENCH_CAPTURE_MIB MiB.
func captureSize() int64 {
	var mib int64 = 256
	if s := os.Getenv("BENCH_CAPTURE_MIB"); s != "" {
		fmt.Sscan(s, &mib)
	}
	return mib << 20
}

// TestCaptureChild is the child of BenchmarkCapture: with
// $BENCH_CAPTURE_CTL set, it captures $BENCH_CAPTURE_LINE through the
// master at that control path and checks the size.
func TestCaptureChild(t *testing.T) {
	ctl := os.Getenv("BENCH_CAPTURE_CTL")
	if ctl == "" {
		t.Skip("only as BenchmarkCapture's child")
	}
	tr := openssh.TransportProcess
	if os.Getenv("BENCH_CAPTURE_TRANSPORT") == "mux" {
		tr = openssh.TransportMux
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m, err := openssh.New(ctx, os.Getenv("BENCH_CAPTURE_HOST"), &openssh.Options{
		ExternalMaster: true,
		CtlPath:        ctl,
		ConfigFile:     os.Getenv("BENCH_CAPTURE_CONFIG"),
		Transport:      tr,
		BatchMode:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out, err := m.Capture(ctx, os.Getenv("BENCH_CAPTURE_LINE"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := strconv.Atoi(os.Getenv("BENCH_CAPTURE_SIZE"))
	if len(out) != want {
		t.Fatalf("captured %d bytes, want %d", len(out), want)
	}
}

// perlCapture is Net::OpenSSH's capture over an external master.
const perlCapture = `
use Net::OpenSSH;
my ($host, $ctl, $cfg, $line, $size) = @ARGV;
my $s = Net::OpenSSH->new($host, external_master => 1, ctl_path => $ctl,
	default_ssh_opts => ['-F', $cfg]);
$s->error and die "connect: " . $s->error;
my $out = $s->capture($line);
$s->error and die "capture: " . $s->error;
length($out) == $size or die "captured " . length($out) . " bytes, want $size";
`

// runChild runs c and returns its wall time and peak RSS in bytes.
func runChild(c *exec.Cmd) (time.Duration, int64, error) {
	t0 := time.Now()
	out, err := c.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return d, 0, fmt.Errorf("%v: %v: %s", c.Args[0], err, out)
	}
	ru := c.ProcessState.SysUsage().(*syscall.Rusage)
	return d, ru.Maxrss << 10, nil
}

// BenchmarkCapture is the throughput (<impl>-MB/s) and the peak RSS of
// the capturing process (<impl>-MiB) of a 256 MiB Capture in a fresh
// process: the library on each transport (native, process), Net::OpenSSH
// (perl, when installed) and raw ssh -S into /dev/null (raw, throughput
// only).
func BenchmarkCapture(b *testing.B) {
	e := newTransportEnv(b)
	n := captureSize()
	line := streamLine(n)
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	rss := map[string]int64{}
	child := func(name string, mk func() *exec.Cmd) impl {
		return impl{name: name, op: func(ctx context.Context) error {
			_, r, err := runChild(mk())
			rss[name] = max(rss[name], r)
			return err
		}}
	}
	env := func(m *openssh.Master, tr string) []string {
		return append(os.Environ(), "BENCH_CAPTURE_CTL="+m.CtlPath(), "BENCH_CAPTURE_TRANSPORT="+tr,
			"BENCH_CAPTURE_HOST="+e.srv.Addr, "BENCH_CAPTURE_CONFIG="+e.srv.SSHConfig,
			"BENCH_CAPTURE_LINE="+line, "BENCH_CAPTURE_SIZE="+strconv.FormatInt(n, 10))
	}
	lib := func(m *openssh.Master, tr string) func() *exec.Cmd {
		return func() *exec.Cmd {
			c := exec.Command(self, "-test.run", "^TestCaptureChild$", "-test.count", "1")
			c.Env = env(m, tr)
			return c
		}
	}
	impls := []impl{
		child("native", lib(e.native, "mux")),
		child("process", lib(e.process, "process")),
	}
	if exec.Command("perl", "-MNet::OpenSSH", "-e", "1").Run() == nil {
		impls = append(impls, child("perl", func() *exec.Cmd {
			return exec.Command("perl", "-e", perlCapture, e.srv.Addr, e.process.CtlPath(), e.srv.SSHConfig, line, strconv.FormatInt(n, 10))
		}))
	} else {
		b.Log("Net::OpenSSH not installed (libnet-openssh-perl): no perl column")
	}
	argv := rawArgv(b, e.process, line)
	impls = append(impls, impl{name: "raw", op: func(ctx context.Context) error { return rawRun(ctx, argv) }})
	impls, total, iters := interleave(b, impls, sequential(b.Context()))
	for j, im := range impls {
		b.ReportMetric(float64(n)*float64(iters)/total[j].Seconds()/1e6, im.name+"-MB/s")
		if r, ok := rss[im.name]; ok {
			b.ReportMetric(float64(r)/(1<<20), im.name+"-MiB")
		}
	}
}
