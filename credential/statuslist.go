package credential

// The status list: one per tenant, a bit per issued credential (its "sli"
// index), 1 = revoked, signed by the issuer key as a COSE_Sign1 (the idea
// of the IETF Token Status List, in a smaller shape of our own):
//
//	status = { 1: iss, 6: iat, 4: exp, "tnt": tenant, "seq": uint, "bits": bstr }
//
// "seq" counts the tenant's revocations and never goes down; a branch
// keeps the newest list it has verified and refuses one with a lower seq or
// an earlier iat (a replayed old list would un-revoke credentials). "exp"
// bounds how long a branch may work offline on it: after it, every
// credential is refused until a fresh list arrives.

import (
	"fmt"
	"time"
)

// MaxStatusBits bounds a status list (and so a tenant's credentials).
const MaxStatusBits = 1 << 23

// StatusList is a verified (or freshly built) status list.
type StatusList struct {
	Issuer   string `cbor:"1,keyasint"`
	IssuedAt int64  `cbor:"6,keyasint"`
	Expiry   int64  `cbor:"4,keyasint"`
	Tenant   string `cbor:"tnt"`
	Seq      uint64 `cbor:"seq"`
	Bits     []byte `cbor:"bits"`
}

// Revoked reports whether index i is revoked. An index past the list's end
// was issued after the list: it is unknown, and refused.
func (s *StatusList) Revoked(i uint32) (revoked, known bool) {
	if int(i/8) >= len(s.Bits) {
		return false, false
	}
	return s.Bits[i/8]&(1<<(i%8)) != 0, true
}

// Age returns how old the list is at now.
func (s *StatusList) Age(now time.Time) time.Duration { return now.Sub(time.Unix(s.IssuedAt, 0)) }

// SignStatusList signs s.
func SignStatusList(k *IssuerKey, s StatusList) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	payload, err := marshal(&s)
	if err != nil {
		return nil, err
	}
	return signSign1(k.signer, k.kid[:], payload)
}

func (s *StatusList) check() error {
	switch {
	case !textOK(s.Issuer, maxIDText), !textOK(s.Tenant, maxIDText):
		return fmt.Errorf("%w: status list iss and tnt", ErrMalformed)
	case s.IssuedAt <= 0 || s.Expiry <= s.IssuedAt:
		return fmt.Errorf("%w: status list iat and exp", ErrMalformed)
	case len(s.Bits) > MaxStatusBits/8:
		return fmt.Errorf("%w: status list longer than %d bits", ErrMalformed, MaxStatusBits)
	}
	return nil
}

// ParseStatusList verifies a signed status list against the issuer keys
// and returns it. Its freshness is the caller's (Trust.Update).
func ParseStatusList(b []byte, keys KeySet) (*StatusList, error) {
	if len(b) > MaxStatusBits/8+1024 {
		return nil, fmt.Errorf("%w: status list too long", ErrMalformed)
	}
	m, err := parseSign1(b)
	if err != nil {
		return nil, err
	}
	var s StatusList
	if err := unmarshal(m.Payload, &s); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	pub, ok := keys[[kidLen]byte(m.Unprotected.Kid)]
	if !ok {
		return nil, fmt.Errorf("%w: unknown issuer key", ErrSignature)
	}
	if err := m.verify(pub); err != nil {
		return nil, err
	}
	return &s, nil
}
