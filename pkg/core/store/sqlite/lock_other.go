//go:build !unix

package sqlite

// lockFile has no flock to use here: Options.Exclusive neither locks nor
// takes over leases, which then expire as without it.
func lockFile(string) (unlock func(), err error) { return nil, nil }
