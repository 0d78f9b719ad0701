package openssh

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// watchHangup calls hangup when the pty whose terminal side is tty is hung
// up (its master side closed by the caller), unless done is closed first.
// It is how a session of the mux transport ends when the caller closes the
// pty of [Cmd.StartPty]: with TransportProcess the local ssh, whose
// controlling terminal the pty is, gets SIGHUP and exits; over the control
// socket nobody would notice, as the master only sees its reads of the
// terminal fail and the remote command would run on. tty is duplicated, so
// the caller may close its own descriptor.
func watchHangup(tty *os.File, done <-chan struct{}, hangup func()) error {
	dup, err := dupFile(tty)
	if err != nil {
		return err
	}
	go func() {
		defer dup.Close()
		fds := []unix.PollFd{{Fd: int32(dup.Fd())}} // no events: POLLHUP and POLLERR only
		for {
			select {
			case <-done:
				return
			default:
			}
			fds[0].Revents = 0
			n, err := unix.Poll(fds, 250)
			if err != nil && err != unix.EINTR {
				return
			}
			if n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				hangup()
				return
			}
			if n == 0 {
				continue
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return nil
}
