package openssh

import (
	"strconv"
	"strings"
	"sync"
)

// varTable holds the variables of a Master for %NAME% expansion and
// whether expansion is on. It is safe for concurrent use.
type varTable struct {
	mu      sync.RWMutex
	enabled bool
	vars    map[string]string
}

// newVarTable returns a table holding a copy of initial.
func newVarTable(initial map[string]string, enabled bool) *varTable {
	t := &varTable{enabled: enabled, vars: make(map[string]string, len(initial))}
	for k, v := range initial {
		t.vars[k] = v
	}
	return t
}

// isReadOnlyVar reports whether name is one the Master answers itself.
func isReadOnlyVar(name string) bool {
	return name == "HOST" || name == "USER" || name == "PORT"
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// checkVarName reports whether name is usable as a variable name: one or
// more ASCII letters, digits or underscores.
func checkVarName(name string) error {
	if name == "" {
		return &ArgError{Arg: "variable name", Value: `""`, Reason: "must not be empty"}
	}
	for i := 0; i < len(name); i++ {
		if !isWordByte(name[i]) {
			return &ArgError{Arg: "variable name", Value: displayValue(name),
				Reason: "must hold only ASCII letters, digits and underscores"}
		}
	}
	return nil
}

// SetVar sets the variable name, which %name% then expands to when
// expansion is on (see [Master.SetExpandVars]). Names are made of ASCII
// letters, digits and underscores, and are case-sensitive. HOST, USER and
// PORT are read-only: they always expand to the master's own values. An
// invalid or read-only name gives an [*ArgError].
func (m *Master) SetVar(name, value string) error {
	if err := checkVarName(name); err != nil {
		return err
	}
	if isReadOnlyVar(name) {
		return &ArgError{Arg: "variable name", Value: displayValue(name), Reason: "read-only"}
	}
	if m.vars == nil {
		return &ArgError{Arg: "variable name", Value: displayValue(name), Reason: "master is not initialised"}
	}
	m.vars.mu.Lock()
	m.vars.vars[name] = value
	m.vars.mu.Unlock()
	return nil
}

// Var returns the value of the variable name: for HOST, USER and PORT the
// master's host, user and port ("" when left to ssh); for any other name
// the value set by [Master.SetVar] or [Options.Vars], or "" when unset.
func (m *Master) Var(name string) string {
	switch name {
	case "HOST":
		return m.host
	case "USER":
		return m.user
	case "PORT":
		if m.port == 0 {
			return ""
		}
		return strconv.Itoa(m.port)
	}
	if m.vars == nil {
		return ""
	}
	m.vars.mu.RLock()
	defer m.vars.mu.RUnlock()
	return m.vars.vars[name]
}

// SetExpandVars turns %NAME% expansion on or off. When it is on, command
// arguments, per-call ssh options and file names are expanded before use:
// %NAME% becomes the value of the variable NAME ("" when unset), %% becomes
// a single %, and any other % is left alone. Expansion happens before
// quoting, so a value is quoted like the rest of its argument.
func (m *Master) SetExpandVars(on bool) {
	if m.vars == nil {
		return
	}
	m.vars.mu.Lock()
	m.vars.enabled = on
	m.vars.mu.Unlock()
}

// ExpandVarsEnabled reports whether %NAME% expansion is on.
func (m *Master) ExpandVarsEnabled() bool {
	if m.vars == nil {
		return false
	}
	m.vars.mu.RLock()
	defer m.vars.mu.RUnlock()
	return m.vars.enabled
}

// expand returns s with its variables expanded, or s itself when expansion
// is off. It replaces each match of %(\w*)% (ASCII \w), scanned from left to
// right without overlap, by the variable's value, or by "%" for "%%".
func (m *Master) expand(s string) string {
	if !m.ExpandVarsEnabled() || strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := i + 1
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		if j < len(s) && s[j] == '%' {
			if name := s[i+1 : j]; name == "" {
				b.WriteByte('%')
			} else {
				b.WriteString(m.Var(name))
			}
			s = s[j+1:]
		} else {
			// No match at this %: it is literal; the scan goes on from
			// the next byte, which may start a match of its own.
			b.WriteByte('%')
			s = s[i+1:]
		}
	}
}

// expandAll returns ss with each element expanded. It returns ss itself
// when expansion is off.
func (m *Master) expandAll(ss []string) []string {
	if !m.ExpandVarsEnabled() {
		return ss
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = m.expand(s)
	}
	return out
}
