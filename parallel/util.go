package parallel

import (
	"bytes"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

func itoa(i int) string { return strconv.Itoa(i) }

func quote(s string) string { return strconv.Quote(s) }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// ExpandLabel returns s with "%LABEL%" replaced by label and "%%" by "%",
// scanning left to right; any other % is kept. It is what [Command] and the
// transfers do to their arguments, for the paths of [SFTP] and [Func]
// actions.
func ExpandLabel(s, label string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "%%"):
			b.WriteByte('%')
			i += 2
		case strings.HasPrefix(s[i:], "%LABEL%"):
			b.WriteString(label)
			i += len("%LABEL%")
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

func expandAll(args []string, label string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = ExpandLabel(a, label)
	}
	return out
}

// badLabelChars are the characters a label may not hold: those of
// Net::OpenSSH::Parallel, plus blanks (selectors trim them).
const badLabelChars = ",*!()<>/{} \t\r\n"

// compileSelector turns "web*, db1" into an anchored regexp: patterns are
// separated by commas (blanks around them ignored), and * matches any run
// of characters.
func compileSelector(sel string) (*regexp.Regexp, error) {
	var alts []string
	for _, p := range strings.Split(sel, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, errSelector(sel, "empty pattern")
		}
		parts := strings.Split(p, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		alts = append(alts, strings.Join(parts, ".*"))
	}
	return regexp.Compile("^(?:" + strings.Join(alts, "|") + ")$")
}

// lineWriter writes whole lines to w, each prefixed, holding mu for each
// line so that lines of different hosts never mix. Flush writes a final
// partial line (with a newline added).
type lineWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	i := bytes.LastIndexByte(l.buf, '\n')
	if i < 0 {
		if len(l.buf) < 64<<10 {
			return len(p), nil
		}
		i = len(l.buf) - 1 // an endless line: cut it
	}
	chunk := l.buf[:i+1]
	var out []byte
	for len(chunk) > 0 {
		j := bytes.IndexByte(chunk, '\n')
		var line []byte
		if j < 0 {
			line, chunk = chunk, nil
		} else {
			line, chunk = chunk[:j+1], chunk[j+1:]
		}
		out = append(out, l.prefix...)
		out = append(out, line...)
		if line[len(line)-1] != '\n' {
			out = append(out, '\n')
		}
	}
	l.buf = append(l.buf[:0], l.buf[i+1:]...)
	l.mu.Lock()
	_, err := l.w.Write(out)
	l.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *lineWriter) Flush() {
	if len(l.buf) == 0 {
		return
	}
	out := append(append(append([]byte(nil), l.prefix...), l.buf...), '\n')
	l.buf = l.buf[:0]
	l.mu.Lock()
	l.w.Write(out)
	l.mu.Unlock()
}

// syncBuffer is a bytes.Buffer safe for the two copying goroutines of a
// command.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.b = append(s.b, p...)
	s.mu.Unlock()
	return len(p), nil
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b...)
}
