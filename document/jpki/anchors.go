package jpki

import (
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"path"
)

// Usage says which J-LIS hierarchy a certificate belongs to.
type Usage int

// The two JPKI certificate types on a My Number card.
const (
	UsageSign Usage = iota + 1 // 署名用電子証明書: signatures, carries attributes
	UsageAuth                  // 利用者証明用電子証明書: authentication, no attributes
)

func (u Usage) String() string {
	switch u {
	case UsageSign:
		return "sign"
	case UsageAuth:
		return "auth"
	}
	return fmt.Sprintf("Usage(%d)", int(u))
}

//go:embed anchors/*.pem
var anchorFiles embed.FS

// pinnedRoots are the SHA-256 fingerprints of the J-LIS root
// certificates this package pins, by file name under anchors/. They are the
// values J-LIS publishes; ProductionAnchors refuses a file that differs.
var pinnedRoots = map[string]struct {
	Usage       Usage
	Fingerprint string
}{
	"sign_ca_2023.pem": {UsageSign, "d227f6cde11d35c5252178f106f843d24651944975413b539fa2fb68dbfa365f"},
	"sign_ca_2015.pem": {UsageSign, "19645405a1fe14377434bd55957628ac4038557c542403a2243f21c706fc9355"},
	"auth_ca_2023.pem": {UsageAuth, "64114f29620c24ed2631d46476a040e7ee740d956089c00b036a6a8118c322b5"},
	"auth_ca_2015.pem": {UsageAuth, "4dcfc4ca0aaf9fb2a3081b3f0c991c320b3acc008667a341eeaec5af1d58ca7d"},
}

// Anchors is a set of trusted root certificates per usage. The zero value
// trusts nothing.
type Anchors struct {
	sign, auth []*x509.Certificate
}

// ProductionAnchors returns the pinned J-LIS roots: signing roots of the 2023
// generation (valid to 2033-07-15) and of 2015 (to 2025-10-19, for
// certificates it still covers at their signing time), and the
// user-authentication roots of the same generations.
func ProductionAnchors() (*Anchors, error) {
	a := &Anchors{}
	for name, want := range pinnedRoots {
		b, err := anchorFiles.ReadFile(path.Join("anchors", name))
		if err != nil {
			return nil, fmt.Errorf("jpki: pinned root %s: %w", name, err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: pinned root %s is not a PEM certificate", ErrCertificate, name)
		}
		sum := sha256.Sum256(blk.Bytes)
		if hex.EncodeToString(sum[:]) != want.Fingerprint {
			return nil, fmt.Errorf("%w: pinned root %s has the wrong fingerprint", ErrNotProduction, name)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: pinned root %s: %v", ErrCertificate, name, err)
		}
		a.add(want.Usage, c)
	}
	return a, nil
}

// NewAnchors returns a trust store with the given roots. It is how tests and
// development setups trust a jpkitest hierarchy; CheckProduction refuses it
// unless every root is a pinned production root.
func NewAnchors(sign, auth []*x509.Certificate) *Anchors {
	a := &Anchors{}
	for _, c := range sign {
		a.add(UsageSign, c)
	}
	for _, c := range auth {
		a.add(UsageAuth, c)
	}
	return a
}

func (a *Anchors) add(u Usage, c *x509.Certificate) {
	switch u {
	case UsageSign:
		a.sign = append(a.sign, c)
	case UsageAuth:
		a.auth = append(a.auth, c)
	}
}

// Roots returns the anchors for a usage.
func (a *Anchors) Roots(u Usage) []*x509.Certificate {
	if a == nil {
		return nil
	}
	switch u {
	case UsageSign:
		return a.sign
	case UsageAuth:
		return a.auth
	}
	return nil
}

// CheckProduction is what the server calls at start in a production
// configuration: it fails unless both usages have anchors and every anchor
// is one of the pinned J-LIS roots, for its own usage.
func CheckProduction(a *Anchors) error {
	if a == nil || len(a.sign) == 0 || len(a.auth) == 0 {
		return fmt.Errorf("%w: no signing or no user-authentication anchors", ErrDisabled)
	}
	pinned := make(map[string]Usage, len(pinnedRoots))
	for _, p := range pinnedRoots {
		pinned[p.Fingerprint] = p.Usage
	}
	for _, u := range []Usage{UsageSign, UsageAuth} {
		for _, c := range a.Roots(u) {
			sum := sha256.Sum256(c.Raw)
			if got, ok := pinned[hex.EncodeToString(sum[:])]; !ok || got != u {
				return fmt.Errorf("%w: %s anchor %q", ErrNotProduction, u, c.Subject.String())
			}
		}
	}
	return nil
}
