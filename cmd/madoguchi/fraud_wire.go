package main

// Wiring of package fraud: one *fraud.Service per process (app.fraud),
// consulted by eKYC through ekyc.FraudChecks (fraudChecks below), its
// gallery index loaded at start and kept current by runFraudJobs, and the
// dual-control approval kind fraud.watchlist that activates a staged list.
//
// Key: the digests the fraud checks store are keyed by the server's reuse
// secret, <data>/keys/ekyc-chip-reuse.key (fraudKey), which also keys
// eKYC's chip-reuse digests. Changing it forgets every earlier chip,
// document, identity and velocity key.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/fraud"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
)

// fraudSyncEvery is how often a server applies the gallery changes other
// instances made (new approvals; shredded subjects are never reported in
// any case: every hit is confirmed in the store).
const fraudSyncEvery = 5 * time.Second

// Approval kinds of package fraud: KindFraudWatchlist activates a staged
// watchlist version (filed by `madoguchi fraud watchlist import`);
// KindFraudPolicySet stores a fraud policy change that weakens a check
// (filed by `madoguchi fraud policy set`).
const (
	KindFraudWatchlist = "fraud.watchlist"
	KindFraudPolicySet = "fraud.policy.set"
)

// fraudKey is the server secret of the fraud digests: the one secret that
// keys every reuse digest, <data>/keys/ekyc-chip-reuse.key (chipReuseKey:
// created in development, required in production). Package fraud keeps
// its digests apart from eKYC's chip digests by their labels
// (fraud.Key.Digest, ekyc.ChipReuseDigest), so one provisioned secret
// serves both and there is one key to rotate.
func (a *app) fraudKey() (*fraud.Key, error) {
	if _, err := a.chipReuseKey(); err != nil {
		return nil, err
	}
	return fraud.LoadKey(filepath.Join(a.data.keysDir(), "ekyc-chip-reuse.key"))
}

// fraudService returns the process's fraud service, building it once.
func (a *app) fraudService() (*fraud.Service, error) {
	if a.fraud != nil {
		return a.fraud, nil
	}
	k, err := a.fraudKey()
	if err != nil {
		return nil, err
	}
	svc, err := fraud.New(fraud.Config{DB: a.db, Audit: a.audit, Vault: a.vault, Key: k, Logger: a.log})
	if err != nil {
		return nil, err
	}
	a.fraud = svc
	return svc, nil
}

// runFraudJobs loads the gallery index (retrying until it succeeds: until
// then duplicate searches leave sessions submitted) and then syncs it.
func (a *app) runFraudJobs(ctx context.Context, svc *fraud.Service) {
	t := time.NewTicker(fraudSyncEvery)
	defer t.Stop()
	loaded := false
	for {
		if !loaded {
			start := time.Now()
			n, err := svc.Load(ctx)
			if err != nil {
				a.log.Error("fraud: gallery index load failed; retrying", "err", err)
			} else {
				loaded = true
				a.log.Info("fraud: gallery index loaded", "entries", n, "took", time.Since(start).Round(time.Millisecond))
			}
		} else if err := svc.Sync(ctx); err != nil {
			a.log.Error("fraud: gallery sync failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fraudChecks adapts *fraud.Service to ekyc.FraudChecks.
type fraudChecks struct{ s *fraud.Service }

var _ ekyc.FraudChecks = fraudChecks{}

func (f fraudChecks) Check(ctx context.Context, in ekyc.FraudInput) ([]ekyc.FraudFinding, error) {
	fs, err := f.s.Check(ctx, fraud.Input{
		Tenant: in.Tenant, Session: in.Session, Subject: in.Subject, Face: in.Face, FaceThreshold: in.FaceThreshold,
		Name: in.Name, BirthDate: in.BirthDate, DocumentKind: in.DocumentKind, DocumentCountry: in.DocumentCountry,
		DocumentNumber: in.DocumentNumber, Device: in.Device, At: in.At,
	})
	if errors.Is(err, fraud.ErrNotReady) {
		return nil, fmt.Errorf("%w: %w", ekyc.ErrFraudNotReady, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]ekyc.FraudFinding, len(fs))
	for i, x := range fs {
		out[i] = ekyc.FraudFinding{Code: x.Code, Detail: x.Detail, Sessions: x.Sessions, Entry: x.Entry}
	}
	return out, nil
}

func (f fraudChecks) Approved(ctx context.Context, tx *store.Tx, tenant, session string) error {
	return f.s.Approved(ctx, tx, tenant, session)
}

func (f fraudChecks) Forget(ctx context.Context, tx *store.Tx, tenant, subject string) error {
	return f.s.Forget(ctx, tx, tenant, subject)
}

func (f fraudChecks) Observe(ctx context.Context, tenant, session, subject, kind, value string, at time.Time) error {
	return f.s.Observe(ctx, tenant, session, subject, kind, value, at)
}

// parseListActivation decodes a fraud.watchlist approval payload.
func parseListActivation(b []byte) (fraud.ListActivation, error) {
	var p fraud.ListActivation
	if err := decodeStrict(b, &p, KindFraudWatchlist); err != nil {
		return p, err
	}
	if p.Tenant == "" || p.List == "" || p.Version < 1 || len(p.SHA256) != 64 || p.Entries < 1 {
		return p, errors.New("fraud.watchlist payload: tenant, list, version, sha256 and entries are required")
	}
	return p, nil
}

// fraudExecutors are the approval executors of package fraud.
func fraudExecutors(a *app) map[string]staff.Executor {
	return map[string]staff.Executor{
		KindFraudWatchlist: {
			Validate: func(b []byte) error { _, err := parseListActivation(b); return err },
			Run: func(ctx context.Context, tx *store.Tx, ap staff.Approval, by staff.Actor) error {
				p, err := parseListActivation(ap.Payload)
				if err != nil {
					return err
				}
				svc, err := a.fraudService()
				if err != nil {
					return err
				}
				return svc.ActivateList(ctx, tx, fraud.Actor{Kind: by.Kind, ID: by.ID, RequestID: by.RequestID}, p)
			},
		},
		KindFraudPolicySet: {
			Validate: func(b []byte) error { _, err := parsePolicyChange(b); return err },
			Run: func(ctx context.Context, tx *store.Tx, ap staff.Approval, by staff.Actor) error {
				p, err := parsePolicyChange(ap.Payload)
				if err != nil {
					return err
				}
				svc, err := a.fraudService()
				if err != nil {
					return err
				}
				_, err = svc.ApplyPolicyChange(ctx, tx, fraud.Actor{Kind: by.Kind, ID: by.ID, RequestID: by.RequestID}, p,
					map[string]string{"approval": ap.ID, "requester": ap.Requester, "weakening": "true"})
				return err
			},
		},
	}
}

func parsePolicyChange(b []byte) (fraud.PolicyChange, error) {
	var p fraud.PolicyChange
	if err := decodeStrict(b, &p, KindFraudPolicySet); err != nil {
		return p, err
	}
	if p.Tenant == "" || p.BaseVersion < 0 {
		return p, errors.New("fraud.policy.set payload: tenant_id and base_version are required")
	}
	return p, p.Policy.Validate()
}

// listActivationPayload is the approval payload for a staged version.
func listActivationPayload(st *fraud.Staged) ([]byte, error) {
	return json.Marshal(fraud.ListActivation{Tenant: st.Tenant, List: st.List, Version: st.Version, SHA256: st.SHA256, Entries: st.Entries})
}
