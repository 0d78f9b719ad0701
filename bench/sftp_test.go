package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh"
)

// sftpSize is the size of the SFTP benchmarks' file: 256 MiB, or
// $BENCH_SFTP_MIB MiB.
func sftpSize() int64 {
	var mib int64 = 256
	if s := os.Getenv("BENCH_SFTP_MIB"); s != "" {
		fmt.Sscan(s, &mib)
	}
	return mib << 20
}

// sftpFixture writes a file of random bytes of size n into a new directory
// and returns the directory and the file's path.
func sftpFixture(b *testing.B, n int64) (string, string) {
	b.Helper()
	// sshd logs in as another user: the directory is open to all.
	dir, err := os.MkdirTemp("", "bsftp")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(dir, "src")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for left := n; left > 0; left -= int64(len(buf)) {
		rand.Read(buf)
		w := buf
		if left < int64(len(w)) {
			w = w[:left]
		}
		if _, err := f.Write(w); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		b.Fatal(err)
	}
	return dir, p
}

// sftpBatch runs OpenSSH's sftp -b with the batch cmds over m's control
// socket (no new connection: ControlMaster=no).
func sftpBatch(ctx context.Context, e *transportEnv, m *openssh.Master, cmds string) error {
	c := exec.CommandContext(ctx, "sftp", "-q", "-b", "-", "-F", e.srv.SSHConfig,
		"-o", "ControlMaster=no", "-o", "ControlPath="+m.CtlPath(), "--", e.srv.Addr)
	c.Stdin = bytes.NewBufferString(cmds)
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("sftp -b: %v: %s", err, out)
	}
	return nil
}

// checkFileSize checks that p holds n bytes.
func checkFileSize(p string, n int64) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.Size() != n {
		return fmt.Errorf("%s: %d bytes, want %d", p, st.Size(), n)
	}
	return nil
}

// sftpImpls are the ways of moving the file: through Master.SFTP and
// SFTPGetFile/SFTPPutFile on each transport, and OpenSSH's sftp -b, all
// over the one master process. get selects the direction. It also returns
// the file's size and the destination, which each operation (warm-up
// included) removes first.
func sftpImpls(b *testing.B, e *transportEnv, get bool) ([]impl, int64, string) {
	n := sftpSize()
	dir, src := sftpFixture(b, n)
	dst := filepath.Join(dir, "dst")
	lib := func(m *openssh.Master) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			os.Remove(dst)
			c, err := m.SFTP(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if get {
				err = openssh.SFTPGetFile(ctx, c, src, dst, nil)
			} else {
				err = openssh.SFTPPutFile(ctx, c, src, dst, nil)
			}
			if err != nil {
				return err
			}
			return checkFileSize(dst, n)
		}
	}
	verb := "put"
	if get {
		verb = "get"
	}
	return []impl{
		{name: "native", op: lib(e.native)},
		{name: "process", op: lib(e.process)},
		{name: "sftpb", op: func(ctx context.Context) error {
			os.Remove(dst)
			if err := sftpBatch(ctx, e, e.process, verb+" "+src+" "+dst+"\n"); err != nil {
				return err
			}
			return checkFileSize(dst, n)
		}},
	}, n, dst
}

func benchSFTP(b *testing.B, get bool) {
	e := newTransportEnv(b)
	impls, n, dst := sftpImpls(b, e, get)
	// The local CPU per GiB (this process, the masters, sftp and its
	// ssh) tells apart what throughput on a loaded machine cannot; the
	// machine's (sshd and the sftp server too) shows what the local side
	// makes the remote side do.
	pids := []int{e.process.MasterPID()} // the one master process
	cpu := map[string]time.Duration{}
	mach := map[string]time.Duration{}
	seq := sequential(b.Context())
	block := func(im impl) (time.Duration, error) {
		// Outside the timing: the last operation's file goes, and the
		// machine's dirty pages (256 MiB of it) are written out, or their
		// writeback falls into the next operation, whichever it is.
		os.Remove(dst)
		syscall.Sync()
		c0, m0 := localCPU(pids), machineCPU()
		d, err := seq(im)
		cpu[im.name] += localCPU(pids) - c0
		mach[im.name] += machineCPU() - m0
		return d, err
	}
	impls, total, iters := interleave(b, impls, block)
	perGiB := func(d time.Duration) float64 {
		return float64(d.Milliseconds()) * float64(gib) / float64(n) / float64(iters)
	}
	for j, im := range impls {
		b.ReportMetric(float64(n)*float64(iters)/total[j].Seconds()/1e6, im.name+"-MB/s")
		b.ReportMetric(perGiB(cpu[im.name]), im.name+"-cpums/GiB")
		if mach[im.name] > 0 {
			b.ReportMetric(perGiB(mach[im.name]), im.name+"-machms/GiB")
		}
	}
}

// machineCPU is the CPU time the whole machine has spent outside its idle
// loop (user, nice, system, irq and softirq in /proc/stat's first line;
// not the time waiting for I/O, nor that stolen by the hypervisor), or 0
// where /proc/stat is missing.
func machineCPU() time.Duration {
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(st), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		t, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += t
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100
}

// BenchmarkSFTPGet is the throughput of downloading a 256 MiB file with
// Master.SFTP and SFTPGetFile on each transport, and with OpenSSH's
// sftp -b over the same master (metrics <impl>-MB/s).
func BenchmarkSFTPGet(b *testing.B) { benchSFTP(b, true) }

// BenchmarkSFTPPut is BenchmarkSFTPGet's upload.
func BenchmarkSFTPPut(b *testing.B) { benchSFTP(b, false) }
