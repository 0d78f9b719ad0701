package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/mux"
	"github.com/goopenssh/openssh/internal/sshtest"
)

// The transport benchmarks compare, on one sshd and in the same run, the
// ways of running a remote command:
//
//	native   a Master with Transport: TransportMux
//	process  a Master with Transport: TransportProcess
//	raw      the process transport's ssh -S argv started by hand (os/exec)
//	xcrypto  golang.org/x/crypto/ssh: one Client, a Session per command
//	muxraw   internal/mux used directly on the master's socket
//
// Every benchmark interleaves the implementations: each iteration runs
// one operation (or block) of each, in an order that rotates with the
// iteration and with $BENCH_ROUND, so that they share the load of the
// moment on a noisy machine. Each reports one metric per implementation
// (native-ns/op, process-ns/op, ... or native-MB/s, ...); compare.sh runs
// several rounds and takes medians.

// benchKex and benchCipher are used by every client, ssh and x/crypto
// alike (they are OpenSSH 9.2's first choices).
const (
	benchKex    = "curve25519-sha256"
	benchCipher = "chacha20-poly1305@openssh.com"
)

// parWidth is the number of goroutines of the parallel benchmark, and
// parPerWorker the commands each runs back-to-back per block.
const (
	parWidth     = 8
	parPerWorker = 5
)

// transportEnv is one sshd with a master process, a Master per transport
// over it, and an x/crypto client on the sshd.
type transportEnv struct {
	srv     *sshtest.Server
	native  *openssh.Master
	process *openssh.Master
	xc      *ssh.Client
}

// newTransportEnv starts the sshd (MaxSessions 64, so that the x/crypto
// client's 8 concurrent sessions never meet the limit), the master, the
// two Masters and the x/crypto client.
func newTransportEnv(b *testing.B) *transportEnv {
	b.Helper()
	srv := sshtest.Start(b, sshtest.Config{MaxSessions: 64})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := &transportEnv{srv: srv}
	e.process = benchMaster(b, ctx, srv, openssh.TransportProcess, 0)
	e.native = attachMaster(b, ctx, srv, e.process, openssh.TransportMux)
	e.xc = xcryptoClient(b, srv)
	return e
}

// attachMaster returns a Master with the given transport over m's master
// process (ExternalMaster). The transport benchmarks run both transports
// over one master process, and the baselines (raw ssh -S, sftp -b,
// Net::OpenSSH) over it too: two master processes on the same sshd
// differed by 5 to 10 % in the same run, in either direction from run to
// run (the capture benchmark, each transport on each master), which is
// no difference of the transports'.
func attachMaster(b *testing.B, ctx context.Context, srv *sshtest.Server, m *openssh.Master, t openssh.Transport) *openssh.Master {
	b.Helper()
	a, err := openssh.New(ctx, srv.Addr, &openssh.Options{
		ConfigFile:     srv.SSHConfig,
		ExternalMaster: true,
		CtlPath:        m.CtlPath(),
		BatchMode:      true,
		Transport:      t,
	})
	if err != nil {
		b.Fatalf("openssh.New (%v, over the master at %s): %v", t, m.CtlPath(), err)
	}
	b.Cleanup(func() { a.Close() })
	return a
}

// benchMaster starts a master on srv with the given transport and
// Options.MaxSessions.
func benchMaster(b *testing.B, ctx context.Context, srv *sshtest.Server, t openssh.Transport, maxSessions int) *openssh.Master {
	b.Helper()
	dir, err := os.MkdirTemp("", "bmux")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	m, err := openssh.New(ctx, srv.Addr, &openssh.Options{
		ConfigFile:  srv.SSHConfig,
		CtlDir:      dir,
		BatchMode:   true,
		Timeout:     20 * time.Second,
		MasterOpts:  []string{"-o", "KexAlgorithms=" + benchKex, "-o", "Ciphers=" + benchCipher},
		Transport:   t,
		MaxSessions: maxSessions,
	})
	if err != nil {
		b.Fatalf("openssh.New (%v): %v", t, err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// xcryptoClient connects an x/crypto/ssh client to srv with its client
// key and known_hosts.
func xcryptoClient(b *testing.B, srv *sshtest.Server) *ssh.Client {
	b.Helper()
	pem, err := os.ReadFile(srv.ClientKey)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		b.Fatal(err)
	}
	hostKeys, err := knownhosts.New(srv.KnownHosts)
	if err != nil {
		b.Fatal(err)
	}
	cfg := &ssh.ClientConfig{
		Config: ssh.Config{
			KeyExchanges: []string{benchKex},
			Ciphers:      []string{benchCipher},
		},
		User:            srv.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         20 * time.Second,
	}
	c, err := ssh.Dial("tcp", net.JoinHostPort(srv.Addr, strconv.Itoa(srv.Port)), cfg)
	if err != nil {
		b.Fatalf("x/crypto/ssh dial: %v", err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// xcryptoRun runs line in a new session of c, stdio discarded.
func xcryptoRun(c *ssh.Client, line string) error {
	s, err := c.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Run(line)
}

// xcryptoStream runs line in a new session of c and counts its stdout.
func xcryptoStream(c *ssh.Client, line string) (int64, error) {
	s, err := c.NewSession()
	if err != nil {
		return 0, err
	}
	defer s.Close()
	r, err := s.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := s.Start(line); err != nil {
		return 0, err
	}
	n, cerr := io.Copy(io.Discard, r)
	if err := s.Wait(); err != nil {
		return n, err
	}
	return n, cerr
}

// muxRawRun runs line through internal/mux on the socket ctl: one control
// connection, hello, a new session with /dev/null for stdio, the exit
// message.
func muxRawRun(ctx context.Context, ctl, line string) error {
	c, err := mux.Dial(ctx, ctl)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.NewSession(ctx, mux.SessionRequest{Command: line}, nil, nil, nil)
	if err != nil {
		return err
	}
	st, err := s.Wait(ctx)
	if err != nil {
		return err
	}
	if st != 0 {
		return fmt.Errorf("exit status %d", st)
	}
	return nil
}

// muxRawAlive dials ctl and does one alive check: the least a native
// Check can cost.
func muxRawAlive(ctx context.Context, ctl string) error {
	c, err := mux.Dial(ctx, ctl)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.AliveCheck(ctx)
	return err
}

// impl is one implementation of an operation.
type impl struct {
	name string
	op   func(ctx context.Context) error
	// warm, if set, replaces op for the untimed warm-up.
	warm func(ctx context.Context) error
	// diag marks a diagnostic variant, run only when $BENCH_IMPLS names it.
	diag bool
}

// roundOffset is $BENCH_ROUND, which compare.sh sets so that the order of
// the implementations also rotates between rounds of one iteration.
func roundOffset() int {
	n, _ := strconv.Atoi(os.Getenv("BENCH_ROUND"))
	return n
}

// named reports whether $BENCH_IMPLS (comma-separated) names name.
func named(name string) bool {
	return slices.Contains(strings.Split(os.Getenv("BENCH_IMPLS"), ","), name)
}

// selected returns the impls named in $BENCH_IMPLS, to profile some alone;
// when it is empty, all of them but the diagnostic ones.
func selected(impls []impl) []impl {
	var sel []impl
	for _, im := range impls {
		if named(im.name) || (os.Getenv("BENCH_IMPLS") == "" && !im.diag) {
			sel = append(sel, im)
		}
	}
	return sel
}

// interleave runs b's iterations; iteration i runs block(impl) once for
// every impl, starting with impl (i + $BENCH_ROUND) mod len(impls). It
// returns the impls it ran (see selected), the time each took in total and
// the number of iterations.
func interleave(b *testing.B, impls []impl, block func(impl) (time.Duration, error)) ([]impl, []time.Duration, int) {
	b.Helper()
	impls = selected(impls)
	for _, im := range impls { // warm up: first session, page cache
		warm := im.warm
		if warm == nil {
			warm = im.op
		}
		if err := warm(b.Context()); err != nil {
			b.Fatalf("%s (warm-up): %v", im.name, err)
		}
	}
	total := make([]time.Duration, len(impls))
	iters := 0
	off := roundOffset()
	for b.Loop() {
		for k := range impls {
			j := (iters + off + k) % len(impls)
			d, err := block(impls[j])
			if err != nil {
				b.Fatalf("%s: %v", impls[j].name, err)
			}
			total[j] += d
		}
		iters++
	}
	return impls, total, iters
}

// reportNs reports each impl's time per operation as <name>-ns/op, where
// an iteration ran opsPerIter operations of each.
func reportNs(b *testing.B, impls []impl, total []time.Duration, iters, opsPerIter int) {
	for j, im := range impls {
		b.ReportMetric(float64(total[j].Nanoseconds())/float64(iters*opsPerIter), im.name+"-ns/op")
	}
}

// sequential times one run of im.
func sequential(ctx context.Context) func(impl) (time.Duration, error) {
	return func(im impl) (time.Duration, error) {
		t0 := time.Now()
		err := im.op(ctx)
		return time.Since(t0), err
	}
}

// parallelBlock times parWidth goroutines each running im parPerWorker
// times back-to-back.
func parallelBlock(ctx context.Context) func(impl) (time.Duration, error) {
	return func(im impl) (time.Duration, error) {
		var wg sync.WaitGroup
		errs := make(chan error, parWidth)
		t0 := time.Now()
		for range parWidth {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range parPerWorker {
					if err := im.op(ctx); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		d := time.Since(t0)
		close(errs)
		return d, <-errs
	}
}

// trueImpls are the five ways of running `true`, and a diagnostic sixth:
// nativenl, native on a master with no MaxSessions limit in the library
// (Options.MaxSessions -1), started only when $BENCH_IMPLS names it.
func trueImpls(b *testing.B, e *transportEnv) []impl {
	argv := rawArgv(b, e.process, "true")
	ctl := e.native.CtlPath()
	var extra []impl
	if named("nativenl") {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		nl := benchMaster(b, ctx, e.srv, openssh.TransportMux, -1)
		extra = append(extra, impl{name: "nativenl", diag: true,
			op: func(ctx context.Context) error { return nl.System(ctx, "true") }})
	}
	return append([]impl{
		{name: "native", op: func(ctx context.Context) error { return e.native.System(ctx, "true") }},
		{name: "process", op: func(ctx context.Context) error { return e.process.System(ctx, "true") }},
		{name: "raw", op: func(ctx context.Context) error { return rawRun(ctx, argv) }},
		{name: "xcrypto", op: func(context.Context) error { return xcryptoRun(e.xc, "true") }},
		{name: "muxraw", op: func(ctx context.Context) error { return muxRawRun(ctx, ctl, "true") }},
	}, extra...)
}

// BenchmarkTrueSeq is the latency of a remote `true`, one command at a
// time, for every implementation (metrics <impl>-ns/op).
func BenchmarkTrueSeq(b *testing.B) {
	e := newTransportEnv(b)
	impls := trueImpls(b, e)
	impls, total, iters := interleave(b, impls, sequential(b.Context()))
	reportNs(b, impls, total, iters, 1)
}

// BenchmarkTruePar8 is the time per remote `true` with 8 goroutines each
// running commands back-to-back on one master (one x/crypto client), for
// every implementation (metrics <impl>-ns/op, wall time over commands).
func BenchmarkTruePar8(b *testing.B) {
	e := newTransportEnv(b)
	impls := trueImpls(b, e)
	impls, total, iters := interleave(b, impls, parallelBlock(b.Context()))
	reportNs(b, impls, total, iters, parWidth*parPerWorker)
}

// BenchmarkStream1GiB is the throughput of 1 GiB of remote stdout read and
// counted in Go: PipeOut on each transport, Cmd.Stdout an io.Writer on
// each transport (nativew, processw), the stdout pipe of ssh -S started by
// hand, and an x/crypto session's stdout (metrics <impl>-MB/s).
func BenchmarkStream1GiB(b *testing.B) {
	e := newTransportEnv(b)
	line := streamLine(gib)
	argv := rawArgv(b, e.process, line)
	// The warm-up streams 1 MiB.
	const small = 1 << 20
	smallLine := streamLine(small)
	smallArgv := rawArgv(b, e.process, smallLine)
	// mk makes the impl whose f streams 1 GiB, or 1 MiB when !big.
	mk := func(name string, f func(ctx context.Context, big bool) (int64, error)) impl {
		return impl{
			name: name,
			op: func(ctx context.Context) error {
				n, err := f(ctx, true)
				return checkSize(n, gib, err)
			},
			warm: func(ctx context.Context) error {
				n, err := f(ctx, false)
				return checkSize(n, small, err)
			},
		}
	}
	pick := func(big bool) (string, []string) {
		if big {
			return line, argv
		}
		return smallLine, smallArgv
	}
	impls := []impl{
		mk("native", func(ctx context.Context, big bool) (int64, error) {
			l, _ := pick(big)
			return libStream(ctx, e.native, l)
		}),
		mk("process", func(ctx context.Context, big bool) (int64, error) {
			l, _ := pick(big)
			return libStream(ctx, e.process, l)
		}),
		mk("raw", func(ctx context.Context, big bool) (int64, error) {
			_, a := pick(big)
			return rawStream(ctx, a)
		}),
		// Cmd.Stdout an io.Writer (not a file), on each transport.
		mk("nativew", func(ctx context.Context, big bool) (int64, error) {
			l, _ := pick(big)
			return libWriterStream(ctx, e.native, l)
		}),
		mk("processw", func(ctx context.Context, big bool) (int64, error) {
			l, _ := pick(big)
			return libWriterStream(ctx, e.process, l)
		}),
		mk("xcrypto", func(_ context.Context, big bool) (int64, error) {
			l, _ := pick(big)
			return xcryptoStream(e.xc, l)
		}),
	}
	// Throughput on a shared machine follows the load of the moment; the
	// CPU time the local side spends per GiB (this process, the masters,
	// the ssh -S children) does not, and tells where a difference comes
	// from.
	pids := []int{e.process.MasterPID()} // the one master process
	cpu := map[string]time.Duration{}
	seq := sequential(b.Context())
	block := func(im impl) (time.Duration, error) {
		c0 := localCPU(pids)
		d, err := seq(im)
		cpu[im.name] += localCPU(pids) - c0
		return d, err
	}
	impls, total, iters := interleave(b, impls, block)
	for j, im := range impls {
		b.ReportMetric(float64(gib)*float64(iters)/total[j].Seconds()/1e6, im.name+"-MB/s")
		b.ReportMetric(float64(cpu[im.name].Milliseconds())/float64(iters), im.name+"-cpums/GiB")
	}
}

// localCPU is the user and system CPU time of this process, of its
// waited-for children and of the processes pids so far.
func localCPU(pids []int) time.Duration {
	var d time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			d += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	for _, pid := range pids {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// Fields after "(comm)": state is the 3rd field of the line,
		// utime and stime the 14th and 15th, in clock ticks (USER_HZ,
		// 100 on Linux).
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		if len(f) > 12 {
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			stm, _ := strconv.ParseInt(f[12], 10, 64)
			d += time.Duration(ut+stm) * 10 * time.Millisecond
		}
	}
	return d
}

// BenchmarkCheck is the latency of Master.Check on each transport, and of
// a bare dial + hello + alive check with internal/mux (metrics
// <impl>-ns/op).
func BenchmarkCheck(b *testing.B) {
	e := newTransportEnv(b)
	ctl := e.native.CtlPath()
	impls := []impl{
		{name: "native", op: e.native.Check},
		{name: "process", op: e.process.Check},
		{name: "muxraw", op: func(ctx context.Context) error { return muxRawAlive(ctx, ctl) }},
	}
	impls, total, iters := interleave(b, impls, sequential(b.Context()))
	reportNs(b, impls, total, iters, 1)
}

// BenchmarkTruePhases splits a remote `true` into phases, to show where
// the time of a session goes (compare.sh does not run it): for
// internal/mux, dial (connect and hello), open (NEW_SESSION until
// SESSION_OPENED: the master opens a channel and sshd confirms it) and run
// (until the exit message and the master's close); for x/crypto, open
// (channel open) and run (exec until exit-status and channel close).
// Metrics: muxdial-, muxopen-, muxrun-, xcopen- and xcrun-ns/op.
func BenchmarkTruePhases(b *testing.B) {
	e := newTransportEnv(b)
	ctx := b.Context()
	ctl := e.native.CtlPath()
	var ph [5]time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		c, err := mux.Dial(ctx, ctl)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		s, err := c.NewSession(ctx, mux.SessionRequest{Command: "true"}, nil, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if st, err := s.Wait(ctx); err != nil || st != 0 {
			b.Fatal(st, err)
		}
		t3 := time.Now()
		c.Close()
		xs, err := e.xc.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		if err := xs.Run("true"); err != nil {
			b.Fatal(err)
		}
		t5 := time.Now()
		xs.Close()
		ph[0] += t1.Sub(t0)
		ph[1] += t2.Sub(t1)
		ph[2] += t3.Sub(t2)
		ph[3] += t4.Sub(t3)
		ph[4] += t5.Sub(t4)
		n++
	}
	for i, name := range []string{"muxdial", "muxopen", "muxrun", "xcopen", "xcrun"} {
		b.ReportMetric(float64(ph[i].Nanoseconds())/float64(n), name+"-ns/op")
	}
}
