module github.com/goopenssh/openssh

go 1.25.0

require (
	github.com/creack/pty v1.1.24
	github.com/google/shlex v0.0.0-20191202100458-e7afc7fbc510
	github.com/pkg/sftp v1.13.12
	github.com/spf13/pflag v1.1.0
	go.uber.org/goleak v1.3.0
	golang.org/x/crypto v0.55.0
	golang.org/x/sys v0.47.0
)

require (
	github.com/kr/fs v0.1.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)
