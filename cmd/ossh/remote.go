package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/parallel"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// config is what the flags of run, put and get set.
type config struct {
	hosts       []string
	workers     int
	conns       int
	user        string
	key         string
	sshConfig   string
	sshOpts     []string
	timeout     time.Duration
	cmdTimeout  time.Duration
	reconnect   int
	transport   openssh.Transport
	quiet, json bool
	args        []string
}

func parseFlags(sub string, args []string) (*config, error) {
	fs := flag.NewFlagSet("ossh "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c config
	var hostArgs, files, opts listFlag
	var transport string
	fs.Var(&hostArgs, "H", "hosts")
	fs.Var(&files, "f", "hosts file")
	fs.IntVar(&c.workers, "p", 32, "parallelism")
	fs.IntVar(&c.conns, "c", 0, "connections")
	fs.StringVar(&c.user, "l", "", "user")
	fs.StringVar(&c.key, "i", "", "key")
	fs.StringVar(&c.sshConfig, "F", "", "ssh config")
	fs.Var(&opts, "o", "ssh option")
	fs.DurationVar(&c.timeout, "t", 30*time.Second, "login timeout")
	fs.DurationVar(&c.cmdTimeout, "T", 0, "command timeout")
	fs.IntVar(&c.reconnect, "r", 1, "reconnections")
	fs.StringVar(&transport, "transport", "process", "transport")
	fs.BoolVar(&c.quiet, "q", false, "quiet")
	fs.BoolVar(&c.json, "json", false, "json")
	if err := fs.Parse(args); err != nil {
		return nil, usageErr(err.Error())
	}
	for _, h := range hostArgs {
		c.hosts = append(c.hosts, strings.Fields(h)...)
	}
	for _, f := range files {
		hs, err := readHosts(f)
		if err != nil {
			return nil, err
		}
		c.hosts = append(c.hosts, hs...)
	}
	for _, o := range opts {
		c.sshOpts = append(c.sshOpts, "-o", o)
	}
	c.args = fs.Args()
	switch transport {
	case "process":
		c.transport = openssh.TransportProcess
	case "mux":
		c.transport = openssh.TransportMux
	default:
		return nil, usageErr("-transport must be mux or process")
	}
	switch {
	case len(c.hosts) == 0:
		return nil, usageErr("no hosts: give -H or -f")
	case c.workers < 1:
		return nil, usageErr("-p must be at least 1")
	case c.conns != 0 && c.conns < c.workers:
		return nil, usageErr("-c must be at least -p")
	case sub == "run" && len(c.args) == 0:
		return nil, usageErr("run: no command")
	case sub != "run" && len(c.args) != 2:
		return nil, usageErr(sub + ": want two paths")
	}
	if c.conns == 0 {
		c.conns = 2 * c.workers
	}
	return &c, nil
}

func usageErr(msg string) error {
	fmt.Fprintln(os.Stderr, "ossh:", msg)
	fmt.Fprintln(os.Stderr, usageText)
	return exitError{2}
}

// readHosts reads a hosts file: one target per line, the first field;
// blank lines and # comments are skipped.
func readHosts(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l, _, _ := strings.Cut(sc.Text(), "#")
		if fs := strings.Fields(l); len(fs) > 0 {
			hs = append(hs, fs[0])
		}
	}
	return hs, sc.Err()
}

// newRunner builds a Runner with one host per target, labelled by the
// target as given.
func (c *config) newRunner() (*parallel.Runner, error) {
	r := &parallel.Runner{Workers: c.workers, Connections: c.conns, Reconnections: c.reconnect}
	base := openssh.Options{
		KeyPath:    c.key,
		ConfigFile: c.sshConfig,
		MasterOpts: c.sshOpts,
		Timeout:    c.timeout,
		Transport:  c.transport,
	}
	for _, h := range c.hosts {
		o := base
		if c.user != "" && !strings.Contains(h, "@") {
			o.User = c.user
		}
		if err := r.AddHost(h, h, &o); err != nil {
			return nil, fmt.Errorf("host %q: %w", h, err)
		}
	}
	return r, nil
}

// action returns the action of a subcommand. get writes each host's file
// to local-dir/<label>/<base name>: labels are unique and hold no slash,
// so no two hosts share a destination.
func (c *config) action(sub string) parallel.Action {
	var a parallel.Action
	switch sub {
	case "run":
		a = parallel.Command(c.args...)
	case "put":
		a = parallel.Put(c.args[0], c.args[1])
	case "get":
		a = parallel.Get(c.args[0], filepath.Join(c.args[1], "%LABEL%", path.Base(c.args[0])))
	}
	if c.cmdTimeout > 0 {
		a = a.Timeout(c.cmdTimeout)
	}
	return a
}

// remote runs ossh run, put or get.
func remote(ctx context.Context, sub string, args []string) error {
	c, err := parseFlags(sub, args)
	if err != nil {
		return err
	}
	if sub == "put" {
		if st, err := os.Stat(c.args[0]); err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("put: %s is not a readable regular file", c.args[0])
		}
	}
	r, err := c.newRunner()
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := r.All(c.action(sub)); err != nil {
		return err
	}
	out := newConsole(os.Stdout, os.Stderr)
	res, err := execute(ctx, r, out, c.quiet || c.json, len(c.hosts))
	if c.json {
		if jerr := writeJSON(os.Stdout, res); jerr != nil {
			return jerr
		}
	} else {
		summary(os.Stdout, res)
	}
	var re *parallel.RunError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return err
	case errors.As(err, &re):
		return exitError{1}
	}
	return err
}

// execute runs r with live output (unless quiet) and a progress line.
func execute(ctx context.Context, r *parallel.Runner, con *console, quiet bool, total int) (parallel.Results, error) {
	if !quiet {
		r.Stdout, r.Stderr = con.out(), con.err()
	}
	var mu sync.Mutex
	done, failed := 0, 0
	r.OnResult = func(x *parallel.Result) {
		mu.Lock()
		done++
		if x.Err != nil {
			failed++
		}
		mu.Unlock()
	}
	t0 := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if con.tty {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					con.progress("")
					return
				case <-tick.C:
				}
				if el := time.Since(t0); el > 2*time.Second {
					mu.Lock()
					d, f := done, failed
					mu.Unlock()
					con.progress(fmt.Sprintf("ossh: %d/%d hosts done, %d failed, %.0fs", d, total, f, el.Seconds()))
				}
			}
		}()
	}
	res, err := r.Run(ctx)
	close(stop)
	wg.Wait()
	return res, err
}

// summary prints the table of results and the count line.
func summary(w io.Writer, res parallel.Results) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATUS\tEXIT\tCONNECT\tRUN\tERROR")
	failed := 0
	for _, x := range res {
		st, msg := "ok", ""
		if x.Err != nil {
			st, msg = "FAILED", errText(x)
			failed++
		}
		code := "-"
		if x.ExitCode >= 0 {
			code = fmt.Sprint(x.ExitCode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Label, st, code, msec(x.Connect), msec(x.Run), msg)
	}
	tw.Flush()
	fmt.Fprintf(w, "ossh: %d hosts, %d failed\n", len(res), failed)
}

// errText is the error of a host without the label and action, which the
// table already shows.
func errText(x *parallel.Result) string {
	var ae *parallel.ActionError
	e := x.Err
	if errors.As(e, &ae) {
		e = ae.Err
	}
	s := strings.TrimPrefix(e.Error(), "openssh: ")
	return strings.ReplaceAll(s, "\n", " ")
}

func msec(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

// jsonResult is one host in the -json output.
type jsonResult struct {
	Label     string  `json:"label"`
	Target    string  `json:"target"`
	OK        bool    `json:"ok"`
	ExitCode  int     `json:"exit_code"`
	Stdout    string  `json:"stdout"`
	Stderr    string  `json:"stderr"`
	Error     string  `json:"error,omitempty"`
	ConnectMS float64 `json:"connect_ms"`
	RunMS     float64 `json:"run_ms"`
}

func writeJSON(w io.Writer, res parallel.Results) error {
	out := make([]jsonResult, 0, len(res))
	for _, x := range res {
		j := jsonResult{
			Label: x.Label, Target: x.Target, OK: x.Err == nil, ExitCode: x.ExitCode,
			Stdout: string(x.Stdout), Stderr: string(x.Stderr),
			ConnectMS: float64(x.Connect.Microseconds()) / 1000, RunMS: float64(x.Run.Microseconds()) / 1000,
		}
		if x.Err != nil {
			j.Error = errText(x)
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// console serializes output and keeps a progress line at the bottom of a
// terminal stderr.
type console struct {
	mu      sync.Mutex
	stdout  *os.File
	stderr  *os.File
	tty     bool
	showing bool
}

func newConsole(stdout, stderr *os.File) *console {
	c := &console{stdout: stdout, stderr: stderr}
	if st, err := stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		c.tty = true
	}
	return c
}

type consoleWriter struct {
	c *console
	f *os.File
}

func (w consoleWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if w.c.showing {
		w.c.stderr.WriteString("\r\x1b[K")
		w.c.showing = false
	}
	return w.f.Write(p)
}

func (c *console) out() io.Writer { return consoleWriter{c, c.stdout} }
func (c *console) err() io.Writer { return consoleWriter{c, c.stderr} }

// progress shows s as the progress line; "" clears it.
func (c *console) progress(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == "" {
		if c.showing {
			c.stderr.WriteString("\r\x1b[K")
			c.showing = false
		}
		return
	}
	c.stderr.WriteString("\r\x1b[K" + s)
	c.showing = true
}
