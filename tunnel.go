package openssh

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goopenssh/openssh/internal/mux"
)

// TunnelAddr is the [net.Addr] of the ends of a conn returned by
// [Master.Dial] or accepted by a [Master.Listen] listener.
type TunnelAddr struct {
	// Net is "ssh-tcp" or "ssh-unix" for the end on the far side of the
	// SSH connection, and "ssh" for the SSH connection itself.
	Net string
	// Address is "host:port" or a socket path on the far side, or the SSH
	// destination ("user@host:port", the parts that were given).
	Address string
}

// Network returns a.Net.
func (a *TunnelAddr) Network() string { return a.Net }

// String returns a.Address.
func (a *TunnelAddr) String() string { return a.Address }

// destination returns the SSH destination for addresses and messages.
func (m *Master) destination() string {
	h := m.host
	if m.port != 0 {
		h = net.JoinHostPort(h, strconv.Itoa(m.port))
	}
	if m.user != "" {
		h = m.user + "@" + h
	}
	return h
}

// tunnelConn is a conn through the master: a socket whose other end is a
// "ssh -W" process (proc set), a temporary local forward, or a remote
// forward. It keeps every method of net.UnixConn (deadlines, CloseWrite).
type tunnelConn struct {
	*net.UnixConn
	m             *Master // for a dialled conn: to tell a cut from an end
	local, remote net.Addr
	proc          *child            // the ssh -W process, or nil
	fwd           *mux.StdioForward // the native stdio forward, or nil
	onClose       func() error      // run after the socket is closed, or nil

	closeOnce sync.Once
	closeErr  error

	cutOnce sync.Once
	cutErr  error // the master's failure that ended the conn, or nil
}

// Read reads from the far end. The end of the stream is [io.EOF] only when
// the far end closed the connection; when it ends because the master is
// gone, Read returns an [*Error] matching [ErrMasterGone], or [ErrClosed]
// when the caller closed the Master.
func (c *tunnelConn) Read(p []byte) (int, error) {
	n, err := c.UnixConn.Read(p)
	if err == io.EOF && c.m != nil {
		c.cutOnce.Do(func() {
			if lost := c.m.lost(); lost != nil {
				c.cutErr = &Error{Code: CodeSlaveFailed, Op: "read from tunnel to " + c.remote.String() + " via",
					Host: c.m.host, Err: lost}
			}
		})
		if c.cutErr != nil {
			return n, c.cutErr
		}
	}
	return n, err
}

// WriteTo copies the conn to w with Read's end-of-stream rule (the
// embedded *net.UnixConn's WriteTo would hide a cut).
func (c *tunnelConn) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, struct{ io.Reader }{c})
}

// LocalAddr returns the near end: the SSH connection ([TunnelAddr] with Net
// "ssh") for a dialled conn, the remote listening address for an accepted
// one.
func (c *tunnelConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the far end: the address dialled ([TunnelAddr] with
// Net "ssh-tcp" or "ssh-unix") for a dialled conn, the SSH connection for
// an accepted one.
func (c *tunnelConn) RemoteAddr() net.Addr { return c.remote }

// Close closes the conn. For a -W tunnel it first lets ssh take what was
// written (up to 5 s), then ends the ssh process and reaps it; the master
// then closes the channel, so the far end sees the connection closed. A
// second Close returns an error matching [net.ErrClosed], as for any
// net.Conn.
func (c *tunnelConn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		p := c.proc
		if p != nil {
			// Data written but not yet read by ssh would be lost when
			// it is ended: wait until the master has taken it all.
			deadline := time.Now().Add(5 * time.Second)
			for unreadBytes(c.UnixConn) > 0 && time.Now().Before(deadline) {
				select {
				case <-p.Done():
					deadline = time.Now()
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		if f := c.fwd; f != nil {
			// The master stops reading our socket when the forward is
			// closed: let it take what was written first.
			deadline := time.Now().Add(5 * time.Second)
			for unreadBytes(c.UnixConn) > 0 && time.Now().Before(deadline) {
				select {
				case <-f.Done():
					deadline = time.Now()
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		c.closeErr = c.UnixConn.Close()
		if p != nil {
			p.StopAfter(50*time.Millisecond, time.Second)
		}
		if c.onClose != nil {
			c.onClose()
		}
		if f := c.fwd; f != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			f.Wait(ctx)
			cancel()
			f.Close()
		}
	})
	if !first {
		nw := "unix"
		if c.remote != nil {
			nw = c.remote.Network()
		}
		return &net.OpError{Op: "close", Net: nw, Source: c.local, Addr: c.remote, Err: net.ErrClosed}
	}
	return c.closeErr
}

// stderrWatch keeps the tail of a -W ssh's stderr and reports when ssh
// says the master opened the forward.
type stderrWatch struct {
	buf    tailBuffer
	mu     sync.Mutex
	seen   bool
	opened chan struct{}
}

// stdioOpened is what ssh (at LogLevel DEBUG1) prints when the master has
// opened the channel of a -W forward: "mux_client_request_stdio_fwd:
// master session id: N". The master answers only once the server has
// confirmed the channel, so it means the far end accepted the connection.
const stdioOpened = "master session id:"

func (w *stderrWatch) Write(p []byte) (int, error) {
	w.buf.Write(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen && bytes.Contains(w.buf.Bytes(), []byte(stdioOpened)) {
		w.seen = true
		close(w.opened)
	}
	return len(p), nil
}

// stdioOpenFallback is how long DialContext waits for ssh's report that
// the channel is open before it assumes so (a LogLevel=QUIET or -q in the
// options hides the report).
const stdioOpenFallback = 3 * time.Second

// Dial connects to address on the far side of the SSH connection, as
// [Master.DialContext] with a background context.
func (m *Master) Dial(network, address string) (net.Conn, error) {
	return m.DialContext(context.Background(), network, address)
}

// DialContext connects to address as seen from the remote host, through the
// master. It has the signature of [net.Dialer.DialContext], so it can serve
// as [net/http.Transport.DialContext] to reach web servers on the far side.
//
// For network "tcp" ("tcp4", "tcp6"), address is "host:port": the host is
// resolved by the server, an empty host means "localhost" there (as for
// [net.Dial]), and IPv6 addresses go in brackets. The conn runs through an
// "ssh -W host:port" process (no port is opened on either machine) which
// lives until Close.
//
// For network "unix", address is a socket path on the remote host. The
// "ssh -W path" of OpenSSH 9.2 (and other releases older than the 2023
// upstream change that added Unix sockets to -W) quietly opens a shell
// session instead of a forward, so the conn goes through a temporary local
// forward ("-O forward -L") from a socket in a private directory, cancelled
// when the conn is closed.
//
// The returned conn supports deadlines (SetDeadline and friends) and
// half-close (CloseWrite, as a *net.UnixConn). Its RemoteAddr is a
// [*TunnelAddr] with Net "ssh-tcp" or "ssh-unix"; LocalAddr names the SSH
// connection. Close ends and reaps the ssh process.
//
// ctx bounds only the setup: once DialContext returns, cancelling it does
// not affect the conn. For "tcp", DialContext returns only once the server
// has connected to the target: a refused connection, a name the server
// cannot resolve, or a server that forbids forwarding is an [*Error]
// matching [ErrForwardFailed] and, when the master's log tells,
// [ErrConnRefused], [ErrResolve], [ErrUnreachable] or [ErrForwardDenied].
// For "unix", the server connects only after the conn is returned: a
// refused connection shows as EOF on the first read.
//
// Tunnels are channels but not sessions: sshd's MaxSessions does not limit
// them (5 tunnels work under MaxSessions 2), so they do not take a slot of
// Options.MaxSessions either. Bad input (an unknown network, a port out of
// 1-65535, a host with a space, a control character or a leading '-') is
// an [*ArgError], returned before anything runs.
func (m *Master) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		host, port, err := splitHostPort("address", address)
		if err != nil {
			return nil, err
		}
		if err := checkPort("address", port, false); err != nil {
			return nil, err
		}
		if host == "" {
			host = "localhost"
		}
		if _, err := forwardHost("address", host); err != nil {
			return nil, err
		}
		return m.dialStdio(ctx, mux.Endpoint{Host: host, Port: port}, &TunnelAddr{Net: "ssh-tcp", Address: net.JoinHostPort(host, strconv.Itoa(port))})
	case "unix":
		p, err := checkSocketPath("address", address)
		if err != nil {
			return nil, err
		}
		return m.dialUnix(ctx, p)
	}
	return nil, &ArgError{Arg: "network", Value: fmt.Sprintf("%q", network), Reason: `not "tcp", "tcp4", "tcp6" or "unix"`}
}

// dialStdio opens a stdio forward to ep through the transport.
func (m *Master) dialStdio(ctx context.Context, ep mux.Endpoint, raddr net.Addr) (net.Conn, error) {
	op := "tunnel to " + raddr.String() + " via"
	if err := m.WaitForMaster(ctx); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, &Error{Code: CodeSlaveTimeout, Op: op, Host: m.host, Err: ctx.Err()}
	}
	return m.be.dialStdio(ctx, op, ep, raddr)
}

// tunnelRefused is the error of a tunnel whose channel the server refused;
// the reason is in the master's log: "channel N: open failed: connect
// failed: Connection refused".
//
// With mark >= 0 (the position of the master's log before the request),
// only lines written since then count, and they are waited for a moment:
// the master logs the reason before it answers, but the library reads its
// log in another goroutine.
func (m *Master) tunnelRefused(op, detail string, mark int64) error {
	cause := ErrForwardFailed
	l := m.masterLogLineSince(mark, "open failed")
	for deadline := time.Now().Add(250 * time.Millisecond); l == "" && mark >= 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		l = m.masterLogLineSince(mark, "open failed")
	}
	if l != "" {
		// The master's line is the reason; ssh's own ("Stdio forwarding
		// request failed: Session open refused by peer") only says that
		// there was one. The finer cause matches but is not repeated.
		detail = channelPrefixRe.ReplaceAllString(l, "")
		var finer error
		if strings.Contains(l, "administratively prohibited") {
			finer = ErrForwardDenied
		} else {
			_, finer = classifyStderr(l)
		}
		if finer != nil {
			cause = &twoErrors{a: ErrForwardFailed, b: finer, quiet: true}
		}
	}
	return &Error{Code: CodeSlaveFailed, Op: op, Host: m.host, Err: cause, Detail: detail}
}

// channelPrefixRe is the start of the master's log line about a channel
// open that failed.
var channelPrefixRe = regexp.MustCompile(`^channel \d+: open failed: `)

// twoErrors is a cause that matches two sentinels. Quiet leaves the second
// out of the message, when the detail that follows says it.
type twoErrors struct {
	a, b  error
	quiet bool
}

func (e *twoErrors) Error() string {
	if e.quiet {
		return strings.TrimPrefix(e.a.Error(), "openssh: ")
	}
	return strings.TrimPrefix(e.a.Error(), "openssh: ") + ": " + strings.TrimPrefix(e.b.Error(), "openssh: ")
}

func (e *twoErrors) Unwrap() []error { return []error{e.a, e.b} }

// dialUnix connects to a socket on the remote host through a temporary
// local forward from a socket in a private directory.
func (m *Master) dialUnix(ctx context.Context, path string) (net.Conn, error) {
	if err := m.WaitForMaster(ctx); err != nil {
		return nil, err
	}
	op := "tunnel to " + path + " via"
	dir, err := os.MkdirTemp("", "osshd")
	if err != nil {
		return nil, &Error{Code: CodeSlavePipeFailed, Op: op, Host: m.host, Err: err}
	}
	spec := ForwardSpec{Kind: LocalForward, Listen: UnixAddr(filepath.Join(dir, "s")), Connect: UnixAddr(path)}
	// The forward goes when the conn is closed, not as soon as it is
	// connected: the master may not have accepted the connection yet, and
	// closing its listener would reset it.
	cleanup := func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		defer os.RemoveAll(dir)
		return m.CancelForward(cctx, spec)
	}
	if _, err := m.Forward(ctx, spec); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", spec.Listen.Path)
	if err != nil {
		cleanup()
		if ctx.Err() != nil {
			return nil, &Error{Code: CodeSlaveTimeout, Op: op, Host: m.host, Err: ctx.Err()}
		}
		return nil, &Error{Code: CodeSlaveFailed, Op: op, Host: m.host, Err: err}
	}
	return &tunnelConn{
		UnixConn: c.(*net.UnixConn),
		local:    &TunnelAddr{Net: "ssh", Address: m.destination()},
		remote:   &TunnelAddr{Net: "ssh-unix", Address: path},
		onClose:  cleanup,
	}, nil
}

// OpenTunnel connects to host:port as seen from the remote host: Net::OpenSSH's
// open_tunnel, the same as [Master.DialContext] with network "tcp".
func (m *Master) OpenTunnel(ctx context.Context, host string, port int) (net.Conn, error) {
	if err := checkPort("port", port, false); err != nil {
		return nil, err
	}
	return m.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
}

// CaptureTunnel connects to address on the far side (as [Master.DialContext]),
// sends everything read from input (nil for nothing), half-closes the
// connection and returns everything the far end sends until it closes:
// Net::OpenSSH's capture_tunnel. ctx bounds the whole exchange; when it
// ends first, CaptureTunnel returns what arrived so far with an [*Error]
// matching [ErrTimeout].
func (m *Master) CaptureTunnel(ctx context.Context, network, address string, input io.Reader) ([]byte, error) {
	c, err := m.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tc := c.(*tunnelConn)
	defer tc.Close()
	stop := context.AfterFunc(ctx, func() { tc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	werr := make(chan error, 1)
	go func() {
		var err error
		if input != nil {
			_, err = io.Copy(tc, input)
		}
		if cerr := tc.CloseWrite(); err == nil {
			err = cerr
		}
		werr <- err
	}()
	out, rerr := io.ReadAll(tc)
	err = <-werr
	if ctx.Err() != nil {
		return out, &Error{Code: CodeSlaveTimeout, Op: "capture tunnel " + address, Host: m.host, Err: ctx.Err()}
	}
	if rerr != nil {
		return out, &Error{Code: CodeSlaveFailed, Op: "capture tunnel " + address, Host: m.host, Err: rerr}
	}
	if err != nil && !isPipeErr(err) {
		return out, &Error{Code: CodeSlaveFailed, Op: "capture tunnel " + address, Host: m.host, Err: err}
	}
	return out, nil
}

// isPipeErr reports a write to a peer that has stopped reading, which is
// not a failure when the peer answered and closed.
func isPipeErr(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "connection reset"))
}
