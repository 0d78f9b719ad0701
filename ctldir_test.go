package openssh

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCtlDirSecurity(t *testing.T) {
	base := testCtlDir(t)
	groupW := filepath.Join(base, "gw")
	if err := os.Mkdir(groupW, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(groupW, 0o770)
	_, err := newMaster("host", &Options{CtlDir: groupW})
	if !errors.Is(err, ErrInsecureCtlDir) || !errors.Is(err, ErrMasterFailed) {
		t.Errorf("group-writable dir: %v, want ErrInsecureCtlDir", err)
	}
	if err != nil && !strings.Contains(err.Error(), groupW) {
		t.Errorf("message %q does not name the directory", err)
	}
	// The parent being writable is refused too.
	inner := filepath.Join(groupW, "inner")
	os.Mkdir(inner, 0o700)
	if _, err := newMaster("host", &Options{CtlDir: inner}); !errors.Is(err, ErrInsecureCtlDir) {
		t.Errorf("dir under a group-writable dir: %v, want ErrInsecureCtlDir", err)
	}
	// AllowInsecureCtlDir turns the check off.
	if _, err := newMaster("host", &Options{CtlDir: groupW, AllowInsecureCtlDir: true}); err != nil {
		t.Errorf("AllowInsecureCtlDir: %v", err)
	}
	// A world-writable sticky dir (like /tmp) is fine.
	sticky := filepath.Join(base, "sticky")
	os.Mkdir(sticky, 0o700)
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	under := filepath.Join(sticky, "d")
	if _, err := newMaster("host", &Options{CtlDir: under}); err != nil {
		t.Errorf("dir under a sticky dir: %v", err)
	}
	if st, err := os.Stat(under); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("created control dir: %v %v, want mode 0700", st.Mode(), err)
	}
	// A symlink is resolved before the walk.
	link := filepath.Join(base, "link")
	os.Symlink(groupW, link)
	if _, err := newMaster("host", &Options{CtlDir: link}); !errors.Is(err, ErrInsecureCtlDir) {
		t.Errorf("symlink to an insecure dir: %v, want ErrInsecureCtlDir", err)
	}
}

func TestCtlPathTooLong(t *testing.T) {
	base := testCtlDir(t)
	long := "/tmp/" + strings.Repeat("x", 95) // 100 bytes
	_, err := newMaster("host", &Options{CtlPath: long, AllowInsecureCtlDir: true})
	if !errors.Is(err, ErrCtlPathTooLong) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("100-byte path: %v, want ErrCtlPathTooLong", err)
	}
	if !strings.Contains(err.Error(), "at most 90 bytes") || !strings.Contains(err.Error(), "108") {
		t.Errorf("message %q does not name the limit", err)
	}
	// A directory that leaves no room for a socket name is refused before
	// it is created.
	deep := filepath.Join(base, strings.Repeat("d", 80))
	if _, err := newMaster("host", &Options{CtlDir: deep}); !errors.Is(err, ErrCtlPathTooLong) {
		t.Errorf("deep CtlDir: %v, want ErrCtlPathTooLong", err)
	}
	if _, err := os.Stat(deep); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the too-deep dir was created")
	}
	// Exactly the limit is accepted.
	p := filepath.Join(base, strings.Repeat("p", MaxCtlPathLen()-len(base)-1))
	m, err := newMaster("host", &Options{CtlPath: p})
	if err != nil || len(m.CtlPath()) != MaxCtlPathLen() {
		t.Errorf("path of %d bytes: %v", MaxCtlPathLen(), err)
	}
}

func TestCtlPathExisting(t *testing.T) {
	base := testCtlDir(t)
	p := filepath.Join(base, "taken")
	os.WriteFile(p, nil, 0o600)
	if _, err := newMaster("host", &Options{CtlPath: p}); !errors.Is(err, ErrInvalid) {
		t.Errorf("existing CtlPath: %v, want ErrInvalid", err)
	}
	if _, err := newMaster("host", &Options{CtlPath: p, ExternalMaster: true}); !errors.Is(err, ErrMasterGone) {
		t.Errorf("external CtlPath that is no socket: %v, want ErrMasterGone", err)
	}
}

func TestDefaultCtlDir(t *testing.T) {
	x := testCtlDir(t)
	t.Setenv("XDG_RUNTIME_DIR", x)
	d, err := defaultCtlDir()
	if err != nil || d != filepath.Join(x, "goopenssh") {
		t.Errorf("defaultCtlDir with XDG_RUNTIME_DIR = %q, %v", d, err)
	}
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(x, "missing"))
	home, _ := homeDir()
	d, err = defaultCtlDir()
	if err != nil || d != filepath.Join(home, ".goopenssh") {
		t.Errorf("defaultCtlDir without XDG_RUNTIME_DIR = %q, %v", d, err)
	}
	// HOME is not consulted: the passwd database is.
	t.Setenv("HOME", "/nonexistent")
	if d2, _ := defaultCtlDir(); d2 != d {
		t.Errorf("defaultCtlDir followed $HOME: %q", d2)
	}
}

func TestCtlPathNames(t *testing.T) {
	dir := testCtlDir(t)
	seen := map[string]bool{}
	for range 50 {
		p, err := newCtlPath(dir, "user", strings.Repeat("h", 300), 22)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		if len(name) != 20 || strings.Contains(name, "h") || seen[name] {
			t.Fatalf("bad or repeated socket name %q", name)
		}
		seen[name] = true
	}
}

// The default control directory is chosen so that a socket name fits the
// sun_path of each system: 108 bytes on Linux, 104 on darwin and the BSDs.
func TestChooseCtlDir(t *testing.T) {
	long := "/Users/" + strings.Repeat("a", 60) // 67 bytes: .goopenssh/<20> does not fit 86
	yes := func(string) bool { return true }
	no := func(string) bool { return false }
	for _, tc := range []struct {
		goos, xdg, home string
		homeErr         error
		isDir           func(string) bool
		want            string
	}{
		{"darwin", "", "/Users/alice", nil, yes, "/Users/alice/.goopenssh"},
		{"darwin", "", long, nil, yes, "/tmp/goopenssh-501"},
		{"darwin", "", "", errors.New("no passwd entry"), yes, "/tmp/goopenssh-501"},
		{"freebsd", "", "/home/bob", nil, yes, "/home/bob/.goopenssh"},
		{"openbsd", "", long, nil, yes, "/tmp/goopenssh-501"},
		{"netbsd", "/run/user/501", long, nil, yes, "/run/user/501/goopenssh"},
		{"linux", "/run/user/501", "/home/c", nil, yes, "/run/user/501/goopenssh"},
		{"linux", "/run/user/501", "/home/c", nil, no, "/home/c/.goopenssh"},
		{"linux", "relative", "/home/c", nil, yes, "/home/c/.goopenssh"},
		{"linux", "/" + strings.Repeat("x", 80), "/home/c", nil, yes, "/home/c/.goopenssh"},
		// 58 + 1 + 10 + 1 + 20 = 90 fits Linux exactly, not darwin.
		{"linux", "", "/" + strings.Repeat("h", 57), nil, yes, "/" + strings.Repeat("h", 57) + "/.goopenssh"},
		{"darwin", "", "/" + strings.Repeat("h", 57), nil, yes, "/tmp/goopenssh-501"},
	} {
		got := chooseCtlDir(tc.goos, tc.xdg, tc.home, tc.homeErr, 501, tc.isDir)
		if got != tc.want {
			t.Errorf("%s xdg=%q home=%q: %q, want %q", tc.goos, tc.xdg, tc.home, got, tc.want)
		}
		if n := len(got) + 1 + ctlNameLen; n > maxCtlPathLenFor(tc.goos) {
			t.Errorf("%s: %q leaves a %d-byte control path, over %d", tc.goos, got, n, maxCtlPathLenFor(tc.goos))
		}
	}
	if maxCtlPathLenFor("darwin") != 86 || maxCtlPathLenFor("openbsd") != 86 || maxCtlPathLenFor("linux") != 90 {
		t.Errorf("control path limits: darwin %d, openbsd %d, linux %d", maxCtlPathLenFor("darwin"), maxCtlPathLenFor("openbsd"), maxCtlPathLenFor("linux"))
	}
}
