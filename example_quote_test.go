package openssh_test

import (
	"fmt"

	"github.com/goopenssh/openssh"
)

func ExampleShellQuote() {
	cmd, err := openssh.ShellQuote("echo", "a b", "it's", "$HOME")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cmd)

	// Glob quoting leaves wildcards to the remote shell.
	pat, _ := openssh.ShellQuoteGlob("ls", "my dir/*.txt")
	fmt.Println(pat)

	// A NUL byte cannot reach any shell.
	_, err = openssh.ShellQuote("a\x00b")
	fmt.Println(err)
	// Output:
	// echo 'a b' it\'s '$HOME'
	// ls my' dir/'*.txt
	// openssh: invalid args[0] "a\x00b": a NUL byte cannot be passed through a shell
}

func ExampleQuoterFor() {
	for _, shell := range []string{"bash", "tcsh", "fish", "MSCmd,MSWin"} {
		q, err := openssh.QuoterFor(shell)
		if err != nil {
			fmt.Println(err)
			return
		}
		s, _ := q.Quote(`say "hi"! & bye`)
		null, _ := q.Fragment(openssh.StdoutAndStderrDiscard)
		fmt.Printf("%-11s %s %s\n", shell, s, null)
	}
	_, err := openssh.QuoterFor("cmd.exe")
	fmt.Println(err)
	// Output:
	// bash        'say "hi"! & bye' >/dev/null 2>&1
	// tcsh        'say "hi"\! & bye' >&/dev/null
	// fish        'say "hi"! & bye' >/dev/null 2>&1
	// MSCmd,MSWin ^"say \^"hi\^"^! ^& bye^" >NUL: 2>&1
	// openssh: invalid remote shell "cmd.exe": unknown remote shell
}
