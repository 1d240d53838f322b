//go:build cgo

package hsm

import "github.com/miekg/pkcs11"

// GenerateExtractable makes a key the token would let out, which Open*
// must refuse.
func GenerateExtractable(uri string, alg Algorithm) error {
	u, err := ParseURI(uri)
	if err != nil {
		return err
	}
	return generate(u, alg, true)
}

// Protection is what the token says about a private key object.
type Protection struct {
	Sensitive, Extractable, NeverExtractable, AlwaysSensitive, Local, Token, Private bool
	ValueErr                                                                         error // reading CKA_VALUE
}

func protection(k *key) (Protection, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	a, err := attrs(k.mod, k.sess, k.obj, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_NEVER_EXTRACTABLE,
		pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_LOCAL, pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE)
	if err != nil {
		return Protection{}, err
	}
	_, verr := attrs(k.mod, k.sess, k.obj, pkcs11.CKA_VALUE)
	return Protection{
		Sensitive: isTrue(a[pkcs11.CKA_SENSITIVE]), Extractable: isTrue(a[pkcs11.CKA_EXTRACTABLE]),
		NeverExtractable: isTrue(a[pkcs11.CKA_NEVER_EXTRACTABLE]), AlwaysSensitive: isTrue(a[pkcs11.CKA_ALWAYS_SENSITIVE]),
		Local: isTrue(a[pkcs11.CKA_LOCAL]), Token: isTrue(a[pkcs11.CKA_TOKEN]), Private: isTrue(a[pkcs11.CKA_PRIVATE]),
		ValueErr: verr,
	}, nil
}

func SignerProtection(s *Signer) (Protection, error)          { return protection(s.k) }
func ExchangerProtection(x *KeyExchanger) (Protection, error) { return protection(x.k) }
