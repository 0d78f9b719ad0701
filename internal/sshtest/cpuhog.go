package sshtest

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// CPUHog loads the machine as other programs would: it starts one busy
// process per core (a shell spinning in "while :; do :; done"), so that ssh,
// sshd and the test binary all compete for CPU time. The processes run until
// stop is called or the test ends, whichever comes first; stop kills and
// reaps them and may be called more than once.
func CPUHog(t TB) (stop func()) {
	t.Helper()
	var procs []*exec.Cmd
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for _, c := range procs {
				// Each hog leads its own process group.
				syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			}
			for _, c := range procs {
				c.Wait()
			}
		})
	}
	t.Cleanup(stop)
	for range runtime.NumCPU() {
		c := exec.Command("/bin/sh", "-c", "while :; do :; done")
		c.SysProcAttr = childAttr()
		if err := c.Start(); err != nil {
			stop()
			t.Fatalf("sshtest: cannot start a CPU hog: %v", err)
		}
		procs = append(procs, c)
	}
	// Let the hogs take the cores before the test measures anything.
	time.Sleep(50 * time.Millisecond)
	return stop
}
