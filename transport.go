package openssh

import "strconv"

// Transport says how a [Master] runs operations on its connection.
type Transport int

const (
	// TransportProcess runs one slave ssh process per operation ("ssh -S
	// ctl ... -- host cmd", "ssh -W", "ssh -O forward"). It is the default:
	// every ssh feature works with it, per-call ssh options included. The
	// requests that concern the master itself ([Master.Check],
	// [Master.Stop] and the exit request of [Master.Close]) go over a
	// control connection the Master keeps open, on both transports: they
	// need no process, and an "ssh -O check" that loses its output under
	// heavy load cannot make a live master look dead.
	TransportProcess Transport = iota
	// TransportMux speaks OpenSSH's control-socket protocol (PROTOCOL.mux,
	// version 4) directly: commands, [Master.SFTP], [Master.Check],
	// [Master.Stop], [Master.Close], [Master.DialContext] and port forwards
	// need no process of their own, which makes a short command several
	// times faster. What runs a program of its own (scp, rsync, sshfs)
	// still starts one,
	// and so does a [Cmd] with ssh options of its own (Cmd.SSHOpts, or
	// Options.DefaultSSHOpts), which the protocol cannot carry. Behaviour,
	// errors and exit codes are those of TransportProcess, except that
	// [Cmd.Process] and [Cmd.ProcessState] stay nil.
	TransportMux
)

// String returns "process" or "mux".
func (t Transport) String() string {
	switch t {
	case TransportProcess:
		return "process"
	case TransportMux:
		return "mux"
	}
	return "Transport(" + strconv.Itoa(int(t)) + ")"
}
