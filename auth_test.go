package openssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// passwordServer starts a server that accepts passwords and gives the test
// account pw; it skips the test when the harness cannot set a password.
func passwordServer(t *testing.T, pw string, cfg sshtest.Config) *sshtest.Server {
	t.Helper()
	sshtest.Require(t)
	if !sshtest.SetPassword(t, pw) {
		t.Skip("setting the test account's password needs root")
	}
	cfg.Password = true
	return sshtest.Start(t, cfg)
}

// passwordOptions returns Options that reach srv with no usable key.
func passwordOptions(t *testing.T, srv *sshtest.Server) *Options {
	return &Options{
		ConfigFile: srv.SSHConfigNoKey,
		CtlDir:     testCtlDir(t),
		Timeout:    20 * time.Second,
		BatchMode:  true, // ignored with a password, as in Net::OpenSSH
	}
}

// runSlave runs a remote command through the master and returns its output.
func runSlave(t *testing.T, m *Master, command string) string {
	t.Helper()
	argv := m.slaveArgv(slaveSpec{command: command, hasCommand: true})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("slave %q: %v: %s", command, err, out)
	}
	return string(out)
}

// logBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func debugLogger(buf *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// procScan looks at the command line and environment of every process on
// the system for secret. It returns the pids that hold it and how many ssh
// processes it looked at.
func procScan(secret string) (leaks []string, sshSeen int) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cl, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		env, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		if bytes.HasPrefix(cl, []byte("ssh\x00")) {
			sshSeen++
		}
		if bytes.Contains(cl, []byte(secret)) || bytes.Contains(env, []byte(secret)) {
			leaks = append(leaks, e.Name()+": "+string(bytes.ReplaceAll(cl, []byte{0}, []byte{' '})))
		}
	}
	return leaks, sshSeen
}

// watchProcs scans /proc for secret until stop is closed; it reports the
// leaks and the number of scans that saw an ssh process.
func watchProcs(secret string, stop <-chan struct{}) (result func() ([]string, int)) {
	var mu sync.Mutex
	var leaks []string
	scans := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			l, n := procScan(secret)
			mu.Lock()
			leaks = append(leaks, l...)
			if n > 0 {
				scans++
			}
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() ([]string, int) {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return leaks, scans
	}
}

func procEnv(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	return "\x00" + string(b)
}

func TestPasswordLogin(t *testing.T) {
	checkNoLeaks(t)
	const pw = "S3cret-Pa55:word?"
	srv := passwordServer(t, pw, sshtest.Config{})
	// An askpass program that would win over the terminal: it must be
	// removed from the master's environment.
	t.Setenv("SSH_ASKPASS", "/bin/false")
	t.Setenv("SSH_ASKPASS_REQUIRE", "force")
	opts := passwordOptions(t, srv)
	opts.Password = pw
	opts.Async = true
	var logs logBuffer
	opts.Logger = debugLogger(&logs)

	stop := make(chan struct{})
	result := watchProcs(pw, stop)
	start := time.Now()
	m, err := New(t.Context(), srv.Addr, opts)
	if err != nil {
		close(stop)
		t.Fatalf("New: %v", err)
	}
	defer m.Close()
	err = m.WaitForMaster(t.Context())
	elapsed := time.Since(start)
	if err != nil {
		close(stop)
		t.Fatalf("WaitForMaster: %v", err)
	}
	pid := m.MasterPID()
	if got := runSlave(t, m, "echo ok; id -un"); got != "ok\n"+srv.User+"\n" {
		t.Errorf("remote command output %q", got)
	}
	close(stop)
	leaks, scans := result()
	t.Logf("login took %v; %d process scans saw ssh", elapsed, scans)
	if len(leaks) > 0 {
		t.Errorf("password found in /proc: %q", leaks)
	}
	if scans == 0 {
		t.Errorf("no scan saw an ssh process")
	}
	env := procEnv(t, pid)
	for _, k := range []string{"SSH_ASKPASS=", "SSH_ASKPASS_REQUIRE="} {
		if strings.Contains(env, "\x00"+k) {
			t.Errorf("master environment has %s", k)
		}
	}
	if l, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/0"); l != os.DevNull {
		t.Errorf("master stdin is %q, want %s", l, os.DevNull)
	}
	cl, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	for _, want := range []string{"NumberOfPasswordPrompts=1", "PreferredAuthentications=keyboard-interactive,password"} {
		if !bytes.Contains(cl, []byte(want)) {
			t.Errorf("master argv lacks %s", want)
		}
	}
	if bytes.Contains(cl, []byte("BatchMode=yes")) {
		t.Errorf("BatchMode was not ignored with a password")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if logs.String() == "" {
		t.Errorf("no log records")
	}
	if strings.Contains(logs.String(), pw) {
		t.Errorf("password in the logs")
	}
	if m.auth.secret != nil {
		t.Errorf("secret still held after Close")
	}
}

func TestPasswordInTarget(t *testing.T) {
	checkNoLeaks(t)
	const pw = "t@rget:pw"
	srv := passwordServer(t, pw, sshtest.Config{})
	opts := passwordOptions(t, srv)
	target := srv.User + ":" + pw + "@" + srv.Addr
	m, err := New(t.Context(), target, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer m.Close()
	if got := runSlave(t, m, "echo hi"); got != "hi\n" {
		t.Errorf("got %q", got)
	}
	// Restart logs in again with the same password.
	if err := m.Restart(t.Context()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if got := runSlave(t, m, "echo again"); got != "again\n" {
		t.Errorf("got %q", got)
	}
}

func TestWrongPassword(t *testing.T) {
	checkNoLeaks(t)
	srv := passwordServer(t, "the-right-one", sshtest.Config{})
	const bad = "Wr0ng-Pa55word"
	opts := passwordOptions(t, srv)
	opts.Password = bad
	var logs logBuffer
	opts.Logger = debugLogger(&logs)
	stop := make(chan struct{})
	result := watchProcs(bad, stop)
	start := time.Now()
	_, err := New(t.Context(), srv.Addr, opts)
	elapsed := time.Since(start)
	close(stop)
	leaks, _ := result()
	t.Logf("wrong password failed in %v: %v", elapsed, err)
	if !errors.Is(err, ErrAuth) || !errors.Is(err, ErrMasterFailed) {
		t.Fatalf("got %v, want ErrAuth and ErrMasterFailed", err)
	}
	if !strings.Contains(err.Error(), "bad password") {
		t.Errorf("error %q does not say bad password", err)
	}
	if elapsed > 8*time.Second {
		t.Errorf("took %v with a 20 s timeout", elapsed)
	}
	if strings.Contains(err.Error(), bad) || strings.Contains(logs.String(), bad) {
		t.Errorf("the password is in the error or the logs")
	}
	if len(leaks) > 0 {
		t.Errorf("password found in /proc: %q", leaks)
	}
}

func TestAuthOptionConflicts(t *testing.T) {
	key := filepath.Join(t.TempDir(), "k")
	cases := []struct {
		name   string
		target string
		opts   Options
		arg    string
	}{
		{"TargetAndOptionPassword", "u:pw@h", Options{Password: "x"}, "Options.Password"},
		{"PasswordAndPassphrase", "h", Options{Password: "x", Passphrase: "y"}, "Options.Passphrase"},
		{"PasswordAndKey", "h", Options{Password: "x", KeyPath: key}, "Options.KeyPath"},
		{"TargetPasswordAndKey", "u:pw@h", Options{KeyPath: key}, "Options.KeyPath"},
		{"PasswordAndHandler", "h", Options{Password: "x", LoginHandler: func(context.Context, io.ReadWriter) error { return nil }}, "Options.LoginHandler"},
		{"PassphraseAndHandler", "h", Options{Passphrase: "x", LoginHandler: func(context.Context, io.ReadWriter) error { return nil }}, "Options.LoginHandler"},
		{"PassphraseAndAgent", "h", Options{Passphrase: "x", ForwardAgent: true}, "Options.Passphrase"},
		{"PromptWithoutSecret", "h", Options{PasswordPrompt: regexp.MustCompile("x")}, "Options.PasswordPrompt"},
		{"NewlineInPassword", "h", Options{Password: "a\nb"}, "Options.Password"},
		{"NULInPassphrase", "h", Options{Passphrase: "a\x00b"}, "Options.Passphrase"},
		{"ExternalWithPassword", "h", Options{Password: "x", ExternalMaster: true, CtlPath: "/nonexistent"}, "Options.ExternalMaster"},
		{"BadPolicy", "h", Options{HostKeyPolicy: 9}, "Options.HostKeyPolicy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts
			o.CtlDir = testCtlDir(t)
			_, err := New(t.Context(), c.target, &o)
			var ae *ArgError
			if !errors.As(err, &ae) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want an *ArgError", err)
			}
			if ae.Arg != c.arg {
				t.Errorf("Arg %q, want %q (%v)", ae.Arg, c.arg, err)
			}
			for _, s := range []string{"pw", "a\nb", "a\x00b"} {
				if strings.Contains(ae.Value, s) {
					t.Errorf("secret in the error: %v", err)
				}
			}
		})
	}
}

func TestPromptAtEnd(t *testing.T) {
	cases := []struct {
		buf  string
		want bool
	}{
		{"goopenssh@127.0.0.1's password: ", true},
		{"\rEnter passphrase for key '/tmp/k': ", true},
		{"Password:", true},
		{"Password: \r\n", false},
		{"Welcome! Password policy: change it often?\nLast login: never\n", false},
		{"Notice: passwords expire. Any questions?\nbanner text", false},
		{"Banner: password: x\nuser@h's password: ", true},
		{"Verification code: ", false},
	}
	for _, c := range cases {
		if got := promptAtEnd(defaultPrompt, []byte(c.buf)); got != c.want {
			t.Errorf("promptAtEnd(%q) = %v, want %v", c.buf, got, c.want)
		}
	}
}

// passphraseKey makes a key protected by passphrase and authorizes it on
// srv.
func passphraseKey(t *testing.T, srv *sshtest.Server, passphrase string) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "id_pass")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(srv.Dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(pub); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestPassphrase(t *testing.T) {
	srv := sshtest.Start(t, sshtest.Config{})
	const passphrase = "c0rrect horse: battery?"
	key := passphraseKey(t, srv, passphrase)
	// An agent socket that must not reach the master.
	t.Setenv("SSH_AUTH_SOCK", "/nonexistent/agent.sock")
	t.Run("Right", func(t *testing.T) {
		checkNoLeaks(t)
		opts := passwordOptions(t, srv)
		opts.KeyPath = key
		opts.Passphrase = passphrase
		var logs logBuffer
		opts.Logger = debugLogger(&logs)
		stop := make(chan struct{})
		result := watchProcs(passphrase, stop)
		m, err := New(t.Context(), srv.Addr, opts)
		if err != nil {
			close(stop)
			t.Fatalf("New: %v", err)
		}
		defer m.Close()
		if got := runSlave(t, m, "echo pp"); got != "pp\n" {
			t.Errorf("got %q", got)
		}
		close(stop)
		if leaks, _ := result(); len(leaks) > 0 {
			t.Errorf("passphrase found in /proc: %q", leaks)
		}
		if env := procEnv(t, m.MasterPID()); strings.Contains(env, "\x00SSH_AUTH_SOCK=") {
			t.Errorf("master environment has SSH_AUTH_SOCK")
		}
		m.Close()
		if strings.Contains(logs.String(), passphrase) {
			t.Errorf("passphrase in the logs")
		}
	})
	t.Run("Wrong", func(t *testing.T) {
		checkNoLeaks(t)
		opts := passwordOptions(t, srv)
		opts.KeyPath = key
		opts.Passphrase = "not it"
		start := time.Now()
		_, err := New(t.Context(), srv.Addr, opts)
		if !errors.Is(err, ErrAuth) || !errors.Is(err, ErrMasterFailed) {
			t.Fatalf("got %v, want ErrAuth", err)
		}
		if !strings.Contains(err.Error(), "bad passphrase") || strings.Contains(err.Error(), "not it") {
			t.Errorf("error %q", err)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

// expect reads tty until re matches what was read; it returns the text.
func expect(tty io.Reader, re *regexp.Regexp) (string, error) {
	var buf []byte
	b := make([]byte, 512)
	for {
		n, err := tty.Read(b)
		buf = append(buf, b[:n]...)
		if re.Match(buf) {
			return string(buf), nil
		}
		if err != nil {
			return string(buf), err
		}
	}
}

func TestLoginHandler(t *testing.T) {
	// sshd runs without PAM here, so it has no keyboard-interactive device;
	// the multi-prompt login the handler conducts is a key passphrase then
	// a password, which sshd requires both of (AuthenticationMethods
	// publickey,password). Neither Password nor Passphrase alone can do it.
	const pw = "h4ndler-pw"
	srv := passwordServer(t, pw, sshtest.Config{Extra: []string{"AuthenticationMethods publickey,password"}})
	const passphrase = "handler passphrase"
	key := passphraseKey(t, srv, passphrase)
	opts := func(t *testing.T, h LoginHandler) *Options {
		o := passwordOptions(t, srv)
		o.KeyPath = key
		o.MasterOpts = []string{"-o", "PreferredAuthentications=publickey,password"}
		o.LoginHandler = h
		return o
	}
	t.Run("TwoPrompts", func(t *testing.T) {
		checkNoLeaks(t)
		var seen []string
		h := func(ctx context.Context, tty io.ReadWriter) error {
			for _, step := range []struct {
				re     *regexp.Regexp
				answer string
			}{
				{regexp.MustCompile(`passphrase for key .*: $`), passphrase},
				{regexp.MustCompile(`password: $`), pw},
			} {
				text, err := expect(tty, step.re)
				if err != nil {
					return err
				}
				seen = append(seen, strings.TrimSpace(text))
				if _, err := io.WriteString(tty, step.answer+"\n"); err != nil {
					return err
				}
			}
			return nil
		}
		m, err := New(t.Context(), srv.Addr, opts(t, h))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		defer m.Close()
		if got := runSlave(t, m, "echo kbd"); got != "kbd\n" {
			t.Errorf("got %q", got)
		}
		if len(seen) != 2 || !strings.Contains(seen[1], srv.User+"@") {
			t.Errorf("prompts seen: %q", seen)
		}
	})
	t.Run("HandlerError", func(t *testing.T) {
		checkNoLeaks(t)
		errNo := errors.New("no answer for you")
		h := func(ctx context.Context, tty io.ReadWriter) error {
			if _, err := expect(tty, regexp.MustCompile(`: $`)); err != nil {
				return err
			}
			return errNo
		}
		_, err := New(t.Context(), srv.Addr, opts(t, h))
		if !errors.Is(err, ErrAuth) || !errors.Is(err, errNo) {
			t.Fatalf("got %v, want ErrAuth wrapping the handler's error", err)
		}
	})
	t.Run("WrongAnswer", func(t *testing.T) {
		checkNoLeaks(t)
		var calls atomic.Int32
		h := func(ctx context.Context, tty io.ReadWriter) error {
			calls.Add(1)
			if _, err := expect(tty, regexp.MustCompile(`: $`)); err != nil {
				return err
			}
			_, err := io.WriteString(tty, "wrong\n")
			return err
		}
		start := time.Now()
		_, err := New(t.Context(), srv.Addr, opts(t, h))
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("got %v, want ErrAuth", err)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("took %v", d)
		}
		if calls.Load() != 1 {
			t.Errorf("handler called %d times", calls.Load())
		}
	})
}
