package openssh

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireFUSE skips a test when FUSE cannot be used here (no /dev/fuse or
// no sshfs), unless CI is set.
func requireFUSE(t *testing.T) {
	t.Helper()
	msg := ""
	if _, err := os.Stat("/dev/fuse"); err != nil {
		msg = "fuse: /dev/fuse is missing"
	}
	for _, p := range []string{"/usr/bin/sshfs", "/usr/bin/fusermount3"} {
		if _, err := os.Stat(p); err != nil && msg == "" {
			msg = "fuse: " + p + " is missing (apt-get install -y sshfs fuse3)"
		}
	}
	if msg == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func TestSSHFSImport(t *testing.T) {
	requireFUSE(t)
	checkNoLeaks(t)
	m, _ := newTestMaster(t, nil, nil)
	base := xferDir(t)
	remote := mkdirShared(t, filepath.Join(base, "remote dir"))
	writeFiles(t, remote, []string{"hello"}, 100)
	mnt := mkdirShared(t, filepath.Join(base, "mnt point"))
	fs, err := m.SSHFSImport(t.Context(), remote, mnt, nil)
	if err != nil {
		if strings.Contains(err.Error(), "fuse") && os.Getenv("CI") == "" {
			t.Skipf("fuse is not usable here: %v", err)
		}
		t.Fatalf("SSHFSImport: %v", err)
	}
	if fs.Mountpoint() != mnt || !isMounted(mnt) {
		t.Fatalf("not mounted at %q", mnt)
	}
	b, err := os.ReadFile(filepath.Join(mnt, "hello"))
	if err != nil || !bytes.Equal(b, content("hello", 100)) {
		t.Errorf("read through the mount: %v", err)
	}
	// Writes go to the remote directory, as the remote user.
	if err := os.WriteFile(filepath.Join(mnt, "new file"), []byte("written\n"), 0o644); err != nil {
		t.Fatalf("write through the mount: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(remote, "new file")); err != nil || string(b) != "written\n" {
		t.Errorf("written file on the remote side: %q, %v", b, err)
	}
	if err := fs.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if isMounted(mnt) {
		t.Error("still mounted after Close")
	}
	if err := fs.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// A missing mount point fails clearly and leaves
	// nothing behind.
	notDir := filepath.Join(base, "no such dir")
	_, err = m.SSHFSImport(t.Context(), remote, notDir, &SSHFSOpts{MountTimeout: 5 * time.Second})
	if !errors.Is(err, ErrSlaveFailed) {
		t.Errorf("missing mount point: %v, want ErrSlaveFailed", err)
	}
}

func TestSSHFSExport(t *testing.T) {
	requireFUSE(t)
	checkNoLeaks(t)
	m, _ := newTestMaster(t, nil, nil)
	base := xferDir(t)
	local := mkdirShared(t, filepath.Join(base, "local dir"))
	writeFiles(t, local, []string{"exported"}, 100)
	mnt := mkdirShared(t, filepath.Join(base, "remote mnt"))
	fs, err := m.SSHFSExport(t.Context(), local, mnt, nil)
	if err != nil {
		// The remote user is an unprivileged account: it needs a /dev/fuse
		// open to all (Debian's default; some containers make it 0600).
		if strings.Contains(err.Error(), "/dev/fuse") && os.Getenv("CI") == "" {
			t.Skipf("fuse is not usable by the remote user here: %v", err)
		}
		t.Fatalf("SSHFSExport: %v", err)
	}
	// The remote side is this machine: wait for the mount, then read it
	// remotely (as the remote user).
	deadline := time.Now().Add(10 * time.Second)
	for !isMounted(mnt) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !isMounted(mnt) {
		fs.Close()
		t.Fatal("the export never appeared")
	}
	var out bytes.Buffer
	err = m.ScpGet(t.Context(), []string{filepath.Join(mnt, "exported")}, filepath.Join(base, "copy"), &ScpOpts{Stderr: &out})
	if err != nil {
		t.Errorf("remote read of the export: %v", err)
	} else if b, _ := os.ReadFile(filepath.Join(base, "copy")); !bytes.Equal(b, content("exported", 100)) {
		t.Error("remote read of the export: contents differ")
	}
	if err := fs.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if isMounted(mnt) {
		t.Error("still mounted after Close")
	}
}
