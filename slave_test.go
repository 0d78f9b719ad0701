package openssh

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestArgvGolden(t *testing.T) {
	// newMaster checks that CtlPath's parent is secure and that the path is
	// free: give it a real directory, then pin the path for the golden
	// text.
	dir := testCtlDir(t)
	mk := func(target string, o Options) *Master {
		o.CtlPath = filepath.Join(dir, "sock")
		m, err := newMaster(target, &o)
		if err != nil {
			t.Fatalf("newMaster(%q): %v", target, err)
		}
		m.ctlPath = "/ctl/sock"
		return m
	}
	cases := []struct {
		name string
		argv []string
	}{
		{"master_default", mk("host", Options{}).masterArgv()},
		{"master_full", mk("alice@[2001:db8::1]:2222", Options{
			SSHPath: "/opt/ssh -4", ConfigFile: "/etc/cfg", MasterOpts: []string{"-o", "ServerAliveInterval=3"},
			BatchMode: true, KeyPath: "/k/id", ProxyCommand: "nc %h %p", ForwardAgent: true, ForwardX11: true,
			Timeout: 10 * time.Second,
		}).masterArgv()},
		{"slave_command", mk("u@h:22", Options{}).slaveArgv(slaveSpec{command: "echo 'a b'", hasCommand: true})},
		{"slave_tty_opts", mk("h", Options{}).slaveArgv(slaveSpec{sshOpts: []string{"-o", "LogLevel=ERROR"}, tty: 2, forwardAgent: true, forwardX11: true, command: "top", hasCommand: true})},
		{"slave_subsystem", mk("h", Options{}).slaveArgv(slaveSpec{subsystem: true, command: "sftp", hasCommand: true})},
		{"slave_shell", mk("h", Options{}).slaveArgv(slaveSpec{tty: 1})},
		{"control_check", mk("u@h", Options{Port: 2200}).slaveArgv(slaveSpec{control: "check"})},
		{"tunnel", mk("h", Options{}).slaveArgv(slaveSpec{tunnel: "[::1]:80"})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := strings.Join(c.argv, "\n") + "\n"
			path := filepath.Join("testdata", "argv", c.name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestArgvGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("argv differs from %s:\n got: %q\nwant: %q", path, got, want)
			}
		})
	}
}

// TestArgvInvariants checks what every slave command line must hold,
// whatever the spec: the hardening options, "--" right before the host.
func TestArgvInvariants(t *testing.T) {
	dir := testCtlDir(t)
	m, err := newMaster("-h", &Options{CtlDir: dir})
	if err == nil {
		t.Fatalf("a host starting with - was accepted: %v", m.host)
	}
	m, err = newMaster("u@h", &Options{CtlDir: dir, Port: 22})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []slaveSpec{{}, {command: "--", hasCommand: true}, {control: "exit"}, {tunnel: "a:1"}, {tty: 2, subsystem: true}} {
		argv := m.slaveArgv(s)
		i := indexOf(argv, "--")
		if i < 0 || argv[i+1] != "h" {
			t.Errorf("%+v: no -- before the host: %q", s, argv)
		}
		if !strings.Contains(strings.Join(argv[:i], " "), "-o ControlMaster=no -o ProxyCommand=false") {
			t.Errorf("%+v: slave not hardened: %q", s, argv)
		}
	}
}

func indexOf(a []string, s string) int {
	for i, v := range a {
		if v == s {
			return i
		}
	}
	return -1
}

func TestBadOptions(t *testing.T) {
	dir := testCtlDir(t)
	cases := []struct {
		target string
		o      Options
	}{
		{"u@h", Options{User: "v"}},
		{"h:22", Options{Port: 23}},
		{"h", Options{Port: 70000}},
		{"h", Options{Port: -1}},
		{"h", Options{User: "-oops"}},
		{"h", Options{MasterOpts: []string{"-o", "a\x00b"}}},
		{"h", Options{DefaultSSHOpts: []string{"\x00"}}},
		{"h", Options{KeyPath: "k\x00"}},
		{"h", Options{SSHPath: "ssh 'unclosed"}},
		{"h", Options{Timeout: -time.Second}},
		{"h", Options{RemoteShell: "no-such-shell!"}},
		{"h", Options{Vars: map[string]string{"a b": "x"}}},
	}
	for _, c := range cases {
		c.o.CtlDir = dir
		_, err := New(t.Context(), c.target, &c.o)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("New(%q, %+v) = %v, want ErrInvalid", c.target, c.o, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bad options left files: %v", entries)
	}
}
