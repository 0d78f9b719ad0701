package openssh_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/goopenssh/openssh"
)

// Run commands as root through sudo; the password is typed at sudo's
// prompt, never passed as an argument.
func ExampleMaster_Sudo() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "admin@host.example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	password := os.Getenv("SUDO_PASSWORD")
	out, err := m.Sudo(ctx, password, "cat", "/etc/shadow").Output()
	if errors.Is(err, openssh.ErrAuth) {
		log.Fatal("sudo refused the password: ", err)
	}
	fmt.Printf("%d bytes\n", len(out))

	// The caller's stdin reaches the command; run it as another user.
	c := m.Command(ctx, "tee", "/srv/app/config.ini").SetSudo(openssh.SudoOptions{Password: password, User: "app"})
	c.Stdin = strings.NewReader("[main]\nport = 8080\n")
	if err := c.Run(); err != nil {
		log.Fatal(err)
	}
}
