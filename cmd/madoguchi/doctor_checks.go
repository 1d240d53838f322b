package main

// The checks of madoguchi doctor (doctor.go). Each opens what it checks with
// the loader the server uses, so a check passes exactly when the server
// would accept the same file or service.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/document/trust"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/face/models"
	"github.com/madoguchi/madoguchi/internal/hsm"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
)

// Thresholds of the checks.
const (
	doctorClockWarn      = 2 * time.Second
	doctorClockFail      = 30 * time.Second
	doctorTLSWarn        = 30 * 24 * time.Hour // certificate expiry
	doctorCRLWarn        = 48 * time.Hour      // a CRL's nextUpdate this close
	doctorMasterListWarn = 120 * 24 * time.Hour
	doctorWebhookWindow  = 30 * 24 * time.Hour
	doctorMaxProbes      = 20
)

func (d *doctor) production() bool { return d.mode == modeProduction }

// missing is the status of something the server generates in development
// and requires in production.
func (d *doctor) missing() checkStatus {
	if d.production() {
		return statusFail
	}
	return statusWarn
}

func (d *doctor) checkDataDir(_ context.Context) []finding {
	st, err := os.Stat(d.data.data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []finding{fail("data.missing", d.data.data)}
	case err != nil:
		return []finding{fail("data.unreadable", d.data.data, err)}
	case !st.IsDir():
		return []finding{fail("data.notdir", d.data.data)}
	case st.Mode().Perm()&0o077 != 0:
		return []finding{warn("data.perm", d.data.data, fmt.Sprintf("%04o", st.Mode().Perm()))}
	}
	return []finding{ok("data.ok", d.data.data)}
}

// doctorKey is a key file the server loads, with its loader.
type doctorKey struct {
	name     string
	load     func(path string) error
	optional bool // the server runs without it (a feature is off)
}

func doctorKeys(kms bool) []doctorKey {
	keys := []doctorKey{
		{name: "audit-signer.key", load: func(p string) error { _, err := audit.LoadSigner(p); return err }},
		{name: "webhook-signing.pem", load: func(p string) error { _, err := notify.LoadSigner(p); return err }},
		{name: "ekyc-result.pem", load: func(p string) error { _, err := ekyc.LoadSigner(p); return err }},
		{name: "ekyc-chip-reuse.key", load: func(p string) error { _, err := ekyc.LoadReuseKey(p); return err }},
		{name: "credential-issuer.key", load: func(p string) error { _, err := credential.LoadIssuerKey(p); return err }, optional: true},
		{name: "oauth-signer.key", load: func(p string) error { _, _, err := oauth.LoadOrCreateSigner(p, false); return err }},
	}
	if !kms {
		keys = append(keys, doctorKey{name: "kek.json", load: func(p string) error { _, err := vault.OpenKeyFile(p); return err }})
	}
	return keys
}

// checkKeyFiles: every file under <data>/keys is owner-only, and each key
// the server loads is present and loads.
func (d *doctor) checkKeyFiles(_ context.Context) []finding {
	dir := d.data.keysDir()
	var out []finding
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		out = append(out, warn("keys.dirperm", dir, fmt.Sprintf("%04o", st.Mode().Perm())).about(dir))
	}
	lax := map[string]bool{}
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			lax[p] = true
			out = append(out, fail("keys.perm", p, fmt.Sprintf("%04o", perm)).about(p))
		}
		return nil
	})
	for _, k := range doctorKeys(d.data.kmsAddr != "") {
		p := filepath.Join(dir, k.name)
		if k.name == "credential-issuer.key" && d.data.credentialKey != "" {
			if hsm.IsURI(d.data.credentialKey) {
				out = append(out, checkHSMIssuerKey(d.data.credentialKey).about(k.name))
				continue
			}
			p = d.data.credentialKey // --credential-issuer-key names another file
		}
		if lax[p] {
			continue // reported above, with its fix
		}
		err := k.load(p)
		switch {
		case err == nil:
			out = append(out, ok("keys.ok", p).about(k.name))
		case errors.Is(err, fs.ErrNotExist) && k.optional:
			out = append(out, warn("keys.optional", p).about(k.name))
		case errors.Is(err, fs.ErrNotExist):
			f := finding{status: d.missing(), key: "keys.missing." + d.mode, args: []any{p}}
			out = append(out, f.about(k.name))
		default:
			out = append(out, fail("keys.bad", p, err).about(k.name))
		}
	}
	return out
}

// checkKEK wraps and unwraps a probe key with the KEK (file or KMS).
func (d *doctor) checkKEK(ctx context.Context) []finding {
	var kr vault.Keyring
	where := filepath.Join(d.data.keysDir(), "kek.json")
	if d.data.kmsAddr != "" {
		where = d.data.kmsAddr
		t, err := vault.NewTransit(vault.TransitConfig{Address: d.data.kmsAddr, Mount: d.data.kmsMount, Key: d.data.kmsKey, Token: d.data.kmsToken})
		if err != nil {
			return []finding{fail("kek.kms", where, err)}
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := t.KEKStatus(cctx); err != nil {
			return []finding{fail("kek.kms", where, err)}
		}
		kr = t
	} else {
		kf, err := vault.OpenKeyFile(where)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, vault.ErrKeyFileMode) {
			return []finding{skip("kek.nofile", where)}
		} else if err != nil {
			return []finding{fail("kek.file", where, err)}
		}
		kr = kf
	}
	if err := probeKEK(ctx, kr); err != nil {
		return []finding{fail("kek.wrap", where, err)}
	}
	return []finding{ok("kek.ok", where)}
}

// checkStore opens the record store without creating it.
func (d *doctor) checkStore(ctx context.Context) []finding {
	dsn := d.data.dsn()
	shown := dsn
	if store.IsPostgresURL(dsn) {
		shown = "PostgreSQL"
	} else if _, err := os.Stat(dsn); errors.Is(err, fs.ErrNotExist) {
		return []finding{fail("store.nofile", dsn)}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := store.Open(cctx, dsn)
	if errors.Is(err, store.ErrSchemaTooNew) {
		// Reachable; the schema check says what is wrong.
		return []finding{ok("store.ok", shown)}
	}
	if err == nil {
		err = db.Ping(cctx)
		if err != nil {
			db.Close()
		}
	}
	if err != nil {
		return []finding{fail("store.unreachable", shown, redactDSN(err, dsn))}
	}
	d.db = db
	return []finding{ok("store.ok", shown)}
}

// redactDSN keeps a connection string's password out of an error.
func redactDSN(err error, dsn string) string {
	s := err.Error()
	if dsn != "" {
		s = strings.ReplaceAll(s, dsn, "<db>")
	}
	return s
}

func (d *doctor) checkSchema(ctx context.Context) []finding {
	if d.db == nil {
		// Open refuses a database newer than the binary: say so.
		dsn := d.data.dsn()
		if !store.IsPostgresURL(dsn) {
			if _, err := os.Stat(dsn); err != nil {
				return []finding{skip("schema.skip")}
			}
		}
		db, err := store.Open(ctx, dsn)
		if errors.Is(err, store.ErrSchemaTooNew) {
			return []finding{fail("schema.new", err)}
		}
		if err == nil {
			db.Close()
		}
		return []finding{skip("schema.skip")}
	}
	st, err := d.db.CheckSchema(ctx)
	switch {
	case errors.Is(err, store.ErrSchemaBehind):
		return []finding{fail("schema.behind", len(st.Pending), st.Latest)}
	case errors.Is(err, store.ErrSchemaTooNew):
		return []finding{fail("schema.new", err)}
	case err != nil:
		return []finding{fail("schema.err", err)}
	}
	return []finding{ok("schema.ok", st.Latest)}
}

// checkBlobs writes, reads back and deletes a probe object.
func (d *doctor) checkBlobs(ctx context.Context) []finding {
	where := d.data.blobs.where
	if !d.data.blobs.isS3() {
		if where == "" {
			where = filepath.Join(d.data.data, "blobs")
		}
		st, err := os.Stat(where)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return []finding{{status: d.missing(), key: "blobs.missing", args: []any{where}}}
		case err != nil:
			return []finding{fail("blobs.bad", where, err)}
		case !st.IsDir():
			return []finding{fail("blobs.notdir", where)}
		}
	}
	be, err := d.data.blobs.backend(d.data.data)
	if err != nil {
		return []finding{fail("blobs.config", err)}
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := blob.Probe(cctx, be); err != nil {
		return []finding{fail("blobs.bad", where, err)}
	}
	return []finding{ok("blobs.ok", where)}
}

// checkClock compares the local clock with PostgreSQL's and with the Date
// header of --clock-url.
func (d *doctor) checkClock(ctx context.Context) []finding {
	var out []finding
	judge := func(src string, skew time.Duration) finding {
		abs := skew.Abs().Round(time.Millisecond)
		switch {
		case abs > doctorClockFail:
			return fail("clock.skew", src, abs).about(src)
		case abs > doctorClockWarn:
			return warn("clock.skew", src, abs).about(src)
		}
		return ok("clock.ok", src, abs).about(src)
	}
	if d.db != nil && d.db.Dialect() == store.Postgres {
		before := time.Now()
		var micros int64
		err := d.db.QueryRow(ctx, `SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)`).Scan(&micros)
		after := time.Now()
		if err != nil {
			out = append(out, fail("clock.err", "PostgreSQL", err).about("PostgreSQL"))
		} else {
			local := before.Add(after.Sub(before) / 2)
			out = append(out, judge("PostgreSQL", time.UnixMicro(micros).Sub(local)))
		}
	}
	if d.clockURL != "" {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(cctx, http.MethodHead, d.clockURL, nil)
		var resp *http.Response
		before := time.Now()
		if err == nil {
			resp, err = http.DefaultClient.Do(req)
		}
		after := time.Now()
		var remote time.Time
		if err == nil {
			resp.Body.Close()
			remote, err = http.ParseTime(resp.Header.Get("Date"))
		}
		if err != nil {
			out = append(out, fail("clock.err", d.clockURL, err).about(d.clockURL))
		} else {
			// Date has whole seconds: compare with the local midpoint, and
			// forgive the truncation.
			skew := remote.Sub(before.Add(after.Sub(before) / 2))
			if skew < 0 && skew > -time.Second {
				skew = 0
			}
			out = append(out, judge(d.clockURL, skew))
		}
	}
	if len(out) == 0 {
		return []finding{skip("clock.skip")}
	}
	return out
}

func (d *doctor) checkTLS(_ context.Context) []finding {
	if d.tlsCert == "" {
		if d.production() {
			return []finding{warn("tls.none")}
		}
		return []finding{skip("tls.skip")}
	}
	pair, err := tls.LoadX509KeyPair(d.tlsCert, d.tlsKey)
	if err != nil {
		return []finding{fail("tls.load", d.tlsCert, err)}
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return []finding{fail("tls.load", d.tlsCert, err)}
	}
	now := d.now()
	date := leaf.NotAfter.UTC().Format(time.DateOnly)
	switch {
	case now.Before(leaf.NotBefore):
		return []finding{fail("tls.notyet", d.tlsCert, leaf.NotBefore.UTC().Format(time.RFC3339))}
	case now.After(leaf.NotAfter):
		return []finding{fail("tls.expired", d.tlsCert, date)}
	case leaf.NotAfter.Sub(now) < doctorTLSWarn:
		return []finding{warn("tls.soon", d.tlsCert, date, int(leaf.NotAfter.Sub(now).Hours()/24))}
	}
	return []finding{ok("tls.ok", d.tlsCert, date)}
}

// trustConfig is the chip trust the anchors check loaded.
type trustConfig struct {
	cfg chip.Config
	v   *chip.Verifier
}

// checkAnchors loads <data>/trust as the server does and lists the kinds
// that are therefore disabled.
func (d *doctor) checkAnchors(_ context.Context) []finding {
	dir := d.data.trustDir()
	cfg, err := chip.LoadDir(dir)
	if err != nil {
		return []finding{fail("anchors.load", dir, err)}
	}
	v, err := chip.New(cfg)
	if err != nil {
		return []finding{fail("anchors.load", dir, err)}
	}
	d.trust = &trustConfig{cfg: cfg, v: v}
	var out []finding
	if d.production() {
		if err := v.CheckProduction(); err != nil {
			out = append(out, fail("anchors.test", dir, err))
		}
	}
	enabled := v.Enabled()
	for _, k := range document.Kinds() {
		if slices.Contains(enabled, k) {
			out = append(out, ok("anchors.kind", string(k)).about(string(k)))
			continue
		}
		if len(enabled) == 0 {
			continue
		}
		out = append(out, warn("anchors.disabled", string(k), filepath.Join(dir, string(k))).about(string(k)))
	}
	if len(enabled) == 0 {
		out = append(out, finding{status: d.missing(), key: "anchors.none", args: []any{dir}})
	}
	return out
}

// checkTrustFreshness: ICAO CRLs within their nextUpdate, every production
// CSCA covered by a CRL, and the newest master list import not too old.
func (d *doctor) checkTrustFreshness(_ context.Context) []finding {
	if d.trust == nil || d.trust.cfg.ICAO == nil {
		return []finding{skip("fresh.noicao")}
	}
	st := d.trust.cfg.ICAO
	now := d.now()
	var out []finding
	for _, c := range st.CRLs() {
		who := c.List.Issuer.String()
		next := c.List.NextUpdate
		date := next.UTC().Format(time.RFC3339)
		switch {
		case next.IsZero():
			out = append(out, warn("fresh.crlnonext", who).about(who))
		case now.After(next):
			out = append(out, fail("fresh.crlstale", who, date).about(who))
		case next.Sub(now) < doctorCRLWarn:
			out = append(out, warn("fresh.crlsoon", who, date).about(who))
		default:
			out = append(out, ok("fresh.crlok", who, date).about(who))
		}
	}
	uncovered, prod := 0, 0
	for _, a := range st.Anchors() {
		if a.Test {
			continue
		}
		prod++
		if len(st.CRLsFor(a)) == 0 {
			uncovered++
		}
	}
	if uncovered > 0 {
		out = append(out, warn("fresh.nocrl", uncovered, prod))
	}
	// The master list's import time is the newest production anchor file.
	var newest time.Time
	_ = filepath.WalkDir(filepath.Join(trust.ICAODir(d.data.data), "production"), func(_ string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if info, err := e.Info(); err == nil && info.ModTime().After(newest) {
				newest = info.ModTime()
			}
		}
		return nil
	})
	switch {
	case newest.IsZero():
	case now.Sub(newest) > doctorMasterListWarn:
		out = append(out, warn("fresh.mlold", newest.UTC().Format(time.DateOnly), int(now.Sub(newest).Hours()/24)))
	default:
		out = append(out, ok("fresh.mlok", newest.UTC().Format(time.DateOnly)))
	}
	if len(out) == 0 {
		return []finding{skip("fresh.nothing")}
	}
	return out
}

// checkJPKI builds method ワ's anchors and revocation provider as the server
// does and checks that the CRLs are current.
func (d *doctor) checkJPKI(_ context.Context) []finding {
	dir := d.data.trustDir()
	anchors, err := jpkiAnchors(dir, d.production(), func(string, ...any) {})
	if err != nil {
		return []finding{fail("jpki.anchors", err)}
	}
	rev, err := jpkiRevocation(dir, anchors, d.production(), nil)
	switch {
	case errors.Is(err, errJPKINoRevocation):
		return []finding{warn("jpki.none", filepath.Join(dir, jpkiCRLDir), filepath.Join(dir, jpkiOCSPFile))}
	case err != nil:
		return []finding{fail("jpki.bad", err)}
	}
	cd, isCRL := rev.(*crlDir)
	if !isCRL {
		return []finding{ok("jpki.ocsp")}
	}
	var out []finding
	for _, o := range cd.older {
		out = append(out, warn("jpki.older", o, cd.dir))
	}
	next, n := cd.store.NextUpdate()
	date := next.UTC().Format(time.RFC3339)
	now := d.now()
	switch {
	case now.After(next):
		return append(out, fail("jpki.stale", date, cd.dir))
	case next.Sub(now) < doctorCRLWarn:
		return append(out, warn("jpki.soon", date, cd.dir))
	}
	return append(out, ok("jpki.ok", n, date))
}

func (d *doctor) checkModels(_ context.Context) []finding {
	if err := models.Verify(d.modelsDir, models.Pinned()); err != nil {
		var out []finding
		for _, e := range flatten(err) {
			out = append(out, fail("models.bad", d.modelsDir, e))
		}
		return out
	}
	d.modelsOK = true
	return []finding{ok("models.ok", d.modelsDir)}
}

// checkCalibration loads the calibration and, when the models verified,
// the engine with it: the engine refuses a calibration of another model.
func (d *doctor) checkCalibration(_ context.Context) []finding {
	path := filepath.Join(d.data.data, "face-calibration.json")
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return []finding{warn("cal.missing", path)}
	} else if err != nil {
		return []finding{fail("cal.bad", path, err)}
	}
	cal, err := face.ReadCalibration(fh)
	fh.Close()
	if err != nil {
		return []finding{fail("cal.bad", path, err)}
	}
	if !d.modelsOK {
		return []finding{skip("cal.nomodels", path, cal.Model)}
	}
	eng, err := face.Load(d.modelsDir, face.LoadOptions{Config: face.Config{Calibration: cal}})
	if errors.Is(err, face.ErrModelMismatch) {
		other, lerr := face.Load(d.modelsDir, face.LoadOptions{})
		installed := "?"
		if lerr == nil {
			installed = other.Model()
		}
		return []finding{fail("cal.mismatch", path, cal.Model, installed)}
	} else if err != nil {
		return []finding{fail("cal.bad", path, err)}
	}
	d.faceModel = eng.Model()
	d.calFMR = cal.TargetFMR
	return []finding{ok("cal.ok", cal.Model, cal.TargetFMR, cal.Threshold, cal.Created.UTC().Format(time.DateOnly))}
}

// checkPolicies loads each tenant's eKYC policy as the server does.
func (d *doctor) checkPolicies(ctx context.Context) []finding {
	if d.db == nil {
		return []finding{skip("policy.nodb")}
	}
	ts, err := tenant.NewRegistry(d.db, nil).ListTenants(ctx)
	if err != nil {
		return []finding{fail("policy.list", err)}
	}
	if len(ts) == 0 {
		return []finding{ok("policy.notenants")}
	}
	var out []finding
	for _, t := range ts {
		who := t.Name + " (" + t.ID + ")"
		p, ver, err := ekyc.LoadPolicy(ctx, d.db, t.ID)
		switch {
		case errors.Is(err, ekyc.ErrNoPolicy):
			out = append(out, warn("policy.none", t.Name, t.ID).about(who))
			continue
		case err != nil:
			out = append(out, fail("policy.bad", t.Name, t.ID, err).about(who))
			continue
		}
		if d.calFMR > 0 && d.calFMR > p.FaceMatch.TargetFMR {
			out = append(out, warn("policy.weaker", t.Name, p.FaceMatch.TargetFMR, d.calFMR).about(who))
			continue
		}
		out = append(out, ok("policy.ok", t.Name, ver, strings.Join(p.Methods, ", ")).about(who))
	}
	return out
}

// checkWebhooks probes the receivers of the last 30 days' webhooks and
// reports dead letters.
func (d *doctor) checkWebhooks(ctx context.Context) []finding {
	if d.db == nil {
		return []finding{skip("hooks.nodb")}
	}
	ds, err := notify.Destinations(ctx, d.db, d.now().Add(-doctorWebhookWindow))
	if err != nil {
		return []finding{fail("hooks.list", err)}
	}
	if len(ds) == 0 {
		return []finding{skip("hooks.none")}
	}
	more := len(ds) - doctorMaxProbes
	ds = ds[:min(len(ds), doctorMaxProbes)]
	// Probed concurrently (each is bounded by its own timeout), reported in
	// the busiest-first order.
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, dst := range ds {
		wg.Go(func() { errs[i] = notify.Probe(ctx, dst.Origin, !d.production()) })
	}
	wg.Wait()
	var out []finding
	for i, dst := range ds {
		err := errs[i]
		switch {
		case err != nil:
			out = append(out, fail("hooks.unreachable", dst.Origin, err).about(dst.Origin))
		case dst.Dead > 0:
			out = append(out, warn("hooks.dead", dst.Origin, dst.Dead, dst.Pending).about(dst.Origin))
		default:
			out = append(out, ok("hooks.ok", dst.Origin, dst.Delivered, dst.Pending).about(dst.Origin))
		}
	}
	if more > 0 {
		out = append(out, skip("hooks.more", more))
	}
	return out
}

// checkProduction lists what a production server refuses or should not
// run with.
func (d *doctor) checkProduction(_ context.Context) []finding {
	if !d.production() {
		return []finding{skip("prod.dev")}
	}
	var out []finding
	if isDevelopment(d.data.data) {
		out = append(out, fail("prod.devdir", filepath.Join(d.data.data, devMarker)))
	}
	if _, err := os.Stat(d.data.devIssuersDir()); err == nil {
		out = append(out, warn("prod.devissuers", d.data.devIssuersDir()))
	}
	if files, err := readTrustDir(filepath.Join(d.data.trustDir(), jpkiDevDir)); err == nil && len(files) > 0 {
		out = append(out, warn("prod.jpkidev", filepath.Join(d.data.trustDir(), jpkiDevDir)))
	}
	if strings.HasPrefix(d.data.kmsAddr, "http://") {
		out = append(out, warn("prod.plain", "--kms-address"))
	}
	if strings.HasPrefix(d.data.blobs.where, "http://") {
		out = append(out, warn("prod.plain", "--blobs"))
	}
	if len(out) == 0 {
		return []finding{ok("prod.ok")}
	}
	return out
}

// checkHSMIssuerKey opens the issuer key in its token, as serve will.
// The URI carries no PIN, so it may be shown.
func checkHSMIssuerKey(uri string) finding {
	s, err := hsm.OpenSigner(uri)
	if err != nil {
		return fail("keys.hsm.bad", uri, err)
	}
	defer s.Close()
	k, err := credential.NewIssuerSigner(s)
	if err != nil {
		return fail("keys.hsm.bad", uri, err)
	}
	return ok("keys.hsm.ok", uri, k.Kid())
}
