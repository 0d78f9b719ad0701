package openssh

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestUploadPipeSendBuf checks that the upload socket's writing end has
// more send buffer than a socket that did not ask (see uploadSendBuf).
func TestUploadPipeSendBuf(t *testing.T) {
	r, w, err := uploadPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	pr, pw, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	get := func(fd uintptr) int {
		n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	got, plain := get(w.Fd()), get(pw.Fd())
	if got <= plain {
		t.Errorf("upload socket's send buffer: %d bytes, not more than a plain socket's %d", got, plain)
	}
	t.Logf("send buffer %d bytes (plain socket %d)", got, plain)
}
