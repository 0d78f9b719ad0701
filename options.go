package openssh

import (
	"io"
	"log/slog"
	"os"
	"regexp"
	"time"

	"golang.org/x/text/encoding"
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
	// master is never signalled; Close leaves it running. Its socket gets
	// the checks of our own control directory: the directories that lead
	// to it (symbolic links resolved) must pass the check of
	// AllowInsecureCtlDir ([ErrInsecureCtlDir]), and the socket must be
	// owned by the effective user (as it is by root, when that is root)
	// and not be writable by group or others ([ErrInsecureCtlSocket]).
	ExternalMaster bool
	// AllowInsecureCtlDir skips the check that no one else can write the
	// control directory or its parents (Net::OpenSSH's strict_mode => 0),
	// and the checks of an external master's socket.
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
	// NoPdeathsig turns off the kernel's parent-death signal for the
	// master (Linux). A master never outlives a program that dies, however
	// it dies: on Linux the kernel ends it by default; with NoPdeathsig,
	// and on systems without that signal (macOS, the BSDs), a watchdog
	// does (a small sh that ends the master's process group when this
	// program's end of a pipe closes). [Master.Disown] dismisses the
	// watchdog but cannot undo the kernel's signal, so a program that
	// hands its master over to another process on Linux sets NoPdeathsig.
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
	// a negative value means no limit. When it is 2 or more, one session
	// is kept for stopping and signalling commands (see [Cmd]), so at most
	// MaxSessions-1 commands and transfers run at once; with 1, a command
	// can only be stopped from the local side while it holds the session.
	MaxSessions int
	// Transport selects how operations reach the master: one ssh process
	// each ([TransportProcess], the default) or OpenSSH's control-socket
	// protocol spoken directly ([TransportMux]).
	Transport Transport

	// --- authentication and connection ---

	// Password logs in with a password typed on the master's terminal (a
	// pty), never passed in argv or the environment. It conflicts with a
	// password in the target, KeyPath, Passphrase and LoginHandler. It
	// restricts authentication to keyboard-interactive and password, one
	// prompt each (NumberOfPasswordPrompts=1), and makes BatchMode ignored.
	// A wrong password fails the login with [ErrAuth]. The Master keeps a
	// copy in a byte slice, for [Master.Restart], and zeroes it in
	// [Master.Close]; the string itself cannot be wiped.
	Password string
	// Passphrase unlocks the private key (KeyPath, or the one in ssh's
	// configuration), typed on the master's terminal. The agent is kept
	// out (SSH_AUTH_SOCK is removed from the master's environment) and
	// authentication is restricted to public keys; it conflicts with
	// ForwardAgent. A wrong passphrase fails the login with [ErrAuth].
	Passphrase string
	// PasswordPrompt recognises ssh's prompt for Password or Passphrase
	// (and, after a LoginHandler has returned, a prompt that means its
	// answers were refused).
	// It is matched against what ssh has written on the terminal since the
	// last answer and must match at the end of it (only blanks may
	// follow). The default matches prompts that end with ":" or "?" after
	// the word "password" or "passphrase" on the same line.
	PasswordPrompt *regexp.Regexp
	// LoginHandler conducts a custom login on the master's terminal
	// (keyboard-interactive with several prompts, a one-time code, ssh's
	// host key question); see [LoginHandler] for what it sees there. It
	// conflicts with Password and Passphrase.
	LoginHandler LoginHandler
	// HostKeyPolicy says how the server's host key is checked:
	// [HostKeyStrict] (the default), [HostKeyAcceptNew] or [HostKeyOff].
	HostKeyPolicy HostKeyPolicy
	// KnownHostsFile replaces the user's known-hosts file
	// (UserKnownHostsFile) for the master. See also [LookupHostKey],
	// [AddHostKey] and [RemoveHostKey].
	KnownHostsFile string

	// KexAlgorithms, HostKeyAlgorithms, Ciphers and MACs are the
	// algorithms ssh may negotiate, in order of preference (Net::SSH2's
	// method preferences). The first name may start with "+" (append to
	// ssh's defaults), "-" (remove from them; wildcards allowed) or "^"
	// (put first). Every name must be supported by the local ssh ("ssh
	// -Q cipher" and so on); a server that supports none of them fails the
	// login with ssh's "no matching ... found" in the error.
	KexAlgorithms     []string
	HostKeyAlgorithms []string
	Ciphers           []string
	MACs              []string
	// Compression turns on zlib compression (Compression=yes).
	Compression bool
	// ServerAliveInterval sets ssh's keepalive interval, in whole seconds
	// (rounded up), instead of the one derived from Timeout.
	ServerAliveInterval time.Duration
	// ServerAliveCountMax is how many keepalives may go unanswered before
	// ssh drops the connection (0: ssh's default, 3).
	ServerAliveCountMax int
	// ConnectTimeout bounds the TCP connection and the SSH banner exchange
	// (ConnectTimeout, whole seconds rounded up).
	ConnectTimeout time.Duration
	// IdentityAgent is the agent socket ssh uses ("none" for no agent).
	IdentityAgent string
	// IdentitiesOnly makes ssh offer only the configured keys (KeyPath,
	// IdentityFile), not every key in the agent.
	IdentitiesOnly bool
	// CertificateFile is a certificate to present with the key.
	CertificateFile string
	// ProxyJump reaches the host through one or more jump hosts,
	// "[user@]host[:port][,...]". It conflicts with ProxyCommand.
	ProxyJump string

	// --- character encodings (Net::OpenSSH's *_encoding; encoding.go) ---

	// Encoding is the remote side's character encoding, such as
	// charmap.ISO8859_1 from golang.org/x/text (Net::OpenSSH's
	// default_encoding); nil means bytes pass as they are (UTF-8 on both
	// sides). It is the default of ArgumentEncoding and StreamEncoding.
	Encoding encoding.Encoding
	// ArgumentEncoding encodes the remote command line (arguments, Dir,
	// Env) from Go's UTF-8. A character the encoding cannot represent
	// fails the command with an [*ArgError] matching [ErrEncoding] before
	// anything runs.
	ArgumentEncoding encoding.Encoding
	// StreamEncoding encodes what commands read (Stdin, StdinPipe) and
	// decodes what they write (Stdout, Stderr, the pipes, Output and the
	// Capture helpers) when the library copies the stream; an *os.File
	// given as a stream is passed to ssh as it is, untouched. Input the
	// encoding cannot represent fails the command with an error matching
	// [ErrEncoding].
	StreamEncoding encoding.Encoding
}

// osFile returns w as an *os.File when it is one.
func osFile(v any) (*os.File, bool) {
	f, ok := v.(*os.File)
	return f, ok && f != nil
}
