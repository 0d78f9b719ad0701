module github.com/goopenssh/openssh

go 1.24

require (
	github.com/creack/pty v1.1.24
	github.com/google/shlex v0.0.0-20191202100458-e7afc7fbc510
	go.uber.org/goleak v1.3.0
)
