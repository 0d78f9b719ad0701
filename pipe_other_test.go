//go:build !linux

package openssh

import "time"

// pollQuiet is Linux's (pipe_linux.go), for TestBulkReader's pauses: no
// reader waits in poll(2) here.
const pollQuiet = 20 * time.Millisecond
