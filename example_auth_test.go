package openssh_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/goopenssh/openssh"
)

// A password login: ssh reads the password on a private pty, so it never
// appears in a command line or an environment.
func ExampleOptions_password() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "admin@host.example.com", &openssh.Options{
		Password: os.Getenv("HOST_PASSWORD"),
		Timeout:  30 * time.Second,
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, openssh.ErrAuth) for a wrong password
	}
	defer m.Close()
}

// A key protected by a passphrase.
func ExampleOptions_passphrase() {
	m, err := openssh.New(context.Background(), "host.example.com", &openssh.Options{
		KeyPath:    "/home/me/.ssh/id_ed25519",
		Passphrase: os.Getenv("KEY_PASSPHRASE"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
}

// A LoginHandler answers prompts a plain password cannot: here a one-time
// code, then a password.
func ExampleLoginHandler() {
	answers := []struct {
		prompt *regexp.Regexp
		answer string
	}{
		{regexp.MustCompile(`(?i)verification code: $`), "123456"},
		{regexp.MustCompile(`(?i)password: $`), os.Getenv("HOST_PASSWORD")},
	}
	handler := func(ctx context.Context, tty io.ReadWriter) error {
		buf := make([]byte, 1024)
		var seen strings.Builder
		for _, a := range answers {
			for !a.prompt.MatchString(seen.String()) {
				n, err := tty.Read(buf)
				seen.Write(buf[:n])
				if err != nil {
					return fmt.Errorf("waiting for %v: %w", a.prompt, err)
				}
			}
			seen.Reset()
			if _, err := io.WriteString(tty, a.answer+"\n"); err != nil {
				return err
			}
		}
		return nil
	}
	m, err := openssh.New(context.Background(), "host.example.com", &openssh.Options{
		LoginHandler: handler,
		MasterOpts:   []string{"-o", "PreferredAuthentications=keyboard-interactive"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
}

// Trust on first use: the key of a new host is recorded in a private
// known-hosts file; a changed key is refused with ErrHostKeyChanged.
func ExampleHostKeyAcceptNew() {
	m, err := openssh.New(context.Background(), "host.example.com", &openssh.Options{
		HostKeyPolicy:  openssh.HostKeyAcceptNew,
		KnownHostsFile: "/var/lib/myapp/known_hosts",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	keys, err := openssh.LookupHostKey(context.Background(), "/var/lib/myapp/known_hosts", "host.example.com", 22)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(keys)
}

// After a legitimate host key change (the server was reinstalled), remove
// the old key and record the new one.
func ExampleRemoveHostKey() {
	ctx := context.Background()
	const kh = "/var/lib/myapp/known_hosts"
	if err := openssh.RemoveHostKey(ctx, kh, "host.example.com", 22); err != nil {
		log.Fatal(err)
	}
	added, err := openssh.AddHostKey(ctx, kh, "host.example.com", 22)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(added) // compare with the fingerprint the administrator gave
}

// Method preferences and keepalive, checked with ssh -G before connecting.
func ExampleMaster_DefaultSSHConfiguration() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "host.example.com", &openssh.Options{
		Ciphers:             []string{"chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com"},
		KexAlgorithms:       []string{"^sntrup761x25519-sha512@openssh.com"},
		ServerAliveInterval: 15 * time.Second,
		ServerAliveCountMax: 4,
		ConnectTimeout:      10 * time.Second,
		Async:               true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	cfg, err := m.DefaultSSHConfiguration(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Get("ciphers"), cfg.Get("serveraliveinterval"))
}

// Which authentication methods does the server offer?
func ExampleMaster_AuthMethods() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "host.example.com", &openssh.Options{Async: true})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	methods, err := m.AuthMethods(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(methods) // for example [publickey password]
}

// SSHConfig.Get looks keywords up without regard to case.
func ExampleSSHConfig_Get() {
	cfg := openssh.SSHConfig{"ciphers": {"aes128-ctr,aes256-ctr"}, "identityfile": {"~/.ssh/id_ed25519", "~/.ssh/id_rsa"}}
	fmt.Println(cfg.Get("Ciphers"))
	fmt.Println(cfg["identityfile"])
	// Output:
	// aes128-ctr,aes256-ctr
	// [~/.ssh/id_ed25519 ~/.ssh/id_rsa]
}

// HostKeyPolicy values print as ssh's names for them.
func ExampleHostKeyPolicy() {
	fmt.Println(openssh.HostKeyStrict, openssh.HostKeyAcceptNew, openssh.HostKeyOff)
	// Output: strict accept-new off
}
