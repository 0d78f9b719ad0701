package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// meter follows the bytes of each host's copy (put, get).
type meter struct {
	mu       sync.Mutex
	hosts    map[string]*xfer
	order    []string // labels in the order their copies started
	expected int64    // the bytes of the whole run when known (put), else -1
}

type xfer struct {
	done, total int64
	finished    bool
}

func newMeter(expected int64) *meter { return &meter{hosts: map[string]*xfer{}, expected: expected} }

// update is an Action.Progress function.
func (m *meter) update(label string, done, total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x := m.hosts[label]
	if x == nil {
		x = &xfer{}
		m.hosts[label] = x
		m.order = append(m.order, label)
	}
	x.done, x.total = done, total
}

// finish marks a host's copy as ended (its bar goes away).
func (m *meter) finish(label string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if x := m.hosts[label]; x != nil {
		x.finished = true
	}
}

// totals returns the bytes copied so far and the bytes to copy (-1 when
// not known).
func (m *meter) totals() (done, total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.hosts {
		done += x.done
	}
	return done, m.expected
}

// maxBars is the number of host bars shown at once.
const maxBars = 8

// bars returns one line per copy under way (at most maxBars, then a line
// counting the others).
func (m *meter) bars() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var lines []string
	more := 0
	for _, l := range m.order {
		x := m.hosts[l]
		if x.finished {
			continue
		}
		if len(lines) == maxBars {
			more++
			continue
		}
		lines = append(lines, fmt.Sprintf("%-24.24s %s", l, bar(x.done, x.total)))
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("... and %d more", more))
	}
	return lines
}

// bar draws "[=========>          ]  45%  12.0 MiB / 26.7 MiB".
func bar(done, total int64) string {
	const width = 20
	if total <= 0 {
		return fmt.Sprintf("[%s] %s", strings.Repeat("?", width), size(done))
	}
	n := int(min(done, total) * width / total)
	b := strings.Repeat("=", n)
	if n < width {
		b += ">" + strings.Repeat(" ", width-n-1)
	}
	return fmt.Sprintf("[%s] %3d%% %s / %s", b, min(done, total)*100/total, size(done), size(total))
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// statusText is the one-line state of a run:
// "ossh: 3/8 hosts done, 1 failed, 12s" and, with a meter, the bytes.
func statusText(done, failed, total int, el time.Duration, m *meter) string {
	s := fmt.Sprintf("ossh: %d/%d hosts done, %d failed, %.0fs", done, total, failed, el.Seconds())
	if m == nil {
		return s
	}
	d, t := m.totals()
	rate := ""
	if sec := el.Seconds(); sec > 0 {
		rate = fmt.Sprintf(" (%s/s)", size(int64(float64(d)/sec)))
	}
	if t >= 0 {
		return s + fmt.Sprintf(", %s of %s copied%s", size(d), size(t), rate)
	}
	return s + fmt.Sprintf(", %s copied%s", size(d), rate)
}
