package openssh

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
)

// sunPathSize is the size of sockaddr_un.sun_path on this system.
func sunPathSize() int { return sunPathSizeFor(runtime.GOOS) }

// sunPathSizeFor is the size of sockaddr_un.sun_path on goos.
func sunPathSizeFor(goos string) int {
	switch goos {
	case "linux", "android":
		return 108
	default: // darwin and the BSDs
		return 104
	}
}

// MaxCtlPathLen is the longest control path ssh can bind on this system.
// ssh first binds "path.XXXXXXXXXXXXXXXX" (16 random characters) and renames
// it into place, and sun_path needs a terminating NUL, so the limit is 18
// bytes below sizeof(sun_path): 90 on Linux, 86 on darwin and the BSDs.
func MaxCtlPathLen() int { return maxCtlPathLenFor(runtime.GOOS) }

func maxCtlPathLenFor(goos string) int { return sunPathSizeFor(goos) - 1 - 17 }

// ctlNameLen is the length of the socket names the library chooses.
const ctlNameLen = 20

// homeDir returns the home directory of the effective user from the passwd
// database, not from $HOME (as Net::OpenSSH does).
func homeDir() (string, error) {
	u, err := user.LookupId(strconv.Itoa(os.Geteuid()))
	if err != nil || u.HomeDir == "" {
		return "", fmt.Errorf("openssh: unable to determine home directory for uid %d: %v", os.Geteuid(), err)
	}
	return u.HomeDir, nil
}

// defaultCtlDir returns the default control directory for this system and
// user (see chooseCtlDir).
func defaultCtlDir() (string, error) {
	home, herr := homeDir()
	isDir := func(d string) bool {
		st, err := os.Stat(d)
		return err == nil && st.IsDir()
	}
	return chooseCtlDir(runtime.GOOS, os.Getenv("XDG_RUNTIME_DIR"), home, herr, os.Geteuid(), isDir), nil
}

// chooseCtlDir picks the default control directory: the first of
// $XDG_RUNTIME_DIR/goopenssh (when that is an existing directory), the
// home directory's .goopenssh and /tmp/goopenssh-<uid> in which a socket
// name still fits the sun_path of goos. The last one is for long homes
// (on macOS, sun_path has 104 bytes and there is no XDG_RUNTIME_DIR); the
// secure-directory check then refuses it unless this user owns it, mode
// 0700.
func chooseCtlDir(goos, xdg, home string, homeErr error, uid int, isDir func(string) bool) string {
	var cands []string
	if xdg != "" && filepath.IsAbs(xdg) && isDir(xdg) {
		cands = append(cands, filepath.Join(xdg, "goopenssh"))
	}
	if homeErr == nil {
		cands = append(cands, filepath.Join(home, ".goopenssh"))
	}
	cands = append(cands, fmt.Sprintf("/tmp/goopenssh-%d", uid))
	max := maxCtlPathLenFor(goos)
	for _, d := range cands[:len(cands)-1] {
		if len(d)+1+ctlNameLen <= max {
			return d
		}
	}
	return cands[len(cands)-1] // 25 bytes at most: it always fits
}

// ensureCtlDir creates dir (the last component only, mode 0700) when it does
// not exist, and checks that it is a directory.
func ensureCtlDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return &Error{Code: CodeMasterFailed, Op: "create control directory", Err: err}
	}
	st, err := os.Stat(dir)
	if err != nil {
		return &Error{Code: CodeMasterFailed, Op: "create control directory", Err: err}
	}
	if !st.IsDir() {
		return &Error{Code: CodeMasterFailed, Op: "create control directory", Err: fmt.Errorf("%s is not a directory", dir)}
	}
	return nil
}

// checkSecureDir walks from dir (symlinks resolved) up to the root, stopping
// at the home directory, and requires every directory to be owned by the
// effective user or root, and not writable by group or others unless it is
// sticky (like /tmp). It is Net::OpenSSH's _is_secure_path.
func checkSecureDir(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return &Error{Code: CodeMasterFailed, Op: "check control directory", Err: err}
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return &Error{Code: CodeMasterFailed, Op: "check control directory", Err: err}
	}
	home := ""
	if h, err := homeDir(); err == nil {
		if rh, err := filepath.EvalSymlinks(h); err == nil {
			home = rh
		}
	}
	euid := uint32(os.Geteuid())
	for d := real; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return &Error{Code: CodeMasterFailed, Op: "check control directory", Err: err}
		}
		if !st.IsDir() {
			return &Error{Code: CodeMasterFailed, Err: ErrInsecureCtlDir, Detail: d + " is not a directory"}
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return &Error{Code: CodeMasterFailed, Err: ErrInsecureCtlDir, Detail: "cannot read owner of " + d}
		}
		mode := st.Mode()
		if sys.Uid != euid && sys.Uid != 0 {
			return &Error{Code: CodeMasterFailed, Err: ErrInsecureCtlDir,
				Detail: fmt.Sprintf("%s is owned by uid %d, not by uid %d or root (see Options.AllowInsecureCtlDir)", d, sys.Uid, euid)}
		}
		if mode.Perm()&0o022 != 0 && mode&fs.ModeSticky == 0 {
			return &Error{Code: CodeMasterFailed, Err: ErrInsecureCtlDir,
				Detail: fmt.Sprintf("%s is writable by group or others (mode %04o) (see Options.AllowInsecureCtlDir)", d, mode.Perm())}
		}
		if d == home || d == filepath.Dir(d) {
			return nil
		}
	}
}

// checkCtlPathLen refuses control paths that ssh could not bind.
func checkCtlPathLen(path string) error {
	if max := MaxCtlPathLen(); len(path) > max {
		return &ArgError{Arg: "control path", Value: fmt.Sprintf("%q", path),
			Reason: fmt.Sprintf("%d bytes is too long: ssh binds the path plus 17 bytes in a %d-byte sun_path on %s, so at most %d bytes fit (choose a shorter Options.CtlDir or Options.CtlPath)",
				len(path), sunPathSize(), runtime.GOOS, max),
			Err: ErrCtlPathTooLong}
	}
	return nil
}

// newCtlPath returns an unused socket path in dir: a short hash of the target,
// the process and randomness, so the name never leaks the host and stays
// short whatever the host name's length.
func newCtlPath(dir, user, host string, port int) (string, error) {
	for range 10 {
		var r [16]byte
		_, _ = rand.Read(r[:])
		h := sha256.New()
		fmt.Fprintf(h, "%s-%s-%d-%d-", user, host, port, os.Getpid())
		h.Write(r[:])
		name := hex.EncodeToString(h.Sum(nil))[:ctlNameLen]
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", &Error{Code: CodeMasterFailed, Op: "choose control path", Err: errors.New("unable to find an unused name in " + dir)}
}

// isSocket reports whether path is a Unix socket (or a symbolic link to
// one).
func isSocket(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode()&fs.ModeSocket != 0
}

// checkExternalSocket applies to the socket of an external master the
// checks our own control directory gets, so that a socket planted by
// someone else (who would then receive every command, and the stdio of
// the slave ssh processes) is not used: the socket, its symbolic links
// resolved, must be in a directory that passes [checkSecureDir], be owned
// by the effective user (or by root, when that is root) and not be
// writable by group or others.
func checkExternalSocket(path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return &Error{Code: CodeMasterFailed, Op: "use external master", Err: err}
	}
	if real, err = filepath.Abs(real); err != nil {
		return &Error{Code: CodeMasterFailed, Op: "use external master", Err: err}
	}
	if err := checkSecureDir(filepath.Dir(real)); err != nil {
		return err
	}
	st, err := os.Lstat(real)
	if err != nil {
		return &Error{Code: CodeMasterFailed, Op: "use external master", Err: err}
	}
	insecure := func(format string, a ...any) error {
		return &Error{Code: CodeMasterFailed, Op: "use external master", Err: ErrInsecureCtlSocket,
			Detail: fmt.Sprintf(format, a...) + " (see Options.AllowInsecureCtlDir)"}
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return insecure("cannot read the owner of %s", real)
	}
	if euid := uint32(os.Geteuid()); sys.Uid != euid {
		return insecure("%s is owned by uid %d, not by uid %d", real, sys.Uid, euid)
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return insecure("%s is writable by group or others (mode %04o)", real, perm)
	}
	return nil
}
