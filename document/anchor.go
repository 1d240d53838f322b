package document

import (
	"crypto/x509"
	"strings"
)

// TestAnchorMarker is put in the subject organisation of every test trust
// anchor the project mints (the *test packages and the development
// issuer); verifiers' CheckProduction refuses anchors that carry it.
const TestAnchorMarker = "MADOGUCHI TEST ANCHOR - NOT FOR PRODUCTION"

// IsTestAnchor reports whether c is marked as a test anchor.
func IsTestAnchor(c *x509.Certificate) bool {
	for _, o := range c.Subject.Organization {
		if strings.Contains(o, TestAnchorMarker) {
			return true
		}
	}
	return false
}
