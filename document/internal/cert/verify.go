package cert

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"

	_ "crypto/sha1" // registered for policy-allowed SHA-1
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// Policy says which algorithms a verification accepts.
//
// The default (zero value with MinRSABits filled by DefaultPolicy) refuses
// MD5 always, SHA-1 unless AllowSHA1 (legacy passports issued before about
// 2012 use it; a bank may enable it knowingly), and RSA keys below 2048 bits.
type Policy struct {
	AllowSHA1  bool
	MinRSABits int
}

// DefaultPolicy is the policy for new verifications.
func DefaultPolicy() Policy { return Policy{MinRSABits: 2048} }

// Signature and hash algorithm OIDs.
var (
	oidMD5WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
	oidSHA1WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidSHA224WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 14}
	oidMGF1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}

	oidECDSASHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSASHA224 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}
	oidECDSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidECDSAPlain  = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1} // BSI TR-03111 ecdsa-plain-signatures; .1 SHA1 … .5 SHA512

	oidMD5    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSHA224 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
)

// errMD5 marks MD5, refused under every policy.
var errMD5 = fmt.Errorf("%w: MD5", ErrWeak)

// ErrWeakSHA1 is the refusal of SHA-1 by a policy that does not allow it;
// it wraps ErrWeak.
var ErrWeakSHA1 = fmt.Errorf("%w: SHA-1", ErrWeak)

// HashByOID maps a digest AlgorithmIdentifier OID to a hash.
func HashByOID(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1, nil
	case oid.Equal(oidSHA224):
		return crypto.SHA224, nil
	case oid.Equal(oidSHA256):
		return crypto.SHA256, nil
	case oid.Equal(oidSHA384):
		return crypto.SHA384, nil
	case oid.Equal(oidSHA512):
		return crypto.SHA512, nil
	case oid.Equal(oidMD5):
		return 0, errMD5
	}
	return 0, fmt.Errorf("%w: digest %v", ErrUnsupported, oid)
}

// CheckHash applies the policy to a hash.
func (p Policy) CheckHash(h crypto.Hash) error {
	switch h {
	case crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return nil
	case crypto.SHA1:
		if p.AllowSHA1 {
			return nil
		}
		return ErrWeakSHA1
	}
	return fmt.Errorf("%w: hash %v", ErrWeak, h)
}

type scheme int

const (
	pkcs1 scheme = iota + 1
	pss
	ecdsaDER
	ecdsaPlain
)

// signatureScheme resolves a signature AlgorithmIdentifier. digestAlg is
// used where the signature algorithm names no hash (CMS signerInfos with
// rsaEncryption or id-ecPublicKey as signatureAlgorithm).
func signatureScheme(alg, digestAlg pkix.AlgorithmIdentifier) (scheme, crypto.Hash, *rsa.PSSOptions, error) {
	o := alg.Algorithm
	fromDigest := func(s scheme) (scheme, crypto.Hash, *rsa.PSSOptions, error) {
		h, err := HashByOID(digestAlg.Algorithm)
		return s, h, nil, err
	}
	switch {
	case o.Equal(oidSHA256WithRSA):
		return pkcs1, crypto.SHA256, nil, nil
	case o.Equal(oidSHA384WithRSA):
		return pkcs1, crypto.SHA384, nil, nil
	case o.Equal(oidSHA512WithRSA):
		return pkcs1, crypto.SHA512, nil, nil
	case o.Equal(oidSHA224WithRSA):
		return pkcs1, crypto.SHA224, nil, nil
	case o.Equal(oidSHA1WithRSA):
		return pkcs1, crypto.SHA1, nil, nil
	case o.Equal(oidMD5WithRSA):
		return 0, 0, nil, errMD5
	case o.Equal(OIDRSAEncryption):
		return fromDigest(pkcs1)
	case o.Equal(OIDRSAPSS):
		h, opts, err := ParsePSSParams(alg.Parameters.FullBytes)
		return pss, h, opts, err
	case o.Equal(oidECDSASHA256):
		return ecdsaDER, crypto.SHA256, nil, nil
	case o.Equal(oidECDSASHA384):
		return ecdsaDER, crypto.SHA384, nil, nil
	case o.Equal(oidECDSASHA512):
		return ecdsaDER, crypto.SHA512, nil, nil
	case o.Equal(oidECDSASHA224):
		return ecdsaDER, crypto.SHA224, nil, nil
	case o.Equal(oidECDSASHA1):
		return ecdsaDER, crypto.SHA1, nil, nil
	case o.Equal(OIDECPublicKey):
		return fromDigest(ecdsaDER)
	case len(o) == len(oidECDSAPlain)+1 && o[:len(oidECDSAPlain)].Equal(oidECDSAPlain):
		hs := []crypto.Hash{0, crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512}
		if i := o[len(o)-1]; i >= 1 && i < len(hs) {
			return ecdsaPlain, hs[i], nil, nil
		}
	}
	return 0, 0, nil, fmt.Errorf("%w: signature algorithm %v", ErrUnsupported, o)
}

type pssParamsASN1 struct {
	Hash         pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MGF          pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	SaltLength   int                      `asn1:"optional,explicit,tag:2,default:20"`
	TrailerField int                      `asn1:"optional,explicit,tag:3,default:1"`
}

// ParsePSSParams decodes RSASSA-PSS-params (RFC 4055). The MGF must be MGF1
// with the same hash as the message (as crypto/rsa implements), the
// trailer field 1. Absent fields take the RFC defaults (SHA-1, salt 20).
func ParsePSSParams(der []byte) (crypto.Hash, *rsa.PSSOptions, error) {
	var p pssParamsASN1
	if len(der) == 0 {
		return 0, nil, fmt.Errorf("%w: RSASSA-PSS without parameters", ErrMalformed)
	}
	if rest, err := asn1.Unmarshal(der, &p); err != nil || len(rest) != 0 {
		return 0, nil, fmt.Errorf("%w: RSASSA-PSS parameters", ErrMalformed)
	}
	h := crypto.SHA1
	if len(p.Hash.Algorithm) > 0 {
		var err error
		if h, err = HashByOID(p.Hash.Algorithm); err != nil {
			return 0, nil, err
		}
	}
	mgfHash := crypto.SHA1
	if len(p.MGF.Algorithm) > 0 {
		if !p.MGF.Algorithm.Equal(oidMGF1) {
			return 0, nil, fmt.Errorf("%w: mask generation %v", ErrUnsupported, p.MGF.Algorithm)
		}
		var ha pkix.AlgorithmIdentifier
		if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &ha); err != nil || len(rest) != 0 {
			return 0, nil, fmt.Errorf("%w: MGF1 parameters", ErrMalformed)
		}
		var err error
		if mgfHash, err = HashByOID(ha.Algorithm); err != nil {
			return 0, nil, err
		}
	}
	if mgfHash != h {
		return 0, nil, fmt.Errorf("%w: MGF1 hash differs from message hash", ErrUnsupported)
	}
	if p.TrailerField != 1 || p.SaltLength < 0 || p.SaltLength > 1024 {
		return 0, nil, fmt.Errorf("%w: RSASSA-PSS trailer or salt", ErrMalformed)
	}
	return h, &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: h}, nil
}

// SignatureHash is the hash a signature algorithm uses (digestAlg is
// consulted only when alg names no hash), without applying a policy.
func SignatureHash(alg, digestAlg pkix.AlgorithmIdentifier) (crypto.Hash, error) {
	_, h, _, err := signatureScheme(alg, digestAlg)
	return h, err
}

// Verify checks sig over msg with the signature algorithm alg (digestAlg
// is consulted only when alg names no hash) under policy pol.
func (k *PublicKey) Verify(alg, digestAlg pkix.AlgorithmIdentifier, msg, sig []byte, pol Policy) error {
	s, h, opts, err := signatureScheme(alg, digestAlg)
	if err != nil {
		return err
	}
	if err := pol.CheckHash(h); err != nil {
		return err
	}
	if !h.Available() {
		return fmt.Errorf("%w: hash %v", ErrUnsupported, h)
	}
	hh := h.New()
	hh.Write(msg)
	return k.verifyDigest(s, h, opts, hh.Sum(nil), sig, pol)
}

// verifyDigest is Verify on a precomputed digest.
func (k *PublicKey) verifyDigest(s scheme, h crypto.Hash, opts *rsa.PSSOptions, digest, sig []byte, pol Policy) error {
	switch s {
	case pkcs1, pss:
		if k.RSA == nil {
			return fmt.Errorf("%w: RSA signature with a %s key", ErrSignature, k.Algorithm())
		}
		if k.RSA.N.BitLen() < pol.MinRSABits {
			return fmt.Errorf("%w: %s below %d bits", ErrWeak, k.Algorithm(), pol.MinRSABits)
		}
		if len(sig) != (k.RSA.N.BitLen()+7)/8 {
			return fmt.Errorf("%w: signature of %d bytes for %s", ErrSignature, len(sig), k.Algorithm())
		}
		var err error
		if s == pkcs1 {
			if k.PSS != nil {
				return fmt.Errorf("%w: PKCS#1 v1.5 signature by a PSS-only key", ErrSignature)
			}
			err = rsa.VerifyPKCS1v15(k.RSA, h, digest, sig)
		} else {
			err = rsa.VerifyPSS(k.RSA, h, digest, sig, opts)
		}
		if err != nil {
			return errors.Join(ErrSignature, err)
		}
		return nil
	case ecdsaDER, ecdsaPlain:
		if k.EC == nil {
			return fmt.Errorf("%w: ECDSA signature with a %s key", ErrSignature, k.Algorithm())
		}
		ok := false
		if s == ecdsaDER {
			ok = k.EC.VerifyASN1(digest, sig)
		} else {
			ok = k.EC.VerifyPlain(digest, sig)
		}
		if !ok {
			return ErrSignature
		}
		return nil
	}
	return fmt.Errorf("%w: scheme %d", ErrUnsupported, s)
}

// NewHash returns a hash.Hash for a digest AlgorithmIdentifier under the
// policy (used for data-group and content digests).
func NewHash(alg pkix.AlgorithmIdentifier, pol Policy) (crypto.Hash, hash.Hash, error) {
	h, err := HashByOID(alg.Algorithm)
	if err != nil {
		return 0, nil, err
	}
	if err := pol.CheckHash(h); err != nil {
		return 0, nil, err
	}
	return h, h.New(), nil
}
