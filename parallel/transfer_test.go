package parallel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/pkg/sftp"
)

// content is the data of a file for one host: different on every host and
// for every kind of copy, 128 KiB holding all byte values.
func content(label, what string) []byte {
	contentMu.Lock()
	defer contentMu.Unlock()
	k := label + " " + what
	if b, ok := contentCache[k]; ok {
		return b
	}
	var b []byte
	for i := 0; len(b) < 128<<10; i++ {
		b = append(b, k...)
		b = append(b, byte(i), byte(i>>8))
	}
	contentCache[k] = b
	return b
}

var (
	contentMu    sync.Mutex
	contentCache = map[string][]byte{}
)

// Sixteen hosts: scp, rsync and SFTP both ways, "%LABEL%" in local and
// remote paths, file contents checked on every host (remotely with cat
// and locally after the copies back).
func TestTransfers16(t *testing.T) {
	for _, tr := range []openssh.Transport{openssh.TransportProcess, openssh.TransportMux} {
		t.Run(tr.String(), func(t *testing.T) { testTransfers16(t, tr) })
	}
}

func testTransfers16(t *testing.T, tr openssh.Transport) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 16)
	opts.Transport = tr
	r := newRunner(t, srv, opts)
	r.Workers = 16
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	var labels []string
	for i := range srv.Config.Addrs {
		l := fmt.Sprintf("h%d", i+1)
		labels = append(labels, l)
		must0(t, os.WriteFile(filepath.Join(dir, "scp-"+l), content(l, "scp"), 0o644))
		must0(t, os.WriteFile(filepath.Join(dir, "rsync-"+l), content(l, "rsync"), 0o644))
	}
	rdir := fmt.Sprintf("/tmp/opar-xfer-%d-%%LABEL%%", srv.Port)
	r.All(Command("rm", "-rf", rdir))
	r.All(Command("mkdir", rdir))
	r.All(ScpPut([]string{filepath.Join(dir, "scp-%LABEL%")}, rdir+"/a", nil))
	r.All(RsyncPut([]string{filepath.Join(dir, "rsync-%LABEL%")}, rdir+"/b", &openssh.RsyncOpts{CopyAttrs: true}))
	r.All(Put(filepath.Join(dir, "scp-%LABEL%"), rdir+"/c"))
	// Remote check: a checksum of what arrived, compared below.
	r.All(Command("cksum < " + rdir + "/a; cksum < " + rdir + "/b; cksum < " + rdir + "/c"))
	// SFTP: read what rsync wrote, write a file of its own.
	r.All(SFTP(func(ctx context.Context, l string, c *sftp.Client) error {
		p := strings.ReplaceAll(rdir, "%LABEL%", l)
		f, err := c.Open(p + "/b")
		if err != nil {
			return err
		}
		got, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return err
		}
		if !bytes.Equal(got, content(l, "rsync")) {
			return fmt.Errorf("sftp read %d bytes, not the rsynced file", len(got))
		}
		w, err := c.Create(p + "/d")
		if err != nil {
			return err
		}
		if _, err := w.Write(content(l, "sftp")); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	}))
	// Back: several sources into a directory per host, one file per host.
	r.All(ScpGet([]string{rdir + "/a", rdir + "/d"}, filepath.Join(dir, "scp-back", "%LABEL%")+"/", nil))
	r.All(RsyncGet([]string{rdir + "/b"}, filepath.Join(dir, "rsync-back", "%LABEL%", "b"), nil))
	r.All(Get(rdir+"/c", filepath.Join(dir, "get-back", "%LABEL%", "c")))
	r.All(Command("rm", "-rf", rdir))
	t0 := time.Now()
	res, err := r.Run(context.Background())
	if err != nil {
		for _, x := range res.Failed() {
			t.Errorf("%s: %v", x.Label, x.Err)
		}
		t.Fatalf("Run: %v", err)
	}
	t.Logf("16 hosts, 10 actions each (6 transfers): %v", time.Since(t0))
	cksum := func(b []byte) string { return execCksum(t, b) }
	for _, l := range labels {
		x := res.Get(l)
		want := cksum(content(l, "scp")) + cksum(content(l, "rsync")) + cksum(content(l, "scp"))
		if string(x.Stdout) != want || x.ExitCode != 0 || len(x.Stderr) != 0 {
			t.Errorf("%s: remote checksums %q, want %q (exit %d, stderr %q)", l, x.Stdout, want, x.ExitCode, x.Stderr)
		}
		for path, want := range map[string][]byte{
			filepath.Join(dir, "scp-back", l, "a"):   content(l, "scp"),
			filepath.Join(dir, "scp-back", l, "d"):   content(l, "sftp"),
			filepath.Join(dir, "rsync-back", l, "b"): content(l, "rsync"),
			filepath.Join(dir, "get-back", l, "c"):   content(l, "scp"),
		} {
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %s: %d bytes (want %d), %v", l, path, len(got), len(want), err)
			}
		}
	}
}

// execCksum returns the output of cksum for b, as the remote side prints
// it.
func execCksum(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	c := exec.Command("cksum")
	c.Stdin = bytes.NewReader(b)
	c.Stdout = &out
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// Failed transfers under each policy: the error kinds, the exit codes, what
// ran after, joins and retries.
func TestTransferPolicies(t *testing.T) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 7)
	var r Runner
	r.Options = opts
	r.RetryDelay = 10 * time.Millisecond
	r.Retries = 2
	t.Cleanup(func() { r.Close() })
	pols := map[string]Policy{"ign": Ignore, "done": Done, "retry": Retry}
	for i, l := range []string{"ign", "abort", "orgoto", "done", "retry", "sftp", "joiner"} {
		must0(t, r.Add(Host{Label: l, Target: srv.Config.Addrs[i], OnError: pols[l]}))
	}
	dir := t.TempDir()
	var st stamps
	mark := func(what string) Action {
		return Local(func(_ context.Context, l string) error { st.mark(l + what); return nil })
	}
	missing := fmt.Sprintf("/nonexistent-%d/%%LABEL%%", srv.Port)
	src := filepath.Join(dir, "src")
	must0(t, os.WriteFile(src, []byte("data\n"), 0o644))
	// ign: scp get of a missing file, ignored; the next action runs.
	r.Push("ign", ScpGet([]string{missing}, filepath.Join(dir, "ign", "x"), nil))
	r.Push("ign", mark(":next"))
	// abort (the default): rsync put into a directory the account cannot
	// write; nothing after it runs.
	r.Push("abort", RsyncPut([]string{src}, "/proc/%LABEL%", nil))
	r.Push("abort", mark(":next"))
	// orgoto: a failed Get jumps, leaving no local file behind.
	r.Push("orgoto", Get(missing, filepath.Join(dir, "%LABEL%", "got")).OrGoto("later"))
	r.Push("orgoto", mark(":skipped"))
	r.Push("orgoto", Here("later"))
	r.Push("orgoto", mark(":landed"))
	// done: scp put of a missing local file; the join on it is released.
	r.Push("done", Put(filepath.Join(dir, "no-such-file"), "/tmp/x"))
	r.Push("joiner", Join("done"))
	r.Push("joiner", mark(":joined"))
	// retry: bounded, then the host fails.
	r.Push("retry", RsyncGet([]string{missing}, filepath.Join(dir, "retry")+"/", nil))
	// sftp: fn's error, and a session on a failed open.
	boom := errors.New("boom")
	r.Push("sftp", SFTP(func(ctx context.Context, l string, c *sftp.Client) error {
		if _, err := c.Stat("/nonexistent"); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("stat of a missing file: %v", err)
		}
		return boom
	}).OnError(Ignore))
	r.Push("sftp", SFTP(func(ctx context.Context, l string, c *sftp.Client) error { return nil }, sftp.MaxPacketChecked(1<<30)))
	res, err := r.Run(context.Background())
	if !errors.Is(err, ErrHostsFailed) {
		t.Fatalf("Run: %v", err)
	}
	var ee *openssh.ExitError
	if x := res.Get("ign"); x.Err != nil || len(x.Ignored) != 1 || !errors.As(x.Ignored[0], &ee) || ee.Code != 1 ||
		!strings.Contains(ee.Error(), "No such file") || x.ExitCode != 1 || !strings.Contains(string(x.Stderr), "No such file") {
		t.Errorf("ign: %+v (stderr %q)", x, x.Stderr)
	}
	if _, ok := st.get("ign:next"); !ok {
		t.Error("ign: the next action did not run")
	}
	if x := res.Get("abort"); !errors.As(x.Err, &ee) || ee.Msg == "" || x.ExitCode == 0 {
		t.Errorf("abort: %v exit %d", x.Err, x.ExitCode)
	} else {
		t.Logf("abort: %v", x.Err)
	}
	if _, ok := st.get("abort:next"); ok {
		t.Error("abort: the next action ran")
	}
	if x := res.Get("orgoto"); x.Err != nil || x.ExitCode != 1 {
		t.Errorf("orgoto: %+v", x)
	}
	if _, ok := st.get("orgoto:skipped"); ok {
		t.Error("orgoto: did not jump")
	}
	if _, ok := st.get("orgoto:landed"); !ok {
		t.Error("orgoto: did not land")
	}
	if _, err := os.Stat(filepath.Join(dir, "orgoto", "got")); !os.IsNotExist(err) {
		t.Errorf("orgoto: the failed Get left a file: %v", err)
	}
	if x := res.Get("done"); !errors.As(x.Err, &ee) {
		t.Errorf("done: %v", x.Err)
	}
	if x := res.Get("joiner"); x.Err != nil {
		t.Errorf("joiner: %v", x.Err)
	}
	if _, ok := st.get("joiner:joined"); !ok {
		t.Error("joiner: did not pass the join on a Done host")
	}
	if x := res.Get("retry"); !errors.As(x.Err, &ee) || x.Retries != 2 || x.Actions != 3 || ee.Program != "rsync" {
		t.Errorf("retry: %v, %d retries, %d actions", x.Err, x.Retries, x.Actions)
	}
	x := res.Get("sftp")
	if len(x.Ignored) != 1 || !errors.Is(x.Ignored[0], boom) {
		t.Errorf("sftp: ignored %v", x.Ignored)
	}
	if !errors.Is(x.Err, openssh.ErrSFTPFailed) {
		t.Errorf("sftp with a bad option: %v, want ErrSFTPFailed", x.Err)
	}
	var re *RunError
	errors.As(err, &re)
	if want := "abort,done,retry,sftp"; strings.Join(re.Failed, ",") != want {
		t.Errorf("failed %v, want %s", re.Failed, want)
	}
}

// A transfer whose master dies under it reconnects when allowed; an SFTP
// action whose context ends has its session closed under it.
func TestTransferReconnectAndTimeout(t *testing.T) {
	for _, tr := range []openssh.Transport{openssh.TransportProcess, openssh.TransportMux} {
		t.Run(tr.String(), func(t *testing.T) { testTransferReconnectAndTimeout(t, tr) })
	}
}

func testTransferReconnectAndTimeout(t *testing.T, tr openssh.Transport) {
	checkNoLeaks(t)
	srv, opts := startHosts(t, 2)
	opts.Transport = tr
	r := newRunner(t, srv, opts)
	r.RetryDelay = 20 * time.Millisecond
	r.Reconnections = 2
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	must0(t, os.WriteFile(src, []byte("again\n"), 0o644))
	remote := fmt.Sprintf("/tmp/opar-reconn-%d-%%LABEL%%", srv.Port)
	// Kill the master; the next copy fails with a master error.
	r.Push("h1", Func(func(ctx context.Context, l string, m *openssh.Master) error {
		if p := m.MasterPID(); p > 0 {
			syscall.Kill(p, syscall.SIGKILL)
		}
		for m.Check(ctx) == nil {
			time.Sleep(10 * time.Millisecond)
		}
		return nil
	}))
	r.Push("h1", Put(src, remote))
	r.Push("h1", Command("cat "+remote+"; rm -f "+remote))
	r.Push("h2", SFTP(func(ctx context.Context, l string, c *sftp.Client) error {
		<-ctx.Done()
		_, err := c.Stat("/")
		if err == nil {
			return errors.New("the session is still open after the timeout")
		}
		return err
	}).Timeout(200*time.Millisecond))
	res, err := r.Run(context.Background())
	if !errors.Is(err, ErrHostsFailed) {
		t.Fatalf("Run: %v", err)
	}
	if x := res.Get("h1"); x.Err != nil || x.Reconnects != 1 || x.Connects != 2 || string(x.Stdout) != "again\n" {
		t.Errorf("h1: err %v reconnects %d connects %d stdout %q", x.Err, x.Reconnects, x.Connects, x.Stdout)
	}
	if x := res.Get("h2"); !errors.Is(x.Err, context.DeadlineExceeded) {
		t.Errorf("h2: %v, want DeadlineExceeded", x.Err)
	}
}
