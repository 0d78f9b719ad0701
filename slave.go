package openssh

import (
	"strconv"
	"strings"
)

// slaveSpec describes one slave ssh process: everything that varies between
// a command, a tunnel, a subsystem and a control command.
type slaveSpec struct {
	sshOpts      []string // per-call options, placed first
	tty          int      // 0: -T (no tty), 1: -t, 2: -tt (force)
	forwardAgent bool     // -A
	forwardX11   bool     // -X instead of -x
	subsystem    bool     // -s: the command is a subsystem name
	control      string   // -O <control> (check, exit, stop, forward, cancel)
	tunnel       string   // -W <tunnel>
	command      string   // the one remote command line
	hasCommand   bool     // command is present (even when empty)
	noHarden     bool     // leave out ControlMaster=no/ProxyCommand=false (control commands keep them)
}

// baseArgv returns the ssh program with the arguments from SSHPath and the
// config file option, shared by masters and slaves.
func (m *Master) baseArgv() []string {
	argv := append([]string(nil), m.sshArgv...)
	if m.opts.ConfigFile != "" {
		argv = append(argv, "-F", m.opts.ConfigFile)
	}
	return argv
}

// targetArgs returns the -l/-p options, the "--" that ends ssh's options, and
// the host: the tail of every master and slave command line.
func (m *Master) targetArgs() []string {
	var a []string
	if m.user != "" {
		a = append(a, "-l", m.user)
	}
	if m.port != 0 {
		a = append(a, "-p", strconv.Itoa(m.port))
	}
	return append(a, "--", m.host)
}

// slaveArgv builds the command line of a slave ssh process:
//
//	ssh [SSHPath args] [-F cfg] <per-call opts> <flag cluster> [-O ctl] [-W t]
//	    -S <ctl> -o ControlMaster=no -o ProxyCommand=false [-l u] [-p p] -- host [cmd]
//
// ControlMaster=no and ProxyCommand=false make a slave whose control socket is
// missing or refuses it fail with status 255 instead of silently logging in
// again over a new connection (what plain "ssh -S" does).
func (m *Master) slaveArgv(s slaveSpec) []string {
	argv := m.baseArgv()
	argv = append(argv, s.sshOpts...)
	flags := "-"
	switch {
	case s.control != "" || s.tunnel != "":
		// no tty flags: -O and -W imply no session tty
	case s.tty >= 2:
		flags += "tt"
	case s.tty == 1:
		flags += "t"
	default:
		flags += "T"
	}
	if s.forwardAgent {
		flags += "A"
	}
	if s.forwardX11 {
		flags += "X"
	} else {
		flags += "x"
	}
	if s.subsystem {
		flags += "s"
	}
	argv = append(argv, flags)
	if s.control != "" {
		argv = append(argv, "-O", s.control)
	}
	if s.tunnel != "" {
		argv = append(argv, "-W", s.tunnel)
	}
	argv = append(argv, "-S", m.ctlPath)
	if !s.noHarden {
		argv = append(argv, "-o", "ControlMaster=no", "-o", "ProxyCommand=false")
	}
	argv = append(argv, m.targetArgs()...)
	if s.hasCommand {
		argv = append(argv, s.command)
	}
	return argv
}

// masterArgv builds the command line of the master:
//
//	ssh [SSHPath args] [-F cfg] <MasterOpts> -o ControlPersist=no
//	    -o ServerAliveInterval=N -MN[A][X|x] <authArgs: auth, host key and
//	    connection options> [-o ProxyCommand=...]
//	    -S <ctl> [-l u] [-p p] -- host
//
// The caller's MasterOpts come first: ssh keeps the first value it sees for
// an option, so they win over the library's defaults.
func (m *Master) masterArgv() []string {
	argv := m.baseArgv()
	argv = append(argv, m.opts.MasterOpts...)
	alive := strconv.Itoa(serverAliveInterval(m.opts.Timeout.Seconds()))
	if m.opts.ServerAliveInterval > 0 {
		alive = seconds(m.opts.ServerAliveInterval) // Options.ServerAliveInterval wins
	}
	argv = append(argv,
		"-o", "ControlPersist=no",
		"-o", "ServerAliveInterval="+alive,
	)
	flags := "-MN"
	if m.opts.ForwardAgent {
		flags += "A"
	}
	if m.opts.ForwardX11 {
		flags += "X"
	} else {
		flags += "x"
	}
	argv = append(argv, flags)
	argv = append(argv, m.authArgs()...)
	if m.opts.ProxyCommand != "" {
		argv = append(argv, "-o", "ProxyCommand="+m.opts.ProxyCommand)
	}
	argv = append(argv, "-S", m.ctlPath)
	return append(argv, m.targetArgs()...)
}

// serverAliveInterval is Net::OpenSSH's int((timeout+2)/3), 30 s when no
// timeout is set, never below 1.
func serverAliveInterval(timeoutSec float64) int {
	if timeoutSec <= 0 {
		return 30
	}
	n := int((timeoutSec + 2) / 3)
	if n < 1 {
		n = 1
	}
	return n
}

// checkArgs refuses arguments that cannot be passed to a process: a NUL byte
// would be cut silently by execve.
func checkArgs(what string, args []string) error {
	for i, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return &ArgError{Arg: what + "[" + strconv.Itoa(i) + "]", Value: shortQuote(a), Reason: "NUL byte in argument", Err: ErrEncoding}
		}
	}
	return nil
}

// shortQuote quotes s for an error message, shortened.
func shortQuote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(s)
}
