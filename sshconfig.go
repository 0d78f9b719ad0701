package openssh

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
)

// SSHConfig is ssh's effective configuration for a connection, as "ssh -G"
// prints it: lower-case keywords mapped to their values, in order (options
// such as identityfile or sendenv may appear several times).
type SSHConfig map[string][]string

// Get returns the first value of keyword (matched case-insensitively), or
// "" when ssh printed none.
func (c SSHConfig) Get(keyword string) string {
	if v := c[strings.ToLower(keyword)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// DefaultSSHConfiguration returns the configuration ssh would really use
// for the master: it runs "ssh -G" with the master's whole command line
// (config file, MasterOpts, user, port, method preferences, host key
// policy), not only the host as Net::OpenSSH does. It starts no connection
// and does not need the master to be up.
func (m *Master) DefaultSSHConfiguration(ctx context.Context) (SSHConfig, error) {
	argv := m.masterArgv()
	n := len(m.baseArgv())
	argv = slices.Insert(argv, n, "-G")
	cmd := exec.Command(argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := runChild(ctx, cmd); err != nil {
		return nil, &Error{Code: CodeSlaveFailed, Op: "ssh -G", Host: m.host, Err: err, Detail: lastLine(stderr.Bytes())}
	}
	return parseSSHConfig(stdout.String()), nil
}

// parseSSHConfig reads "keyword value..." lines.
func parseSSHConfig(s string) SSHConfig {
	c := SSHConfig{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		k, v, _ := strings.Cut(l, " ")
		k = strings.ToLower(k)
		c[k] = append(c[k], strings.TrimSpace(v))
	}
	return c
}

// AuthMethods returns the authentication methods the server offers to the
// master's user, such as ["publickey", "password"] (Net::SSH2's auth_list).
// It opens a separate connection (not through the master, which need not be
// up) with the master's options and host key policy, asks with the "none"
// method and reads the answer from ssh's debug output; it never
// authenticates. A server that lets the user in without authentication
// gives an empty list.
func (m *Master) AuthMethods(ctx context.Context) ([]string, error) {
	argv := m.baseArgv()
	argv = append(argv, m.opts.MasterOpts...)
	argv = append(argv,
		"-v", "-T", "-x", "-a",
		"-o", "BatchMode=yes",
		"-o", "PreferredAuthentications=none",
		"-o", "NumberOfPasswordPrompts=0",
		"-o", "ControlMaster=no", "-o", "ControlPath=none",
	)
	argv = append(argv, m.hostKeyArgs()...)
	argv = append(argv, m.connArgs()...)
	if m.opts.ProxyCommand != "" {
		argv = append(argv, "-o", "ProxyCommand="+m.opts.ProxyCommand)
	}
	argv = append(argv, m.targetArgs()...)
	argv = append(argv, "exit")
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stderr = &out
	runErr := runChild(ctx, cmd)
	text := out.String()
	const canContinue = "Authentications that can continue: "
	var methods []string
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n") {
		if i := strings.Index(l, canContinue); i >= 0 {
			methods = nil
			for _, f := range strings.Split(strings.TrimSpace(l[i+len(canContinue):]), ",") {
				if f != "" {
					methods = append(methods, f)
				}
			}
		}
	}
	if methods != nil {
		return methods, nil
	}
	if runErr == nil && strings.Contains(text, "Authenticated to ") {
		return []string{}, nil
	}
	if ctx.Err() != nil {
		return nil, &Error{Code: CodeSlaveFailed, Op: "auth methods", Host: m.host, Err: ctx.Err()}
	}
	line, cause := classifyStderr(text)
	if cause == nil {
		cause, line = ErrMasterExited, lastLine(out.Bytes())
	}
	return nil, &Error{Code: CodeSlaveFailed, Op: "auth methods", Host: m.host, Err: cause, Detail: line}
}
