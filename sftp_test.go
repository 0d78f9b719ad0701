package openssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"

	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
	"github.com/pkg/sftp"
)

func TestSFTPNastyNamesAndClose(t *testing.T) {
	checkNoLeaks(t)
	m, _ := newTestMaster(t, nil, nil)
	c, err := m.SFTP(t.Context())
	if err != nil {
		t.Fatalf("SFTP: %v", err)
	}
	base := xferDir(t)
	src := mkdirShared(t, filepath.Join(base, "src"))
	up := mkdirShared(t, filepath.Join(base, "up"))
	down := mkdirShared(t, filepath.Join(base, "down"))
	writeFiles(t, src, nastyNames, 3000)
	for _, n := range nastyNames {
		if err := SFTPPutFile(t.Context(), c, filepath.Join(src, n), filepath.Join(up, n), nil); err != nil {
			t.Fatalf("SFTPPutFile %q: %v", n, err)
		}
	}
	checkFiles(t, up, nastyNames, 3000)
	// The remote listing has the exact names.
	ents, err := c.ReadDir(up)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(nastyNames) {
		t.Errorf("ReadDir: %d entries", len(ents))
	}
	for _, n := range nastyNames {
		if err := SFTPGetFile(t.Context(), c, filepath.Join(up, n), filepath.Join(down, n), nil); err != nil {
			t.Fatalf("SFTPGetFile %q: %v", n, err)
		}
	}
	checkFiles(t, down, nastyNames, 3000)
	// A missing file is fs.ErrNotExist.
	if _, err := c.Stat(filepath.Join(base, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing file: %v", err)
	}
	if err := SFTPGetFile(t.Context(), c, filepath.Join(base, "missing"), filepath.Join(down, "m"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SFTPGetFile of a missing file: %v", err)
	}
	// Close ends and reaps the slave before it returns. The mux
	// transport has no slave at all.
	want := 1
	if m.opts.Transport == TransportMux {
		want = 0
	}
	if n := sshtest.CountProcesses(" -Txs "); n != want {
		t.Errorf("%d ssh -s processes with the client open, want %d", n, want)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := sshtest.CountProcesses(" -Txs "); n != 0 {
		t.Errorf("%d ssh -s processes after Close, want 0", n)
	}
	if _, err := c.Getwd(); err == nil {
		t.Error("client works after Close")
	}
}

func TestSFTPConcurrentBigFiles(t *testing.T) {
	checkNoLeaks(t)
	m, _ := newTestMaster(t, nil, nil)
	c, err := m.SFTP(t.Context())
	if err != nil {
		t.Fatalf("SFTP: %v", err)
	}
	defer c.Close()
	base := xferDir(t)
	data := make([]byte, 5<<20+12345)
	rand.Read(data)
	local := filepath.Join(base, "big")
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var calls int
	var last [2]int64
	prog := func(done, total int64) {
		mu.Lock()
		calls++
		last = [2]int64{done, total}
		mu.Unlock()
	}
	// Two uploads at once, then two downloads at once, over one session.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = SFTPPutFile(t.Context(), c, local, filepath.Join(base, "up"+string(rune('0'+i))), prog)
		}()
	}
	wg.Wait()
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[2+i] = SFTPGetFile(t.Context(), c, filepath.Join(base, "up"+string(rune('0'+i))), filepath.Join(base, "down"+string(rune('0'+i))), nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transfer %d: %v", i, err)
		}
	}
	for _, n := range []string{"up0", "up1", "down0", "down1"} {
		b, err := os.ReadFile(filepath.Join(base, n))
		if err != nil || !bytes.Equal(b, data) {
			t.Errorf("%s differs (%d bytes, err %v)", n, len(b), err)
		}
	}
	if calls < 2 || last != [2]int64{int64(len(data)), int64(len(data))} {
		t.Errorf("progress: %d calls, last %v", calls, last)
	}
	// Plain pkg/sftp API with concurrent writes and reads.
	f, err := c.Create(filepath.Join(base, "direct"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, err = c.Open(filepath.Join(base, "direct"))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := f.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !bytes.Equal(got.Bytes(), data) {
		t.Error("direct round trip differs")
	}
}

func TestSFTPErrors(t *testing.T) {
	checkNoLeaks(t)
	m, _ := newTestMaster(t, nil, nil)
	// A bad option is an SFTP failure, and nothing is left running.
	_, err := m.SFTP(t.Context(), sftp.MaxConcurrentRequestsPerFile(-1))
	if !errors.Is(err, ErrSFTPFailed) {
		t.Errorf("bad option: %v, want ErrSFTPFailed", err)
	}
	// A canceled context.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.SFTP(ctx); err == nil {
		t.Error("SFTP with a canceled context succeeded")
	}
	// A dead master: a master failure.
	m.Close()
	if _, err := m.SFTP(t.Context()); !errors.Is(err, ErrMasterFailed) {
		t.Errorf("closed master: %v, want ErrMasterFailed", err)
	}
}

// BenchmarkSFTP256 moves 256 MiB each way through SFTP and, in the same
// run, through OpenSSH's sftp binary over the same master. Run it with
// go test -run '^$' -bench SFTP256 -benchtime 1x .
func BenchmarkSFTP256(b *testing.B) {
	m, _ := newTestMaster(b, nil, nil)
	dir, err := os.MkdirTemp("/dev/shm", "xferbench")
	if err != nil {
		b.Skip("no /dev/shm")
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o777)
	src := filepath.Join(dir, "src")
	data := make([]byte, 256<<20)
	rand.Read(data)
	os.WriteFile(src, data, 0o644)
	data = nil
	c, err := m.SFTP(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	mbps := func(d time.Duration) float64 { return 256 / d.Seconds() }
	sftpBin := func(batch string) time.Duration {
		argv := []string{"sftp", "-b", "-", "-S", m.sshArgv[0], "-F", m.opts.ConfigFile,
			"-o", "ControlPath=" + m.ctlPath, "-o", "ControlMaster=no", "-o", "ProxyCommand=false", "--", m.host}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin = strings.NewReader(batch)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("sftp: %v: %s", err, out)
		}
		return time.Since(start)
	}
	for b.Loop() {
		start := time.Now()
		if err := SFTPPutFile(b.Context(), c, src, filepath.Join(dir, "up"), nil); err != nil {
			b.Fatal(err)
		}
		up := time.Since(start)
		start = time.Now()
		if err := SFTPGetFile(b.Context(), c, filepath.Join(dir, "up"), filepath.Join(dir, "down"), nil); err != nil {
			b.Fatal(err)
		}
		down := time.Since(start)
		binUp := sftpBin("put " + src + " " + filepath.Join(dir, "up2") + "\n")
		binDown := sftpBin("get " + filepath.Join(dir, "up2") + " " + filepath.Join(dir, "down2") + "\n")
		b.ReportMetric(mbps(up), "up-MiB/s")
		b.ReportMetric(mbps(down), "down-MiB/s")
		b.ReportMetric(mbps(binUp), "sftp-bin-up-MiB/s")
		b.ReportMetric(mbps(binDown), "sftp-bin-down-MiB/s")
		os.Remove(filepath.Join(dir, "up"))
		os.Remove(filepath.Join(dir, "down"))
		os.Remove(filepath.Join(dir, "up2"))
		os.Remove(filepath.Join(dir, "down2"))
	}
}
