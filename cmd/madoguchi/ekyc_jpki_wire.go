package main

// Wiring of method ワ (JPKI) into the eKYC service.
//
// Trust anchors: the pinned J-LIS roots (jpki.ProductionAnchors), checked
// with jpki.CheckProduction at start-up. A development server also trusts
// TEST roots the developer put in <data>/trust/jpki-dev/ (PEM, for example
// sign_root.pem and auth_root.pem written by 'madoguchi jpki testpki'); a
// production server ignores that folder (and says so) and refuses to start
// ワ with any anchor that is not pinned. The server never generates a JPKI
// hierarchy itself: the simplest honest choice, since only the holder of a
// card key can sign, and a test card key belongs to the developer's tools.
//
// Revocation (required; without it ワ is disabled and session creation for
// wa is refused with the problem ekyc-jpki-disabled):
//   - OCSP: the responder URL in <data>/trust/jpki-ocsp.url (one line; https
//     in production), as given by J-LIS or the platform operator; or
//   - CRLs imported by the operator into <data>/trust/jpki-crl/ (DER or
//     PEM). The folder is re-read when it changes, so a fresh CRL needs no
//     restart; a stale CRL makes verification unavailable (503), never
//     "not revoked".
// If both are configured, OCSP is used.
//
// Single use of challenges is enforced through the store (ekyc.JPKINonces),
// so it holds across instances.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/ekyc"
)

// Files under <data>/trust for JPKI.
const (
	jpkiDevDir   = "jpki-dev"
	jpkiCRLDir   = "jpki-crl"
	jpkiOCSPFile = "jpki-ocsp.url"
	// maxJPKITrustFiles bounds the folders read at start-up.
	maxJPKITrustFiles = 256
)

// errJPKINoRevocation: neither an OCSP URL nor CRLs are configured.
var errJPKINoRevocation = errors.New("no JPKI revocation provider: import CRLs into <data>/trust/" + jpkiCRLDir +
	"/ or write the OCSP responder URL to <data>/trust/" + jpkiOCSPFile)

// jpkiForEKYC is the ekyc.Config field: the verifier, or nil (method wa
// disabled, logged) when anchors or revocation are missing or invalid.
func (a *app) jpkiForEKYC() ekyc.JPKI {
	v, err := newJPKIVerifier(a.data.data, a.mode == modeProduction, ekyc.NewJPKINonces(a.db, nil), a.log.Warn)
	if err != nil {
		a.log.Warn("eKYC method wa (JPKI) disabled", "err", err)
		return nil
	}
	return v
}

// newJPKIVerifier builds the ワ verifier from <dataDir>/trust. spender is
// the store's nonce table (an ekyc.JPKINonces).
func newJPKIVerifier(dataDir string, production bool, spender jpki.NonceSpender, warn func(msg string, args ...any)) (*jpki.Verifier, error) {
	trust := filepath.Join(dataDir, "trust")
	anchors, err := jpkiAnchors(trust, production, warn)
	if err != nil {
		return nil, err
	}
	rev, err := jpkiRevocation(trust, anchors, production, warn)
	if err != nil {
		return nil, err
	}
	return jpki.NewVerifier(jpki.Config{Anchors: anchors, Revocation: rev, Spender: spender})
}

// jpkiAnchors returns the pinned roots, plus in development the TEST roots
// of <trust>/jpki-dev.
func jpkiAnchors(trust string, production bool, warn func(string, ...any)) (*jpki.Anchors, error) {
	prod, err := jpki.ProductionAnchors()
	if err != nil {
		return nil, err
	}
	if err := jpki.CheckProduction(prod); err != nil {
		return nil, err
	}
	dir := filepath.Join(trust, jpkiDevDir)
	files, err := readTrustDir(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return prod, nil
	}
	if production {
		warn("production mode: ignoring the TEST JPKI roots in "+dir, "files", len(files))
		return prod, nil
	}
	sign, auth := prod.Roots(jpki.UsageSign), prod.Roots(jpki.UsageAuth)
	for name, b := range files {
		for _, der := range pemOrDER(b, "CERTIFICATE") {
			c, err := jpki.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			ou := strings.Join(c.Subject.OrganizationalUnit, " ")
			switch {
			case !c.IsCA || !bytes.Equal(c.RawSubject, c.RawIssuer):
				return nil, fmt.Errorf("%s: not a self-signed CA certificate", name)
			case strings.Contains(ou, "digital signature"):
				sign = append(sign, c)
			case strings.Contains(ou, "user authentication"):
				auth = append(auth, c)
			default:
				return nil, fmt.Errorf("%s: neither a signing nor a user-authentication root (OU)", name)
			}
		}
	}
	warn("DEVELOPMENT: trusting TEST JPKI roots; they must never verify real customers", "dir", dir)
	return jpki.NewAnchors(sign, auth), nil
}

// jpkiRevocation returns the configured provider or errJPKINoRevocation;
// warn hears of CRL files the folder holds in vain (crlDir.older).
func jpkiRevocation(trust string, anchors *jpki.Anchors, production bool, warn func(string, ...any)) (jpki.RevocationChecker, error) {
	raw, err := os.ReadFile(filepath.Join(trust, jpkiOCSPFile))
	switch {
	case err == nil:
		u := strings.TrimSpace(string(raw))
		p, perr := url.Parse(u)
		if perr != nil || p.Host == "" || len(u) > 2048 || (p.Scheme != "https" && (production || p.Scheme != "http")) {
			return nil, fmt.Errorf("%s: want an https URL (http allowed in development)", jpkiOCSPFile)
		}
		return jpki.NewOCSPClient(u, nil)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	cas := append(anchors.Roots(jpki.UsageSign), anchors.Roots(jpki.UsageAuth)...)
	d := &crlDir{dir: filepath.Join(trust, jpkiCRLDir), cas: cas, warn: warn}
	if err := d.reload(); err != nil {
		return nil, err
	}
	if d.count == 0 {
		return nil, errJPKINoRevocation
	}
	return d, nil
}

// crlDir is a jpki.CRLStore over a folder, rebuilt when the folder's
// listing or a file's size or time changes. Of several CRLs of one issuer
// and scope the newest is used, whatever the files' names; the others are
// listed in older and reported through warn once per change of the folder
// (and by doctor), so an operator who put an old CRL there by mistake is
// told rather than ignored.
type crlDir struct {
	dir   string
	cas   []*x509.Certificate
	warn  func(msg string, args ...any) // nil: not reported
	mu    sync.Mutex
	stamp string
	store *jpki.CRLStore
	count int
	older []string // "file: reason" of each CRL a newer one in the folder overrides
}

var _ jpki.RevocationChecker = (*crlDir)(nil)

// stampOf summarises the folder: names, sizes and modification times.
func stampOf(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s/%d/%d;", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String(), nil
}

func (d *crlDir) reload() error {
	stamp, err := stampOf(d.dir)
	if err != nil {
		return err
	}
	if d.store != nil && stamp == d.stamp {
		return nil
	}
	st, err := jpki.NewCRLStore(d.cas, nil)
	if err != nil {
		return err
	}
	files, err := readTrustDir(d.dir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	// Import every CRL; one not newer than a CRL imported before it is
	// noted, not fatal (the newer one stays). A second pass finds the CRLs
	// a later file replaced: each imports again as unchanged only if it is
	// the one kept.
	type block struct {
		name string
		der  []byte
	}
	var kept []block
	var older []string
	for _, name := range names {
		for _, der := range pemOrDER(files[name], "X509 CRL") {
			_, err := st.Import(der)
			switch {
			case errors.Is(err, jpki.ErrOlderCRL):
				older = append(older, name+": "+err.Error())
			case err != nil:
				return fmt.Errorf("%s: %w", name, err)
			default:
				kept = append(kept, block{name, der})
			}
		}
	}
	for _, b := range kept {
		if _, err := st.Import(b.der); errors.Is(err, jpki.ErrOlderCRL) {
			older = append(older, b.name+": "+err.Error())
		} else if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
	}
	sort.Strings(older)
	if len(older) > 0 && d.warn != nil {
		d.warn("JPKI CRL folder holds CRLs older than others of the same issuer: the newer are used; remove the older files",
			"dir", d.dir, "older", strings.Join(older, "; "))
	}
	d.store, d.stamp, d.count, d.older = st, stamp, len(kept), older
	return nil
}

// CheckRevocation implements jpki.RevocationChecker. A folder that can no
// longer be read or holds a bad CRL makes the status unavailable.
func (d *crlDir) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate) (*jpki.RevocationEvidence, error) {
	d.mu.Lock()
	err := d.reload()
	st := d.store
	d.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: CRL folder: %v", jpki.ErrRevocationUnavailable, err)
	}
	return st.CheckRevocation(ctx, cert, issuer)
}

// readTrustDir reads the regular files of dir (none if it does not exist),
// each at most jpki.MaxCRLSize bytes.
func readTrustDir(dir string) (map[string][]byte, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if len(ents) > maxJPKITrustFiles {
		return nil, fmt.Errorf("%s: more than %d files", dir, maxJPKITrustFiles)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := readCapped(filepath.Join(dir, n), jpki.MaxCRLSize)
		if err != nil {
			return nil, err
		}
		out[n] = b
	}
	return out, nil
}

// pemOrDER returns the DER blocks of type typ in b, or b itself if it is
// not PEM.
func pemOrDER(b []byte, typ string) [][]byte {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		return [][]byte{b}
	}
	var out [][]byte
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		if blk.Type == typ {
			out = append(out, blk.Bytes)
		}
	}
}
