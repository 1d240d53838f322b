package jpki

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"time"
)

// Limits on certificate input.
const (
	MaxCertificateSize   = 8 << 10
	MaxIntermediates     = 4
	MinRSABits           = 2048
	maxChainDepth        = MaxIntermediates + 1
	maxRSAPublicExponent = 1<<31 - 1
)

// ParseCertificate parses one DER certificate with the package's size limit.
func ParseCertificate(der []byte) (*x509.Certificate, error) {
	if len(der) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCertificate)
	}
	if len(der) > MaxCertificateSize {
		return nil, fmt.Errorf("%w: certificate of %d bytes (max %d)", ErrTooLarge, len(der), MaxCertificateSize)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCertificate, err)
	}
	return c, nil
}

// checkAlgorithms refuses SHA-1 (and anything but RSA PKCS#1 v1.5 with
// SHA-2) as the certificate's signature, and RSA keys under MinRSABits.
func checkAlgorithms(c *x509.Certificate) error {
	switch c.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA:
	case x509.SHA1WithRSA, x509.MD5WithRSA, x509.MD2WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		return fmt.Errorf("%w: %s signed with %v", ErrWeakAlgorithm, describe(c), c.SignatureAlgorithm)
	default:
		return fmt.Errorf("%w: %s signed with %v (J-LIS uses RSA PKCS#1 v1.5 with SHA-256)", ErrWeakAlgorithm, describe(c), c.SignatureAlgorithm)
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: %s has a %T key, want RSA", ErrWeakAlgorithm, describe(c), c.PublicKey)
	}
	if pub.N.BitLen() < MinRSABits {
		return fmt.Errorf("%w: %s has a %d-bit RSA key (min %d)", ErrWeakAlgorithm, describe(c), pub.N.BitLen(), MinRSABits)
	}
	if pub.E < 3 || pub.E > maxRSAPublicExponent || pub.E%2 == 0 {
		return fmt.Errorf("%w: %s has an unusual RSA exponent", ErrWeakAlgorithm, describe(c))
	}
	return nil
}

// describe names a certificate in errors without personal data: the JPKI
// subject DN holds only the issuing municipality and an opaque id, but the
// serial number is enough for an operator and never personal.
func describe(c *x509.Certificate) string {
	if c.IsCA {
		return fmt.Sprintf("CA certificate %X", c.SerialNumber)
	}
	return fmt.Sprintf("certificate %X", c.SerialNumber)
}

// issuedBy reports whether parent's key signed child, with matching names and
// (where both are present) matching key identifiers.
func issuedBy(child, parent *x509.Certificate) bool {
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return false
	}
	if len(child.AuthorityKeyId) > 0 && len(parent.SubjectKeyId) > 0 && !bytes.Equal(child.AuthorityKeyId, parent.SubjectKeyId) {
		return false
	}
	return parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature) == nil
}

// buildChain returns leaf, intermediates in order, and the root that anchors
// them. Intermediates are link or subordinate CAs supplied by the client;
// they are trusted only through a root.
func buildChain(leaf *x509.Certificate, intermediates, roots []*x509.Certificate) ([]*x509.Certificate, error) {
	if len(roots) == 0 {
		return nil, fmt.Errorf("%w: no anchors configured for this usage", ErrDisabled)
	}
	chain := []*x509.Certificate{leaf}
	cur := leaf
	for depth := 0; depth < maxChainDepth; depth++ {
		for _, r := range roots {
			if issuedBy(cur, r) {
				return append(chain, r), nil
			}
		}
		var next *x509.Certificate
		for _, ic := range intermediates {
			if inChain(chain, ic) {
				continue
			}
			if issuedBy(cur, ic) {
				next = ic
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("%w: no trusted issuer for %s", ErrChain, describe(cur))
		}
		chain = append(chain, next)
		cur = next
	}
	return nil, fmt.Errorf("%w: chain longer than %d", ErrChain, maxChainDepth)
}

func inChain(chain []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range chain {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// checkCAs checks basic constraints, key usage and path length of every
// issuer in the chain (chain[1:]).
func checkCAs(chain []*x509.Certificate) error {
	for i, ca := range chain[1:] {
		if !ca.BasicConstraintsValid || !ca.IsCA {
			return fmt.Errorf("%w: %s lacks basicConstraints cA=TRUE", ErrBasicConstraints, describe(ca))
		}
		if ca.KeyUsage&x509.KeyUsageCertSign == 0 {
			return fmt.Errorf("%w: %s lacks keyCertSign", ErrBasicConstraints, describe(ca))
		}
		// i is the number of CA certificates between ca and the leaf.
		if (ca.MaxPathLen > 0 || ca.MaxPathLenZero) && i > ca.MaxPathLen {
			return fmt.Errorf("%w: %s path length %d exceeded", ErrBasicConstraints, describe(ca), ca.MaxPathLen)
		}
	}
	return nil
}

// checkValidity checks every certificate of the chain at t.
func checkValidity(chain []*x509.Certificate, t time.Time) error {
	for _, c := range chain {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return fmt.Errorf("%w: %s valid %s to %s, signed at %s", ErrValidity, describe(c),
				c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// checkLeafUsage checks the end-entity's key usage for the JPKI profile:
// signing certificates carry digitalSignature and nonRepudiation,
// user-authentication certificates digitalSignature; neither is a CA.
func checkLeafUsage(leaf *x509.Certificate, u Usage) error {
	if leaf.IsCA || leaf.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 {
		return fmt.Errorf("%w: %s is a CA certificate", ErrKeyUsage, describe(leaf))
	}
	want := x509.KeyUsageDigitalSignature
	if u == UsageSign {
		want |= x509.KeyUsageContentCommitment
	}
	if leaf.KeyUsage&want != want {
		return fmt.Errorf("%w: %s key usage %#x lacks %#x", ErrKeyUsage, describe(leaf), int(leaf.KeyUsage), int(want))
	}
	return nil
}

// checkCriticalExtensions refuses any critical extension that crypto/x509 did
// not process, except subjectAltName on a leaf whose otherNames this package
// decodes itself.
func checkCriticalExtensions(chain []*x509.Certificate) error {
	for i, c := range chain {
		for _, oid := range c.UnhandledCriticalExtensions {
			if i == 0 && oid.Equal(oidSubjectAltName) {
				continue
			}
			return fmt.Errorf("%w: %s in %s", ErrCriticalExtension, oid, describe(c))
		}
	}
	return nil
}

// extensionValue returns the value of the extension oid, if present.
func extensionValue(c *x509.Certificate, oid asn1.ObjectIdentifier) ([]byte, bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Value, true
		}
	}
	return nil, false
}
