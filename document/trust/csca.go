package trust

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrCSCA reports a certificate refused as a single CSCA anchor.
var ErrCSCA = errors.New("trust: CSCA certificate refused")

// CSCACheck is one check of a certificate offered as a single CSCA anchor
// (a country whose CSCA is in no master list). Detail is reviewer-readable.
type CSCACheck struct {
	Name   string // "ca", "key_usage", "critical_extensions", "validity", "country", "signature"
	OK     bool
	Detail string
}

// CSCAReport is what an operator and the approving admin see before a
// single CSCA is trusted.
type CSCAReport struct {
	Anchor *Anchor
	Checks []CSCACheck
	// Link is the anchor that signed a link certificate (a new CSCA key
	// certified by the previous one); nil for a self-signed CSCA.
	Link *Anchor
	// Present reports that the store already holds this certificate.
	Present bool
}

// OK reports whether every check passed.
func (r *CSCAReport) OK() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return len(r.Checks) > 0
}

// Err is nil when every check passed, else an ErrCSCA naming the failed
// checks.
func (r *CSCAReport) Err() error {
	var bad []string
	for _, c := range r.Checks {
		if !c.OK {
			bad = append(bad, c.Name+": "+c.Detail)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrCSCA, strings.Join(bad, "; "))
}

// String is the report, one check a line, for a terminal.
func (r *CSCAReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "certificate  %s\n", r.Anchor.String())
	fmt.Fprintf(&b, "sha256       %s\n", r.Anchor.ID())
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %-20s %s\n", mark, c.Name, c.Detail)
	}
	if r.Present {
		b.WriteString("note already trusted: importing it again changes nothing\n")
	}
	return b.String()
}

// CheckCSCA checks a DER certificate offered as a CSCA anchor of country
// (ISO 3166-1 alpha-2, as in certificates) at now: a CA certificate
// (basicConstraints cA) with the keyCertSign key usage (ICAO 9303 Part 12
// §7.1.1), no critical extension this package cannot interpret, valid at
// now, whose subject country is country, and whose signature verifies
// under pol: with its own key (self-signed) or, for a link certificate,
// with the key of an anchor already in existing (may be nil). It returns an
// error only when der is not a certificate; failed checks are in the
// report (see CSCAReport.Err).
func CheckCSCA(der []byte, country string, existing *Store, now time.Time, pol Policy) (*CSCAReport, error) {
	a, err := NewAnchor(der, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCSCA, err)
	}
	c := a.Cert
	r := &CSCAReport{Anchor: a}
	add := func(name string, ok bool, format string, args ...any) {
		r.Checks = append(r.Checks, CSCACheck{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	add("ca", c.BasicConstraintsValid && c.IsCA, "basicConstraints cA=%v", c.BasicConstraintsValid && c.IsCA)
	switch {
	case !c.HasKeyUsage:
		add("key_usage", false, "no key usage extension (a CSCA must have keyCertSign)")
	case c.KeyUsage&x509.KeyUsageCertSign == 0:
		add("key_usage", false, "key usage lacks keyCertSign")
	default:
		ku := "keyCertSign"
		if c.KeyUsage&x509.KeyUsageCRLSign != 0 {
			ku += ", cRLSign"
		}
		add("key_usage", true, "%s", ku)
	}
	if len(c.UnhandledCritical) > 0 {
		add("critical_extensions", false, "unknown critical extensions %v", c.UnhandledCritical)
	} else {
		add("critical_extensions", true, "none unknown")
	}
	validity := fmt.Sprintf("valid %s to %s", c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly))
	if c.ValidAt(now) {
		add("validity", true, "%s", validity)
	} else {
		add("validity", false, "%s: not valid at %s", validity, now.UTC().Format(time.DateOnly))
	}
	switch got := c.Country(); {
	case got == "":
		add("country", false, "the subject has no country")
	case !strings.EqualFold(got, country):
		add("country", false, "subject country %s, expected %s", got, strings.ToUpper(country))
	default:
		add("country", true, "subject country %s as expected", got)
	}
	// A CSCA is self-signed, or a link certificate: the new key certified
	// by the previous one, often under the same name.
	var selfErr, lastErr error
	selfNamed := bytes.Equal(c.RawIssuer, c.RawSubject)
	if selfNamed {
		selfErr = c.CheckSignatureFrom(c, pol)
	}
	if !selfNamed || selfErr != nil {
		if existing != nil {
			for _, p := range existing.Issuers(c) {
				if err := c.CheckSignatureFrom(p.Cert, pol); err != nil {
					lastErr = err
					continue
				}
				r.Link = p
				break
			}
		}
	}
	switch {
	case selfNamed && selfErr == nil:
		add("signature", true, "self-signed (%s)", c.PublicKey.Algorithm())
	case r.Link != nil:
		add("signature", true, "link certificate signed by the trusted CSCA %s (%s…)", r.Link.Subject(), r.Link.ID()[:16])
	case selfNamed:
		add("signature", false, "self-signed, but its signature does not verify with its own key (%v) nor with a trusted CSCA of that name", selfErr)
	case lastErr != nil:
		add("signature", false, "issued by %s, but no trusted CSCA of that name verifies it: %v", c.Issuer.String(), lastErr)
	default:
		add("signature", false, "issued by %s, which is not a trusted CSCA: import that CSCA first, or the self-signed certificate", c.Issuer.String())
	}
	if existing != nil {
		for _, x := range existing.anchors {
			if x.Fingerprint == a.Fingerprint {
				r.Present = true
			}
		}
	}
	return r, nil
}
