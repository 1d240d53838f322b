package cert

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/madoguchi/madoguchi/document/internal/ecc"
)

// Key algorithm OIDs.
var (
	OIDRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	OIDRSAPSS        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	OIDECPublicKey   = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
)

// PublicKey is an RSA or ECDSA public key from a SubjectPublicKeyInfo.
// Exactly one of RSA and EC is set.
type PublicKey struct {
	Raw []byte // the SubjectPublicKeyInfo DER
	RSA *rsa.PublicKey
	EC  *ecc.PublicKey
	// PSS holds RSASSA-PSS parameters when the key is restricted to PSS
	// (id-RSASSA-PSS SubjectPublicKeyInfo); nil otherwise.
	PSS *pkix.AlgorithmIdentifier
}

// Algorithm names the key for reviewers: "RSA-4096", "ECDSA brainpoolP256r1".
func (k *PublicKey) Algorithm() string {
	switch {
	case k.RSA != nil:
		return fmt.Sprintf("RSA-%d", k.RSA.N.BitLen())
	case k.EC != nil:
		return "ECDSA " + k.EC.Curve.Name
	}
	return "unknown"
}

// Equal reports whether two keys are the same key.
func (k *PublicKey) Equal(o *PublicKey) bool {
	switch {
	case k.RSA != nil && o.RSA != nil:
		return k.RSA.N.Cmp(o.RSA.N) == 0 && k.RSA.E == o.RSA.E
	case k.EC != nil && o.EC != nil:
		return k.EC.Curve == o.EC.Curve && bytes.Equal(k.EC.Bytes(), o.EC.Bytes())
	}
	return false
}

type spkiASN1 struct {
	Algorithm pkix.AlgorithmIdentifier
	Key       asn1.BitString
}

// ParsePublicKey decodes a DER SubjectPublicKeyInfo holding an RSA
// (rsaEncryption or id-RSASSA-PSS) or EC (id-ecPublicKey) key.
func ParsePublicKey(spki []byte) (*PublicKey, error) {
	var s spkiASN1
	if rest, err := asn1.Unmarshal(spki, &s); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: subjectPublicKeyInfo", ErrMalformed)
	}
	if s.Key.BitLength%8 != 0 {
		return nil, fmt.Errorf("%w: public key bit string", ErrMalformed)
	}
	k := &PublicKey{Raw: spki}
	switch alg := s.Algorithm.Algorithm; {
	case alg.Equal(OIDRSAEncryption), alg.Equal(OIDRSAPSS):
		var rk struct {
			N *big.Int
			E *big.Int
		}
		if rest, err := asn1.Unmarshal(s.Key.Bytes, &rk); err != nil || len(rest) != 0 || rk.N == nil || rk.E == nil {
			return nil, fmt.Errorf("%w: RSA public key", ErrMalformed)
		}
		if b := rk.N.BitLen(); b < 1024 || b > 8192 || rk.N.Bit(0) == 0 {
			return nil, fmt.Errorf("%w: RSA modulus of %d bits", ErrMalformed, b)
		}
		if !rk.E.IsInt64() || rk.E.Int64() < 3 || rk.E.Int64() >= 1<<31 || rk.E.Bit(0) == 0 {
			return nil, fmt.Errorf("%w: RSA exponent", ErrMalformed)
		}
		k.RSA = &rsa.PublicKey{N: rk.N, E: int(rk.E.Int64())}
		if alg.Equal(OIDRSAPSS) && len(s.Algorithm.Parameters.FullBytes) > 0 {
			p := s.Algorithm
			k.PSS = &p
		}
	case alg.Equal(OIDECPublicKey):
		c, err := ecc.ParseECParameters(s.Algorithm.Parameters.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
		}
		if k.EC, err = ecc.ParsePublicKey(c, s.Key.Bytes); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	default:
		return nil, fmt.Errorf("%w: key algorithm %v", ErrUnsupported, alg)
	}
	return k, nil
}
