package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
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

// The peers comparison (bench/parallel.sh): the runner with both transports
// against Net::OpenSSH::Parallel, parallel-ssh (pssh), asyncssh and plain
// ssh, on the same 64 hosts, in the same run.

// peerEnv is the shared setup: one ssh_config for every client.
type peerEnv struct {
	hosts     []parHost
	cfg       string // ssh_config covering the 64 hosts
	hostsFile string // one address per line
	ctlDir    string
}

// newPeerEnv starts the 64 hosts and writes an ssh_config that gives each
// address its port and client key, with the user, a known_hosts of all
// four servers, curve25519-sha256, no compression and batch mode for all:
// ssh (masters, slaves, plain ssh, pssh's ssh) and asyncssh read the same
// file.
func newPeerEnv(b *testing.B) *peerEnv {
	hosts := parHosts(b)
	dir := b.TempDir()
	os.Chmod(dir, 0o755)
	var cfg, kh, list strings.Builder
	seen := map[*sshtest.Server]bool{}
	for _, h := range hosts {
		if seen[h.srv] {
			continue
		}
		seen[h.srv] = true
		k, err := os.ReadFile(h.srv.KnownHosts)
		if err != nil {
			b.Fatal(err)
		}
		kh.Write(k)
		fmt.Fprintf(&cfg, "Host %s\n  Port %d\n  IdentityFile %s\n", strings.Join(h.srv.Config.Addrs, " "), h.srv.Port, h.srv.ClientKey)
	}
	for _, h := range hosts {
		list.WriteString(h.addr + "\n")
	}
	khPath := filepath.Join(dir, "known_hosts")
	fmt.Fprintf(&cfg, `Host *
  User %s
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  IdentityAgent none
  IdentitiesOnly yes
  UpdateHostKeys no
  ConnectTimeout 10
  KexAlgorithms curve25519-sha256
  Compression no
  BatchMode yes
`, hosts[0].srv.User, khPath)
	e := &peerEnv{hosts: hosts, cfg: filepath.Join(dir, "ssh_config"), hostsFile: filepath.Join(dir, "hosts")}
	for p, s := range map[string]string{khPath: kh.String(), e.cfg: cfg.String(), e.hostsFile: list.String()} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctl, err := os.MkdirTemp("", "bpeer")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(ctl) })
	e.ctlDir = ctl
	return e
}

// runner returns a Runner over the 64 hosts with the shared ssh_config.
func (e *peerEnv) runner(b *testing.B, tr openssh.Transport, keep bool) *parallel.Runner {
	r := &parallel.Runner{Workers: parWorkers, Connections: len(e.hosts), KeepMasters: keep}
	for i, h := range e.hosts {
		err := r.AddHost(fmt.Sprintf("h%d", i), h.addr, &openssh.Options{
			ConfigFile: e.cfg,
			CtlDir:     e.ctlDir,
			Timeout:    30 * time.Second,
			Transport:  tr,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// round runs `true` on every host of r; its error names what failed.
func (e *peerEnv) round(ctx context.Context, r *parallel.Runner) error {
	if _, err := r.All(parallel.Command("true")); err != nil {
		return err
	}
	res, err := r.Run(ctx)
	if err != nil {
		for _, x := range res.Failed() {
			err = fmt.Errorf("%w; %v", err, x.Err)
		}
	}
	return err
}

// plainSSH runs `ssh host true` on every host, 32 at a time, each a fresh
// connection (no ControlMaster).
func (e *peerEnv) plainSSH(ctx context.Context) error {
	jobs := make(chan string)
	errs := make(chan error, len(e.hosts))
	var wg sync.WaitGroup
	for range parWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range jobs {
				out, err := exec.CommandContext(ctx, "ssh", "-F", e.cfg, "-T",
					"-o", "ControlMaster=no", "-o", "ControlPath=none", "--", h, "true").CombinedOutput()
				if err != nil {
					errs <- fmt.Errorf("ssh %s: %v: %s", h, err, out)
				}
			}
		}()
	}
	for _, h := range e.hosts {
		jobs <- h.addr
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return <-errs
}

// rawSlaves runs "ssh -S ctl host true" on every host through the given
// control paths (host to path), 32 at a time: the process transport's
// floor for a warm round, without the runner.
func (e *peerEnv) rawSlaves(ctx context.Context, ctls map[string]string) error {
	jobs := make(chan string)
	errs := make(chan error, len(e.hosts))
	var wg sync.WaitGroup
	for range parWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range jobs {
				out, err := exec.CommandContext(ctx, "ssh", "-F", e.cfg, "-S", ctls[h], "-T", "--", h, "true").CombinedOutput()
				if err != nil {
					errs <- fmt.Errorf("ssh -S %s: %v: %s", h, err, out)
				}
			}
		}()
	}
	for _, h := range e.hosts {
		jobs <- h.addr
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return <-errs
}

// process runs a whole program (pssh, ossh) and returns its error with
// its output.
func process(ctx context.Context, argv ...string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", argv[0], err, lastLines(out, 5))
	}
	return nil
}

func lastLines(b []byte, n int) string {
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// peer is a long-lived peer process (bench/peers/*) answering commands on
// stdin with "ok NS [NS]" or "err MSG".
type peer struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *bytes.Buffer
}

func startPeer(b *testing.B, argv ...string) *peer {
	cmd := exec.Command(argv[0], argv[1:]...)
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	p := &peer{cmd: cmd, in: in, out: bufio.NewReader(out), stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("%s: %v", argv[0], err)
	}
	b.Cleanup(func() {
		p.in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// do sends a command and returns the times the peer measured.
func (p *peer) do(c string) ([]time.Duration, error) {
	if _, err := io.WriteString(p.in, c+"\n"); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", c, err, p.stderr)
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", c, err, lastLines(p.stderr.Bytes(), 5))
	}
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "ok" {
		return nil, fmt.Errorf("%s: %s", c, strings.TrimSpace(line))
	}
	var ds []time.Duration
	for _, s := range f[1:] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: bad answer %q", c, line)
		}
		ds = append(ds, time.Duration(n))
	}
	return ds, nil
}

// peerImpl is one client in the comparison: a round returns its time
// (measured inside the peer process for the peers with a library, around
// the whole process for command-line tools) and maybe a part of it.
type peerImpl struct {
	name  string
	round func() ([]time.Duration, error)
}

// peerCheck says what is missing to run the peers.
func peerCheck() []string {
	var miss []string
	if exec.Command("perl", "-MNet::OpenSSH::Parallel", "-e", "1").Run() != nil {
		miss = append(miss, "Net::OpenSSH::Parallel (apt-get install libnet-openssh-parallel-perl)")
	}
	if _, err := exec.LookPath("parallel-ssh"); err != nil {
		miss = append(miss, "parallel-ssh (apt-get install pssh)")
	}
	if exec.Command("/usr/bin/python3", "-c", "import asyncssh").Run() != nil {
		miss = append(miss, "asyncssh for /usr/bin/python3 (apt-get install python3-asyncssh)")
	}
	return miss
}

// timed times f.
func timed(f func() error) ([]time.Duration, error) {
	t0 := time.Now()
	err := f()
	return []time.Duration{time.Since(t0)}, err
}

// BenchmarkParallel64Peers compares, on 64 hosts (4 sshd, 16 loopback
// addresses each) and in one run, the runner (both transports) and the ossh
// command with Net::OpenSSH::Parallel, parallel-ssh (pssh), asyncssh and
// plain ssh, all at parallelism 32 with the same ssh_config, in two
// scenarios: cold (connect, `true` on every host, disconnect) and warm (a
// round of `true` over connections already up). Rounds alternate between
// the clients (the order rotates every round) and the table gives the
// median of PAR_ROUNDS rounds (default 5) with the ratios to asyncssh and
// to plain ssh. Run it with bench/parallel.sh (or -benchtime 1x); it skips
// when a peer is missing, unless PAR_REQUIRE_PEERS is set.
func BenchmarkParallel64Peers(b *testing.B) {
	if miss := peerCheck(); len(miss) > 0 {
		msg := "missing peers (scripts/bench-deps.sh installs them): " + strings.Join(miss, "; ")
		if os.Getenv("PAR_REQUIRE_PEERS") != "" {
			b.Fatal(msg)
		}
		b.Skip(msg)
	}
	rounds := 5
	if s := os.Getenv("PAR_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("PAR_ROUNDS=%q", s)
		}
		rounds = n
	}
	ossh := os.Getenv("OSSH_BIN")
	if ossh == "" {
		ossh = filepath.Join(b.TempDir(), "ossh")
		if out, err := exec.Command("go", "build", "-o", ossh, "../cmd/ossh").CombinedOutput(); err != nil {
			b.Fatalf("go build ossh: %v: %s", err, out)
		}
	}
	e := newPeerEnv(b)
	ctx := b.Context()
	par := strconv.Itoa(parWorkers)
	nosp := startPeer(b, "perl", "peers/nosp_peer.pl", e.cfg, e.hostsFile, par)
	assh := startPeer(b, "/usr/bin/python3", "peers/asyncssh_peer.py", e.cfg, e.hostsFile, par)
	lib := func(tr openssh.Transport) func() ([]time.Duration, error) {
		return func() ([]time.Duration, error) {
			return timed(func() error {
				r := e.runner(b, tr, false)
				defer r.Close()
				return e.round(ctx, r)
			})
		}
	}
	osshRun := func(tr string) func() ([]time.Duration, error) {
		return func() ([]time.Duration, error) {
			return timed(func() error {
				return process(ctx, ossh, "run", "-q", "-p", par, "-c", strconv.Itoa(len(e.hosts)),
					"-F", e.cfg, "-f", e.hostsFile, "--transport", tr, "--", "true")
			})
		}
	}
	plain := func() ([]time.Duration, error) { return timed(func() error { return e.plainSSH(ctx) }) }
	cold := []peerImpl{
		{"goopenssh runner, process", lib(openssh.TransportProcess)},
		{"goopenssh runner, mux", lib(openssh.TransportMux)},
		{"ossh run, process (whole program)", osshRun("process")},
		{"ossh run, mux (whole program)", osshRun("mux")},
		{"Net::OpenSSH::Parallel", func() ([]time.Duration, error) { return nosp.do("cold") }},
		{"asyncssh", func() ([]time.Duration, error) { return assh.do("cold") }},
		{"parallel-ssh (whole program)", func() ([]time.Duration, error) {
			return timed(func() error {
				return process(ctx, "parallel-ssh", "-h", e.hostsFile, "-p", par, "-x", "-F "+e.cfg, "true")
			})
		}},
		{"plain ssh", plain},
	}
	coldRes := peerRounds(b, "cold", cold, rounds)

	rp := e.runner(b, openssh.TransportProcess, true)
	rm := e.runner(b, openssh.TransportMux, true)
	b.Cleanup(func() { rp.Close(); rm.Close() })
	for _, r := range []*parallel.Runner{rp, rm} {
		if err := e.round(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range []*peer{nosp, assh} {
		if _, err := p.do("open"); err != nil {
			b.Fatal(err)
		}
	}
	// The masters' control paths, for the process transport's floor: one
	// "ssh -S ctl host true" per host, 32 at a time, from a plain pool.
	var ctlMu sync.Mutex
	ctls := map[string]string{}
	rp.All(parallel.Func(func(_ context.Context, l string, m *openssh.Master) error {
		ctlMu.Lock()
		ctls[m.Host()] = m.CtlPath()
		ctlMu.Unlock()
		return nil
	}))
	if _, err := rp.Run(ctx); err != nil {
		b.Fatal(err)
	}
	rawSlaves := func() ([]time.Duration, error) {
		return timed(func() error { return e.rawSlaves(ctx, ctls) })
	}
	warmLib := func(r *parallel.Runner) func() ([]time.Duration, error) {
		return func() ([]time.Duration, error) { return timed(func() error { return e.round(ctx, r) }) }
	}
	warm := []peerImpl{
		{"goopenssh runner, process", warmLib(rp)},
		{"goopenssh runner, mux", warmLib(rm)},
		{"Net::OpenSSH::Parallel", func() ([]time.Duration, error) { return nosp.do("warm") }},
		{"asyncssh", func() ([]time.Duration, error) { return assh.do("warm") }},
		{"ssh -S ctl true (process floor)", rawSlaves},
		{"plain ssh (no reuse: a cold round)", plain},
	}
	warmRes := peerRounds(b, "warm", warm, rounds)
	for _, p := range []*peer{nosp, assh} {
		p.do("close")
	}
	if st := rp.Stats(); st.MaxActive > parWorkers {
		b.Fatalf("limits exceeded: %+v", st)
	}

	var out strings.Builder
	fmt.Fprintf(&out, "\n64 hosts, parallelism %d, %d rounds per client (alternating); median per round\n", parWorkers, rounds)
	peerTable(&out, "cold: connect + true + disconnect", cold, coldRes)
	peerTable(&out, "warm: a round of true over open connections", warm, warmRes)
	fmt.Fprintln(&out, "parallel-ssh has no persistent connection: its warm round would be a cold one.")
	fmt.Fprintf(&out, "failed rounds (run again, not counted): %d\n", len(peerFailures))
	for _, f := range peerFailures {
		fmt.Fprintln(&out, "  "+f)
	}
	for _, t := range []struct {
		what, name string
		res        map[string][]time.Duration
		limit      float64
	}{
		// Issue 17's targets.
		{"cold", "goopenssh runner, process", coldRes, 1.3},
		{"warm", "goopenssh runner, process", warmRes, 1.5},
		{"cold", "goopenssh runner, mux", coldRes, 1.0},
		{"warm", "goopenssh runner, mux", warmRes, 0.6},
	} {
		if len(t.res[t.name]) == 0 || len(t.res["asyncssh"]) == 0 {
			// Left out by PAR_ONLY: no verdict, and no metric.
			fmt.Fprintf(&out, "target %s, %s: not measured in this run\n", t.what, t.name)
			continue
		}
		ratio := float64(median(t.res[t.name])) / float64(median(t.res["asyncssh"]))
		verdict := "met"
		if ratio > t.limit {
			verdict = "MISSED"
		}
		fmt.Fprintf(&out, "target %s, %s: %.2fx asyncssh (<= %.2gx): %s\n", t.what, t.name, ratio, t.limit, verdict)
		b.ReportMetric(ratio, t.what+"-"+strings.TrimPrefix(strings.ReplaceAll(t.name, ", ", "-"), "goopenssh runner-")+"/asyncssh")
	}
	fmt.Print(out.String())
}

// peerRounds runs every client once per round, in an order that rotates
// each round, after one warm-up round, and returns the times by name (the
// first figure of each round; a second one, when a peer gives it, is kept
// under name+" (run)").
func peerRounds(b *testing.B, what string, impls []peerImpl, rounds int) map[string][]time.Duration {
	if only := os.Getenv("PAR_ONLY"); only != "" {
		// For quick looks: the clients whose names hold one of the
		// comma-separated words, and the two references.
		var keep []peerImpl
		for _, im := range impls {
			ok := im.name == "asyncssh" || strings.HasPrefix(im.name, "plain ssh")
			for _, w := range strings.Split(only, ",") {
				ok = ok || strings.Contains(im.name, w)
			}
			if ok {
				keep = append(keep, im)
			}
		}
		impls = keep
	}
	res := map[string][]time.Duration{}
	for i := -1; i < rounds; i++ {
		for j := range impls {
			k := (j + max(i, 0)) % len(impls)
			im := impls[k]
			ds, err := im.round()
			for try := 1; err != nil && try <= 2; try++ {
				// A failed round is reported and run again (twice at
				// most): the table counts the failures.
				fmt.Fprintf(os.Stderr, "%s round %d: %s FAILED: %v\n", what, i+1, im.name, err)
				peerFailures = append(peerFailures, fmt.Sprintf("%s, %s: %v", what, im.name, err))
				ds, err = im.round()
			}
			if err != nil {
				b.Fatalf("%s, %s: %v", what, im.name, err)
			}
			if what == "cold" {
				// A cold round disconnects: no ssh may be left running.
				deadline := time.Now().Add(5 * time.Second)
				for sshtest.CountSSH() > 0 {
					if time.Now().After(deadline) {
						b.Fatalf("%s, %s: %d ssh processes left after the round", what, im.name, sshtest.CountSSH())
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			if i < 0 {
				continue
			}
			res[im.name] = append(res[im.name], ds[0])
			if len(ds) > 1 {
				res[im.name+" (run)"] = append(res[im.name+" (run)"], ds[1])
			}
			fmt.Fprintf(os.Stderr, "%s round %d: %-36s %8.1f ms\n", what, i+1, im.name, float64(ds[0])/1e6)
		}
	}
	return res
}

// peerFailures are the rounds that failed and were run again.
var peerFailures []string

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// peerTable prints one scenario: median ns per round, min and max, and the
// ratios to asyncssh and to plain ssh.
func peerTable(w io.Writer, title string, impls []peerImpl, res map[string][]time.Duration) {
	asy := median(res["asyncssh"])
	var plain time.Duration
	for _, im := range impls {
		if strings.HasPrefix(im.name, "plain ssh") {
			plain = median(res[im.name])
		}
	}
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "client\tmedian ns/round\tmedian ms\tmin ms\tmax ms\tvs asyncssh\tvs plain ssh\t")
	row := func(name string) {
		ds := res[name]
		if len(ds) == 0 {
			return
		}
		m := median(ds)
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.2fx\t%.2fx\t\n", name, m.Nanoseconds(), float64(m)/1e6,
			float64(slices.Min(ds))/1e6, float64(slices.Max(ds))/1e6, float64(m)/float64(asy), float64(m)/float64(plain))
	}
	for _, im := range impls {
		row(im.name)
		row(im.name + " (run)")
	}
	tw.Flush()
}

// BenchmarkParallel64Phases shows where the runner's time goes on the 64
// hosts, for both transports: the ssh processes started per host, by kind
// (counted through a wrapper named by Options.SSHPath, which execs ssh, so
// the timings here are a little slower than in the comparison), and per
// host the median time connecting, running and closing, for a cold round
// and a warm one. It reports no speed: it is the profile behind the
// numbers of BenchmarkParallel64Peers.
func BenchmarkParallel64Phases(b *testing.B) {
	e := newPeerEnv(b)
	ctx := b.Context()
	dir := b.TempDir()
	log := filepath.Join(dir, "ssh.log")
	wrapper := filepath.Join(dir, "ssh")
	// One line per ssh, in one write: a remote command line may hold
	// newlines (the stop wrapper's has one).
	script := "#!/bin/sh\nl=$(printf %s \"$*\" | tr '\\n' ' ')\nprintf '%s\\n' \"$l\" >> " + log + "\nexec ssh \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		b.Fatal(err)
	}
	kinds := func() map[string]int {
		data, _ := os.ReadFile(log)
		os.Remove(log)
		k := map[string]int{}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			f := " " + l + " "
			switch {
			case l == "":
			case strings.Contains(f, " -O check "):
				k["-O check"]++
			case strings.Contains(f, " -O exit "):
				k["-O exit"]++
			case strings.Contains(f, " -O "):
				k["-O other"]++
			case strings.Contains(f, " -M") || strings.Contains(f, "ControlMaster=yes"):
				k["master"]++
			default:
				k["slave (command)"]++
			}
		}
		return k
	}
	var out strings.Builder
	for _, tr := range []openssh.Transport{openssh.TransportProcess, openssh.TransportMux} {
		for _, keep := range []bool{false, true} {
			r := &parallel.Runner{Workers: parWorkers, Connections: len(e.hosts), KeepMasters: keep}
			for i, h := range e.hosts {
				r.AddHost(fmt.Sprintf("h%d", i), h.addr, &openssh.Options{
					ConfigFile: e.cfg, CtlDir: e.ctlDir, Timeout: 30 * time.Second, Transport: tr, SSHPath: wrapper,
				})
			}
			what := "cold"
			if keep {
				// One round to connect, then the measured warm round.
				if err := e.round(ctx, r); err != nil {
					b.Fatal(err)
				}
				kinds()
				what = "warm"
			}
			r.All(parallel.Command("true"))
			t0 := time.Now()
			res, err := r.Run(ctx)
			wall := time.Since(t0)
			if err != nil {
				for _, x := range res.Failed() {
					err = fmt.Errorf("%w; %v", err, x.Err)
				}
				b.Fatal(err)
			}
			var conn, run, disc, wait []time.Duration
			for _, x := range res {
				conn = append(conn, x.Connect)
				run = append(run, x.Run)
				disc = append(disc, x.Disconnect)
				wait = append(wait, x.End.Sub(x.Start)-x.Connect-x.Run-x.Disconnect)
			}
			perHost := func(k map[string]int) string {
				var ks []string
				total := 0
				for name, n := range k {
					ks = append(ks, fmt.Sprintf("%s %.2f", name, float64(n)/float64(len(e.hosts))))
					total += n
				}
				slices.Sort(ks)
				return fmt.Sprintf("%.2f (%s)", float64(total)/float64(len(e.hosts)), strings.Join(ks, ", "))
			}
			inRun := perHost(kinds())
			t1 := time.Now()
			r.Close()
			closing := time.Since(t1)
			atClose := perHost(kinds())
			ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
			fmt.Fprintf(&out, "%s, %s: Run %s; per host (median): connect %s, run %s, disconnect %s, waiting for a worker %s; ssh processes per host in Run: %s",
				what, tr, ms(wall), ms(median(conn)), ms(median(run)), ms(median(disc)), ms(median(wait)), inRun)
			if keep {
				fmt.Fprintf(&out, "; Close afterwards %s, processes per host %s", ms(closing), atClose)
			}
			fmt.Fprintln(&out)
		}
	}
	fmt.Print(out.String())
}
