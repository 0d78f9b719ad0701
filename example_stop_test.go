package openssh_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"syscall"
	"time"

	"github.com/goopenssh/openssh"
)

// Giving up on a command stops it on the remote host too, as
// exec.CommandContext kills a local process: when ctx's deadline passes,
// the remote process group gets SIGTERM, then SIGKILL after StopGrace.
func ExampleCmd_stop() {
	m := connect()
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c := m.Command(ctx, "make -C /srv/build all")
	c.StopGrace = 5 * time.Second // time for make to clean up
	err := c.Run()
	if errors.Is(err, openssh.ErrTimeout) {
		fmt.Println("the build took too long and was stopped on the server")
	}
}

// Signal reaches the remote command's process group: here a daemon that
// reloads its configuration on SIGHUP.
func ExampleCmd_Signal() {
	m := connect()
	defer m.Close()

	c := m.Command(context.Background(), "exec /usr/local/bin/mydaemon --foreground")
	if err := c.Start(); err != nil {
		log.Fatal(err)
	}
	time.Sleep(time.Minute)
	if err := c.Signal(syscall.SIGHUP); err != nil {
		log.Fatal(err)
	}
	// Stop it: TERM, which the POSIX wrapper reports in ExitError.Signal.
	if err := c.Signal(syscall.SIGTERM); err != nil {
		log.Fatal(err)
	}
	var ee *openssh.ExitError
	if err := c.Wait(); errors.As(err, &ee) && ee.Signal != "" {
		fmt.Println("stopped by", ee.Signal)
	}
}
