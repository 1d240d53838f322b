package main

// The notifier: one outbox for every domain's webhooks (package notify),
// signed with the Ed25519 key <data>/keys/webhook-signing.pem (generated in
// development, required in production), published at
// /.well-known/webhook-keys.json.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/madoguchi/madoguchi/notify"
)

// notifyEvery is how often the delivery worker looks for due events.
const notifyEvery = 2 * time.Second

func (a *app) webhookKeyPath() string { return filepath.Join(a.data.keysDir(), "webhook-signing.pem") }

// newNotifier builds the notifier once per process: the API, eKYC and the
// worker share it.
func (a *app) newNotifier() (*notify.Notifier, error) {
	if a.notify != nil {
		return a.notify, nil
	}
	path := a.webhookKeyPath()
	var (
		s   *notify.Signer
		err error
	)
	if a.mode == modeProduction {
		s, err = notify.LoadSigner(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("production mode: webhook signing key %s is missing: %w", path, err)
		}
	} else {
		var created bool
		s, created, err = notify.LoadOrCreateDevSigner(path)
		if created {
			a.log.Warn("DEVELOPMENT KEY: generated the webhook signing key; it must never sign real webhooks", "file", path)
		}
	}
	if err != nil {
		return nil, err
	}
	n, err := notify.New(notify.Config{DB: a.db, Audit: a.audit, Vault: a.vault, Signer: s, Logger: a.log,
		// Development servers deliver to plain-HTTP test receivers on loopback.
		AllowInsecure: a.mode == modeDevelopment})
	if err != nil {
		return nil, err
	}
	a.notify = n
	return n, nil
}

// runNotify delivers webhooks until ctx ends.
func (a *app) runNotify(ctx context.Context) {
	w := a.notify.Start(ctx, notifyEvery)
	<-ctx.Done()
	w.Stop()
}
