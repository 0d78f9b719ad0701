package openssh

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"
)

// The whole-file fast path of SFTPGetFile and SFTPPutFile. pkg/sftp moves
// each 255 KiB through several goroutines, channels and a fresh packet
// buffer, which costs this process about as much CPU per GiB as OpenSSH's
// sftp spends in all. For a big file the helpers instead open a second
// SFTP session on the client's master and speak the few messages a
// transfer needs (open, read or write, close) themselves: one goroutine
// keeps sftpFastDepth requests of sftpMaxPacket bytes in flight, as
// OpenSSH's sftp does, and moves the data between the pipe and the local
// file with no copy in between. The client given stays the API; it is used
// for the Stat before the transfer, and when anything fails before the
// first byte moves (no second session to be had, the open refused), the
// helpers fall back to it, so errors read as before.

const (
	// sftpFastMin is the smallest file that takes the fast path: below it
	// the session start costs more than the fast path saves.
	sftpFastMin = 4 << 20
	// sftpFastDepth is the number of requests in flight.
	sftpFastDepth = 64
)

// sftpMasters maps the clients made by Master.SFTP (and not yet closed) to
// their master.
var sftpMasters sync.Map // *sftp.Client -> *Master

// errPipeEOF is spliceTo's error when the session's output ended first.
var errPipeEOF = errors.New("end of the session's output")

// SFTP protocol version 3 (draft-ietf-secsh-filexfer-02), the messages the
// fast path uses.
const (
	fxpInit    = 1
	fxpVersion = 2
	fxpOpen    = 3
	fxpClose   = 4
	fxpRead    = 5
	fxpWrite   = 6
	fxpStatus  = 101
	fxpHandle  = 102
	fxpData    = 103

	fxfRead  = 0x01
	fxfWrite = 0x02
	fxfCreat = 0x08
	fxfTrunc = 0x10

	fxOK         = 0
	fxEOF        = 1
	fxNoSuchFile = 2
	fxPermDenied = 3
)

// fastConn is one SFTP session of the fast path.
type fastConn struct {
	conn *sftpConn
	r    replyReader   // br, or the pipe itself while a download splices
	br   *bufio.Reader // over conn.r
	hdr  []byte        // the header being sent, reused
	id   uint32
	poll bool // waits for output in poll(2): see takePoller
}

// replyReader is what replies are read from: a bufio.Reader, or a
// pipeReader when nothing may be read ahead.
type replyReader interface {
	io.Reader
	Discard(n int) (int, error)
}

// pipeReader reads the session's output without reading ahead, waiting
// in poll(2) when poll is set (see takePoller).
type pipeReader struct {
	f    *os.File
	poll bool
}

func (p pipeReader) Read(b []byte) (int, error) { return pollRead(p.f, b, p.poll) }

func (p pipeReader) Discard(n int) (int, error) {
	k, err := io.CopyN(io.Discard, p, int64(n))
	return int(k), err
}

// startFast opens a second SFTP session on c's master and does the
// version handshake. It returns nil when c was not made by Master.SFTP,
// when no session slot is free, or when the session cannot start: the
// caller then uses c.
func startFast(c *sftp.Client) *fastConn {
	v, ok := sftpMasters.Load(c)
	if !ok {
		return nil
	}
	m := v.(*Master)
	release := func() {}
	if m.sessions != nil {
		select {
		case m.sessions <- struct{}{}:
			var once sync.Once
			release = func() { once.Do(func() { <-m.sessions }) }
		default:
			return nil
		}
	}
	// On Linux the session's stdin is a Unix socket in blocking mode, not
	// a pipe (see uploadPipe).
	inR, inW, err := uploadPipe()
	if err != nil {
		release()
		return nil
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		release()
		return nil
	}
	grown := growSFTPPipes(outW)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := m.sftpSession(ctx, inR, outW)
	inR.Close()
	outW.Close()
	if err != nil {
		releasePipes(grown)
		inW.Close()
		outR.Close()
		release()
		return nil
	}
	w.m, w.w, w.r, w.release, w.grown = m, inW, outR, release, grown
	f := &fastConn{conn: w, poll: takePoller()}
	f.br = bufio.NewReaderSize(pipeReader{outR, f.poll}, 64<<10)
	f.r = f.br
	// The handshake is bounded: a session that never answers is ended.
	t := time.AfterFunc(30*time.Second, w.kill)
	err = f.handshake()
	if !t.Stop() || err != nil {
		f.close()
		return nil
	}
	return f
}

func (f *fastConn) handshake() error {
	b := f.hdr[:0]
	b = binary.BigEndian.AppendUint32(b, 5)
	b = append(b, fxpInit)
	b = binary.BigEndian.AppendUint32(b, 3)
	if _, err := f.conn.Write(b); err != nil {
		return err
	}
	typ, n, err := f.header()
	if err != nil {
		return err
	}
	// The version and the extensions that follow are not needed: v3
	// messages are all the fast path sends.
	if _, err := f.r.Discard(n); err != nil {
		return err
	}
	if typ != fxpVersion {
		return fmt.Errorf("version handshake: message type %d", typ)
	}
	return nil
}

// close ends the session and waits for it.
func (f *fastConn) close() {
	f.conn.Close()
	if f.poll {
		releasePoller()
	}
}

// send writes a request of type typ with a new id: the fields of head
// (already encoded) then data. It returns the id.
func (f *fastConn) send(typ byte, head []byte, data []byte) (uint32, error) {
	f.id++
	b := f.hdr[:0]
	b = binary.BigEndian.AppendUint32(b, uint32(1+4+len(head)+len(data)))
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, f.id)
	b = append(b, head...)
	f.hdr = b
	if len(data) == 0 {
		_, err := f.conn.Write(b)
		return f.id, err
	}
	if _, err := f.conn.Write(b); err != nil {
		return f.id, err
	}
	_, err := f.conn.Write(data)
	return f.id, err
}

// header reads the length and type of the next message (the VERSION
// reply, which has no id) and returns the type and the number of bytes
// left to read.
func (f *fastConn) header() (typ byte, rest int, err error) {
	var h [5]byte
	if _, err := io.ReadFull(f.r, h[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, fmt.Errorf("reading a reply: %w", err)
	}
	l := int(binary.BigEndian.Uint32(h[:4]))
	if l < 1 || l > 1<<20 {
		return 0, 0, fmt.Errorf("bad reply length %d", l)
	}
	return h[4], l - 1, nil
}

// reply is a reply's type and id; the rest of its body is left on f.r.
type reply struct {
	typ  byte
	id   uint32
	rest int
}

// readReply reads the next reply's header: type, id and what is left.
func (f *fastConn) readReply() (reply, error) {
	var h [9]byte
	if _, err := io.ReadFull(f.r, h[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return reply{}, &sessionLost{"reading a reply", err}
	}
	l := int(binary.BigEndian.Uint32(h[:4]))
	if l < 5 || l > 1<<20 {
		return reply{}, fmt.Errorf("bad reply length %d", l)
	}
	return reply{typ: h[4], id: binary.BigEndian.Uint32(h[5:9]), rest: l - 5}, nil
}

// body reads the rest of a reply.
func (f *fastConn) body(r reply) ([]byte, error) {
	b := make([]byte, r.rest)
	if _, err := io.ReadFull(f.r, b); err != nil {
		return nil, &sessionLost{"reading a reply", io.ErrUnexpectedEOF}
	}
	return b, nil
}

// statusError reads a STATUS body and returns nil for OK, io.EOF for EOF,
// and an error wrapping fs.ErrNotExist or fs.ErrPermission where the code
// says so.
func (f *fastConn) status(r reply) error {
	b, err := f.body(r)
	if err != nil {
		return err
	}
	if len(b) < 4 {
		return errors.New("short status reply")
	}
	code := binary.BigEndian.Uint32(b)
	msg := ""
	if len(b) >= 8 {
		if l := int(binary.BigEndian.Uint32(b[4:])); l <= len(b)-8 {
			msg = string(b[8 : 8+l])
		}
	}
	switch code {
	case fxOK:
		return nil
	case fxEOF:
		return io.EOF
	case fxNoSuchFile:
		return fmt.Errorf("%s: %w", msg, fs.ErrNotExist)
	case fxPermDenied:
		return fmt.Errorf("%s: %w", msg, fs.ErrPermission)
	}
	if msg == "" {
		msg = "failure"
	}
	return fmt.Errorf("%s (status %d)", msg, code)
}

// appendString appends an SFTP string (length, bytes).
func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// open opens path with the SSH_FXF flags and returns its handle.
func (f *fastConn) open(path string, flags uint32) (string, error) {
	head := appendString(nil, path)
	head = binary.BigEndian.AppendUint32(head, flags)
	head = binary.BigEndian.AppendUint32(head, 0) // no attributes
	if _, err := f.send(fxpOpen, head, nil); err != nil {
		return "", err
	}
	r, err := f.readReply()
	if err != nil {
		return "", err
	}
	switch r.typ {
	case fxpHandle:
		b, err := f.body(r)
		if err != nil {
			return "", err
		}
		if len(b) < 4 || int(binary.BigEndian.Uint32(b)) != len(b)-4 || len(b)-4 > 256 {
			return "", errors.New("bad handle reply")
		}
		return string(b[4:]), nil
	case fxpStatus:
		err := f.status(r)
		if err == nil || err == io.EOF {
			err = errors.New("open: unexpected status")
		}
		return "", err
	}
	return "", fmt.Errorf("open: unexpected reply type %d", r.typ)
}

// closeHandle closes h and returns the server's verdict.
func (f *fastConn) closeHandle(h string) error {
	if _, err := f.send(fxpClose, appendString(nil, h), nil); err != nil {
		return &sessionLost{"closing the file", err}
	}
	r, err := f.readReply()
	if err != nil {
		return err
	}
	if r.typ != fxpStatus {
		return fmt.Errorf("close: unexpected reply type %d", r.typ)
	}
	return f.status(r)
}

// sessionLost is the failure of the session itself (not of an operation
// the server refused): the pipe broke or closed.
type sessionLost struct {
	during string
	err    error
}

func (e *sessionLost) Error() string {
	return "SFTP session lost while " + e.during + ": " + e.err.Error()
}

func (e *sessionLost) Unwrap() error { return e.err }

// lostCause returns the master's error when err is a lost session and the
// master is gone (the usual cause), err otherwise.
func (f *fastConn) lostCause(err error) error {
	var sl *sessionLost
	if errors.As(err, &sl) {
		if merr := f.conn.m.lost(); merr != nil {
			return merr
		}
	}
	return err
}

// growSFTPPipes grows the given pipes of an SFTP session (see growPipe)
// and returns how many it grew, for releasePipes when they are closed.
func growSFTPPipes(pipes ...*os.File) int {
	n := 0
	for _, f := range pipes {
		if growPipe(f) {
			n++
		}
	}
	return n
}

func releasePipes(n int) {
	for range n {
		releasePipe()
	}
}

// span is the part of the file a request in flight covers.
type span struct{ off, n int64 }

// localIOError is a failure of the local file during a fast transfer.
type localIOError struct{ err error }

func (e *localIOError) Error() string { return e.err.Error() }
func (e *localIOError) Unwrap() error { return e.err }

// watch ends the session when ctx is done; the returned stop undoes it.
func (f *fastConn) watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, f.conn.kill)
}

// fastErr turns the error of a fast transfer into SFTPGetFile's and
// SFTPPutFile's errors: ctx's when it ended the session, the local file's,
// or the remote side's (the master's when it is gone).
func (f *fastConn) fastErr(ctx context.Context, dir, remoteOp, localOp, remote, local string, err error) error {
	var le *localIOError
	switch {
	case errors.As(err, &le):
		return sftpPathErr(dir+": "+localOp+" local", local, le.err)
	case ctx.Err() != nil:
		// As on pkg/sftp's path: ctx stops the local side.
		return sftpPathErr(dir+": "+localOp+" local", local, ctx.Err())
	}
	return sftpPathErr(dir+": "+remoteOp+" remote", remote, f.lostCause(err))
}

// fastGet downloads remote into local when c can take the fast path and
// the file is big enough; ok is false when the caller should use c.
func fastGet(ctx context.Context, c *sftp.Client, remote, local string, progress ProgressFunc) (ok bool, err error) {
	if _, known := sftpMasters.Load(c); !known {
		return false, nil
	}
	st, err := c.Stat(remote)
	if err != nil || !st.Mode().IsRegular() || st.Size() < sftpFastMin {
		return false, nil
	}
	// The fast path writes at offsets: a local name that is there and is
	// no regular file (a FIFO, a terminal, /dev/stdout) is written in
	// order by pkg/sftp's path.
	if lst, err := os.Stat(local); err == nil && !lst.Mode().IsRegular() {
		return false, nil
	}
	f := startFast(c)
	if f == nil {
		return false, nil
	}
	defer f.close()
	h, err := f.open(remote, fxfRead)
	if err != nil {
		return false, nil
	}
	lf, err := os.Create(local)
	if err != nil {
		f.closeHandle(h)
		return true, sftpPathErr("sftp get: create local", local, err)
	}
	cw := &countingWriter{w: io.Discard, total: st.Size(), fn: progress}
	if progress != nil {
		progress(0, st.Size())
	}
	stop := f.watch(ctx)
	end, err := f.download(h, lf, st.Size(), cw)
	op := "read"
	if err == nil {
		op = "close"
		err = f.closeHandle(h)
	}
	stop()
	if err == nil {
		if terr := lf.Truncate(end); terr != nil {
			err = &localIOError{terr}
		}
	}
	if cerr := lf.Close(); err == nil && cerr != nil {
		return true, sftpPathErr("sftp get: close local", local, cerr)
	}
	if err != nil {
		return true, f.fastErr(ctx, "sftp get", op, "write", remote, local, err)
	}
	cw.finish()
	return true, nil
}

// download reads the file of handle h into lf with sftpFastDepth reads in
// flight, each written at its offset as it arrives, and returns the size
// read (where the server said EOF). size is the size the file had: reads
// go past it one at a time, in case it grew.
func (f *fastConn) download(h string, lf *os.File, size int64, cw *countingWriter) (int64, error) {
	const chunk = sftpMaxPacket
	// Replies come back in order, so the data of consecutive replies is
	// read into one buffer and written with one pwrite: half the system
	// calls of one write per reply (each of which the Go runtime's monitor
	// also watches). Two replies, not more: the pwrite copies from a
	// buffer the pipe reads have just filled, and one bigger than the L2
	// cache (512 KiB) has gone out of it by then. With 2 MiB the local CPU
	// per GiB was 1.2 to 1.7 times sftp's, with 510 KiB 1.0 to 1.1 times
	// (one reply a write: 1.2 to 1.35 times).
	var batch []byte
	// On Linux the data goes from the pipe to the file with splice(2),
	// without a copy through this process; the replies' headers are then
	// read from the pipe itself, so that nothing of the data is read
	// ahead (the bufio.Reader holds nothing between two replies).
	splice := spliceOK && f.br.Buffered() == 0
	spliced := false // a splice has worked
	if splice {
		f.r = pipeReader{f.conn.r, f.poll}
		defer func() { f.r = f.br }()
	} else {
		batch = make([]byte, 2*chunk)
	}
	var batchOff int64 // the file offset of batch[0]
	fill := 0          // bytes in batch
	flush := func() error {
		if fill == 0 {
			return nil
		}
		_, err := lf.WriteAt(batch[:fill], batchOff)
		if err == nil {
			cw.add(int64(fill))
		}
		fill = 0
		return err
	}
	inflight := map[uint32]span{}
	var next int64
	eof := int64(-1) // the offset of the first EOF seen
	var retry []span // short reads to finish
	var ferr error   // the first error; then only drain
	head := make([]byte, 0, 4+len(h)+12)
	request := func(s span) error {
		head = appendString(head[:0], h)
		head = binary.BigEndian.AppendUint64(head, uint64(s.off))
		head = binary.BigEndian.AppendUint32(head, uint32(s.n))
		id, err := f.send(fxpRead, head, nil)
		inflight[id] = s
		if err != nil {
			return &sessionLost{"sending a read", err}
		}
		return nil
	}
	for {
		for ferr == nil && len(inflight) < sftpFastDepth {
			if len(retry) > 0 {
				s := retry[len(retry)-1]
				retry = retry[:len(retry)-1]
				if eof >= 0 && s.off >= eof {
					continue
				}
				ferr = request(s)
				continue
			}
			if eof >= 0 || (next >= size && len(inflight) > 0) {
				break
			}
			ferr = request(span{next, chunk})
			next += chunk
		}
		if len(inflight) == 0 {
			break
		}
		r, err := f.readReply()
		if err != nil {
			// The session broke: nothing more will arrive.
			if ferr == nil {
				ferr = err
			}
			return 0, ferr
		}
		s, ok := inflight[r.id]
		if !ok {
			return 0, fmt.Errorf("reply to unknown request %d", r.id)
		}
		delete(inflight, r.id)
		switch r.typ {
		case fxpData:
			var l [4]byte
			if _, err := io.ReadFull(f.r, l[:]); err != nil {
				return 0, &sessionLost{"reading data", io.ErrUnexpectedEOF}
			}
			n := int64(binary.BigEndian.Uint32(l[:]))
			if n > s.n || n != int64(r.rest-4) {
				return 0, fmt.Errorf("bad data reply (%d bytes for %d)", n, s.n)
			}
			if ferr == nil && fill > 0 && (s.off != batchOff+int64(fill) || fill+int(n) > len(batch)) {
				if err := flush(); err != nil {
					ferr = &localIOError{err}
				}
			}
			if ferr != nil {
				// Only draining: read the data and drop it.
				if _, err := f.r.Discard(int(n)); err != nil {
					return 0, &sessionLost{"reading data", io.ErrUnexpectedEOF}
				}
				continue
			}
			if splice {
				moved, err := spliceTo(lf, f.conn.r, s.off, n, f.poll)
				switch {
				case err == nil:
					spliced = true
					cw.add(n)
				case errors.Is(err, errPipeEOF) || errors.Is(err, os.ErrClosed):
					return 0, &sessionLost{"reading data", io.ErrUnexpectedEOF}
				case moved == 0 && errors.Is(err, syscall.EINVAL) && !spliced:
					// A file system that splice cannot write to:
					// copy, from this reply on (nothing was read
					// ahead, so the bufio.Reader takes over).
					splice = false
					f.r = f.br
					batch = make([]byte, 2*chunk)
				default:
					// Writing the file failed: drain the rest of
					// the data, as above.
					ferr = &localIOError{err}
					if _, err := f.r.Discard(int(n - moved)); err != nil {
						return 0, &sessionLost{"reading data", io.ErrUnexpectedEOF}
					}
					continue
				}
			}
			if !splice {
				if fill == 0 {
					batchOff = s.off
				}
				if _, err := io.ReadFull(f.r, batch[fill:fill+int(n)]); err != nil {
					return 0, &sessionLost{"reading data", io.ErrUnexpectedEOF}
				}
				fill += int(n)
			}
			if n < s.n && n > 0 {
				retry = append(retry, span{s.off + n, s.n - n})
			} else if n == 0 && ferr == nil {
				ferr = errors.New("empty read")
			}
		case fxpStatus:
			err := f.status(r)
			if err == io.EOF {
				if eof < 0 || s.off < eof {
					eof = s.off
				}
				continue
			}
			if err == nil {
				err = errors.New("read: unexpected status OK")
			}
			if ferr == nil {
				ferr = err
			}
		default:
			return 0, fmt.Errorf("read: unexpected reply type %d", r.typ)
		}
	}
	if ferr == nil {
		if err := flush(); err != nil {
			ferr = &localIOError{err}
		}
	}
	if ferr != nil {
		return 0, ferr
	}
	if eof < 0 {
		eof = next
	}
	return eof, nil
}

// fastPut uploads local (open as lf, of size size) to remote when c can
// take the fast path and the file is big enough; ok is false when the
// caller should use c.
func fastPut(ctx context.Context, c *sftp.Client, lf *os.File, size int64, local, remote string, cw *countingWriter) (ok bool, err error) {
	if _, known := sftpMasters.Load(c); !known || size < sftpFastMin {
		return false, nil
	}
	f := startFast(c)
	if f == nil {
		return false, nil
	}
	defer f.close()
	h, err := f.open(remote, fxfWrite|fxfCreat|fxfTrunc)
	if err != nil {
		return false, nil
	}
	stop := f.watch(ctx)
	err = f.upload(h, lf, size, cw)
	op := "write"
	if err == nil {
		op = "close"
		err = f.closeHandle(h)
	}
	stop()
	if err != nil {
		// As with pkg/sftp's concurrent writes, the file is emptied
		// rather than left partly written.
		c.Truncate(remote, 0)
		return true, f.fastErr(ctx, "sftp put", op, "read", remote, local, err)
	}
	return true, nil
}

// upload writes size bytes of lf to the file of handle h with
// sftpFastDepth writes in flight.
func (f *fastConn) upload(h string, lf *os.File, size int64, cw *countingWriter) error {
	const chunk = sftpMaxPacket
	// WRITEs go out in groups of up to uploadGroup: one pread of the
	// group's data, then one writev of each header followed by its data,
	// so the data is copied once on its way out and the system calls (each
	// of which the Go runtime's monitor also watches) are few. A group is
	// sent once that many requests are free, or for the file's end.
	//
	// On Linux each WRITE's data goes from the file to the session's
	// socket with sendfile(2) instead, after its header: the kernel hands
	// the socket the file's pages, and nothing is copied through this
	// process (sftp copies them twice).
	const uploadGroup = 8
	hlen := 4 + 1 + 4 + 4 + len(h) + 8 + 4
	var data []byte // the group's data, when it is read
	hdrs := make([]byte, uploadGroup*hlen)
	iov := make([][]byte, 0, 2*uploadGroup)
	inflight := map[uint32]int64{}
	header := func(b []byte, off, n int64) []byte {
		f.id++
		b = binary.BigEndian.AppendUint32(b, uint32(hlen-4+int(n)))
		b = append(b, fxpWrite)
		b = binary.BigEndian.AppendUint32(b, f.id)
		b = appendString(b, h)
		b = binary.BigEndian.AppendUint64(b, uint64(off))
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		inflight[f.id] = n
		return b
	}
	useSendfile := sendfileOK
	var zeros []byte // to complete a WRITE cut short
	if !useSendfile {
		data = make([]byte, uploadGroup*chunk)
	}
	var next int64
	var ferr error
	for {
		for free := sftpFastDepth - len(inflight); ferr == nil && next < size &&
			(free >= uploadGroup || size-next <= int64(free)*chunk); free = sftpFastDepth - len(inflight) {
			total := min(int64(min(free, uploadGroup))*chunk, size-next)
			if useSendfile {
				for off := next; off < next+total; off += chunk {
					n := min(chunk, next+total-off)
					if _, err := f.conn.w.Write(header(hdrs[:0], off, n)); err != nil {
						return &sessionLost{"sending data", err}
					}
					moved, err := sendFile(f.conn.w, lf, off, n)
					if moved == 0 && errors.Is(err, syscall.EINVAL) {
						// A file splice cannot read: this WRITE's
						// data and all that follow are read.
						useSendfile = false
						if data == nil {
							data = make([]byte, uploadGroup*chunk)
						}
						k, rerr := lf.ReadAt(data[:n], off)
						if _, err = f.conn.w.Write(data[:k]); err == nil {
							moved, err = int64(k), rerr
						}
					}
					if err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, os.ErrClosed) {
						// The local file failed (or shrank) in the
						// middle of a WRITE whose header is sent: zeros
						// complete it, so that the replies can be
						// drained as after a failed pread (the remote
						// file is emptied afterwards).
						if moved < n {
							if zeros == nil {
								zeros = make([]byte, chunk)
							}
							if _, werr := f.conn.w.Write(zeros[:n-moved]); werr != nil {
								return &sessionLost{"sending data", werr}
							}
						}
						if err == io.EOF {
							err = errors.New("short upload: the file shrank during the upload")
						}
						ferr = &localIOError{err}
						break
					}
					if err != nil {
						return &sessionLost{"sending data", err}
					}
				}
				next += total
				continue
			}
			if _, err := lf.ReadAt(data[:total], next); err != nil {
				if err == io.EOF {
					err = errors.New("short upload: the file shrank during the upload")
				}
				ferr = &localIOError{err}
				break
			}
			iov = iov[:0]
			for i, off := 0, int64(0); off < total; i, off = i+1, off+chunk {
				n := min(chunk, total-off)
				iov = append(iov, header(hdrs[i*hlen:i*hlen], next+off, n), data[off:off+n])
			}
			if err := writeBuffers(f.conn.w, iov); err != nil {
				return &sessionLost{"sending data", err}
			}
			next += total
		}
		if len(inflight) == 0 {
			return ferr
		}
		r, err := f.readReply()
		if err != nil {
			return err
		}
		n, ok := inflight[r.id]
		if !ok {
			return fmt.Errorf("reply to unknown request %d", r.id)
		}
		delete(inflight, r.id)
		if r.typ != fxpStatus {
			return fmt.Errorf("write: unexpected reply type %d", r.typ)
		}
		if err := f.status(r); err != nil {
			if err == io.EOF {
				err = errors.New("write: unexpected EOF status")
			}
			if ferr == nil {
				ferr = err
			}
			continue
		}
		cw.add(n)
	}
}
