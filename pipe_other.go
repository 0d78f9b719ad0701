//go:build !linux

package openssh

import "os"

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
