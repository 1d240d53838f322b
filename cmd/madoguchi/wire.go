package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/web"
)

// This file adapts domain packages to the small interfaces the HTTP layer
// declares, translating errors at the trust boundary: the domain's reasons
// stay in the log, the client sees the OAuth/HTTP category.

// tenantAuth adapts tenant.Issuer to web.Auth.
type tenantAuth struct{ is *tenant.Issuer }

var _ web.Auth = tenantAuth{}

func (a tenantAuth) Authenticate(ctx context.Context, token string, peer *x509.Certificate) (web.Principal, error) {
	p, err := a.is.Authenticate(ctx, token, peer)
	if err != nil {
		return web.Principal{}, authError(err)
	}
	return web.Principal{TenantID: p.TenantID, ClientID: p.ClientID, Scopes: p.Scopes}, nil
}

// authError maps tenant's token errors to the web sentinel, keeping the
// cause.
func authError(err error) error {
	if errors.Is(err, tenant.ErrInvalidToken) || errors.Is(err, tenant.ErrTokenExpired) {
		return fmt.Errorf("%w: %w", web.ErrInvalidToken, err)
	}
	return err
}

// auditLog adapts audit.Log to web.AuditLog.
type auditLog struct{ l *audit.Log }

var _ web.AuditLog = auditLog{}

func (a auditLog) Checkpoint(ctx context.Context) ([]byte, error) { return a.l.Checkpoint(ctx) }

func (a auditLog) VerifierKey() string { return a.l.VerifierKey() }

func (a auditLog) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	p, err := a.l.InclusionProof(ctx, index, size)
	return p, rangeError(err)
}

func (a auditLog) ConsistencyProof(ctx context.Context, oldSize, newSize uint64) ([][]byte, error) {
	p, err := a.l.ConsistencyProof(ctx, oldSize, newSize)
	return p, rangeError(err)
}

func (a auditLog) Entry(ctx context.Context, index uint64) (string, []byte, error) {
	t, leaf, err := a.l.Entry(ctx, index)
	return t, leaf, rangeError(err)
}

func rangeError(err error) error {
	if errors.Is(err, audit.ErrRange) {
		return fmt.Errorf("%w: %w", web.ErrProofRange, err)
	}
	return err
}

// staffSessions adapts staff.Directory to web.StaffSessions.
type staffSessions struct{ d *staff.Directory }

var _ web.StaffSessions = staffSessions{}

func (s staffSessions) Login(ctx context.Context, username, password, code, source string) (string, time.Time, error) {
	sess, err := s.d.AuthenticateFrom(ctx, username, password, code, web.RequestID(ctx), source)
	var be *staff.BackoffError
	switch {
	case errors.As(err, &be):
		return "", time.Time{}, &web.SignInBackoffError{RetryAfter: be.RetryAfter}
	case errors.Is(err, staff.ErrBusy):
		return "", time.Time{}, fmt.Errorf("%w: %w", web.ErrBusy, err)
	case errors.Is(err, staff.ErrInvalidCredentials):
		return "", time.Time{}, fmt.Errorf("%w: %w", web.ErrInvalidCredentials, err)
	case err != nil:
		return "", time.Time{}, err
	}
	return sess.Token.Reveal(), sess.ExpiresAt, nil
}

func (s staffSessions) Logout(ctx context.Context, token string) error {
	err := s.d.Logout(ctx, token)
	if errors.Is(err, staff.ErrSession) {
		return fmt.Errorf("%w: %w", web.ErrInvalidToken, err)
	}
	return err
}
