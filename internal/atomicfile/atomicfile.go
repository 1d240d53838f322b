// Package atomicfile writes files so that a crash leaves either the old
// content or the new one at the path, never a partial file: the data goes
// to a temporary file in the same directory, is synced, and is then
// renamed (or linked) into place; the directory is synced after.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data, with mode perm. Concurrent writers of one
// path must be serialised by the caller (the last rename wins).
func Write(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // gone after a successful rename
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(path)
}

// WriteNew creates path with data, with mode perm, unless path exists;
// created reports whether this call created it, so of several processes
// writing at once exactly one wins and the others keep its content.
func WriteNew(path string, data []byte, perm fs.FileMode) (created bool, err error) {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, syncDir(path)
}

// writeTemp writes data to a synced temporary file next to path and
// returns its name; on error nothing is left behind.
func writeTemp(path string, data []byte, perm fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return "", err
	}
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// syncDir makes a rename or link in path's directory durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
