// Command ossh runs a command, or copies a file, on many hosts at once,
// through one goopenssh master per host (package parallel).
//
// Usage:
//
//	ossh run  [flags] -- command [args...]
//	ossh put  [flags] local-file remote-path
//	ossh get  [flags] remote-file local-dir
//	ossh demo [-n hosts]
//
// run runs the command on every host. One argument is a remote shell
// command line; with more, each is quoted for the remote shell. "%LABEL%"
// in the command becomes the host's name and "%%" a "%".
//
// put copies local-file to remote-path on every host; get copies
// remote-file from every host to
// local-dir/<host>/<base name of remote-file>, creating the directories, so
// that the hosts' copies never overwrite each other. Both run scp through
// the host's master (scp's own protocol choice: SFTP from OpenSSH 9.0 on).
// All paths may hold %LABEL%, as commands do.
//
// demo starts a sandbox of 8 hosts (a private sshd with throwaway keys on
// 127.0.0.2 ... 127.0.0.9), runs a command and a file copy on all of them,
// prints the summaries and tears everything down. It needs sshd installed
// (apt-get install openssh-server).
//
// Flags of run, put and get:
//
//	-H hosts    hosts, [user@]host[:port], separated by blanks; repeatable
//	-f file     read hosts from a file, one per line (# starts a comment)
//	-p N        run on at most N hosts at once (default 32)
//	-c N        keep at most N connections open (default 2×N of -p)
//	-l user     remote user, for hosts that do not name one
//	-i key      private key file (only public-key authentication then)
//	-F file     ssh config file instead of ~/.ssh/config
//	-o option   ssh option, as ssh -o; repeatable
//	-t dur      login timeout per host (default 30s)
//	-T dur      timeout of the command (or copy) on each host (default none)
//	-r N        reconnections allowed when a connection fails (default 1)
//	-transport mux|process
//	            how commands reach each master: a native client of the
//	            control socket (mux) or one ssh process per command
//	            (process, the default); see openssh.Options.Transport
//	-q          no live output, only the summary
//	-json       print the results as JSON instead of live output and summary
//
// ossh uses the user's ssh configuration as ssh does: the host names go
// through ~/.ssh/config (or -F), known_hosts is checked strictly, and ssh
// never prompts (BatchMode): authentication must work without a terminal
// (keys, agent).
//
// Output. Each line the command writes goes to ossh's stdout (or stderr)
// as it comes, prefixed with the host and ": ". At the end a table on
// stdout gives, per host, the status (ok or FAILED), the exit code, the
// time to connect, the time to run, and the error, followed by a line
// "ossh: N hosts, M failed". With -json, nothing is printed while the
// commands run; at the end stdout holds a JSON array with one object per
// host: label, target, ok, exit_code (-1 when the command did not run to an
// exit status), stdout, stderr, error (absent when ok), connect_ms, run_ms.
// When stderr is a terminal and the run lasts more than 2 s, a progress line
// (hosts done, failed, elapsed time) is kept at the bottom of stderr.
//
// Interrupting. Ctrl-C (SIGINT) or SIGTERM stops the run: the remote
// commands are stopped too (their process groups get SIGTERM, then SIGKILL
// after a second, as with -T), the summary is printed, and ossh exits with
// 130. A second Ctrl-C exits at once, without waiting for the remote side.
//
// Exit status: 0 when every host succeeded, 1 when any failed, 2 for a
// usage error, 130 when interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usageText = `usage: ossh run  [flags] -- command [args...]
       ossh put  [flags] local-file remote-path
       ossh get  [flags] remote-file local-dir
       ossh demo [-n hosts]
flags: -H hosts -f hostsfile -p N -c N -l user -i key -F config -o option
       -t login-timeout -T command-timeout -r reconnections
       -transport mux|process -q -json
Ctrl-C or -T stops the remote commands too; a second Ctrl-C exits at once.
(go doc github.com/goopenssh/openssh/cmd/ossh for details)`

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
			os.Exit(130)
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
		fmt.Fprintln(os.Stderr, usageText)
		return 2
	}
	var err error
	switch args[0] {
	case "demo":
		err = demo(ctx, args[1:])
	case "run", "put", "get":
		err = remote(ctx, args[0], args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Println(usageText)
		return 0
	default:
		fmt.Fprintln(os.Stderr, usageText)
		return 2
	}
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "ossh:", err)
	if ctx.Err() != nil {
		return 130
	}
	return 1
}
