package openssh_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/goopenssh/openssh"
)

func ExampleMaster_ScpGet() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "user@example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	// Remote paths are file names: spaces and quotes need no quoting.
	err = m.ScpGet(ctx, []string{"/var/log/my app.log", "notes 'draft'.txt"}, "/tmp/", &openssh.ScpOpts{CopyAttrs: true})
	if err != nil {
		log.Fatal(err) // for a missing file: "... scp: /var/log/my app.log: No such file or directory"
	}
}

func ExampleMaster_ScpPutAsync() {
	ctx := context.Background()
	var transfers []*openssh.Transfer
	for _, host := range []string{"a.example.com", "b.example.com"} {
		m, err := openssh.New(ctx, host, nil)
		if err != nil {
			log.Print(err)
			continue
		}
		defer m.Close()
		t, err := m.ScpPutAsync(ctx, []string{"build/app.tar.gz"}, "/srv/releases/", nil)
		if err != nil {
			log.Print(err)
			continue
		}
		transfers = append(transfers, t)
	}
	for _, t := range transfers {
		if err := t.Wait(); err != nil {
			log.Print(err) // per-host errors
		}
	}
}

func ExampleMaster_RsyncPut() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	err = m.RsyncPut(ctx, []string{"site/"}, "/var/www/site", &openssh.RsyncOpts{
		Archive: true,
		Delete:  true,
		Exclude: []string{"*.tmp"},
		// Other rsync options, Net::OpenSSH style: --no-times, --chmod=...
		Flags: map[string]any{"no_times": true, "chmod": "Dg+s"},
	})
	if err != nil {
		// For example "openssh: example.com: rsync exited 23 (partial
		// transfer due to error): rsync: link_stat ... failed: ...".
		log.Fatal(err)
	}
}

func ExampleMaster_SFTP() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	c, err := m.SFTP(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close() // ends and reaps the ssh slave
	names, err := c.ReadDir("/etc")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(names), "entries")
	// Copy a big file with a progress report.
	if err := openssh.SFTPGetFile(ctx, c, "/var/backups/db.dump", "db.dump", openssh.ProgressTo(os.Stderr)); err != nil {
		log.Fatal(err)
	}
}

func ExampleMaster_SSHFSImport() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fs, err := m.SSHFSImport(ctx, "/srv/data", "/mnt/data", &openssh.SSHFSOpts{Args: []string{"-o", "reconnect"}})
	if err != nil {
		log.Fatal(err)
	}
	defer fs.Close() // unmounts
	b, err := os.ReadFile("/mnt/data/README")
	fmt.Println(len(b), err)
}

func ExampleProgressTo() {
	var b strings.Builder
	p := openssh.ProgressTo(&b)
	p(1<<20, 4<<20)
	p(4<<20, 4<<20)
	fmt.Printf("%q\n", b.String())
	// Output:
	// "\r   1.0 MiB / 4.0 MiB  25%\r   4.0 MiB / 4.0 MiB 100%\n"
}
