package chip

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/mynumber"
	"github.com/madoguchi/madoguchi/document/trust"
)

// Limits on trust configuration files.
const (
	MaxAnchorFile  = 1 << 20 // one *.pem file
	MaxAnchorFiles = 1000    // *.pem files per kind
)

// ErrAnchors reports a trust directory that cannot be used: a file that
// does not parse is an error, never skipped (the configuration would be
// silently partial).
var ErrAnchors = errors.New("chip: unusable trust configuration")

// LoadDir reads the anchors of every kind from a trust directory laid out
// as in the package comment (a server's <data>/trust). A kind whose
// subdirectory is missing or holds no anchor is left unconfigured
// (disabled); a file that does not parse is an error.
func LoadDir(dir string) (Config, error) {
	var c Config
	st, err := trust.Load(filepath.Join(dir, string(document.KindICAO)))
	if err != nil {
		return Config{}, fmt.Errorf("%w: icao: %w", ErrAnchors, err)
	}
	if st.Len() > 0 {
		c.ICAO = st
	}
	for _, k := range []document.Kind{document.KindJPDL, document.KindMyNumber, document.KindResidence} {
		if err := c.loadKind(dir, k); err != nil && !errors.Is(err, ErrNoAnchors) {
			return Config{}, err
		}
	}
	return c, nil
}

// LoadKind reads the anchors of one kind from a trust directory. Unlike
// LoadDir it fails with ErrNoAnchors when the kind has none.
func LoadKind(dir string, k document.Kind) (Config, error) {
	var c Config
	if k == document.KindICAO {
		st, err := trust.Load(filepath.Join(dir, string(k)))
		if err != nil {
			return Config{}, fmt.Errorf("%w: icao: %w", ErrAnchors, err)
		}
		if st.Len() == 0 {
			return Config{}, fmt.Errorf("%s: %w", filepath.Join(dir, string(k)), ErrNoAnchors)
		}
		c.ICAO = st
		return c, nil
	}
	if _, ok := jpFileNames[k]; !ok {
		return Config{}, fmt.Errorf("%w: unknown kind %q", ErrAnchors, k)
	}
	return c, c.loadKind(dir, k)
}

func (c *Config) loadKind(dir string, k document.Kind) error {
	sub := filepath.Join(dir, string(k))
	pemData, err := readPEMDir(sub)
	if err != nil {
		return err
	}
	switch k {
	case document.KindJPDL:
		c.JPDL, err = ParseCertificatesPEM(pemData)
	case document.KindMyNumber:
		c.MyNumber, err = mynumber.ParseAnchorsPEM(pemData)
	case document.KindResidence:
		c.Residence, err = ParseCertificatesPEM(pemData)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrAnchors, sub, err)
	}
	return nil
}

// readPEMDir concatenates the *.pem files of dir, in name order. A missing
// directory or one without *.pem files is ErrNoAnchors.
func readPEMDir(dir string) ([]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: %w (want *.pem files)", dir, ErrNoAnchors)
	}
	if len(names) > MaxAnchorFiles {
		return nil, fmt.Errorf("%w: %s: more than %d files", ErrAnchors, dir, MaxAnchorFiles)
	}
	sort.Strings(names)
	var all []byte
	for _, n := range names {
		b, err := ReadFileLimited(n, MaxAnchorFile)
		if err != nil {
			return nil, err
		}
		all = append(append(all, b...), '\n')
	}
	return all, nil
}

// ParseCertificatesPEM parses a sequence of CERTIFICATE PEM blocks. Any
// other block type, a certificate that does not parse, or trailing text
// that is not PEM is an error; so is input without a certificate.
func ParseCertificatesPEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(b)) != 0 {
		return nil, errors.New("trailing data that is not PEM")
	}
	if len(out) == 0 {
		return nil, errors.New("no CERTIFICATE block")
	}
	return out, nil
}

// ReadFileLimited reads a file of at most limit bytes; a longer file is
// document.ErrTooLarge.
func ReadFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, fs.ErrInvalid)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, document.ErrTooLarge, limit)
	}
	return b, nil
}
