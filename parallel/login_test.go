package parallel

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
)

// silentHost listens on loopback, accepts connections and never answers:
// an ssh client waits there for the banner until its login timeout.
func silentHost(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// LoginTimeout bounds a host's whole connect: a silent host with
// reconnections allowed fails after the login timeout, not after one
// timeout per attempt; a refusing host is retried within the budget only.
func TestLoginTimeoutBoundsReconnections(t *testing.T) {
	checkNoLeaks(t)
	d := t.TempDir()
	opts := &openssh.Options{
		ConfigFile: os.DevNull,
		CtlDir:     d,
		Timeout:    20 * time.Second, // per attempt: the budget must cut it
		MasterOpts: []string{"-o", "UserKnownHostsFile=" + filepath.Join(d, "kh")},
	}
	// A port that refuses: listen, note the port, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()

	r := &Runner{Options: opts, LoginTimeout: 1500 * time.Millisecond, Reconnections: 50, RetryDelay: 100 * time.Millisecond}
	defer r.Close()
	if err := r.AddHost("silent", silentHost(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := r.AddHost("refused", refused, nil); err != nil {
		t.Fatal(err)
	}
	r.All(Command("true"))
	t0 := time.Now()
	res, err := r.Run(context.Background())
	el := time.Since(t0)
	if !errors.Is(err, ErrHostsFailed) {
		t.Fatalf("Run: %v", err)
	}
	if el < 1400*time.Millisecond || el > 3500*time.Millisecond {
		t.Errorf("run took %v, want about the login timeout of 1.5s", el)
	}
	s := res.Get("silent")
	if !errors.Is(s.Err, openssh.ErrLoginTimeout) || !errors.Is(s.Err, openssh.ErrMasterFailed) {
		t.Errorf("silent host: %v, want a login timeout", s.Err)
	}
	if s.Connects != 1 || s.End.Sub(s.Start) > 3*time.Second {
		t.Errorf("silent host: %d connects in %v", s.Connects, s.End.Sub(s.Start))
	}
	f := res.Get("refused")
	if !errors.Is(f.Err, openssh.ErrConnRefused) && !errors.Is(f.Err, openssh.ErrLoginTimeout) {
		t.Errorf("refused host: %v", f.Err)
	}
	if f.Connects < 3 || f.End.Sub(f.Start) > 3*time.Second {
		t.Errorf("refused host: %d connects in %v, want several within the budget", f.Connects, f.End.Sub(f.Start))
	}
	t.Logf("silent: %v; refused: %d connects, %v", s.Err, f.Connects, f.Err)

	r2 := &Runner{LoginTimeout: -time.Second}
	r2.AddHost("x", "127.0.0.1", nil)
	if _, err := r2.Run(context.Background()); !errors.Is(err, openssh.ErrInvalid) {
		t.Errorf("negative LoginTimeout: %v", err)
	}
}

// Progress reports each host's scp bytes under its label, ending at the
// file's size; it is refused on other actions.
func TestProgressPerHost(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 3)
	r := newRunner(t, srv, opts)
	src := filepath.Join(t.TempDir(), "src")
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	last := map[string][2]int64{}
	calls := 0
	a := Put(src, "/tmp/opar-progress-%LABEL%").Progress(func(label string, done, total int64) {
		mu.Lock()
		last[label] = [2]int64{done, total}
		calls++
		mu.Unlock()
	})
	if _, err := r.All(a); err != nil {
		t.Fatal(err)
	}
	r.All(Command("cmp -s /tmp/opar-progress-%LABEL% - && rm /tmp/opar-progress-%LABEL%").Input(data))
	if res, err := r.Run(context.Background()); err != nil {
		for _, x := range res.Failed() {
			t.Error(x.Err)
		}
		t.Fatal(err)
	}
	for _, l := range []string{"h1", "h2", "h3"} {
		if got := last[l]; got != [2]int64{int64(len(data)), int64(len(data))} {
			t.Errorf("%s: last progress %v, want %d of %d", l, got, len(data), len(data))
		}
	}
	if _, err := r.All(Command("true").Progress(func(string, int64, int64) {})); !errors.Is(err, openssh.ErrInvalid) {
		t.Errorf("Progress on a command: %v", err)
	}
}

// ConnectRate spaces the logins evenly: with 4 per second, the sixth host
// connects no sooner than 1.25 s after the first; the waits do not eat
// into LoginTimeout.
func TestConnectRate(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 6)
	r := newRunner(t, srv, opts)
	r.ConnectRate = 4
	r.LoginTimeout = 1 * time.Second // shorter than the last host's wait
	var mu sync.Mutex
	var at []time.Time
	r.All(Func(func(ctx context.Context, label string, m *openssh.Master) error {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		return nil
	}))
	t0 := time.Now()
	res, err := r.Run(context.Background())
	if err != nil {
		for _, x := range res.Failed() {
			t.Error(x.Err)
		}
		t.Fatal(err)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	if len(at) != 6 {
		t.Fatalf("%d hosts ran", len(at))
	}
	if d := at[5].Sub(t0); d < 1250*time.Millisecond {
		t.Errorf("the sixth host connected %v after the start, want >= 1.25 s", d)
	}
	for i := 1; i < 6; i++ {
		// Logins start 250 ms apart; a login's own time varies, so allow
		// some slack between the hosts' first actions.
		if d := at[i].Sub(at[0]); d < time.Duration(i)*250*time.Millisecond-200*time.Millisecond {
			t.Errorf("host %d ran %v after the first", i, d)
		}
	}
	r2 := &Runner{ConnectRate: -1}
	r2.AddHost("x", "127.0.0.1", nil)
	if _, err := r2.Run(context.Background()); !errors.Is(err, openssh.ErrInvalid) {
		t.Errorf("negative ConnectRate: %v", err)
	}
}

// Runner.Output gives each host writers of its own, unprefixed, for all
// its actions; a nil writer leaves the stream to the Result.
func TestOutputPerHost(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 3)
	r := newRunner(t, srv, opts)
	var mu sync.Mutex
	outs := map[string]*syncBuffer{}
	calls := 0
	r.Output = func(label string) (io.Writer, io.Writer) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		outs[label] = &syncBuffer{}
		return outs[label], nil
	}
	r.All(Command("printf 'one %LABEL%'; echo err >&2"))
	r.All(Command("echo ' two'"))
	for round := 1; round <= 2; round++ {
		res, err := r.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{"h1", "h2", "h3"} {
			if got := string(outs[l].Bytes()); got != "one "+l+" two\n" {
				t.Errorf("round %d, %s: output %q", round, l, got)
			}
			if x := res.Get(l); len(x.Stdout) != 0 || string(x.Stderr) != "err\n" {
				t.Errorf("round %d, %s: Result.Stdout %q, Stderr %q", round, l, x.Stdout, x.Stderr)
			}
		}
		if calls != 3*round {
			t.Errorf("Output called %d times after %d runs of 3 hosts", calls, round)
		}
		r.All(Command("printf 'one %LABEL%'; echo err >&2"))
		r.All(Command("echo ' two'"))
	}
}
