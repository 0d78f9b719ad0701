package openssh_test

import (
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/goopenssh/openssh"
)

// Walk a remote tree, parse templates from it and serve it over HTTP.
func ExampleMaster_FS() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "web1.example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	site, err := m.FS(ctx, "/srv/site")
	if err != nil {
		log.Fatal(err)
	}
	defer site.Close()
	fs.WalkDir(site, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			fmt.Println(p)
		}
		return err
	})
	tmpl, err := template.ParseFS(site, "templates/*.html")
	if err != nil {
		log.Fatal(err)
	}
	_ = tmpl
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", http.FileServerFS(site)))
}

// Stream a remote file to stdout, and a string to a remote file.
func ExampleMaster_ReadFile() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "db1.example.com", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	if _, err := m.ReadFile(ctx, "/etc/hostname", os.Stdout); err != nil {
		log.Fatal(err)
	}
	if _, err := m.WriteFile(ctx, "/tmp/motd", strings.NewReader("maintenance at 22:00\n"), 0o644); err != nil {
		log.Fatal(err)
	}
}
