package openssh

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ScpOpts are the options of [Master.ScpGet] and [Master.ScpPut]. A nil
// *ScpOpts is the same as the zero value: quiet, non-recursive, no globbing,
// the protocol the local scp uses by default.
type ScpOpts struct {
	// Glob lets wildcards in the source paths match files: on get, the
	// remote side expands them; on put, they are expanded locally with
	// [filepath.Glob], and each pattern must match a file: one that
	// matches nothing is an [*ArgError] naming it (and matching
	// fs.ErrNotExist). Without Glob, "*", "?" and "[" are ordinary characters
	// of a file name. (Net::OpenSSH's glob_flags have no Go counterpart:
	// filepath.Glob has no brace or tilde expansion.)
	Glob bool
	// Recursive copies whole directories (-r).
	Recursive bool
	// CopyAttrs preserves modification times, access times and modes
	// (-p).
	CopyAttrs bool
	// BWLimit limits the bandwidth, in Kbit/s (-l); 0 means no limit.
	BWLimit int
	// Verbose makes scp and ssh print debugging messages (-v) on Stderr,
	// and turns off the default -q.
	Verbose bool
	// NoQuiet leaves out -q, which scp gets by default (Net::OpenSSH's
	// quiet => 0): scp then prints its warnings, and a progress meter
	// when Stdout is a terminal.
	NoQuiet bool
	// Legacy forces the old SCP/RCP protocol (-O), in which remote paths are
	// shell-quoted for the remote shell. The default is the local scp's:
	// SFTP from OpenSSH 9.0 on, legacy before.
	Legacy bool
	// Stdout and Stderr receive scp's output. nil discards stdout; stderr is
	// always also kept (its tail) for the error message.
	Stdout io.Writer
	Stderr io.Writer
	// ExtraFlags are more scp flags (for example "-3", "-C", "-c cipher"
	// as two elements), placed first on the command line.
	ExtraFlags []string
	// Timeout bounds the whole transfer; when it expires scp is killed and
	// the error matches [ErrTimeout]. Zero means only ctx bounds it.
	Timeout time.Duration
	// Progress, when set, is told how far the transfer is. scp reports
	// nothing without a terminal, so the library measures it: on get, done
	// is the size of the local destination files (the names given, walked
	// when Recursive; files matched by a remote glob are counted only at
	// the end) and total is unknown until the end; on put, total is the
	// size of the local sources and done jumps from 0 to total when scp
	// succeeds. Use SFTP for byte-exact progress.
	Progress ProgressFunc
}

// scpMode decides the protocol: legacy (-O) or SFTP.
func scpLegacy(o *ScpOpts) bool {
	if slices.Contains(o.ExtraFlags, "-s") {
		return false
	}
	return o.Legacy || slices.Contains(o.ExtraFlags, "-O") || !scpDefaultsToSFTP()
}

// scpGlobEscape escapes the characters that SFTP-mode scp would take as
// wildcards, so that the name is matched literally.
func scpGlobEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '*', '?', '[', ']':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// legacyName refuses a source whose base name holds a newline: the legacy
// protocol sends names one per line, and scp mangles them.
func legacyName(arg, p string) error {
	if strings.Contains(path.Base(p), "\n") {
		return &ArgError{Arg: arg, Value: shortQuote(p), Reason: "the legacy scp protocol cannot carry a newline in a file name (use SFTP mode)"}
	}
	return nil
}

// localColon matches local paths that scp would take for remote ones.
var localColon = regexp.MustCompile(`^[^/]*:`)

// localArg makes a local path safe as an scp or rsync argument.
func localArg(p string) string {
	if localColon.MatchString(p) {
		return "./" + p
	}
	return p
}

// remotePrefix returns "[user@]host_squared:".
func (m *Master) remotePrefix() string {
	h := m.host
	if strings.IndexByte(h, ':') >= 0 {
		h = "[" + h + "]"
	}
	if m.user != "" {
		return m.user + "@" + h + ":"
	}
	return h + ":"
}

// scpArgv builds the scp command line up to and including "--".
func (m *Master) scpArgv(o *ScpOpts, legacy, get bool) ([]string, error) {
	if len(m.sshArgv) != 1 {
		return nil, &ArgError{Arg: "Options.SSHPath", Value: fmt.Sprintf("%q", m.opts.SSHPath), Reason: "scp runs ssh through -S, which takes a program without arguments"}
	}
	if o.BWLimit < 0 {
		return nil, &ArgError{Arg: "ScpOpts.BWLimit", Value: strconv.Itoa(o.BWLimit), Reason: "negative"}
	}
	if o.Timeout < 0 {
		return nil, &ArgError{Arg: "ScpOpts.Timeout", Value: o.Timeout.String(), Reason: "negative"}
	}
	if err := checkArgs("ScpOpts.ExtraFlags", o.ExtraFlags); err != nil {
		return nil, err
	}
	argv := []string{"scp"}
	argv = append(argv, o.ExtraFlags...)
	if o.Legacy && !slices.Contains(o.ExtraFlags, "-O") {
		argv = append(argv, "-O")
	}
	if !o.Verbose && !o.NoQuiet {
		argv = append(argv, "-q")
	}
	if o.Verbose {
		argv = append(argv, "-v")
	}
	if o.Recursive {
		argv = append(argv, "-r")
	}
	if o.CopyAttrs {
		argv = append(argv, "-p")
	}
	if o.BWLimit > 0 {
		argv = append(argv, "-l", strconv.Itoa(o.BWLimit))
	}
	if legacy && get && localSSHVersion().atLeast(8, 0, 0) {
		// The server echoes names unquoted; without -T the client's
		// name check (CVE-2019-6111) refuses them.
		argv = append(argv, "-T")
	}
	if m.opts.ConfigFile != "" {
		argv = append(argv, "-F", m.opts.ConfigFile)
	}
	argv = append(argv,
		"-o", "ControlPath="+m.ctlPath,
		"-o", "ControlMaster=no",
		"-o", "ProxyCommand=false",
		"-S", m.sshArgv[0])
	if m.port != 0 {
		argv = append(argv, "-P", strconv.Itoa(m.port))
	}
	return append(argv, "--"), nil
}

// ScpGet copies remote files to the local path local with scp through the
// master, and waits for it to finish. local "" means the current directory;
// with several sources (or a glob) it must be a directory.
//
// Remote paths are file names, not shell words: they reach the remote side
// as they are in SFTP mode, and shell-quoted in legacy mode (with scp's -T,
// which the quoting needs). Relative paths are relative to the remote home.
// The legacy protocol sends base names one per line, so in legacy mode a
// source whose base name holds a newline is refused with an [*ArgError].
//
// A failed scp returns an [*ExitError] whose message ends with scp's last
// error line (for example "scp: /tmp/x: No such file or directory");
// bad arguments return an [*ArgError] before anything runs.
func (m *Master) ScpGet(ctx context.Context, remote []string, local string, opts *ScpOpts) error {
	t, err := m.ScpGetAsync(ctx, remote, local, opts)
	if err != nil {
		return err
	}
	return t.Wait()
}

// ScpGetAsync starts [Master.ScpGet] and returns at once. ctx bounds the
// whole transfer: when it is done, scp is killed.
func (m *Master) ScpGetAsync(ctx context.Context, remote []string, local string, opts *ScpOpts) (*Transfer, error) {
	o := opts
	if o == nil {
		o = &ScpOpts{}
	}
	if err := checkGetArgs(remote, local); err != nil {
		return nil, err
	}
	legacy := scpLegacy(o)
	argv, err := m.scpArgv(o, legacy, true)
	if err != nil {
		return nil, err
	}
	remote = m.expandAll(remote)
	local = m.expand(local)
	if legacy {
		for i, r := range remote {
			if err := legacyName("remote["+strconv.Itoa(i)+"]", r); err != nil {
				return nil, err
			}
		}
	}
	if local == "" {
		local = "."
	}
	for i, r := range remote {
		var p string
		switch {
		case legacy && o.Glob:
			p, err = m.quoter.QuoteGlob(r)
		case legacy:
			p, err = m.quoter.Quote(r)
		case o.Glob:
			p = r
		default:
			p = scpGlobEscape(r)
		}
		if err != nil {
			return nil, &ArgError{Arg: "remote[" + strconv.Itoa(i) + "]", Value: shortQuote(r), Reason: err.Error(), Err: ErrEncoding}
		}
		argv = append(argv, m.remotePrefix()+p)
	}
	argv = append(argv, localArg(local))
	s := transferSpec{op: "scp get", argv: argv, stdout: o.Stdout, stderr: o.Stderr, timeout: o.Timeout,
		program: "scp", progress: o.Progress}
	if o.Progress != nil {
		dests := scpGetDests(remote, local, o.Glob)
		s.measure = func() (int64, int64) {
			var n int64
			for _, d := range dests {
				n += treeSize(d)
			}
			return n, -1
		}
		s.final = func() (int64, int64) {
			n, _ := s.measure()
			if o.Glob || len(dests) == 0 {
				n = treeSize(local)
			}
			return n, n
		}
	}
	return m.startTransfer(ctx, s)
}

// scpGetDests lists the local paths a get writes, for progress: the
// destination itself for one source into a non-directory, else the base
// names of the sources in it. Glob sources are left out.
func scpGetDests(remote []string, local string, glob bool) []string {
	st, err := os.Stat(local)
	isDir := err == nil && st.IsDir()
	var d []string
	for _, r := range remote {
		if glob && strings.ContainsAny(r, "*?[") {
			continue
		}
		if !isDir {
			return []string{local}
		}
		d = append(d, filepath.Join(local, path.Base(r)))
	}
	return d
}

// ScpPut copies local files to the remote path remote with scp through the
// master, and waits for it to finish. remote "" means the remote home
// directory; with several sources it must be a directory. With
// [ScpOpts.Glob], the local paths are patterns expanded by
// [filepath.Glob].
//
// The remote path is a file name, passed as ScpGet passes its sources.
// Errors are those of [Master.ScpGet].
func (m *Master) ScpPut(ctx context.Context, local []string, remote string, opts *ScpOpts) error {
	t, err := m.ScpPutAsync(ctx, local, remote, opts)
	if err != nil {
		return err
	}
	return t.Wait()
}

// ScpPutAsync starts [Master.ScpPut] and returns at once. ctx bounds the
// whole transfer: when it is done, scp is killed.
func (m *Master) ScpPutAsync(ctx context.Context, local []string, remote string, opts *ScpOpts) (*Transfer, error) {
	o := opts
	if o == nil {
		o = &ScpOpts{}
	}
	srcs, err := m.localSources(local, o.Glob)
	if err != nil {
		return nil, err
	}
	if err := checkArgs("remote", []string{remote}); err != nil {
		return nil, err
	}
	legacy := scpLegacy(o)
	argv, err := m.scpArgv(o, legacy, false)
	if err != nil {
		return nil, err
	}
	remote = m.expand(remote)
	if legacy {
		for i, l := range srcs {
			if err := legacyName("local["+strconv.Itoa(i)+"]", l); err != nil {
				return nil, err
			}
		}
	}
	for _, l := range srcs {
		argv = append(argv, localArg(l))
	}
	target := remote
	if legacy && remote != "" {
		if target, err = m.quoter.Quote(remote); err != nil {
			return nil, &ArgError{Arg: "remote", Value: shortQuote(remote), Reason: err.Error(), Err: ErrEncoding}
		}
	}
	argv = append(argv, m.remotePrefix()+target)
	s := transferSpec{op: "scp put", argv: argv, stdout: o.Stdout, stderr: o.Stderr, timeout: o.Timeout,
		program: "scp", progress: o.Progress}
	if o.Progress != nil {
		var total int64
		for _, l := range srcs {
			total += treeSize(l)
		}
		s.measure = func() (int64, int64) { return 0, total }
		s.final = func() (int64, int64) { return total, total }
		o.Progress(0, total)
	}
	return m.startTransfer(ctx, s)
}

// checkGetArgs checks the sources and the target of a get (scp or rsync):
// at least one remote source, no NUL byte anywhere.
func checkGetArgs(remote []string, local string) error {
	if len(remote) == 0 {
		return &ArgError{Arg: "remote", Reason: "no source file"}
	}
	if err := checkArgs("remote", remote); err != nil {
		return err
	}
	return checkArgs("local", []string{local})
}

// localSources checks the local source paths and expands them when glob
// is set.
func (m *Master) localSources(local []string, glob bool) ([]string, error) {
	if len(local) == 0 {
		return nil, &ArgError{Arg: "local", Reason: "no source file"}
	}
	if err := checkArgs("local", local); err != nil {
		return nil, err
	}
	local = m.expandAll(local)
	if !glob {
		return local, nil
	}
	var out []string
	for i, p := range local {
		g, err := filepath.Glob(p)
		if err != nil {
			return nil, &ArgError{Arg: "local[" + strconv.Itoa(i) + "]", Value: strconv.Quote(p), Reason: err.Error()}
		}
		if len(g) == 0 {
			return nil, &ArgError{Arg: "local[" + strconv.Itoa(i) + "]", Value: strconv.Quote(p), Reason: "the pattern matches no file", Err: fs.ErrNotExist}
		}
		out = append(out, g...)
	}
	return out, nil
}
