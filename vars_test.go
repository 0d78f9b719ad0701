package openssh

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func newVarsMaster(vars map[string]string, on bool) *Master {
	return &Master{user: "testu", host: "127.0.0.1", port: 22877, vars: newVarTable(vars, on), quoter: POSIX}
}

func TestExpand(t *testing.T) {
	m := newVarsMaster(map[string]string{"ID": "42", "FOO": "Bar", "a": "x", "P": "%HOST%"}, true)
	tests := []struct{ in, want string }{
		// The example verified against Net::OpenSSH (notes §6).
		{"%HOST%-%USER%-%PORT%-%ID%-%%-%NOPE%-%-%a b%", "127.0.0.1-testu-22877-42-%--%-%a b%"},
		{"foo%FOO%foo%%foo", "fooBarfoo%foo"}, // t/1_run.t 36-37
		{"", ""},
		{"%", "%"},
		{"%%", "%"},
		{"%%%", "%%"},
		{"%%%%", "%%"},
		{"%FOO", "%FOO"},
		{"FOO%", "FOO%"},
		{"%FOO%%FOO%", "BarBar"},
		{"%FOO%FOO%", "BarFOO%"},
		{"%x%FOO%", "FOO%"},      // %x% matches first, unknown gives ""
		{"%-%FOO%", "%-Bar"},     // no match at the first %, the scan goes on
		{"%a%", "x"},             // names are case-sensitive
		{"%A%", ""},              //
		{"%host%", ""},           // only HOST is built in
		{"%P%", "%HOST%"},        // values are not expanded again
		{"%\u00e9%", "%\u00e9%"}, // \w is ASCII
		{"%F-O%", "%F-O%"},
		{"100%", "100%"},
		{"%%FOO%%", "%FOO%"},
	}
	for _, tt := range tests {
		if got := m.expand(tt.in); got != tt.want {
			t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	got := m.expandAll([]string{"%FOO%", "x"})
	if len(got) != 2 || got[0] != "Bar" || got[1] != "x" {
		t.Errorf("expandAll = %q", got)
	}
}

func TestExpandDisabled(t *testing.T) {
	m := newVarsMaster(map[string]string{"FOO": "Bar"}, false)
	if m.ExpandVarsEnabled() {
		t.Fatal("enabled")
	}
	if got := m.expand("%FOO%%%"); got != "%FOO%%%" {
		t.Errorf("expand = %q", got)
	}
	m.SetExpandVars(true)
	if !m.ExpandVarsEnabled() || m.expand("%FOO%") != "Bar" {
		t.Error("SetExpandVars(true) did not take")
	}
	for _, z := range []*Master{{}, {host: "h"}} {
		z.SetExpandVars(true) // no table: stays off
		if z.ExpandVarsEnabled() || z.expand("%HOST%") != "%HOST%" || z.Var("FOO") != "" {
			t.Errorf("Master without vars expands")
		}
		if err := z.SetVar("FOO", "x"); err == nil {
			t.Error("SetVar without a table succeeded")
		}
	}
}

func TestVarAndSetVar(t *testing.T) {
	init := map[string]string{"X": "1"}
	m := newVarsMaster(init, true)
	init["X"] = "changed"
	if got := m.Var("X"); got != "1" {
		t.Errorf("Var(X) = %q: table shares the caller's map", got)
	}
	for name, want := range map[string]string{"HOST": "127.0.0.1", "USER": "testu", "PORT": "22877", "NOPE": ""} {
		if got := m.Var(name); got != want {
			t.Errorf("Var(%s) = %q, want %q", name, got, want)
		}
	}
	m.port = 0
	if got := m.Var("PORT"); got != "" {
		t.Errorf("Var(PORT) with port 0 = %q", got)
	}
	if err := m.SetVar("My_Var9", "v"); err != nil || m.Var("My_Var9") != "v" {
		t.Errorf("SetVar: %v, %q", err, m.Var("My_Var9"))
	}
	if err := m.SetVar("X", ""); err != nil || m.expand("[%X%]") != "[]" {
		t.Errorf("SetVar empty: %v", err)
	}
	tests := []struct {
		name, reason string
	}{
		{"HOST", "read-only"}, {"USER", "read-only"}, {"PORT", "read-only"},
		{"", "empty"}, {"a b", "letters"}, {"é", "letters"}, {"%X%", "letters"}, {"a-b", "letters"},
	}
	for _, tt := range tests {
		err := m.SetVar(tt.name, "x")
		var ae *ArgError
		if !errors.As(err, &ae) || !errors.Is(err, ErrInvalid) {
			t.Errorf("SetVar(%q) = %v, want *ArgError", tt.name, err)
		} else if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("SetVar(%q) = %v, want a reason with %q", tt.name, err, tt.reason)
		}
	}
	if m.Var("HOST") != "127.0.0.1" {
		t.Error("HOST changed")
	}
}

func TestVarsConcurrent(t *testing.T) {
	m := newVarsMaster(nil, true)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				name := fmt.Sprintf("V%d", i)
				if err := m.SetVar(name, fmt.Sprint(j)); err != nil {
					t.Error(err)
					return
				}
				_ = m.expand("%" + name + "%%HOST%")
				m.SetExpandVars(j%2 == 0)
				_ = m.ExpandVarsEnabled()
				if _, err := m.ShellQuote("%V1%", "a b"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
