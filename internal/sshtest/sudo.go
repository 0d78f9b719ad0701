package sshtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"sync"
)

// SudoUser is the account of the sudo tests: it may run anything through
// sudo with its password, which sudo asks for every time.
const SudoUser = "goopensshsudo"

// sudoPasswordFile holds the sudo account's password, readable by root
// only. It is made once per machine (by scripts/deps.sh or the first test
// that needs it), so that concurrent test processes agree, and the
// password is in no file of the repository.
const sudoPasswordFile = "/etc/goopenssh-test/sudo-password"

var (
	sudoOnce sync.Once
	sudoPW   string
	sudoErr  error
)

// SudoAccount sets up the sudo test account (root only): the account,
// its password and a sudoers rule (ALL, password every time). It returns
// the account and its password. The test is skipped (failed, under CI)
// when not root or when sudo is not installed. Start a server
// with Config{User: SudoUser} to log in as it.
func SudoAccount(t TB) (name, password string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and the sudo test account needs root")
		}
		t.Skip("the sudo test account needs root")
	}
	if _, err := exec.LookPath("sudo"); err != nil {
		msg := "sudo is not installed (apt-get install -y sudo)"
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and %s", msg)
		}
		t.Skip(msg)
	}
	sudoOnce.Do(func() { sudoPW, sudoErr = setupSudo() })
	if sudoErr != nil {
		t.Fatal(sudoErr)
	}
	return SudoUser, sudoPW
}

func setupSudo() (string, error) {
	if _, err := user.Lookup(SudoUser); err != nil {
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", SudoUser).CombinedOutput(); err != nil {
			return "", fmt.Errorf("useradd %s: %v: %s", SudoUser, err, out)
		}
	}
	if err := os.MkdirAll("/etc/goopenssh-test", 0o700); err != nil {
		return "", err
	}
	b := make([]byte, 12)
	rand.Read(b)
	fresh := hex.EncodeToString(b)
	f, err := os.OpenFile(sudoPasswordFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		_, err = f.WriteString(fresh + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	case !errors.Is(err, fs.ErrExist):
		return "", err
	}
	raw, err := os.ReadFile(sudoPasswordFile)
	if err != nil {
		return "", err
	}
	pw := strings.TrimSpace(string(raw))
	if pw == "" {
		return "", fmt.Errorf("%s is empty", sudoPasswordFile)
	}
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(SudoUser + ":" + pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("chpasswd: %v: %s", err, out)
	}
	if err := os.MkdirAll("/etc/sudoers.d", 0o755); err != nil {
		return "", err
	}
	rule := SudoUser + " ALL=(ALL:ALL) ALL\nDefaults:" + SudoUser + " timestamp_timeout=0, !lecture, passwd_tries=3\n"
	tmp := "/etc/sudoers.d/." + SudoUser
	if err := os.WriteFile(tmp, []byte(rule), 0o440); err != nil {
		return "", err
	}
	if out, err := exec.Command("visudo", "-cf", tmp).CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("visudo -cf: %v: %s", err, out)
	}
	return pw, os.Rename(tmp, "/etc/sudoers.d/"+SudoUser)
}
