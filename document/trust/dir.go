package trust

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/madoguchi/madoguchi/document/internal/cert"
	"github.com/madoguchi/madoguchi/internal/atomicfile"
)

// MaxAnchors bounds how many anchor files Load reads.
const MaxAnchors = 10000

const (
	dirProduction = "production"
	dirTest       = "test"
	suffix        = ".cer"
)

// ICAODir is the anchor directory under a data directory.
func ICAODir(dataDir string) string { return filepath.Join(dataDir, "trust", "icao") }

// Save writes anchors under dir/{production,test}/<sha256>.cer, skipping
// those already present. Each file is written atomically. It returns how
// many files it added.
func Save(dir string, anchors []*Anchor) (int, error) {
	added := 0
	for _, a := range anchors {
		sub := dirProduction
		if a.Test {
			sub = dirTest
		}
		d := filepath.Join(dir, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return added, err
		}
		name := filepath.Join(d, a.ID()+suffix)
		if _, err := os.Stat(name); err == nil {
			continue
		}
		if err := atomicfile.Write(name, a.Cert.Raw, 0o600); err != nil {
			return added, err
		}
		added++
	}
	return added, nil
}

// Load reads all anchors under dir, the CRLs under dir/crl (each must
// verify against an anchor) and the operator's policy (dir/policy.json). A missing directory yields an empty store
// (CheckProduction then refuses it); a file that does not parse, or whose
// name is not its fingerprint, is an error: the store is not silently
// partial.
func Load(dir string) (*Store, error) {
	var anchors []*Anchor
	for _, sub := range []string{dirProduction, dirTest} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), suffix) || e.IsDir() {
				continue
			}
			if len(anchors) >= MaxAnchors {
				return nil, fmt.Errorf("trust: more than %d anchors in %s", MaxAnchors, dir)
			}
			path := filepath.Join(dir, sub, e.Name())
			der, err := readLimited(path, cert.MaxSize)
			if err != nil {
				return nil, err
			}
			a, err := NewAnchor(der, sub == dirTest)
			if err != nil {
				return nil, fmt.Errorf("trust: %s: %w", path, err)
			}
			if a.ID()+suffix != e.Name() {
				return nil, fmt.Errorf("trust: %s: content does not match its fingerprint name", path)
			}
			anchors = append(anchors, a)
		}
	}
	pol, err := LoadPolicy(dir)
	if err != nil {
		return nil, err
	}
	st, err := NewStore(anchors...).WithPolicy(pol)
	if err != nil {
		return nil, err
	}
	return st.loadCRLs(dir, DefaultPolicy())
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("trust: %s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// LoadICAO loads the ICAO anchors of a data directory for a server: it
// fails on an empty store and, unless allowTest, on any test anchor, so a
// misconfigured server stops at startup instead of verifying nothing.
func LoadICAO(dataDir string, allowTest bool) (*Store, error) {
	st, err := Load(ICAODir(dataDir))
	if err != nil {
		return nil, err
	}
	if st.Len() == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoAnchors, ICAODir(dataDir))
	}
	if !allowTest {
		if err := st.CheckProduction(); err != nil {
			return nil, err
		}
	}
	return st, nil
}
