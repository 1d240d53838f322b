package main

// Wiring of package ekyc into the server. The service is stateless over
// the record store; serve builds it once (newEKYC) and both the HTTP side
// (ekycWeb, called from webConfig) and the background jobs (runEKYCJobs,
// owned by serve's context) use that one *ekyc.Service.
//
// Keys: the result-signing key (ES256) lives at <data>/keys/ekyc-result.pem.
// A development server creates it on first start (0600, with a warning); a
// production server refuses the eKYC API without it, and LoadSigner refuses
// a file readable by group or others.
//
// Engines: chip verification uses the Japanese trust anchors under
// <data>/trust/<kind> (test anchors only in development); the face engine is
// loaded once the pinned models are verified, with the calibration file
// <data>/face-calibration.json if present. Until the models are ready the
// engine answers busy, so submitted sessions wait (DecidePending decides
// them later); without a calibration every face match is referred to a
// reviewer. Nothing here can approve by default.

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/web"
)

// ekycJobsEvery is the background jobs' tick (webhooks, expiry, pending
// decisions, retention).
const ekycJobsEvery = 5 * time.Second

// newEKYC builds the eKYC service for the server at publicURL.
func (a *app) newEKYC(publicURL string) (*ekyc.Service, error) {
	keyPath := filepath.Join(a.data.keysDir(), "ekyc-result.pem")
	var (
		signer *ekyc.Signer
		err    error
	)
	if a.mode == modeProduction {
		signer, err = ekyc.LoadSigner(keyPath)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("production mode: eKYC result signing key %s is missing: %w", keyPath, err)
		}
	} else {
		var created bool
		signer, created, err = ekyc.LoadOrCreateDevSigner(keyPath)
		if created {
			a.log.Warn("DEVELOPMENT KEY: generated the eKYC result signing key; it must never sign real results", "file", keyPath)
		}
	}
	if err != nil {
		return nil, err
	}
	reuseKey, err := a.chipReuseKey()
	if err != nil {
		return nil, err
	}
	a.resultSigner = signer
	nt, err := a.newNotifier()
	if err != nil {
		return nil, err
	}
	fr, err := a.fraudService()
	if err != nil {
		return nil, err
	}
	return ekyc.New(ekyc.Config{
		Fraud:  fraudChecks{fr},
		Notify: nt,
		DB:     a.db, Audit: a.audit, Vault: a.vault, Blobs: a.blobs,
		Face:         a.faceEngine(),
		Chips:        heChips{a.chips},
		Signer:       signer,
		ChipReuseKey: reuseKey,
		JPKI:         a.jpkiForEKYC(),
		PublicURL:    publicURL,
		Logger:       a.log,
		Reviewers:    a.staff, // a claim ends with its holder's staff session
		// Development servers deliver to plain-HTTP test receivers.
		AllowInsecureWebhooks: a.mode == modeDevelopment,
	})
}

// chipReuseKey loads <data>/keys/ekyc-chip-reuse.key, the secret that keys
// chip-reuse digests: created on first start in development (with a
// warning), required in production. Changing it forgets every earlier
// chip for reuse detection.
func (a *app) chipReuseKey() (*ekyc.ReuseKey, error) {
	path := filepath.Join(a.data.keysDir(), "ekyc-chip-reuse.key")
	if a.mode == modeProduction {
		k, err := ekyc.LoadReuseKey(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("production mode: eKYC chip-reuse key %s is missing (32 random bytes as hex, mode 0600): %w", path, err)
		}
		return k, err
	}
	k, created, err := ekyc.LoadOrCreateDevReuseKey(path)
	if created {
		a.log.Warn("DEVELOPMENT KEY: generated the eKYC chip-reuse key", "file", path)
	}
	return k, err
}

// ekycWeb is the web.Config field: the eKYC API, or nil (routes absent,
// logged as an error) if the service cannot be built. The review API
// authenticates staff session tokens with the staff directory.
func (a *app) ekycWeb() *web.EKYCConfig {
	if a.ekyc == nil {
		return nil
	}
	return &web.EKYCConfig{Service: a.ekyc, Staff: staffReviewer(a.staff.CheckSession)}
}

// staffReviewer adapts a staff session check to the review API: a bad or
// expired session is web.ErrInvalidToken (401); roles and the account's
// tenant are passed on, and the ekyc service requires "reviewer" and
// scopes every call.
func staffReviewer(check func(ctx context.Context, token string) (staff.Principal, error)) func(context.Context, string) (ekyc.Staff, error) {
	return func(ctx context.Context, token string) (ekyc.Staff, error) {
		p, err := check(ctx, token)
		if errors.Is(err, staff.ErrSession) {
			return ekyc.Staff{}, fmt.Errorf("%w: %w", web.ErrInvalidToken, err)
		} else if err != nil {
			return ekyc.Staff{}, err
		}
		// The ekyc service scopes the review: a tenant's reviewer sees its
		// own tenant's sessions, an operator reviewer (TenantID "") only
		// those of tenants whose policy has operator_review.
		st := ekyc.Staff{ID: p.StaffID, TenantID: p.TenantID}
		for _, r := range p.Roles {
			st.Roles = append(st.Roles, string(r))
		}
		return st, nil
	}
}

// runEKYCJobs runs the eKYC background jobs until ctx ends.
func (a *app) runEKYCJobs(ctx context.Context) {
	w := a.ekyc.StartWorker(ctx, ekycJobsEvery)
	<-ctx.Done()
	w.Stop()
}

func (a *app) modelsDir() string {
	if a.models != nil {
		return a.models.dir
	}
	return filepath.Join(a.data.data, "models")
}

// lazyFace loads the face engine once the models are verified.
type lazyFace struct {
	models      *modelSet
	dir         string
	calibration string
	onePass     bool   // face.Config.NoZoomOut
	recognizer  string // face.LoadOptions.Recognizer ("": the default)
	mu          sync.Mutex
	eng         *face.Engine
	cal         *face.Calibration // the loaded engine's, nil if none
	err         error
}

var (
	_ ekyc.FaceEngine          = (*lazyFace)(nil)
	_ ekyc.ImageAnalyzer       = (*lazyFace)(nil)
	_ ekyc.CalibrationReporter = (*lazyFace)(nil)
)

func (l *lazyFace) engine() (*face.Engine, error) {
	if l.models == nil || !l.models.ready() {
		return nil, fmt.Errorf("face models not ready: %w", face.ErrBusy)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.eng != nil || l.err != nil {
		return l.eng, l.err
	}
	cfg := face.Config{NoZoomOut: l.onePass}
	if fh, err := os.Open(l.calibration); err == nil {
		cal, err := face.ReadCalibration(fh)
		fh.Close()
		if err != nil {
			l.err = fmt.Errorf("%s: %w", l.calibration, err)
			return nil, l.err
		}
		cfg.Calibration, l.cal = cal, cal
	}
	l.eng, l.err = face.Load(l.dir, face.LoadOptions{Recognizer: l.recognizer, Config: cfg})
	return l.eng, l.err
}

func (l *lazyFace) AnalyzeImage(ctx context.Context, img []byte) ([]face.Face, error) {
	eng, err := l.engine()
	if err != nil {
		return nil, err
	}
	fs, _, err := eng.AnalyzeBytes(ctx, img)
	return fs, err
}

func (l *lazyFace) Model() string {
	if eng, err := l.engine(); err == nil {
		return eng.Model()
	}
	return "unloaded"
}

// Analyze lets the ホ document checks find the printed portrait
// (ekyc.ImageAnalyzer).
func (l *lazyFace) Analyze(ctx context.Context, img *image.RGBA) ([]face.Face, error) {
	eng, err := l.engine()
	if err != nil {
		return nil, err
	}
	return eng.Analyze(ctx, img)
}

// CalibrationFMR states the loaded calibration's FMR
// (ekyc.CalibrationReporter); the policy's target must not be stricter.
func (l *lazyFace) CalibrationFMR() (float64, bool) {
	if _, err := l.engine(); err != nil || l.cal == nil {
		return 0, false
	}
	return l.cal.TargetFMR, true
}

func (l *lazyFace) Decide(s face.Score) (face.Decision, error) {
	eng, err := l.engine()
	if err != nil {
		return face.Refer, face.ErrUncalibrated
	}
	return eng.Decide(s)
}

// heChips is the server's chip verifier (document/chip, anchors loaded once
// at start-up; test anchors only in development) restricted to the
// Japanese cards: an ICAO passport alone does not prove the address, so it
// is not accepted for method ヘ.
type heChips struct{ v *chip.Verifier }

var _ ekyc.ChipVerifier = heChips{}

func (c heChips) Verify(ctx context.Context, kind document.Kind, files map[string][]byte, challenge []byte) (*document.Evidence, error) {
	if kind == document.KindICAO {
		return nil, fmt.Errorf("%w: passports are not accepted for method he", document.ErrNotAccepted)
	}
	return c.v.Verify(ctx, kind, files, challenge)
}

// faceEngine is the server's one lazily loaded face engine, shared by eKYC
// and transaction authentication.
func (a *app) faceEngine() *lazyFace {
	if a.face == nil {
		a.face = &lazyFace{models: a.models, dir: a.modelsDir(), calibration: filepath.Join(a.data.data, "face-calibration.json"), onePass: a.faceOnePass,
			recognizer: a.faceRecognizer}
	}
	return a.face
}
