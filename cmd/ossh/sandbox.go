package main

import (
	"fmt"
	"os"
	"sync"
)

// sandboxTB lets the demo run the test harness's private sshd outside of a
// test: Fatal exits after running the cleanups, Skip is fatal too.
type sandboxTB struct {
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

func (s *sandboxTB) Helper() {}

func (s *sandboxTB) Fatal(args ...any) {
	s.fail(fmt.Sprint(args...))
}

func (s *sandboxTB) Fatalf(format string, args ...any) {
	s.fail(fmt.Sprintf(format, args...))
}

func (s *sandboxTB) Skip(args ...any) { s.fail(fmt.Sprint(args...)) }

func (s *sandboxTB) fail(msg string) {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
	fmt.Fprintln(os.Stderr, "ossh demo:", msg)
	s.Close()
	os.Exit(1)
}

func (s *sandboxTB) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func (s *sandboxTB) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *sandboxTB) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Close runs the cleanups, last registered first.
func (s *sandboxTB) Close() {
	s.mu.Lock()
	c := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}
