package parallel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
)

// Sixteen hosts, with each transport: selectors, %LABEL%, captured and
// streamed output, exit codes, Put and Get.
func TestCommands16(t *testing.T) {
	for _, tr := range []openssh.Transport{openssh.TransportProcess, openssh.TransportMux} {
		t.Run(tr.String(), func(t *testing.T) { testCommands16(t, tr) })
	}
}

func testCommands16(t *testing.T, tr openssh.Transport) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 16)
	opts.Transport = tr
	r := newRunner(t, srv, opts)
	r.Workers = 16
	if _, err := r.All(Command("echo out-%LABEL%; echo err-%LABEL% >&2")); err != nil {
		t.Fatal(err)
	}
	// h1 and h10..h16; then h2 and h3 exit 3 (ignored).
	r.Push("h1*", Command("echo", "sel %LABEL% 100%%"))
	r.Push("h2,h3", Command("exit 3").OnError(Ignore))
	t0 := time.Now()
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("16 hosts: connect + 2 commands in %v", time.Since(t0))
	if len(res) != 16 {
		t.Fatalf("%d results", len(res))
	}
	for i, x := range res {
		l := fmt.Sprintf("h%d", i+1)
		if x.Label != l || x.Target != srv.Config.Addrs[i] {
			t.Fatalf("result %d is %s/%s", i, x.Label, x.Target)
		}
		want := "out-" + l + "\n"
		if l == "h1" || strings.HasPrefix(l, "h1") && len(l) == 3 {
			want += "sel " + l + " 100%\n"
		}
		if string(x.Stdout) != want || string(x.Stderr) != "err-"+l+"\n" {
			t.Errorf("%s: stdout %q stderr %q, want %q", l, x.Stdout, x.Stderr, want)
		}
		wantCode := 0
		if l == "h2" || l == "h3" {
			wantCode = 3
			var ee *openssh.ExitError
			if len(x.Ignored) != 1 || !errors.As(x.Ignored[0], &ee) || ee.Code != 3 {
				t.Errorf("%s: ignored %v", l, x.Ignored)
			}
		}
		if x.ExitCode != wantCode || x.Err != nil || x.Connects != 1 {
			t.Errorf("%s: exit %d err %v connects %d", l, x.ExitCode, x.Err, x.Connects)
		}
		if x.Connect <= 0 || x.Run <= 0 || x.Disconnect <= 0 || x.End.Before(x.Start) ||
			x.End.Sub(x.Start) < x.Connect+x.Run+x.Disconnect {
			t.Errorf("%s: timings %v %v %v %v %v", l, x.Connect, x.Run, x.Disconnect, x.Start, x.End)
		}
	}

	// Streamed output, Put and Get, on the masters of the same Runner.
	var out, errb bytes.Buffer
	r.Stdout, r.Stderr = &out, &errb
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	os.WriteFile(src, data, 0o644)
	remote := "/tmp/opar-test-%LABEL%"
	r.Push("h4,h5", Command("printf 'a\\nb'; echo e >&2"))
	r.Push("h4,h5", Put(src, remote))
	r.Push("h4,h5", Get(remote, filepath.Join(dir, "got", "%LABEL%", "f")))
	r.Push("h4,h5", Command("rm", "-f", remote))
	r.Push("h4", Get("/nonexistent/file", filepath.Join(dir, "got", "%LABEL%", "missing")))
	res, err = r.Run(context.Background())
	if !errors.Is(err, ErrHostsFailed) {
		t.Fatalf("Run: %v", err)
	}
	var re *RunError
	if !errors.As(err, &re) || len(re.Failed) != 1 || re.Failed[0] != "h4" || re.Total != 16 {
		t.Fatalf("RunError %+v", re)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	sort.Strings(lines)
	if want := []string{"h4: a", "h4: b", "h5: a", "h5: b"}; strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("streamed stdout %q", out.String())
	}
	if !strings.Contains(errb.String(), "h4: e\n") || !strings.Contains(errb.String(), "h5: e\n") ||
		!strings.Contains(errb.String(), "h4: scp: /nonexistent/file: No such file") {
		t.Errorf("streamed stderr %q", errb.String())
	}
	for _, l := range []string{"h4", "h5"} {
		got, err := os.ReadFile(filepath.Join(dir, "got", l, "f"))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: got %d bytes, %v", l, len(got), err)
		}
	}
	h4 := res.Get("h4")
	var ee *openssh.ExitError
	if !errors.As(h4.Err, &ee) || ee.Code != 1 || h4.ExitCode != 1 {
		t.Errorf("h4: %v exit %d", h4.Err, h4.ExitCode)
	}
	if _, err := os.Stat(filepath.Join(dir, "got", "h4", "missing")); !os.IsNotExist(err) {
		t.Errorf("partial file of a failed Get left: %v", err)
	}
	if res.Get("h1").Actions != 0 || res.Get("h1").Err != nil || res.Get("h1").ExitCode != -1 {
		t.Errorf("h1 had nothing to do: %+v", res.Get("h1"))
	}
}

// A join is a barrier: the hosts after it start only once the joined hosts
// have finished what was queued before it.
func TestJoinOrdering(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 6)
	r := newRunner(t, srv, opts)
	var st stamps
	mark := func(what string) Action {
		return Local(func(_ context.Context, l string) error { st.mark(l + what); return nil })
	}
	r.Push("h1", Command("sleep 0.5"))
	r.Push("h2", Command("sleep 0.2"))
	r.Push("h1,h2", mark(":before"))
	r.All(Join("h1,h2"))
	r.All(mark(":after"))
	// A second barrier on one host only, which first goes through its own
	// sleep: h6 joins h5.
	r.Push("h5", Command("sleep 0.3"))
	r.Push("h5", mark(":pre"))
	r.Push("h6", Join("h5"))
	r.Push("h6", mark(":post"))
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	b1, _ := st.get("h1:before")
	b2, _ := st.get("h2:before")
	if !b2.Before(b1) {
		t.Errorf("h2 (0.2 s) did not finish before h1 (0.5 s)")
	}
	for i := 1; i <= 6; i++ {
		a, ok := st.get(fmt.Sprintf("h%d:after", i))
		if !ok || a.Before(b1) {
			t.Errorf("h%d passed the barrier at %v, before h1 finished at %v", i, a, b1)
		}
	}
	pre, _ := st.get("h5:pre")
	post, _ := st.get("h6:post")
	if post.Before(pre) {
		t.Errorf("h6 passed its join on h5 before h5 finished")
	}
}

// Goto, Stop and OrGoto; a join jumped over counts as done.
func TestGoto(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 3)
	r := newRunner(t, srv, opts)
	var st stamps
	mark := func(what string) Action {
		return Local(func(_ context.Context, l string) error { st.mark(l + what); return nil })
	}
	r.Push("h1", Command("true"))
	r.Push("h1", Goto("skip"))
	r.Push("h1", mark(":skipped"))
	r.Push("h2", Command("exit 4").OrGoto("skip"))
	r.Push("h2", mark(":skipped"))
	r.Push("h3", Command("exit 0").OrGoto("skip"))
	r.Push("h3", mark(":not-skipped"))
	r.All(Here("skip"))
	r.All(mark(":landed"))
	r.Push("h1", Stop())
	r.Push("h1", mark(":after-stop")) // not reached; h2 joins on it anyway
	r.Push("h2", Join("h1"))
	r.Push("h2", mark(":joined"))
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{
		"h1:skipped": false, "h2:skipped": false, "h3:not-skipped": true,
		"h1:landed": true, "h2:landed": true, "h3:landed": true,
		"h1:after-stop": false, "h2:joined": true,
	} {
		if _, ok := st.get(k); ok != want {
			t.Errorf("%s ran: %v, want %v", k, ok, want)
		}
	}
	if res.Get("h2").ExitCode != 4 || res.Get("h2").Err != nil {
		t.Errorf("h2: %+v", res.Get("h2"))
	}
}

// Every policy, one host each, in one run.
func TestPolicies(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 8)
	var r Runner
	r.Options = opts
	r.RetryDelay = 20 * time.Millisecond
	t.Cleanup(func() { r.Close() })
	pols := map[string]Policy{"ign": Ignore, "done": Done, "abort": Abort, "retry": Retry, "retry3": Retry}
	i := 0
	for _, l := range []string{"ign", "done", "abort", "retry", "retry3", "joindone", "joinabort", "def"} {
		must0(t, r.Add(Host{Label: l, Target: srv.Config.Addrs[i], OnError: pols[l]}))
		i++
	}
	r.Retries = 2
	tag := fmt.Sprint(srv.Port)
	var st stamps
	mark := func(what string) Action {
		return Local(func(_ context.Context, l string) error { st.mark(l + what); return nil })
	}
	r.Push("ign,done,abort,def", Command("exit 7"))
	r.Push("ign,done,abort,def", mark(":next"))
	// retry: fails twice, then succeeds (Retries is 2); retry3 fails 3 times.
	r.Push("retry", Command("f=/tmp/opar-retry-%LABEL%-"+tag+"; n=$(cat $f 2>/dev/null || echo 0); n=$((n+1)); echo $n > $f; echo try $n; [ $n -ge 3 ]"))
	r.Push("retry3", Command("f=/tmp/opar-retry-%LABEL%-"+tag+"; n=$(cat $f 2>/dev/null || echo 0); n=$((n+1)); echo $n > $f; echo try $n; [ $n -ge 4 ]"))
	r.Push("retry,retry3", Command("rm -f /tmp/opar-retry-%LABEL%-"+tag+""))
	r.Push("joindone", Join("done"))
	r.Push("joindone", mark(":joined"))
	r.Push("joinabort", Join("abort"))
	r.Push("joinabort", mark(":joined"))
	res, err := r.Run(context.Background())
	if !errors.Is(err, ErrHostsFailed) {
		t.Fatalf("Run: %v", err)
	}
	exit7 := func(e error) bool {
		var ee *openssh.ExitError
		return errors.As(e, &ee) && ee.Code == 7
	}
	// Ignore: goes on, not failed.
	if x := res.Get("ign"); x.Err != nil || len(x.Ignored) != 1 || !exit7(x.Ignored[0]) {
		t.Errorf("ignore: %+v", x)
	}
	if _, ok := st.get("ign:next"); !ok {
		t.Error("ignore: the next action did not run")
	}
	// Done, Abort and the default (Abort): stop, failed.
	for _, l := range []string{"done", "abort", "def"} {
		if x := res.Get(l); !exit7(x.Err) || x.ExitCode != 7 {
			t.Errorf("%s: %+v", l, x)
		}
		if _, ok := st.get(l + ":next"); ok {
			t.Errorf("%s: the next action ran", l)
		}
	}
	var ae *ActionError
	if !errors.As(res.Get("abort").Err, &ae) || ae.Label != "abort" || ae.Action != `command "exit 7"` {
		t.Errorf("ActionError %+v", ae)
	}
	// Joins: Done releases the waiting hosts, Abort fails them.
	if x := res.Get("joindone"); x.Err != nil {
		t.Errorf("join on a Done host: %v", x.Err)
	}
	if x := res.Get("joinabort"); !errors.Is(x.Err, ErrJoinFailed) {
		t.Errorf("join on an aborted host: %v", x.Err)
	}
	if _, ok := st.get("joinabort:joined"); ok {
		t.Error("joinabort went past a failed join")
	}
	// Retry: bounded.
	if x := res.Get("retry"); x.Err != nil || x.Retries != 2 || !bytes.Equal(x.Stdout, []byte("try 1\ntry 2\ntry 3\n")) {
		t.Errorf("retry: err %v retries %d stdout %q", x.Err, x.Retries, x.Stdout)
	}
	if x := res.Get("retry3"); x.Err == nil || x.Retries != 2 || x.ExitCode != 1 || !bytes.Equal(x.Stdout, []byte("try 1\ntry 2\ntry 3\n")) {
		t.Errorf("retry3: err %v retries %d stdout %q", x.Err, x.Retries, x.Stdout)
	}
	var re *RunError
	errors.As(err, &re)
	if want := []string{"done", "abort", "retry3", "joinabort", "def"}; strings.Join(re.Failed, ",") != strings.Join(want, ",") {
		t.Errorf("failed %v, want %v", re.Failed, want)
	}
}

// AbortAll: running actions finish, then every host stops.
func TestAbortAll(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 4)
	r := newRunner(t, srv, opts)
	var st stamps
	r.Push("h1", Command("exit 2").OnError(AbortAll))
	r.Push("h2,h3,h4", Command("sleep 0.4; echo slept"))
	r.All(Local(func(_ context.Context, l string) error { st.mark(l); return nil }))
	res, err := r.Run(context.Background())
	if !errors.Is(err, ErrHostsFailed) {
		t.Fatal(err)
	}
	for _, x := range res {
		if x.Err == nil {
			t.Errorf("%s did not fail", x.Label)
		}
		if _, ok := st.get(x.Label); ok {
			t.Errorf("%s went on after AbortAll", x.Label)
		}
		if x.Label != "h1" {
			if !errors.Is(x.Err, ErrAborted) || string(x.Stdout) != "slept\n" {
				t.Errorf("%s: %v, stdout %q (the running command should finish)", x.Label, x.Err, x.Stdout)
			}
		}
	}
}

// One host's sshd is killed and restarted between two actions: the runner
// reconnects; without reconnections the host fails with a master error.
func TestReconnect(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 3)
	other := sshtest.Start(t, sshtest.Config{Addrs: []string{"127.0.0.9"}})
	for _, reconn := range []int{0, 3} {
		t.Run(fmt.Sprint("reconnections=", reconn), func(t *testing.T) {
			r := newRunner(t, srv, opts)
			r.RetryDelay = 50 * time.Millisecond
			r.Reconnections = reconn
			must0(t, r.AddHost("x", other.Addr, hostOpts(t, other)))
			r.All(Command("echo one"))
			r.Push("x", Func(func(ctx context.Context, l string, m *openssh.Master) error {
				other.Kill()
				for m.Check(ctx) == nil {
					time.Sleep(20 * time.Millisecond)
				}
				other.Restart()
				return nil
			}))
			r.All(Command("echo two %LABEL%"))
			res, err := r.Run(context.Background())
			x := res.Get("x")
			if reconn == 0 {
				if !errors.Is(err, ErrHostsFailed) || !errors.Is(x.Err, openssh.ErrMasterFailed) {
					t.Fatalf("run %v, x %v", err, x.Err)
				}
			} else {
				if err != nil || x.Reconnects != 1 || x.Connects != 2 || string(x.Stdout) != "one\ntwo x\n" {
					t.Fatalf("run %v; x: err %v reconnects %d connects %d stdout %q", err, x.Err, x.Reconnects, x.Connects, x.Stdout)
				}
			}
			for _, l := range []string{"h1", "h2", "h3"} {
				if h := res.Get(l); h.Err != nil || h.Connects != 1 || string(h.Stdout) != "one\ntwo "+l+"\n" {
					t.Errorf("%s: %v %d %q", l, h.Err, h.Connects, h.Stdout)
				}
			}
		})
	}
}

// Workers and Connections are never exceeded: counted from the process
// table while the run goes, and by the runner itself.
func TestLimits(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 16)
	r := newRunner(t, srv, opts)
	r.Workers, r.Connections = 3, 5
	r.KeepMasters = true // idle masters stay open: the runner must close some
	var active, maxActive atomic.Int32
	probe := Func(func(ctx context.Context, l string, m *openssh.Master) error {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			o := maxActive.Load()
			if n <= o || maxActive.CompareAndSwap(o, n) {
				break
			}
		}
		return m.System(ctx, "sleep 0.05")
	})
	r.All(Command("sleep 0.15"))
	r.All(Join("*"))
	r.All(probe)
	var masters, slaves int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			masters = max(masters, countSSH("ControlPersist=no"))
			slaves = max(slaves, countSSH("sleep 0."))
		}
	}()
	t0 := time.Now()
	res, err := r.Run(context.Background())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	t.Logf("%v; seen: %d masters, %d commands; stats %+v; probe max %d", time.Since(t0), masters, slaves, st, maxActive.Load())
	if masters > 5 || st.MaxOpen > 5 || slaves > 3 || st.MaxActive > 3 || maxActive.Load() > 3 {
		t.Fatalf("limits exceeded: %d masters, %d commands, stats %+v, probe %d", masters, slaves, st, maxActive.Load())
	}
	if st.MaxOpen != 5 || st.MaxActive != 3 || masters < 3 || slaves < 2 {
		t.Errorf("limits not reached: %d masters, %d commands, stats %+v", masters, slaves, st)
	}
	reconnected := 0
	for _, x := range res {
		if x.Err != nil {
			t.Errorf("%s: %v", x.Label, x.Err)
		}
		if x.Connects > 1 {
			reconnected++
		}
		if x.Reconnects != 0 {
			t.Errorf("%s: closing an idle master counted as a reconnection", x.Label)
		}
	}
	if reconnected == 0 {
		t.Error("no idle master was closed to make room")
	}
	if n := sshtest.CountProcesses("ControlPersist=no"); n > 5 {
		t.Errorf("%d masters kept, more than Connections", n)
	}
}

// Cancelling the context stops everything: commands killed, masters
// closed, nothing left running.
func TestCancel(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 6)
	r := newRunner(t, srv, opts)
	r.Workers = 4
	r.All(Command("sleep 30"))
	r.All(Command("echo never"))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	t0 := time.Now()
	res, err := r.Run(ctx)
	d := time.Since(t0)
	if !errors.Is(err, context.Canceled) || d > 6*time.Second {
		t.Fatalf("Run: %v after %v", err, d)
	}
	for _, x := range res {
		if !errors.Is(x.Err, context.Canceled) || len(x.Stdout) != 0 {
			t.Errorf("%s: %v %q", x.Label, x.Err, x.Stdout)
		}
	}
	// Run reaps what it started; allow the kernel a moment to report it.
	deadline := time.Now().Add(3 * time.Second)
	for sshtest.CountProcesses("ssh ") != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := sshtest.CountProcesses("ssh "); n != 0 {
		t.Errorf("%d ssh processes left after Run", n)
	}
}

func must0(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
