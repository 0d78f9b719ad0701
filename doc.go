// Package openssh drives the real OpenSSH ssh program through ControlMaster
// multiplexing: one authenticated master connection per host, and every
// operation a slave session that reuses it. It is a Go port of Perl's
// Net::OpenSSH.
//
// Because it runs the system's ssh, everything in the user's ~/.ssh/config
// works: ProxyJump, agents, certificates, FIDO keys, GSSAPI, known_hosts
// with several keys per host.
//
// # The life of a Master
//
// [New] parses the target ("user@host:port", see [ParseTarget]), validates
// every option, chooses a control socket in a private directory (see
// [Options.CtlDir]) and starts
//
//	ssh <MasterOpts> -o ControlPersist=no -o ServerAliveInterval=N -MNx ... -S <ctl> [-l user] [-p port] -- host
//
// in its own session (no controlling terminal) and, on Linux, with a parent
// death signal, so it never outlives a crashed program. It then waits for the
// socket, bounded by its context and [Options.Timeout], fails fast when ssh
// exits, and turns ssh's diagnostics into typed errors ([ErrHostKeyUnknown],
// [ErrAuth], [ErrConnRefused], ...). Finally the master must report its pid
// to an alive check (the request of "ssh -O check", sent over a control
// connection the Master keeps open for its own requests).
//
// Every slave runs
//
//	ssh ... -S <ctl> -o ControlMaster=no -o ProxyCommand=false [-l user] [-p port] -- host '<command>'
//
// The two options make a slave whose socket is missing or stale fail with
// status 255 instead of silently logging in again over a new connection, a
// documented trap of plain "ssh -S".
//
// [Master.Close] sends the exit request ("ssh -O exit"), waits about 2 s,
// then sends SIGTERM and, 3 s later, SIGKILL to the master's process group,
// reaps the master and removes the socket. It never signals a master it does not own (see
// [Options.ExternalMaster] and [Master.Disown]).
//
// # Errors
//
// Failures are [*Error] values with a [Code] mirroring Net::OpenSSH's
// OSSH_* constants; match them with [errors.Is] against [ErrMasterFailed],
// [ErrCmdFailed], ... and against the finer causes such as [ErrAuth]. A
// master failure is sticky until [Master.Restart]. Bad input is an
// [*ArgError] returned before any process starts. Messages start with
// "openssh: ".
//
// # Beyond commands
//
// A [Pool] shares masters between goroutines (Net::OpenSSH's connection
// cache); [Master.FS] is an [io/fs.FS] over SFTP, and [Master.ReadFile]
// and [Master.WriteFile] stream files; [Master.Info] reports what the
// connection negotiated and the server's host key; [Master.Sudo] runs a
// command through sudo without exposing the password; [Options.Encoding]
// converts arguments and streams for hosts that do not speak UTF-8.
//
// The README maps every Net::OpenSSH method and option to its Go
// equivalent.
package openssh
