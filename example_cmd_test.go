package openssh_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"time"

	"github.com/goopenssh/openssh"
)

func connect() *openssh.Master {
	m, err := openssh.New(context.Background(), "user@example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	return m
}

// A Cmd is set up like an exec.Cmd. Two or more arguments are quoted for
// the remote shell; one argument is a command line run as is.
func ExampleMaster_Command() {
	m := connect()
	defer m.Close()
	ctx := context.Background()

	c := m.Command(ctx, "grep", "-c", "it's here", "notes.txt")
	c.Dir = "/srv/docs"
	c.Env = []string{"LC_ALL=C"}
	c.IdleTimeout = 30 * time.Second
	out, err := c.Output()
	var ee *openssh.ExitError
	switch {
	case errors.As(err, &ee):
		fmt.Println("grep exited with", ee.Code)
	case errors.Is(err, openssh.ErrTimeout):
		fmt.Println("no output for 30 s")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Printf("%s", out)
	}
}

// The helpers carry Net::OpenSSH's names; each is also a method of Cmd,
// which takes the options.
func ExampleMaster_Capture() {
	m := connect()
	defer m.Close()
	ctx := context.Background()

	out, err := m.Capture(ctx, "uname -a")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", out)

	// The same with input, as Perl's stdin_data.
	c := m.Command(ctx, "sort")
	c.Stdin = bytes.NewReader([]byte("b\na\n"))
	sorted, err := c.Capture()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", sorted)
}

// Test reports the exit status as a boolean; the error is only for ssh.
func ExampleMaster_Test() {
	m := connect()
	defer m.Close()
	ok, err := m.Test(context.Background(), "test", "-d", "/var/www")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exists:", ok)
}

// PipeIn streams into a remote command; Close waits for it.
func ExampleMaster_PipeIn() {
	m := connect()
	defer m.Close()
	w, err := m.PipeIn(context.Background(), "gzip > /tmp/backup.gz")
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Open("backup.tar")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
}

// StartPty runs a command on a remote terminal.
func ExampleCmd_StartPty() {
	m := connect()
	defer m.Close()
	c := m.Command(context.Background(), "top -b -n 1 | head -5")
	ptm, err := c.StartPty()
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(os.Stdout, ptm) // ends with EIO when the remote side hangs up
	ptm.Close()
	if err := c.Wait(); err != nil {
		log.Fatal(err)
	}
}

// StartPipedTo connects a local program to a remote one, both ways.
func ExampleCmd_StartPipedTo() {
	m := connect()
	defer m.Close()
	local := exec.Command("sh", "-c", `echo ping; read reply; echo "$reply" >&2`)
	local.Stderr = os.Stderr
	c := m.Command(context.Background(), `read l; echo "pong: $l"`)
	if err := c.StartPipedTo(local); err != nil {
		log.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		log.Fatal(err)
	}
}

// MakeRemoteCommand gives the argv for tools that run a command.
func ExampleMaster_MakeRemoteCommand() {
	m := connect()
	defer m.Close()
	argv, err := m.MakeRemoteCommand(context.Background(), "cat", "/etc/hostname")
	if err != nil {
		log.Fatal(err)
	}
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", out)
}
