// Package sshtest starts private OpenSSH servers on loopback addresses for
// tests: fresh host and client keys, a matching known_hosts and a client
// ssh_config (so the developer's own ~/.ssh/config never leaks into tests),
// and knobs to break things on purpose (stop, kill, restart, rotate the host
// key, lower MaxSessions).
//
// Run as root, sshd logs in as an unprivileged test account (name from
// OPENSSH_TEST_USER, default "goopenssh", created when missing) whose shell
// is /bin/sh. Run as another user, sshd runs as that user and logs in as it.
//
// When sshd is missing, [Start] fails the test if the environment variable
// CI is set and skips it otherwise, with the command that installs it.
package sshtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TB is the part of testing.TB the harness uses, so that programs (the
// demo) can run a sandbox too.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
	Failed() bool
}

// SSHDPath is the sshd binary the harness runs.
const SSHDPath = "/usr/sbin/sshd"

// InstallHint is the command that installs what the live tests need.
const InstallHint = "apt-get install -y openssh-server openssh-client"

// Config is what a test may change in a server. Change Server.Config and
// call Restart to apply it.
type Config struct {
	// Addrs are the loopback addresses to listen on, at most 16; the
	// default is 127.0.0.1.
	Addrs []string
	// MaxSessions is sshd's MaxSessions (0: sshd's default, 10).
	MaxSessions int
	// MaxStartups is sshd's MaxStartups ("": a roomy 100:30:200).
	MaxStartups string
	// AllowTCPForwarding is sshd's AllowTcpForwarding ("": yes).
	AllowTCPForwarding string
	// Password enables password and keyboard-interactive authentication;
	// the test account needs a password (see SetPassword).
	Password bool
	// Banner is text shown before authentication.
	Banner string
	// Extra are more sshd_config lines.
	Extra []string
	// Shell, when set, is the path of the login shell of the account sshd
	// logs in as: a test account of its own, "goopenssh-<base name>"
	// (created when missing; root only, the test is skipped otherwise).
	Shell string
	// User is the account sshd logs in as; "" is the test account
	// (TestUser), or Shell's. See SudoAccount.
	User string
}

// Server is a running private sshd.
type Server struct {
	t      TB
	Config Config
	// Dir holds the keys, configs and log.
	Dir string
	// Addr is the first listen address; Port the port of all of them.
	Addr string
	Port int
	// User is the account sshd logs in as.
	User string
	// ClientKey is the private key in authorized_keys.
	ClientKey string
	// KnownHosts lists the server's host key for every address.
	KnownHosts string
	// SSHConfig is a client config (for ssh -F) with the port, user, key and
	// known_hosts, strict host key checking, and no agent.
	SSHConfig string
	// SSHConfigNoKey is SSHConfig without the client key: logins with it
	// fail unless another key or a password is given.
	SSHConfigNoKey string
	// LogPath is sshd's log file.
	LogPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Require fails (under CI) or skips the test when sshd is not installed.
func Require(t TB) {
	t.Helper()
	if _, err := os.Stat(SSHDPath); err == nil {
		if _, err := exec.LookPath("ssh"); err == nil {
			return
		}
	}
	msg := fmt.Sprintf("sshd or ssh is not installed (%s)", InstallHint)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and %s", msg)
	}
	t.Skip(msg + "; skipping live test")
}

// Start starts a server with cfg and stops it when the test ends.
func Start(t TB, cfg Config) *Server {
	t.Helper()
	Require(t)
	dir, err := os.MkdirTemp("", "sshtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{t: t, Config: cfg, Dir: dir, LogPath: filepath.Join(dir, "sshd.log")}
	if len(cfg.Addrs) == 0 {
		s.Config.Addrs = []string{"127.0.0.1"}
	}
	if len(s.Config.Addrs) > 16 {
		t.Fatalf("sshtest: one sshd listens on at most 16 addresses, got %d", len(s.Config.Addrs))
	}
	s.Addr = s.Config.Addrs[0]
	switch {
	case cfg.User != "":
		s.User = cfg.User
	case cfg.Shell != "":
		s.User = ShellUser(t, cfg.Shell)
	default:
		s.User = TestUser(t)
	}
	s.ClientKey = filepath.Join(dir, "id_ed25519")
	keygen(t, s.ClientKey)
	keygen(t, filepath.Join(dir, "host_ed25519"))
	pub, err := os.ReadFile(s.ClientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// sshd as root needs the files readable; the dir holds no secrets
	// worth protecting from the test account.
	os.Chmod(dir, 0o755)
	t.Cleanup(s.stop)
	var lastErr error
	for range 5 {
		s.Port = freePort(t, s.Addr)
		s.writeClientFiles()
		if lastErr = s.launch(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("sshtest: cannot start sshd: %v\n%s", lastErr, s.Log())
	return nil
}

// TestUser returns the account the server logs in as, creating it when
// running as root and it is missing.
func TestUser(t TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		return u.Username
	}
	name := os.Getenv("OPENSSH_TEST_USER")
	if name == "" {
		name = "goopenssh"
	}
	userOnce.Do(func() {
		if _, err := user.Lookup(name); err != nil {
			out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", name).CombinedOutput()
			if err != nil {
				userErr = fmt.Errorf("useradd %s: %v: %s", name, err, out)
				return
			}
		}
		// A new account's password is "!", which sshd takes for a locked
		// account even for key logins; "*" allows keys and no password.
		if shadowLocked(name) {
			if out, err := exec.Command("usermod", "-p", "*", name).CombinedOutput(); err != nil {
				userErr = fmt.Errorf("usermod %s: %v: %s", name, err, out)
			}
		}
	})
	if userErr != nil {
		t.Fatal(userErr)
	}
	return name
}

var (
	userOnce sync.Once
	userErr  error
	shellMu  sync.Mutex
)

// ShellUser returns a test account whose login shell is shell, creating it
// (or setting its shell) when needed. It needs root: otherwise the test is
// skipped, or fails under CI.
func ShellUser(t TB, shell string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and a test account with login shell %s needs root", shell)
		}
		t.Skip("a test account with another login shell needs root")
	}
	if _, err := os.Stat(shell); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and shell %s is missing: %v", shell, err)
		}
		t.Skip("shell " + shell + " is not installed")
	}
	name := "goopenssh-" + filepath.Base(shell)
	shellMu.Lock()
	defer shellMu.Unlock()
	if u, err := user.Lookup(name); err != nil {
		if out, err := exec.Command("useradd", "-m", "-s", shell, name).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v: %s", name, err, out)
		}
	} else if loginShell(u.Username) != shell {
		if out, err := exec.Command("usermod", "-s", shell, name).CombinedOutput(); err != nil {
			t.Fatalf("usermod %s: %v: %s", name, err, out)
		}
	}
	if shadowLocked(name) {
		if out, err := exec.Command("usermod", "-p", "*", name).CombinedOutput(); err != nil {
			t.Fatalf("usermod %s: %v: %s", name, err, out)
		}
	}
	return name
}

// loginShell returns name's shell from /etc/passwd.
func loginShell(name string) string {
	b, _ := os.ReadFile("/etc/passwd")
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 7 && f[0] == name {
			return f[6]
		}
	}
	return ""
}

// SetPassword gives the test account a password (root only); it returns
// false when the harness cannot (not root).
func SetPassword(t TB, password string) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return false
	}
	name := TestUser(t)
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	return true
}

// shadowLocked reports whether name's password field starts with "!".
func shadowLocked(name string) bool {
	b, err := os.ReadFile("/etc/shadow")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) >= 2 && f[0] == name {
			return strings.HasPrefix(f[1], "!")
		}
	}
	return false
}

func keygen(t TB, path string) {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sshtest", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

func freePort(t TB, addr string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatalf("sshtest: no free port on %s: %v", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeClientFiles writes known_hosts and the client configs.
func (s *Server) writeClientFiles() {
	s.t.Helper()
	hostPub, err := os.ReadFile(filepath.Join(s.Dir, "host_ed25519.pub"))
	if err != nil {
		s.t.Fatal(err)
	}
	fields := strings.Fields(string(hostPub))
	var kh strings.Builder
	for _, a := range s.Config.Addrs {
		fmt.Fprintf(&kh, "[%s]:%d %s %s\n", a, s.Port, fields[0], fields[1])
	}
	s.KnownHosts = filepath.Join(s.Dir, "known_hosts")
	s.write("known_hosts", kh.String())
	common := fmt.Sprintf(`Host *
  Port %d
  User %s
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  IdentityAgent none
  IdentitiesOnly yes
  UpdateHostKeys no
  ConnectTimeout 10
`, s.Port, s.User, s.KnownHosts)
	s.SSHConfig = filepath.Join(s.Dir, "ssh_config")
	s.write("ssh_config", common+"  IdentityFile "+s.ClientKey+"\n")
	s.SSHConfigNoKey = filepath.Join(s.Dir, "ssh_config_nokey")
	s.write("ssh_config_nokey", common+"  IdentityFile /dev/null\n")
}

func (s *Server) write(name, content string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.Dir, name), []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) sshdConfig() string {
	c := s.Config
	var b strings.Builder
	for _, a := range c.Addrs {
		fmt.Fprintf(&b, "ListenAddress %s:%d\n", a, s.Port)
	}
	yesno := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	fwd := c.AllowTCPForwarding
	if fwd == "" {
		fwd = "yes"
	}
	startups := c.MaxStartups
	if startups == "" {
		startups = "100:30:200"
	}
	fmt.Fprintf(&b, `HostKey %[1]s/host_ed25519
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile %[1]s/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication %[2]s
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PermitEmptyPasswords no
AllowUsers %[3]s
Subsystem sftp internal-sftp
AllowTcpForwarding %[4]s
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
X11Forwarding no
PrintMotd no
PrintLastLog no
AcceptEnv LANG LC_* GOOPENSSH_*
MaxStartups %[5]s
LogLevel VERBOSE
`, s.Dir, yesno(c.Password), s.User, fwd, startups)
	if c.MaxSessions > 0 {
		fmt.Fprintf(&b, "MaxSessions %d\n", c.MaxSessions)
	}
	if c.Banner != "" {
		s.write("banner", c.Banner)
		fmt.Fprintf(&b, "Banner %s/banner\n", s.Dir)
	}
	for _, l := range c.Extra {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// launch starts sshd and waits until it accepts connections.
func (s *Server) launch() error {
	s.write("sshd_config", s.sshdConfig())
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", filepath.Join(s.Dir, "sshd_config"))
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("sshd exited at start")
		default:
		}
		ok := true
		for _, a := range s.Config.Addrs {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(a, strconv.Itoa(s.Port)), time.Second)
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stop()
	return errors.New("sshd did not accept connections within 10 s")
}

// Target returns "user@addr:port" for the first address.
func (s *Server) Target() string {
	return fmt.Sprintf("%s@%s:%d", s.User, s.Addr, s.Port)
}

// Log returns sshd's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// PID returns the pid of the listening sshd, or 0 when it is stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop stops the listening sshd (SIGTERM) and waits for it. Sessions already
// open are served by their own sshd processes and go on.
func (s *Server) Stop() { s.signal(syscall.SIGTERM, false) }

// Kill kills sshd and every session process it started, dropping every
// connection.
func (s *Server) Kill() { s.signal(syscall.SIGKILL, true) }

func (s *Server) signal(sig syscall.Signal, group bool) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	pid := cmd.Process.Pid
	if group {
		// Each connection's sshd calls setsid, so the process group is
		// not enough: kill every descendant. Stop the tree first, until
		// no new process shows up in it: a process forked after a
		// snapshot (sshd's post-authentication child, say) would
		// otherwise be orphaned, out of reach, and keep the connection.
		syscall.Kill(pid, syscall.SIGSTOP)
		stopped := map[int]bool{}
		for range 20 {
			grew := false
			for _, d := range descendants(pid) {
				if !stopped[d] {
					stopped[d], grew = true, true
					syscall.Kill(d, syscall.SIGSTOP)
				}
			}
			if !grew {
				break
			}
		}
		for d := range stopped {
			syscall.Kill(d, sig)
		}
		syscall.Kill(-pid, sig)
		syscall.Kill(pid, sig)
		if sig != syscall.SIGKILL {
			for d := range stopped {
				syscall.Kill(d, syscall.SIGCONT)
			}
			syscall.Kill(pid, syscall.SIGCONT)
		}
	} else {
		cmd.Process.Signal(sig)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

// stop kills sshd and its sessions at the end of a test; it prints the log
// when the test failed.
func (s *Server) stop() {
	if s.t.Failed() {
		s.t.Logf("sshd log (%s):\n%s", s.LogPath, tail(s.Log(), 4000))
	}
	s.Kill()
}

// Restart starts sshd again on the same port with the same keys and the
// current Config.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	for range 20 {
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may still be held
	}
	s.t.Fatalf("sshtest: restart: %v\n%s", err, s.Log())
}

// RotateHostKey gives the server a new host key without updating known_hosts
// and restarts it: clients then see a changed host key.
func (s *Server) RotateHostKey() {
	s.t.Helper()
	os.Remove(filepath.Join(s.Dir, "host_ed25519"))
	os.Remove(filepath.Join(s.Dir, "host_ed25519.pub"))
	keygen(s.t, filepath.Join(s.Dir, "host_ed25519"))
	s.Restart()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// isDescendant reports whether pid descends from ancestor.
func isDescendant(parent map[int]int, pid, ancestor int) bool {
	for p, depth := parent[pid], 0; p != 0 && depth < 64; p, depth = parent[p], depth+1 {
		if p == ancestor {
			return true
		}
	}
	return false
}

// descendants returns the live descendants of pid.
func descendants(pid int) []int {
	parent, _ := procTable()
	var ds []int
	for p := range parent {
		if isDescendant(parent, p, pid) {
			ds = append(ds, p)
		}
	}
	return ds
}

// CountProcesses returns how many processes whose command line contains
// needle are children (at any depth) of this process.
func CountProcesses(needle string) int {
	parent, cmdline := procTable()
	self := os.Getpid()
	n := 0
	for pid, cl := range cmdline {
		if strings.Contains(cl, needle) && isDescendant(parent, pid, self) {
			n++
		}
	}
	return n
}

// CountSSH returns how many ssh client processes (argv[0] "ssh" or a path
// ending in "/ssh") descend from this process. Unlike CountProcesses("ssh "),
// it does not count sshd's per-session processes.
func CountSSH() int {
	parent, cmdline := procTable()
	self := os.Getpid()
	n := 0
	for pid, cl := range cmdline {
		arg0, _, _ := strings.Cut(cl, " ")
		if (arg0 == "ssh" || strings.HasSuffix(arg0, "/ssh")) && isDescendant(parent, pid, self) {
			n++
		}
	}
	return n
}

// FindProcesses returns the pids of the live processes (any parent) whose
// command line contains needle.
func FindProcesses(needle string) []int {
	_, cmdline := procTable()
	var pids []int
	for pid, cl := range cmdline {
		if strings.Contains(cl, needle) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// LeakTB is what CheckNoLeaks needs of a test (*testing.T has it all).
type LeakTB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Errorf(format string, args ...any)
}

// CheckNoLeaks records the open fds now and checks, when the test ends (and
// has not failed otherwise), that no ssh client started by this program is
// left and no fd was added, allowing 3 s for processes to be reaped. Call
// it first in a test, so its check runs after every other cleanup.
func CheckNoLeaks(t LeakTB) {
	t.Helper()
	fds := OpenFDs()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := CountSSH()
			f := OpenFDs()
			if n == 0 && f <= fds {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("leak: %d ssh child processes, %d fds (was %d)", n, f, fds)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
