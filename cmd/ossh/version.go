package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/goopenssh/openssh"
)

// printVersion prints ossh's version and the version of the ssh it finds in
// PATH ("ssh -V"), which does the work.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "ossh %s (github.com/goopenssh/openssh, %s %s/%s)\n", openssh.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "ssh: %s\n", sshVersion())
}

// sshVersion returns the first line "ssh -V" prints, or why there is none.
func sshVersion() string {
	path, err := exec.LookPath("ssh")
	if err != nil {
		return "not found in PATH"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-V").CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	switch {
	case err != nil && line == "":
		return fmt.Sprintf("%s -V failed: %v", path, err)
	case line == "":
		return fmt.Sprintf("%s -V printed nothing", path)
	}
	return line + " (" + path + ")"
}
