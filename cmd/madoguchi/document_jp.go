package main

// Japanese chip kinds (jpdl, mynumber, residence) for `madoguchi document
// verify`. The command itself (flags, output) lives in document.go; this
// file adapts the three verifiers to it and loads their trust anchors.
//
// Trust configuration (--trust DIR), one subdirectory per kind, every
// *.pem file in it read:
//
//	DIR/jpdl/*.pem       CERTIFICATE blocks: the 公安委員会 signer
//	                     certificates (selected by subject key identifier)
//	DIR/mynumber/*.pem   PUBLIC KEY blocks (RSA), each with a header
//	                     "Key-Reference: <32 hex digits>" naming the J-LIS
//	                     key that signs the APs' CV certificates
//	DIR/residence/*.pem  CERTIFICATE blocks: root certificates of the
//	                     residence card issuer
//
// Test anchors (from the *test packages; marked in the certificate subject
// or by a "Madoguchi-Test-Anchor: true" header) are refused unless the
// caller allows them explicitly. A missing or empty directory is an error:
// no kind runs without configured anchors.
//
// Chip files are named by the file they hold, case-insensitive, with any
// extension: jpdl mf_ef01, df1_ef01 … df1_ef07, df2_ef01; mynumber
// textap_ef01 … textap_ef04, visualap_ef02, visualap_ef04, visualap_ef05
// (ef01 and ef05 hold the My Number: they are zeroised unread); residence
// mf_ef01, df1_ef01, df1_ef02, df2_ef01 … df2_ef04, df3_ef01.

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/jpdl"
	"github.com/madoguchi/madoguchi/document/mynumber"
	"github.com/madoguchi/madoguchi/document/residence"
)

// maxChipFile bounds each chip file read from disk.
const maxChipFile = 256 << 10

var jpFileNames = map[document.Kind][]string{
	document.KindJPDL: {"mf_ef01", "df1_ef01", "df1_ef02", "df1_ef03", "df1_ef04", "df1_ef05", "df1_ef06", "df1_ef07", "df2_ef01"},
	document.KindMyNumber: {"textap_ef01", "textap_ef02", "textap_ef03", "textap_ef04",
		"visualap_ef02", "visualap_ef04", "visualap_ef05"},
	document.KindResidence: {"mf_ef01", "df1_ef01", "df1_ef02", "df2_ef01", "df2_ef02", "df2_ef03", "df2_ef04", "df3_ef01"},
}

// readChipFiles reads the named files into a map keyed by normalised file
// name. A name that belongs only to another kind is refused as a mixed
// bundle; an unknown name is a usage error.
func readChipFiles(k document.Kind, paths []string) (map[string][]byte, error) {
	own := map[string]bool{}
	for _, n := range jpFileNames[k] {
		own[n] = true
	}
	out := map[string][]byte{}
	for _, p := range paths {
		base := strings.ToLower(filepath.Base(p))
		if i := strings.IndexByte(base, '.'); i > 0 {
			base = base[:i]
		}
		if !own[base] {
			for other, names := range jpFileNames {
				for _, n := range names {
					if n == base {
						return nil, document.Refuse(k, "kind", document.ErrNotAccepted, "file %s is a %s file, not %s: mixed bundle", base, other, k)
					}
				}
			}
			return nil, usageError{fmt.Sprintf("%s: not a %s chip file name (want one of %s)", p, k, strings.Join(jpFileNames[k], ", "))}
		}
		if _, dup := out[base]; dup {
			return nil, usageError{fmt.Sprintf("%s given twice", base)}
		}
		b, err := readLimited(p, maxChipFile)
		if err != nil {
			return nil, err
		}
		out[base] = b
	}
	return out, nil
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
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, document.ErrTooLarge, limit)
	}
	return b, nil
}

// errNoTrust reports a kind without configured anchors.
var errNoTrust = errors.New("no trust anchors configured")

func readPEMDir(dir string) ([]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var all []byte
	for _, n := range names {
		b, err := readLimited(n, 1<<20)
		if err != nil {
			return nil, err
		}
		all = append(append(all, b...), '\n')
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: %w (want *.pem files)", dir, errNoTrust)
	}
	return all, nil
}

func parseCertsPEM(b []byte) ([]*x509.Certificate, error) {
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
	return out, nil
}

// productionChecker is what every Japanese chip verifier offers.
type productionChecker interface{ CheckProduction() error }

// jpChipVerifier verifies one bundle of chip files (keyed as in
// jpFileNames) for one kind.
type jpChipVerifier struct {
	kind   document.Kind
	check  productionChecker
	verify func(files map[string][]byte, now time.Time) (*document.Evidence, error)
}

// newJPVerifier loads the anchors in trustDir/<kind> and builds the
// verifier for kind k.
func newJPVerifier(k document.Kind, trustDir string) (*jpChipVerifier, error) {
	if trustDir == "" {
		return nil, usageError{"--trust DIR is required for " + string(k)}
	}
	if _, ok := jpFileNames[k]; !ok {
		return nil, usageError{fmt.Sprintf("kind %q is not a Japanese chip kind", k)}
	}
	pemData, err := readPEMDir(filepath.Join(trustDir, string(k)))
	if err != nil {
		return nil, err
	}
	switch k {
	case document.KindJPDL:
		certs, err := parseCertsPEM(pemData)
		if err != nil {
			return nil, fmt.Errorf("jpdl trust: %w", err)
		}
		v, err := jpdl.NewVerifier(certs)
		if err != nil {
			return nil, err
		}
		return &jpChipVerifier{kind: k, check: v, verify: func(m map[string][]byte, now time.Time) (*document.Evidence, error) {
			return v.Verify(jpdl.Files{
				Common: m["mf_ef01"], Matters: m["df1_ef01"], Honseki: m["df1_ef02"], Gaiji: m["df1_ef03"],
				Changes: m["df1_ef04"], ChangesGaiji: m["df1_ef05"], HonsekiChanges: m["df1_ef06"],
				Signature: m["df1_ef07"], Photo: m["df2_ef01"],
			}, now)
		}}, nil
	case document.KindMyNumber:
		anchors, err := mynumber.ParseAnchorsPEM(pemData)
		if err != nil {
			return nil, err
		}
		v, err := mynumber.NewVerifier(anchors)
		if err != nil {
			return nil, err
		}
		return &jpChipVerifier{kind: k, check: v, verify: func(m map[string][]byte, now time.Time) (*document.Evidence, error) {
			f := mynumber.Files{
				MyNumber: m["textap_ef01"], Basic4: m["textap_ef02"], TextSignature: m["textap_ef03"], TextCert: m["textap_ef04"],
				Visual: m["visualap_ef02"], VisualCert: m["visualap_ef04"], MyNumberImage: m["visualap_ef05"],
			}
			delete(m, "textap_ef01")
			delete(m, "visualap_ef05")
			return v.Verify(&f, now) // zeroises the My Number buffers
		}}, nil
	default: // document.KindResidence
		certs, err := parseCertsPEM(pemData)
		if err != nil {
			return nil, fmt.Errorf("residence trust: %w", err)
		}
		v, err := residence.NewVerifier(certs)
		if err != nil {
			return nil, err
		}
		return &jpChipVerifier{kind: k, check: v, verify: func(m map[string][]byte, now time.Time) (*document.Evidence, error) {
			return v.Verify(residence.Files{
				Common: m["mf_ef01"], Front: m["df1_ef01"], Face: m["df1_ef02"], Back: m["df2_ef01"],
				Permissions: [3][]byte{m["df2_ef02"], m["df2_ef03"], m["df2_ef04"]}, Signature: m["df3_ef01"],
			}, now)
		}}, nil
	}
}

// checkJPTrust is the start-up check for a production server: every
// Japanese chip kind must have usable anchors in trustDir, and none may be a
// test anchor. It returns the first problem found.
func checkJPTrust(trustDir string) error {
	for _, k := range []document.Kind{document.KindJPDL, document.KindMyNumber, document.KindResidence} {
		v, err := newJPVerifier(k, trustDir)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if err := v.check.CheckProduction(); err != nil {
			return err
		}
	}
	return nil
}

// jpVerify verifies one Japanese chip bundle: trust anchors from
// trustDir/<kind>, files from paths. allowTest permits test anchors (for
// development only); otherwise a test anchor is refused before any file is
// read.
func jpVerify(k document.Kind, trustDir string, allowTest bool, paths []string, now time.Time) (*document.Evidence, error) {
	v, err := newJPVerifier(k, trustDir)
	if err != nil {
		return nil, err
	}
	if !allowTest {
		if err := v.check.CheckProduction(); err != nil {
			return nil, err
		}
	}
	files, err := readChipFiles(k, paths)
	if err != nil {
		return nil, err
	}
	return v.verify(files, now)
}
