// Package mux is a client for OpenSSH's ControlMaster multiplexing protocol,
// version 4 (PROTOCOL.mux in openssh-portable). It talks to the master's
// control socket directly instead of spawning an ssh process per operation.
//
// A [Conn] is one connection to the control socket. mux.c supports at most
// one session per control connection, so [Conn.NewSession] and
// [Conn.NewStdioForward] take the connection over; the other requests
// ([Conn.AliveCheck], [Conn.OpenForward], [Conn.CloseForward],
// [Conn.StopListening], [Conn.Terminate]) may be repeated on one connection.
package mux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Protocol numbers from PROTOCOL.mux and mux.c.
const (
	msgHello         = 0x00000001
	cNewSession      = 0x10000002
	cAliveCheck      = 0x10000004
	cTerminate       = 0x10000005
	cOpenFwd         = 0x10000006
	cCloseFwd        = 0x10000007
	cNewStdioFwd     = 0x10000008
	cStopListening   = 0x10000009
	cProxy           = 0x1000000f
	cExtInfo         = 0x20000001
	sOK              = 0x80000001
	sPermDenied      = 0x80000002
	sFailure         = 0x80000003
	sExitMessage     = 0x80000004
	sAlive           = 0x80000005
	sSessionOpened   = 0x80000006
	sRemotePort      = 0x80000007
	sTTYAllocFail    = 0x80000008
	sProxy           = 0x8000000f
	sExtInfo         = 0x90000001
	protocolVersion  = 4
	portStreamLocal  = 0xfffffffe // (u_int)-2: the host field is a Unix socket path
	escapeNone       = 0xffffffff
	maxMessage       = 256 * 1024 // mux.c's CHANNEL_MUX_MAX_PACKET
	maxEnv           = 4096       // mux.c's MUX_MAX_ENV_VARS
	maxHelloExts     = 64
	frameHeaderBytes = 4
)

// MaxMessage is the largest message body, in bytes, that the codec encodes
// or decodes; it matches the master's own limit (256 KiB).
const MaxMessage = maxMessage

// msgName returns a readable name for a message type.
func msgName(t uint32) string {
	switch t {
	case msgHello:
		return "MUX_MSG_HELLO"
	case cNewSession:
		return "MUX_C_NEW_SESSION"
	case cAliveCheck:
		return "MUX_C_ALIVE_CHECK"
	case cTerminate:
		return "MUX_C_TERMINATE"
	case cOpenFwd:
		return "MUX_C_OPEN_FWD"
	case cCloseFwd:
		return "MUX_C_CLOSE_FWD"
	case cNewStdioFwd:
		return "MUX_C_NEW_STDIO_FWD"
	case cStopListening:
		return "MUX_C_STOP_LISTENING"
	case cProxy:
		return "MUX_C_PROXY"
	case cExtInfo:
		return "MUX_C_EXT_INFO"
	case sOK:
		return "MUX_S_OK"
	case sPermDenied:
		return "MUX_S_PERMISSION_DENIED"
	case sFailure:
		return "MUX_S_FAILURE"
	case sExitMessage:
		return "MUX_S_EXIT_MESSAGE"
	case sAlive:
		return "MUX_S_ALIVE"
	case sSessionOpened:
		return "MUX_S_SESSION_OPENED"
	case sRemotePort:
		return "MUX_S_REMOTE_PORT"
	case sTTYAllocFail:
		return "MUX_S_TTY_ALLOC_FAIL"
	case sProxy:
		return "MUX_S_PROXY"
	case sExtInfo:
		return "MUX_S_EXT_INFO"
	}
	return fmt.Sprintf("0x%08x", t)
}

// extension is one name/value pair of a HELLO message.
type extension struct {
	name, value string
}

// message is one decoded mux message of any type, in either direction. Only
// the fields of its type are meaningful.
type message struct {
	typ uint32
	// id is the request id (client requests and most replies) or the
	// session id (EXIT_MESSAGE, TTY_ALLOC_FAIL); unused for HELLO.
	id uint32

	// HELLO
	version uint32
	exts    []extension

	// NEW_SESSION (and the reserved string of NEW_STDIO_FWD)
	reserved                string
	tty, x11, agent, subsys bool
	escape                  uint32
	term, command           string
	env                     []string

	// OPEN_FWD, CLOSE_FWD (fwdType, listen*, connect*) and NEW_STDIO_FWD
	// (connect*)
	fwdType     uint32
	listenHost  string
	listenPort  uint32
	connectHost string
	connectPort uint32

	// PERMISSION_DENIED, FAILURE, EXT_INFO (message); C_EXT_INFO (name)
	reason string

	// ALIVE (pid), SESSION_OPENED (session id), REMOTE_PORT (port),
	// EXIT_MESSAGE (exit value), S_EXT_INFO (status)
	value uint32
}

// errMalformed is wrapped by every decoding error.
var errMalformed = errors.New("malformed message")

// encoder builds one message body.
type encoder struct {
	b   []byte
	err error
}

func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }

func (e *encoder) boolean(v bool) {
	if v {
		e.u32(1)
	} else {
		e.u32(0)
	}
}

// str appends an SSH string. mux.c reads most strings with
// sshbuf_get_cstring, which refuses embedded NUL bytes, so a NUL is an error.
func (e *encoder) str(field, s string) {
	if e.err == nil && strings.IndexByte(s, 0) >= 0 {
		e.err = fmt.Errorf("%w: %s contains a NUL byte", ErrInvalid, field)
	}
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
}

// encode returns the body of m (without the length prefix).
func encode(m *message) ([]byte, error) {
	e := &encoder{b: make([]byte, 0, 64)}
	e.u32(m.typ)
	switch m.typ {
	case msgHello:
		e.u32(m.version)
		for _, x := range m.exts {
			e.str("extension name", x.name)
			e.str("extension value", x.value)
		}
	case cNewSession:
		e.u32(m.id)
		e.str("reserved", m.reserved)
		e.boolean(m.tty)
		e.boolean(m.x11)
		e.boolean(m.agent)
		e.boolean(m.subsys)
		e.u32(m.escape)
		e.str("term", m.term)
		e.str("command", m.command)
		if len(m.env) > maxEnv {
			return nil, fmt.Errorf("%w: more than %d environment entries", ErrInvalid, maxEnv)
		}
		for _, v := range m.env {
			e.str("environment entry", v)
		}
	case cAliveCheck, cTerminate, cStopListening, cProxy, sOK, sProxy, sTTYAllocFail:
		e.u32(m.id)
	case cOpenFwd, cCloseFwd:
		e.u32(m.id)
		e.u32(m.fwdType)
		e.str("listen host", m.listenHost)
		e.u32(m.listenPort)
		e.str("connect host", m.connectHost)
		e.u32(m.connectPort)
	case cNewStdioFwd:
		e.u32(m.id)
		e.str("reserved", m.reserved)
		e.str("connect host", m.connectHost)
		e.u32(m.connectPort)
	case cExtInfo:
		e.u32(m.id)
		e.str("name", m.reason)
	case sPermDenied, sFailure:
		e.u32(m.id)
		e.str("reason", m.reason)
	case sExitMessage, sAlive, sSessionOpened, sRemotePort:
		e.u32(m.id)
		e.u32(m.value)
	case sExtInfo:
		e.u32(m.id)
		e.u32(m.value)
		e.str("message", m.reason)
	default:
		return nil, fmt.Errorf("%w: cannot encode message type %s", ErrInvalid, msgName(m.typ))
	}
	if e.err != nil {
		return nil, e.err
	}
	if len(e.b) > maxMessage {
		return nil, fmt.Errorf("%w: %s of %d bytes exceeds the %d-byte limit",
			ErrInvalid, msgName(m.typ), len(e.b), maxMessage)
	}
	return e.b, nil
}

// frame returns body with its uint32 length prefix.
func frame(body []byte) []byte {
	out := make([]byte, frameHeaderBytes, frameHeaderBytes+len(body))
	binary.BigEndian.PutUint32(out, uint32(len(body)))
	return append(out, body...)
}

// decoder reads fields from one message body.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated %s", errMalformed, what)
	}
}

func (d *decoder) u32(what string) uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.fail(what)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) boolean(what string) bool { return d.u32(what) != 0 }

// str reads an SSH string. The length is checked against what remains, so
// a decoded string never allocates more than the body's size.
func (d *decoder) str(what string) string {
	n := d.u32(what + " length")
	if d.err != nil {
		return ""
	}
	if uint64(n) > uint64(len(d.b)) {
		d.fail(what)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// cstr reads a string that mux.c reads with sshbuf_get_cstring: an embedded
// NUL byte makes the message malformed.
func (d *decoder) cstr(what string) string {
	s := d.str(what)
	if d.err == nil && strings.IndexByte(s, 0) >= 0 {
		d.err = fmt.Errorf("%w: NUL byte in %s", errMalformed, what)
	}
	return s
}

// decode parses one message body (the bytes after the length prefix). It
// accepts every message type of protocol version 4 in both directions and
// never panics; bodies over [MaxMessage] are refused.
func decode(body []byte) (*message, error) {
	if len(body) > maxMessage {
		return nil, fmt.Errorf("%w: %d-byte body exceeds the %d-byte limit", errMalformed, len(body), maxMessage)
	}
	d := &decoder{b: body}
	m := &message{typ: d.u32("type")}
	if d.err != nil {
		return nil, d.err
	}
	switch m.typ {
	case msgHello:
		m.version = d.u32("version")
		for len(d.b) > 0 && d.err == nil {
			if len(m.exts) >= maxHelloExts {
				return nil, fmt.Errorf("%w: more than %d hello extensions", errMalformed, maxHelloExts)
			}
			name := d.cstr("extension name")
			value := d.str("extension value")
			m.exts = append(m.exts, extension{name, value})
		}
	case cNewSession:
		m.id = d.u32("request id")
		m.reserved = d.str("reserved")
		m.tty = d.boolean("want tty")
		m.x11 = d.boolean("want X11")
		m.agent = d.boolean("want agent")
		m.subsys = d.boolean("subsystem flag")
		m.escape = d.u32("escape char")
		m.term = d.cstr("terminal type")
		m.command = d.cstr("command")
		for len(d.b) > 0 && d.err == nil {
			if len(m.env) >= maxEnv {
				return nil, fmt.Errorf("%w: more than %d environment entries", errMalformed, maxEnv)
			}
			m.env = append(m.env, d.cstr("environment entry"))
		}
	case cAliveCheck, cTerminate, cStopListening, cProxy, sOK, sProxy:
		m.id = d.u32("request id")
	case sTTYAllocFail:
		m.id = d.u32("session id")
	case cOpenFwd, cCloseFwd:
		m.id = d.u32("request id")
		m.fwdType = d.u32("forwarding type")
		m.listenHost = d.cstr("listen host")
		m.listenPort = d.u32("listen port")
		m.connectHost = d.cstr("connect host")
		m.connectPort = d.u32("connect port")
	case cNewStdioFwd:
		m.id = d.u32("request id")
		m.reserved = d.str("reserved")
		m.connectHost = d.cstr("connect host")
		m.connectPort = d.u32("connect port")
	case cExtInfo:
		m.id = d.u32("request id")
		m.reason = d.cstr("name")
	case sPermDenied, sFailure:
		m.id = d.u32("client request id")
		m.reason = d.cstr("reason")
	case sAlive:
		m.id = d.u32("client request id")
		m.value = d.u32("server pid")
	case sSessionOpened:
		m.id = d.u32("client request id")
		m.value = d.u32("session id")
	case sRemotePort:
		m.id = d.u32("client request id")
		m.value = d.u32("allocated port")
	case sExitMessage:
		m.id = d.u32("session id")
		m.value = d.u32("exit value")
	case sExtInfo:
		m.id = d.u32("client request id")
		m.value = d.u32("status")
		m.reason = d.cstr("message")
	default:
		return nil, fmt.Errorf("%w: unknown message type %s", errMalformed, msgName(m.typ))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%s: %w", msgName(m.typ), d.err)
	}
	// Trailing bytes are tolerated only where the protocol allows optional
	// fields (HELLO extensions, NEW_SESSION env, consumed above); elsewhere
	// they are ignored for forward compatibility, as mux.c does.
	return m, nil
}

// readFrame reads one length-prefixed message body from r. A length over
// [MaxMessage] is refused before anything is allocated for it.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [frameHeaderBytes]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxMessage {
		return nil, fmt.Errorf("%w: %d-byte message exceeds the %d-byte limit", errMalformed, n, maxMessage)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}
