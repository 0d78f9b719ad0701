package openssh

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
)

// The helpers below carry Net::OpenSSH's method names. Each exists twice,
// with one vocabulary for options: as a method of [*Cmd], which takes the
// options from the Cmd's fields, and as a method of [*Master] taking only
// the command, a shorthand for the first:
//
//	m.Capture(ctx, "ls", "-l")  ==  m.Command(ctx, "ls", "-l").Capture()
//
// To give a helper options, prepare the Cmd:
//
//	c := m.Command(ctx, "make")
//	c.Dir, c.IdleTimeout = "/src", time.Minute
//	out, err := c.Capture()
//
// Options.DefaultStdin, DefaultStdout, DefaultStderr and DefaultSSHOpts
// apply where Net::OpenSSH applies them: to every helper built on open_ex
// (System, Test, Capture, Capture2, Open2, Open3, the pty and socket ones,
// Spawn) for the streams the helper does not take over, and not to PipeIn,
// PipeOut and MakeRemoteCommand.

// System runs the command and waits for it: Net::OpenSSH's system. It is
// [Cmd.Run]. Unlike Perl's system, the command does not inherit the
// program's standard streams: nil streams are discarded as in os/exec.
// Set Options.DefaultStdin, DefaultStdout and DefaultStderr to os.Stdin,
// os.Stdout and os.Stderr for Perl's behaviour.
func (c *Cmd) System() error { return c.Run() }

// System runs args remotely and waits; see [Cmd.System].
func (m *Master) System(ctx context.Context, args ...string) error {
	return m.Command(ctx, args...).System()
}

// Test runs the command and reports whether it exited with status 0:
// Net::OpenSSH's test. A non-zero status is false with a nil error; the
// error is for failures of ssh or the master (and a 255 status that the
// library could attribute to them). Standard output and error are
// discarded unless the Cmd sets them (the Master's defaults do not apply to
// them, as in Perl).
func (c *Cmd) Test() (bool, error) {
	if c.Stdout == nil && c.outPipeW == nil {
		c.Stdout = io.Discard
	}
	if c.Stderr == nil && c.errPipeW == nil {
		c.Stderr = io.Discard
	}
	err := c.Run()
	if err == nil {
		return true, nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return false, nil
	}
	return false, err
}

// Test runs args remotely and reports success; see [Cmd.Test].
func (m *Master) Test(ctx context.Context, args ...string) (bool, error) {
	return m.Command(ctx, args...).Test()
}

// Capture runs the command and returns its standard output: Net::OpenSSH's
// capture (in scalar context). It is [Cmd.Output]. The output read so far
// is returned with an error too. Give input with Stdin, for example
// bytes.NewReader(data) for Perl's stdin_data.
func (c *Cmd) Capture() ([]byte, error) { return c.Output() }

// Capture runs args remotely and returns their output; see [Cmd.Capture].
func (m *Master) Capture(ctx context.Context, args ...string) ([]byte, error) {
	return m.Command(ctx, args...).Capture()
}

// Capture2 runs the command and returns its standard output and standard
// error: Net::OpenSSH's capture2. Stdout and Stderr must be nil. On a
// non-zero exit the [*ExitError] holds the tail of stderr as well.
func (c *Cmd) Capture2() (stdout, stderr []byte, err error) {
	if c.Stdout != nil || c.Stderr != nil || c.outPipeW != nil || c.errPipeW != nil || c.StderrToStdout {
		return nil, nil, &ArgError{Arg: "Cmd", Reason: "Capture2 needs Stdout and Stderr nil"}
	}
	var o, e lockedBuffer
	c.Stdout, c.Stderr = &o, &e
	err = c.Run()
	var ee *ExitError
	if errors.As(err, &ee) && ee.Stderr == nil {
		b := e.Bytes()
		if len(b) > 4<<10 {
			b = b[len(b)-4<<10:]
		}
		ee.Stderr = append([]byte(nil), b...)
	}
	return o.Bytes(), e.Bytes(), err
}

// Capture2 runs args remotely and returns their stdout and stderr; see
// [Cmd.Capture2].
func (m *Master) Capture2(ctx context.Context, args ...string) (stdout, stderr []byte, err error) {
	return m.Command(ctx, args...).Capture2()
}

// PipeIn starts the command and returns a writer to its standard input:
// Net::OpenSSH's pipe_in. Close sends EOF, waits for the command and
// returns its error. As in Perl, no default stream or DefaultSSHOpts
// applies and no extended redirection is added; Stdout and Stderr are the
// Cmd's (nil discards).
func (c *Cmd) PipeIn() (io.WriteCloser, error) {
	c.noDefaults, c.noExtended = true, true
	w, err := c.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, err
	}
	return &pipeIn{w: w, c: c}, nil
}

// PipeIn runs args remotely with a writer to their input; see [Cmd.PipeIn].
func (m *Master) PipeIn(ctx context.Context, args ...string) (io.WriteCloser, error) {
	return m.Command(ctx, args...).PipeIn()
}

type pipeIn struct {
	w    io.WriteCloser
	c    *Cmd
	once sync.Once
	err  error
}

func (p *pipeIn) Write(b []byte) (int, error) { return p.w.Write(b) }

// Close closes the input and waits for the command.
func (p *pipeIn) Close() error {
	p.once.Do(func() {
		p.w.Close()
		p.err = p.c.Wait()
	})
	return p.err
}

// PipeOut starts the command and returns a reader of its standard output:
// Net::OpenSSH's pipe_out. Close waits for the command and returns its
// error; closed before EOF, the reader's end is closed first, so the
// command may end with an error from the broken pipe. As in Perl, no
// default stream or DefaultSSHOpts applies and no extended redirection is
// added.
func (c *Cmd) PipeOut() (io.ReadCloser, error) {
	c.noDefaults, c.noExtended = true, true
	r, err := c.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.Start(); err != nil {
		return nil, err
	}
	return &pipeOut{r: r, c: c}, nil
}

// PipeOut runs args remotely with a reader of their output; see
// [Cmd.PipeOut].
func (m *Master) PipeOut(ctx context.Context, args ...string) (io.ReadCloser, error) {
	return m.Command(ctx, args...).PipeOut()
}

type pipeOut struct {
	r    io.ReadCloser
	c    *Cmd
	once sync.Once
	err  error
}

func (p *pipeOut) Read(b []byte) (int, error) { return p.r.Read(b) }

// Close closes the output and waits for the command.
func (p *pipeOut) Close() error {
	p.once.Do(func() {
		p.r.Close()
		p.err = p.c.Wait()
	})
	return p.err
}

// Open2 starts the command with pipes to its standard input and from its
// standard output: Net::OpenSSH's open2. Read the output to EOF (closing
// the input first when the command reads to EOF), then call [Cmd.Wait].
// Stderr is the Cmd's.
func (c *Cmd) Open2() (stdin io.WriteCloser, stdout io.ReadCloser, err error) {
	if stdin, err = c.StdinPipe(); err != nil {
		return nil, nil, err
	}
	if stdout, err = c.StdoutPipe(); err != nil {
		c.cleanupFailedStart()
		return nil, nil, err
	}
	if err = c.Start(); err != nil {
		return nil, nil, err
	}
	return stdin, stdout, nil
}

// Open2 runs args remotely with pipes; see [Cmd.Open2]. Call Wait on the
// returned Cmd when done.
func (m *Master) Open2(ctx context.Context, args ...string) (stdin io.WriteCloser, stdout io.ReadCloser, c *Cmd, err error) {
	c = m.Command(ctx, args...)
	stdin, stdout, err = c.Open2()
	return stdin, stdout, c, err
}

// Open3 is [Cmd.Open2] with a third pipe from standard error:
// Net::OpenSSH's open3. Read both outputs concurrently.
func (c *Cmd) Open3() (stdin io.WriteCloser, stdout, stderr io.ReadCloser, err error) {
	if stdin, err = c.StdinPipe(); err != nil {
		return nil, nil, nil, err
	}
	if stdout, err = c.StdoutPipe(); err != nil {
		c.cleanupFailedStart()
		return nil, nil, nil, err
	}
	if stderr, err = c.StderrPipe(); err != nil {
		c.cleanupFailedStart()
		return nil, nil, nil, err
	}
	if err = c.Start(); err != nil {
		return nil, nil, nil, err
	}
	return stdin, stdout, stderr, nil
}

// Open3 runs args remotely with three pipes; see [Cmd.Open3].
func (m *Master) Open3(ctx context.Context, args ...string) (stdin io.WriteCloser, stdout, stderr io.ReadCloser, c *Cmd, err error) {
	c = m.Command(ctx, args...)
	stdin, stdout, stderr, err = c.Open3()
	return stdin, stdout, stderr, c, err
}

// Open2Pty starts the command on a pseudo-terminal and returns its master
// side: Net::OpenSSH's open2pty. It is [Cmd.StartPty]; standard error goes
// to the pty too unless Stderr is set.
func (c *Cmd) Open2Pty() (*os.File, error) { return c.StartPty() }

// Open2Pty runs args remotely on a pty; see [Cmd.Open2Pty].
func (m *Master) Open2Pty(ctx context.Context, args ...string) (*os.File, *Cmd, error) {
	c := m.Command(ctx, args...)
	f, err := c.Open2Pty()
	return f, c, err
}

// Open3Pty is [Cmd.Open2Pty] with ssh's standard error on a separate pipe:
// Net::OpenSSH's open3pty. The remote command's own stderr goes to the
// remote tty, so the pipe carries only ssh's messages.
func (c *Cmd) Open3Pty() (ptm *os.File, stderr io.ReadCloser, err error) {
	if stderr, err = c.StderrPipe(); err != nil {
		return nil, nil, err
	}
	if ptm, err = c.StartPty(); err != nil {
		c.cleanupFailedStart()
		return nil, nil, err
	}
	return ptm, stderr, nil
}

// Open3Pty runs args remotely on a pty with stderr apart; see
// [Cmd.Open3Pty].
func (m *Master) Open3Pty(ctx context.Context, args ...string) (ptm *os.File, stderr io.ReadCloser, c *Cmd, err error) {
	c = m.Command(ctx, args...)
	ptm, stderr, err = c.Open3Pty()
	return ptm, stderr, c, err
}

// Open2Socket starts the command on one end of a socketpair and returns
// the other: Net::OpenSSH's open2socket. It is [Cmd.StartSocket].
func (c *Cmd) Open2Socket() (net.Conn, error) { return c.StartSocket() }

// Open2Socket runs args remotely on a socket; see [Cmd.Open2Socket].
func (m *Master) Open2Socket(ctx context.Context, args ...string) (net.Conn, *Cmd, error) {
	c := m.Command(ctx, args...)
	conn, err := c.Open2Socket()
	return conn, c, err
}

// Spawn starts the command with the Cmd's streams (or the Master's
// defaults) and returns without waiting: Net::OpenSSH's spawn. It is
// [Cmd.Start]; call [Cmd.Wait].
func (c *Cmd) Spawn() error { return c.Start() }

// Spawn starts args remotely; see [Cmd.Spawn].
func (m *Master) Spawn(ctx context.Context, args ...string) (*Cmd, error) {
	c := m.Command(ctx, args...)
	return c, c.Spawn()
}

// MakeRemoteCommand returns the local command line (ssh and its arguments)
// that runs the command through the master, for tools that take a command
// to run: Net::OpenSSH's make_remote_command. It uses the Cmd's quoting,
// SSHOpts, Tty, ForwardAgent, ForwardX11, Subsystem, Dir and Env; as in
// Perl, DefaultSSHOpts does not apply and no redirection is added. The
// command line is valid while the master runs. To make it one string for a
// local POSIX shell, quote it with [ShellQuote].
func (c *Cmd) MakeRemoteCommand() ([]string, error) {
	c.noDefaults, c.noExtended = true, true
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := c.m.WaitForMaster(c.ctx); err != nil {
		return nil, err
	}
	line, err := c.buildLine(false, false, false)
	if err != nil {
		return nil, err
	}
	return c.m.proc.argv(c.request(line)), nil
}

// MakeRemoteCommand returns the local argv that runs args through the
// master; see [Cmd.MakeRemoteCommand].
func (m *Master) MakeRemoteCommand(ctx context.Context, args ...string) ([]string, error) {
	return m.Command(ctx, args...).MakeRemoteCommand()
}
