package jpkitest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
)

// ResponderOptions makes an OCSP responder answer correctly or in one
// specific wrong way.
type ResponderOptions struct {
	// Revoked certificates are answered "revoked"; others "good".
	Revoked []*x509.Certificate
	// Delegate signs responses instead of the CA (see IssueOCSPSigner).
	Delegate *Card
	// SignWith signs with this key while naming the CA (a forged response).
	SignWith     *rsa.PrivateKey
	OmitNonce    bool
	WrongNonce   bool
	OtherSerial  bool      // answer about another serial number
	Unknown      bool      // answer "unknown"
	ThisUpdate   time.Time // zero: Now-1m
	NextUpdate   time.Time // zero: Now+1h
	NoNextUpdate bool
}

// IssueOCSPSigner issues a delegated OCSP responder certificate from ca
// (extKeyUsage id-kp-OCSPSigning). With eku false it lacks that usage.
func (p *PKI) IssueOCSPSigner(ca *CA, eku bool) (*Card, error) {
	key, err := rsa.GenerateKey(p.rand, 2048)
	if err != nil {
		return nil, err
	}
	sn, err := p.serial()
	if err != nil {
		return nil, err
	}
	tpl := &x509.Certificate{
		SerialNumber:       sn,
		Subject:            pkix.Name{Country: []string{"JP"}, Organization: []string{testOrg}, CommonName: "OCSP responder (TEST)"},
		NotBefore:          p.Now.Add(-time.Hour),
		NotAfter:           p.Now.AddDate(1, 0, 0),
		KeyUsage:           x509.KeyUsageDigitalSignature,
		SignatureAlgorithm: x509.SHA256WithRSA,
		AuthorityKeyId:     ca.Cert.SubjectKeyId,
		SubjectKeyId:       ski(&key.PublicKey),
	}
	if eku {
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	}
	der, err := x509.CreateCertificate(p.rand, tpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Card{Cert: c, Key: key}, nil
}

// OCSPResponder returns an HTTP handler answering RFC 6960 POST requests
// about certificates issued by ca.
func (p *PKI) OCSPResponder(ca *CA, o ResponderOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		resp, err := p.OCSPResponse(ca, body, o)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = w.Write(resp)
	})
}

// OCSPResponse answers one DER OCSP request.
func (p *PKI) OCSPResponse(ca *CA, request []byte, o ResponderOptions) ([]byte, error) {
	var req jpki.OCSPRequest
	if rest, err := asn1.Unmarshal(request, &req); err != nil || len(rest) != 0 {
		return nil, errors.New("malformed OCSP request")
	}
	if len(req.TBSRequest.RequestList) != 1 {
		return nil, errors.New("want exactly one certificate")
	}
	id := req.TBSRequest.RequestList[0].Cert
	var nonce []byte
	for _, e := range req.TBSRequest.RequestExtensions {
		if e.Id.Equal(jpki.OIDOCSPNonce) {
			nonce = e.Value
		}
	}
	status := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0}
	for _, c := range o.Revoked {
		if c.SerialNumber.Cmp(id.SerialNumber) == 0 {
			ri, err := asn1.Marshal(jpki.RevokedInfo{RevocationTime: p.Now.Add(-2 * time.Hour)})
			if err != nil {
				return nil, err
			}
			var seq asn1.RawValue
			if _, err := asn1.Unmarshal(ri, &seq); err != nil {
				return nil, err
			}
			status = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: seq.Bytes}
		}
	}
	if o.Unknown {
		status = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2}
	}
	if o.OtherSerial {
		id.SerialNumber = new(big.Int).Add(id.SerialNumber, big.NewInt(1))
	}
	tu, nu := o.ThisUpdate, o.NextUpdate
	if tu.IsZero() {
		tu = p.Now.Add(-time.Minute)
	}
	if nu.IsZero() && !o.NoNextUpdate {
		nu = p.Now.Add(time.Hour)
	}
	signerCert, signerKey := ca.Cert, ca.Key
	var certs []asn1.RawValue
	if o.Delegate != nil {
		signerCert, signerKey = o.Delegate.Cert, o.Delegate.Key
		certs = []asn1.RawValue{{FullBytes: o.Delegate.Cert.Raw}}
	}
	if o.SignWith != nil {
		signerKey = o.SignWith
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(signerCert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, err
	}
	kh := sha1.Sum(spki.PublicKey.RightAlign())
	khDER, _ := asn1.Marshal(kh[:])
	data := jpki.ResponseData{
		ResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: khDER},
		ProducedAt:  p.Now.Add(-time.Minute),
		Responses: []jpki.SingleResponse{{
			CertID: id, CertStatus: status, ThisUpdate: tu, NextUpdate: nu,
		}},
	}
	if nonce != nil && !o.OmitNonce {
		if o.WrongNonce {
			nonce, _ = asn1.Marshal([]byte("another nonce, another request"))
		}
		data.ResponseExtensions = []pkix.Extension{{Id: jpki.OIDOCSPNonce, Value: nonce}}
	}
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(tbs)
	sig, err := rsa.SignPKCS1v15(nil, signerKey, crypto.SHA256, h[:])
	if err != nil {
		return nil, err
	}
	basic, err := asn1.Marshal(jpki.BasicOCSPResponse{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: asn1.NullRawValue},
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
		Certs:              certs,
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(jpki.OCSPResponse{ResponseBytes: jpki.OCSPResponseBytes{ResponseType: jpki.OIDOCSPBasic, Response: basic}})
}
