package mux

import (
	"errors"
	"fmt"
)

// Sentinel errors. Match them with [errors.Is].
var (
	// ErrInvalid reports a request that cannot be encoded: a NUL byte in a
	// string, a port out of range, a missing field, a message over
	// [MaxMessage]. Nothing is sent.
	ErrInvalid = errors.New("mux: invalid request")
	// ErrProtocol reports a master that does not speak protocol version 4
	// correctly: a wrong version, a malformed or unexpected reply, a
	// mismatched request or session id.
	ErrProtocol = errors.New("mux: protocol error")
	// ErrRequestFailed reports a MUX_S_FAILURE reply; see [ReplyError].
	ErrRequestFailed = errors.New("mux: request failed")
	// ErrPermissionDenied reports a MUX_S_PERMISSION_DENIED reply (a master
	// with ControlMaster=ask whose user said no); see [ReplyError].
	ErrPermissionDenied = errors.New("mux: permission denied")
	// ErrSessionRefused reports a new session or stdio forward that the
	// master answered with MUX_S_FAILURE (for example "Session open refused
	// by peer" when the server's MaxSessions is reached) or with
	// MUX_S_PERMISSION_DENIED.
	ErrSessionRefused = errors.New("mux: session refused")
	// ErrNoExitMessage reports a session whose control connection closed
	// without a MUX_S_EXIT_MESSAGE while the master is still alive. mux.c
	// relays only the SSH "exit-status" request, so this is what a remote
	// process killed by a signal gives.
	ErrNoExitMessage = errors.New("mux: session ended without an exit message")
	// ErrMasterGone reports a master that cannot be reached or that closed
	// the control connection unexpectedly (it exited or was killed).
	ErrMasterGone = errors.New("mux: master is gone")
	// ErrConnClosed reports the use of a [Conn] that was closed (by
	// [Conn.Close], [Session.Close], or after [Conn.Terminate]).
	ErrConnClosed = errors.New("mux: connection closed")
	// ErrConnBusy reports a request on a [Conn] that carries a session or a
	// stdio forward; mux.c allows nothing else on such a connection.
	ErrConnBusy = errors.New("mux: connection carries a session")
)

// ReplyError is a MUX_S_FAILURE or MUX_S_PERMISSION_DENIED reply from the
// master. It matches [ErrPermissionDenied] or [ErrRequestFailed], and also
// [ErrSessionRefused] when it answers a new session or stdio forward.
type ReplyError struct {
	// Op is the request: "new session", "stdio forward", "open forward",
	// "close forward", "alive check", "stop listening" or "terminate".
	Op string
	// Denied is true for MUX_S_PERMISSION_DENIED, false for MUX_S_FAILURE.
	Denied bool
	// Reason is the master's text, e.g. "Session open refused by peer".
	Reason string
}

// Error returns "mux: <op>: <failure kind>: <reason>".
func (e *ReplyError) Error() string {
	kind := "failed"
	if e.Denied {
		kind = "permission denied"
	}
	return fmt.Sprintf("mux: %s: %s: %s", e.Op, kind, e.Reason)
}

// Is matches [ErrPermissionDenied] or [ErrRequestFailed], and
// [ErrSessionRefused] for session and stdio-forward requests.
func (e *ReplyError) Is(target error) bool {
	switch target {
	case ErrPermissionDenied:
		return e.Denied
	case ErrRequestFailed:
		return !e.Denied
	case ErrSessionRefused:
		return e.Op == opNewSession || e.Op == opStdioFwd
	}
	return false
}

const (
	opHello      = "hello"
	opNewSession = "new session"
	opStdioFwd   = "stdio forward"
	opOpenFwd    = "open forward"
	opCloseFwd   = "close forward"
	opAlive      = "alive check"
	opStop       = "stop listening"
	opTerminate  = "terminate"
)
