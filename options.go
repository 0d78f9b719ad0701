package openssh

import (
	"io"
	"log/slog"
	"os"
	"time"
)

// Options configures a [Master]. The zero value (or a nil *Options) is a
// good default: the user and port come from the target or from ssh's own
// configuration, host keys are checked strictly, and the control socket goes
// in a private per-user directory.
//
// An Options must not be modified after it has been passed to [New].
type Options struct {
	// User is the remote user (-l). It conflicts with a user given in the
	// target string.
	User string
	// Port is the remote port (-p), 1-65535; 0 leaves it to ssh. It
	// conflicts with a port given in the target string.
	Port int
	// KeyPath is a private key file for the master (-i). As in Net::OpenSSH,
	// it also restricts authentication to public keys.
	KeyPath string
	// BatchMode makes ssh never prompt (-o BatchMode=yes).
	BatchMode bool
	// ProxyCommand is given to the master as -o ProxyCommand=... .
	ProxyCommand string
	// ForwardAgent enables agent forwarding on the master connection (-A;
	// otherwise -a is not forced and ssh's configuration decides).
	ForwardAgent bool
	// ForwardX11 enables X11 forwarding on the master (-X; otherwise -x).
	ForwardX11 bool

	// SSHPath is the ssh program, "ssh" when empty. It may hold arguments,
	// split as a shell would (for example "ssh -4").
	SSHPath string
	// ConfigFile is an ssh_config file used instead of ~/.ssh/config (-F).
	ConfigFile string

	// CtlDir is the directory of the control socket. The default is
	// $XDG_RUNTIME_DIR/goopenssh when XDG_RUNTIME_DIR exists, else
	// ~/.goopenssh (home taken from the passwd database), created 0700.
	CtlDir string
	// CtlPath is the control socket path. It must not exist unless
	// ExternalMaster is set, in which case it must be a live socket.
	CtlPath string
	// ExternalMaster uses a master someone else started at CtlPath. Such a
	// master is never signalled; Close leaves it running.
	ExternalMaster bool
	// AllowInsecureCtlDir skips the check that no one else can write the
	// control directory or its parents (Net::OpenSSH's strict_mode => 0).
	AllowInsecureCtlDir bool

	// MasterOpts are extra arguments for the master ssh, placed first on its
	// command line so that they win over the library's defaults.
	MasterOpts []string
	// DefaultSSHOpts are extra arguments for slave ssh processes run by
	// commands that give no SSHOpts of their own.
	DefaultSSHOpts []string

	// Timeout bounds the login (also in Async mode) and sets
	// ServerAliveInterval to (Timeout+2)/3 seconds (30 s when zero). Zero
	// means the login is bounded only by the context.
	Timeout time.Duration
	// Async makes New return as soon as the master is started; call
	// [Master.WaitForMaster] before use (operations wait for it anyway).
	Async bool
	// NoPdeathsig keeps the master alive when the thread that started it
	// exits (Linux only). By default the kernel kills the master when the
	// program dies, so a crashed program never leaves it behind; turn that
	// off for programs that hand the master over to another process.
	NoPdeathsig bool

	// MasterStdout and MasterStderr receive the master's output. ssh's
	// diagnostics are always also read by the library to classify errors.
	MasterStdout io.Writer
	MasterStderr io.Writer

	// Logger receives debug and info records about processes started and
	// stopped. Nil means no logging. Secrets are never logged.
	Logger *slog.Logger

	// RemoteShell names the remote user's shell, which decides how
	// arguments are quoted: "" or "sh", "bash", ... (POSIX), "csh", "tcsh",
	// "fish", "MSWin", "MSCmd", or a chain such as "MSCmd,MSWin". Quoter,
	// when set, wins over it.
	RemoteShell string
	// Quoter quotes arguments for the remote shell instead of the one named
	// by RemoteShell.
	Quoter Quoter

	// ExpandVars turns on %NAME% expansion in command arguments, per-call
	// ssh options and file names (see [Master.SetVar]).
	ExpandVars bool
	// Vars are the initial variables for expansion.
	Vars map[string]string

	// DefaultStdin, DefaultStdout and DefaultStderr are used by commands
	// whose Cmd leaves the stream nil (nil here too means /dev/null).
	DefaultStdin  io.Reader
	DefaultStdout io.Writer
	DefaultStderr io.Writer

	// MaxSessions bounds the number of slave sessions running at once on
	// this master; callers over the limit wait for a slot instead of being
	// refused by the server. Zero means 10, sshd's default MaxSessions;
	// a negative value means no limit.
	MaxSessions int
}

// osFile returns w as an *os.File when it is one.
func osFile(v any) (*os.File, bool) {
	f, ok := v.(*os.File)
	return f, ok && f != nil
}
