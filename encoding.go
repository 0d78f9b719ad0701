package openssh

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// argEncoding and streamEncoding return the encodings in force, or nil.
func (m *Master) argEncoding() encoding.Encoding {
	if m.opts.ArgumentEncoding != nil {
		return m.opts.ArgumentEncoding
	}
	return m.opts.Encoding
}

func (m *Master) streamEncoding() encoding.Encoding {
	if m.opts.StreamEncoding != nil {
		return m.opts.StreamEncoding
	}
	return m.opts.Encoding
}

// encodeLine encodes a quoted command line with the argument encoding.
// Quoting is ASCII, so this equals encoding each argument before quoting
// for the ASCII-compatible encodings shells use, and the quoters only ever
// see UTF-8. On failure the error names the first argument at fault.
func (c *Cmd) encodeLine(line string) (string, error) {
	enc := c.m.argEncoding()
	if enc == nil {
		return line, nil
	}
	out, err := enc.NewEncoder().String(line)
	if err == nil {
		return out, nil
	}
	arg, val := "Args", line
	for i, a := range c.m.expandAll(c.Args) {
		if _, e := enc.NewEncoder().String(a); e != nil {
			arg, val = "Args["+strconv.Itoa(i)+"]", a
			break
		}
	}
	return "", &ArgError{Arg: arg, Value: shortQuote(val), Reason: "cannot be encoded: " + badRune(enc, val), Err: ErrEncoding}
}

// badRune describes the first character of s that enc cannot represent.
func badRune(enc encoding.Encoding, s string) string {
	for _, r := range s {
		if _, err := enc.NewEncoder().String(string(r)); err != nil {
			if r == utf8.RuneError {
				return "invalid UTF-8"
			}
			return fmt.Sprintf("no %c (%U) in the encoding", r, r)
		}
	}
	return "the encoding refused it"
}

// encodeStreams wraps the streams the library copies with the stream
// encoding: readers are encoded, writers decoded. It runs at the start of
// Start; the writers are flushed after the copying (afterW).
func (c *Cmd) encodeStreams() {
	enc := c.m.streamEncoding()
	if enc == nil {
		return
	}
	in, out, errw := c.defaults()
	if in != nil {
		if _, isFile := in.(*os.File); !isFile {
			c.Stdin = &encReader{r: transform.NewReader(in, enc.NewEncoder()), host: c.m.host}
		}
	}
	wrap := func(w io.Writer) io.Writer {
		if w == nil || w == io.Discard {
			return w
		}
		if _, isFile := w.(*os.File); isFile {
			return w
		}
		tw := transform.NewWriter(w, enc.NewDecoder())
		c.afterW = append(c.afterW, tw)
		return tw
	}
	if out != nil {
		c.Stdout = wrap(out)
	}
	if errw != nil {
		c.Stderr = wrap(errw)
	}
}

// encReader reports an unencodable input as an error matching ErrEncoding.
type encReader struct {
	r    io.Reader
	host string
}

func (e *encReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, ErrEncoding) {
		err = &Error{Code: CodeEncodingError, Op: "encode stdin", Host: e.host, Err: err}
	}
	return n, err
}

// encodePipeIn and encodePipeOut wrap the pipes of StdinPipe, StdoutPipe
// and StderrPipe.
func (c *Cmd) encodePipeIn(w io.WriteCloser) io.WriteCloser {
	enc := c.m.streamEncoding()
	if enc == nil {
		return w
	}
	return &encWriteCloser{tw: transform.NewWriter(w, enc.NewEncoder()), w: w, host: c.m.host}
}

func (c *Cmd) encodePipeOut(r io.ReadCloser) io.ReadCloser {
	enc := c.m.streamEncoding()
	if enc == nil {
		return r
	}
	return &encReadCloser{Reader: transform.NewReader(r, enc.NewDecoder()), c: r}
}

type encWriteCloser struct {
	tw   *transform.Writer
	w    io.WriteCloser
	host string
}

func (e *encWriteCloser) Write(p []byte) (int, error) {
	n, err := e.tw.Write(p)
	if err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
		var pe *os.PathError
		if !errors.As(err, &pe) {
			err = &Error{Code: CodeEncodingError, Op: "encode stdin", Host: e.host, Err: err}
		}
	}
	return n, err
}

func (e *encWriteCloser) Close() error {
	err := e.tw.Close() // flushes, does not close w
	if cerr := e.w.Close(); err == nil {
		err = cerr
	}
	return err
}

type encReadCloser struct {
	io.Reader
	c io.Closer
}

func (e *encReadCloser) Close() error { return e.c.Close() }
