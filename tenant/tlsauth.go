package tenant

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// This file implements tls_client_auth (RFC 8705 §2.1): a client is
// recognised by exactly one name in its TLS client certificate — the
// subject distinguished name or one subjectAltName entry (dNSName,
// uniformResourceIdentifier, iPAddress, rfc822Name) — and the certificate
// must chain to the certificate authority registered with the client.

// TLS name forms (RFC 8705 §2.1.2, the metadata parameter without its
// tls_client_auth_ prefix).
const (
	TLSSubjectDN = "subject_dn"
	TLSSANDNS    = "san_dns"
	TLSSANURI    = "san_uri"
	TLSSANIP     = "san_ip"
	TLSSANEmail  = "san_email"
)

// Limits on a registered TLS name.
const (
	maxTLSNameLen = 1024
	maxDNAttrs    = 64
)

// TLSIdentity is the registration of a tls_client_auth client: exactly one
// of the name forms, under the RFC 8705 client-metadata names, and the PEM
// certificate of the CA that must issue the client's certificate (a root or
// an intermediate; the client may send further intermediates in the TLS
// handshake).
type TLSIdentity struct {
	SubjectDN string `json:"tls_client_auth_subject_dn,omitempty"`
	SANDNS    string `json:"tls_client_auth_san_dns,omitempty"`
	SANURI    string `json:"tls_client_auth_san_uri,omitempty"`
	SANIP     string `json:"tls_client_auth_san_ip,omitempty"`
	SANEmail  string `json:"tls_client_auth_san_email,omitempty"`
	CAPEM     string `json:"tls_client_auth_ca_pem,omitempty"`
}

// set reports whether any field of the identity is given.
func (t TLSIdentity) set() bool { return t != TLSIdentity{} }

// TLSAuth is a registered tls_client_auth identity, checked.
type TLSAuth struct {
	Kind  string // one of TLSSubjectDN, TLSSANDNS, TLSSANURI, TLSSANIP, TLSSANEmail
	Name  string // as registered
	CA    *x509.Certificate
	match func(*x509.Certificate) bool
	roots *x509.CertPool
}

// check validates the identity: exactly one name form, well formed, and a
// CA certificate (basic constraints CA, currently valid).
func (t TLSIdentity) check(now time.Time) (*TLSAuth, error) {
	var forms []struct{ kind, v string }
	for _, f := range []struct{ kind, v string }{
		{TLSSubjectDN, t.SubjectDN}, {TLSSANDNS, t.SANDNS}, {TLSSANURI, t.SANURI}, {TLSSANIP, t.SANIP}, {TLSSANEmail, t.SANEmail},
	} {
		if f.v != "" {
			forms = append(forms, f)
		}
	}
	if len(forms) != 1 {
		return nil, fmt.Errorf("%w: tls_client_auth needs exactly one of subject_dn, san_dns, san_uri, san_ip, san_email (got %d)", ErrInvalidInput, len(forms))
	}
	a, err := newTLSAuth(forms[0].kind, forms[0].v, t.CAPEM)
	if err != nil {
		return nil, err
	}
	if now.Before(a.CA.NotBefore) || now.After(a.CA.NotAfter) {
		return nil, fmt.Errorf("%w: %w: the CA certificate is not valid now", ErrInvalidInput, ErrInvalidCert)
	}
	return a, nil
}

// newTLSAuth builds the matcher for a stored or registered identity.
func newTLSAuth(kind, name, caPEM string) (*TLSAuth, error) {
	if len(name) > maxTLSNameLen || !utf8.ValidString(name) {
		return nil, fmt.Errorf("%w: tls_client_auth_%s must be at most %d bytes of UTF-8", ErrInvalidInput, kind, maxTLSNameLen)
	}
	match, err := tlsMatcher(kind, name)
	if err != nil {
		return nil, fmt.Errorf("%w: tls_client_auth_%s: %w", ErrInvalidInput, kind, err)
	}
	if caPEM == "" {
		return nil, fmt.Errorf("%w: tls_client_auth needs the PEM certificate of the issuing CA", ErrInvalidInput)
	}
	ca, err := ParseCertPEM([]byte(caPEM))
	if err != nil {
		return nil, fmt.Errorf("%w: CA: %w", ErrInvalidInput, err)
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return nil, fmt.Errorf("%w: %w: the CA certificate is not a CA (basic constraints)", ErrInvalidInput, ErrInvalidCert)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &TLSAuth{Kind: kind, Name: name, CA: ca, match: match, roots: roots}, nil
}

// CAPEM returns the registered CA certificate as PEM.
func (a *TLSAuth) CAPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.CA.Raw}))
}

// Errors of tls_client_auth, wrapped inside ErrInvalidClient.
var (
	// ErrCertChain: the certificate does not chain to the registered CA, or
	// it (or a certificate of its chain) is not valid at this time, or it
	// is not meant for client authentication.
	ErrCertChain = errors.New("tenant: TLS client certificate not issued by the registered CA or not valid now")
	// ErrCertName: the certificate chains correctly but does not carry the
	// registered name.
	ErrCertName = errors.New("tenant: TLS client certificate does not carry the registered name")
)

// verify checks leaf (with the intermediates the client sent) against the
// registered CA at now, then the registered name.
func (a *TLSAuth) verify(leaf *x509.Certificate, intermediates []*x509.Certificate, now time.Time) error {
	if leaf.IsCA {
		return fmt.Errorf("%w: a CA certificate is not a client certificate", ErrCertChain)
	}
	var pool *x509.CertPool
	if len(intermediates) > 0 {
		pool = x509.NewCertPool()
		for _, c := range intermediates {
			pool.AddCert(c)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: a.roots, Intermediates: pool, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return fmt.Errorf("%w: %w", ErrCertChain, err)
	}
	if !a.match(leaf) {
		return ErrCertName
	}
	return nil
}

// tlsMatcher parses a registered name and returns its matcher.
func tlsMatcher(kind, name string) (func(*x509.Certificate) bool, error) {
	switch kind {
	case TLSSubjectDN:
		want, err := ParseDN(name)
		if err != nil {
			return nil, err
		}
		return func(c *x509.Certificate) bool {
			got, err := subjectDN(c.RawSubject)
			return err == nil && got == want
		}, nil
	case TLSSANDNS:
		if !validDNSName(name) {
			return nil, errors.New("not a DNS name")
		}
		return func(c *x509.Certificate) bool {
			return slices.ContainsFunc(c.DNSNames, func(d string) bool { return strings.EqualFold(d, name) })
		}, nil
	case TLSSANURI:
		u, err := url.Parse(name)
		if err != nil || !u.IsAbs() || u.Host == "" && u.Opaque == "" || u.String() != name {
			return nil, errors.New("not an absolute URI in its normal form")
		}
		return func(c *x509.Certificate) bool {
			return slices.ContainsFunc(c.URIs, func(x *url.URL) bool { return x.String() == name })
		}, nil
	case TLSSANIP:
		ip, err := netip.ParseAddr(name)
		if err != nil || ip.Zone() != "" {
			return nil, errors.New("not an IP address")
		}
		ip = ip.Unmap()
		return func(c *x509.Certificate) bool {
			return slices.ContainsFunc(c.IPAddresses, func(x net.IP) bool {
				a, ok := netip.AddrFromSlice(x)
				return ok && a.Unmap() == ip
			})
		}, nil
	case TLSSANEmail:
		local, domain, ok := strings.Cut(name, "@")
		if !ok || local == "" || !validDNSName(domain) || strings.ContainsAny(local, " @\t\r\n") {
			return nil, errors.New("not an e-mail address")
		}
		return func(c *x509.Certificate) bool {
			return slices.ContainsFunc(c.EmailAddresses, func(e string) bool {
				l, d, ok := strings.Cut(e, "@")
				return ok && l == local && strings.EqualFold(d, domain)
			})
		}, nil
	}
	return nil, fmt.Errorf("unknown name form %q", kind)
}

// validDNSName accepts a host name of letters, digits, hyphens and dots
// (no wildcard: a registered name is one host).
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// dnAttrNames are the attribute type names accepted in a DN string
// (RFC 4514 §3 plus the e-mail attribute common in client certificates);
// others are given as dotted OIDs.
var dnAttrNames = map[string]string{
	"CN": "2.5.4.3", "SERIALNUMBER": "2.5.4.5", "C": "2.5.4.6", "L": "2.5.4.7", "ST": "2.5.4.8",
	"STREET": "2.5.4.9", "O": "2.5.4.10", "OU": "2.5.4.11", "POSTALCODE": "2.5.4.17",
	"DC": "0.9.2342.19200300.100.1.25", "UID": "0.9.2342.19200300.100.1.1",
	"EMAILADDRESS": "1.2.840.113549.1.9.1", "E": "1.2.840.113549.1.9.1",
}

// ParseDN parses an RFC 4514 distinguished name ("CN=Partner API,O=Example
// Pay,C=JP") into its canonical form, which subjectDN produces from a
// certificate: the RDNs in certificate (ASN.1) order, the attributes of a
// multi-valued RDN sorted, each as OID and exact value. Attribute types are
// the RFC 4514 short names (case-insensitive) or dotted OIDs; values take
// RFC 4514 escapes (\, \+ \" \\ … and \hh); spaces around separators are
// ignored; the #hex value form is refused, as are empty names, empty
// values and more than 64 attributes. Values compare exactly: no case
// folding.
func ParseDN(s string) (string, error) {
	if s == "" || len(s) > maxTLSNameLen {
		return "", fmt.Errorf("distinguished name must be 1-%d bytes", maxTLSNameLen)
	}
	var (
		rdns  [][]dnAttr
		cur   []dnAttr
		attrs int
	)
	i := 0
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return "", errors.New("attribute without '='")
		}
		oid, err := dnAttrType(strings.TrimRight(s[i:i+eq], " "))
		if err != nil {
			return "", err
		}
		i += eq + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i < len(s) && s[i] == '#' {
			return "", errors.New("#hex attribute values are not accepted")
		}
		var v []byte
		trailing := 0 // unescaped spaces at the end of v, dropped
		for i < len(s) && s[i] != ',' && s[i] != '+' && s[i] != ';' {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 >= len(s) {
					return "", errors.New("dangling escape")
				}
				n := s[i+1]
				if strings.IndexByte(` "#+,;<=>\`, n) >= 0 {
					v = append(v, n)
					i += 2
				} else if h, ok := hexPair(s[i+1:]); ok {
					v = append(v, h)
					i += 3
				} else {
					return "", errors.New("bad escape")
				}
				trailing = 0
			case c == '"' || c == '<' || c == '>' || c == 0:
				return "", fmt.Errorf("character %q must be escaped", c)
			default:
				v = append(v, c)
				if c == ' ' {
					trailing++
				} else {
					trailing = 0
				}
				i++
			}
		}
		v = v[:len(v)-trailing]
		if len(v) == 0 || !utf8.Valid(v) {
			return "", errors.New("empty or non-UTF-8 attribute value")
		}
		if attrs++; attrs > maxDNAttrs {
			return "", fmt.Errorf("more than %d attributes", maxDNAttrs)
		}
		cur = append(cur, dnAttr{oid, string(v)})
		if i >= len(s) {
			rdns = append(rdns, cur)
			break
		}
		sep := s[i]
		i++
		if sep != '+' {
			rdns = append(rdns, cur)
			cur = nil
		}
		if i >= len(s) {
			return "", errors.New("trailing separator")
		}
	}
	slices.Reverse(rdns) // RFC 4514 writes the last RDN first
	return canonicalDN(rdns), nil
}

type dnAttr struct{ oid, value string }

func dnAttrType(t string) (string, error) {
	if oid, ok := dnAttrNames[strings.ToUpper(t)]; ok {
		return oid, nil
	}
	parts := strings.Split(t, ".")
	if len(parts) < 2 {
		return "", fmt.Errorf("unknown attribute type %q", truncate(t))
	}
	for _, p := range parts {
		if p == "" || len(p) > 10 || (len(p) > 1 && p[0] == '0') || strings.Trim(p, "0123456789") != "" {
			return "", fmt.Errorf("unknown attribute type %q", truncate(t))
		}
	}
	return t, nil
}

func hexPair(s string) (byte, bool) {
	if len(s) < 2 {
		return 0, false
	}
	v := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	hi, ok1 := v(s[0])
	lo, ok2 := v(s[1])
	return hi<<4 | lo, ok1 && ok2
}

// canonicalDN renders RDNs (ASN.1 order) unambiguously: RDNs joined by
// "/", attributes sorted and joined by "+", each oid=quoted value.
func canonicalDN(rdns [][]dnAttr) string {
	var b strings.Builder
	for i, rdn := range rdns {
		if i > 0 {
			b.WriteByte('/')
		}
		rdn = slices.Clone(rdn)
		slices.SortFunc(rdn, func(x, y dnAttr) int {
			if c := strings.Compare(x.oid, y.oid); c != 0 {
				return c
			}
			return strings.Compare(x.value, y.value)
		})
		for j, a := range rdn {
			if j > 0 {
				b.WriteByte('+')
			}
			fmt.Fprintf(&b, "%s=%q", a.oid, a.value)
		}
	}
	return b.String()
}

// subjectDN is the canonical form of a certificate's raw subject. A value
// that is not a string type cannot match a registered name: error.
func subjectDN(raw []byte) (string, error) {
	var seq pkix.RDNSequence
	rest, err := asn1.Unmarshal(raw, &seq)
	if err != nil || len(rest) != 0 {
		return "", errors.New("malformed subject")
	}
	rdns := make([][]dnAttr, 0, len(seq))
	for _, set := range seq {
		var rdn []dnAttr
		for _, a := range set {
			v, ok := a.Value.(string)
			if !ok {
				return "", errors.New("subject attribute is not a string")
			}
			rdn = append(rdn, dnAttr{a.Type.String(), v})
		}
		rdns = append(rdns, rdn)
	}
	return canonicalDN(rdns), nil
}
