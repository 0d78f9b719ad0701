//go:build !linux

package sshtest

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// procTable reads the parent and command line of every live process
// (zombies left out) from ps, where there is no /proc.
func procTable() (parent map[int]int, cmdline map[int]string) {
	parent, cmdline = map[int]int{}, map[int]string{}
	out, err := exec.Command("ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "stat=", "-o", "args=").Output()
	if err != nil {
		return parent, cmdline
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || strings.HasPrefix(f[2], "Z") {
			continue
		}
		pid, err1 := strconv.Atoi(f[0])
		ppid, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			continue
		}
		parent[pid] = ppid
		cmdline[pid] = strings.Join(f[3:], " ")
	}
	return parent, cmdline
}

// OpenFDs returns the number of open file descriptors of this process,
// from /dev/fd (darwin and the BSDs have it; it lists the fd of the
// directory read itself, which every count includes alike).
func OpenFDs() int {
	e, _ := os.ReadDir("/dev/fd")
	return len(e)
}
