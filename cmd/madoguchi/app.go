package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/fraud"
	"github.com/madoguchi/madoguchi/internal/cluster"
	"github.com/madoguchi/madoguchi/internal/periodic"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/revoke"
	"github.com/madoguchi/madoguchi/signin"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/txauth"
	"github.com/madoguchi/madoguchi/vault"
)

// Deployment modes. In development, missing keys are generated under the data
// directory with one warning; in production every key, trust anchor and
// policy must already exist, and test anchors are refused.
const (
	modeDevelopment = "development"
	modeProduction  = "production"
)

// app holds the server's long-lived components, wired once at start-up.
type app struct {
	mode  string
	data  dataFlags
	log   *slog.Logger
	db    *store.DB
	audit *audit.Log
	kek   keyring
	vault *vault.Vault
	blobs *blob.Store
	// tenants holds tenants and API clients; issuer authenticates clients
	// and their access tokens.
	tenants *tenant.Registry
	issuer  *tenant.Issuer
	// revocations keeps in-memory credential caches honest (package
	// revoke); serve runs it. Nil when the token cache is off.
	revocations *revoke.Watcher
	// instances is this process's entry among the instances sharing the
	// store (package cluster): the rate limits divide by its count. serve
	// runs it; nil elsewhere.
	instances *cluster.Registry
	// oauth is the authorization server (nil: client_credentials only).
	oauth *oauth.Server
	// signin is the production customer step (oauth_wire.go; nil in
	// development and without txauth).
	signin *signin.Authenticator
	// ekyc is the eKYC service, built once by serve (nil: eKYC disabled).
	ekyc *ekyc.Service
	// resultSigner signs eKYC and txauth results (set by newEKYC).
	resultSigner *ekyc.Signer
	// txauth is transaction authentication (txauth_wire.go; nil: disabled).
	txauth *txauth.Service
	// credential is the offline face credential (credential_wire.go; nil: disabled).
	credential *credential.Service
	// face is the face engine eKYC and txauth share (ekyc_wire.go).
	face *lazyFace
	// staff holds staff accounts, sessions and dual-control approvals.
	staff *staff.Directory
	// models is the face model folder, installed in the background.
	models *modelSet
	// faceOnePass runs the face detector once per image instead of on
	// the image and two zoomed-out copies (serve --face-zoom-out off).
	faceOnePass bool
	// faceRecognizer is serve's --face-recognizer ("": the default).
	faceRecognizer string
	// chips verifies chip reads (method ヘ) against <data>/trust (chipwire.go).
	chips *chip.Verifier
	// notify delivers every domain's webhooks (notify_wire.go).
	notify *notify.Notifier
	// fraud runs the cross-session fraud checks (fraud_wire.go).
	fraud *fraud.Service
	// devKeys lists the development keys generated or loaded, for the
	// single start-up warning.
	devKeys []string
	// hsmKeys are keys opened in a PKCS#11 token, closed with the app.
	hsmKeys []io.Closer
}

// keysDir is where key files live under the data directory.
func (d *dataFlags) keysDir() string { return filepath.Join(d.data, "keys") }

// auditOrigin names the audit log in its checkpoints.
const auditOrigin = "madoguchi.local/audit"

// openApp opens the store and loads (or, in development, creates) the keys.
// Nothing in it is fail-open: a missing key in production is an error.
// openTenantApp opens the data directory for an operator command about
// tenantID (no logging, no migration); the tenant must exist.
func openTenantApp(ctx context.Context, mode string, d dataFlags, tenantID string) (*app, error) {
	a, err := openApp(ctx, mode, d, slog.New(slog.DiscardHandler), false)
	if err != nil {
		return nil, err
	}
	if _, err := a.tenants.Tenant(ctx, tenantID); err != nil {
		a.Close()
		return nil, fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	return a, nil
}

func openApp(ctx context.Context, mode string, d dataFlags, log *slog.Logger, migrate bool) (*app, error) {
	if mode != modeDevelopment && mode != modeProduction {
		return nil, usageError{fmt.Sprintf("mode %q: want %s or %s", mode, modeDevelopment, modeProduction)}
	}
	a := &app{mode: mode, data: d, log: log}
	db, err := d.openStore(ctx, migrate)
	if err != nil {
		return nil, err
	}
	a.db = db
	if mode == modeProduction && isDevelopment(d.data) {
		a.Close()
		return nil, fmt.Errorf("production mode: %s was initialised with development keys (%s marker); use a fresh data directory with provisioned keys", d.data, devMarker)
	}
	if err := a.loadKeys(); err != nil {
		a.Close()
		return nil, err
	}
	if len(a.devKeys) > 0 {
		if err := markDevelopment(d.data); err != nil {
			a.Close()
			return nil, err
		}
	}
	if err := a.openDomain(); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// openDomain builds the domain components on top of the store and keys.
func (a *app) openDomain() error {
	be, err := a.data.blobs.backend(a.data.data)
	if err != nil {
		return err
	}
	if a.blobs, err = blob.New(a.db, be); err != nil {
		return err
	}
	if a.vault, err = vault.New(a.kek, a.db, a.audit, vault.WithBlobs(a.blobs)); err != nil {
		return err
	}
	a.tenants = tenant.NewRegistry(a.db, a.audit)
	if a.staff, err = newStaffDirectory(a, nil); err != nil {
		return err
	}
	if a.chips, err = openChips(a.mode, a.data); err != nil {
		return err
	}
	return nil
}

// newIssuer builds the token issuer for the server's public URL: client
// assertions must name it (or its token endpoint) as their audience. With
// cacheSize > 0 validated access tokens are kept in memory (at most
// cacheSize), and a revocation watcher, which the caller must run, keeps
// them honest.
func (a *app) newIssuer(publicURL string, cacheSize int) error {
	base := strings.TrimRight(publicURL, "/")
	cfg := tenant.IssuerConfig{Audiences: oauth.Audiences(base)}
	if cacheSize > 0 {
		w, err := revoke.NewWatcher(a.db, revoke.Config{Logger: a.log})
		if err != nil {
			return err
		}
		a.revocations = w
		cfg.Revocations, cfg.CacheSize = w, cacheSize
	}
	is, err := tenant.NewIssuer(a.db, a.audit, cfg)
	if err != nil {
		return err
	}
	a.issuer = is
	return nil
}

func (a *app) loadKeys() error {
	dir := a.data.keysDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create keys directory: %w", err)
	}
	path := filepath.Join(dir, "audit-signer.key")
	var signer *audit.Signer
	var err error
	if a.mode == modeProduction {
		signer, err = audit.LoadSigner(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("production mode: audit signer key %s is missing: %w", path, err)
		}
	} else {
		var created bool
		signer, created, err = audit.LoadOrCreateDevSigner(path, auditOrigin)
		if created {
			a.devKeys = append(a.devKeys, path)
		}
	}
	if err != nil {
		return err
	}
	if a.audit, err = audit.New(a.db, signer); err != nil {
		return err
	}

	if a.data.kmsAddr != "" {
		// Scale-out: the KEK lives in a transit KMS and never leaves it. A
		// wrong address, token or key name fails here, at start-up.
		t, err := vault.NewTransit(vault.TransitConfig{
			Address: a.data.kmsAddr, Mount: a.data.kmsMount, Key: a.data.kmsKey, Token: a.data.kmsToken,
		})
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := t.KEKStatus(ctx); err != nil {
			return fmt.Errorf("transit KMS: %w", err)
		}
		a.kek = t
		return nil
	}
	kekPath := filepath.Join(dir, "kek.json")
	var kf *vault.KeyFile
	if a.mode == modeProduction {
		kf, err = vault.OpenKeyFile(kekPath)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("production mode: key-encryption key file %s is missing: %w", kekPath, err)
		}
	} else {
		var created bool
		kf, created, err = vault.OpenOrCreateDevKeyFile(kekPath)
		if created {
			a.devKeys = append(a.devKeys, kekPath)
		}
	}
	if err != nil {
		return err
	}
	a.kek = kf
	return nil
}

// keyring is what the server needs of a KEK holder: wrapping for the vault
// and administration for rotation. *vault.KeyFile and *vault.Transit are both.
type keyring interface {
	vault.Keyring
	vault.KeyAdmin
}

var (
	_ keyring = (*vault.KeyFile)(nil)
	_ keyring = (*vault.Transit)(nil)
)

// Close releases what openApp opened.
func (a *app) Close() {
	for _, k := range a.hsmKeys {
		k.Close()
	}
	if a.db != nil {
		a.db.Close()
	}
}

// checkKeys proves the key-encryption key works: a random probe key is
// wrapped and unwrapped.
func (a *app) checkKeys(ctx context.Context) error { return probeKEK(ctx, a.kek) }

// probeKEK wraps and unwraps a random key with kr (serve's readiness check
// and madoguchi doctor).
func probeKEK(ctx context.Context, kr vault.Keyring) error {
	probe := make([]byte, 32)
	if _, err := rand.Read(probe); err != nil {
		return err
	}
	w, err := kr.Wrap(ctx, probe)
	if err != nil {
		return err
	}
	back, err := kr.Unwrap(ctx, w)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(back, probe) != 1 {
		return errors.New("keyring: unwrap returned a different key")
	}
	return nil
}

// sweepBlobs deletes orphaned blobs (written, but their record never
// committed: a crash or a failed request) older than grace, once per grace
// period, until ctx ends. The server owns it.
func (a *app) sweepBlobs(ctx context.Context, grace time.Duration) {
	periodic.Run(ctx, grace, func(ctx context.Context) error {
		rep, err := a.blobs.Sweep(ctx, grace)
		if err == nil {
			a.log.Info("blob sweep", "report", rep)
		}
		return err
	}, func(err error) { a.log.Error("blob sweep failed", "err", err) })
}

// checkpointLoop signs an audit checkpoint every interval (a no-op when the
// log has not grown) until ctx ends. Entries after the latest checkpoint are
// only as trustworthy as the database, so the interval bounds that window.
// Before signing, the log checks that it still extends the previous
// checkpoint: a failure here means tampering and is logged as such.
func (a *app) checkpointLoop(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	periodic.Run(ctx, every, func(ctx context.Context) error {
		_, err := a.audit.Checkpoint(ctx)
		if errors.Is(err, audit.ErrTampered) || errors.Is(err, audit.ErrRollback) {
			a.log.Error("AUDIT LOG INTEGRITY FAILURE: refusing to sign a checkpoint", "err", err)
			return nil
		}
		return err
	}, func(err error) { a.log.Error("audit checkpoint failed", "err", err) })
}
