package openssh

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RsyncOpts are the options of [Master.RsyncGet] and [Master.RsyncPut]. A
// nil *RsyncOpts is the same as the zero value: quiet, no globbing, no
// other options.
type RsyncOpts struct {
	// Glob lets wildcards in the source paths match files: on get, the
	// remote side expands them; on put, they are expanded locally with
	// [filepath.Glob], and each pattern must match a file: one that
	// matches nothing is an [*ArgError] naming it (and matching
	// fs.ErrNotExist). Without Glob, "*", "?" and "[" are ordinary characters.
	Glob bool
	// Recursive copies whole directories (--recursive).
	Recursive bool
	// Archive is rsync's --archive (-rlptgoD).
	Archive bool
	// CopyAttrs preserves modes and modification times (-pt).
	CopyAttrs bool
	// Delete removes files in the destination that the source lacks
	// (--delete).
	Delete bool
	// Compress compresses data on the wire (--compress).
	Compress bool
	// Exclude and Include are --exclude=PATTERN and --include=PATTERN,
	// one per element, in order (excludes first).
	Exclude []string
	Include []string
	// BWLimit limits the bandwidth, in KiB/s (--bwlimit); 0 means no
	// limit.
	BWLimit int
	// Verbose is the number of -v flags; it turns off the default -q.
	Verbose int
	// NoQuiet leaves out -q, which rsync gets by default unless Verbose is
	// set (Net::OpenSSH's quiet => 0).
	NoQuiet bool
	// Flags are more rsync long options, translated as Net::OpenSSH does:
	// underscores in the name become dashes; a bool value gives --name
	// when true and --no-name when false (and a name given as "no-x" is
	// inverted first: "no_times": true gives --no-times); a string or
	// int value gives --name=value; a []string gives --name=value once
	// per element. Options that would change how rsync reaches the host or
	// treats remote arguments (rsh, port, protect-args, old-args, daemon,
	// ... and their no- forms) are refused with an [*ArgError], as is a
	// bool for an option that takes a value. They come after the typed
	// options, sorted by name.
	Flags map[string]any
	// Stdout and Stderr receive rsync's output (its file list with
	// Verbose). nil discards stdout; the tail of stderr is always kept for
	// the error message.
	Stdout io.Writer
	Stderr io.Writer
	// Timeout bounds the whole transfer; when it expires rsync is killed
	// and the error matches [ErrTimeout]. (rsync's own I/O timeout is
	// Flags["timeout"].)
	Timeout time.Duration
}

// rsyncForbidden are rsync options that would break the transport or the
// argument protection the library relies on.
var rsyncForbidden = map[string]bool{
	"rsh": true, "address": true, "port": true, "sockopts": true, "password-file": true,
	"write-batch": true, "only-write-batch": true, "read-batch": true, "ipv4": true,
	"ipv6": true, "version": true, "help": true, "daemon": true, "config": true,
	"detach": true, "protect-args": true, "secluded-args": true, "old-args": true,
	"list-only": true, "server": true, "sender": true,
}

// rsyncWithArg are rsync options that take a value (Net::OpenSSH's list).
var rsyncWithArg = map[string]bool{
	"chmod": true, "suffix": true, "backup-dir": true, "rsync-path": true, "max-delete": true,
	"max-size": true, "min-size": true, "partial-dir": true, "timeout": true,
	"modify-window": true, "temp-dir": true, "compare-dest": true, "copy-dest": true,
	"link-dest": true, "compress-level": true, "skip-compress": true, "filter": true,
	"exclude": true, "exclude-from": true, "include": true, "include-from": true,
	"out-format": true, "log-file": true, "log-file-format": true, "bwlimit": true,
	"protocol": true, "iconv": true, "checksum-seed": true, "files-from": true,
	"chown": true, "usermap": true, "groupmap": true, "info": true, "debug": true,
	"max-alloc": true, "contimeout": true, "stop-after": true, "stop-at": true,
	"compress-choice": true, "checksum-choice": true, "block-size": true,
}

var rsyncOptionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// rsyncFlags translates RsyncOpts.Flags into command-line options.
func rsyncFlags(flags map[string]any) ([]string, error) {
	keys := make([]string, 0, len(flags))
	for k := range flags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		v := flags[k]
		name := strings.ReplaceAll(k, "_", "-")
		bad := func(reason string) error {
			return &ArgError{Arg: "RsyncOpts.Flags", Value: fmt.Sprintf("%q", k), Reason: reason}
		}
		if !rsyncOptionName.MatchString(name) {
			return nil, bad("not an rsync long option name")
		}
		base, negated := strings.CutPrefix(name, "no-")
		if rsyncForbidden[base] || (negated && rsyncWithArg[base]) {
			return nil, bad("forbidden rsync option")
		}
		switch x := v.(type) {
		case bool:
			if rsyncWithArg[base] {
				return nil, bad("this rsync option takes a value")
			}
			if negated {
				x = !x
			}
			if x {
				out = append(out, "--"+base)
			} else {
				out = append(out, "--no-"+base)
			}
			continue
		}
		if negated {
			return nil, bad("a no- option takes no value")
		}
		var vals []string
		switch x := v.(type) {
		case string:
			vals = []string{x}
		case int:
			vals = []string{strconv.Itoa(x)}
		case int64:
			vals = []string{strconv.FormatInt(x, 10)}
		case []string:
			vals = x
		default:
			return nil, bad(fmt.Sprintf("value of type %T (want bool, string, int or []string)", v))
		}
		for _, s := range vals {
			out = append(out, "--"+name+"="+s)
		}
	}
	if err := checkArgs("RsyncOpts.Flags", out); err != nil {
		return nil, err
	}
	return out, nil
}

// rsyncQuote quotes one word of the -e transport for rsync's own splitting
// (on spaces, with '...' and "..." quoting in which a doubled quote stands
// for itself).
func rsyncQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// rsyncTransport returns the -e value: our ssh through the control socket.
// rsync adds "-l user host" itself from the remote spec; the port does not
// matter through the socket.
func (m *Master) rsyncTransport() string {
	argv := m.baseArgv()
	argv = append(argv, m.opts.DefaultSSHOpts...)
	argv = append(argv, "-S", m.ctlPath, "-o", "ControlMaster=no", "-o", "ProxyCommand=false")
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = rsyncQuote(a)
	}
	return strings.Join(q, " ")
}

// rsyncArgv builds the rsync command line up to and including "--".
func (m *Master) rsyncArgv(o *RsyncOpts) ([]string, error) {
	if o.BWLimit < 0 {
		return nil, &ArgError{Arg: "RsyncOpts.BWLimit", Value: strconv.Itoa(o.BWLimit), Reason: "negative"}
	}
	if o.Verbose < 0 {
		return nil, &ArgError{Arg: "RsyncOpts.Verbose", Value: strconv.Itoa(o.Verbose), Reason: "negative"}
	}
	if o.Timeout < 0 {
		return nil, &ArgError{Arg: "RsyncOpts.Timeout", Value: o.Timeout.String(), Reason: "negative"}
	}
	flags, err := rsyncFlags(o.Flags)
	if err != nil {
		return nil, err
	}
	for _, c := range []struct {
		name string
		v    []string
	}{{"RsyncOpts.Exclude", o.Exclude}, {"RsyncOpts.Include", o.Include}} {
		if err := checkArgs(c.name, c.v); err != nil {
			return nil, err
		}
	}
	argv := []string{"rsync", "-e", m.rsyncTransport()}
	if o.Verbose == 0 && !o.NoQuiet {
		argv = append(argv, "-q")
	}
	if o.Verbose > 0 {
		argv = append(argv, "-"+strings.Repeat("v", o.Verbose))
	}
	if o.CopyAttrs {
		argv = append(argv, "-pt")
	}
	if o.Archive {
		argv = append(argv, "--archive")
	}
	if o.Recursive {
		argv = append(argv, "--recursive")
	}
	if o.Delete {
		argv = append(argv, "--delete")
	}
	if o.Compress {
		argv = append(argv, "--compress")
	}
	if o.BWLimit > 0 {
		argv = append(argv, "--bwlimit="+strconv.Itoa(o.BWLimit))
	}
	for _, x := range o.Exclude {
		argv = append(argv, "--exclude="+x)
	}
	for _, x := range o.Include {
		argv = append(argv, "--include="+x)
	}
	argv = append(argv, flags...)
	return append(argv, "--"), nil
}

// rsyncRemotePaths encodes the remote paths of one rsync call (glob[i]
// tells whether paths[i] may hold wildcards) and reports whether the call
// needs --old-args.
//
// rsync 3.2.4 and later protect remote arguments from the remote shell
// themselves, so plain paths are passed as they are. That protection
// backslash-escapes shell characters but leaves wildcards to the remote
// shell and passes a newline unescaped; a path that needs a literal
// wildcard or holds a newline therefore switches the call to --old-args,
// with every remote path shell-quoted, which is also what older rsync
// always gets.
func (m *Master) rsyncRemotePaths(paths []string, glob []bool) ([]string, bool, error) {
	modern := rsyncProtectsArgs()
	quote := !modern
	if modern {
		for i, p := range paths {
			if strings.Contains(p, "\n") || (!glob[i] && strings.ContainsAny(p, "*?[")) {
				quote = true
			}
		}
	}
	out := make([]string, len(paths))
	for i, p := range paths {
		var err error
		switch {
		case !quote || p == "":
			out[i] = p
		case glob[i]:
			out[i], err = m.quoter.QuoteGlob(p)
		default:
			out[i], err = m.quoter.Quote(p)
		}
		if err != nil {
			return nil, false, &ArgError{Arg: "remote", Value: shortQuote(p), Reason: err.Error(), Err: ErrEncoding}
		}
	}
	return out, quote && modern, nil
}

// rsyncEnv is the environment of rsync without the variables that change
// how it passes remote arguments.
func rsyncEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(s string) bool {
		return strings.HasPrefix(s, "RSYNC_OLD_ARGS=") || strings.HasPrefix(s, "RSYNC_PROTECT_ARGS=")
	})
}

// rsyncExitMeanings are rsync's exit codes (its man page).
var rsyncExitMeanings = map[int]string{
	1:  "syntax or usage error",
	2:  "protocol incompatibility",
	3:  "errors selecting input/output files, dirs",
	4:  "requested action not supported",
	5:  "error starting client-server protocol",
	6:  "daemon unable to append to log-file",
	10: "error in socket I/O",
	11: "error in file I/O",
	12: "error in rsync protocol data stream",
	13: "errors with program diagnostics",
	14: "error in IPC code",
	20: "received SIGUSR1 or SIGINT",
	21: "some error returned by waitpid()",
	22: "error allocating core memory buffers",
	23: "partial transfer due to error",
	24: "partial transfer due to vanished source files",
	25: "the --max-delete limit stopped deletions",
	30: "timeout in data send/receive",
	35: "timeout waiting for daemon connection",
}

// rsyncExitMsg gives the meaning of an rsync exit code.
func rsyncExitMsg(code int) string {
	if s, ok := rsyncExitMeanings[code]; ok {
		return s
	}
	return ""
}

// RsyncGet copies remote files to the local path local with rsync through
// the master, and waits for it to finish. local "" means the current
// directory.
//
// Remote paths are file names, not shell words: with rsync 3.2.4 or later
// (which protects remote arguments itself) they are passed as they are,
// wildcards escaped unless [RsyncOpts.Glob] is set; with older rsync they
// are shell-quoted. Relative paths are relative to the remote home.
//
// A failed rsync returns an [*ExitError] with Program "rsync", whose Msg
// gives the meaning of rsync's exit code ("partial transfer due to
// error") and whose message ends with the lines of rsync's standard error
// that explain it (the cause, such as `link_stat "/x" failed: No such file
// or directory`, and rsync's summary). Bad options,
// among them the forbidden ones, return an [*ArgError] before anything
// runs.
func (m *Master) RsyncGet(ctx context.Context, remote []string, local string, opts *RsyncOpts) error {
	t, err := m.RsyncGetAsync(ctx, remote, local, opts)
	if err != nil {
		return err
	}
	return t.Wait()
}

// RsyncGetAsync starts [Master.RsyncGet] and returns at once. ctx bounds
// the whole transfer: when it is done, rsync is killed.
func (m *Master) RsyncGetAsync(ctx context.Context, remote []string, local string, opts *RsyncOpts) (*Transfer, error) {
	o := opts
	if o == nil {
		o = &RsyncOpts{}
	}
	if err := checkGetArgs(remote, local); err != nil {
		return nil, err
	}
	argv, err := m.rsyncArgv(o)
	if err != nil {
		return nil, err
	}
	remote = m.expandAll(remote)
	local = m.expand(local)
	if local == "" {
		local = "."
	}
	globs := make([]bool, len(remote))
	for i := range globs {
		globs[i] = o.Glob
	}
	enc, oldArgs, err := m.rsyncRemotePaths(remote, globs)
	if err != nil {
		return nil, err
	}
	if oldArgs {
		argv = slices.Insert(argv, len(argv)-1, "--old-args")
	}
	for _, p := range enc {
		argv = append(argv, m.remotePrefix()+p)
	}
	argv = append(argv, localArg(local))
	return m.startTransfer(ctx, transferSpec{op: "rsync get", program: "rsync", argv: argv, stdout: o.Stdout, stderr: o.Stderr,
		timeout: o.Timeout, exitMsg: rsyncExitMsg, env: rsyncEnv()})
}

// RsyncPut copies local files to the remote path remote with rsync through
// the master, and waits for it to finish. remote "" means the remote home
// directory. With [RsyncOpts.Glob], the local paths are patterns expanded
// by [filepath.Glob]. The remote path is passed as RsyncGet passes its
// sources, and errors are those of [Master.RsyncGet].
func (m *Master) RsyncPut(ctx context.Context, local []string, remote string, opts *RsyncOpts) error {
	t, err := m.RsyncPutAsync(ctx, local, remote, opts)
	if err != nil {
		return err
	}
	return t.Wait()
}

// RsyncPutAsync starts [Master.RsyncPut] and returns at once. ctx bounds
// the whole transfer: when it is done, rsync is killed.
func (m *Master) RsyncPutAsync(ctx context.Context, local []string, remote string, opts *RsyncOpts) (*Transfer, error) {
	o := opts
	if o == nil {
		o = &RsyncOpts{}
	}
	srcs, err := m.localSources(local, o.Glob)
	if err != nil {
		return nil, err
	}
	if err := checkArgs("remote", []string{remote}); err != nil {
		return nil, err
	}
	argv, err := m.rsyncArgv(o)
	if err != nil {
		return nil, err
	}
	remote = m.expand(remote)
	for _, l := range srcs {
		argv = append(argv, localArg(l))
	}
	enc, oldArgs, err := m.rsyncRemotePaths([]string{remote}, []bool{false})
	if err != nil {
		return nil, err
	}
	if oldArgs {
		argv = slices.Insert(argv, len(argv)-1-len(srcs), "--old-args")
	}
	argv = append(argv, m.remotePrefix()+enc[0])
	return m.startTransfer(ctx, transferSpec{op: "rsync put", program: "rsync", argv: argv, stdout: o.Stdout, stderr: o.Stderr,
		timeout: o.Timeout, exitMsg: rsyncExitMsg, env: rsyncEnv()})
}
