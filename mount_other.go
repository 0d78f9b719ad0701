//go:build !linux

package openssh

import (
	"os"
	"path/filepath"
	"syscall"
)

// isMounted reports whether path is a mount point: it sits on another
// device than its parent directory (there is no /proc/self/mountinfo).
func isMounted(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	pst, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return false
	}
	a, ok1 := st.Sys().(*syscall.Stat_t)
	b, ok2 := pst.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && a.Dev != b.Dev
}
