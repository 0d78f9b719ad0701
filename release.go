package openssh

// Version is the version of this module, as its CHANGELOG.md and release
// tags name it (without the leading "v"). Programs built on the module,
// such as cmd/ossh, print it.
const Version = "0.2.0"
