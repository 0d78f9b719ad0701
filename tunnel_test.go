package openssh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// echoServer listens on 127.0.0.1 (the remote host's loopback, as sshd is
// local) and echoes every connection. It counts the bytes it got.
type echoServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	total int
	done  chan struct{} // receives a token each time a conn ends
}

func startEcho(t *testing.T, network, addr string) *echoServer {
	t.Helper()
	return startCounting(t, network, addr, true)
}

// startCounting starts a server that reads each connection to EOF, echoing
// it back when echo is set, and adds up the bytes (echoed, or read).
func startCounting(t *testing.T, network, addr string, echo bool) *echoServer {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	if network == "unix" {
		os.Chmod(addr, 0o777) // sshd connects as the test account
	}
	s := &echoServer{ln: ln, done: make(chan struct{}, 100)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				var w io.Writer = io.Discard
				if echo {
					w = struct{ io.Writer }{c} // no splice: its pipes would look like leaked fds
				}
				n, _ := io.Copy(w, struct{ io.Reader }{c})
				c.Close()
				s.mu.Lock()
				s.total += int(n)
				s.mu.Unlock()
				s.done <- struct{}{}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

func TestDialTCPEchoDeadlineClose(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		echo := startEcho(t, "tcp", "127.0.0.1:0")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		start := time.Now()
		c, err := m.DialContext(ctx, "tcp", echo.addr())
		if err != nil {
			t.Fatalf("DialContext: %v", err)
		}
		t.Logf("dial took %v", time.Since(start))
		if got := c.RemoteAddr(); got.Network() != "ssh-tcp" || got.String() != echo.addr() {
			t.Errorf("RemoteAddr = %s %s", got.Network(), got)
		}
		if got := c.LocalAddr(); got.Network() != "ssh" || !strings.Contains(got.String(), "127.0.0.1") {
			t.Errorf("LocalAddr = %s %s", got.Network(), got)
		}
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "ping\n" {
			t.Fatalf("echo = %q, %v", line, err)
		}
		// A read deadline fires on a silent conn.
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err = c.Read(make([]byte, 1))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read past deadline: %v, want a timeout", err)
		}
		c.SetReadDeadline(time.Time{})
		if n, want := slaveCount(), slaveSSHCount(tr); n != want {
			t.Errorf("%d slave ssh processes while the tunnel is open, want %d", n, want)
		}
		if n, want := sshtest.CountSSH(), 1+slaveSSHCount(tr); n != want {
			t.Errorf("%d ssh processes while the tunnel is open, want %d", n, want)
		}
		start = time.Now()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Close took %v", d)
		}
		// Close reaps the ssh process, and the far end sees the close.
		if n := slaveCount(); n != 0 {
			t.Errorf("%d slave ssh processes after Close", n)
		}
		select {
		case <-echo.done:
		case <-time.After(3 * time.Second):
			t.Fatal("the far end did not see the conn close")
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v, want net.ErrClosed", err)
		}
	})
}

// Data written just before Close still reaches the far end.
func TestDialWriteThenClose(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		// A sink, not an echo server: after Close nothing reads the echo,
		// so an echo server could stop early on its own write.
		echo := startCounting(t, "tcp", "127.0.0.1:0", false)
		c, err := m.Dial("tcp", echo.addr())
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		c.Close()
		select {
		case <-echo.done:
		case <-time.After(10 * time.Second):
			t.Fatal("far end did not finish")
		}
		echo.mu.Lock()
		got := echo.total
		echo.mu.Unlock()
		if got != len(data) {
			t.Fatalf("far end got %d bytes, want %d", got, len(data))
		}
	})
}

func TestDialHalfCloseAndCaptureTunnel(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		echo := startEcho(t, "tcp", "127.0.0.1:0")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := m.CaptureTunnel(ctx, "tcp", echo.addr(), strings.NewReader("hello tunnel"))
		if err != nil || string(out) != "hello tunnel" {
			t.Fatalf("CaptureTunnel = %q, %v", out, err)
		}
		// The Perl name, and the SSH banner of the server itself.
		c, err := m.OpenTunnel(ctx, "127.0.0.1", srv.Port)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		banner, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(banner, "SSH-2.0-") {
			t.Fatalf("banner = %q, %v", banner, err)
		}
	})
}

// slaveCount counts our slave ssh processes (tunnels and control
// commands), not the master. (The harness's "ssh " needle also matches
// sshd's "sshd: goopenssh" processes while a server runs.)
func slaveCount() int { return sshtest.CountProcesses("ControlMaster=no") }

func TestDialRefusedAndDenied(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	// A server that forbids forwarding.
	denying := sshtest.Start(t, sshtest.Config{AllowTCPForwarding: "no"})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		// A port nobody listens on.
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		start := time.Now()
		c, err := m.Dial("tcp", addr)
		if err == nil {
			c.Close()
			t.Fatal("dial to a closed port succeeded")
		}
		t.Logf("refused after %v: %v", time.Since(start), err)
		if time.Since(start) > 3*time.Second {
			t.Errorf("refusal took %v", time.Since(start))
		}
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrForwardFailed) || !errors.Is(err, ErrConnRefused) || !errors.Is(err, ErrSlaveFailed) {
			t.Errorf("err = %#v, want ErrForwardFailed+ErrConnRefused", err)
		}
		if m.Err() != nil {
			t.Errorf("master broken by a refused tunnel: %v", m.Err())
		}

		// A name the server cannot resolve.
		_, err = m.Dial("tcp", "no-such-host.invalid:80")
		if !errors.Is(err, ErrForwardFailed) || !errors.Is(err, ErrResolve) {
			t.Errorf("unresolvable: %v", err)
		}

		// A server that forbids forwarding.
		m2, _ := newTestMasterT(t, denying, nil, tr)
		echo := startEcho(t, "tcp", "127.0.0.1:0")
		_, err = m2.Dial("tcp", echo.addr())
		if !errors.Is(err, ErrForwardFailed) || !errors.Is(err, ErrForwardDenied) {
			t.Errorf("denied: %v", err)
		}
	})
}

func TestDialBadInput(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		for _, c := range []struct{ network, addr string }{
			{"udp", "127.0.0.1:53"},
			{"", "127.0.0.1:22"},
			{"tcp", "127.0.0.1"},
			{"tcp", "127.0.0.1:0"},
			{"tcp", "127.0.0.1:70000"},
			{"tcp", "127.0.0.1:-1"},
			{"tcp", "127.0.0.1:nosuchservice"},
			{"tcp", "-oProxyCommand=x:22"},
			{"tcp", "a b:22"},
			{"tcp", "a\x00b:22"},
			{"tcp", "a\nb:22"},
			{"tcp", "[::1:22"},
			{"tcp", "[fe80::zz]:22"},
			{"tcp", "a/b:22"},
			{"unix", ""},
			{"unix", "/tmp/a\x00b"},
		} {
			conn, err := m.DialContext(context.Background(), c.network, c.addr)
			var ae *ArgError
			if !errors.As(err, &ae) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Dial(%q, %q) = %v, want an *ArgError", c.network, c.addr, err)
				if conn != nil {
					conn.Close()
				}
			}
		}
		if _, err := m.OpenTunnel(context.Background(), "localhost", 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("OpenTunnel port 0: %v", err)
		}
		// A cancelled context fails before anything runs.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := m.DialContext(ctx, "tcp", "127.0.0.1:22"); err == nil {
			t.Error("dial with a cancelled context succeeded")
		}
	})
}

func TestDialIPv6AndLocalhost(t *testing.T) {
	checkNoLeaks(t)
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and there is no IPv6 loopback: %v", err)
		}
		t.Skip("no IPv6 loopback (not under CI)")
	}
	ln.Close()
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		echo := startEcho(t, "tcp", "[::1]:0")
		out, err := m.CaptureTunnel(context.Background(), "tcp6", echo.addr(), strings.NewReader("v6"))
		if err != nil || string(out) != "v6" {
			t.Fatalf("IPv6 tunnel = %q, %v", out, err)
		}
	})
}

func TestDialUnix(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		dir := sharedDir(t)
		sock := filepath.Join(dir, "echo:1.sock") // a ':' needs escaping for ssh
		startEcho(t, "unix", sock)
		c, err := m.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.RemoteAddr(); got.Network() != "ssh-unix" || got.String() != sock {
			t.Errorf("RemoteAddr = %s %s", got.Network(), got)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "unix hello\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "unix hello\n" {
			t.Fatalf("echo = %q, %v", line, err)
		}
		c.Close()
		if n := slaveCount(); n != 0 {
			t.Errorf("%d slave ssh processes after Close", n)
		}
		// A socket nobody listens on: the conn is closed by the far side.
		c, err = m.Dial("unix", filepath.Join(dir, "nothing"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 10))
		if n != 0 || err != io.EOF {
			t.Errorf("read from a refused unix tunnel = %d, %v; want EOF", n, err)
		}
		c.Close()
	})
}

// The one the issue asks for: an http.Client whose transport dials through
// the master, 100 concurrent requests.
func TestDialHTTPClient100(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s", r.URL.Path)
		}))
		defer hs.Close()
		var dials atomic.Int32
		ht := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return m.DialContext(ctx, network, addr)
		}}
		defer ht.CloseIdleConnections()
		client := &http.Client{Transport: ht, Timeout: 30 * time.Second}
		start := time.Now()
		const n = 100
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Get(fmt.Sprintf("%s/r%d", hs.URL, i))
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(body) != fmt.Sprintf("hello /r%d", i) {
					errs <- fmt.Errorf("request %d: %d %q %v", i, resp.StatusCode, body, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		failed := 0
		for err := range errs {
			failed++
			if failed <= 5 {
				t.Error(err)
			}
		}
		if failed > 0 {
			t.Fatalf("%d of %d requests failed", failed, n)
		}
		t.Logf("%d concurrent requests through the master in %v, %d tunnels", n, time.Since(start), dials.Load())
		ht.CloseIdleConnections()
	})
}

// A -W tunnel is a channel, not a session: sshd's MaxSessions does not
// count it.
func TestDialBeyondMaxSessions(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{MaxSessions: 2})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		echo := startEcho(t, "tcp", "127.0.0.1:0")
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := range 5 {
			c, err := m.Dial("tcp", echo.addr())
			if err != nil {
				t.Fatalf("tunnel %d: %v", i, err)
			}
			conns = append(conns, c)
		}
		for i, c := range conns {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "%d\n", i)
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || line != fmt.Sprintf("%d\n", i) {
				t.Errorf("tunnel %d: %q %v", i, line, err)
			}
		}
	})
}

// Closing the master ends the ssh processes of open tunnels: the conns
// read an error matching ErrClosed, never a clean EOF (which would say
// the far end closed).
func TestDialMasterClose(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		echo := startEcho(t, "tcp", "127.0.0.1:0")
		c, err := m.Dial("tcp", echo.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		m.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ErrClosed) {
			t.Errorf("read after master close: %v, want an error matching ErrClosed", err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for slaveCount() > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := slaveCount(); n != 0 {
			t.Errorf("%d slave ssh processes after the master closed", n)
		}
		if _, err := m.Dial("tcp", echo.addr()); !errors.Is(err, ErrClosed) {
			t.Errorf("dial on a closed master: %v", err)
		}
	})
}
