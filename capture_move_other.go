//go:build !linux

package openssh

// movePages moves nothing: only Linux has mremap. Bytes copies.
func movePages(dst, src []byte) int { return 0 }
