package openssh

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeSocket makes a listening Unix socket at p (a planted "master" that
// never answers), closed when the test ends.
func fakeSocket(t *testing.T, p string) {
	t.Helper()
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
}

// TestExternalMasterChecks: the socket of an external master gets the
// checks of our own control directory; a real master's socket is used on
// both transports, a planted one is refused with a typed error.
func TestExternalMasterChecks(t *testing.T) {
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// Accepted: our own master's socket, directly and through a
		// symbolic link in a private directory.
		link := filepath.Join(testCtlDir(t), "link")
		if err := os.Symlink(m.CtlPath(), link); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{m.CtlPath(), link} {
			ext, err := New(ctx, "", &Options{ExternalMaster: true, CtlPath: p, ConfigFile: m.opts.ConfigFile, Transport: m.opts.Transport})
			if err != nil {
				t.Fatalf("external master at %s: %v", p, err)
			}
			out, err := ext.Capture(ctx, "echo", "ok")
			if err != nil || string(out) != "ok\n" {
				t.Errorf("external master at %s: %q %v", p, out, err)
			}
			ext.Close()
		}
	})

	// Refused: planted sockets.
	open := testCtlDir(t) // 0777, not sticky: anyone may plant a socket
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	inOpen := filepath.Join(open, "s")
	fakeSocket(t, inOpen)
	priv := testCtlDir(t)
	wide := filepath.Join(priv, "wide")
	fakeSocket(t, wide)
	if err := os.Chmod(wide, 0o666); err != nil {
		t.Fatal(err)
	}
	toOpen := filepath.Join(priv, "to-open")
	if err := os.Symlink(inOpen, toOpen); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		want       error
	}{
		{"world-writable directory", inOpen, ErrInsecureCtlDir},
		{"socket writable by others", wide, ErrInsecureCtlSocket},
		{"link into a world-writable directory", toOpen, ErrInsecureCtlDir},
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(testUserName(t))
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		other := filepath.Join(priv, "other")
		fakeSocket(t, other)
		if err := os.Lchown(other, uid, -1); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			name, path string
			want       error
		}{"socket of another user", other, ErrInsecureCtlSocket})
	}
	for _, tc := range cases {
		_, err := newMaster("", &Options{ExternalMaster: true, CtlPath: tc.path})
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrMasterFailed) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		} else if !strings.Contains(err.Error(), "AllowInsecureCtlDir") {
			t.Errorf("%s: %q does not name the override", tc.name, err)
		}
		if _, err := newMaster("", &Options{ExternalMaster: true, CtlPath: tc.path, AllowInsecureCtlDir: true}); err != nil {
			t.Errorf("%s with AllowInsecureCtlDir: %v", tc.name, err)
		}
	}
}

// testUserName is the account the test sshd logs in as, without starting
// a server.
func testUserName(t *testing.T) string {
	if n := os.Getenv("OPENSSH_TEST_USER"); n != "" {
		return n
	}
	return "goopenssh"
}

// externalChildEnv names the shared directory of TestExternalMasterAsUser
// in the process that runs as the unprivileged account.
const externalChildEnv = "OPENSSH_TEST_EXTERNAL_CHILD"

// TestExternalMasterAsUser runs the external master checks as a user who
// is not root: when the tests run as root, in a copy of the test binary
// started as the test account; otherwise in this process. A socket owned
// by root is refused then, as one of any other user.
func TestExternalMasterAsUser(t *testing.T) {
	if dir := os.Getenv(externalChildEnv); dir != "" {
		externalChecksAsUser(t, dir)
		return
	}
	shared := testCtlDir(t)
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	// A socket owned by the running user, in a directory the other user
	// can reach but not write.
	fakeSocket(t, filepath.Join(shared, "root.sock"))
	if os.Geteuid() != 0 {
		externalChecksAsUser(t, shared)
		return
	}
	u, err := user.Lookup(testUserName(t))
	if err != nil {
		skipOrFail(t, "no test account: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	userDir := filepath.Join(shared, "user")
	if err := os.Mkdir(userDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(userDir, uid, gid); err != nil {
		t.Fatal(err)
	}
	// The test binary may sit in a directory the account cannot read.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(shared, "openssh.test")
	copyFile(t, exe, bin, 0o755)
	cmd := exec.Command(bin, "-test.run=^TestExternalMasterAsUser$", "-test.v", "-test.count=1")
	cmd.Dir = shared
	cmd.Env = []string{externalChildEnv + "=" + shared, "HOME=" + u.HomeDir, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestExternalMasterAsUser") {
		t.Fatalf("as %s: %v\n%s", u.Username, err, out)
	}
}

// externalChecksAsUser is the unprivileged half of
// TestExternalMasterAsUser: shared holds root.sock, a socket of the user
// running the tests (root, or this user when the tests run unprivileged),
// and, when the tests run as root, "user", a private directory of this
// account.
func externalChecksAsUser(t *testing.T, shared string) {
	if os.Geteuid() == 0 {
		t.Fatal("running as root")
	}
	own := filepath.Join(shared, "user")
	if _, err := os.Stat(own); err != nil {
		own = testCtlDir(t)
	}
	mine := filepath.Join(own, "mine.sock")
	fakeSocket(t, mine)
	if _, err := newMaster("", &Options{ExternalMaster: true, CtlPath: mine}); err != nil {
		t.Errorf("own socket in a private directory: %v", err)
	}
	theirs := filepath.Join(shared, "root.sock")
	var st syscall.Stat_t
	if err := syscall.Stat(theirs, &st); err != nil {
		t.Fatal(err)
	}
	if int(st.Uid) != os.Geteuid() { // not when the tests run unprivileged
		if _, err := newMaster("", &Options{ExternalMaster: true, CtlPath: theirs}); !errors.Is(err, ErrInsecureCtlSocket) {
			t.Errorf("another user's socket: %v, want ErrInsecureCtlSocket", err)
		}
		if _, err := newMaster("", &Options{ExternalMaster: true, CtlPath: theirs, AllowInsecureCtlDir: true}); err != nil {
			t.Errorf("another user's socket with AllowInsecureCtlDir: %v", err)
		}
	}
	if err := os.Chmod(own, 0o777); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(own, 0o700)
	if _, err := newMaster("", &Options{ExternalMaster: true, CtlPath: mine}); !errors.Is(err, ErrInsecureCtlDir) {
		t.Errorf("own socket in a world-writable directory: %v, want ErrInsecureCtlDir", err)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
