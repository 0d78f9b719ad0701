package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
	"github.com/goopenssh/openssh/parallel"
	"github.com/spf13/pflag"
)

// demo starts one private sshd listening on 127.0.0.2 ... 127.0.0.(n+1),
// each address standing for a host, and through a parallel.Runner runs a
// command and copies a file on every host, printing live output and
// summaries, then tears everything down.
func demo(ctx context.Context, args []string) error {
	n := new(int)
	fs := newDemoFlags(n)
	err := fs.Parse(args)
	if h, _ := fs.GetBool("help"); h || errors.Is(err, pflag.ErrHelp) {
		fmt.Print(demoHelp(fs))
		return errHelp
	}
	if err != nil {
		return usageErr("demo", err.Error())
	}
	if *n < 1 || *n > 16 || fs.NArg() > 0 {
		return usageErr("demo", "--hosts must be 1-16, and demo takes no arguments")
	}
	tb := &sandboxTB{}
	defer tb.Close()
	addrs := make([]string, *n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.0.%d", i+2)
	}
	start := time.Now()
	srv := sshtest.Start(tb, sshtest.Config{Addrs: addrs})
	fmt.Printf("sandbox: sshd pid %d on %s..%s port %d, user %s (%.0f ms)\n",
		srv.PID(), addrs[0], addrs[len(addrs)-1], srv.Port, srv.User, ms(time.Since(start)))
	tmp, err := os.MkdirTemp("", "ossh")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	r := &parallel.Runner{
		Workers:     *n,
		KeepMasters: true, // the copy reuses the masters of the command
		Options: &openssh.Options{
			ConfigFile: srv.SSHConfig,
			CtlDir:     tmp,
			Timeout:    20 * time.Second,
			MasterOpts: []string{"-o", "KexAlgorithms=curve25519-sha256"},
		},
	}
	defer r.Close()
	for i, a := range addrs {
		if err := r.AddHost(fmt.Sprintf("host%d", i+1), a, nil); err != nil {
			return err
		}
	}
	con := newConsole(os.Stdout, os.Stderr)
	c := &config{sub: "run"}
	failed := 0
	step := func(title string, a parallel.Action) error {
		fmt.Printf("\n$ %s\n", title)
		if _, err := r.All(a); err != nil {
			return err
		}
		rp := newReporter(c, con, len(addrs))
		res := execute(ctx, r, con, rp, nil, true, 0)
		summary(os.Stdout, "run", res, true, time.Since(rp.t0))
		failed += len(res.Failed())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	}
	cmd := "uname -n; id -un; echo label=%LABEL%"
	if err := step("ossh run -H 'host1 ... host"+fmt.Sprint(*n)+"' -- '"+cmd+"'", parallel.Command(cmd)); err != nil {
		return err
	}
	local := filepath.Join(tmp, "greeting.txt")
	if err := os.WriteFile(local, []byte("hello from ossh demo\n"), 0o644); err != nil {
		return err
	}
	remote := "/tmp/ossh-demo-%LABEL%.txt"
	if err := step("ossh put ... "+local+" "+remote, parallel.Put(local, remote)); err != nil {
		return err
	}
	check := "cksum < " + remote + "; rm -f " + remote
	if err := step("ossh run ... -- '"+check+"'", parallel.Command(check)); err != nil {
		return err
	}
	r.Close()
	fmt.Printf("\n%d hosts, %d failures; masters closed, sandbox torn down (%.1f s in all)\n",
		len(addrs), failed, time.Since(start).Seconds())
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// newDemoFlags returns the flag set of ossh demo, writing the number of
// hosts into n.
func newDemoFlags(n *int) *pflag.FlagSet {
	fs := pflag.NewFlagSet("ossh demo", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(discard{})
	fs.IntVarP(n, "hosts", "n", 8, "number of sandbox hosts, 1 to 16")
	fs.SetAnnotation("hosts", "metavar", []string{"N"})
	fs.BoolP("help", "h", false, "print this help and exit")
	return fs
}

func demoHelp(fs *pflag.FlagSet) string {
	return `usage: ossh demo [flags]

Starts a private sshd with throwaway keys on 127.0.0.2 and up, one address
per host, runs a command and a file copy on every host through ossh's
runner, prints the summaries and tears everything down. It needs sshd
(apt-get install openssh-server).

Flags:
` + flagUsages(fs)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
