//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package caddyjwt

// lockRevocationFile is a no-op where flock is not available: concurrent
// writers there must be serialised by the operator.
func lockRevocationFile(string) (func(), error) { return func() {}, nil }
