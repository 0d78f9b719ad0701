package openssh

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// freeTCPPort returns a port nobody listens on (for a moment).
func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// readBanner connects and reads the first line: the SSH banner when the
// forward reaches sshd. It fails when nothing answers.
func readBanner(network, addr string) (string, error) {
	c, err := net.DialTimeout(network, addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	return bufio.NewReader(c).ReadString('\n')
}

// OpenSSH's regress/multiplex.sh forwarding checks (notes §2.4, checks 6,
// 7, 11-14), through Forward and CancelForward.
func TestForwardMultiplexChecks(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dir := sharedDir(t)
		sshd := TCPAddr("127.0.0.1", srv.Port)

		// Check 6: TCP forward -L 127.0.0.1:P+2:127.0.0.1:P+1 with a server of
		// DATA on P+1.
		t.Run("6-tcp-data", func(t *testing.T) {
			data := strings.Repeat("multiplex data\n", 1000)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					io.WriteString(c, data)
					c.Close()
				}
			}()
			p := freeTCPPort(t)
			spec := ForwardSpec{Kind: LocalForward, Listen: TCPAddr("127.0.0.1", p), Connect: TCPAddr("127.0.0.1", ln.Addr().(*net.TCPAddr).Port)}
			got, err := m.Forward(ctx, spec)
			if err != nil || got != p {
				t.Fatalf("Forward = %d, %v", got, err)
			}
			defer m.CancelForward(ctx, spec)
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				t.Fatal(err)
			}
			out, err := io.ReadAll(c)
			c.Close()
			if err != nil || string(out) != data {
				t.Fatalf("got %d bytes (%v), want %d", len(out), err, len(data))
			}
		})

		// Check 7: Unix forward chain: DATA on unix-1; -L unix-2:unix-1;
		// -R unix-3:unix-2; reading unix-3 gives DATA.
		t.Run("7-unix-chain", func(t *testing.T) {
			data := "unix chain data"
			u1, u2, u3 := filepath.Join(dir, "unix-1"), filepath.Join(dir, "unix-2"), filepath.Join(dir, "unix-3")
			ln, err := net.Listen("unix", u1)
			if err != nil {
				t.Fatal(err)
			}
			os.Chmod(u1, 0o777)
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					io.WriteString(c, data)
					c.Close()
				}
			}()
			l := ForwardSpec{Kind: LocalForward, Listen: UnixAddr(u2), Connect: UnixAddr(u1)}
			r := ForwardSpec{Kind: RemoteForward, Listen: UnixAddr(u3), Connect: UnixAddr(u2)}
			for _, s := range []ForwardSpec{l, r} {
				if port, err := m.Forward(ctx, s); err != nil || port != 0 {
					t.Fatalf("Forward(%v) = %d, %v", s, port, err)
				}
			}
			c, err := net.Dial("unix", u3)
			if err != nil {
				t.Fatal(err)
			}
			out, err := io.ReadAll(c)
			c.Close()
			if string(out) != data {
				t.Fatalf("unix-3 gave %q, %v", out, err)
			}
			for _, s := range []ForwardSpec{r, l} {
				if err := m.CancelForward(ctx, s); err != nil {
					t.Fatalf("CancelForward(%v): %v", s, err)
				}
			}
			if _, err := os.Lstat(u2); !os.IsNotExist(err) {
				t.Errorf("local socket %s left after cancel: %v", u2, err)
			}
		})

		// Checks 11-14: a forward to sshd works (its banner comes through),
		// CancelForward succeeds, and then the forward is refused.
		for _, c := range []struct {
			name string
			spec ForwardSpec
		}{
			{"11-local-tcp", ForwardSpec{Kind: LocalForward, Listen: TCPAddr("", freeTCPPort(t)), Connect: TCPAddr("localhost", srv.Port)}},
			{"12-remote-tcp", ForwardSpec{Kind: RemoteForward, Listen: TCPAddr("", freeTCPPort(t)), Connect: sshd}},
			{"12-remote-tcp-port-0", ForwardSpec{Kind: RemoteForward, Listen: TCPAddr("127.0.0.1", 0), Connect: sshd}},
			{"13-local-unix", ForwardSpec{Kind: LocalForward, Listen: UnixAddr(filepath.Join(dir, "unix-1.fwd")), Connect: TCPAddr("localhost", srv.Port)}},
			{"14-remote-unix", ForwardSpec{Kind: RemoteForward, Listen: UnixAddr(filepath.Join(dir, "unix-2.fwd")), Connect: sshd}},
		} {
			t.Run(c.name, func(t *testing.T) {
				port, err := m.Forward(ctx, c.spec)
				if err != nil {
					t.Fatalf("Forward(%v): %v", c.spec, err)
				}
				network, addr := "unix", c.spec.Listen.Path
				if c.spec.Listen.Net == "tcp" {
					if port == 0 {
						t.Fatalf("Forward(%v) returned port 0", c.spec)
					}
					if c.spec.Listen.Port != 0 && port != c.spec.Listen.Port {
						t.Errorf("port = %d, want %d", port, c.spec.Listen.Port)
					}
					network, addr = "tcp", "127.0.0.1:"+strconv.Itoa(port)
				}
				banner, err := readBanner(network, addr)
				if err != nil || !strings.HasPrefix(banner, "SSH-2.0-") {
					t.Fatalf("through %v: %q, %v", c.spec, banner, err)
				}
				if err := m.CancelForward(ctx, c.spec); err != nil {
					t.Fatalf("CancelForward(%v): %v", c.spec, err)
				}
				if banner, err := readBanner(network, addr); err == nil {
					t.Fatalf("after cancel, %s %s still answers %q", network, addr, banner)
				}
				// Cancelling again: the forward is unknown.
				if err := m.CancelForward(ctx, c.spec); !errors.Is(err, ErrForwardFailed) {
					t.Errorf("second CancelForward: %v, want ErrForwardFailed", err)
				}
			})
		}
		if m.Err() != nil {
			t.Fatalf("master: %v", m.Err())
		}
	})
}

// socks5Dial opens a conn to host:port through the SOCKS5 server at proxy
// (no authentication, the name resolved by the proxy).
func socks5Dial(proxy, host string, port int) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", proxy, 3*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fail := func(err error) (net.Conn, error) { c.Close(); return nil, err }
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		return fail(err)
	}
	r := make([]byte, 2)
	if _, err := io.ReadFull(c, r); err != nil || r[0] != 5 || r[1] != 0 {
		return fail(fmt.Errorf("socks greeting: %v %v", r, err))
	}
	req := []byte{5, 1, 0, 3, byte(len(host))}
	req = append(req, host...)
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	if _, err := c.Write(req); err != nil {
		return fail(err)
	}
	resp := make([]byte, 4)
	if _, err := io.ReadFull(c, resp); err != nil || resp[1] != 0 {
		return fail(fmt.Errorf("socks connect: %v %v", resp, err))
	}
	skip := map[byte]int{1: 4, 4: 16}[resp[3]]
	if resp[3] == 3 {
		l := make([]byte, 1)
		io.ReadFull(c, l)
		skip = int(l[0])
	}
	if _, err := io.ReadFull(c, make([]byte, skip+2)); err != nil {
		return fail(err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func TestForwardDynamicSOCKS5(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "via socks")
		}))
		defer hs.Close()
		hsPort := hs.Listener.Addr().(*net.TCPAddr).Port
		p := freeTCPPort(t)
		spec := ForwardSpec{Kind: DynamicForward, Listen: TCPAddr("127.0.0.1", p)}
		if _, err := m.Forward(ctx, spec); err != nil {
			t.Fatal(err)
		}
		proxy := fmt.Sprintf("127.0.0.1:%d", p)
		ht := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return socks5Dial(proxy, "localhost", hsPort) // the name is resolved on the far side
		}}
		defer ht.CloseIdleConnections()
		resp, err := (&http.Client{Transport: ht, Timeout: 10 * time.Second}).Get(hs.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "via socks" {
			t.Fatalf("body = %q", body)
		}
		ht.CloseIdleConnections()
		if err := m.CancelForward(ctx, spec); err != nil {
			t.Fatal(err)
		}
		if c, err := socks5Dial(proxy, "localhost", hsPort); err == nil {
			c.Close()
			t.Fatal("SOCKS proxy still answers after cancel")
		}
	})
}

func TestForwardBadInput(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx := context.Background()
		ok := TCPAddr("127.0.0.1", 8080)
		for _, s := range []ForwardSpec{
			{},
			{Kind: 9, Listen: ok, Connect: ok},
			{Kind: LocalForward, Listen: TCPAddr("127.0.0.1", 0), Connect: ok},
			{Kind: LocalForward, Listen: TCPAddr("127.0.0.1", 70000), Connect: ok},
			{Kind: LocalForward, Listen: ok, Connect: TCPAddr("127.0.0.1", 0)},
			{Kind: RemoteForward, Listen: TCPAddr("", 70000), Connect: ok},
			{Kind: RemoteForward, Listen: TCPAddr("", 0), Connect: TCPAddr("127.0.0.1", 0)},
			{Kind: DynamicForward, Listen: TCPAddr("", 0)},
			{Kind: DynamicForward, Listen: ok, Connect: ok},
			{Kind: LocalForward, Listen: ok, Connect: TCPAddr("", 80)},
			{Kind: LocalForward, Listen: ok, Connect: TCPAddr("-oProxyCommand=x", 80)},
			{Kind: LocalForward, Listen: ok, Connect: TCPAddr("a b", 80)},
			{Kind: LocalForward, Listen: ok, Connect: TCPAddr("a:b", 80)},
			{Kind: LocalForward, Listen: ok, Connect: TCPAddr("a\x00", 80)},
			{Kind: LocalForward, Listen: ok, Connect: Addr{Net: "udp", Host: "a", Port: 1}},
			{Kind: LocalForward, Listen: ok, Connect: Addr{Net: "unix", Path: "/a", Port: 1}},
			{Kind: LocalForward, Listen: ok, Connect: Addr{Net: "tcp", Host: "a", Port: 1, Path: "/x"}},
			{Kind: LocalForward, Listen: ok, Connect: UnixAddr("")},
			{Kind: LocalForward, Listen: ok, Connect: UnixAddr("/a\nb")},
		} {
			_, err := m.Forward(ctx, s)
			var ae *ArgError
			if !errors.As(err, &ae) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Forward(%#v) = %v, want an *ArgError", s, err)
			}
			if err := m.CancelForward(ctx, s); !errors.Is(err, ErrInvalid) {
				t.Errorf("CancelForward(%#v) = %v, want an *ArgError", s, err)
			}
		}
		for _, c := range []struct{ network, addr string }{
			{"udp", "127.0.0.1:0"},
			{"tcp", "127.0.0.1:70000"},
			{"tcp", "no-port"},
			{"tcp", "-x:0"},
			{"unix", ""},
		} {
			if l, err := m.Listen(ctx, c.network, c.addr); !errors.Is(err, ErrInvalid) {
				t.Errorf("Listen(%q, %q) = %v, want an *ArgError", c.network, c.addr, err)
				if l != nil {
					l.Close()
				}
			}
		}
		// ForwardSpec.String shows the ssh syntax, escapes and brackets.
		for _, c := range []struct {
			spec ForwardSpec
			want string
		}{
			{ForwardSpec{Kind: LocalForward, Listen: TCPAddr("", 8080), Connect: TCPAddr("::1", 80)}, "-L 8080:[::1]:80"},
			{ForwardSpec{Kind: RemoteForward, Listen: TCPAddr("*", 0), Connect: UnixAddr("/a:b")}, `-R *:0:/a\:b`},
			{ForwardSpec{Kind: DynamicForward, Listen: TCPAddr("127.0.0.1", 1080)}, "-D 127.0.0.1:1080"},
			{ForwardSpec{Kind: RemoteForward, Listen: UnixAddr("rel.sock"), Connect: TCPAddr("h", 1)}, "-R ./rel.sock:h:1"},
		} {
			if got := c.spec.String(); got != c.want {
				t.Errorf("String() = %q, want %q", got, c.want)
			}
		}
	})
}

func TestForwardFailures(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	// A server with AllowTcpForwarding no.
	srv2 := sshtest.Start(t, sshtest.Config{AllowTCPForwarding: "no", Extra: []string{"AllowStreamLocalForwarding no"}})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		tr := m.opts.Transport
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// A local port in use.
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		busy := ForwardSpec{Kind: LocalForward, Listen: TCPAddr("127.0.0.1", ln.Addr().(*net.TCPAddr).Port), Connect: TCPAddr("127.0.0.1", srv.Port)}
		_, err := m.Forward(ctx, busy)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrForwardFailed) {
			t.Errorf("forward on a busy port: %v", err)
		} else {
			t.Logf("busy port: %v", err)
		}
		// Cancelling a forward that was never set up.
		if err := m.CancelForward(ctx, ForwardSpec{Kind: LocalForward, Listen: TCPAddr("127.0.0.1", freeTCPPort(t)), Connect: TCPAddr("h", 1)}); !errors.Is(err, ErrForwardFailed) {
			t.Errorf("cancel unknown: %v", err)
		}
		if m.Err() != nil {
			t.Fatalf("master: %v", m.Err())
		}

		// A server with AllowTcpForwarding no.
		m2, _ := newTestMasterT(t, srv2, nil, tr)
		_, err = m2.Forward(ctx, ForwardSpec{Kind: RemoteForward, Listen: TCPAddr("127.0.0.1", 0), Connect: TCPAddr("127.0.0.1", srv.Port)})
		if !errors.As(err, &e) || !errors.Is(err, ErrForwardFailed) {
			t.Errorf("denied remote forward: %v", err)
		} else {
			t.Logf("denied: %v", err)
		}
		if l, err := m2.Listen(ctx, "tcp", "127.0.0.1:0"); !errors.Is(err, ErrForwardFailed) {
			t.Errorf("denied Listen: %v", err)
			if l != nil {
				l.Close()
			}
		}
		// A local forward is set up on this side; the server refuses each
		// connection through it, which is closed at once.
		p := freeTCPPort(t)
		spec := ForwardSpec{Kind: LocalForward, Listen: TCPAddr("127.0.0.1", p), Connect: TCPAddr("127.0.0.1", srv.Port)}
		if _, err := m2.Forward(ctx, spec); err != nil {
			t.Fatal(err)
		}
		if banner, err := readBanner("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			t.Errorf("denied local forward answered %q", banner)
		}
		if err := m2.CancelForward(ctx, spec); err != nil {
			t.Error(err)
		}
	})
}

// runRemote runs a command on the remote host through the master (there is
// no Cmd yet) and returns its output.
func runRemote(ctx context.Context, t *testing.T, m *Master, command string) (string, error) {
	t.Helper()
	argv := m.slaveArgv(slaveSpec{command: command, hasCommand: true})
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	return string(out), err
}

func TestListenTCP(t *testing.T) {
	checkNoLeaks(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is missing: the remote client needs bash's /dev/tcp")
	}
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		l, err := m.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		a, ok := l.Addr().(Addr)
		if !ok || a.Network() != "tcp" || a.Host != "127.0.0.1" || a.Port == 0 {
			t.Fatalf("Addr = %#v", l.Addr())
		}
		// The Go side accepts and echoes with a prefix.
		served := make(chan error, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				served <- err
				return
			}
			defer c.Close()
			if c.LocalAddr().Network() != "ssh-tcp" || c.LocalAddr().String() != a.String() {
				served <- fmt.Errorf("accepted conn LocalAddr = %v", c.LocalAddr())
				return
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil {
				_, err = io.WriteString(c, "echo:"+line)
			}
			served <- err
		}()
		// A process on the remote host connects to the forwarded port.
		script := fmt.Sprintf(`bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d; printf "hi there\n" >&3; IFS= read -r line <&3; printf "%%s" "$line"'`, a.Port)
		out, err := runRemote(ctx, t, m, script)
		if err != nil || out != "echo:hi there" {
			t.Fatalf("remote client got %q, %v", out, err)
		}
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		dir := filepath.Dir(l.(*remoteListener).spec.Connect.Path)
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := l.Accept(); err == nil {
			t.Error("Accept after Close succeeded")
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("listener dir %s left: %v", dir, err)
		}
		// The remote port is closed.
		if _, err := readBanner("tcp", a.String()); err == nil {
			t.Error("remote port still open after Close")
		}
		if err := l.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestListenUnixAndMasterClose(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		remote := filepath.Join(sharedDir(t), "listen.sock")
		l, err := m.Listen(ctx, "unix", remote)
		if err != nil {
			t.Fatal(err)
		}
		if l.Addr().Network() != "unix" || l.Addr().String() != remote {
			t.Errorf("Addr = %v", l.Addr())
		}
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
			c.Close()
		}()
		// The remote host is this machine: connect to its socket directly.
		c, err := net.Dial("unix", remote)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "over unix\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || line != "over unix\n" {
			t.Fatalf("echo = %q, %v", line, err)
		}
		// Closing the master closes the listener: Accept fails, the local
		// socket and its dir are gone.
		accepted := make(chan error, 1)
		go func() {
			_, err := l.Accept()
			accepted <- err
		}()
		dir := filepath.Dir(l.(*remoteListener).spec.Connect.Path)
		m.Close()
		select {
		case err := <-accepted:
			if err == nil {
				t.Error("Accept succeeded after the master closed")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Accept still blocked after the master closed")
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("listener dir %s left: %v", dir, err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close after the master closed: %v", err)
		}
	})
}
