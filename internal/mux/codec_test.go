package mux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// muxSampleMessages has one message of every type, with every field set.
func muxSampleMessages() []*message {
	return []*message{
		{typ: msgHello, version: 4},
		{typ: msgHello, version: 4, exts: []extension{{"info", "0"}, {"x", ""}}},
		{typ: cNewSession, id: 7, tty: true, x11: false, agent: true, subsys: false,
			escape: escapeNone, term: "xterm", command: "echo hi", env: []string{"A=1", "B=2"}},
		{typ: cNewSession, id: 8, subsys: true, escape: '~', command: "sftp"},
		{typ: cAliveCheck, id: 1},
		{typ: cTerminate, id: 2},
		{typ: cStopListening, id: 3},
		{typ: cProxy, id: 4},
		{typ: cOpenFwd, id: 5, fwdType: 1, listenHost: "127.0.0.1", listenPort: 8080, connectHost: "h", connectPort: 80},
		{typ: cCloseFwd, id: 6, fwdType: 2, listenHost: "/tmp/s", listenPort: portStreamLocal, connectHost: "", connectPort: 22},
		{typ: cNewStdioFwd, id: 9, connectHost: "example.org", connectPort: 443},
		{typ: cExtInfo, id: 10, reason: "connection"},
		{typ: sOK, id: 11},
		{typ: sPermDenied, id: 12, reason: "Permission denied"},
		{typ: sFailure, id: 13, reason: "Session open refused by peer"},
		{typ: sExitMessage, id: 3, value: 7},
		{typ: sAlive, id: 14, value: 12345},
		{typ: sSessionOpened, id: 15, value: 3},
		{typ: sRemotePort, id: 16, value: 40000},
		{typ: sTTYAllocFail, id: 3},
		{typ: sProxy, id: 17},
		{typ: sExtInfo, id: 18, value: 1, reason: "ok"},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, m := range muxSampleMessages() {
		body, err := encode(m)
		if err != nil {
			t.Fatalf("encode %s: %v", msgName(m.typ), err)
		}
		got, err := decode(body)
		if err != nil {
			t.Fatalf("decode %s: %v", msgName(m.typ), err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", msgName(m.typ), got, m)
		}
		// Every strict prefix is truncated, except where the tail is a list
		// of optional fields (HELLO extensions, NEW_SESSION env).
		for n := 0; n < len(body); n++ {
			if _, err := decode(body[:n]); err == nil && m.typ != msgHello && m.typ != cNewSession {
				t.Errorf("%s: decoding a %d-byte prefix of %d succeeded", msgName(m.typ), n, len(body))
			} else if err != nil && !errors.Is(err, errMalformed) {
				t.Errorf("%s: prefix error %v does not match errMalformed", msgName(m.typ), err)
			}
		}
		// The frame reader gives back the body.
		fb, err := readFrame(bytes.NewReader(frame(body)))
		if err != nil || !bytes.Equal(fb, body) {
			t.Errorf("%s: readFrame = %x, %v", msgName(m.typ), fb, err)
		}
	}
}

// The wire layout of NEW_SESSION, checked byte by byte: "bool" fields are
// u32, the escape char is a u32, strings are u32-length prefixed.
func TestCodecNewSessionLayout(t *testing.T) {
	body, err := encode(&message{typ: cNewSession, id: 2, tty: true, escape: escapeNone, term: "vt100", command: "ls", env: []string{"X=y"}})
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	u32 := func(v uint32) { want = binary.BigEndian.AppendUint32(want, v) }
	str := func(s string) { u32(uint32(len(s))); want = append(want, s...) }
	u32(0x10000002)
	u32(2)
	str("")
	u32(1)
	u32(0)
	u32(0)
	u32(0)
	u32(0xffffffff)
	str("vt100")
	str("ls")
	str("X=y")
	if !bytes.Equal(body, want) {
		t.Errorf("NEW_SESSION body\n got %x\nwant %x", body, want)
	}
	// Stdio forward: the port is a u32, not a string.
	body, _ = encode(&message{typ: cNewStdioFwd, id: 1, connectHost: "h", connectPort: 22})
	want = nil
	u32(0x10000008)
	u32(1)
	str("")
	str("h")
	u32(22)
	if !bytes.Equal(body, want) {
		t.Errorf("NEW_STDIO_FWD body\n got %x\nwant %x", body, want)
	}
}

func TestCodecRefusals(t *testing.T) {
	// Any non-zero u32 is true, as in mux.c.
	body, _ := encode(&message{typ: cNewSession, command: "x"})
	binary.BigEndian.PutUint32(body[12:], 2) // want tty
	if m, err := decode(body); err != nil || !m.tty {
		t.Errorf("u32 2 as bool: %+v, %v", m, err)
	}
	// NUL bytes cannot be encoded.
	if _, err := encode(&message{typ: cNewSession, command: "a\x00b"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NUL in command: %v, want ErrInvalid", err)
	}
	// A message over the master's limit cannot be encoded.
	if _, err := encode(&message{typ: cNewSession, command: strings.Repeat("x", maxMessage)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("huge command: %v, want ErrInvalid", err)
	}
	// Unknown types and huge lengths are refused on decoding.
	if _, err := decode([]byte{0x12, 0x34, 0x56, 0x78}); !errors.Is(err, errMalformed) {
		t.Errorf("unknown type: %v", err)
	}
	hdr := binary.BigEndian.AppendUint32(nil, maxMessage+1)
	if _, err := readFrame(bytes.NewReader(hdr)); !errors.Is(err, errMalformed) {
		t.Errorf("oversized frame: %v", err)
	}
	// A string length beyond the body.
	bad := binary.BigEndian.AppendUint32(nil, sFailure)
	bad = binary.BigEndian.AppendUint32(bad, 1)
	bad = binary.BigEndian.AppendUint32(bad, 0xffffffff)
	if _, err := decode(bad); !errors.Is(err, errMalformed) {
		t.Errorf("long string length: %v", err)
	}
	// A NUL inside a reason is malformed, as for sshbuf_get_cstring.
	nul, _ := encode(&message{typ: sFailure, id: 1, reason: "ok"})
	nul[len(nul)-1] = 0
	if _, err := decode(nul); !errors.Is(err, errMalformed) {
		t.Errorf("NUL in reason: %v", err)
	}
}

// FuzzDecode checks that the decoder never panics, that whatever it accepts
// encodes back to a message that decodes to the same value, and that the
// frame reader never allocates more than the limit.
func FuzzDecode(f *testing.F) {
	for _, m := range muxSampleMessages() {
		body, err := encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 4, 'i', 'n', 'f', 'o', 0, 0, 0, 1, '0'})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decode(body)
		if _, ferr := readFrame(bytes.NewReader(body)); ferr == nil && len(body) >= 4 {
			if n := binary.BigEndian.Uint32(body); n > maxMessage {
				t.Fatalf("readFrame accepted a %d-byte length", n)
			}
		}
		if err != nil {
			if m != nil {
				t.Fatal("message and error")
			}
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not match errMalformed", err)
			}
			return
		}
		re, err := encode(m)
		if err != nil {
			// Only the limits may refuse what was decoded.
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("re-encode: %v", err)
			}
			return
		}
		m2, err := decode(re)
		if err != nil {
			t.Fatalf("decode of re-encoded %s: %v", msgName(m.typ), err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encoded %s differs:\n%+v\n%+v", msgName(m.typ), m, m2)
		}
	})
}
