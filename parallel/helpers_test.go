package parallel

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// addrs returns n loopback addresses starting at 127.0.0.first.
func addrs(first, n int) []string {
	a := make([]string, n)
	for i := range a {
		a[i] = fmt.Sprintf("127.0.0.%d", first+i)
	}
	return a
}

// startHosts starts one sshd on n addresses (127.0.0.2...) and returns it
// with master options that reach it.
func startHosts(t *testing.T, n int) (*sshtest.Server, *openssh.Options) {
	t.Helper()
	srv := sshtest.Start(t, sshtest.Config{Addrs: addrs(2, n)})
	return srv, hostOpts(t, srv)
}

func hostOpts(t *testing.T, srv *sshtest.Server) *openssh.Options {
	d, err := os.MkdirTemp("", "opar")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return &openssh.Options{
		ConfigFile: srv.SSHConfig,
		CtlDir:     d,
		Timeout:    20 * time.Second,
		MasterOpts: []string{"-o", "KexAlgorithms=curve25519-sha256"},
	}
}

// newRunner returns a Runner with hosts h1..hn on the server's addresses.
func newRunner(t *testing.T, srv *sshtest.Server, opts *openssh.Options) *Runner {
	t.Helper()
	r := &Runner{Options: opts}
	for i, a := range srv.Config.Addrs {
		if err := r.AddHost(fmt.Sprintf("h%d", i+1), a, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// checkNoLeaks checks at the end of the test that no ssh child process and
// no extra fd is left.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	sshtest.CheckNoLeaks(t)
}

// stamps records named timestamps from many goroutines.
type stamps struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (s *stamps) mark(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]time.Time{}
	}
	s.m[k] = time.Now()
}

func (s *stamps) get(k string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok
}

// countSSH counts the ssh processes that are direct children of this
// process and whose command line holds needle (the remote commands, which
// descend from the test's sshd, are left out).
func countSSH(needle string) int {
	self := strconv.Itoa(os.Getpid())
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[0] == "Z" || f[1] != self {
			continue
		}
		cl, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		args := strings.Split(string(cl), "\x00")
		if args[0] == "ssh" && strings.Contains(string(bytes.ReplaceAll(cl, []byte{0}, []byte{' '})), needle) {
			n++
		}
	}
	return n
}
