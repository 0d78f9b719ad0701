package openssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// sftpMaxPacket is the data size of SFTP reads and writes: OpenSSH's
// sftp-server accepts messages up to 256 KiB, so 255 KiB of data leaves
// room for the headers. Measured through the master, it roughly doubles
// the throughput of pkg/sftp's 32 KiB default.
const sftpMaxPacket = 255 << 10

// SFTP starts the "sftp" subsystem through the master (ssh -s) and returns
// a [github.com/pkg/sftp] client speaking over it. Concurrent reads and
// writes and 255 KiB packets are on by default (pkg/sftp's defaults are
// 32 KiB and no concurrent writes, several times slower); opts come after
// the defaults, so they override them. With concurrent writes, a write
// that fails may leave the file longer than what was written: truncate it
// on error, or pass sftp.UseConcurrentWrites(false).
//
// Closing the client ends the session: Close returns once the slave ssh has
// exited and been reaped (with [TransportMux], once the master has closed
// the session, which needs no process). Failures return an [*Error] matching
// [ErrSFTPFailed], with ssh's last stderr line as its Detail. The session
// counts against Options.MaxSessions until the client is closed; ctx bounds
// only the start.
func (m *Master) SFTP(ctx context.Context, opts ...sftp.ClientOption) (*sftp.Client, error) {
	if err := m.WaitForMaster(ctx); err != nil {
		return nil, err
	}
	release, err := m.acquireSession(ctx, "sftp")
	if err != nil {
		return nil, err
	}
	fail := func(err error, detail string) error {
		return &Error{Code: CodeSFTPFailed, Op: "sftp", Host: m.host, Err: err, Detail: detail}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		release()
		return nil, fail(err, "")
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		release()
		return nil, fail(err, "")
	}
	// Bulk data in both directions: big pipe buffers (Linux) let the
	// master and this process move whole 255 KiB packets per wake-up.
	grown := growSFTPPipes(inW, outW)
	w, err := m.sftpSession(ctx, inR, outW)
	inR.Close()
	outW.Close()
	if err != nil {
		releasePipes(grown)
		inW.Close()
		outR.Close()
		release()
		if ctx.Err() != nil {
			return nil, ctxError(ctx.Err(), "sftp", m.host)
		}
		if aerr := m.alive(); aerr != nil {
			return nil, aerr
		}
		return nil, fail(err, "")
	}
	w.m, w.w, w.r, w.release, w.grown = m, inW, outR, release, grown
	// The handshake is bounded by ctx: a server that never answers must
	// not hang the caller.
	stop := context.AfterFunc(ctx, func() { w.kill() })
	all := append([]sftp.ClientOption{
		sftp.UseConcurrentReads(true),
		sftp.UseConcurrentWrites(true),
		sftp.MaxPacketUnchecked(sftpMaxPacket),
	}, opts...)
	c, err := sftp.NewClientPipe(outR, w, all...)
	stopped := stop()
	if err != nil {
		w.Close()
		if !stopped && ctx.Err() != nil {
			return nil, ctxError(ctx.Err(), "sftp", m.host)
		}
		if aerr := m.alive(); aerr != nil {
			return nil, aerr
		}
		return nil, fail(fmt.Errorf("unable to create SFTP client: %w", err), lastLine(w.tail.Bytes()))
	}
	if !stopped {
		// ctx ended just as the handshake finished: the process is gone.
		c.Close()
		return nil, ctxError(ctx.Err(), "sftp", m.host)
	}
	w.client = c
	sftpMasters.Store(c, m) // for the fast path of SFTPGetFile and SFTPPutFile
	return c, nil
}

// sftpSession opens the sftp subsystem with the given stdin and stdout
// (through a slave ssh, or over the control socket with TransportMux and
// no Options.DefaultSSHOpts); ssh's stderr (or the remote stderr) is kept
// in the conn's tail.
func (m *Master) sftpSession(ctx context.Context, in, out *os.File) (*sftpConn, error) {
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	b := m.backendFor(m.opts.DefaultSSHOpts)
	s, err := b.startSession(ctx, &sessionReq{
		line: "sftp", hasCommand: true, subsystem: true, sshOpts: m.opts.DefaultSSHOpts,
		stdin: in, stdout: out, stderr: errW,
	})
	errW.Close()
	if err != nil {
		errR.Close()
		return nil, err
	}
	w := &sftpConn{sess: s, tail: newTailBuffer(4 << 10), copied: make(chan struct{})}
	go func() {
		defer close(w.copied)
		defer errR.Close()
		io.Copy(w.tail, errR)
	}()
	return w, nil
}

// sftpConn is the writing side of an SFTP session given to pkg/sftp. Its
// Close, which pkg/sftp calls from Client.Close (and when the connection
// breaks), closes the session's stdin, waits for the session to end
// (ending it if it does not within a few seconds), and closes the reading
// side.
type sftpConn struct {
	m       *Master
	w       *os.File
	r       *os.File
	release func()
	sess    session
	client  *sftp.Client  // set once the client is made
	grown   int           // pipes grown by growSFTPPipes
	tail    *tailBuffer   // the session's stderr
	copied  chan struct{} // closed when the stderr copy has ended
	once    sync.Once
	err     error
}

// kill ends the session now.
func (c *sftpConn) kill() { c.sess.end(2 * time.Second) }

func (c *sftpConn) Write(p []byte) (int, error) { return c.w.Write(p) }

func (c *sftpConn) Close() error {
	c.once.Do(func() {
		if c.client != nil {
			sftpMasters.Delete(c.client)
		}
		c.err = c.w.Close()
		select {
		case <-c.sess.done():
		case <-time.After(5 * time.Second):
			c.sess.end(2 * time.Second)
		}
		c.sess.wait()
		<-c.copied
		// pkg/sftp's reader sees EOF (the session is over) or ErrClosed.
		c.r.Close()
		releasePipes(c.grown)
		c.release()
		c.m.log.Debug("openssh: sftp ended", "host", c.m.host)
	})
	return c.err
}

// SFTPGetFile downloads the remote file remote into the local file local
// (created or truncated, mode 0666 before umask) over c, with pkg/sftp's
// concurrent reads. progress, when not nil, receives the bytes written so
// far and the remote file's size. A file of 4 MiB or more, on a client
// from [Master.SFTP], is read over a second session of the master with 64
// requests in flight (when Options.MaxSessions leaves a slot free); ctx
// then also interrupts a request the server does not answer.
//
// ctx is checked before each step and between the blocks written: once it
// is done, the download stops with its error (pkg/sftp takes no context,
// so a request the server never answers is not interrupted; close c for
// that). Errors are [*os.PathError]s naming the side and the path
// ("openssh: sftp get: open remote /srv/x: file does not exist"), so
// errors.Is(err, fs.ErrNotExist) and the like hold.
func SFTPGetFile(ctx context.Context, c *sftp.Client, remote, local string, progress ProgressFunc) (err error) {
	remoteErr := func(op string, err error) error { return sftpPathErr("sftp get: "+op+" remote", remote, err) }
	localErr := func(op string, err error) error { return sftpPathErr("sftp get: "+op+" local", local, err) }
	if err := ctx.Err(); err != nil {
		return remoteErr("open", err)
	}
	if ok, err := fastGet(ctx, c, remote, local, progress); ok {
		return err
	}
	rf, err := c.Open(remote)
	if err != nil {
		return remoteErr("open", err)
	}
	defer rf.Close()
	total := int64(-1)
	if st, err := rf.Stat(); err == nil {
		total = st.Size()
	}
	lf, err := os.Create(local)
	if err != nil {
		return localErr("create", err)
	}
	defer func() {
		if cerr := lf.Close(); err == nil && cerr != nil {
			err = localErr("close", cerr)
		}
	}()
	lw := &ctxWriter{ctx: ctx, w: lf}
	cw := &countingWriter{w: lw, total: total, fn: progress}
	if progress != nil {
		progress(0, total)
	}
	if _, err := rf.WriteTo(cw); err != nil {
		if lw.err != nil {
			return localErr("write", lw.err)
		}
		return remoteErr("read", err)
	}
	cw.finish()
	return nil
}

// SFTPPutFile uploads the local file local to the remote file remote
// (created or truncated) over c, with pkg/sftp's concurrent writes when
// the client has them. progress, when not nil, receives the bytes read so
// far and the local file's size. On error the remote file is truncated to
// zero, since concurrent writes may have left holes (see [Master.SFTP]).
// A file of 4 MiB or more goes as in [SFTPGetFile], 64 writes in flight.
// ctx and the errors are as for [SFTPGetFile].
func SFTPPutFile(ctx context.Context, c *sftp.Client, local, remote string, progress ProgressFunc) error {
	remoteErr := func(op string, err error) error { return sftpPathErr("sftp put: "+op+" remote", remote, err) }
	localErr := func(op string, err error) error { return sftpPathErr("sftp put: "+op+" local", local, err) }
	if err := ctx.Err(); err != nil {
		return localErr("open", err)
	}
	lf, err := os.Open(local)
	if err != nil {
		return localErr("open", err)
	}
	defer lf.Close()
	st, err := lf.Stat()
	if err != nil {
		return localErr("stat", err)
	}
	cw := &countingWriter{w: io.Discard, total: st.Size(), fn: progress}
	if progress != nil {
		progress(0, st.Size())
	}
	if ok, err := fastPut(ctx, c, lf, st.Size(), local, remote, cw); ok {
		if err == nil {
			cw.finish()
		}
		return err
	}
	rf, err := c.Create(remote)
	if err != nil {
		return remoteErr("create", err)
	}
	lr := &ctxReader{ctx: ctx, r: lf}
	n, err := rf.ReadFrom(&countingReader{r: lr, size: st.Size(), cw: cw})
	if err != nil {
		rf.Truncate(0)
		rf.Close()
		if lr.err != nil {
			return localErr("read", lr.err)
		}
		return remoteErr("write", err)
	}
	if err := rf.Close(); err != nil {
		return remoteErr("close", err)
	}
	if n != st.Size() {
		return localErr("read", fmt.Errorf("short upload: %d of %d bytes", n, st.Size()))
	}
	cw.finish()
	return nil
}

// sftpPathErr wraps err in an [*os.PathError] for op and path (taking the
// cause out of a PathError that os already made).
func sftpPathErr(op, path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == path {
		err = pe.Err
	}
	return &os.PathError{Op: "openssh: " + op, Path: path, Err: err}
}

// ctxWriter writes to w until ctx is done, and records its own error.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
	err error
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if c.err = c.ctx.Err(); c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.err = err
	return n, err
}

// ctxReader reads from r until ctx is done, and records its own error
// (not io.EOF).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.err = c.ctx.Err(); c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}
