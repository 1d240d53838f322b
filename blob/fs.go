package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FS is the filesystem backend: objects live at <root>/ab/cd/<hex>, files
// 0600 and folders 0700.
type FS struct{ root string }

var _ Backend = (*FS)(nil)

// NewFS returns a backend rooted at root, creating it (0700) if needed.
func NewFS(root string) (*FS, error) {
	if root == "" {
		return nil, errors.New("blob: empty root folder")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("blob: create root: %w", err)
	}
	return &FS{root: root}, nil
}

func (f *FS) path(r Ref) string { return filepath.Join(f.root, filepath.FromSlash(r.key())) }

// Put writes data atomically and durably: a temporary file in the object's
// folder, fsync, rename, fsync of the folder (and of new parent folders).
func (f *FS) Put(_ context.Context, r Ref, data []byte) error {
	p := f.path(r)
	dir := filepath.Dir(p)
	if err := f.mkdirs(dir); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

// mkdirs creates dir's missing folders (0700) below root, syncing each parent
// after a child is created so the new entry is durable.
func (f *FS) mkdirs(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != f.root {
		if err := f.mkdirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Get reads the object, refusing one over limit bytes.
func (f *FS) Get(_ context.Context, r Ref, limit int64) ([]byte, error) {
	fh, err := os.Open(f.path(r))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	return b, nil
}

// Delete removes the object; a missing one is not an error.
func (f *FS) Delete(_ context.Context, r Ref) error {
	err := os.Remove(f.path(r))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
