package openssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// SSHFSOpts are the options of [Master.SSHFSImport] and
// [Master.SSHFSExport]. A nil *SSHFSOpts is the same as the zero value.
type SSHFSOpts struct {
	// Args are more sshfs arguments, for example "-o", "reconnect" or
	// "-o", "idmap=user".
	Args []string
	// Stderr receives the output of sshfs (and, for an export, of the
	// local sftp-server); its tail is also kept for error messages.
	Stderr io.Writer
	// SFTPServer is the local sftp-server an export serves files with;
	// the default is /usr/lib/openssh/sftp-server.
	SFTPServer string
	// MountTimeout bounds how long an import waits for the mount to appear
	// (10 s when zero).
	MountTimeout time.Duration
}

// SSHFS is a mounted sshfs file system from [Master.SSHFSImport] or
// [Master.SSHFSExport]. Close unmounts it.
type SSHFS struct {
	m        *Master
	local    bool   // an import: the mount is on this machine
	mnt      string // the mount point
	procs    []*child
	release  func()
	tail     *tailBuffer
	closeErr error
	once     sync.Once
}

// Mountpoint returns the mount point: local for an import, remote for an
// export.
func (s *SSHFS) Mountpoint() string { return s.mnt }

var (
	sshfsPassiveOnce sync.Once
	sshfsPassiveOpt  string
)

// sshfsPassive returns the name of sshfs's option for speaking SFTP over its
// stdio: "passive" in sshfs 3, "slave" before.
func sshfsPassive() string {
	sshfsPassiveOnce.Do(func() {
		out, _ := runVersion("sshfs", "-h")
		sshfsPassiveOpt = "slave"
		if strings.Contains(out, "passive") {
			sshfsPassiveOpt = "passive"
		}
	})
	return sshfsPassiveOpt
}

// SSHFSImport mounts the remote directory remoteDir on the local directory
// localMountpoint: a local "sshfs -f -o passive" speaks SFTP over its stdio
// to the remote sftp subsystem, through the master. It returns once the
// mount is visible (bounded by ctx and [SSHFSOpts.MountTimeout]); Close
// unmounts it (fusermount3 -u) and reaps both processes. remoteDir is an
// SFTP path, not a shell word; "" is the remote home.
func (m *Master) SSHFSImport(ctx context.Context, remoteDir, localMountpoint string, opts *SSHFSOpts) (*SSHFS, error) {
	o := opts
	if o == nil {
		o = &SSHFSOpts{}
	}
	if err := checkArgs("SSHFSOpts.Args", append([]string{remoteDir, localMountpoint}, o.Args...)); err != nil {
		return nil, err
	}
	mnt, err := filepath.Abs(m.expand(localMountpoint))
	if err != nil || localMountpoint == "" {
		return nil, &ArgError{Arg: "localMountpoint", Value: shortQuote(localMountpoint), Reason: "not a usable path"}
	}
	if err := m.WaitForMaster(ctx); err != nil {
		return nil, err
	}
	release, err := m.acquireSession(ctx, "sshfs import")
	if err != nil {
		return nil, err
	}
	fail := func(err error, detail string) error {
		return &Error{Code: CodeSlaveFailed, Op: "sshfs import", Host: m.host, Err: err, Detail: detail}
	}
	sshArgv := m.slaveArgv(slaveSpec{sshOpts: m.opts.DefaultSSHOpts, subsystem: true, command: "sftp", hasCommand: true})
	fsArgv := append([]string{"sshfs", m.remotePrefix() + m.expand(remoteDir), mnt, "-f", "-o", sshfsPassive()}, o.Args...)
	s := &SSHFS{m: m, local: true, mnt: mnt, release: release, tail: newTailBuffer(4 << 10)}
	if err := s.startPair(sshArgv, fsArgv, o.Stderr, nil); err != nil {
		release()
		return nil, fail(err, "")
	}
	timeout := o.MountTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !isMounted(mnt) {
		select {
		case <-ctx.Done():
			s.Close()
			return nil, ctxError(ctx.Err(), "sshfs import", m.host)
		case <-deadline.C:
			s.Close()
			return nil, fail(ErrTimeout, "no mount after "+timeout.String()+stderrTail(s.tail))
		case <-s.procs[1].Done():
			err := s.procs[1].Wait()
			s.Close()
			return nil, fail(fmt.Errorf("sshfs exited: %v", err), lastLine(s.tail.Bytes()))
		case <-tick.C:
		}
	}
	return s, nil
}

func stderrTail(t *tailBuffer) string {
	if l := lastLine(t.Bytes()); l != "" {
		return " (" + l + ")"
	}
	return ""
}

// startPair starts two processes whose stdin and stdout are crossed: the
// first's stdout is the second's stdin and the other way round. first is
// an ssh slave. When firstOut is set, the first's stdout goes through it
// (so the caller sees traffic start).
func (s *SSHFS) startPair(first, second []string, stderr io.Writer, firstOut func(io.Reader, io.WriteCloser)) error {
	aR, aW, err := os.Pipe() // first -> second
	if err != nil {
		return err
	}
	bR, bW, err := os.Pipe() // second -> first
	if err != nil {
		aR.Close()
		aW.Close()
		return err
	}
	var errw io.Writer = s.tail
	if stderr != nil {
		errw = io.MultiWriter(s.tail, stderr)
	}
	c1 := exec.Command(first[0], first[1:]...)
	c2 := exec.Command(second[0], second[1:]...)
	for _, c := range []*exec.Cmd{c1, c2} {
		c.SysProcAttr = slaveSysProcAttr()
		c.Stderr = errw
		c.WaitDelay = time.Second
	}
	c1.Stdin = bR
	c2.Stdout = bW
	var relayR, relayW *os.File
	if firstOut != nil {
		if relayR, relayW, err = os.Pipe(); err != nil {
			aR.Close()
			aW.Close()
			bR.Close()
			bW.Close()
			return err
		}
		c1.Stdout = relayW
	} else {
		c1.Stdout = aW
	}
	c2.Stdin = aR
	closeAll := func() {
		for _, f := range []*os.File{aR, aW, bR, bW, relayR, relayW} {
			if f != nil {
				f.Close()
			}
		}
	}
	p1, err := startChild(c1, false)
	if err != nil {
		closeAll()
		return err
	}
	p2, err := startChild(c2, false)
	if err != nil {
		p1.Stop(0)
		closeAll()
		return err
	}
	aR.Close()
	bR.Close()
	bW.Close()
	if firstOut != nil {
		relayW.Close()
		go func() {
			firstOut(relayR, aW)
			relayR.Close()
		}()
	} else {
		aW.Close()
	}
	s.procs = []*child{p1, p2}
	s.m.log.Debug("openssh: sshfs started", "host", s.m.host, "pids", []int{p1.Pid(), p2.Pid()}, "argv", second)
	return nil
}

// SSHFSExport mounts the local directory localDir on the remote directory
// remoteMountpoint: a remote "sshfs -f -o passive" (run through the
// master, its arguments quoted for the remote shell) speaks SFTP over the
// session to a local sftp-server. The remote host needs sshfs and FUSE. It
// returns once the remote sshfs has started talking; the mount appears on
// the remote side a moment later. Close unmounts it (a remote
// "fusermount3 -u", then "fusermount -u") and reaps the processes.
func (m *Master) SSHFSExport(ctx context.Context, localDir, remoteMountpoint string, opts *SSHFSOpts) (*SSHFS, error) {
	o := opts
	if o == nil {
		o = &SSHFSOpts{}
	}
	if err := checkArgs("SSHFSOpts.Args", append([]string{localDir, remoteMountpoint, o.SFTPServer}, o.Args...)); err != nil {
		return nil, err
	}
	if remoteMountpoint == "" {
		return nil, &ArgError{Arg: "remoteMountpoint", Reason: "empty"}
	}
	dir, err := filepath.Abs(m.expand(localDir))
	if err != nil {
		return nil, &ArgError{Arg: "localDir", Value: shortQuote(localDir), Reason: err.Error()}
	}
	server := o.SFTPServer
	if server == "" {
		server = "/usr/lib/openssh/sftp-server"
	}
	hostname, _ := os.Hostname()
	if hostname == "" || strings.HasPrefix(hostname, "localhost") {
		hostname = "localhost"
	}
	remoteMountpoint = m.expand(remoteMountpoint)
	line, err := quoteArgs(m.quoter, false, append([]string{"sshfs", hostname + ":" + dir, remoteMountpoint, "-f", "-o", sshfsPassive()}, o.Args...))
	if err != nil {
		return nil, err
	}
	if err := m.WaitForMaster(ctx); err != nil {
		return nil, err
	}
	release, err := m.acquireSession(ctx, "sshfs export")
	if err != nil {
		return nil, err
	}
	fail := func(err error, detail string) error {
		return &Error{Code: CodeSlaveFailed, Op: "sshfs export", Host: m.host, Err: err, Detail: detail}
	}
	sshArgv := m.slaveArgv(slaveSpec{sshOpts: m.opts.DefaultSSHOpts, command: line, hasCommand: true})
	s := &SSHFS{m: m, mnt: remoteMountpoint, release: release, tail: newTailBuffer(4 << 10)}
	talking := make(chan struct{})
	relay := func(r io.Reader, w io.WriteCloser) {
		buf := make([]byte, 32<<10)
		first := true
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if first {
					close(talking)
					first = false
				}
				if _, werr := w.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		w.Close()
	}
	if err := s.startPair(sshArgv, []string{server}, o.Stderr, relay); err != nil {
		release()
		return nil, fail(err, "")
	}
	select {
	case <-talking:
		return s, nil
	case <-s.procs[0].Done():
		err := s.procs[0].Wait()
		s.Close()
		if aerr := m.alive(); aerr != nil {
			return nil, aerr
		}
		return nil, fail(fmt.Errorf("remote sshfs exited: %v", err), lastLine(s.tail.Bytes()))
	case <-ctx.Done():
		s.Close()
		return nil, ctxError(ctx.Err(), "sshfs export", m.host)
	}
}

// Close unmounts the file system and reaps the processes. It returns the
// unmount error, if any; it is idempotent.
func (s *SSHFS) Close() error {
	s.once.Do(func() {
		var errs []error
		if s.local {
			if isMounted(s.mnt) {
				errs = append(errs, s.unmountLocal())
			}
		} else if !s.procs[0].Exited() {
			errs = append(errs, s.unmountRemote())
		}
		// sshfs exits once unmounted; ssh and sftp-server follow at EOF.
		// Whatever is still running after a grace period is signalled.
		for i := len(s.procs) - 1; i >= 0; i-- {
			s.procs[i].StopAfter(3*time.Second, 3*time.Second)
		}
		s.release()
		s.closeErr = errors.Join(errs...)
		s.m.log.Debug("openssh: sshfs closed", "host", s.m.host, "mnt", s.mnt, "err", s.closeErr)
	})
	return s.closeErr
}

func (s *SSHFS) unmountLocal() error {
	var last error
	for _, argv := range [][]string{{"fusermount3", "-u", s.mnt}, {"fusermount", "-u", s.mnt}, {"umount", s.mnt}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.Command(argv[0], argv[1:]...)
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := runChild(ctx, cmd)
		cancel()
		if err == nil {
			return nil
		}
		last = fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, lastLine(out.Bytes()))
	}
	return &Error{Code: CodeSlaveFailed, Op: "sshfs unmount", Host: s.m.host, Err: last}
}

func (s *SSHFS) unmountRemote() error {
	line, err := quoteArgs(s.m.quoter, false, []string{"fusermount3", "-u", s.mnt})
	if err != nil {
		return err
	}
	line2, _ := quoteArgs(s.m.quoter, false, []string{"fusermount", "-u", s.mnt})
	line += " || " + line2
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := s.m.Command(ctx, line).CombinedOutput()
	if err != nil {
		return &Error{Code: CodeSlaveFailed, Op: "sshfs unmount", Host: s.m.host, Err: err, Detail: lastLine(out)}
	}
	return nil
}
