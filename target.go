package openssh

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// Target is a parsed connection target, "[user[:password]@]host[:port]".
type Target struct {
	User        string // "" when the target names none
	Password    string // "" when the target names none
	HasPassword bool
	Host        string // without brackets
	Port        int    // 0 when the target names none
	IPv6        bool   // Host is an IPv6 address
}

// HostSquared returns the host as scp, rsync and sshfs need it: IPv6
// addresses in brackets.
func (t Target) HostSquared() string {
	if t.IPv6 {
		return "[" + t.Host + "]"
	}
	return t.Host
}

// ParseTarget parses a connection target as Net::OpenSSH does:
// "[user[:password]@]host[:port]". The last "@" separates the host, so a user
// or password may hold "@"; the first ":" of the part before it separates the
// password. An IPv6 address may stand bare ("::1") or in brackets
// ("[fe80::1%eth0]:2222"); a zone index is only allowed in brackets, and a
// port only after brackets.
//
// It is stricter than Perl: the port must be 1-65535 in decimal; a host
// that is empty, longer than 253 bytes, starts with "-", or holds white
// space, a control character or a shell metacharacter (one of
// ;|&$`()<>'"\{}) is refused, and so is a user name that starts with "-"
// or holds a control character or a shell metacharacter. ssh refuses such
// names itself since OpenSSH 9.6 (CVE-2023-51385: they reach the shell
// through %h and %u in ProxyCommand and Match exec); older clients do
// not. Errors are [*ArgError].
func ParseTarget(target string) (Target, error) {
	var t Target
	s := strings.Trim(target, " \t")
	if s == "" {
		return t, argErr("target", target, "empty")
	}
	hostPart := s
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		cred := s[:at]
		hostPart = s[at+1:]
		user := cred
		if c := strings.IndexByte(cred, ':'); c >= 0 {
			user = cred[:c]
			t.Password = cred[c+1:]
			t.HasPassword = true
		}
		if user == "" {
			return t, argErr("target", redactTarget(target, t), "empty user name")
		}
		t.User = user
	}
	shown := redactTarget(target, t)
	var portStr string
	hasPort := false
	switch {
	case strings.HasPrefix(hostPart, "["):
		end := strings.IndexByte(hostPart, ']')
		if end < 0 {
			return t, argErr("target", shown, "missing ] after IPv6 address")
		}
		t.Host = hostPart[1:end]
		rest := hostPart[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return t, argErr("target", shown, "unexpected text after ]")
			}
			portStr, hasPort = rest[1:], true
		}
		addr := t.Host
		if i := strings.IndexByte(addr, '%'); i >= 0 {
			if i == len(addr)-1 {
				return t, argErr("target", shown, "empty IPv6 zone")
			}
			addr = addr[:i]
		}
		ip, err := netip.ParseAddr(addr)
		if err != nil || !ip.Is6() {
			return t, argErr("target", shown, "not an IPv6 address in brackets")
		}
		t.IPv6 = true
	case strings.Count(hostPart, ":") >= 2:
		// A bare IPv6 address; it cannot carry a port or a zone.
		ip, err := netip.ParseAddr(hostPart)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return t, argErr("target", shown, "bad IPv6 address (a zone or port needs [brackets])")
		}
		t.Host, t.IPv6 = hostPart, true
	default:
		t.Host = hostPart
		if c := strings.IndexByte(hostPart, ':'); c >= 0 {
			t.Host, portStr, hasPort = hostPart[:c], hostPart[c+1:], true
		}
		if strings.ContainsAny(t.Host, "[]") {
			return t, argErr("target", shown, "brackets are only allowed around an IPv6 address")
		}
	}
	if err := checkHost(t.Host); err != nil {
		return t, err
	}
	if hasPort {
		p, err := parsePort(portStr)
		if err != nil {
			return t, err
		}
		t.Port = p
	}
	if err := checkUser(t.User); err != nil {
		return t, err
	}
	return t, nil
}

// redactTarget returns target with the password masked, for error messages.
func redactTarget(target string, t Target) string {
	if !t.HasPassword || t.Password == "" {
		return target
	}
	return strings.Replace(target, ":"+t.Password+"@", ":***@", 1)
}

// maxHostLen is the longest DNS name, in bytes.
const maxHostLen = 253

// shellMeta are the characters refused in host and user names: the ones
// OpenSSH 9.6 refuses (valid_hostname, valid_ruser) for CVE-2023-51385.
const shellMeta = ";|&$`()<>'\"\\{}"

// checkHost refuses host names that ssh would take as an option, that a
// shell would interpret, or that no resolver accepts.
func checkHost(h string) error {
	switch {
	case h == "":
		return argErr("host", h, "empty host name")
	case h[0] == '-':
		return argErr("host", h, "a host name must not start with '-'")
	case len(h) > maxHostLen:
		return &ArgError{Arg: "host", Value: shortQuote(h), Reason: fmt.Sprintf("host name longer than %d bytes (%d)", maxHostLen, len(h))}
	}
	for _, r := range h {
		if r == 0 || unicode.IsSpace(r) || unicode.IsControl(r) {
			return argErr("host", h, "white space or control character in host name")
		}
		if strings.ContainsRune(shellMeta, r) {
			return argErr("host", h, fmt.Sprintf("shell metacharacter %q in host name", r))
		}
	}
	return nil
}

// checkUser refuses user names that would be taken as options or that cannot
// be passed in an argument.
func checkUser(u string) error {
	if u == "" {
		return nil
	}
	if u[0] == '-' {
		return argErr("user", u, "a user name must not start with '-'")
	}
	for _, r := range u {
		if r == 0 || unicode.IsControl(r) {
			return argErr("user", u, "control character in user name")
		}
		if strings.ContainsRune(shellMeta, r) {
			return argErr("user", u, fmt.Sprintf("shell metacharacter %q in user name", r))
		}
	}
	return nil
}

// parsePort parses a decimal port 1-65535.
func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, argErr("port", s, "a port is 1-65535 in decimal")
	}
	p, _ := strconv.Atoi(s)
	if p < 1 || p > 65535 {
		return 0, argErr("port", s, "a port is 1-65535 in decimal")
	}
	return p, nil
}
