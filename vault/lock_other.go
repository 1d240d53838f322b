//go:build !unix

package vault

import "errors"

func withFileLock(string, func() error) error {
	return errors.New("vault: key file locking needs a Unix system")
}
