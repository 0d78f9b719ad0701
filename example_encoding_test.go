package openssh_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/goopenssh/openssh"
	"golang.org/x/text/encoding/charmap"
)

// Talk to a host whose file names and programs use latin1: arguments are
// encoded, output decoded.
func ExampleOptions_encoding() {
	ctx := context.Background()
	m, err := openssh.New(ctx, "legacy.example.com", &openssh.Options{
		Encoding: charmap.ISO8859_1,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	out, err := m.Capture(ctx, "ls", "/srv/données")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", out) // UTF-8 here, latin1 there
	if _, err := m.Capture(ctx, "echo", "日本"); errors.Is(err, openssh.ErrEncoding) {
		fmt.Println("latin1 cannot hold it:", err)
	}
}
