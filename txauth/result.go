package txauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
)

// ResultType is the JWS "typ" of a confirmation's signed result.
const ResultType = "madoguchi-txauth-result+jwt"

// HashAlg names how TransactionHash is computed: SHA-256 over the RFC 8785
// canonical JSON of the transaction (Transaction.Canonical).
const HashAlg = "sha-256/jcs"

// Event and notice types sent to the tenant.
const (
	EventDecided = "txauth.confirmation.decided"
	EventAlert   = "txauth.alert"
	// EventNotice asks the tenant to tell the customer on the customer's
	// own channel (app, mail): Notice names what happened.
	EventNotice = "txauth.customer.notice"

	NoticeDecided     = "confirmation"      // + ".confirmed", ".rejected", ".expired"
	NoticeCardWarning = "card.last_attempt" // one failure left before the card locks
	NoticeCardLocked  = "card.locked"
	NoticeFaceWarning = "face.last_attempt" // one refusal left before face re-authentication locks
	NoticeFaceLocked  = "face.locked"
	NoticeMismatch    = "confirmation.mismatch_reported"
)

// Result is the signed outcome of a confirmation. TransactionHash binds it
// to the exact transaction the customer saw: the relying service compares
// it with the hash of its own copy.
type Result struct {
	Issuer          string    `json:"iss"`
	Audience        string    `json:"aud"`
	IssuedAt        int64     `json:"iat"`
	EventID         string    `json:"event_id"`
	Confirmation    string    `json:"confirmation"`
	Customer        string    `json:"customer"`
	Reference       string    `json:"reference,omitempty"`
	Kind            Kind      `json:"kind"`
	TransactionHash string    `json:"transaction_hash"`
	HashAlg         string    `json:"hash_alg"`
	Outcome         State     `json:"outcome"`
	Required        []Factor  `json:"required"`
	Factors         []Factor  `json:"factors"`
	Signals         []string  `json:"signals"`
	DecidedAt       time.Time `json:"decided_at"`
}

func eventID(confirmation string) string { return "evt_" + confirmation }

func (s *Service) resultOf(c *Confirmation, to State, now time.Time) *Result {
	return &Result{Issuer: s.cfg.PublicURL, Audience: c.TenantID, IssuedAt: now.Unix(), EventID: eventID(c.ID),
		Confirmation: c.ID, Customer: c.CustomerID, Reference: c.Reference, Kind: c.Kind, TransactionHash: b64(c.TxHash[:]),
		HashAlg: HashAlg, Outcome: to, Required: c.Required, Factors: c.Satisfied, Signals: c.Assessment.Signals, DecidedAt: now}
}

// Result returns the signed result of a final confirmation (ErrState while
// pending); the read is audited.
func (s *Service) Result(ctx context.Context, a Actor, tenant, id string) (string, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return "", err
	}
	if !c.State.Final() {
		return "", fmt.Errorf("%w: the confirmation is still pending", ErrState)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, a, tenant, "txauth.result.read", c.ID, audit.OutcomeOK, nil)
	})
	return c.Result, err
}

// VerifyResult checks a result JWS against the published key set and
// decodes it (relying services and tests).
func VerifyResult(jws string, jwks []byte) (*Result, error) {
	b, err := ekyc.VerifyTyped(jws, jwks, ResultType)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, errors.Join(ekyc.ErrSignature, err)
	}
	return &r, nil
}

// notice queues an EventNotice for the tenant to forward to the customer.
func (s *Service) notice(ctx context.Context, tx *store.Tx, url, tenant, customer, object, what string) error {
	id, err := s.newID("evt_")
	if err != nil {
		return err
	}
	payload, _ := json.Marshal(map[string]any{"iss": s.cfg.PublicURL, "aud": tenant, "iat": s.now().Unix(), "event_id": id,
		"type": EventNotice, "customer": customer, "object": object, "notice": what})
	jws, err := s.cfg.Signer.SignTyped(EventType, payload)
	if err != nil {
		return err
	}
	subj, err := s.subjectOf(ctx, tx, tenant, customer)
	if err != nil {
		return err
	}
	return s.cfg.Notifier.Notify(ctx, tx, Notification{TenantID: tenant, EventID: id, Type: EventNotice, URL: url, Payload: jws, Subject: subj})
}

// EventType is the JWS "typ" of alerts and customer notices.
const EventType = "madoguchi-txauth-event+jwt"
