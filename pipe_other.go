//go:build !linux

package openssh

import (
	"errors"
	"os"
)

// growPipe does nothing: only Linux can resize a pipe.
func growPipe(*os.File) bool { return false }

// releasePipe is never called where growPipe never grows.
func releasePipe() {}

// writeBuffers writes bufs to f, one Write each.
func writeBuffers(f *os.File, bufs [][]byte) error {
	for _, b := range bufs {
		if _, err := f.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// uploadPipe returns the two ends of what carries a fast SFTP upload to
// the master: a pipe. (Linux uses a socket; elsewhere a Unix socket's
// default send buffer can be as small as 8 KiB, as on macOS.)
func uploadPipe() (r, w *os.File, err error) { return os.Pipe() }

// spliceOK says that spliceTo works here: it does not.
const spliceOK = false

// spliceTo is never called where spliceOK is false.
func spliceTo(f, p *os.File, off, n int64, poll bool) (int64, error) {
	return 0, errors.ErrUnsupported
}

// takePoller reports false: transfers wait in the netpoller here (waiting
// in poll(2) was measured on Linux only).
func takePoller() bool { return false }

// releasePoller is never called where takePoller reports false.
func releasePoller() {}

// maxPollers is 0: no reader waits in poll(2) here.
const maxPollers = 0

// pollersInUse is 0: no slots here.
func pollersInUse() int { return 0 }

// pollRead reads p into b.
func pollRead(p *os.File, b []byte, poll bool) (int, error) { return p.Read(b) }

// sendfileOK says that sendFile works here: it does not (the upload goes
// through a pipe, see uploadPipe).
const sendfileOK = false

// sendFile is never called where sendfileOK is false.
func sendFile(s, f *os.File, off, n int64) (int64, error) { return 0, errors.ErrUnsupported }
