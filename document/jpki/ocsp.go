package jpki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"
)

// OCSP object identifiers (RFC 6960, RFC 8954).
var (
	OIDOCSPBasic   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	OIDOCSPNonce   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidSHA1        = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
)

// Limits and defaults of the OCSP client.
const (
	MaxOCSPResponseSize = 64 << 10
	OCSPNonceSize       = 32
	DefaultOCSPMaxAge   = 24 * time.Hour // for responses without nextUpdate
	ocspContentType     = "application/ocsp-request"
)

// CertID identifies a certificate in OCSP (RFC 6960 §4.1.1).
type CertID struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

// OCSPRequest is the DER structure of an OCSP request.
type OCSPRequest struct {
	TBSRequest TBSRequest
}

// TBSRequest is the signed part of an OCSP request (never signed here).
type TBSRequest struct {
	Version           int           `asn1:"explicit,tag:0,default:0,optional"`
	RequestorName     asn1.RawValue `asn1:"explicit,tag:1,optional"`
	RequestList       []OCSPSingleRequest
	RequestExtensions []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

// OCSPSingleRequest is one certificate in a request.
type OCSPSingleRequest struct {
	Cert CertID
}

// OCSPResponse is the outer OCSP response.
type OCSPResponse struct {
	Status        asn1.Enumerated
	ResponseBytes OCSPResponseBytes `asn1:"explicit,tag:0,optional"`
}

// OCSPResponseBytes carries the typed response.
type OCSPResponseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

// BasicOCSPResponse is id-pkix-ocsp-basic.
type BasicOCSPResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certs              []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

// ResponseData is the signed part of a basic response.
type ResponseData struct {
	Raw                asn1.RawContent
	Version            int           `asn1:"explicit,tag:0,default:0,optional"`
	ResponderID        asn1.RawValue // [1] byName or [2] byKey
	ProducedAt         time.Time     `asn1:"generalized"`
	Responses          []SingleResponse
	ResponseExtensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

// SingleResponse is the status of one certificate.
type SingleResponse struct {
	CertID           CertID
	CertStatus       asn1.RawValue    // [0] good, [1] revoked, [2] unknown
	ThisUpdate       time.Time        `asn1:"generalized"`
	NextUpdate       time.Time        `asn1:"generalized,explicit,tag:0,optional"`
	SingleExtensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

// RevokedInfo is the content of a revoked CertStatus.
type RevokedInfo struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

// NewCertID returns the CertID of cert issued by issuer with hash h
// (crypto.SHA1, as RFC 5019 profiles require, or crypto.SHA256).
func NewCertID(cert, issuer *x509.Certificate, h crypto.Hash) (CertID, error) {
	var oid asn1.ObjectIdentifier
	switch h {
	case crypto.SHA1:
		oid = oidSHA1
	case crypto.SHA256:
		oid = oidSHA256
	default:
		return CertID{}, fmt.Errorf("%w: CertID hash %v", ErrWeakAlgorithm, h)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return CertID{}, fmt.Errorf("%w: issuer key: %v", ErrCertificate, err)
	}
	hash := func(b []byte) []byte {
		if h == crypto.SHA1 {
			s := sha1.Sum(b)
			return s[:]
		}
		s := sha256.Sum256(b)
		return s[:]
	}
	return CertID{
		HashAlgorithm:  pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue},
		IssuerNameHash: hash(issuer.RawSubject),
		IssuerKeyHash:  hash(spki.PublicKey.RightAlign()),
		SerialNumber:   cert.SerialNumber,
	}, nil
}

func (id CertID) equal(o CertID) bool {
	return id.HashAlgorithm.Algorithm.Equal(o.HashAlgorithm.Algorithm) &&
		bytes.Equal(id.IssuerNameHash, o.IssuerNameHash) &&
		bytes.Equal(id.IssuerKeyHash, o.IssuerKeyHash) &&
		id.SerialNumber != nil && o.SerialNumber != nil && id.SerialNumber.Cmp(o.SerialNumber) == 0
}

// OCSPClient is a RevocationChecker that asks an OCSP responder (RFC 6960)
// by HTTP POST. Each request carries a fresh nonce (RFC 8954) that the
// response must echo; the response must be signed by the issuing CA or by a
// responder certificate the CA issued for OCSP signing, must be about the
// asked certificate, and must be current (thisUpdate not in the future,
// nextUpdate — or thisUpdate+MaxAge when absent — not in the past).
type OCSPClient struct {
	url    string
	client *http.Client
	// CertIDHash is the CertID hash; crypto.SHA1 by default (RFC 5019,
	// which most responders expect); crypto.SHA256 is also accepted.
	CertIDHash crypto.Hash
	MaxAge     time.Duration
	ClockSkew  time.Duration
	Now        func() time.Time
	Rand       io.Reader
}

var _ RevocationChecker = (*OCSPClient)(nil)

// NewOCSPClient returns a client for the responder at url. hc must have a
// timeout; nil means a client with a 10-second timeout.
func NewOCSPClient(url string, hc *http.Client) (*OCSPClient, error) {
	if url == "" {
		return nil, fmt.Errorf("%w: empty OCSP URL", ErrDisabled)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &OCSPClient{url: url, client: hc, CertIDHash: crypto.SHA1, MaxAge: DefaultOCSPMaxAge, ClockSkew: DefaultClockSkew, Now: time.Now, Rand: rand.Reader}, nil
}

// Request builds a DER OCSP request for cert with the given nonce.
func Request(id CertID, nonce []byte) ([]byte, error) {
	nv, err := asn1.Marshal(nonce)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(OCSPRequest{TBSRequest: TBSRequest{
		RequestList:       []OCSPSingleRequest{{Cert: id}},
		RequestExtensions: []pkix.Extension{{Id: OIDOCSPNonce, Value: nv}},
	}})
}

// CheckRevocation implements RevocationChecker.
func (c *OCSPClient) CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate) (*RevocationEvidence, error) {
	id, err := NewCertID(cert, issuer, c.CertIDHash)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, OCSPNonceSize)
	if _, err := io.ReadFull(c.Rand, nonce); err != nil {
		return nil, fmt.Errorf("%w: nonce: %v", ErrRevocationUnavailable, err)
	}
	body, err := Request(id, nonce)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRevocationUnavailable, err)
	}
	req.Header.Set("Content-Type", ocspContentType)
	req.Header.Set("Accept", "application/ocsp-response")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: OCSP request: %v", ErrRevocationUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: OCSP responder answered HTTP %d", ErrRevocationUnavailable, resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxOCSPResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: OCSP response: %v", ErrRevocationUnavailable, err)
	}
	if len(raw) > MaxOCSPResponseSize {
		return nil, fmt.Errorf("%w: OCSP response over %d bytes", ErrTooLarge, MaxOCSPResponseSize)
	}
	return CheckOCSPResponse(raw, id, nonce, issuer, c.Now(), c.ClockSkew, c.MaxAge)
}

// CheckOCSPResponse verifies a DER OCSP response for the certificate id,
// asked with nonce, from issuer, at now. It returns evidence with status good
// or revoked (with an error wrapping ErrRevoked), or an error.
func CheckOCSPResponse(raw []byte, id CertID, nonce []byte, issuer *x509.Certificate, now time.Time, skew, maxAge time.Duration) (*RevocationEvidence, error) {
	if len(raw) > MaxOCSPResponseSize {
		return nil, fmt.Errorf("%w: OCSP response over %d bytes", ErrTooLarge, MaxOCSPResponseSize)
	}
	var outer OCSPResponse
	if rest, err := asn1.Unmarshal(raw, &outer); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: not a DER OCSPResponse", ErrOCSP)
	}
	if outer.Status != 0 {
		return nil, fmt.Errorf("%w: responder status %d", ErrRevocationUnavailable, outer.Status)
	}
	if !outer.ResponseBytes.ResponseType.Equal(OIDOCSPBasic) {
		return nil, fmt.Errorf("%w: response type %v is not basic", ErrOCSP, outer.ResponseBytes.ResponseType)
	}
	var basic BasicOCSPResponse
	if rest, err := asn1.Unmarshal(outer.ResponseBytes.Response, &basic); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: malformed BasicOCSPResponse", ErrOCSP)
	}
	var data ResponseData
	if rest, err := asn1.Unmarshal(basic.TBSResponseData.FullBytes, &data); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: malformed ResponseData", ErrOCSP)
	}
	if data.Version != 0 {
		return nil, fmt.Errorf("%w: version %d", ErrOCSP, data.Version)
	}

	signer, err := ocspSigner(&basic, &data, issuer, now)
	if err != nil {
		return nil, err
	}
	if err := checkSignedBy(signer, basic.SignatureAlgorithm, basic.TBSResponseData.FullBytes, basic.Signature); err != nil {
		return nil, err
	}

	// Nonce: required and equal (RFC 8954 encodes it as an OCTET STRING).
	var got []byte
	found := false
	for _, e := range data.ResponseExtensions {
		if e.Id.Equal(OIDOCSPNonce) {
			if found {
				return nil, fmt.Errorf("%w: nonce repeated", ErrOCSP)
			}
			found = true
			if rest, err := asn1.Unmarshal(e.Value, &got); err != nil || len(rest) != 0 {
				got = e.Value // some responders put the raw nonce
			}
		} else if e.Critical {
			return nil, fmt.Errorf("%w: unknown critical response extension %s", ErrOCSP, e.Id)
		}
	}
	if !found {
		return nil, fmt.Errorf("%w: response without nonce (possible replay)", ErrOCSP)
	}
	if subtle.ConstantTimeCompare(got, nonce) != 1 {
		return nil, fmt.Errorf("%w: nonce mismatch (possible replay)", ErrOCSP)
	}

	var single *SingleResponse
	for i := range data.Responses {
		if data.Responses[i].CertID.equal(id) {
			single = &data.Responses[i]
			break
		}
	}
	if single == nil {
		return nil, fmt.Errorf("%w: response is not about the asked certificate", ErrOCSP)
	}
	for _, e := range single.SingleExtensions {
		if e.Critical {
			return nil, fmt.Errorf("%w: unknown critical single extension %s", ErrOCSP, e.Id)
		}
	}
	switch {
	case data.ProducedAt.After(now.Add(skew)):
		return nil, fmt.Errorf("%w: producedAt in the future", ErrOCSP)
	case single.ThisUpdate.After(now.Add(skew)):
		return nil, fmt.Errorf("%w: thisUpdate in the future", ErrOCSP)
	case !single.NextUpdate.IsZero() && single.NextUpdate.Before(single.ThisUpdate):
		return nil, fmt.Errorf("%w: nextUpdate before thisUpdate", ErrOCSP)
	case !single.NextUpdate.IsZero() && now.After(single.NextUpdate.Add(skew)):
		return nil, fmt.Errorf("%w: response expired (nextUpdate passed)", ErrOCSP)
	case single.NextUpdate.IsZero() && now.After(single.ThisUpdate.Add(maxAge)):
		return nil, fmt.Errorf("%w: response older than %v", ErrOCSP, maxAge)
	}
	ev := &RevocationEvidence{Method: "ocsp", ThisUpdate: single.ThisUpdate, NextUpdate: single.NextUpdate, ProducedAt: data.ProducedAt, Raw: append([]byte(nil), raw...)}
	st := single.CertStatus
	if st.Class != asn1.ClassContextSpecific {
		return nil, fmt.Errorf("%w: malformed certStatus", ErrOCSP)
	}
	switch st.Tag {
	case 0:
		if len(st.Bytes) != 0 {
			return nil, fmt.Errorf("%w: malformed good status", ErrOCSP)
		}
		ev.Status = StatusGood
		return ev, nil
	case 1:
		var ri RevokedInfo
		seq, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: st.Bytes})
		if rest, err := asn1.Unmarshal(seq, &ri); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("%w: malformed revokedInfo", ErrOCSP)
		}
		ev.Status, ev.RevokedAt = StatusRevoked, ri.RevocationTime
		return ev, fmt.Errorf("%w: OCSP says revoked at %s", ErrRevoked, ri.RevocationTime.UTC().Format(time.RFC3339))
	case 2:
		return nil, fmt.Errorf("%w: responder does not know the certificate", ErrRevocationUnavailable)
	}
	return nil, fmt.Errorf("%w: unknown certStatus [%d]", ErrOCSP, st.Tag)
}

// ocspSigner returns the certificate whose key must have signed the
// response: the issuer itself, or a delegated responder certificate carried
// in the response that the issuer signed for OCSP signing.
func ocspSigner(basic *BasicOCSPResponse, data *ResponseData, issuer *x509.Certificate, now time.Time) (*x509.Certificate, error) {
	if responderIs(data.ResponderID, issuer) {
		return issuer, nil
	}
	if len(basic.Certs) > 4 {
		return nil, fmt.Errorf("%w: too many responder certificates", ErrOCSP)
	}
	for _, rc := range basic.Certs {
		c, err := ParseCertificate(rc.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: responder certificate: %v", ErrOCSP, err)
		}
		if !responderIs(data.ResponderID, c) {
			continue
		}
		// Delegated responder (RFC 6960 §4.2.2.2): issued directly by the
		// CA, for id-kp-OCSPSigning, valid now, strong algorithms.
		if !issuedBy(c, issuer) {
			return nil, fmt.Errorf("%w: responder certificate not issued by the certificate's CA", ErrOCSP)
		}
		ok := false
		for _, u := range c.ExtKeyUsage {
			ok = ok || u == x509.ExtKeyUsageOCSPSigning
		}
		if !ok {
			return nil, fmt.Errorf("%w: responder certificate lacks id-kp-OCSPSigning", ErrOCSP)
		}
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return nil, fmt.Errorf("%w: responder certificate not valid now", ErrOCSP)
		}
		if err := checkAlgorithms(c); err != nil {
			return nil, err
		}
		for _, oid := range c.UnhandledCriticalExtensions {
			if !oid.Equal(oidOCSPNoCheck) {
				return nil, fmt.Errorf("%w: responder certificate has critical extension %s", ErrOCSP, oid)
			}
		}
		return c, nil
	}
	return nil, fmt.Errorf("%w: response not signed by the CA or an authorised responder", ErrOCSP)
}

// responderIs matches a ResponderID against a certificate.
func responderIs(rid asn1.RawValue, c *x509.Certificate) bool {
	if rid.Class != asn1.ClassContextSpecific {
		return false
	}
	switch rid.Tag {
	case 1: // byName [1] EXPLICIT Name
		return bytes.Equal(rid.Bytes, c.RawSubject)
	case 2: // byKey [2] EXPLICIT OCTET STRING: SHA-1 of the subject public key
		var kh []byte
		if rest, err := asn1.Unmarshal(rid.Bytes, &kh); err != nil || len(rest) != 0 {
			return false
		}
		var spki struct {
			Algorithm pkix.AlgorithmIdentifier
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
			return false
		}
		h := sha1.Sum(spki.PublicKey.RightAlign())
		return bytes.Equal(kh, h[:])
	}
	return false
}

func sigAlg(oid asn1.ObjectIdentifier) (x509.SignatureAlgorithm, bool) {
	switch oid.String() {
	case "1.2.840.113549.1.1.11":
		return x509.SHA256WithRSA, true
	case "1.2.840.113549.1.1.12":
		return x509.SHA384WithRSA, true
	case "1.2.840.113549.1.1.13":
		return x509.SHA512WithRSA, true
	}
	return 0, false
}

// checkSignedBy verifies an RSA PKCS#1 v1.5 SHA-2 signature by c over tbs.
func checkSignedBy(c *x509.Certificate, alg pkix.AlgorithmIdentifier, tbs []byte, sig asn1.BitString) error {
	a, ok := sigAlg(alg.Algorithm)
	if !ok {
		return fmt.Errorf("%w: OCSP response signed with %v", ErrWeakAlgorithm, alg.Algorithm)
	}
	if sig.BitLength%8 != 0 {
		return fmt.Errorf("%w: signature bit string", ErrOCSP)
	}
	if err := c.CheckSignature(a, tbs, sig.Bytes); err != nil {
		return fmt.Errorf("%w: response %w", ErrOCSP, ErrSignature)
	}
	return nil
}
