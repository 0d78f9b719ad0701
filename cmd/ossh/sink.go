package main

import (
	"io"
	"os"
	"path/filepath"
	"sync"
)

// sink receives one output stream of a host as it comes: it keeps the
// first bytes in memory (as many as its cap) and copies everything to a
// file when it has one.
type sink struct {
	mu    sync.Mutex
	keep  int // bytes to keep: < 0 all, 0 none
	buf   []byte
	total int64
	file  *os.File
	err   error // the first error writing the file
}

// Write never fails: an error writing the file is kept for close, so that
// a full disk does not kill the remote command.
func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total += int64(len(p))
	switch {
	case s.keep < 0:
		s.buf = append(s.buf, p...)
	case len(s.buf) < s.keep:
		s.buf = append(s.buf, p[:min(len(p), s.keep-len(s.buf))]...)
	}
	if s.file != nil && s.err == nil {
		_, s.err = s.file.Write(p)
	}
	return len(p), nil
}

// kept returns the bytes kept and whether some were left out.
func (s *sink) kept() ([]byte, bool) {
	if s == nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf, int64(len(s.buf)) < s.total
}

// close closes the file and returns the first error writing it.
func (s *sink) close() error {
	if s == nil || s.file == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.file.Close(); s.err == nil {
		s.err = err
	}
	s.file = nil
	return s.err
}

// hostOutput is a host's two sinks.
type hostOutput struct{ stdout, stderr *sink }

// output is the Runner's Output: each host's streams go to sinks that keep
// what the display needs (all for --inline, --json-max-output bytes for
// --json, nothing else) and write --outdir and --errdir files.
func (rp *reporter) output(label string) (io.Writer, io.Writer) {
	keep := 0
	switch {
	case rp.c.inline:
		keep = -1
	case rp.c.json && rp.c.jsonCap == 0:
		keep = -1
	case rp.c.json:
		keep = rp.c.jsonCap
	}
	o := &hostOutput{stdout: &sink{keep: keep}, stderr: &sink{keep: keep}}
	if rp.c.outdir != "" {
		o.stdout.file = rp.create(rp.c.outdir, label)
	}
	if rp.c.errdir != "" {
		o.stderr.file = rp.create(rp.c.errdir, label)
	}
	rp.mu.Lock()
	rp.outputs[label] = o
	rp.mu.Unlock()
	return o.stdout, o.stderr
}

// create creates dir/label, or reports why it cannot and returns nil.
func (rp *reporter) create(dir, label string) *os.File {
	f, err := os.Create(filepath.Join(dir, label))
	if err != nil {
		rp.fileError(err)
		return nil
	}
	return f
}

// fileError reports an output file that could not be written: ossh then
// exits with status 4.
func (rp *reporter) fileError(err error) {
	rp.mu.Lock()
	if rp.writeErr == nil {
		rp.writeErr = err
	}
	rp.mu.Unlock()
	rp.con.write(rp.con.stderr, []byte("ossh: "+err.Error()+"\n"))
}
