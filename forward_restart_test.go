package openssh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/goopenssh/openssh/internal/sshtest"
)

// echoVia checks a round trip through conn.
func echoVia(c net.Conn, msg string) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != msg+"\n" {
		return fmt.Errorf("echo %q, want %q", got, msg+"\n")
	}
	return nil
}

// TestForwardRemoteDynamic: a remote dynamic forward (-R port, SOCKS on
// the remote side) carries SOCKS5 connections, made from this machine.
func TestForwardRemoteDynamic(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	echo := startEcho(t, "tcp", "127.0.0.1:0")
	_, ps, _ := net.SplitHostPort(echo.addr())
	var echoPort int
	fmt.Sscan(ps, &echoPort)
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		spec := ForwardSpec{Kind: RemoteForward, Listen: TCPAddr("127.0.0.1", 0)}
		if s := spec.String(); s != "-R 127.0.0.1:0" {
			t.Errorf("spec %q", s)
		}
		port, err := m.Forward(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if port == 0 {
			t.Fatal("no port allocated")
		}
		// The sshd host is this machine: connect to the remote listener.
		proxy := fmt.Sprintf("127.0.0.1:%d", port)
		for _, host := range []string{"127.0.0.1", "localhost"} {
			c, err := socks5Dial(proxy, host, echoPort)
			if err != nil {
				t.Fatalf("SOCKS5 to %s: %v", host, err)
			}
			if err := echoVia(c, "through remote socks to "+host); err != nil {
				t.Error(err)
			}
		}
		if fs := m.Forwards(); len(fs) != 1 || fs[0].Spec != spec || fs[0].Port != port {
			t.Errorf("Forwards() = %+v", fs)
		}
		if err := m.CancelForward(ctx, spec); err != nil {
			t.Fatal(err)
		}
		if len(m.Forwards()) != 0 {
			t.Errorf("Forwards() after cancel = %+v", m.Forwards())
		}
		if c, err := socks5Dial(proxy, "127.0.0.1", echoPort); err == nil {
			c.Close()
			t.Error("remote SOCKS still answers after cancel")
		}
		// A Unix listener cannot serve SOCKS.
		_, err = m.Forward(ctx, ForwardSpec{Kind: RemoteForward, Listen: UnixAddr("/tmp/x.sock")})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("remote dynamic on a Unix socket: %v, want ErrInvalid", err)
		}
	})
}

// TestForwardsSurviveRestart: local, remote dynamic and Listen forwards
// made before Restart work after it, also after the master was killed; one
// that cannot be set up again is named in Restart's error and dropped.
func TestForwardsSurviveRestart(t *testing.T) {
	checkNoLeaks(t)
	srv := sshtest.Start(t, sshtest.Config{})
	echo := startEcho(t, "tcp", "127.0.0.1:0")
	_, ps, _ := net.SplitHostPort(echo.addr())
	var echoPort int
	fmt.Sscan(ps, &echoPort)
	eachMaster(t, srv, func(t *testing.T, m *Master) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		lport := freeTCPPort(t)
		local := ForwardSpec{Kind: LocalForward, Listen: TCPAddr("127.0.0.1", lport), Connect: TCPAddr("127.0.0.1", echoPort)}
		if _, err := m.Forward(ctx, local); err != nil {
			t.Fatal(err)
		}
		rdyn := ForwardSpec{Kind: RemoteForward, Listen: TCPAddr("127.0.0.1", 0)}
		if _, err := m.Forward(ctx, rdyn); err != nil {
			t.Fatal(err)
		}
		l, err := m.Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() { // the listener echoes
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); io.Copy(c, c) }()
			}
		}()
		check := func(when string) {
			t.Helper()
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", lport), 3*time.Second)
			if err == nil {
				err = echoVia(c, "local "+when)
			}
			if err != nil {
				t.Errorf("%s: local forward: %v", when, err)
			}
			var rport int
			for _, f := range m.Forwards() {
				if f.Spec == rdyn {
					rport = f.Port
				}
			}
			c, err = socks5Dial(fmt.Sprintf("127.0.0.1:%d", rport), "127.0.0.1", echoPort)
			if err == nil {
				err = echoVia(c, "remote socks "+when)
			}
			if err != nil {
				t.Errorf("%s: remote dynamic forward on %d: %v", when, rport, err)
			}
			c, err = net.DialTimeout("tcp", l.Addr().String(), 3*time.Second)
			if err == nil {
				err = echoVia(c, "listener "+when)
			}
			if err != nil {
				t.Errorf("%s: listener on %v: %v", when, l.Addr(), err)
			}
		}
		check("before")
		if err := m.Restart(ctx); err != nil {
			t.Fatalf("Restart: %v", err)
		}
		check("after Restart")
		// Killed master, port of the local forward taken meanwhile.
		pid := m.MasterPID()
		killAndReap(t, pid)
		if err := m.Check(ctx); err == nil {
			t.Fatal("Check after kill: no error")
		}
		squat, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lport))
		if err != nil {
			t.Fatal(err)
		}
		defer squat.Close()
		err = m.Restart(ctx)
		if !errors.Is(err, ErrForwardFailed) {
			t.Fatalf("Restart with the local port taken: %v, want ErrForwardFailed", err)
		}
		t.Logf("Restart error: %v", err)
		if m.Err() != nil {
			t.Errorf("master not usable after a Restart that lost a forward: %v", m.Err())
		}
		for _, f := range m.Forwards() {
			if f.Spec == local {
				t.Error("the lost forward is still in Forwards()")
			}
		}
		if len(m.Forwards()) != 2 {
			t.Errorf("Forwards() = %+v, want the remote dynamic one and the listener's", m.Forwards())
		}
	})
}

// killAndReap kills the master pid and waits until the library has reaped it.
func killAndReap(t *testing.T, pid int) {
	t.Helper()
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; syscall.Kill(pid, 0) == nil; i++ {
		if i > 500 {
			t.Fatalf("master %d not reaped", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
