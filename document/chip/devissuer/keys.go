package devissuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao/icaotest"
	"github.com/madoguchi/madoguchi/document/internal/cert/certtest"
	"github.com/madoguchi/madoguchi/document/jpdl"
	"github.com/madoguchi/madoguchi/document/mynumber"
	"github.com/madoguchi/madoguchi/document/residence"
	"github.com/madoguchi/madoguchi/document/trust"
	"github.com/madoguchi/madoguchi/internal/atomicfile"
)

// Errors.
var (
	// ErrNotFound: the keys directory holds no (complete) issuer set.
	ErrNotFound = errors.New("devissuer: no development issuers")
	// ErrPermissions: a key file may be read by group or others.
	ErrPermissions = errors.New("devissuer: key file permissions too open (want 0600)")
	// ErrKeyFile: a key file does not decode.
	ErrKeyFile = errors.New("devissuer: key file unusable")
)

// ICAOCountry is the country of the development CSCA: Utopia, the ICAO
// specimen state (MRZ code UTO), so a development passport can never pass
// for a real one.
const ICAOCountry = "UT"

// maxKeyFile bounds one key file.
const maxKeyFile = 64 << 10

// Issuers are the development test issuers of one data directory. They
// are immutable after Load and safe for concurrent use.
type Issuers struct {
	jpdlKey   *rsa.PrivateKey
	jpdlCert  *x509.Certificate
	mnRoot    *rsa.PrivateKey // J-LIS root: signs the APs' CV certificates
	mnRef     [16]byte
	mnAP      *rsa.PrivateKey // signs both APs
	resRoot   *x509.Certificate
	resSigner *x509.Certificate
	resKey    *rsa.PrivateKey
	icao      *icaotest.PKI
}

// issuer files under the keys directory.
const (
	fileJPDL      = "jpdl.pem"
	fileMyNumber  = "mynumber.pem"
	fileResidence = "residence.pem"
	fileICAO      = "icao.pem"
)

// LoadOrCreate loads the issuers from dir, creating dir (0700) and a fresh
// set of issuers (files 0600) if it holds none. created reports whether it
// generated keys. A partial set (some files missing) is completed; a file
// that is unreadable, too open or malformed is an error, never replaced.
func LoadOrCreate(dir string, now time.Time) (is *Issuers, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	gens := []struct {
		name string
		gen  func(time.Time) ([]*pem.Block, error)
	}{{fileJPDL, genJPDL}, {fileMyNumber, genMyNumber}, {fileResidence, genResidence}, {fileICAO, genICAO}}
	// Key generation dominates a first start: the issuers are generated
	// concurrently, each written on its own.
	type result struct {
		won bool
		err error
	}
	results := make([]result, len(gens))
	var wg sync.WaitGroup
	for i, g := range gens {
		p := filepath.Join(dir, g.name)
		if _, err := os.Lstat(p); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
		wg.Go(func() {
			blocks, err := g.gen(now)
			if err != nil {
				results[i].err = fmt.Errorf("devissuer: generate %s: %w", g.name, err)
				return
			}
			var data []byte
			for _, b := range blocks {
				data = append(data, pem.EncodeToMemory(b)...)
			}
			results[i].won, results[i].err = atomicfile.WriteNew(p, data, 0o600)
		})
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			return nil, false, r.err
		}
		created = created || r.won
	}
	is, err = Load(dir)
	return is, created, err
}

// Load reads the issuers from dir. It fails with ErrNotFound when a file
// is missing and ErrPermissions when one is readable by group or others.
func Load(dir string) (*Issuers, error) {
	read := func(name string) (map[string]*pem.Block, error) {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() || fi.Size() > maxKeyFile {
			return nil, fmt.Errorf("%s: %w: not a regular file under %d bytes", p, ErrKeyFile, maxKeyFile)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%s: %w (mode %v)", p, ErrPermissions, fi.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		m := map[string]*pem.Block{}
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			m[blk.Headers["Role"]] = blk
		}
		return m, nil
	}
	is := &Issuers{}
	var err error
	m, err := read(fileJPDL)
	if err != nil {
		return nil, err
	}
	if is.jpdlKey, err = rsaKey(m, "signer", fileJPDL); err != nil {
		return nil, err
	}
	if is.jpdlCert, err = certificate(m, "signer", fileJPDL); err != nil {
		return nil, err
	}
	if m, err = read(fileMyNumber); err != nil {
		return nil, err
	}
	if is.mnRoot, err = rsaKey(m, "root", fileMyNumber); err != nil {
		return nil, err
	}
	if is.mnAP, err = rsaKey(m, "ap", fileMyNumber); err != nil {
		return nil, err
	}
	is.mnRef = keyRef(&is.mnRoot.PublicKey)
	if m, err = read(fileResidence); err != nil {
		return nil, err
	}
	if is.resRoot, err = certificate(m, "root", fileResidence); err != nil {
		return nil, err
	}
	if is.resSigner, err = certificate(m, "signer", fileResidence); err != nil {
		return nil, err
	}
	if is.resKey, err = rsaKey(m, "signer", fileResidence); err != nil {
		return nil, err
	}
	if m, err = read(fileICAO); err != nil {
		return nil, err
	}
	is.icao = &icaotest.PKI{}
	for _, x := range []struct {
		role string
		dst  **certtest.Cert
	}{{"csca", &is.icao.CSCA}, {"ds", &is.icao.DS}} {
		k, err := rsaKey(m, x.role, fileICAO)
		if err != nil {
			return nil, err
		}
		c, err := certificate(m, x.role, fileICAO)
		if err != nil {
			return nil, err
		}
		*x.dst = &certtest.Cert{DER: c.Raw, Subject: c.RawSubject, Serial: c.SerialNumber, SKI: c.SubjectKeyId,
			Key: &certtest.Key{RSA: k, Hash: crypto.SHA256}}
	}
	return is, nil
}

func rsaKey(m map[string]*pem.Block, role, file string) (*rsa.PrivateKey, error) {
	blk := m[role+"-key"]
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: %w: no %s key", file, ErrKeyFile, role)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s key: %w", file, ErrKeyFile, role, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok || rk.N.BitLen() < 2048 {
		return nil, fmt.Errorf("%s: %w: %s key is not RSA-2048 or larger", file, ErrKeyFile, role)
	}
	return rk, nil
}

func certificate(m map[string]*pem.Block, role, file string) (*x509.Certificate, error) {
	blk := m[role+"-cert"]
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: %w: no %s certificate", file, ErrKeyFile, role)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s certificate: %w", file, ErrKeyFile, role, err)
	}
	return c, nil
}

func keyBlock(role string, k *rsa.PrivateKey) (*pem.Block, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return &pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Role": role + "-key"}, Bytes: der}, nil
}

func certBlock(role string, der []byte) *pem.Block {
	return &pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Role": role + "-cert"}, Bytes: der}
}

func newRSA() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }

// selfSigned issues a self-signed CA certificate marked with the test
// anchor marker in its organisation.
func selfSigned(k *rsa.PrivateKey, cn string, from, to time.Time, ku x509.KeyUsage) ([]byte, error) {
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	ski := sha1.Sum(pub)
	t := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(ski[:8]),
		Subject:      pkix.Name{Country: []string{"JP"}, Organization: []string{jpdl.TestAnchorMarker}, CommonName: cn},
		NotBefore:    from, NotAfter: to, KeyUsage: ku, SubjectKeyId: ski[:],
		IsCA: true, BasicConstraintsValid: true,
	}
	return x509.CreateCertificate(rand.Reader, t, t, &k.PublicKey, k)
}

func genJPDL(now time.Time) ([]*pem.Block, error) {
	k, err := newRSA()
	if err != nil {
		return nil, err
	}
	der, err := selfSigned(k, "Madoguchi Development 公安委員会", now.AddDate(0, 0, -1), now.AddDate(30, 0, 0), x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign)
	if err != nil {
		return nil, err
	}
	kb, err := keyBlock("signer", k)
	if err != nil {
		return nil, err
	}
	return []*pem.Block{kb, certBlock("signer", der)}, nil
}

func genMyNumber(time.Time) ([]*pem.Block, error) {
	var out []*pem.Block
	for _, role := range []string{"root", "ap"} {
		k, err := newRSA()
		if err != nil {
			return nil, err
		}
		kb, err := keyBlock(role, k)
		if err != nil {
			return nil, err
		}
		out = append(out, kb)
	}
	return out, nil
}

func genResidence(now time.Time) ([]*pem.Block, error) {
	root, err := newRSA()
	if err != nil {
		return nil, err
	}
	signer, err := newRSA()
	if err != nil {
		return nil, err
	}
	from, to := now.AddDate(0, 0, -1), now.AddDate(30, 0, 0)
	rootT := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{Country: []string{"JP"}, Organization: []string{residence.TestAnchorMarker}, CommonName: "Madoguchi Development Residence Card Root"},
		NotBefore:    from, NotAfter: to, KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootT, rootT, &root.PublicKey, root)
	if err != nil {
		return nil, err
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, err
	}
	signT := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{Country: []string{"JP"}, Organization: []string{residence.TestAnchorMarker}, CommonName: "Madoguchi Development Residence Card Signer"},
		NotBefore:    from, NotAfter: to, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	signDER, err := x509.CreateCertificate(rand.Reader, signT, rootCert, &signer.PublicKey, root)
	if err != nil {
		return nil, err
	}
	rk, err := keyBlock("root", root)
	if err != nil {
		return nil, err
	}
	sk, err := keyBlock("signer", signer)
	if err != nil {
		return nil, err
	}
	return []*pem.Block{rk, certBlock("root", rootDER), sk, certBlock("signer", signDER)}, nil
}

func genICAO(now time.Time) ([]*pem.Block, error) {
	csca, err := icaotest.NewRSAKey(2048, false)
	if err != nil {
		return nil, err
	}
	ds, err := icaotest.NewRSAKey(2048, false)
	if err != nil {
		return nil, err
	}
	pki, err := icaotest.NewPKI(ICAOCountry, csca, ds, now.AddDate(0, 0, -1), now.AddDate(10, 0, 0))
	if err != nil {
		return nil, err
	}
	ck, err := keyBlock("csca", csca.RSA)
	if err != nil {
		return nil, err
	}
	dk, err := keyBlock("ds", ds.RSA)
	if err != nil {
		return nil, err
	}
	return []*pem.Block{ck, certBlock("csca", pki.CSCA.DER), dk, certBlock("ds", pki.DS.DER)}, nil
}

// keyRef is the J-LIS key reference of the development root.
func keyRef(k *rsa.PublicKey) [16]byte {
	var ref [16]byte
	h := sha256.Sum256(k.N.Bytes())
	copy(ref[:], h[:16])
	return ref
}

// Anchor file name in each Japanese kind's trust subdirectory.
const anchorFile = "dev-issuer.pem"

// WriteAnchors writes the issuers' TEST anchors into a trust directory
// (a server's <data>/trust): <kind>/dev-issuer.pem for the Japanese kinds
// and the CSCA under icao/test. It is idempotent.
func (is *Issuers) WriteAnchors(trustDir string) error {
	mn, err := mynumber.MarshalAnchorPEM(mynumber.Anchor{Ref: is.mnRef, Key: &is.mnRoot.PublicKey, Test: true})
	if err != nil {
		return err
	}
	for _, a := range []struct {
		kind document.Kind
		data []byte
	}{
		{document.KindJPDL, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.jpdlCert.Raw})},
		{document.KindMyNumber, mn},
		{document.KindResidence, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.resRoot.Raw})},
	} {
		dir := filepath.Join(trustDir, string(a.kind))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		p := filepath.Join(dir, anchorFile)
		if old, err := os.ReadFile(p); err == nil && string(old) == string(a.data) {
			continue
		}
		if err := atomicfile.Write(p, a.data, 0o644); err != nil {
			return err
		}
	}
	anchor, err := is.ICAOAnchor()
	if err != nil {
		return err
	}
	_, err = trust.Save(filepath.Join(trustDir, string(document.KindICAO)), []*trust.Anchor{anchor})
	return err
}

// ICAOAnchor is the development CSCA as a TEST trust anchor.
func (is *Issuers) ICAOAnchor() (*trust.Anchor, error) {
	return trust.NewAnchor(is.icao.CSCA.DER, true)
}
