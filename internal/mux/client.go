package mux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is one connection to a master's control socket, after the hello
// exchange. Requests on a Conn are serialised: mux.c stops reading a control
// connection until it has answered the current request, so nothing is
// pipelined. A Conn is safe for concurrent use.
type Conn struct {
	path string
	uc   *net.UnixConn

	mu     sync.Mutex // held for a whole request/reply exchange
	nextID uint32
	busy   bool // a session or stdio forward owns the connection
	exts   []extension

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Dial connects to the control socket at path and exchanges hellos
// (protocol version 4). The context bounds the connection and the hello.
// A socket that does not exist or refuses connections (a stale socket of a
// dead master) gives an error matching [ErrMasterGone].
func Dial(ctx context.Context, path string) (*Conn, error) {
	if path == "" || strings.IndexByte(path, 0) >= 0 {
		return nil, fmt.Errorf("%w: bad control path %q", ErrInvalid, path)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	// A full listen backlog (the master accepts at its own pace; ssh's
	// backlog is 64) makes a non-blocking connect fail with EAGAIN where
	// ssh's blocking one waits: wait too, bounded by ctx.
	for wait := 100 * time.Microsecond; err != nil && errors.Is(err, syscall.EAGAIN) && ctx.Err() == nil; {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		if wait < 20*time.Millisecond {
			wait *= 2
		}
		nc, err = d.DialContext(ctx, "unix", path)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("mux: dial %s: %w", path, ctx.Err())
		}
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("mux: dial %s: %w: %w", path, ErrMasterGone, err)
		}
		return nil, fmt.Errorf("mux: dial %s: %w", path, err)
	}
	c := &Conn{path: path, uc: nc.(*net.UnixConn)}
	if err := c.hello(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Path returns the control socket path given to [Dial].
func (c *Conn) Path() string { return c.path }

// Close closes the control connection. A session or stdio forward that the
// connection carries ends: the master gives the remote side EOF on its input
// and stops copying its output. Close is idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.closeErr = c.uc.Close()
	})
	return c.closeErr
}

// hello sends our HELLO and checks the master's.
func (c *Conn) hello(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	stop := c.watch(ctx)
	defer stop()
	body, _ := encode(&message{typ: msgHello, version: protocolVersion})
	if _, err := c.uc.Write(frame(body)); err != nil {
		return c.ioError(ctx, opHello, err)
	}
	m, err := c.read(ctx, opHello)
	if err != nil {
		return err
	}
	if m.typ != msgHello {
		return fmt.Errorf("mux: hello: %w: expected MUX_MSG_HELLO, got %s", ErrProtocol, msgName(m.typ))
	}
	if m.version != protocolVersion {
		return fmt.Errorf("mux: hello: %w: unsupported protocol version %d (want %d)", ErrProtocol, m.version, protocolVersion)
	}
	c.exts = m.exts
	return nil
}

// Extension reports whether the master's hello advertised the named
// extension (OpenSSH 10.3 and later advertise "info"), and its value.
func (c *Conn) Extension(name string) (string, bool) {
	for _, x := range c.exts {
		if x.name == name {
			return x.value, true
		}
	}
	return "", false
}

// watch applies ctx to the socket: its deadline, and an immediate deadline
// when it is cancelled. The returned func undoes both.
func (c *Conn) watch(ctx context.Context) func() {
	if dl, ok := ctx.Deadline(); ok {
		c.uc.SetDeadline(dl)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(fired)
		c.uc.SetDeadline(time.Unix(1, 0))
	})
	return func() {
		if !stop() {
			<-fired // let a concurrent cancellation finish before clearing
		}
		c.uc.SetDeadline(time.Time{})
	}
}

// ioError turns a socket error into a typed one. After an I/O error the
// stream may be mid-message, so the connection is closed.
func (c *Conn) ioError(ctx context.Context, op string, err error) error {
	wasClosed := c.closed.Load()
	c.Close()
	switch {
	case wasClosed:
		return fmt.Errorf("mux: %s: %w", op, ErrConnClosed)
	case ctx.Err() != nil:
		return fmt.Errorf("mux: %s: %w", op, ctx.Err())
	case errors.Is(err, errMalformed):
		return fmt.Errorf("mux: %s: %w: %w", op, ErrProtocol, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("mux: %s: %w", op, context.DeadlineExceeded)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("mux: %s: %w: control connection closed by the master (%v)", op, ErrMasterGone, err)
	}
	return fmt.Errorf("mux: %s: %w", op, err)
}

// read reads and decodes one message.
func (c *Conn) read(ctx context.Context, op string) (*message, error) {
	body, err := readFrame(c.uc)
	if err != nil {
		return nil, c.ioError(ctx, op, err)
	}
	m, err := decode(body)
	if err != nil {
		return nil, c.ioError(ctx, op, err)
	}
	return m, nil
}

// begin locks the connection for one request and checks that it may carry
// one. It returns the request id to use.
func (c *Conn) begin() (uint32, error) {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return 0, ErrConnClosed
	}
	if c.busy {
		c.mu.Unlock()
		return 0, ErrConnBusy
	}
	id := c.nextID
	c.nextID++
	return id, nil
}

// exchange sends req (whose id is set by the caller from begin), then the
// files, and reads the reply, checking its request id. c.mu must be held.
func (c *Conn) exchange(ctx context.Context, op string, req *message, files []*os.File) (*message, error) {
	body, err := encode(req)
	if err != nil {
		return nil, fmt.Errorf("mux: %s: %w", op, err)
	}
	stop := c.watch(ctx)
	defer stop()
	if _, err := c.uc.Write(frame(body)); err != nil {
		return nil, c.ioError(ctx, op, err)
	}
	if len(files) > 0 {
		if err := c.sendFiles(files); err != nil {
			return nil, c.ioError(ctx, op, err)
		}
	}
	m, err := c.read(ctx, op)
	if err != nil {
		return nil, err
	}
	switch m.typ {
	case msgHello, sExitMessage, sTTYAllocFail:
		c.Close()
		return nil, fmt.Errorf("mux: %s: %w: unexpected %s", op, ErrProtocol, msgName(m.typ))
	}
	if m.id != req.id {
		c.Close()
		return nil, fmt.Errorf("mux: %s: %w: reply to request %d, expected %d", op, ErrProtocol, m.id, req.id)
	}
	switch m.typ {
	case sFailure:
		return m, &ReplyError{Op: op, Reason: m.reason}
	case sPermDenied:
		return m, &ReplyError{Op: op, Denied: true, Reason: m.reason}
	}
	return m, nil
}

// unexpected closes the connection and reports a reply of the wrong type.
func (c *Conn) unexpected(op string, m *message) error {
	c.Close()
	return fmt.Errorf("mux: %s: %w: unexpected reply %s", op, ErrProtocol, msgName(m.typ))
}

// sendFiles passes each file's descriptor in its own sendmsg with a 1-byte
// payload, as mux.c's mm_receive_fd expects. os.File.Fd puts the descriptor
// in blocking mode, which the master needs (it restores the flags it saw).
// A nil file is sent as /dev/null.
func (c *Conn) sendFiles(files []*os.File) error {
	var null *os.File
	defer func() {
		if null != nil {
			null.Close()
		}
	}()
	for _, f := range files {
		if f == nil {
			if null == nil {
				var err error
				if null, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
					return err
				}
			}
			f = null
		}
		rights := syscall.UnixRights(int(f.Fd()))
		n, oobn, err := c.uc.WriteMsgUnix([]byte{0}, rights, nil)
		runtime.KeepAlive(f)
		if err != nil {
			return err
		}
		if n != 1 || oobn != len(rights) {
			return fmt.Errorf("short sendmsg (%d, %d)", n, oobn)
		}
	}
	return nil
}

// AliveCheck asks the master whether it is alive and returns its process id.
func (c *Conn) AliveCheck(ctx context.Context) (int, error) {
	id, err := c.begin()
	if err != nil {
		return 0, fmt.Errorf("mux: %s: %w", opAlive, err)
	}
	defer c.mu.Unlock()
	m, err := c.exchange(ctx, opAlive, &message{typ: cAliveCheck, id: id}, nil)
	if err != nil {
		return 0, err
	}
	if m.typ != sAlive {
		return 0, c.unexpected(opAlive, m)
	}
	if m.value == 0 || m.value > 1<<31-1 {
		c.Close()
		return 0, fmt.Errorf("mux: %s: %w: invalid pid %d", opAlive, ErrProtocol, m.value)
	}
	return int(m.value), nil
}

// StopListening asks the master to stop accepting control connections and
// remove its socket. The master keeps running until its existing sessions
// and forwards end.
func (c *Conn) StopListening(ctx context.Context) error {
	id, err := c.begin()
	if err != nil {
		return fmt.Errorf("mux: %s: %w", opStop, err)
	}
	defer c.mu.Unlock()
	m, err := c.exchange(ctx, opStop, &message{typ: cStopListening, id: id}, nil)
	if err != nil {
		return err
	}
	if m.typ != sOK {
		return c.unexpected(opStop, m)
	}
	return nil
}

// Terminate asks the master to exit. It returns once the master has closed
// the control connection, which it does as it exits; mux.c often exits
// before its MUX_S_OK reaches the client, so a connection closed without a
// reply counts as success. The Conn is closed afterwards.
func (c *Conn) Terminate(ctx context.Context) error {
	id, err := c.begin()
	if err != nil {
		return fmt.Errorf("mux: %s: %w", opTerminate, err)
	}
	defer c.mu.Unlock()
	defer c.Close()
	m, err := c.exchange(ctx, opTerminate, &message{typ: cTerminate, id: id}, nil)
	if errors.Is(err, ErrMasterGone) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.typ != sOK {
		return c.unexpected(opTerminate, m)
	}
	// Wait for the master to close the connection as it exits.
	stop := c.watch(ctx)
	defer stop()
	_, err = io.Copy(io.Discard, c.uc)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("mux: %s: %w", opTerminate, ctx.Err())
	}
	return nil
}

// ForwardType is the kind of a port forward.
type ForwardType uint32

// Forward types, as in ssh -L, -R and -D.
const (
	ForwardLocal   ForwardType = 1 // ssh -L: listen locally, connect from the server
	ForwardRemote  ForwardType = 2 // ssh -R: listen on the server, connect locally
	ForwardDynamic ForwardType = 3 // ssh -D: a local SOCKS listener
)

// String returns "local", "remote" or "dynamic".
func (t ForwardType) String() string {
	switch t {
	case ForwardLocal:
		return "local"
	case ForwardRemote:
		return "remote"
	case ForwardDynamic:
		return "dynamic"
	}
	return fmt.Sprintf("ForwardType(%d)", uint32(t))
}

// Endpoint is one side of a forward: a TCP host and port, or a Unix socket
// path. An empty Host on a listen side means the master's default (loopback
// unless GatewayPorts is set).
type Endpoint struct {
	Host string
	Port int
	// Path, when not empty, is a Unix socket path; Host and Port must then
	// be empty.
	Path string
}

// String returns "host:port" or the path.
func (e Endpoint) String() string {
	if e.Path != "" {
		return e.Path
	}
	return net.JoinHostPort(e.Host, fmt.Sprint(e.Port))
}

// wire returns the host field and port of e as encoded in the protocol.
func (e Endpoint) wire(side string) (string, uint32, error) {
	if e.Path != "" {
		if e.Host != "" || e.Port != 0 {
			return "", 0, fmt.Errorf("%w: %s endpoint has both a path and a host or port", ErrInvalid, side)
		}
		return e.Path, portStreamLocal, nil
	}
	if e.Port < 0 || e.Port > 65535 {
		return "", 0, fmt.Errorf("%w: %s port %d out of range", ErrInvalid, side, e.Port)
	}
	return e.Host, uint32(e.Port), nil
}

// Forward describes a port forward for [Conn.OpenForward] and
// [Conn.CloseForward].
type Forward struct {
	Type    ForwardType
	Listen  Endpoint
	Connect Endpoint // unused for ForwardDynamic; empty for a remote dynamic forward
}

// String describes f like ssh's -L/-R/-D arguments.
func (f Forward) String() string {
	if f.Type == ForwardDynamic {
		return fmt.Sprintf("%s %s", f.Type, f.Listen)
	}
	return fmt.Sprintf("%s %s -> %s", f.Type, f.Listen, f.Connect)
}

// request validates f and builds its message.
func (f Forward) request(typ, id uint32) (*message, error) {
	m := &message{typ: typ, id: id, fwdType: uint32(f.Type)}
	switch f.Type {
	case ForwardLocal, ForwardRemote, ForwardDynamic:
	default:
		return nil, fmt.Errorf("%w: unknown forward type %d", ErrInvalid, uint32(f.Type))
	}
	var err error
	if m.listenHost, m.listenPort, err = f.Listen.wire("listen"); err != nil {
		return nil, err
	}
	if f.Type == ForwardDynamic {
		if f.Listen.Path != "" {
			return nil, fmt.Errorf("%w: a dynamic forward cannot listen on a Unix socket", ErrInvalid)
		}
		if f.Connect != (Endpoint{}) {
			return nil, fmt.Errorf("%w: a dynamic forward has no connect endpoint", ErrInvalid)
		}
		// ssh fills the connect host of a dynamic forward with "socks"
		// (readconf.c); the master needs a non-empty one to set up the
		// listener, and compares it when the forward is closed.
		m.connectHost = dynamicConnectHost
		return m, nil
	}
	if f.Type == ForwardRemote && f.Connect == (Endpoint{}) {
		// A remote dynamic forward (ssh -R port, OpenSSH 7.6): the
		// master serves SOCKS for connections the server forwards; ssh
		// sends it as "socks" with port 0.
		if f.Listen.Path != "" {
			return nil, fmt.Errorf("%w: a remote dynamic forward cannot listen on a Unix socket", ErrInvalid)
		}
		m.connectHost = dynamicConnectHost
		return m, nil
	}
	if m.connectHost, m.connectPort, err = f.Connect.wire("connect"); err != nil {
		return nil, err
	}
	if m.connectHost == "" {
		return nil, fmt.Errorf("%w: missing connect host or path", ErrInvalid)
	}
	if m.connectPort == 0 {
		return nil, fmt.Errorf("%w: missing connect port", ErrInvalid)
	}
	return m, nil
}

// dynamicConnectHost is the placeholder connect host of a dynamic forward.
const dynamicConnectHost = "socks"

// OpenForward asks the master to set up a port forward. It returns the
// listen port: for a remote forward with listen port 0, the port the server
// allocated; otherwise f.Listen.Port (0 for a Unix socket, and for a local
// listen port 0, whose allocated port mux.c does not report). Asking again
// for an existing forward succeeds without change.
func (c *Conn) OpenForward(ctx context.Context, f Forward) (int, error) {
	id, err := c.begin()
	if err != nil {
		return 0, fmt.Errorf("mux: %s: %w", opOpenFwd, err)
	}
	defer c.mu.Unlock()
	req, err := f.request(cOpenFwd, id)
	if err != nil {
		return 0, fmt.Errorf("mux: %s: %w", opOpenFwd, err)
	}
	m, err := c.exchange(ctx, opOpenFwd, req, nil)
	if err != nil {
		return 0, err
	}
	switch m.typ {
	case sOK:
		return f.Listen.Port, nil
	case sRemotePort:
		if m.value > 65535 {
			c.Close()
			return 0, fmt.Errorf("mux: %s: %w: invalid allocated port %d", opOpenFwd, ErrProtocol, m.value)
		}
		return int(m.value), nil
	}
	return 0, c.unexpected(opOpenFwd, m)
}

// CloseForward asks the master to cancel a forward set up earlier. f must
// be the Forward as opened: for a remote forward opened with listen port 0,
// pass port 0 again, not the allocated port.
func (c *Conn) CloseForward(ctx context.Context, f Forward) error {
	id, err := c.begin()
	if err != nil {
		return fmt.Errorf("mux: %s: %w", opCloseFwd, err)
	}
	defer c.mu.Unlock()
	req, err := f.request(cCloseFwd, id)
	if err != nil {
		return fmt.Errorf("mux: %s: %w", opCloseFwd, err)
	}
	m, err := c.exchange(ctx, opCloseFwd, req, nil)
	if err != nil {
		return err
	}
	if m.typ != sOK {
		return c.unexpected(opCloseFwd, m)
	}
	return nil
}
