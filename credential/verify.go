package credential

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/face"
)

// Offline verification errors (each a refusal the branch shows).
var (
	ErrExpired       = errors.New("credential: expired")
	ErrNotYetValid   = errors.New("credential: not yet valid")
	ErrRevoked       = errors.New("credential: revoked")
	ErrOtherTenant   = errors.New("credential: issued for another tenant")
	ErrOtherIssuer   = errors.New("credential: issued by another issuer")
	ErrModel         = errors.New("credential: recogniser model not run here")
	ErrStatusStale   = errors.New("credential: the status list is too old or missing")
	ErrStatusUnknown = errors.New("credential: the status list does not cover this credential")
	ErrStatusReplay  = errors.New("credential: status list older than the one held")
)

// clockSkew tolerates a branch PC's clock running behind the issuer's.
const clockSkew = 5 * time.Minute

// Trust is what a branch verifies against, all of it cached on the device:
// the issuer's keys, the tenant it serves, the tenant's branch keys, the
// newest status list and the models its face engine runs.
type Trust struct {
	Issuer     string
	Keys       KeySet
	Tenant     string
	BranchKeys map[uint32]*ecdh.PrivateKey
	Status     *StatusList
	Models     []string
}

// Update replaces the status list with s if s is for this tenant and
// issuer and not older than the one held (ErrStatusReplay otherwise).
func (t *Trust) Update(s *StatusList) error {
	if s.Tenant != t.Tenant || s.Issuer != t.Issuer {
		return fmt.Errorf("%w: status list of another tenant or issuer", ErrOtherTenant)
	}
	if t.Status != nil && (s.Seq < t.Status.Seq || s.IssuedAt < t.Status.IssuedAt) {
		return ErrStatusReplay
	}
	t.Status = s
	return nil
}

// Verified is a credential that passed every offline check, with its
// template decrypted (biometric data: memory only, never logged).
type Verified struct {
	Claims   Claims
	Template face.Template
}

// Verify checks a credential's QR text offline, in this order: structure,
// issuer signature, issuer and tenant, validity times, status list
// (present, unexpired, covering the index, not revoked), model, and the
// template's decryption. The first failure is returned, wrapped with the
// parsed claims where it has them (see Refusal).
func (t *Trust) Verify(text string, now time.Time) (*Verified, error) {
	p, err := Parse(text)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Verified, error) { return nil, &Refusal{Claims: p.Claims, Err: err} }
	if err := p.VerifySignature(t.Keys); err != nil {
		return fail(err)
	}
	c := &p.Claims
	if c.Issuer != t.Issuer {
		return fail(ErrOtherIssuer)
	}
	if c.Tenant != t.Tenant {
		return fail(ErrOtherTenant)
	}
	iat, exp := c.times()
	if now.Add(clockSkew).Before(iat) {
		return fail(ErrNotYetValid)
	}
	if !now.Before(exp) {
		return fail(ErrExpired)
	}
	if t.Status == nil || !now.Before(time.Unix(t.Status.Expiry, 0)) {
		return fail(ErrStatusStale)
	}
	revoked, known := t.Status.Revoked(c.StatusIndex)
	if revoked {
		return fail(ErrRevoked)
	}
	if !known {
		return fail(ErrStatusUnknown)
	}
	if err := c.ResolveModel(t.Models); err != nil {
		return fail(err)
	}
	compact, err := p.OpenTemplate(t.BranchKeys)
	if err != nil {
		return fail(err)
	}
	tpl, err := Expand(c.Model, compact)
	if err != nil {
		return fail(err)
	}
	return &Verified{Claims: *c, Template: tpl}, nil
}

// Refusal is a credential refused after its structure parsed: the claims
// say which credential (for the log), Err why.
type Refusal struct {
	Claims Claims
	Err    error
}

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }
