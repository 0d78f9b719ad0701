package openssh

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// HostKeyPolicy says what the master does with the server's host key (ssh's
// StrictHostKeyChecking). Whatever the policy, a key that differs from the
// one recorded fails the login with [ErrHostKeyChanged].
type HostKeyPolicy int

const (
	// HostKeyStrict, the default, accepts only a host key already in the
	// known-hosts files: an unknown key fails with [ErrHostKeyUnknown]
	// (StrictHostKeyChecking=yes).
	HostKeyStrict HostKeyPolicy = iota
	// HostKeyAcceptNew records the key of a host seen for the first time in
	// the known-hosts file and connects (trust on first use); a changed key
	// still fails (StrictHostKeyChecking=accept-new).
	HostKeyAcceptNew
	// HostKeyOff checks nothing (StrictHostKeyChecking=no). Unless
	// Options.KnownHostsFile is set, no known-hosts file is read or written
	// (both are /dev/null). With KnownHostsFile, ssh records there the key
	// of a host seen for the first time and connects to a host whose key
	// changed too (then, as ssh does, with password authentication and
	// agent and X11 forwarding turned off). Use it only for throw-away
	// hosts: it gives no protection against a man in the middle.
	HostKeyOff
)

// String returns the policy's name.
func (p HostKeyPolicy) String() string {
	switch p {
	case HostKeyStrict:
		return "strict"
	case HostKeyAcceptNew:
		return "accept-new"
	case HostKeyOff:
		return "off"
	}
	return "HostKeyPolicy(" + strconv.Itoa(int(p)) + ")"
}

// validateHostKey checks the host key options.
func (m *Master) validateHostKey() error {
	switch m.opts.HostKeyPolicy {
	case HostKeyStrict, HostKeyAcceptNew, HostKeyOff:
		return nil
	}
	return &ArgError{Arg: "Options.HostKeyPolicy", Value: strconv.Itoa(int(m.opts.HostKeyPolicy)), Reason: "unknown policy"}
}

// hostKeyArgs returns the master's host key options.
func (m *Master) hostKeyArgs() []string {
	o := &m.opts
	var a []string
	switch o.HostKeyPolicy {
	case HostKeyStrict:
		a = append(a, "-o", "StrictHostKeyChecking=yes")
	case HostKeyAcceptNew:
		a = append(a, "-o", "StrictHostKeyChecking=accept-new")
	case HostKeyOff:
		a = append(a, "-o", "StrictHostKeyChecking=no")
		if o.KnownHostsFile == "" {
			a = append(a, "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null")
		}
	}
	if o.KnownHostsFile != "" {
		a = append(a, "-o", "UserKnownHostsFile="+quotePathArg(o.KnownHostsFile))
	}
	return a
}

// knownHostsName is the name under which ssh records host:port: the bare
// host for port 22 (or 0, ssh's default), "[host]:port" otherwise.
func knownHostsName(host string, port int) string {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if port == 0 || port == 22 {
		return host
	}
	return "[" + host + "]:" + strconv.Itoa(port)
}

func checkHostKeyArgs(op, file, host string, port int) error {
	if file == "" {
		return &ArgError{Arg: "file", Reason: "a known-hosts file is needed"}
	}
	if err := checkArgs(op, []string{file, host}); err != nil {
		return err
	}
	if host == "" || strings.HasPrefix(host, "-") || strings.ContainsAny(host, " \t\r\n") {
		return &ArgError{Arg: "host", Value: shortQuote(host), Reason: "not a host name"}
	}
	if port < 0 || port > 65535 {
		return &ArgError{Arg: "port", Value: strconv.Itoa(port), Reason: "a port is 1-65535 (0: 22)"}
	}
	return nil
}

// runTool runs a helper program (ssh-keygen, ssh-keyscan) and returns its
// stdout; its stderr goes into the error.
func runTool(ctx context.Context, op string, argv ...string) ([]byte, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := runChild(ctx, cmd); err != nil {
		return stdout.Bytes(), &Error{Code: CodeSlaveFailed, Op: op, Err: err, Detail: lastLine(stderr.Bytes())}
	}
	return stdout.Bytes(), nil
}

// LookupHostKey returns the lines of the known-hosts file that match host
// and port (0 means 22), as "ssh-keygen -F" finds them, hashed entries
// included. It returns no lines and no error when the host is not known.
func LookupHostKey(ctx context.Context, file, host string, port int) ([]string, error) {
	if err := checkHostKeyArgs("LookupHostKey", file, host, port); err != nil {
		return nil, err
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	out, err := runTool(ctx, "lookup host key", "ssh-keygen", "-F", knownHostsName(host, port), "-f", file)
	if err != nil {
		var ee *exec.ExitError
		if e := (*Error)(nil); errors.As(err, &e) && errors.As(e.Err, &ee) && ee.ExitCode() == 1 && e.Detail == "" {
			return nil, nil // not found
		}
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// RemoveHostKey removes every key of host and port (0 means 22) from the
// known-hosts file with "ssh-keygen -R" (which keeps a copy in file.old).
// Removing a host that is not there is not an error.
func RemoveHostKey(ctx context.Context, file, host string, port int) error {
	if err := checkHostKeyArgs("RemoveHostKey", file, host, port); err != nil {
		return err
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	_, err := runTool(ctx, "remove host key", "ssh-keygen", "-R", knownHostsName(host, port), "-f", file)
	return err
}

// ScanHostKeys fetches the host keys that the server at host and port (0
// means 22) offers, with "ssh-keyscan", as known-hosts lines. Keys fetched
// this way are not authenticated: compare them with a fingerprint obtained
// out of band before trusting them.
func ScanHostKeys(ctx context.Context, host string, port int) ([]string, error) {
	if err := checkHostKeyArgs("ScanHostKeys", "-", host, port); err != nil {
		return nil, err
	}
	if port == 0 {
		port = 22
	}
	out, err := runTool(ctx, "scan host keys", "ssh-keyscan", "-p", strconv.Itoa(port), "-T", "10", "--", host)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil, &Error{Code: CodeSlaveFailed, Op: "scan host keys", Host: host, Err: ErrHostKeyUnknown, Detail: "the server offered no host key"}
	}
	return lines, nil
}

// AddHostKey fetches the host keys of host and port with [ScanHostKeys] and
// appends them to the known-hosts file (created 0600 if missing). It returns
// the lines added. Like [HostKeyAcceptNew], this trusts whatever answers
// now; it refuses (with [ErrHostKeyChanged]) a host already in the file,
// which must be removed first with [RemoveHostKey].
func AddHostKey(ctx context.Context, file, host string, port int) ([]string, error) {
	if err := checkHostKeyArgs("AddHostKey", file, host, port); err != nil {
		return nil, err
	}
	have, err := LookupHostKey(ctx, file, host, port)
	if err != nil {
		return nil, err
	}
	if len(have) > 0 {
		return nil, &Error{Code: CodeSlaveFailed, Op: "add host key", Host: host, Err: ErrHostKeyChanged,
			Detail: "the host is already in " + file + "; remove it first"}
	}
	lines, err := ScanHostKeys(ctx, host, port)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, &Error{Code: CodeSlaveFailed, Op: "add host key", Host: host, Err: err}
	}
	var b strings.Builder
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		// Make sure we start on a new line.
		if last := lastByte(file, st.Size()); last != '\n' {
			b.WriteByte('\n')
		}
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	_, werr := f.WriteString(b.String())
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, &Error{Code: CodeSlaveFailed, Op: "add host key", Host: host, Err: werr}
	}
	return lines, nil
}

func lastByte(file string, size int64) byte {
	f, err := os.Open(file)
	if err != nil {
		return '\n'
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil {
		return '\n'
	}
	return b[0]
}
