package sshtest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// procTable reads the parent and command line of every live process
// (zombies left out) from /proc.
func procTable() (parent map[int]int, cmdline map[int]string) {
	parent, cmdline = map[int]int{}, map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parent[pid] = ppid
		cl, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		cmdline[pid] = string(bytes.ReplaceAll(cl, []byte{0}, []byte{' '}))
	}
	return parent, cmdline
}

// OpenFDs returns the number of open file descriptors of this process.
func OpenFDs() int {
	e, _ := os.ReadDir("/proc/self/fd")
	return len(e)
}
