package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/spf13/pflag"
)

// config is what the flags of run, put and get set.
type config struct {
	sub         string
	hostArgs    []string // -H, as given
	hostFiles   []string // -f
	hosts       []hostSpec
	workers     int
	conns       int
	user        string
	key         string
	sshConfig   string
	sshOpts     []string
	timeout     time.Duration // login timeout, the whole connect of a host
	cmdTimeout  time.Duration
	reconnect   int
	transport   string
	quiet       bool
	json        bool
	jsonCap     int
	inline      bool
	outdir      string
	errdir      string
	summaryAll  bool
	failedHosts string
	stdin       bool
	scp         bool
	progress    time.Duration
	shardSpec   string
	shard       shard
	listHosts   bool
	inventory   string
	limit       string
	sshHosts    string
	rate        float64
	batch       int
	maxFail     int
	args        []string
}

// newFlags returns the flag set of a subcommand, writing into c.
func newFlags(sub string, c *config) *pflag.FlagSet {
	fs := pflag.NewFlagSet("ossh "+sub, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(discard{})
	// The first argument that is not a flag starts the command.
	fs.SetInterspersed(sub != "run")

	fs.StringArrayVarP(&c.hostArgs, "hosts", "H", nil, "hosts, [user@]host[:port], blank-separated; repeatable")
	fs.StringArrayVarP(&c.hostFiles, "hosts-file", "f", nil, "read hosts from FILE, one per line (# comments); repeatable")
	fs.StringVar(&c.inventory, "inventory", "", "hosts of an Ansible INI inventory (ansible_host, _port, _user)")
	fs.StringVar(&c.limit, "limit", "", "the inventory's groups or hosts to run on (default all)")
	fs.StringVar(&c.sshHosts, "ssh-hosts", "", "the Host aliases of the ssh config that match PATTERN")
	fs.IntVarP(&c.workers, "par", "p", 32, "run on at most N hosts at once")
	fs.IntVarP(&c.conns, "connections", "c", 0, "keep at most N connections open (default 2 × --par)")
	fs.StringVarP(&c.user, "user", "l", "", "remote user for hosts that name none")
	fs.StringVarP(&c.key, "identity", "i", "", "private key file (only public-key authentication then)")
	fs.StringVarP(&c.sshConfig, "ssh-config", "F", "", "ssh config file instead of ~/.ssh/config")
	fs.StringArrayVarP(&c.sshOpts, "option", "o", nil, "ssh option, as ssh -o Name=value; repeatable")
	c.timeout = 30 * time.Second
	fs.VarP(seconds{&c.timeout}, "login-timeout", "t", "bound on logging in to a host, retries included")
	fs.VarP(seconds{&c.cmdTimeout}, "timeout", "T", "bound on the command (or copy) on each host (0: none)")
	fs.Float64Var(&c.rate, "rate", 0, "start at most N logins per second (0: no bound)")
	fs.IntVar(&c.batch, "batch", 0, "run the hosts in batches of N, one batch after the other")
	fs.IntVar(&c.maxFail, "max-fail", 100, "stop after a batch where over PCT% of hosts failed")
	fs.IntVarP(&c.reconnect, "reconnections", "r", 1, "reconnections allowed when a connection fails")
	fs.StringVar(&c.transport, "transport", "process", "an ssh -S per command, or a native mux client")
	if sub == "run" {
		fs.BoolVarP(&c.stdin, "stdin", "I", false, "read ossh's stdin to its end and send it to every host")
	}
	fs.BoolVarP(&c.quiet, "quiet", "q", false, "no output from the hosts, only the summary")
	fs.BoolVar(&c.inline, "inline", false, "print each host's output in one block when it finishes")
	fs.StringVar(&c.outdir, "outdir", "", "write each host's stdout to DIR/<host>")
	fs.StringVarP(&c.errdir, "errdir", "e", "", "write each host's stderr to DIR/<host>")
	fs.BoolVar(&c.json, "json", false, "print one JSON object per host as it finishes (NDJSON)")
	fs.IntVar(&c.jsonCap, "json-max-output", 64<<10, "bytes of each stream kept in --json (0: all)")
	fs.BoolVarP(&c.summaryAll, "summary-all", "a", false, "list every host in the summary, not only the failed ones")
	fs.StringVar(&c.failedHosts, "failed-hosts", "", "write the failed hosts to FILE, a hosts file for a re-run")
	if sub != "run" {
		fs.BoolVar(&c.scp, "scp", false, "copy with scp, not SFTP (put's progress then comes at the end)")
		c.progress = 10 * time.Second
	}
	fs.StringVar(&c.shardSpec, "shard", "", "run only the K-th (from 0) of N slices of the hosts, as K/N")
	fs.BoolVar(&c.listHosts, "list-hosts", false, "print the hosts the run would touch, then exit")
	fs.Var(seconds{&c.progress}, "progress-interval", "progress line period off a terminal (0: none)")
	fs.BoolP("help", "h", false, "print this help and exit")
	return fs
}

// discard is io.Discard without importing io here.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

var subUsage = map[string]string{
	"run": `usage: ossh run [flags] [--] command [args...]

Runs the command on every host. One argument is a remote shell command line;
with more, each is quoted for the remote shell. %LABEL% in the command is the
host's label, %% a %.
`,
	"put": `usage: ossh put [flags] local-file remote-path

Copies local-file to remote-path on every host over SFTP (into it when it is a
directory). %LABEL% in a path is the host's label.
`,
	"get": `usage: ossh get [flags] remote-file local-dir

Copies remote-file from every host to local-dir/<host>/<base name> over SFTP.
%LABEL% in a path is the host's label.
`,
}

const helpTail = `
Durations are seconds (30, 1.5) or Go durations (90s, 2m).
Ctrl-C or -T stops the remote commands too; a second Ctrl-C exits at once.
Exit status: 0 all hosts ok, 1 a command or copy failed, 2 usage error,
3 hosts unreachable, 4 ossh failed, 130 interrupted.
`

// helpText is the --help of run, put or get.
func helpText(sub string, fs *pflag.FlagSet) string {
	return subUsage[sub] + "\nFlags:\n" + flagUsages(fs) + helpTail
}

// metavars name the values of the flags in the help.
var metavars = map[string]string{
	"hosts": "HOSTS", "hosts-file": "FILE", "par": "N", "connections": "N", "user": "USER",
	"identity": "FILE", "ssh-config": "FILE", "option": "OPTION", "login-timeout": "SECONDS",
	"timeout": "SECONDS", "reconnections": "N", "transport": "process|mux", "outdir": "DIR",
	"errdir": "DIR", "json-max-output": "N", "failed-hosts": "FILE", "progress-interval": "SECONDS",
	"shard": "K/N", "inventory": "FILE", "limit": "PATTERN", "ssh-hosts": "PATTERN", "rate": "N", "batch": "N", "max-fail": "PCT",
}

// flagUsages lists the flags, one per line: "  -p, --par N   help (default 32)".
func flagUsages(fs *pflag.FlagSet) string {
	var left, right []string
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		l := "      --" + f.Name
		if f.Shorthand != "" {
			l = "  -" + f.Shorthand + ", --" + f.Name
		}
		mv := metavars[f.Name]
		if a := f.Annotations["metavar"]; len(a) > 0 {
			mv = a[0]
		}
		if mv != "" {
			l += " " + mv
		}
		r := f.Usage
		switch f.Value.Type() {
		case "bool", "stringArray":
		default:
			if f.DefValue != "" && f.DefValue != "0" {
				r += " (default " + f.DefValue + ")"
			}
		}
		left, right = append(left, l), append(right, r)
		width = max(width, len(l))
	})
	var b strings.Builder
	for i := range left {
		fmt.Fprintf(&b, "%-*s  %s\n", width, left[i], right[i])
	}
	return b.String()
}

// errHelp: --help was given and the help printed.
var errHelp = exitError{exitOK}

// parseFlags parses the flags of run, put or get. It prints the help and
// returns errHelp for --help.
func parseFlags(sub string, args []string) (*config, error) {
	c := &config{sub: sub}
	fs := newFlags(sub, c)
	err := fs.Parse(args)
	if h, _ := fs.GetBool("help"); h || errors.Is(err, pflag.ErrHelp) {
		fmt.Print(helpText(sub, fs))
		return nil, errHelp
	}
	if err != nil {
		return nil, usageErr(sub, err.Error())
	}
	c.args = fs.Args()
	switch c.transport {
	case "process", "mux":
	default:
		return nil, usageErr(sub, "--transport must be mux or process, not "+strconv.Quote(c.transport))
	}
	switch {
	case len(c.hostArgs) == 0 && len(c.hostFiles) == 0 && c.inventory == "" && c.sshHosts == "":
		return nil, usageErr(sub, "no hosts: give -H, -f, --inventory or --ssh-hosts")
	case c.limit != "" && c.inventory == "":
		return nil, usageErr(sub, "--limit selects hosts of an --inventory")
	case c.workers < 1:
		return nil, usageErr(sub, "--par must be at least 1")
	case c.conns != 0 && c.conns < c.workers:
		return nil, usageErr(sub, "--connections must be at least --par")
	case c.reconnect < 0:
		return nil, usageErr(sub, "--reconnections must not be negative")
	case c.rate < 0 || c.rate != c.rate:
		return nil, usageErr(sub, "--rate must not be negative")
	case c.batch < 0:
		return nil, usageErr(sub, "--batch must not be negative")
	case c.maxFail < 0 || c.maxFail > 100:
		return nil, usageErr(sub, "--max-fail must be a percentage, 0 to 100")
	case c.jsonCap < 0:
		return nil, usageErr(sub, "--json-max-output must not be negative")
	case c.json && c.inline:
		return nil, usageErr(sub, "--json and --inline do not go together")
	case sub == "run" && len(c.args) == 0 && !c.listHosts:
		return nil, usageErr(sub, "no command")
	case sub != "run" && len(c.args) != 2 && !c.listHosts:
		return nil, usageErr(sub, fmt.Sprintf("want two paths, got %d arguments", len(c.args)))
	}
	if c.shardSpec != "" {
		if c.shard, err = parseShard(c.shardSpec); err != nil {
			return nil, usageErr(sub, err.Error())
		}
	}
	if c.conns == 0 {
		c.conns = 2 * c.workers
	}
	return c, nil
}

func (c *config) transportValue() openssh.Transport {
	if c.transport == "mux" {
		return openssh.TransportMux
	}
	return openssh.TransportProcess
}

func usageErr(sub, msg string) error {
	fmt.Fprintf(os.Stderr, "ossh %s: %s\n(ossh %s --help lists the flags)\n", sub, msg, sub)
	return exitError{exitUsage}
}

// seconds is a duration flag that takes plain seconds ("30", "1.5") or a
// Go duration ("90s", "2m").
type seconds struct{ d *time.Duration }

func (s seconds) String() string {
	if s.d == nil || *s.d == 0 {
		return "0"
	}
	if *s.d%time.Second == 0 {
		return strconv.FormatInt(int64(*s.d/time.Second), 10)
	}
	return s.d.String()
}

func (s seconds) Set(v string) error {
	v = strings.TrimSpace(v)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || math.IsNaN(f) || f > math.MaxInt64/float64(time.Second) {
			return fmt.Errorf("%q: want a number of seconds, 0 or more", v)
		}
		*s.d = time.Duration(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("%q: want seconds (30, 1.5) or a duration (90s, 2m)", v)
	}
	*s.d = d
	return nil
}

func (s seconds) Type() string { return "seconds" }
