package parallel

import (
	"context"
	"errors"
	"testing"

	"github.com/goopenssh/openssh"
	"github.com/goopenssh/openssh/internal/sshtest"
)

// TestSudoAction: commands run through sudo on every host (with the
// action's Input reaching them); a wrong password fails with ErrAuth.
func TestSudoAction(t *testing.T) {
	checkNoLeaks(t)
	sshtest.Require(t)
	user, pw := sshtest.SudoAccount(t)
	srv := sshtest.Start(t, sshtest.Config{User: user, Addrs: addrs(2, 3)})
	r := newRunner(t, srv, hostOpts(t, srv))
	sudo := func(pw string) func(c *openssh.Cmd) {
		return func(c *openssh.Cmd) { c.SetSudo(openssh.SudoOptions{Password: pw}) }
	}
	r.All(Command(`echo "$(id -un) $(cat)"`).Input([]byte("input")).Setup(sudo(pw)))
	r.Push("h2", Command("true").Setup(sudo("wrong")))
	res, err := r.Run(context.Background())
	if err == nil {
		t.Fatal("Run: no error with a wrong password on h2")
	}
	for _, x := range res {
		if x.Label == "h2" {
			if !errors.Is(x.Err, openssh.ErrAuth) {
				t.Errorf("h2: %v, want ErrAuth", x.Err)
			}
		} else if x.Err != nil {
			t.Errorf("%s: %v", x.Label, x.Err)
		}
		if want := "root input\n"; string(x.Stdout) != want && x.Label != "h2" {
			t.Errorf("%s: stdout %q, want %q", x.Label, x.Stdout, want)
		}
	}
}
