package openssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ForwardKind says which side of a port forward listens.
type ForwardKind int

// The kinds of port forward, as ssh's -L, -R and -D options.
const (
	// LocalForward listens on this machine and connects from the remote
	// host (ssh -L).
	LocalForward ForwardKind = iota + 1
	// RemoteForward listens on the remote host and connects from this
	// machine (ssh -R).
	RemoteForward
	// DynamicForward listens on this machine and serves SOCKS4/SOCKS5,
	// connecting from the remote host wherever each client asks (ssh -D).
	DynamicForward
)

// String returns the ssh option of the kind: "-L", "-R" or "-D".
func (k ForwardKind) String() string {
	switch k {
	case LocalForward:
		return "-L"
	case RemoteForward:
		return "-R"
	case DynamicForward:
		return "-D"
	}
	return "ForwardKind(" + strconv.Itoa(int(k)) + ")"
}

// Addr is one end of a port forward or tunnel: a TCP host and port, or a
// Unix-domain socket path. Build one with [TCPAddr] or [UnixAddr]. Addr
// implements [net.Addr].
type Addr struct {
	// Net is "tcp" or "unix". When empty, it is "unix" if Path is set and
	// "tcp" otherwise.
	Net string
	// Host is a host name or IP address (IPv6 without brackets). On a
	// listening end it is the bind address: "" for ssh's default (the
	// loopback unless GatewayPorts says otherwise) or "*" for every
	// address.
	Host string
	// Port is the TCP port, 1-65535; 0 asks the server to pick one, and
	// is allowed only on the listening end of a [RemoteForward].
	Port int
	// Path is the socket path of a "unix" Addr. A relative path is
	// relative to the current directory on this machine, and to the
	// remote user's home directory (as sshd resolves it) on the remote
	// host.
	Path string
}

// TCPAddr returns the TCP address host:port.
func TCPAddr(host string, port int) Addr { return Addr{Net: "tcp", Host: host, Port: port} }

// UnixAddr returns the Unix-domain socket address path.
func UnixAddr(path string) Addr { return Addr{Net: "unix", Path: path} }

func (a Addr) network() string {
	if a.Net != "" {
		return a.Net
	}
	if a.Path != "" {
		return "unix"
	}
	return "tcp"
}

// Network returns "tcp" or "unix".
func (a Addr) Network() string { return a.network() }

// String returns "host:port" (IPv6 hosts in brackets) or the socket path.
func (a Addr) String() string {
	if a.network() == "unix" {
		return a.Path
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// ForwardSpec describes one port forward set up through the master with
// [Master.Forward] and removed with [Master.CancelForward].
type ForwardSpec struct {
	// Kind is LocalForward, RemoteForward or DynamicForward.
	Kind ForwardKind
	// Listen is the listening end: on this machine for LocalForward and
	// DynamicForward, on the remote host for RemoteForward.
	Listen Addr
	// Connect is where each accepted connection goes: reached from the
	// remote host for LocalForward, from this machine for RemoteForward.
	// It must be the zero Addr for DynamicForward. The zero Addr on a
	// RemoteForward makes a remote dynamic forward (ssh -R [bind:]port,
	// OpenSSH 7.6 or later on this machine): a SOCKS4/SOCKS5 server on the
	// remote host whose connections are made from this machine.
	Connect Addr
}

// isRemoteDynamic reports whether s is a remote dynamic (SOCKS) forward.
func (s ForwardSpec) isRemoteDynamic() bool {
	return s.Kind == RemoteForward && s.Connect == (Addr{})
}

// String returns the forward as ssh options, such as
// "-L 127.0.0.1:8080:intranet:80". It does not validate the spec.
func (s ForwardSpec) String() string {
	arg, err := s.arg()
	if err != nil {
		return s.Kind.String() + " (invalid: " + err.Error() + ")"
	}
	return s.Kind.String() + " " + arg
}

// arg validates the spec and returns ssh's argument for -L, -R or -D.
// Local paths are made absolute.
func (s ForwardSpec) arg() (string, error) {
	switch s.Kind {
	case LocalForward, DynamicForward, RemoteForward:
	default:
		return "", &ArgError{Arg: "ForwardSpec.Kind", Value: strconv.Itoa(int(s.Kind)), Reason: "not LocalForward, RemoteForward or DynamicForward"}
	}
	lf, err := forwardField("ForwardSpec.Listen", s.Listen, true, s.Kind == RemoteForward, s.Kind != RemoteForward)
	if err != nil {
		return "", err
	}
	if s.Kind == DynamicForward {
		if s.Connect != (Addr{}) {
			return "", &ArgError{Arg: "ForwardSpec.Connect", Value: fmt.Sprintf("%q", s.Connect.String()), Reason: "a dynamic forward has no connect address"}
		}
		return lf, nil
	}
	if s.isRemoteDynamic() {
		if s.Listen.network() != "tcp" {
			return "", &ArgError{Arg: "ForwardSpec.Listen", Value: fmt.Sprintf("%q", s.Listen.String()), Reason: "a remote dynamic (SOCKS) forward listens on TCP only"}
		}
		return lf, nil
	}
	cf, err := forwardField("ForwardSpec.Connect", s.Connect, false, false, s.Kind == RemoteForward)
	if err != nil {
		return "", err
	}
	return lf + ":" + cf, nil
}

// forwardField validates a and formats it as one field of a forward
// specification: "[host:]port" or an escaped socket path.
func forwardField(name string, a Addr, listen, zeroPortOK, localSide bool) (string, error) {
	switch a.network() {
	case "tcp":
		if a.Path != "" {
			return "", &ArgError{Arg: name + ".Path", Value: fmt.Sprintf("%q", a.Path), Reason: "a tcp address has no path"}
		}
		if err := checkPort(name+".Port", a.Port, zeroPortOK); err != nil {
			return "", err
		}
		port := strconv.Itoa(a.Port)
		if a.Host == "" {
			if !listen {
				return "", &ArgError{Arg: name + ".Host", Reason: "empty host"}
			}
			return port, nil
		}
		if listen && a.Host == "*" {
			return "*:" + port, nil
		}
		h, err := forwardHost(name+".Host", a.Host)
		if err != nil {
			return "", err
		}
		return h + ":" + port, nil
	case "unix":
		if a.Host != "" || a.Port != 0 {
			return "", &ArgError{Arg: name, Value: fmt.Sprintf("%q", a.Host+":"+strconv.Itoa(a.Port)), Reason: "a unix address has only a path"}
		}
		p, err := checkSocketPath(name+".Path", a.Path)
		if err != nil {
			return "", err
		}
		if localSide {
			if p, err = filepath.Abs(p); err != nil {
				return "", &ArgError{Arg: name + ".Path", Value: fmt.Sprintf("%q", a.Path), Reason: err.Error()}
			}
		}
		return escapeFwdPath(p), nil
	}
	return "", &ArgError{Arg: name + ".Net", Value: fmt.Sprintf("%q", a.Net), Reason: `not "tcp" or "unix"`}
}

// checkPort refuses ports outside 1-65535 (0 when zeroOK).
func checkPort(name string, port int, zeroOK bool) error {
	if port == 0 && zeroOK {
		return nil
	}
	if port < 1 || port > 65535 {
		reason := "a port is 1-65535"
		if port == 0 {
			reason = "port 0 (pick a free port) is allowed only where a RemoteForward listens"
		}
		return &ArgError{Arg: name, Value: strconv.Itoa(port), Reason: reason}
	}
	return nil
}

// forwardHost validates a host for ssh's forward and -W syntax and puts an
// IPv6 address in brackets.
func forwardHost(name, h string) (string, error) {
	bad := func(reason string) error {
		return &ArgError{Arg: name, Value: shortQuote(h), Reason: reason}
	}
	switch {
	case h == "":
		return "", bad("empty host")
	case strings.HasPrefix(h, "-"):
		return "", bad("a host cannot start with '-'")
	case strings.ContainsAny(h, "/[]\\@"):
		return "", bad("not a host name or IP address")
	}
	for _, r := range h {
		if r <= ' ' || r == 0x7f {
			return "", bad("whitespace or control character in host")
		}
	}
	if strings.Contains(h, ":") {
		ip := h
		if i := strings.IndexByte(ip, '%'); i >= 0 {
			ip = ip[:i] // zone
		}
		if net.ParseIP(ip) == nil {
			return "", bad("':' in a host that is not an IPv6 address")
		}
		return "[" + h + "]", nil
	}
	return h, nil
}

// checkSocketPath validates a Unix socket path and makes a relative one
// start with "./" (ssh takes a field as a path only when it has a '/').
func checkSocketPath(name, p string) (string, error) {
	if p == "" {
		return "", &ArgError{Arg: name, Reason: "empty socket path"}
	}
	for _, r := range p {
		if r == 0 || r == '\n' || r == '\r' {
			return "", &ArgError{Arg: name, Value: shortQuote(p), Reason: "NUL or newline in socket path"}
		}
	}
	if !strings.Contains(p, "/") {
		p = "./" + p
	}
	return p, nil
}

// escapeFwdPath escapes a socket path for ssh's forward syntax: a backslash
// makes the next character literal, so ':' does not end the field and a
// leading '[' does not start a bracketed one.
func escapeFwdPath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r == '\\' || r == ':' || r == '[' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Forward asks the master to set up a port forward ("ssh -O forward"). It
// returns the listening port: the one the server picked when
// spec.Listen.Port is 0 on a [RemoteForward], spec.Listen.Port for other
// TCP forwards, 0 for a Unix-socket listener.
//
// The forward lives as long as the master, until [Master.CancelForward]
// with the same spec; [Master.Restart] sets it up again on the new master.
// Asking twice for the same forward is not an error.
//
// A spec ssh cannot express (a port of 0 or 70000 where not allowed, a host
// with a space or a leading '-', a Unix end with a port) is refused with an
// [*ArgError] before anything runs. A forward the master or the server
// refuses (the port is in use, the server's AllowTcpForwarding or
// AllowStreamLocalForwarding forbids it) is an [*Error] matching
// [ErrForwardFailed]. Note that a server's refusal of a LocalForward or
// DynamicForward shows only when a connection through it is made: the
// listener is on this machine, so Forward succeeds and each accepted
// connection is closed at once.
func (m *Master) Forward(ctx context.Context, spec ForwardSpec) (int, error) {
	if _, err := spec.arg(); err != nil {
		return 0, err
	}
	if spec.isRemoteDynamic() {
		if v := localSSHVersion(); v.err == nil && !v.atLeast(7, 6, 0) {
			return 0, &Error{Code: CodeSlaveFailed, Op: "forward " + spec.String() + " via", Host: m.host, Err: ErrForwardFailed,
				Detail: "a remote dynamic forward needs OpenSSH 7.6 or later on this machine, not " + v.raw}
		}
	}
	if err := m.WaitForMaster(ctx); err != nil {
		return 0, err
	}
	port, err := m.be.forward(ctx, spec)
	if err != nil {
		return 0, err
	}
	m.fwds.add(spec, port)
	return port, nil
}

// CancelForward asks the master to remove a port forward ("ssh -O
// cancel"). spec must be the one given to [Master.Forward] (with port 0
// still 0 for an allocated remote port). Connections already made through
// the forward go on; new ones are refused. For a Unix-socket listener on
// this machine, the socket file (which ssh leaves behind) is removed.
//
// Cancelling a forward that does not exist is an [*Error] matching
// [ErrForwardFailed].
func (m *Master) CancelForward(ctx context.Context, spec ForwardSpec) error {
	if _, err := spec.arg(); err != nil {
		return err
	}
	if err := m.WaitForMaster(ctx); err != nil {
		return err
	}
	if err := m.be.cancelForward(ctx, spec); err != nil {
		return err
	}
	m.fwds.remove(spec)
	if spec.Kind != RemoteForward && spec.Listen.network() == "unix" {
		if p, err := filepath.Abs(spec.Listen.Path); err == nil && isSocket(p) {
			os.Remove(p)
		}
	}
	return nil
}

// forwardError turns the outcome of "-O forward" or "-O cancel" into an
// error, or nil. ssh's exit status is not enough: a failed cancel exits 0.
func (m *Master) forwardError(ctx context.Context, op string, spec ForwardSpec, out []byte, err error) error {
	text := string(out)
	failed := err != nil || strings.Contains(text, "request failed") ||
		strings.Contains(text, "forwarding specification") || strings.Contains(text, "forwarding failed")
	if !failed {
		return nil
	}
	detail := lastLine(out)
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n") {
		if strings.Contains(l, "request failed:") || strings.Contains(l, "specification") {
			detail = strings.TrimSpace(l)
			break
		}
	}
	if detail == "" && err != nil {
		detail = err.Error()
	}
	return m.forwardFailure(ctx, op, spec, detail)
}

// forwardFailure builds the error of a failed forward or cancel request,
// whichever transport made it.
func (m *Master) forwardFailure(ctx context.Context, op string, spec ForwardSpec, detail string) error {
	if ctx.Err() != nil {
		return &Error{Code: CodeSlaveTimeout, Op: op, Host: m.host, Err: ctx.Err()}
	}
	if aerr := m.alive(); aerr != nil {
		return aerr
	}
	if spec.Kind != RemoteForward && op == "forward" {
		// A local bind failure is explained only in the master's log.
		if l := m.masterLogLine("cannot listen", "Address already in use", "Permission denied"); l != "" {
			detail += " (master: " + l + ")"
		}
	}
	return &Error{Code: CodeSlaveFailed, Op: op + " " + spec.String() + " via", Host: m.host, Err: ErrForwardFailed, Detail: detail}
}

// masterLogLine returns the last line of the master's stderr that contains
// one of needles, or "". It is a best-effort explanation: with concurrent
// operations it may belong to another one.
func (m *Master) masterLogLine(needles ...string) string {
	return m.masterLogLineSince(-1, needles...)
}

// masterLog returns the master's stderr buffer, or nil.
func (m *Master) masterLog() *tailBuffer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.run == nil {
		return nil
	}
	return m.run.stderr
}

// masterLogMark returns the position of the master's stderr, for
// masterLogLineSince; -1 when there is no log.
func (m *Master) masterLogMark() int64 {
	if l := m.masterLog(); l != nil {
		return l.Mark()
	}
	return -1
}

// masterLogLineSince is masterLogLine over what the master wrote after
// mark (the whole log when mark is negative).
func (m *Master) masterLogLineSince(mark int64, needles ...string) string {
	l := m.masterLog()
	if l == nil {
		return ""
	}
	text := l.Bytes()
	if mark >= 0 {
		text = l.Since(mark)
	}
	lines := strings.Split(strings.ReplaceAll(string(text), "\r", ""), "\n")
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-50; i-- {
		for _, n := range needles {
			if strings.Contains(lines[i], n) {
				return strings.TrimSpace(lines[i])
			}
		}
	}
	return ""
}

// Listen sets up a remote forward whose near end is a Unix socket this
// library listens on, and returns it as a [net.Listener]: connections made
// on the remote host to address are accepted here (Net::SSH2's listen).
//
// network is "tcp" (also "tcp4", "tcp6") with address "host:port", where
// port 0 lets the server pick one and an empty host means the server's
// default bind address (the loopback unless its GatewayPorts says
// otherwise); or "unix" with a socket path on the remote host.
//
// The listener's Addr is the remote address, with the picked port. Close
// cancels the forward, closes the local listener and removes its socket
// and private directory; [Master.Close] closes every listener of the
// master. The local end of an accepted conn is the remote address; its
// remote end is the SSH connection (ssh does not pass on the address of the
// remote client to a Unix socket).
func (m *Master) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	var raddr Addr
	switch network {
	case "tcp", "tcp4", "tcp6":
		host, port, err := splitHostPort("address", address)
		if err != nil {
			return nil, err
		}
		raddr = TCPAddr(host, port)
	case "unix":
		raddr = UnixAddr(address)
	default:
		return nil, &ArgError{Arg: "network", Value: fmt.Sprintf("%q", network), Reason: `not "tcp" or "unix"`}
	}
	dir, err := os.MkdirTemp("", "osshl")
	if err != nil {
		return nil, &Error{Code: CodeSlavePipeFailed, Op: "listen", Host: m.host, Err: err}
	}
	sock := filepath.Join(dir, "s")
	spec := ForwardSpec{Kind: RemoteForward, Listen: raddr, Connect: UnixAddr(sock)}
	if _, err := spec.arg(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		return nil, &Error{Code: CodeSlavePipeFailed, Op: "listen", Host: m.host, Err: err}
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	port, err := m.Forward(ctx, spec)
	if err != nil {
		ln.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	addr := raddr
	if addr.network() == "tcp" {
		addr.Port = port
	}
	l := &remoteListener{m: m, ln: ln, spec: spec, dir: dir, addr: addr}
	m.listeners.add(l)
	m.fwds.watch(spec, l.setPort)
	return l, nil
}

// splitHostPort splits "host:port" with a numeric port 0-65535 (or a
// service name known to this machine).
func splitHostPort(name, address string) (string, int, error) {
	host, ps, err := net.SplitHostPort(address)
	if err != nil {
		return "", 0, &ArgError{Arg: name, Value: shortQuote(address), Reason: err.Error()}
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		if port, err = net.LookupPort("tcp", ps); err != nil {
			return "", 0, &ArgError{Arg: name, Value: shortQuote(address), Reason: "unknown port " + strconv.Quote(ps)}
		}
	}
	if port < 0 || port > 65535 {
		return "", 0, &ArgError{Arg: name, Value: shortQuote(address), Reason: "a port is 1-65535"}
	}
	return host, port, nil
}

// remoteListener is the net.Listener returned by Listen.
type remoteListener struct {
	m    *Master
	ln   net.Listener
	spec ForwardSpec
	dir  string

	addrMu sync.Mutex
	addr   Addr // the port changes when Restart sets the forward up again

	once sync.Once
	err  error
}

// acceptPoll is how often a waiting Accept checks that the master lives.
const acceptPoll = 250 * time.Millisecond

// Accept waits for the next connection made on the remote host. When the
// master dies (or is closed) it returns the master's error, matching
// [ErrMasterGone] (or [ErrClosed]): no connection can come any more.
func (l *remoteListener) Accept() (net.Conn, error) {
	ul, _ := l.ln.(*net.UnixListener)
	var c net.Conn
	for {
		if ul != nil {
			ul.SetDeadline(time.Now().Add(acceptPoll))
		}
		var err error
		c, err = l.ln.Accept()
		if err == nil {
			break
		}
		var ne net.Error
		if ul == nil || !errors.As(err, &ne) || !ne.Timeout() {
			if aerr := l.m.alive(); aerr != nil && (errors.Is(aerr, ErrMasterGone) || errors.Is(aerr, ErrClosed)) {
				return nil, aerr
			}
			return nil, err
		}
		if aerr := l.m.alive(); aerr != nil && (errors.Is(aerr, ErrMasterGone) || errors.Is(aerr, ErrClosed)) {
			return nil, aerr
		}
	}
	return &tunnelConn{
		UnixConn: c.(*net.UnixConn),
		local:    &TunnelAddr{Net: "ssh-" + l.Addr().Network(), Address: l.Addr().String()},
		remote:   &TunnelAddr{Net: "ssh", Address: l.m.destination()},
	}, nil
}

// Close cancels the remote forward, closes the listener and removes its
// socket. Connections already accepted stay open.
func (l *remoteListener) Close() error {
	l.once.Do(func() {
		l.m.listeners.remove(l)
		if l.m.Err() == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			l.err = l.m.CancelForward(ctx, l.spec)
			cancel()
			if errors.Is(l.err, ErrClosed) || errors.Is(l.err, ErrMasterGone) {
				// The forward went with the master.
				l.err = nil
			}
		}
		l.ln.Close()
		os.RemoveAll(l.dir)
	})
	return l.err
}

// Addr returns the address listened on on the remote host, an [Addr].
// After [Master.Restart], a port picked by the server may have changed.
func (l *remoteListener) Addr() net.Addr {
	l.addrMu.Lock()
	defer l.addrMu.Unlock()
	return l.addr
}

// setPort records the port of a TCP listener set up again by Restart.
func (l *remoteListener) setPort(port int) {
	l.addrMu.Lock()
	defer l.addrMu.Unlock()
	if l.addr.network() == "tcp" {
		l.addr.Port = port
	}
}

// listenerSet holds the open listeners of a Master, closed by Close.
type listenerSet struct {
	mu  sync.Mutex
	set map[*remoteListener]struct{}
}

func (s *listenerSet) add(l *remoteListener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = make(map[*remoteListener]struct{})
	}
	s.set[l] = struct{}{}
}

func (s *listenerSet) remove(l *remoteListener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.set, l)
}

// closeAll closes every listener still open.
func (s *listenerSet) closeAll() {
	s.mu.Lock()
	ls := make([]*remoteListener, 0, len(s.set))
	for l := range s.set {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
}
