//go:build !unix

package overload

// FreeBytes is not measured on this platform: the free-disk limit is not
// checked.
func FreeBytes(string) int64 { return -1 }
