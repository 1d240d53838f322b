//go:build unix

package vault

import (
	"fmt"
	"os"
	"syscall"
)

// withFileLock runs fn holding an exclusive advisory lock on path+".lock",
// so that two processes rotating the same key file do not lose a version.
func withFileLock(path string, fn func() error) error {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("vault: key file lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("vault: key file lock: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}
