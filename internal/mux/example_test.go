package mux_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/goopenssh/openssh/internal/mux"
)

// Run a command through a master's control socket and collect its output.
func ExampleConn_NewSession() {
	ctx := context.Background()
	c, err := mux.Dial(ctx, "/path/to/ctl")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := c.NewSession(ctx, mux.SessionRequest{Command: "uname -a"}, nil, outW, nil)
	outW.Close() // the master has its own copy
	if err != nil {
		outR.Close()
		fmt.Println(err)
		return
	}
	out, _ := io.ReadAll(outR) // EOF once the session ends
	outR.Close()
	status, err := s.Wait(ctx)
	fmt.Printf("%s(exit %d, %v)\n", out, status, err)
}

// Ask a master for its pid.
func ExampleConn_AliveCheck() {
	ctx := context.Background()
	c, err := mux.Dial(ctx, "/path/to/ctl")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	pid, err := c.AliveCheck(ctx)
	fmt.Println(pid, err)
}
