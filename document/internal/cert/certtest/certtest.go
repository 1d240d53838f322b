// Package certtest issues X.509 certificates for tests with keys that
// crypto/x509 cannot use: brainpool and explicit-parameter ECDSA, RSASSA-PSS.
// Test use only.
package certtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"time"

	"github.com/madoguchi/madoguchi/document/internal/ecc"
	"github.com/madoguchi/madoguchi/document/internal/ecc/ecctest"
)

// Key is a test signing key.
type Key struct {
	RSA      *rsa.PrivateKey
	EC       *ecctest.Key
	PSS      bool
	Hash     crypto.Hash
	Explicit bool // encode EC parameters explicitly
}

// NewRSA returns an RSA key; pss selects RSASSA-PSS signatures.
func NewRSA(bits int, pss bool) (*Key, error) {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	return &Key{RSA: k, PSS: pss, Hash: crypto.SHA256}, nil
}

// NewEC returns an ECDSA key on the named curve; explicit writes
// SpecifiedECDomain parameters in its SubjectPublicKeyInfo.
func NewEC(curve string, h crypto.Hash, explicit bool) (*Key, error) {
	c, err := ecc.CurveByName(curve)
	if err != nil {
		return nil, err
	}
	k, err := ecctest.GenerateKey(c)
	if err != nil {
		return nil, err
	}
	return &Key{EC: k, Hash: h, Explicit: explicit}, nil
}

var (
	oidRSA      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidPSS      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidEC       = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	hashOIDs    = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA1: {1, 3, 14, 3, 2, 26}, crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1}, crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2}, crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3}}
	rsaSigOIDs  = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA1: {1, 2, 840, 113549, 1, 1, 5}, crypto.SHA256: {1, 2, 840, 113549, 1, 1, 11}, crypto.SHA384: {1, 2, 840, 113549, 1, 1, 12}, crypto.SHA512: {1, 2, 840, 113549, 1, 1, 13}}
	ecdsaSigOID = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA1: {1, 2, 840, 10045, 4, 1}, crypto.SHA256: {1, 2, 840, 10045, 4, 3, 2}, crypto.SHA384: {1, 2, 840, 10045, 4, 3, 3}, crypto.SHA512: {1, 2, 840, 10045, 4, 3, 4}}
)

// DigestAlgorithm returns the AlgorithmIdentifier of the key's hash.
func (k *Key) DigestAlgorithm() pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: hashOIDs[k.Hash]}
}

// SPKI returns the DER SubjectPublicKeyInfo.
func (k *Key) SPKI() ([]byte, error) {
	type spki struct {
		Alg pkix.AlgorithmIdentifier
		Key asn1.BitString
	}
	if k.RSA != nil {
		pub, err := asn1.Marshal(struct{ N, E *big.Int }{k.RSA.N, big.NewInt(int64(k.RSA.E))})
		if err != nil {
			return nil, err
		}
		return asn1.Marshal(spki{pkix.AlgorithmIdentifier{Algorithm: oidRSA, Parameters: asn1.NullRawValue}, asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
	}
	var params []byte
	var err error
	if k.Explicit {
		params, err = ecctest.ExplicitParameters(k.EC.Pub.Curve)
	} else {
		params, err = asn1.Marshal(k.EC.Pub.Curve.OID)
	}
	if err != nil {
		return nil, err
	}
	pt := k.EC.Pub.Bytes()
	return asn1.Marshal(spki{pkix.AlgorithmIdentifier{Algorithm: oidEC, Parameters: asn1.RawValue{FullBytes: params}}, asn1.BitString{Bytes: pt, BitLength: 8 * len(pt)}})
}

// SignatureAlgorithm returns the AlgorithmIdentifier of the key's signatures.
func (k *Key) SignatureAlgorithm() pkix.AlgorithmIdentifier {
	if k.RSA == nil {
		return pkix.AlgorithmIdentifier{Algorithm: ecdsaSigOID[k.Hash]}
	}
	if !k.PSS {
		return pkix.AlgorithmIdentifier{Algorithm: rsaSigOIDs[k.Hash], Parameters: asn1.NullRawValue}
	}
	h := pkix.AlgorithmIdentifier{Algorithm: hashOIDs[k.Hash], Parameters: asn1.NullRawValue}
	hder, _ := asn1.Marshal(h)
	params, _ := asn1.Marshal(struct {
		Hash pkix.AlgorithmIdentifier `asn1:"explicit,tag:0"`
		MGF  pkix.AlgorithmIdentifier `asn1:"explicit,tag:1"`
		Salt int                      `asn1:"explicit,tag:2"`
	}{h, pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: hder}}, k.Hash.Size()})
	return pkix.AlgorithmIdentifier{Algorithm: oidPSS, Parameters: asn1.RawValue{FullBytes: params}}
}

// Sign signs msg (hashing it with the key's hash).
func (k *Key) Sign(msg []byte) ([]byte, error) {
	h := k.Hash.New()
	h.Write(msg)
	d := h.Sum(nil)
	switch {
	case k.RSA != nil && k.PSS:
		return rsa.SignPSS(rand.Reader, k.RSA, k.Hash, d, &rsa.PSSOptions{SaltLength: k.Hash.Size()})
	case k.RSA != nil:
		return rsa.SignPKCS1v15(rand.Reader, k.RSA, k.Hash, d)
	}
	return k.EC.SignASN1(d)
}

// Template describes a certificate to issue.
type Template struct {
	Serial              int64
	Subject             pkix.Name
	NotBefore, NotAfter time.Time
	IsCA                bool
	KeyUsage            x509.KeyUsage
	SKI, AKI            []byte
	Extra               []pkix.Extension
}

// Cert is an issued certificate with its key.
type Cert struct {
	DER     []byte
	Subject []byte // raw DER Name
	Serial  *big.Int
	Key     *Key
	SKI     []byte
}

type tbs struct {
	Version   int `asn1:"explicit,tag:0"`
	Serial    *big.Int
	SigAlg    pkix.AlgorithmIdentifier
	Issuer    asn1.RawValue
	Validity  struct{ NotBefore, NotAfter time.Time }
	Subject   asn1.RawValue
	SPKI      asn1.RawValue
	Extension []pkix.Extension `asn1:"explicit,tag:3"`
}

// Issue issues a certificate for key, signed by issuer (nil: self-signed).
func Issue(t Template, key *Key, issuer *Cert) (*Cert, error) {
	subj, err := asn1.Marshal(t.Subject.ToRDNSequence())
	if err != nil {
		return nil, err
	}
	spki, err := key.SPKI()
	if err != nil {
		return nil, err
	}
	signer, issuerName := key, subj
	if issuer != nil {
		signer, issuerName = issuer.Key, issuer.Subject
		if t.AKI == nil {
			t.AKI = issuer.SKI
		}
	}
	var exts []pkix.Extension
	if t.KeyUsage != 0 {
		var bits asn1.BitString
		for i := range 9 {
			if t.KeyUsage&(1<<uint(i)) != 0 {
				n := i/8 + 1
				for len(bits.Bytes) < n {
					bits.Bytes = append(bits.Bytes, 0)
				}
				bits.Bytes[i/8] |= 0x80 >> uint(i%8)
				bits.BitLength = max(bits.BitLength, i+1)
			}
		}
		v, _ := asn1.Marshal(bits)
		exts = append(exts, pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: v})
	}
	if t.IsCA {
		v, _ := asn1.Marshal(struct {
			CA  bool
			Len int
		}{true, 0})
		exts = append(exts, pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: v})
	}
	if t.SKI != nil {
		v, _ := asn1.Marshal(t.SKI)
		exts = append(exts, pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 14}, Value: v})
	}
	if t.AKI != nil {
		v, _ := asn1.Marshal(struct {
			ID []byte `asn1:"tag:0"`
		}{t.AKI})
		exts = append(exts, pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 35}, Value: v})
	}
	exts = append(exts, t.Extra...)
	serial := big.NewInt(t.Serial)
	tb := tbs{Version: 2, Serial: serial, SigAlg: signer.SignatureAlgorithm(),
		Issuer: asn1.RawValue{FullBytes: issuerName}, Subject: asn1.RawValue{FullBytes: subj},
		SPKI: asn1.RawValue{FullBytes: spki}, Extension: exts}
	tb.Validity.NotBefore, tb.Validity.NotAfter = t.NotBefore.UTC(), t.NotAfter.UTC()
	tbsDER, err := asn1.Marshal(tb)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(tbsDER)
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(struct {
		TBS    asn1.RawValue
		SigAlg pkix.AlgorithmIdentifier
		Sig    asn1.BitString
	}{asn1.RawValue{FullBytes: tbsDER}, signer.SignatureAlgorithm(), asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		return nil, err
	}
	return &Cert{DER: der, Subject: subj, Serial: serial, Key: key, SKI: t.SKI}, nil
}
