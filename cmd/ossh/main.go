// Command ossh runs commands across hosts through goopenssh masters.
//
//	ossh demo    start a sandbox of 8 hosts on loopback, work on all of them,
//	             print a summary and tear everything down
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func usage() {
	fmt.Fprintln(os.Stderr, `usage: ossh demo`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "demo":
		err = demo(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ossh:", err)
		os.Exit(1)
	}
}
