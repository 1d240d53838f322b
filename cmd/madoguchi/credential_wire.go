package main

// Wiring of package credential (the offline face credential) into the
// server. It runs when transaction authentication runs: the credential's
// template is the customer's face template that txauth enrols from the
// approved eKYC session (reused, never derived twice), and its branch
// policy is the tenant's eKYC policy with the server's face calibration.
//
// Keys: <data>/keys/credential-issuer.key (ES256, PKCS#8, 0600), generated
// in development; in production a missing key is a start-up error (fail
// closed, like every other key: docs/credential.md, "Keys").
// --credential-issuer-key names another file, or a PKCS#11 URI of a key
// held in an HSM (internal/hsm), which is never generated here: an
// unreachable module, a refused PIN, a missing key or one of another type
// stops the start.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/internal/hsm"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/vault"
	"github.com/madoguchi/madoguchi/web"
)

// credentialIssuerName is the credentials' "iss" (short: it is in every QR).
const credentialIssuerName = "madoguchi.local"

// startCredential builds the credential service; a.txauth must be set.
func (a *app) startCredential() error {
	key, err := a.credentialIssuerKey()
	if err != nil {
		return err
	}
	if a.txauth == nil || a.ekyc == nil {
		return errors.New("the offline credential needs transaction authentication")
	}
	cfg := credential.Config{DB: a.db, Audit: a.audit, Vault: a.vault, Issuer: key, IssuerName: credentialIssuerName,
		Customers: credentialCustomers{a.ekyc}, Templates: credentialTemplates{a.txauth}, Reauths: credentialReauths{a.txauth}}
	if a.notify != nil {
		cfg.Notifier = credentialNotifier{a.notify}
	}
	svc, err := credential.New(cfg)
	if err != nil {
		return err
	}
	a.credential = svc
	return nil
}

// credentialIssuerKey opens the issuer key --credential-issuer-key names:
// a PKCS#11 URI, or a file (created only in development, only at the
// default path or the one given).
func (a *app) credentialIssuerKey() (*credential.IssuerKey, error) {
	ref := a.data.credentialKey
	if hsm.IsURI(ref) {
		s, err := hsm.OpenSigner(ref)
		if err != nil {
			return nil, fmt.Errorf("offline credential issuer key (PKCS#11): %w", err)
		}
		key, err := credential.NewIssuerSigner(s)
		if err != nil {
			s.Close()
			return nil, err
		}
		a.hsmKeys = append(a.hsmKeys, s)
		a.log.Info("offline credential issuer key held in an HSM", "kid", key.Kid())
		return key, nil
	}
	path := ref
	if path == "" {
		path = filepath.Join(a.data.keysDir(), "credential-issuer.key")
	}
	var (
		key *credential.IssuerKey
		err error
	)
	if a.mode == modeProduction {
		key, err = credential.LoadIssuerKey(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("production mode: offline credential issuer key %s is missing: %w", path, err)
		}
	} else {
		var created bool
		key, created, err = credential.LoadOrCreateDevIssuerKey(path)
		if created {
			a.log.Warn("DEVELOPMENT KEY: generated the offline credential issuer key", "path", path)
		}
	}
	return key, err
}

// credentialWeb is the web.Config field (nil when credentials are off).
func (a *app) credentialWeb() *web.CredentialConfig {
	if a.credential == nil {
		return nil
	}
	return &web.CredentialConfig{Service: a.credential, Policies: credentialPolicies{a},
		Staff: credentialStaff(a.staff.CheckSession)}
}

// credentialNotifier adapts package notify to credential.Notifier. The
// bodies hold opaque ids only: they are sealed under the tenant's own
// subject, so an erased customer's revocation is still delivered.
type credentialNotifier struct{ n *notify.Notifier }

var _ credential.Notifier = credentialNotifier{}

func (c credentialNotifier) Notify(ctx context.Context, tx *store.Tx, m credential.Notification) error {
	_, err := c.n.Enqueue(ctx, tx, notify.Event{ID: m.ID, Kind: m.Kind, Tenant: m.Tenant, URL: m.URL, ContentType: "application/json",
		Body: m.Body, Subject: vault.SubjectRef{Tenant: m.Tenant, Subject: "credential-events"}})
	if errors.Is(err, notify.ErrInvalidEvent) {
		return fmt.Errorf("%w: %w", credential.ErrInvalidInput, err)
	}
	return err
}

type credentialCustomers struct{ e *ekyc.Service }

func (c credentialCustomers) Customer(ctx context.Context, tenant, id string) (credential.Customer, error) {
	cu, err := c.e.Customer(ctx, tenant, id)
	if errors.Is(err, ekyc.ErrNotFound) {
		return credential.Customer{}, credential.ErrNotFound
	} else if err != nil {
		return credential.Customer{}, err
	}
	return credential.Customer{ID: cu.ID, TenantID: cu.TenantID, Shredded: cu.Shredded()}, nil
}

type credentialTemplates struct{ t *txauth.Service }

func (c credentialTemplates) CredentialTemplate(ctx context.Context, a credential.Actor, tenant, customer string) (face.Template, error) {
	tpl, err := c.t.FaceTemplate(ctx, txauth.Actor{Kind: a.Kind, ID: a.ID, RequestID: a.RequestID}, tenant, customer)
	switch {
	case errors.Is(err, txauth.ErrNotFound):
		return face.Template{}, credential.ErrNotFound
	case errors.Is(err, txauth.ErrShredded):
		return face.Template{}, credential.ErrShredded
	case errors.Is(err, txauth.ErrFactor):
		return face.Template{}, fmt.Errorf("%w: %w", credential.ErrNoTemplate, err)
	}
	return tpl, err
}

type credentialReauths struct{ t *txauth.Service }

func (c credentialReauths) FaceReauthenticated(ctx context.Context, tenant, confirmation, customer string) (_ time.Time, err error) {
	at, err := c.t.FaceReauthenticated(ctx, tenant, confirmation, customer)
	if errors.Is(err, txauth.ErrNotFound) {
		return at, fmt.Errorf("%w: no face re-authentication of this customer in that confirmation", credential.ErrNotFound)
	}
	return at, err
}

// credentialPolicies derives a tenant's branch policy from its eKYC policy
// and the server's face calibration file (the model it was measured for
// and its threshold; the stricter of it and the policy's threshold wins).
type credentialPolicies struct{ a *app }

func (p credentialPolicies) BranchPolicy(ctx context.Context, tenant string) (credential.BranchPolicy, error) {
	pol, _, err := ekyc.LoadPolicy(ctx, p.a.db, tenant)
	if err != nil {
		return credential.BranchPolicy{}, fmt.Errorf("the tenant has no eKYC policy: %w", err)
	}
	fh, err := os.Open(filepath.Join(p.a.data.data, "face-calibration.json"))
	if err != nil {
		return credential.BranchPolicy{}, errors.New("the server has no face calibration: branches cannot decide")
	}
	defer fh.Close()
	cal, err := face.ReadCalibration(fh)
	if err != nil {
		return credential.BranchPolicy{}, err
	}
	return credential.BranchPolicy{Model: cal.Model, Threshold: math.Max(cal.Threshold, pol.FaceMatch.Threshold), TargetFMR: cal.TargetFMR,
		Consistency: pol.FaceMatch.Consistency, MinPAD: pol.Liveness.MinPAD, PAD: pol.Liveness.PAD, YawThreshold: pol.Liveness.YawThreshold,
		EARClosed: pol.Liveness.EARClosed, EAROpen: pol.Liveness.EAROpen, ChallengeSteps: pol.ChallengeSteps, MinFrames: pol.MinSelfieFrames}, nil
}

func credentialStaff(check func(ctx context.Context, token string) (staff.Principal, error)) func(context.Context, string) (credential.Staff, error) {
	return func(ctx context.Context, token string) (credential.Staff, error) {
		p, err := check(ctx, token)
		if errors.Is(err, staff.ErrSession) {
			return credential.Staff{}, fmt.Errorf("%w: %w", web.ErrInvalidToken, err)
		} else if err != nil {
			return credential.Staff{}, err
		}
		st := credential.Staff{ID: p.StaffID, TenantID: p.TenantID}
		for _, r := range p.Roles {
			st.Roles = append(st.Roles, string(r))
		}
		return st, nil
	}
}
