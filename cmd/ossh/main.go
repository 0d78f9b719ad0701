// Command ossh runs a command, or copies a file, on many hosts at once,
// through one goopenssh master per host (package parallel): a parallel-ssh
// (pssh, pscp, pslurp) or Ansible ad-hoc run on top of the system's ssh.
//
// Usage:
//
//	ossh run  [flags] [--] command [args...]
//	ossh put  [flags] local-file remote-path
//	ossh get  [flags] remote-file local-dir
//	ossh demo [flags]
//	ossh help [run|put|get|demo]
//	ossh --version
//
// run runs the command on every host. One argument is a remote shell
// command line; with more, each is quoted for the remote shell. "%LABEL%"
// in the command becomes the host's label and "%%" a "%". The first
// argument that is not a flag starts the command, so "--" is only needed
// when the command itself starts with "-".
//
// put copies local-file to remote-path on every host; get copies
// remote-file from every host to local-dir/<label>/<base name of
// remote-file>, creating the directories, so that the hosts' copies never
// overwrite each other. Both copy over SFTP through the host's master
// (--scp: with scp), and show the bytes copied. All paths may hold %LABEL%,
// as commands do.
//
// demo starts a sandbox of 8 hosts (a private sshd with throwaway keys on
// 127.0.0.2 ... 127.0.0.9), runs a command and a file copy on all of them,
// prints the summaries and tears everything down. It needs sshd installed
// (apt-get install openssh-server).
//
// "ossh <command> --help" lists the flags of a command, each with a line of
// help; cmd/ossh/testdata/help-*.txt hold the same text. Durations are
// seconds ("30", "1.5") or Go durations ("90s", "2m").
//
// ossh uses the user's ssh configuration as ssh does: the host names go
// through ~/.ssh/config (or -F), known_hosts is checked strictly, and ssh
// never prompts (BatchMode): authentication must work without a terminal
// (keys, agent).
//
// # Hosts
//
// Hosts come from -H (blank-separated, repeatable) and -f files (one host
// per line, the first field; # starts a comment), each [user@]host[:port];
// from an Ansible INI inventory (--inventory, with --limit to choose groups
// or hosts: groups, children groups, ranges such as web[01:20], and the
// variables ansible_host, ansible_port and ansible_user); and from the Host
// aliases of the ssh config that match a pattern (--ssh-hosts). A host
// listed twice is run once (ossh says so on stderr). A host's label, which
// prefixes its output and names its files, is its inventory name or ssh
// alias, or else the host as given without its port, unless two hosts
// differ only by port. --list-hosts prints the hosts a run would touch.
//
// --shard K/N runs only the K-th (from 0) of N slices of the hosts: a
// host's slice depends on its name alone, so N ossh processes (a
// Kubernetes Indexed Job, say) cover every host once. --rate bounds the
// logins started per second; --batch N runs the hosts N at a time, one
// batch after the other, and --max-fail PCT stops after a batch where more
// than PCT% of the hosts failed (Ansible's serial and
// max_fail_percentage): the hosts left are reported as not run.
//
// # Output
//
// By default each line a host writes goes to ossh's stdout (or stderr) as
// it comes, prefixed with "label: "; a line is only written once it is
// complete (or the command has ended), so the lines of different hosts
// never mix. --inline instead prints each host's output in one block when
// the host finishes (pssh -i); --outdir and --errdir write each host's
// stdout and stderr to a file named after its label (pssh -o, -e), and ossh
// then prints one status line per host. At the end a summary lists the
// hosts that failed (every host with --summary-all) and a count line. With
// --json, stdout holds one JSON object per host, printed as soon as the host
// finishes (NDJSON), and the count line goes to stderr. Its fields: host
// (the label), target, status (ok, failed, unreachable or "not run"),
// exit_code (null when the command did not run to an exit status),
// error_class (auth, "host key", connect, timeout, command, transfer,
// interrupted or "not run") and error, both absent when ok, start and end
// (RFC 3339), connect_ms, run_ms, stdout and stderr (cut to
// --json-max-output bytes each, with stdout_truncated or stderr_truncated
// then true; bytes that are not UTF-8 become U+FFFD). When stderr is a terminal a progress display is kept at the
// bottom of it (one bar per host being copied, and a total, for put and
// get); otherwise put and get print a progress line every 10 s
// (--progress-interval).
//
// # Exit status
//
//	0    every host succeeded
//	1    every host was reached, but a command or copy failed on some
//	2    usage error: nothing ran
//	3    some hosts could not be reached (connect, host key, authentication,
//	     login timeout); others may have failed too
//	4    ossh itself failed: a hosts file could not be read, an output
//	     file could not be written
//	130  interrupted (SIGINT or SIGTERM)
//
// --failed-hosts FILE writes the hosts that failed, could not be reached or
// were not run, one per line, as given: the file is a hosts file for a
// re-run (-f FILE).
//
// # Interrupting
//
// Ctrl-C (SIGINT) or SIGTERM stops the run: the remote
// commands are stopped too (their process groups get SIGTERM, then SIGKILL
// after a second, as with -T), the summary is printed, and ossh exits with
// 130. A second Ctrl-C exits at once, without waiting for the remote side.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// The exit statuses of ossh (see the package documentation).
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitInternal    = 4
	exitInterrupted = 130
)

// exitError carries an exit status.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	ctx, stop := interruptContext()
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// interruptContext returns a context cancelled by the first SIGINT or
// SIGTERM, which stops the run and its remote commands; a second one
// exits at once with status 130.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(os.Stderr, "ossh: interrupted: stopping the remote commands (interrupt again to exit at once)")
		cancel()
		select {
		case <-sigs:
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// run runs ossh with args and returns the exit status.
func run(ctx context.Context, args []string) int {
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, usageText)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "demo":
		err = demo(ctx, args[1:])
	case "run", "put", "get":
		err = remote(ctx, args[0], args[1:])
	case "-h", "-help", "--help":
		fmt.Print(usageText)
		return exitOK
	case "help":
		return help(args[1:])
	case "-V", "-version", "--version", "version":
		printVersion(os.Stdout)
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "ossh: unknown command %q\n\n%s", args[0], usageText)
		return exitUsage
	}
	var ee exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "ossh:", err)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return exitInternal
}

// help prints the help of a command: ossh help [command].
func help(args []string) int {
	if len(args) == 0 {
		fmt.Print(usageText)
		return exitOK
	}
	switch args[0] {
	case "run", "put", "get":
		fmt.Print(helpText(args[0], newFlags(args[0], &config{})))
	case "demo":
		fmt.Print(demoHelp(newDemoFlags(new(int))))
	default:
		fmt.Fprintf(os.Stderr, "ossh: unknown command %q\n\n%s", args[0], usageText)
		return exitUsage
	}
	return exitOK
}

const usageText = `ossh runs a command, or copies a file, on many hosts at once,
through one OpenSSH master connection per host.

usage:
  ossh run  [flags] [--] command [args...]   run a command on every host
  ossh put  [flags] local-file remote-path   copy a file to every host
  ossh get  [flags] remote-file local-dir    copy a file from every host
                                             to local-dir/<host>/
  ossh demo [flags]                          try it on a sandbox of local hosts
  ossh help [command]                        the flags of a command
  ossh --version                             ossh's version and ssh's

"ossh <command> --help" lists the flags of a command. Ctrl-C stops the
remote commands too; a second Ctrl-C exits at once. Exit status: 0 all
hosts ok, 1 a command or copy failed, 2 usage error, 3 hosts unreachable,
4 ossh failed, 130 interrupted.
`
