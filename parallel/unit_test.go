package parallel

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/goopenssh/openssh"
)

func TestSelectors(t *testing.T) {
	var r Runner
	for _, l := range []string{"web1", "web2", "web10", "db1", "db2", "x-eu-1"} {
		if err := r.AddHost(l, "127.0.0.1", nil); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string][]string{
		"*":           {"web1", "web2", "web10", "db1", "db2", "x-eu-1"},
		"web*":        {"web1", "web2", "web10"},
		"web1":        {"web1"},
		"web*,db1":    {"web1", "web2", "web10", "db1"},
		" db2 , web2": {"web2", "db2"},
		"*-eu-*":      {"x-eu-1"},
		"*1":          {"web1", "db1", "x-eu-1"},
		"w.b1":        nil, // a dot is literal
		"nothing":     nil,
	}
	for sel, want := range cases {
		got, err := r.Labels(sel)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Labels(%q) = %q, want %q", sel, got, want)
		}
		pushed, err := r.Push(sel, Command("true"))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pushed, want) {
			t.Errorf("Push(%q) = %q, want %q", sel, pushed, want)
		}
	}
	for _, sel := range []string{"", "web1,", ",", "a,,b"} {
		if _, err := r.Push(sel, Command("true")); !errors.Is(err, openssh.ErrInvalid) {
			t.Errorf("Push(%q): %v, want ErrInvalid", sel, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	var r Runner
	for _, l := range []string{"", "a,b", "a*", "a!", "a(", "a)", "a<", "a>", "a/b", "a{", "a}", "a b", ".", ".."} {
		if err := r.AddHost(l, "", nil); !errors.Is(err, openssh.ErrInvalid) {
			t.Errorf("AddHost(%q): %v, want ErrInvalid", l, err)
		}
	}
	if err := r.AddHost("ok", "-oProxyCommand=x", nil); !errors.Is(err, openssh.ErrInvalid) {
		t.Errorf("bad target: %v", err)
	}
	if err := r.AddHost("h1", "127.0.0.1", nil); err != nil {
		t.Fatal(err)
	}
	if err := r.AddHost("h1", "127.0.0.1", nil); !errors.Is(err, openssh.ErrInvalid) {
		t.Errorf("duplicate label: %v", err)
	}
	bad := []Action{
		Command(), Func(nil), Local(nil), Put("", "x"), Get("x", ""), Here(""), Here("END"), Goto(""),
		Join("a,,b"), Join("*").OnError(Ignore), Here("x").Timeout(1), Func(func(context.Context, string, *openssh.Master) error { return nil }).Input([]byte("x")),
		Command("true").OnError(Policy(42)), Command("true").Timeout(-1), Local(func(context.Context, string) error { return nil }).OrGoto("x"),
		{},
	}
	for _, a := range bad {
		if _, err := r.All(a); !errors.Is(err, openssh.ErrInvalid) {
			t.Errorf("All(%v): %v, want ErrInvalid", a, err)
		}
	}
	// A goto must jump forward to a Here of the same queue: refused at Run,
	// before anything runs.
	ran := false
	r.All(Local(func(context.Context, string) error { ran = true; return nil }))
	r.All(Goto("later"))
	if _, err := r.Run(context.Background()); !errors.Is(err, openssh.ErrInvalid) {
		t.Fatalf("Run with a dangling goto: %v, want ErrInvalid", err)
	}
	if ran {
		t.Fatal("an action ran despite the refused queue")
	}
	r2 := Runner{Workers: 8, Connections: 4}
	if _, err := r2.Run(context.Background()); !errors.Is(err, openssh.ErrInvalid) {
		t.Fatalf("Workers > Connections: %v", err)
	}
	if p, err := ParsePolicy("abort-all"); err != nil || p != AbortAll {
		t.Fatalf("ParsePolicy: %v %v", p, err)
	}
	if _, err := ParsePolicy("nope"); !errors.Is(err, openssh.ErrInvalid) {
		t.Fatalf("ParsePolicy(nope): %v", err)
	}
}

func TestExpandLabel(t *testing.T) {
	for in, want := range map[string]string{
		"echo %LABEL%":      "echo web1",
		"%LABEL%%LABEL%":    "web1web1",
		"100%% %LABEL%":     "100% web1",
		"%%LABEL%%":         "%LABEL%",
		"%HOST% %label% 5%": "%HOST% %label% 5%",
		"date +%s":          "date +%s",
	} {
		if got := ExpandLabel(in, "web1"); got != want {
			t.Errorf("ExpandLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := &lineWriter{mu: &mu, w: &out, prefix: []byte("h1: ")}
	w.Write([]byte("a\nb"))
	w.Write([]byte("c\n\nd"))
	w.Flush()
	if got, want := out.String(), "h1: a\nh1: bc\nh1: \nh1: d\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// Local-only queues exercise the scheduler without ssh: the join barrier,
// goto and the policies on local errors.
func TestLocalScheduling(t *testing.T) {
	var r Runner
	for _, l := range []string{"a", "b", "c"} {
		if err := r.AddHost(l, "127.0.0.1", nil); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var log []string
	rec := func(s string) Action {
		return Local(func(_ context.Context, label string) error {
			mu.Lock()
			log = append(log, label+":"+s)
			mu.Unlock()
			return nil
		})
	}
	r.Push("a", rec("1"))
	r.Push("a", Goto("skip"))
	r.Push("a", rec("skipped"))
	r.Push("a", Here("skip"))
	r.All(Join("a"))
	r.All(rec("2"))
	r.Push("b", Local(func(context.Context, string) error { return errors.New("boom") }).OnError(Ignore))
	r.Push("b", rec("3"))
	r.Push("c", Stop())
	r.Push("c", rec("never"))
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(log)
	if want := []string{"a:1", "a:2", "b:2", "b:3", "c:2"}; !slices.Equal(log, want) {
		t.Fatalf("log %q, want %q", log, want)
	}
	if b := res.Get("b"); len(b.Ignored) != 1 || b.Err != nil {
		t.Fatalf("b: %+v", b)
	}
}
