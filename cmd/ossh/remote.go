package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/parallel"
)

// remote runs ossh run, put or get.
func remote(ctx context.Context, sub string, args []string) error {
	c, err := parseFlags(sub, args)
	if err != nil {
		return err
	}
	if c.hosts, err = c.gatherHosts(os.Stderr); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return err // a file ossh could not read: exit status 4
		}
		return usageErr(sub, err.Error())
	}
	if len(c.hosts) == 0 {
		return usageErr(sub, "no hosts: the hosts files or the inventory list none")
	}
	c.hosts = c.shard.filter(c.hosts)
	if c.listHosts {
		for _, h := range c.hosts {
			fmt.Println(h.target)
		}
		return nil
	}
	if len(c.hosts) == 0 {
		fmt.Fprintf(os.Stderr, "ossh: shard %s has no hosts\n", c.shardSpec)
		return nil
	}
	var expected int64 = -1
	if sub == "put" {
		st, err := os.Stat(c.args[0])
		if err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("put: %s is not a readable regular file", c.args[0])
		}
		expected = st.Size() * int64(len(c.hosts))
	}
	for flag, d := range map[string]string{"--outdir": c.outdir, "--errdir": c.errdir} {
		if d != "" {
			if err := os.MkdirAll(d, 0o777); err != nil {
				return fmt.Errorf("%s %s: %w", flag, d, err)
			}
		}
	}
	var input []byte
	if c.stdin {
		if input, err = io.ReadAll(os.Stdin); err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
	}
	var m *meter
	if sub != "run" {
		m = newMeter(expected)
	}
	// Every batch's Runner is built first, so that a bad host or action
	// is refused before anything runs.
	a := c.action(input, m)
	batches := c.batches()
	runners := make([]*parallel.Runner, len(batches))
	for i, b := range batches {
		r, err := c.newRunner(b)
		if err != nil {
			return usageErr(sub, err.Error())
		}
		defer r.Close()
		if _, err := r.All(a); err != nil {
			return usageErr(sub, err.Error())
		}
		runners[i] = r
	}
	con := newConsole(os.Stdout, os.Stderr)
	rp := newReporter(c, con, len(c.hosts))
	var res parallel.Results
	for i, r := range runners {
		br := execute(ctx, r, con, rp, m, c.live(), c.progress)
		res = append(res, br...)
		if i+1 < len(runners) && c.tooManyFailed(br) {
			var rest []hostSpec
			for _, b := range batches[i+1:] {
				rest = append(rest, b...)
			}
			con.write(con.stderr, []byte(fmt.Sprintf("ossh: %d of %d hosts failed in batch %d, more than --max-fail %d%%: the %d hosts left are not run\n",
				len(br.Failed()), len(br), i+1, c.maxFail, len(rest))))
			for _, h := range rest {
				x := &parallel.Result{Label: h.label, Target: h.target, Err: errNotRun, ExitCode: -1, Start: time.Now(), End: time.Now()}
				rp.onResult(x)
				res = append(res, x)
			}
			break
		}
	}
	if c.json {
		summary(os.Stderr, sub, res, false, time.Since(rp.t0))
	} else {
		summary(os.Stdout, sub, res, c.summaryAll, time.Since(rp.t0))
	}
	if c.failedHosts != "" {
		if err := writeFailedHosts(c.failedHosts, res); err != nil {
			fmt.Fprintln(os.Stderr, "ossh: --failed-hosts:", err)
			return exitError{exitInternal}
		}
	}
	return exitError{rp.exitStatus(ctx)}
}

// live reports whether the hosts' output is streamed line by line.
func (c *config) live() bool {
	return !c.quiet && !c.json && !c.inline && c.outdir == "" && c.errdir == ""
}

// errNotRun is the error of the hosts left out after a batch failed
// beyond --max-fail.
var errNotRun = errors.New("not run: too many hosts of an earlier batch failed (--max-fail)")

// batches splits the hosts into batches of --batch hosts (one batch when
// unset).
func (c *config) batches() [][]hostSpec {
	if c.batch <= 0 || c.batch >= len(c.hosts) {
		return [][]hostSpec{c.hosts}
	}
	var bs [][]hostSpec
	for hs := c.hosts; len(hs) > 0; {
		n := min(c.batch, len(hs))
		bs = append(bs, hs[:n])
		hs = hs[n:]
	}
	return bs
}

// tooManyFailed reports whether more than --max-fail percent of a batch
// failed.
func (c *config) tooManyFailed(res parallel.Results) bool {
	return len(res) > 0 && len(res.Failed())*100 > c.maxFail*len(res)
}

// newRunner builds a Runner with one host per target, under its label.
func (c *config) newRunner(hosts []hostSpec) (*parallel.Runner, error) {
	r := &parallel.Runner{Workers: c.workers, Connections: c.conns, Reconnections: c.reconnect,
		LoginTimeout: c.timeout, ConnectRate: c.rate}
	var sshOpts []string
	for _, o := range c.sshOpts {
		sshOpts = append(sshOpts, "-o", o)
	}
	base := openssh.Options{
		KeyPath:    c.key,
		ConfigFile: c.sshConfig,
		MasterOpts: sshOpts,
		Timeout:    c.timeout,
		Transport:  c.transportValue(),
	}
	for _, h := range hosts {
		o := base
		if c.user != "" && !strings.Contains(h.target, "@") {
			o.User = c.user
		}
		if err := r.AddHost(h.label, h.target, &o); err != nil {
			return nil, fmt.Errorf("host %s: %w", h.target, err)
		}
	}
	return r, nil
}

// action returns the action of the subcommand: put and get copy over SFTP
// (scp with --scp), reporting to m. get writes each host's file to
// local-dir/<label>/<base name>: labels are unique and hold no slash, so no
// two hosts share a destination.
func (c *config) action(input []byte, m *meter) parallel.Action {
	var a parallel.Action
	switch c.sub {
	case "run":
		a = parallel.Command(c.args...)
		if c.stdin {
			a = a.Input(input)
		}
	case "put":
		if c.scp {
			a = parallel.Put(c.args[0], c.args[1]).Progress(m.update)
		} else {
			a = sftpPut(c.args[0], c.args[1], m)
		}
	case "get":
		if c.scp {
			a = parallel.Get(c.args[0], filepath.Join(c.args[1], "%LABEL%", path.Base(c.args[0]))).Progress(m.update)
		} else {
			a = sftpGet(c.args[0], c.args[1], m)
		}
	}
	if c.cmdTimeout > 0 {
		a = a.Timeout(c.cmdTimeout)
	}
	return a
}

// execute runs r, reporting each host as it finishes, with live output
// when live is set, and a progress display on a terminal stderr (a line
// every interval otherwise, when interval is positive).
func execute(ctx context.Context, r *parallel.Runner, con *console, rp *reporter, m *meter, live bool, interval time.Duration) parallel.Results {
	if live {
		r.Stdout, r.Stderr = con.out(), con.err()
	} else {
		r.Output = rp.output
	}
	r.OnResult = func(x *parallel.Result) {
		if m != nil {
			m.finish(x.Label)
		}
		rp.onResult(x)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if con.tty || interval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			progressLoop(con, rp, m, interval, stop)
		}()
	}
	res, _ := r.Run(ctx)
	close(stop)
	wg.Wait()
	return res
}

// progressLoop keeps the progress display up to date until stop is
// closed: on a terminal, redrawn 4 times a second once the run lasts more
// than a second; otherwise a status line every interval.
func progressLoop(con *console, rp *reporter, m *meter, interval time.Duration, stop chan struct{}) {
	period := interval
	if con.tty {
		period = 250 * time.Millisecond
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			if con.tty {
				con.show(nil)
			}
			return
		case <-tick.C:
		}
		el := time.Since(rp.t0)
		done, failed := rp.counts()
		line := statusText(done, failed, rp.total, el, m)
		switch {
		case !con.tty:
			con.write(con.stderr, []byte(line+"\n"))
		case el > time.Second:
			var lines []string
			if m != nil {
				lines = m.bars()
			}
			con.show(append(lines, line))
		}
	}
}
