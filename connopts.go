package openssh

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/shlex"
)

// The typed connection options of [Options] (method preferences, keepalive,
// agent, certificates, jump hosts) are Net::SSH2's method preferences mapped
// onto ssh's own -o options. This file validates them and builds the -o
// arguments of the master.

// methodList describes one algorithm-list option.
type methodList struct {
	field  string   // "Options.Ciphers"
	option string   // ssh_config keyword
	query  string   // ssh -Q argument that lists the supported names
	names  []string // the value
}

func (m *Master) methodLists() []methodList {
	o := &m.opts
	return []methodList{
		{"Options.KexAlgorithms", "KexAlgorithms", "kex", o.KexAlgorithms},
		{"Options.HostKeyAlgorithms", "HostKeyAlgorithms", "HostKeyAlgorithms", o.HostKeyAlgorithms},
		{"Options.Ciphers", "Ciphers", "cipher", o.Ciphers},
		{"Options.MACs", "MACs", "mac", o.MACs},
	}
}

// validateConnOpts checks the typed connection options before ssh starts.
// Algorithm names are checked against what the local ssh supports
// ("ssh -Q"), so a typo is refused here rather than by ssh later.
func (m *Master) validateConnOpts() error {
	o := &m.opts
	for _, l := range m.methodLists() {
		if err := validateMethodList(l, o.SSHPath); err != nil {
			return err
		}
	}
	if o.ServerAliveInterval < 0 {
		return &ArgError{Arg: "Options.ServerAliveInterval", Value: o.ServerAliveInterval.String(), Reason: "negative"}
	}
	if o.ServerAliveCountMax < 0 {
		return &ArgError{Arg: "Options.ServerAliveCountMax", Value: strconv.Itoa(o.ServerAliveCountMax), Reason: "negative"}
	}
	if o.ConnectTimeout < 0 {
		return &ArgError{Arg: "Options.ConnectTimeout", Value: o.ConnectTimeout.String(), Reason: "negative"}
	}
	if o.ProxyJump != "" {
		if o.ProxyCommand != "" {
			return &ArgError{Arg: "Options.ProxyJump", Value: fmt.Sprintf("%q", o.ProxyJump), Reason: "conflicts with Options.ProxyCommand (ssh would use only one)"}
		}
		if err := checkProxyJump(o.ProxyJump); err != nil {
			return err
		}
	}
	return nil
}

// validateMethodList checks one algorithm list: names made of the
// characters ssh uses, an optional "+", "-" or "^" prefix on the first name
// (append to, remove from, or put first in ssh's default list), wildcards
// only in a "-" list, and every plain name known to the local ssh.
func validateMethodList(l methodList, sshPath string) error {
	if len(l.names) == 0 {
		return nil
	}
	prefix := ""
	for i, n := range l.names {
		name := n
		if i == 0 && name != "" && strings.ContainsRune("+-^", rune(name[0])) {
			prefix, name = name[:1], name[1:]
		}
		bad := func(reason string) error {
			return &ArgError{Arg: fmt.Sprintf("%s[%d]", l.field, i), Value: shortQuote(n), Reason: reason}
		}
		if name == "" {
			return bad("empty algorithm name")
		}
		for _, c := range name {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("@.-_+", c):
			case (c == '*' || c == '?') && prefix == "-":
			default:
				return bad(fmt.Sprintf("character %q is not allowed in an algorithm name", c))
			}
		}
		if strings.ContainsAny(name, "*?") {
			continue
		}
		if known := supportedAlgorithms(sshPath, l.query); known != nil && !known[name] {
			return bad("not supported by the local ssh (see ssh -Q " + l.query + ")")
		}
	}
	return nil
}

var algoCache sync.Map // "sshPath\x00query" -> map[string]bool (nil when unknown)

// supportedAlgorithms returns the names "ssh -Q query" lists, or nil when
// the query fails (an old ssh): then only the syntax is checked.
func supportedAlgorithms(sshPath, query string) map[string]bool {
	key := sshPath + "\x00" + query
	if v, ok := algoCache.Load(key); ok {
		return v.(map[string]bool)
	}
	argv := []string{"ssh"}
	if sshPath != "" {
		if a, err := shlex.Split(sshPath); err == nil && len(a) > 0 {
			argv = a
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.Command(argv[0], append(argv[1:], "-Q", query)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := runChild(ctx, cmd)
	out := stdout.Bytes()
	var known map[string]bool
	if err == nil {
		known = map[string]bool{}
		for _, f := range strings.Fields(string(out)) {
			known[f] = true
		}
		if len(known) == 0 {
			known = nil
		}
	}
	algoCache.Store(key, known)
	return known
}

// checkStringOptions refuses, before anything else looks at them, the
// string options that ssh could not take as they are: a NUL anywhere; a
// newline, carriage return or double quote in a path; a newline or
// carriage return in SSHPath and ProxyCommand (which hold words).
func checkStringOptions(o *Options) error {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"Options.MasterOpts", o.MasterOpts},
		{"Options.DefaultSSHOpts", o.DefaultSSHOpts},
	} {
		if err := checkArgs(c.name, c.args); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, value string }{
		{"Options.KeyPath", o.KeyPath},
		{"Options.ConfigFile", o.ConfigFile},
		{"Options.CtlPath", o.CtlPath},
		{"Options.CtlDir", o.CtlDir},
		{"Options.IdentityAgent", o.IdentityAgent},
		{"Options.CertificateFile", o.CertificateFile},
		{"Options.KnownHostsFile", o.KnownHostsFile},
	} {
		if err := checkPathOption(f.name, f.value); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, value string }{
		{"Options.SSHPath", o.SSHPath},
		{"Options.ProxyCommand", o.ProxyCommand},
	} {
		if strings.ContainsAny(f.value, "\x00\n\r") {
			return &ArgError{Arg: f.name, Value: shortQuote(f.value), Reason: "NUL or line break in a command", Err: ErrEncoding}
		}
	}
	return nil
}

// checkPathOption refuses a file option that ssh could not take as one path.
func checkPathOption(name, v string) error {
	if v == "" {
		return nil
	}
	if strings.ContainsAny(v, "\x00\n\r\"") {
		return &ArgError{Arg: name, Value: shortQuote(v), Reason: "NUL, line break or double quote in a path", Err: ErrEncoding}
	}
	return nil
}

// checkProxyJump checks a ProxyJump value: "none" or a comma-separated list
// of [user@]host[:port] or ssh:// URIs, none starting with "-".
func checkProxyJump(v string) error {
	if v == "none" {
		return nil
	}
	for _, hop := range strings.Split(v, ",") {
		bad := func(reason string) error {
			return &ArgError{Arg: "Options.ProxyJump", Value: shortQuote(v), Reason: reason}
		}
		if hop == "" {
			return bad("empty jump host")
		}
		if strings.HasPrefix(hop, "-") {
			return bad("a jump host cannot start with \"-\"")
		}
		if strings.ContainsAny(hop, " \t\r\n\x00'\"\\") {
			return bad("white space, quotes or backslashes in a jump host")
		}
	}
	return nil
}

// quotePathArg renders a path for an ssh -o value: "%" doubled (ssh expands
// %-tokens in these options) and double quotes around values with blanks.
func quotePathArg(p string) string {
	p = strings.ReplaceAll(p, "%", "%%")
	if strings.ContainsAny(p, " \t") {
		return `"` + p + `"`
	}
	return p
}

// seconds renders a duration as whole seconds for ssh, rounded up, at least 1.
func seconds(d time.Duration) string {
	s := (d + time.Second - 1) / time.Second
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(int64(s), 10)
}

// connArgs returns the -o options of the typed connection options for the
// master (ServerAliveInterval is placed by masterArgv itself).
func (m *Master) connArgs() []string {
	o := &m.opts
	var a []string
	opt := func(k, v string) { a = append(a, "-o", k+"="+v) }
	for _, l := range m.methodLists() {
		if len(l.names) > 0 {
			opt(l.option, strings.Join(l.names, ","))
		}
	}
	if o.Compression {
		opt("Compression", "yes")
	}
	if o.ServerAliveCountMax > 0 {
		opt("ServerAliveCountMax", strconv.Itoa(o.ServerAliveCountMax))
	}
	if o.ConnectTimeout > 0 {
		opt("ConnectTimeout", seconds(o.ConnectTimeout))
	}
	if o.IdentityAgent != "" {
		opt("IdentityAgent", quotePathArg(o.IdentityAgent))
	}
	if o.IdentitiesOnly {
		opt("IdentitiesOnly", "yes")
	}
	if o.CertificateFile != "" {
		opt("CertificateFile", quotePathArg(o.CertificateFile))
	}
	if o.ProxyJump != "" {
		opt("ProxyJump", o.ProxyJump)
	}
	return a
}
