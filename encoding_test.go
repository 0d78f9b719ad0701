package openssh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// TestEncodingLatin1: a latin1 remote, as in Net::OpenSSH's t/1_run.t:
// arguments reach it (and its file system) as latin1 bytes, its output is
// decoded, stdin and pipes are encoded, and what latin1 cannot hold is an
// ErrEncoding error before anything runs.
func TestEncodingLatin1(t *testing.T) {
	dir := sharedDir(t)
	eachMaster(t, nil, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		m.opts.Encoding = charmap.ISO8859_1

		// Arguments: the remote side sees e9 for é.
		out, err := m.Capture(ctx, "sh", "-c", `printf %s "$1" | od -An -tx1`, "sh", "café")
		if err != nil || strings.Fields(string(out))[3] != "e9" || len(strings.Fields(string(out))) != 4 {
			t.Errorf("argument bytes: %q, %v", out, err)
		}
		// A file named in latin1 on the remote file system.
		name := "résumé-" + m.opts.Transport.String()
		if err := m.Command(ctx, "touch", filepath.Join(dir, name)).Run(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "r\xe9sum\xe9-"+m.opts.Transport.String())); err != nil {
			t.Errorf("the file name is not latin1 on the remote side: %v", err)
		}
		// Output is decoded: the remote prints e9 74 e9.
		out, err = m.Capture(ctx, `printf '\351t\351\n'`)
		if err != nil || string(out) != "été\n" {
			t.Errorf("decoded output: %q, %v", out, err)
		}
		// A round trip: echo of an argument comes back as it went.
		out, err = m.Capture(ctx, "echo", "naïve façade ÿ")
		if err != nil || string(out) != "naïve façade ÿ\n" {
			t.Errorf("round trip: %q, %v", out, err)
		}
		// Stdin and stderr.
		c := m.Command(ctx, "sh", "-c", "od -An -tx1; printf '\\374ber\\n' >&2")
		c.Stdin = strings.NewReader("ñ")
		var stderr bytes.Buffer
		c.Stderr = &stderr
		out, err = c.Output()
		if err != nil || strings.TrimSpace(string(out)) != "f1" || stderr.String() != "über\n" {
			t.Errorf("stdin/stderr: out %q stderr %q, %v", out, stderr.String(), err)
		}
		// Pipes.
		c = m.Command(ctx, "cat")
		w, _ := c.StdinPipe()
		r, _ := c.StdoutPipe()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "Ærø\n")
		w.Close()
		got, _ := io.ReadAll(r)
		if err := c.Wait(); err != nil || string(got) != "Ærø\n" {
			t.Errorf("pipes: %q, %v", got, err)
		}
		pin, err := m.PipeIn(ctx, "od -An -tx1 > "+filepath.Join(dir, "pin-"+m.opts.Transport.String()))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(pin, "é")
		if err := pin.Close(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "pin-"+m.opts.Transport.String())); strings.TrimSpace(string(b)) != "e9" {
			t.Errorf("PipeIn bytes: %q", b)
		}

		// Unencodable arguments: refused before anything runs.
		_, err = m.Capture(ctx, "echo", "ok", "日本")
		var ae *ArgError
		if !errors.Is(err, ErrEncoding) || !errors.As(err, &ae) || ae.Arg != "Args[2]" || !strings.Contains(err.Error(), "U+65E5") {
			t.Errorf("unencodable argument: %v, want an ArgError on Args[2] matching ErrEncoding", err)
		}
		// Unencodable stdin.
		c = m.Command(ctx, "cat")
		c.Stdin = strings.NewReader("price: 5€")
		if _, err := c.Output(); !errors.Is(err, ErrEncoding) {
			t.Errorf("unencodable stdin: %v, want ErrEncoding", err)
		}

		// Only arguments: the output is left alone.
		m.opts.Encoding, m.opts.ArgumentEncoding = nil, charmap.ISO8859_1
		out, err = m.Capture(ctx, "echo", "é")
		if err != nil || string(out) != "\xe9\n" {
			t.Errorf("ArgumentEncoding alone: %q, %v", out, err)
		}
		m.opts.ArgumentEncoding = nil
	})
}
