package signin

import (
	"slices"

	"github.com/madoguchi/madoguchi/txauth"
)

// The acr values of a customer step (OpenID Connect Core §2), strongest
// last. Every one means: a person the tenant's eKYC verified, authenticated
// by txauth factors on Madoguchi's own page.
const (
	// ACRCustomer: one factor.
	ACRCustomer = "urn:madoguchi:acr:customer"
	// ACRMultiFactor: factors of two or more kinds (amr carries "mfa").
	ACRMultiFactor = "urn:madoguchi:acr:customer:mfa"
	// ACRLinked: a transfer confirmed with a factor that signs its amount
	// and payee (passkey, registered device, JPKI signature): dynamic
	// linking in the sense of PSD2 RTS Art. 5.
	ACRLinked = "urn:madoguchi:acr:customer:linked"
)

// linking are the factors whose signature covers the transaction hash.
var linking = []txauth.Factor{txauth.FactorPasskey, txauth.FactorDevice, txauth.FactorJPKISign}

// ACR is the acr of a confirmation of kind that satisfied factors.
func ACR(kind txauth.Kind, satisfied []txauth.Factor) string {
	if kind == txauth.KindTransaction && slices.ContainsFunc(satisfied, func(f txauth.Factor) bool { return slices.Contains(linking, f) }) {
		return ACRLinked
	}
	if slices.Contains(AMR(satisfied), "mfa") {
		return ACRMultiFactor
	}
	return ACRCustomer
}

// amrOf maps a factor to RFC 8176 method values:
//   - passkey: "pop" (proof of possession of a key; with "none"
//     attestation Madoguchi cannot tell hardware from software keys, so
//     not "hwk") and "user" (the authenticator verified the user);
//   - device: "pop" (the registered device's P-256 key);
//   - face: "face" (re-authentication against the eKYC selfie);
//   - jpki_auth, jpki_sign: "sc" (the My Number Card) and "pin" (its PIN
//     unlocks the key);
//   - image_card, legacy: "otp" (a one-time answer from a lookup card).
var amrOf = map[txauth.Factor][]string{
	txauth.FactorPasskey:   {"pop", "user"},
	txauth.FactorDevice:    {"pop"},
	txauth.FactorFace:      {"face"},
	txauth.FactorJPKIAuth:  {"sc", "pin"},
	txauth.FactorJPKISign:  {"sc", "pin"},
	txauth.FactorImageCard: {"otp"},
	txauth.FactorLegacy:    {"otp"},
}

// AMR is the amr of the satisfied factors, sorted, with "mfa" when two or
// more factors were satisfied.
func AMR(satisfied []txauth.Factor) []string {
	var out []string
	n := 0
	for _, f := range satisfied {
		vs, ok := amrOf[f]
		if !ok {
			continue
		}
		n++
		for _, v := range vs {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	if n >= 2 {
		out = append(out, "mfa")
	}
	slices.Sort(out)
	return out
}
