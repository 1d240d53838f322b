package models

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// errLimit is returned by limitedReader once its budget is spent.
var errLimit = fmt.Errorf("%w: archive expands beyond its limit", ErrTooLarge)

type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errLimit
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// safeEntryName reports whether a tar entry name stays inside the archive
// root once extracted anywhere.
func safeEntryName(name string) bool {
	if name == "" || strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") {
		return false
	}
	if len(name) >= 2 && name[1] == ':' { // a Windows drive letter
		return false
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return false
		}
	}
	return true
}

// extract reads the gzip-compressed tarball r and writes the allow-listed
// files of pkg into dest (an existing, empty folder). It refuses the whole
// archive on an unsafe entry name, a non-regular allow-listed entry, a
// duplicate, a size or hash mismatch, or an archive larger than
// pkg.MaxUnpacked. On error dest may hold partial files; the caller removes it.
func extract(r io.Reader, pkg Package, dest string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
	}
	zr.Multistream(false)
	tr := tar.NewReader(&limitedReader{r: zr, n: pkg.MaxUnpacked})
	seen := make(map[string]bool, len(pkg.Files))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return err
			}
			return fmt.Errorf("%w: tar: %v", ErrMalformed, err)
		}
		if !safeEntryName(hdr.Name) {
			return fmt.Errorf("%w: entry %q", ErrUnsafePath, hdr.Name)
		}
		if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
			if !safeEntryName(hdr.Linkname) {
				return fmt.Errorf("%w: link %q -> %q", ErrUnsafePath, hdr.Name, hdr.Linkname)
			}
		}
		name := path.Clean(hdr.Name)
		rel, ok := strings.CutPrefix(name, pkg.TarPrefix)
		if !ok {
			continue
		}
		f, ok := pkg.File(rel)
		if !ok {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("%w: %s is not a regular file", ErrMalformed, name)
		}
		if seen[rel] {
			return fmt.Errorf("%w: %s appears twice", ErrMalformed, name)
		}
		seen[rel] = true
		if hdr.Size != f.Size {
			if hdr.Size > f.Size {
				return fmt.Errorf("%w: %s is %d bytes, pinned %d", ErrTooLarge, name, hdr.Size, f.Size)
			}
			return fmt.Errorf("%w: %s is %d bytes, pinned %d", ErrIntegrity, name, hdr.Size, f.Size)
		}
		if err := writeFile(filepath.Join(dest, rel), tr, f); err != nil {
			return err
		}
	}
	for _, f := range pkg.Files {
		if !seen[f.Name] {
			return fmt.Errorf("%w: %s%s not in %s", ErrMissing, pkg.TarPrefix, f.Name, pkg.Spec())
		}
	}
	return nil
}

// writeFile copies exactly f.Size bytes from r into a new file at p, checks
// the SHA-256 and fsyncs it.
func writeFile(p string, r io.Reader, f File) (err error) {
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, f.Size))
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return err
		}
		return fmt.Errorf("%w: %s: %v", ErrMalformed, f.Name, err)
	}
	if n != f.Size {
		return fmt.Errorf("%w: %s truncated at %d of %d bytes", ErrMalformed, f.Name, n, f.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: %s sha256 %s, pinned %s", ErrIntegrity, f.Name, got, f.SHA256)
	}
	return out.Sync()
}
