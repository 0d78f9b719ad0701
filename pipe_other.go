//go:build !linux

package openssh

import "os"

// growPipe does nothing: only Linux can resize a pipe.
func growPipe(*os.File) bool { return false }

// releasePipe is never called where growPipe never grows.
func releasePipe() {}
