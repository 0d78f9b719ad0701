package openssh

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Info is what the master negotiated with the server while connecting
// (Net::SSH2's method, remote_hostkey and hostkey_hash queries), read from
// the master's debug log of the key exchange and host key check. Field
// values are OpenSSH's algorithm names.
type Info struct {
	// ServerVersion is the server's identification string, such as
	// "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"; ClientVersion is ssh's.
	ServerVersion string
	ClientVersion string
	// Kex is the key exchange algorithm, such as "curve25519-sha256".
	Kex string
	// HostKeyAlgorithm is the server's host key signature algorithm, such
	// as "ssh-ed25519" or "rsa-sha2-512".
	HostKeyAlgorithm string
	// CipherClientToServer and CipherServerToClient are the ciphers of
	// each direction.
	CipherClientToServer string
	CipherServerToClient string
	// MACClientToServer and MACServerToClient are the MACs of each
	// direction, "<implicit>" for ciphers that authenticate (AEAD).
	MACClientToServer string
	MACServerToClient string
	// CompressionClientToServer and CompressionServerToClient are "none",
	// "zlib@openssh.com" (after authentication) or "zlib".
	CompressionClientToServer string
	CompressionServerToClient string
	// HostKeyType and HostKeyFingerprint are the type of the server's host
	// key and its SHA256 fingerprint as ssh-keygen -l prints it
	// ("SHA256:..."); for a host certificate, HostKeyType is the
	// certificate's type.
	HostKeyType        string
	HostKeyFingerprint string
	// HostKey is the server's public key in authorized_keys format ("type
	// base64"), from the known-hosts line ssh matched it with; empty when
	// ssh did not find it in a known-hosts file (HostKeyOff, a host
	// certificate, or a key accepted as new).
	HostKey string
	// KnownHostsFile and KnownHostsLine locate that line.
	KnownHostsFile string
	KnownHostsLine int
}

// ErrNoInfo is returned by [Master.Info] when the master did not report
// what it negotiated: an external master, a master that has not logged in
// yet, an ssh older than 8.5 (which lacks LogVerbose) or one other than
// the "ssh" in PATH (Options.SSHPath naming another program), or a LogVerbose
// option in Options.MasterOpts that replaced the library's.
var ErrNoInfo = errors.New("openssh: the master did not report what it negotiated")

// Info returns what the current master process negotiated when it
// connected. After [Master.Restart] it describes the new connection.
func (m *Master) Info() (*Info, error) {
	m.mu.Lock()
	p := m.run
	running := m.state == stateRunning
	m.mu.Unlock()
	if p == nil || p.info == nil || !running {
		return nil, &Error{Code: CodeMasterFailed, Op: "info", Host: m.host, Err: ErrNoInfo}
	}
	inf, ok := p.info.result()
	if !ok {
		return nil, &Error{Code: CodeMasterFailed, Op: "info", Host: m.host, Err: ErrNoInfo,
			Detail: "no key exchange lines in the master's log"}
	}
	return inf, nil
}

// infoLogVerbose makes ssh log the key exchange (kex.c) and the host key
// check (sshconnect.c) at debug level whatever its LogLevel; those lines
// are all "debugN: " lines, which the stderr filter takes out.
const infoLogVerbose = "LogVerbose=kex.c:*:*,sshconnect.c:*:*"

// infoArgs returns the options that make the master report what it
// negotiated, or nil when the local ssh cannot.
func (m *Master) infoArgs() []string {
	// The version known is that of the ssh in PATH: another program given
	// by Options.SSHPath might not take the option.
	if m.sshArgv[0] != "ssh" || !localSSHVersion().atLeast(8, 5, 0) {
		return nil
	}
	return []string{"-o", infoLogVerbose}
}

// withInfoArgs inserts infoArgs before the "-S ctl -- host" tail of a
// master command line, after the MasterOpts (so that a user's own
// LogVerbose wins).
func (m *Master) withInfoArgs(argv []string) []string {
	extra := m.infoArgs()
	if extra == nil {
		return argv
	}
	i := len(argv) - len(m.targetArgs()) - 2
	return slices.Insert(slices.Clone(argv), i, extra...)
}

// userWantsDebug reports whether Options.MasterOpts asks ssh for debug
// output (-v, LogLevel, LogVerbose), which then reaches MasterStderr whole.
func (m *Master) userWantsDebug() bool {
	for i, a := range m.opts.MasterOpts {
		if verboseFlags.MatchString(a) {
			return true
		}
		l := strings.ToLower(a)
		if i > 0 && m.opts.MasterOpts[i-1] == "-o" || strings.HasPrefix(a, "-o") {
			l = strings.TrimPrefix(l, "-o")
			if strings.HasPrefix(l, "loglevel") || strings.HasPrefix(l, "logverbose") {
				return true
			}
		}
	}
	return false
}

// stderrSink returns the writer of a master process's stderr; withInfo
// says the master was asked for its info lines.
func (m *Master) stderrSink(p *masterProc, withInfo bool) *stderrFilter {
	if withInfo {
		p.info = &infoParser{}
	}
	return &stderrFilter{tail: p.stderr, user: m.opts.MasterStderr, info: p.info, keepDebug: m.userWantsDebug()}
}

// verboseFlags matches a cluster of ssh's argument-less flags with a -v.
var verboseFlags = regexp.MustCompile(`^-[1246AaCfGgKkMNnqsTtVXxYy]*v[1246AaCfGgKkMNnqsTtVvXxYy]*$`)

// debugLine matches the lines ssh's log writes at debug levels, with the
// location prefix LogVerbose adds: "debug1: kex.c:choose_kex():929
// (pid=7): kex: algorithm: ...".
var debugLine = regexp.MustCompile(`^debug[1-3]: (?:[\w.-]+:[\w.-]*\(\):\d+ \(pid=\d+\): )?(.*)$`)

// stderrFilter sits between the master's stderr and its readers: it hands
// the debug lines to the info parser and passes the others on to tail (the
// library's copy, for error messages) and user (Options.MasterStderr, may
// be nil), so that neither sees lines the library asked for. With
// keepDebug (the user asked for debug output) user gets every line.
type stderrFilter struct {
	tail      io.Writer
	user      io.Writer
	info      *infoParser
	keepDebug bool
	partial   []byte
}

func (f *stderrFilter) Write(p []byte) (int, error) {
	n := len(p)
	f.partial = append(f.partial, p...)
	for {
		i := bytes.IndexByte(f.partial, '\n')
		if i < 0 {
			break
		}
		f.line(f.partial[:i+1])
		f.partial = f.partial[i+1:]
	}
	// A partial line that cannot be a debug line goes on at once (a
	// message without a newline must not wait for the next one).
	if k := min(len(f.partial), 5); len(f.partial) > 64<<10 || k > 0 && !bytes.Equal(f.partial[:k], []byte("debug")[:k]) {
		f.flush()
	}
	if len(f.partial) == 0 {
		f.partial = nil
	}
	return n, nil
}

// flush passes on a last line without a newline.
func (f *stderrFilter) flush() {
	if len(f.partial) > 0 {
		f.line(f.partial)
		f.partial = nil
	}
}

func (f *stderrFilter) line(l []byte) {
	text := strings.TrimRight(string(l), "\r\n")
	if m := debugLine.FindStringSubmatch(text); m != nil {
		f.info.add(m[1])
		if f.keepDebug && f.user != nil {
			f.user.Write(l)
		}
		return
	}
	// LogVerbose also prefixes the other lines of the files it names
	// (errors from sshconnect.c, say) with their location: the user did
	// not ask for it, and error messages must not carry it.
	if loc := logLocation.FindIndex(l); loc != nil {
		if f.keepDebug && f.user != nil {
			f.user.Write(l)
		}
		l = l[loc[1]:]
		f.tail.Write(l)
		if !f.keepDebug && f.user != nil {
			f.user.Write(l)
		}
		return
	}
	f.tail.Write(l)
	if f.user != nil {
		f.user.Write(l)
	}
}

// logLocation matches the location prefix LogVerbose puts on a log line:
// "sshconnect.c:check_host_key():1140 (pid=7): ".
var logLocation = regexp.MustCompile(`^[\w.-]+\.c:[\w.-]*\(\):\d+ \(pid=\d+\): `)

// infoParser collects the Info of one master run from its debug lines.
type infoParser struct {
	mu   sync.Mutex
	info Info
	seen bool // a kex line was parsed
	done bool // the first key exchange is over: later ones are rekeys
}

var (
	kexDirRE  = regexp.MustCompile(`^kex: (client->server|server->client) cipher: (\S+) MAC: (\S+) compression: (\S+)`)
	remoteRE  = regexp.MustCompile(`^Remote protocol version (\S+), remote software version (.*)$`)
	hostKeyRE = regexp.MustCompile(`^Server host key: (\S+) (SHA256:\S+)`)
	foundRE   = regexp.MustCompile(`^Found key in (.+):(\d+)$`)
)

func (p *infoParser) add(line string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	in := &p.info
	switch {
	case strings.HasPrefix(line, "Local version string "):
		in.ClientVersion = strings.TrimPrefix(line, "Local version string ")
	case remoteRE.MatchString(line):
		m := remoteRE.FindStringSubmatch(line)
		in.ServerVersion = "SSH-" + m[1] + "-" + m[2]
	case strings.HasPrefix(line, "kex: algorithm: "):
		in.Kex = strings.TrimPrefix(line, "kex: algorithm: ")
		p.seen = true
	case strings.HasPrefix(line, "kex: host key algorithm: "):
		in.HostKeyAlgorithm = strings.TrimPrefix(line, "kex: host key algorithm: ")
	case kexDirRE.MatchString(line):
		m := kexDirRE.FindStringSubmatch(line)
		if m[1] == "client->server" {
			in.CipherClientToServer, in.MACClientToServer, in.CompressionClientToServer = m[2], m[3], m[4]
		} else {
			in.CipherServerToClient, in.MACServerToClient, in.CompressionServerToClient = m[2], m[3], m[4]
		}
	case hostKeyRE.MatchString(line):
		m := hostKeyRE.FindStringSubmatch(line)
		in.HostKeyType, in.HostKeyFingerprint = m[1], m[2]
	case foundRE.MatchString(line):
		m := foundRE.FindStringSubmatch(line)
		n, _ := strconv.Atoi(m[2])
		if key := knownHostsKey(m[1], n, in.HostKeyFingerprint); key != "" {
			in.HostKey, in.KnownHostsFile, in.KnownHostsLine = key, m[1], n
		}
	case strings.HasPrefix(line, "SSH2_MSG_NEWKEYS received"):
		p.done = p.seen
	}
}

// result returns a copy of the Info, and whether a key exchange was seen.
func (p *infoParser) result() (*Info, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.info
	return &in, p.seen
}

// knownHostsKey returns the key ("type base64") on line n of a known-hosts
// file when its SHA256 fingerprint is fp, or "".
func knownHostsKey(file string, n int, fp string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for i := 1; sc.Scan(); i++ {
		if i != n {
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && strings.HasPrefix(fields[0], "@") {
			fields = fields[1:] // a marker (@revoked is never "found")
		}
		if len(fields) < 3 {
			return ""
		}
		if keyFingerprint(fields[2]) != fp {
			return ""
		}
		return fields[1] + " " + fields[2]
	}
	return ""
}

// keyFingerprint returns the SHA256 fingerprint of a base64 key blob, as
// ssh-keygen -l prints it, or "".
func keyFingerprint(b64 string) string {
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(blob)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}
