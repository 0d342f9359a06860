//go:build unix

package overload

import "syscall"

// FreeBytes is the space available to an unprivileged user on the file
// system holding path, or -1 if it cannot be read.
func FreeBytes(path string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize) //nolint:gosec,unconvert // G115: block counts fit int64; Bsize is int64 or uint32 by platform
}
