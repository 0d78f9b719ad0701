package openssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Remote process control: how a Cmd stops its remote process when the
// caller gives up, and how Cmd.Signal reaches it.
//
// The mux protocol has no signal message and drops "exit-signal", so the
// library works through the remote shell instead. sshd starts every
// session's shell in a new session (setsid), so the shell's pid is also
// the id of the process group that holds everything the command starts
// (shells run with -c have no job control and start no group of their
// own). The command line sent for a Cmd is wrapped so that the shell can
// be found and its group signalled from a second session on the same
// master.
//
// In POSIX shells (the usual case) nothing is written for that: the
// wrapper starts with a random token, which sshd's "<shell> -c <line>"
// puts in the shell's command line, then runs the caller's line unchanged
// and exits with its status:
//
//	: T; <traps, see below>; <the line>
//	exit $?
//
// The line starts on the wrapper's first line, so the shell's line numbers
// ($LINENO, error messages) are the same, and nothing is written to stdout
// or stderr. The exit after the line keeps the shell from replacing itself
// with the line's last program. To stop the command, a second session runs
// a small sh script that looks for a process whose second argument is "-c"
// and whose command line holds the token (in /proc/*/cmdline on Linux, or
// in ps's list elsewhere; the script holds the token in two halves, so
// that it never finds itself, and the "-c" rule leaves out a local ssh
// whose arguments hold the line, when the server is this machine). That
// process is the shell or a child it forked and has not exec'd yet; either
// way its process group is the shell's. The script sends TERM to the
// group, waits up to the grace period for the group to be gone and then
// sends KILL. Cmd.Signal sends one signal the same way. A normal command
// thus costs the remote host no file and Close no session.
//
// A shell that exec's another program loses its command line, and with it
// the token. So a line that may do that (it holds "exec", or "eval",
// "source" or a "." command, which can run an exec the wrapper cannot
// see), and every line for csh and fish, records its shell's pid instead:
// the shell first writes "<token> <pid>" to a private file (mode 600,
// under /tmp, with a random name per Master and a slot number), runs the
// line, then marks the file done (POSIX form; csh and fish have their
// own):
//
//	{ echo T $$ 1<>F; } 2>/dev/null; <the line>
//	s=$?; { echo xT 1<>F; } 2>/dev/null; exit $s
//
// and the control scripts read the pid from the file, which they trust
// only when the remote user owns it. These files are reused: a Master
// hands each running Cmd the lowest free slot, so it has at most as many
// files as it ever ran such commands at once. Close removes them, in one
// session, when the master ran such commands. A line that replaces its
// shell in a way the check cannot see (a function from a startup file
// that calls exec) cannot be stopped or signalled remotely: the script
// reports that it found no shell after 3 s, and the local side ends.
//
// In POSIX shells the wrapper also traps the common signals. The trap
// records the signal's name in a file (created with noclobber, mode 600;
// for the pid-file form, its pid file), restores the default action and
// sends the signal to the shell again, so the shell still dies of it (and
// a trap the caller's line sets replaces the wrapper's). When a session
// ends without an exit status (the shell was killed by a signal: OpenSSH's
// mux client reports 255), Wait reads the file through a second session,
// removes it, and sets ExitError.Signal. A command that was stopped or
// signalled may have left such a file: the stop script removes it, and
// Close removes what may be left.
//
// A shell runs a trap only after its foreground child has ended: a signal
// sent to the shell alone (not to its group, as the library sends it) now
// waits for the child. Even a group signal reaches the shell alone when it
// lands before the shell forks its next command, or reaches the child
// while it still runs the shell's code between fork and exec (where the
// shell's handler takes it and exec forgets it); the command then runs on
// and the shell waits for it. So before a trapped signal the control
// scripts wait (about 1 s at most) until the shell has a child whose
// command line is no longer the shell's, that is one that has exec'd its
// program, and check that it is still alive just before the kill (see
// waitChild).

// shellFamily is the kind of remote shell the wrapper is written for.
type shellFamily int

const (
	famNone shellFamily = iota // unknown or Windows: no wrapper
	famPOSIX
	famCsh
	famFish
)

// familyOf returns the family of the shell that reads lines quoted by q:
// the outermost quoter of a chain.
func familyOf(q Quoter) shellFamily {
	if ch, ok := q.(chainQuoter); ok && len(ch) > 0 {
		q = ch[0]
	}
	switch q.(type) {
	case posixQuoter:
		return famPOSIX
	case cshQuoter:
		return famCsh
	case fishQuoter:
		return famFish
	}
	return famNone
}

// quoter returns the family's own quoter, for the control scripts.
func (f shellFamily) quoter() Quoter {
	switch f {
	case famCsh:
		return Csh
	case famFish:
		return Fish
	}
	return POSIX
}

// trappedSignals are the signals whose name the POSIX wrapper records.
// Not HUP: a shell runs a trap only once its foreground child has ended,
// and on a hangup the kernel signals the session leader (the shell) alone,
// then the foreground group when the leader exits; a trapped HUP would
// leave the child running.
var trappedSignals = []string{"INT", "QUIT", "TERM", "USR1", "USR2", "ALRM", "PIPE"}

// remoteCtl is a Master's share of the mechanism: the file names, the
// slots in use, and the files that may be left.
type remoteCtl struct {
	mu      sync.Mutex
	prefix  string          // "/tmp/.goopenssh-<random>-"; "" until first use
	inUse   map[int]bool    // slots of running commands
	made    map[int]bool    // slots whose file was created (mode 600)
	records map[string]bool // signal records of ended commands that may be left
	fam     shellFamily     // the family of the last command with a pid file, for Close
	closed  bool            // Close has cleaned up: no more wrapping
	usePS   bool            // tests: find shells with ps on Linux too
	active  sync.WaitGroup  // control sessions in flight
}

// remoteRun is a Cmd's wrapped run.
type remoteRun struct {
	fam   shellFamily
	scan  bool   // found by its token in the process list; no pid file
	usePS bool   // with scan: ps even where /proc is (tests)
	slot  int    // the pid file's slot; -1 with scan
	path  string // the pid file, or with scan the file a trap records a signal in
	token string
	// signalled is set once a signal may have reached the shell (a stop,
	// Signal, or an end without exit status): a trap may have written
	// path.
	signalled atomic.Bool
}

// randHex returns n random bytes in hex.
func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// mayExec reports whether a POSIX line may replace its shell with another
// program: it holds the word "exec", or runs code the wrapper cannot read
// (the words "eval" and "source", or "." where a command starts). The test
// is on the text and errs towards yes: a word is any run of the letters
// that is not part of a longer name (so "-exec" of find and "executable"
// do not count, but a quoted "exec" in an argument does), and such a line
// only gets the pid file.
func mayExec(line string) bool {
	for _, w := range []string{"exec", "eval", "source"} {
		for i := 0; ; {
			k := strings.Index(line[i:], w)
			if k < 0 {
				break
			}
			k += i
			end := k + len(w)
			if (k == 0 || !isNameByte(line[k-1])) && (end == len(line) || !isNameByte(line[end])) {
				return true
			}
			i = end
		}
	}
	for i := 0; i < len(line); i++ {
		if line[i] == '.' && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t') && atCommand(line[:i]) {
			return true
		}
	}
	return false
}

// shellOps are the characters after which a command starts.
const shellOps = ";&|(){}`!\n"

// isNameByte reports whether b can be part of a command or option name.
func isNameByte(b byte) bool {
	return b == '_' || b == '-' || b == '/' || b == '.' ||
		'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

// atCommand reports whether what follows before (a line's start) is where
// a command starts: after nothing, an operator, a reserved word or an
// assignment.
func atCommand(before string) bool {
	before = strings.TrimRight(before, " \t")
	if before == "" || strings.IndexByte(shellOps, before[len(before)-1]) >= 0 {
		return true
	}
	w := before[strings.LastIndexAny(before, " \t"+shellOps)+1:]
	switch w {
	case "then", "do", "else", "elif", "if", "while", "until", "time":
		return true
	}
	// An assignment before the command ("X=1 . ./env").
	return strings.Contains(w, "=")
}

// acquire sets up the wrapper for a command: a POSIX line that cannot exec
// is found by its token, any other gets a slot for its pid file. ok is
// false after Close.
func (r *remoteCtl) acquire(fam shellFamily, line string) (rr *remoteRun, first bool, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, false, false
	}
	if r.prefix == "" {
		r.prefix = "/tmp/.goopenssh-" + randHex(8) + "-"
		r.inUse = map[int]bool{}
		r.made = map[int]bool{}
		r.records = map[string]bool{}
	}
	if fam == famPOSIX && !mayExec(line) {
		return &remoteRun{fam: fam, scan: true, usePS: r.usePS, slot: -1, path: r.prefix + "s" + randHex(6), token: randHex(8)}, false, true
	}
	slot := 0
	for r.inUse[slot] {
		slot++
	}
	r.inUse[slot] = true
	first = !r.made[slot]
	r.made[slot] = true
	r.fam = fam
	return &remoteRun{fam: fam, slot: slot, path: r.prefix + strconv.Itoa(slot), token: randHex(8)}, first, true
}

// release frees a slot, or notes a signal record that may be left.
func (r *remoteCtl) release(rr *remoteRun) {
	r.mu.Lock()
	if rr.scan {
		if rr.signalled.Load() {
			r.records[rr.path] = true
		}
	} else {
		delete(r.inUse, rr.slot)
	}
	r.mu.Unlock()
}

// wrap returns line wrapped for the family; first creates the pid file
// with mode 600.
func (rr *remoteRun) wrap(line string, first bool) string {
	f, t := rr.path, rr.token
	switch rr.fam {
	case famCsh:
		// csh performs the redirection of a one-line if even when the
		// test fails, hence the if-then blocks, which keep a read-only
		// /tmp from adding an error message to stderr. csh has no
		// $LINENO and its messages give no line.
		rec := "echo " + t + " $$ >! " + f
		if first {
			rec = "(umask 077; " + rec + ")"
		}
		return "if ( -w /tmp ) then\n" + rec + "\nendif\n" + line +
			"\nset _goopenssh_s=$status\nif ( -w " + f + " ) then\necho x" + t + " >! " + f + "\nendif\nexit $_goopenssh_s"
	case famFish:
		// fish reports a failed redirection on its own stderr: test
		// first.
		rec := "echo " + t + " $fish_pid >" + f
		if first {
			rec = "begin; set -l _goopenssh_u (umask); umask 077; " + rec + "; umask $_goopenssh_u; end"
		}
		return "test -w /tmp; and " + rec + "; " + line +
			"\nset -l _goopenssh_s $status; test -w " + f + "; and echo x" + t + " >" + f + "; exit $_goopenssh_s"
	}
	var b strings.Builder
	if rr.scan {
		// The token first, where ps shows it after "-c". The trap's
		// shell is about to die: its umask and noclobber can change.
		b.WriteString(": " + t + "; _goopenssh_sig() { trap - $1; umask 077; { set -C; echo " + t + " $$ $1 >" + f + "; } 2>/dev/null; kill -$1 $$; }; ")
		for _, s := range trappedSignals {
			b.WriteString("trap '_goopenssh_sig " + s + "' " + s + "; ")
		}
		b.WriteString(line + "\nexit $?")
		return b.String()
	}
	// 1<> writes over the start of the file without truncating it (the
	// readers take the first line): truncating and writing again costs a
	// block allocation at close on ext4 (auto_da_alloc), which more than
	// doubled the time of a remote "true". The braces send the error of a
	// failed write (a read-only /tmp) to /dev/null, without a subshell.
	rec := "{ echo " + t + " $$ 1<>" + f + "; } 2>/dev/null"
	if first {
		rec = "(umask 077; " + rec + ")"
	}
	b.WriteString("_goopenssh_sig() { trap - $1; { echo " + t + " $$ $1 1<>" + f + "; } 2>/dev/null; kill -$1 $$; }; ")
	for _, s := range trappedSignals {
		b.WriteString("trap '_goopenssh_sig " + s + "' " + s + "; ")
	}
	b.WriteString(rec + "; " + line + "\n_goopenssh_s=$?; { echo x" + t + " 1<>" + f + "; } 2>/dev/null; exit $_goopenssh_s")
	return b.String()
}

// locate is the start of the control scripts, run by sh in a second
// session: it sets p to the remote process group of the command, waiting
// up to 3 s for it (the command may not have started yet), prints "found"
// on stdout, and exits when the command is over.
func (rr *remoteRun) locate() string {
	if rr.scan {
		return rr.findPID()
	}
	return rr.waitPID()
}

// findPID looks for the shell by its token (see the top of the file). On
// Linux it reads /proc: the processes whose command line holds the token,
// of those the ones the remote user runs and whose second argument is
// "-c", and the group from their stat line (the fields after the last
// ") ": state, ppid, pgrp). Elsewhere it asks ps (-ww: BSD ps cuts lines
// at 79 columns when its output is not a terminal), with the token in
// awk's environment, not in its arguments. The owner test keeps another
// user, who can read the token in ps, from hiding the shell behind a
// process of their own that the kill cannot reach. It cannot tell a command that has not started from one
// that is over: the Cmd ends the script's session when the command's
// ends before "found". A dot on stdout each round makes the script die of
// SIGPIPE (or exit) soon after sshd has closed that session, instead of
// holding one of the server's sessions for the rest of the 3 s.
func (rr *remoteRun) findPID() string {
	h := len(rr.token) / 2
	proc := "[ -r /proc/$$/stat ]"
	if rr.usePS {
		proc = "false"
	}
	return "t1=" + rr.token[:h] + " t2=" + rr.token[h:] + " n=0 p= U=; T=$t1$t2; export T; " +
		`while :; do if ` + proc + `; then ` +
		`for f in $(grep -lF -e "$t1$t2" /proc/[0-9]*/cmdline 2>/dev/null); do ` +
		`[ -O ${f%cmdline} ] && [ "$(tr '\000' '\n' 2>/dev/null <$f | sed -n 2p)" = -c ] || continue; ` +
		`read s 2>/dev/null <${f%cmdline}stat || continue; s=${s##*) }; set -- $s; p=$3; break; done; ` +
		`else [ -n "$U" ] || { U=$(id -u); export U; }; p=$(ps -A -ww -o uid= -o pgid= -o args= 2>/dev/null | awk '$1 == ENVIRON["U"] && index($0, " -c : " ENVIRON["T"] ";") { print $2; exit }'); fi; ` +
		`[ -n "$p" ] && break; echo . || exit 0; n=$((n+1)); ` +
		`[ $n -gt 30 ] && { echo "no remote shell runs the command after 3 s (a line that exec's through a function cannot be signalled)" >&2; exit 3; }; ` +
		`sleep 0.1 2>/dev/null || sleep 1; done; echo found; `
}

// waitPID waits for the shell to have written its pid file, owned by the
// remote user, and sets p to its pid; it exits when the command is done.
func (rr *remoteRun) waitPID() string {
	return "f=" + rr.path + " t=" + rr.token + " n=0; " +
		`while :; do [ -O "$f" ] && read x p s 2>/dev/null <"$f" && { [ "$x" = "$t" ] && break; [ "$x" = "x$t" ] && exit 0; }; ` +
		`n=$((n+1)); [ $n -gt 30 ] && { echo "no pid recorded in $f after 3 s" >&2; exit 3; }; ` +
		`sleep 0.1 2>/dev/null || sleep 1; done; echo found; `
}

// waitChild, for a signal the POSIX wrapper traps, waits until the shell
// $p has a child process that has started its program, for about 1 s at
// most (50 rounds of 10 ms plus their work), and then lets the script send
// the signal. A shell defers a trapped signal's trap until its foreground
// child ends, so the signal must not reach the shell at a moment its child
// cannot receive it too: just before the shell forks a command (after it
// recorded its pid, or between two commands of the line), or between the
// fork and the child's exec, where the child still runs the shell's
// handler, which only notes the signal, and exec then forgets it. A child
// has exec'd once its command line differs from the shell's (a forked
// child shares the shell's until then); it is checked to be alive right
// before the kill, so that the kill does not follow its end by more than
// an instant. A line of builtins alone never has such a child (nor does a
// subshell that runs builtins): its shell runs the trap at once, so after
// the wait the signal is sent anyway. The children are read from Linux's
// /proc/<pid>/task/<pid>/children and compared with cmp, or else listed by
// ps (POSIX; the BSDs and macOS), whose rounds cost some 10 ms more and
// count twice; without either the signal is sent at once. The wait ends
// early when $p is gone (the script's kill then reports it) or when sleep
// needs whole seconds. The signal is sent once, whatever the wait found.
func (rr *remoteRun) waitChild(sig string) string {
	if rr.fam != famPOSIX || !isTrapped(sig) {
		return ""
	}
	return `c=/proc/$p/task/$p/children w=; if [ -r $c ]; then w=proc; elif command -v ps >/dev/null 2>&1; then w=ps; fi; n=0; ` +
		`while [ -n "$w" ] && [ $n -lt 50 ] && kill -0 $p 2>/dev/null; do ` +
		`if [ $w = proc ]; then k=; read k <$c 2>/dev/null; ` +
		`for k in $k; do cmp -s /proc/$k/cmdline /proc/$p/cmdline || { kill -0 $k 2>/dev/null && break 2; }; done; n=$((n+1)); ` +
		`else k=$(ps -A -o ppid= -o pid= -o args= 2>/dev/null | awk -v p=$p '` +
		`{ a = $0; sub(/^ *[0-9]+ +[0-9]+ /, "", a) } $2 == p { me = a } $1 == p { k[$2] = a } ` +
		`END { for (i in k) if (k[i] != me) { print i; exit } }'); [ -n "$k" ] && kill -0 $k 2>/dev/null && break; n=$((n+2)); fi; ` +
		`sleep 0.01 2>/dev/null || break; done; `
}

// isTrapped reports whether the POSIX wrapper traps sig.
func isTrapped(sig string) bool {
	for _, s := range trappedSignals {
		if s == sig {
			return true
		}
	}
	return false
}

// stopScript sends TERM to the group, then KILL when it is still there
// after grace.
func (rr *remoteRun) stopScript(grace time.Duration) string {
	tenths := int((grace + 99*time.Millisecond) / (100 * time.Millisecond))
	pre := ""
	if rr.scan {
		// The TERM's trap may record it: nobody reads that record.
		pre = "trap 'rm -f " + rr.path + "' EXIT; "
	}
	return pre + rr.locate() + rr.waitChild("TERM") + "kill -TERM -$p 2>/dev/null || exit 0; n=0; " +
		"while kill -0 -$p 2>/dev/null; do n=$((n+1)); " +
		"if [ $n -gt " + strconv.Itoa(tenths) + " ]; then kill -KILL -$p 2>/dev/null; exit 0; fi; " +
		"sleep 0.1 2>/dev/null || sleep 1; done"
}

// signalScript sends one signal to the group.
func (rr *remoteRun) signalScript(sig string) string {
	return rr.locate() + rr.waitChild(sig) + "kill -" + sig + " -$p"
}

// readScript prints the first line of the file; with scan, the file is
// the signal record, removed once read.
func (rr *remoteRun) readScript() string {
	s := "[ -O " + rr.path + " ] && read l <" + rr.path + " && echo \"$l\""
	if rr.scan {
		s += "; rm -f " + rr.path
	}
	return s
}

// ctlLine returns the line that runs script with sh, quoted for the
// family's shell.
func ctlLine(fam shellFamily, script string) (string, error) {
	return quoteArgs(fam.quoter(), false, []string{"sh", "-c", script})
}

// runCtl runs a control line in a session of its own and returns its
// standard output and standard error. It takes a free session slot
// (Options.MaxSessions), or else the one the Master keeps for control
// sessions, so that it can run while commands hold every other slot. ctx
// ends it.
func (m *Master) runCtl(ctx context.Context, line string) (out, errOut []byte, err error) {
	return m.runCtlOn(ctx, m.be, line, nil)
}

// runCtlOn is runCtl on the given backend; found, when not nil, is closed
// when the script writes "found" to its standard output.
func (m *Master) runCtlOn(ctx context.Context, be backend, line string, found chan struct{}) (out, errOut []byte, err error) {
	m.rctl.active.Add(1)
	defer m.rctl.active.Done()
	// A free slot of the commands', or else the one kept for this.
	linger := time.Duration(0)
	if m.sessions != nil {
		select {
		case m.sessions <- struct{}{}:
			defer func() { m.releaseSessionAfter(linger) }()
		default:
			if m.ctlSlot != nil {
				select {
				case m.ctlSlot <- struct{}{}:
					defer func() {
						if linger <= 0 {
							<-m.ctlSlot
							return
						}
						time.AfterFunc(linger, func() { <-m.ctlSlot })
					}()
				case <-ctx.Done():
					return nil, nil, ctx.Err()
				}
			}
		}
	}
	or, ow, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		or.Close()
		ow.Close()
		return nil, nil, err
	}
	req := &sessionReq{line: line, hasCommand: true, stdout: ow, stderr: ew}
	sess, err := be.startSession(ctx, req)
	ow.Close()
	ew.Close()
	if err != nil {
		or.Close()
		er.Close()
		return nil, nil, err
	}
	var wg sync.WaitGroup
	var ob, eb bytes.Buffer
	wg.Add(2)
	go func() {
		defer wg.Done()
		if found != nil {
			readNotify(or, &ob, found)
		} else {
			ob.ReadFrom(or)
		}
		or.Close()
	}()
	go func() { defer wg.Done(); eb.ReadFrom(er); er.Close() }()
	select {
	case <-sess.done():
	case <-ctx.Done():
		sess.end(time.Second)
		// The master holds the other ends of the pipes until the remote
		// script ends, which may be seconds away: stop reading now.
		or.Close()
		er.Close()
	}
	sess.wait()
	linger = sess.linger()
	wg.Wait()
	if ctx.Err() != nil {
		return ob.Bytes(), eb.Bytes(), ctx.Err()
	}
	return ob.Bytes(), eb.Bytes(), nil
}

// readNotify copies r into b and closes found once "found" has come.
func readNotify(r io.Reader, b *bytes.Buffer, found chan struct{}) {
	buf := make([]byte, 512)
	closed := false
	for {
		n, err := r.Read(buf)
		if n > 0 {
			b.Write(buf[:n])
			if !closed && bytes.Contains(b.Bytes(), []byte("found")) {
				close(found)
				closed = true
			}
		}
		if err != nil {
			return
		}
	}
}

// runCtlFor runs a control script of the Cmd (see locate) with ctx, and
// ends it when the command's session ends before the script has found the
// remote group: then there is nothing left to find. ended says so.
func (c *Cmd) runCtlFor(ctx context.Context, line string) (errOut []byte, ended bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	found := make(chan struct{})
	done := make(chan struct{})
	var gone atomic.Bool
	go func() {
		select {
		case <-c.sess.done():
			select {
			case <-found:
			default:
				gone.Store(true)
				cancel()
			}
		case <-found:
		case <-done:
		}
	}()
	_, errOut, err = c.m.runCtlOn(ctx, c.m.be, line, found)
	close(done)
	if gone.Load() {
		return nil, true, nil
	}
	return errOut, false, err
}

// cleanupRemote removes the Master's files and stops wrapping commands:
// from Close all of them, from Stop those of the commands that have ended
// (the running ones still need theirs).
func (m *Master) cleanupRemote(all bool) {
	r := &m.rctl
	r.mu.Lock()
	r.closed = true
	prefix, fam := r.prefix, r.fam
	var files []string
	if all {
		if len(r.made) > 0 || len(r.records) > 0 {
			files = []string{prefix + "*"}
		}
	} else {
		for slot := range r.made {
			if !r.inUse[slot] {
				files = append(files, prefix+strconv.Itoa(slot))
			}
		}
		for f := range r.records {
			files = append(files, f)
		}
	}
	r.mu.Unlock()
	if all {
		r.active.Wait()
	}
	if prefix == "" || len(files) == 0 {
		return
	}
	// A POSIX shell runs the rm itself (one program fewer to start on a
	// Close); csh and fish fail a glob that matches nothing, so they get
	// sh. The names are the library's own: nothing in them to quote.
	line := "rm -f " + strings.Join(files, " ")
	if fam == famCsh || fam == famFish {
		var err error
		if line, err = ctlLine(fam, line); err != nil {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Over the mux protocol on both transports (the kept control
	// connection proves the master speaks it): when many masters close at
	// once, an ssh process each for this cleanup is what takes the time.
	if _, _, err := m.runCtlOn(ctx, &muxBackend{m: m}, line, nil); err != nil {
		m.log.Debug("openssh: removing the remote pid files failed", "host", m.host, "err", err)
	}
}

// wrapLine sets up the wrapper for a command about to start and returns
// the line to send. Commands that are not wrapped: KeepRemote, no
// command (a login shell), a subsystem, or a remote shell that is not
// POSIX, csh or fish.
func (c *Cmd) wrapLine(line string) string {
	if c.KeepRemote || c.Subsystem || len(c.Args) == 0 || line == "" {
		return line
	}
	fam := familyOf(c.quoterUsed())
	if fam == famNone {
		return line
	}
	rr, first, ok := c.m.rctl.acquire(fam, line)
	if !ok {
		return line
	}
	c.rr = rr
	return rr.wrap(line, first)
}

// quoterUsed is the quoter of the command: RemoteShell's, or the
// Master's.
func (c *Cmd) quoterUsed() Quoter {
	if c.RemoteShell != "" {
		if q, err := QuoterFor(c.RemoteShell); err == nil {
			return q
		}
	}
	return c.m.quoter
}

// releaseRemote frees the command's slot once its control sessions are
// over.
func (c *Cmd) releaseRemote() {
	if c.rr != nil {
		if c.stopDone != nil {
			<-c.stopDone
		}
		c.m.rctl.release(c.rr)
	}
}

// stopGrace is the time between TERM and KILL.
func (c *Cmd) stopGrace() time.Duration {
	if c.StopGrace > 0 {
		return c.StopGrace
	}
	if c.WaitDelay > 0 {
		return c.WaitDelay
	}
	return time.Second
}

// stop ends a command the caller gave up on (ctx, idle timeout): the
// remote process group gets TERM, then KILL after the grace period,
// through a second session; the local side is ended when the session has
// not ended by itself by then. Without a wrapper only the local side is
// ended. It runs in the watcher goroutine.
func (c *Cmd) stop() {
	if c.rr == nil {
		c.kill()
		return
	}
	select {
	case <-c.sess.done():
		return // it ended by itself meanwhile
	default:
	}
	grace := c.stopGrace()
	line, err := ctlLine(c.rr.fam, c.rr.stopScript(grace))
	if err != nil {
		c.kill()
		return
	}
	// The script waits up to 3 s for the pid, then up to grace: past
	// that, give up on it.
	ctx, cancel := context.WithTimeout(context.Background(), grace+5*time.Second)
	c.stopDone = make(chan struct{})
	ctlDone := make(chan struct{})
	var ctlErr error
	c.rr.signalled.Store(true)
	go func() {
		defer close(c.stopDone)
		defer cancel()
		eout, _, err := c.runCtlFor(ctx, line)
		if err != nil || len(eout) > 0 {
			c.m.log.Debug("openssh: stopping the remote command", "host", c.m.host, "err", err, "stderr", string(eout))
		}
		ctlErr = err
		close(ctlDone)
	}()
	select {
	case <-c.sess.done():
		return
	case <-ctlDone:
	}
	if ctlErr != nil {
		// No second session (the master is gone, or the server refused
		// it): end our side now.
		c.kill()
		return
	}
	// The group is gone or killed; the session ends as its streams
	// close. Give it a moment, then end our side.
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-c.sess.done():
	case <-t.C:
		c.kill()
	}
}

// Signal sends sig to the remote command's process group through a second
// session on the master, as kill(1) does with a negative pid: the shell
// that runs the command line and every process it started, unless one
// moved to a group of its own. A signal is sent by name, so the local and
// the remote numbering may differ; sig must be one of HUP, INT, QUIT,
// KILL, TERM, USR1, USR2, ALRM, PIPE, CONT, STOP, TSTP and WINCH.
//
// It needs a started command whose remote shell the library can control
// (POSIX, csh or fish; not KeepRemote, not a login shell or a subsystem);
// otherwise it returns an [*ArgError]. A command that has just started
// may not run on the remote host yet: Signal waits for its shell up to
// 3 s. A command that ends meanwhile gets no signal, and Signal returns
// nil, as a kill(2) that comes too late. A line that replaces its shell in
// a way its text does not show (see [Cmd]) cannot be found: Signal then
// returns an [*Error] that says so.
//
// Through a POSIX shell, INT, QUIT, TERM, USR1, USR2, ALRM and PIPE are
// trapped by the library's wrapper (to report the signal in
// [ExitError].Signal), and a shell runs a trap only once its foreground
// command has ended. So that such a signal cannot reach the shell alone,
// just before it starts a command that would then never see it, Signal
// first waits until the shell has a child that runs its own program, for
// about 1 s at most, and then sends the signal once. A line that runs only
// shell builtins has no such child and gets the signal after that second
// (its shell runs the trap at once). A signal can still miss the next
// command in one case: when the command the shell waits on ends in the
// microseconds between that check and the kill, and the shell starts the
// next command of the line meanwhile. The ctx's stop does not have that
// limit: it escalates to KILL after [Cmd.StopGrace].
func (c *Cmd) Signal(sig os.Signal) error {
	name, ok := signalName(sig)
	if !ok {
		return &ArgError{Arg: "sig", Value: fmt.Sprint(sig), Reason: "not a signal the library can send by name"}
	}
	if !c.started || c.sess == nil {
		return &ArgError{Arg: "Cmd", Reason: "Signal needs a started command"}
	}
	select {
	case <-c.sess.done():
		return &ArgError{Arg: "Cmd", Reason: "Signal after the command ended"}
	default:
	}
	if c.rr == nil {
		return &ArgError{Arg: "Cmd", Reason: "Signal needs a command run through a POSIX, csh or fish shell, without KeepRemote"}
	}
	line, err := ctlLine(c.rr.fam, c.rr.signalScript(name))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	c.rr.signalled.Store(true)
	eout, ended, err := c.runCtlFor(ctx, line)
	if ended {
		return nil // it ended meanwhile, as a kill(2) that comes late
	}
	if err != nil {
		return &Error{Code: CodeSlaveFailed, Op: "signal", Host: c.m.host, Err: err}
	}
	if len(eout) > 0 {
		return &Error{Code: CodeSlaveFailed, Op: "signal", Host: c.m.host,
			Err: fmt.Errorf("sending %s to the remote command failed", name), Detail: lastLine(eout)}
	}
	return nil
}

// remoteSignal reads the name of the signal that killed the remote shell,
// as the POSIX wrapper's trap recorded it, or "".
func (c *Cmd) remoteSignal() string {
	if c.rr == nil || c.rr.fam != famPOSIX {
		return ""
	}
	line, err := ctlLine(c.rr.fam, c.rr.readScript())
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.rr.signalled.Store(true)
	out, _, err := c.m.runCtl(ctx, line)
	if err != nil {
		return ""
	}
	if c.rr.scan {
		c.rr.signalled.Store(false) // the script removed the record
	}
	first, _, _ := strings.Cut(string(out), "\n")
	f := strings.Fields(first)
	if len(f) == 3 && f[0] == c.rr.token {
		if _, ok := signalByName[f[2]]; ok {
			return f[2]
		}
	}
	return ""
}

// signalByName holds the signals Signal sends, by their portable names.
var signalByName = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2, "ALRM": syscall.SIGALRM, "PIPE": syscall.SIGPIPE,
	"CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP,
	"WINCH": syscall.SIGWINCH,
}

// signalName returns the portable name of sig.
func signalName(sig os.Signal) (string, bool) {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return "", false
	}
	for name, v := range signalByName {
		if v == s {
			return name, true
		}
	}
	return "", false
}
