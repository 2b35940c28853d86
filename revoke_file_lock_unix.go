//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package caddyjwt

import (
	"os"
	"syscall"
)

// lockRevocationFile takes an exclusive advisory lock on the lock file at
// path, waiting for other writers, and returns its release.
func lockRevocationFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
