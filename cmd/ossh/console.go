package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// console serializes what ossh writes and keeps a progress display (a few
// lines) at the bottom of a terminal stderr, cleared before anything else
// is written and drawn again by the next update.
type console struct {
	mu     sync.Mutex
	stdout *os.File
	stderr *os.File
	tty    bool
	width  int // columns of the terminal, less one
	shown  int // lines of the progress display on the screen
}

func newConsole(stdout, stderr *os.File) *console {
	c := &console{stdout: stdout, stderr: stderr}
	if st, err := stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		c.tty = true
		c.width = progressWidth
		if ws, err := unix.IoctlGetWinsize(int(stderr.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 1 {
			c.width = int(ws.Col) - 1
		}
	}
	return c
}

// write writes b to f in one piece, below the progress display.
func (c *console) write(f *os.File, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	_, err := f.Write(b)
	return err
}

type consoleWriter struct {
	c *console
	f *os.File
}

func (w consoleWriter) Write(p []byte) (int, error) {
	if err := w.c.write(w.f, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *console) out() io.Writer { return consoleWriter{c, c.stdout} }
func (c *console) err() io.Writer { return consoleWriter{c, c.stderr} }

// progressWidth is the width progress lines are cut to when the terminal
// does not tell its own (less one column): a wrapped line would break the
// redraw.
const progressWidth = 79

// show replaces the progress display with lines; none clears it.
func (c *console) show(lines []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	if len(lines) == 0 {
		return
	}
	for i, l := range lines {
		if len(l) > c.width {
			lines[i] = l[:c.width]
		}
	}
	c.stderr.WriteString(strings.Join(lines, "\n"))
	c.shown = len(lines)
}

func (c *console) clearLocked() {
	if c.shown == 0 {
		return
	}
	s := "\r"
	if c.shown > 1 {
		s += fmt.Sprintf("\x1b[%dA", c.shown-1)
	}
	c.stderr.WriteString(s + "\x1b[J")
	c.shown = 0
}
