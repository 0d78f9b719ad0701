package openssh

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// toolVersion is a program's version, detected once per process.
type toolVersion struct {
	major, minor, patch int
	raw                 string // the line the version was read from
	err                 error
}

// atLeast reports whether v >= major.minor.patch. An undetected version is
// never at least anything.
func (v toolVersion) atLeast(major, minor, patch int) bool {
	if v.err != nil {
		return false
	}
	if v.major != major {
		return v.major > major
	}
	if v.minor != minor {
		return v.minor > minor
	}
	return v.patch >= patch
}

var (
	sshVersionOnce   sync.Once
	sshVersionValue  toolVersion
	rsyncVersionOnce sync.Once
	rsyncVersionVal  toolVersion

	sshVersionRE   = regexp.MustCompile(`OpenSSH_(\d+)\.(\d+)(?:p(\d+))?`)
	rsyncVersionRE = regexp.MustCompile(`rsync\s+version\s+v?(\d+)\.(\d+)(?:\.(\d+))?`)
)

// runVersion runs a program's version command, bounded in time.
func runVersion(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.Command(name, args...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := runChild(ctx, cmd)
	return string(out.Bytes()), err
}

func parseVersion(re *regexp.Regexp, out string) toolVersion {
	m := re.FindStringSubmatch(out)
	if m == nil {
		return toolVersion{err: errNoVersion, raw: lastLine([]byte(out))}
	}
	v := toolVersion{raw: m[0]}
	v.major, _ = strconv.Atoi(m[1])
	v.minor, _ = strconv.Atoi(m[2])
	if len(m) > 3 && m[3] != "" {
		v.patch, _ = strconv.Atoi(m[3])
	}
	return v
}

type versionError string

func (e versionError) Error() string { return string(e) }

const errNoVersion = versionError("version not recognised")

// localSSHVersion returns the version of the ssh found in PATH (the one
// that goes with the scp found there), from "ssh -V", once per process.
func localSSHVersion() toolVersion {
	sshVersionOnce.Do(func() {
		out, _ := runVersion("ssh", "-V")
		sshVersionValue = parseVersion(sshVersionRE, out)
	})
	return sshVersionValue
}

// localRsyncVersion returns the version of the rsync found in PATH, from
// "rsync --version", once per process.
func localRsyncVersion() toolVersion {
	rsyncVersionOnce.Do(func() {
		out, _ := runVersion("rsync", "--version")
		rsyncVersionVal = parseVersion(rsyncVersionRE, out)
	})
	return rsyncVersionVal
}

// scpDefaultsToSFTP reports whether the local scp speaks the SFTP protocol
// unless told -O: OpenSSH 9.0 and later. When the version cannot be read,
// SFTP mode is assumed (every supported OpenSSH release has it).
func scpDefaultsToSFTP() bool {
	v := localSSHVersion()
	return v.err != nil || v.atLeast(9, 0, 0)
}

// rsyncProtectsArgs reports whether the local rsync protects remote
// arguments from the remote shell itself (3.2.4 and later), so they must not
// be shell-quoted. Unknown versions are taken as modern.
func rsyncProtectsArgs() bool {
	v := localRsyncVersion()
	return v.err != nil || v.atLeast(3, 2, 4)
}
