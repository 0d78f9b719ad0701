//go:build !linux

package openssh

// socketWatch is the inotify watch of Linux; elsewhere the master's
// control socket is found by polling alone.
type socketWatch struct{}

// setPollOnly does nothing: here polling is all there is.
func setPollOnly(bool) {}

// watchSocket returns nil: the caller polls.
func watchSocket(string) *socketWatch { return nil }

// events returns nil, a channel that is never ready.
func (*socketWatch) events() <-chan struct{} { return nil }

// close does nothing.
func (*socketWatch) close() {}
