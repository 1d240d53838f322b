package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
	"github.com/madoguchi/madoguchi/document/trust"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/face/models"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
)

// doctorModels returns the installed, verified face models, or skips.
func doctorModels(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MADOGUCHI_MODELS")
	if dir == "" {
		t.Skip("MADOGUCHI_MODELS is not set: doctor's face checks need the installed models")
	}
	if err := models.Verify(dir, models.Pinned()); err != nil {
		t.Skipf("models in %s do not verify: %v", dir, err)
	}
	return dir
}

// doctorEngineModel is the model identifier of the installed engine.
var doctorEngineModel = map[string]string{}

func engineModel(t *testing.T, dir string) string {
	t.Helper()
	if m, ok := doctorEngineModel[dir]; ok {
		return m
	}
	eng, err := face.Load(dir, face.LoadOptions{})
	if err != nil {
		t.Fatalf("face.Load: %v", err)
	}
	doctorEngineModel[dir] = eng.Model()
	return eng.Model()
}

// writeCalibration writes a calibration for model at FMR 1e-4 from a
// synthetic, well separated score set.
func writeCalibration(t *testing.T, path, model string) {
	t.Helper()
	var gen, imp []float64
	for i := range 200 {
		gen = append(gen, 0.6+0.3*float64(i)/200)
	}
	for i := range 20000 {
		imp = append(imp, -0.2+0.5*float64(i)/20000)
	}
	c, err := face.NewCalibration(model, 1e-4, gen, imp)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// healthyDevDir builds a development data directory as a first serve
// leaves it (keys, store, trust anchors, blobs), plus what an operator adds:
// JPKI test roots and fresh CRLs, a calibration for the installed model and
// a tenant with a valid policy.
func healthyDevDir(t *testing.T, modelsDir, dsn string) string {
	t.Helper()
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data") // created 0700 like a first start
	a, err := openApp(ctx, modeDevelopment, dataFlags{data: data, db: dsn}, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatalf("openApp: %v", err)
	}
	defer a.Close()
	if _, err := a.newNotifier(); err != nil {
		t.Fatal(err)
	}
	keys := a.data.keysDir()
	if _, _, err := ekyc.LoadOrCreateDevSigner(filepath.Join(keys, "ekyc-result.pem")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ekyc.LoadOrCreateDevReuseKey(filepath.Join(keys, "ekyc-chip-reuse.key")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := credential.LoadOrCreateDevIssuerKey(filepath.Join(keys, "credential-issuer.key")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := oauth.LoadOrCreateSigner(filepath.Join(keys, "oauth-signer.key"), true); err != nil {
		t.Fatal(err)
	}

	p, err := jpkitest.New(jpkitest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	week := jpkitest.CRLOptions{ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(7 * 24 * time.Hour)}
	writeJPKI(t, data, p, week)

	writeCalibration(t, filepath.Join(data, "face-calibration.json"), engineModel(t, modelsDir))

	ten, err := tenant.NewRegistry(a.db, a.audit).CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem, ID: "test"}, "bank")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ekyc.StorePolicy(ctx, a.db, a.audit, ekyc.Actor{Kind: audit.ActorSystem, ID: "test"}, ten.ID, ekyc.ExamplePolicy(0.5), time.Now()); err != nil {
		t.Fatal(err)
	}
	return data
}

// writeJPKI puts p's TEST roots and CRLs with the given times into data.
func writeJPKI(t *testing.T, data string, p *jpkitest.PKI, o jpkitest.CRLOptions) {
	t.Helper()
	devDir := filepath.Join(data, "trust", jpkiDevDir)
	crlDir := filepath.Join(data, "trust", jpkiCRLDir)
	for _, d := range []string{devDir, crlDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]*x509.Certificate{"sign_root.pem": p.Sign.Cert, "auth_root.pem": p.Auth.Cert} {
		if err := os.WriteFile(filepath.Join(devDir, name), jpkiPEMCert(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, ca := range map[string]*jpkitest.CA{"sign.crl": p.Sign, "auth.crl": p.Auth} {
		b, err := p.CRL(ca, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crlDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// rewriteJPKI replaces data's JPKI roots and CRLs with a fresh TEST
// hierarchy's, its CRLs made with o, and returns the hierarchy.
func rewriteJPKI(t *testing.T, data string, o jpkitest.CRLOptions) *jpkitest.PKI {
	t.Helper()
	remove(t, filepath.Join(data, "trust", jpkiDevDir))
	remove(t, filepath.Join(data, "trust", jpkiCRLDir))
	p, err := jpkitest.New(jpkitest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeJPKI(t, data, p, o)
	return p
}

// runDoctorJSON runs doctor --json and decodes and validates the report.
func runDoctorJSON(t *testing.T, getenv map[string]string, args ...string) (doctorReport, int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return getenv[k] }}
	code := run(context.Background(), e, append([]string{"doctor", "--json"}, args...))
	var rep doctorReport
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("doctor --json output does not decode: %v\nstderr: %s", err, errb.String())
	}
	validateDoctorReport(t, rep, code)
	return rep, code
}

// validateDoctorReport checks the JSON document's invariants.
func validateDoctorReport(t *testing.T, rep doctorReport, code int) {
	t.Helper()
	if rep.Version != 1 || rep.Exit != code || rep.Time.IsZero() {
		t.Errorf("report version %d, exit %d (process %d), time %v", rep.Version, rep.Exit, code, rep.Time)
	}
	n := 0
	worst := statusOK
	rank := map[checkStatus]int{statusOK: 0, statusSkip: 0, statusWarn: 1, statusFail: 2}
	ids := map[string]bool{}
	for _, c := range doctorChecks {
		ids[c.id] = true
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.Check] = true
		if _, known := rank[r.Status]; !known || !ids[r.Check] {
			t.Errorf("result %+v: unknown status or check", r)
		}
		if r.Message == "" || strings.Contains(r.Message, "[missing message") || strings.Contains(r.Message, "%!") {
			t.Errorf("result %+v: bad message", r)
		}
		if (r.Status == statusFail || r.Status == statusWarn) && r.Fix == "" && r.Check != "webhooks" {
			t.Errorf("result %+v: a warning or failure without a fix", r)
		}
		if rank[r.Status] > rank[worst] {
			worst = r.Status
		}
	}
	for id := range ids {
		if !seen[id] {
			t.Errorf("check %s reported nothing", id)
		}
	}
	for _, c := range rep.Counts {
		n += c
	}
	if n != len(rep.Results) {
		t.Errorf("counts %v sum to %d, want %d results", rep.Counts, n, len(rep.Results))
	}
	wantExit := map[checkStatus]int{statusOK: 0, statusWarn: doctorExitWarn, statusFail: doctorExitFail}[worst]
	if code != wantExit || (rep.Status != worst && !(worst == statusOK && rep.Status == statusOK)) {
		t.Errorf("exit %d, status %s; worst finding %s wants exit %d", code, rep.Status, worst, wantExit)
	}
}

func findResult(rep doctorReport, check string, status checkStatus) (doctorResult, bool) {
	for _, r := range rep.Results {
		if r.Check == check && r.Status == status {
			return r, true
		}
	}
	return doctorResult{}, false
}

// TestDoctorHealthy: a development directory set up as documented passes
// every check (SQLite, and PostgreSQL where available).
func TestDoctorHealthy(t *testing.T) {
	mdir := doctorModels(t)
	t.Run("sqlite", func(t *testing.T) {
		data := healthyDevDir(t, mdir, "")
		rep, code := runDoctorJSON(t, nil, "--data", data, "--models", mdir)
		if code != 0 {
			t.Errorf("doctor on a healthy directory: exit %d", code)
		}
		for _, r := range rep.Results {
			if r.Status != statusOK && r.Status != statusSkip {
				t.Errorf("%s (%s): %s %s → %s", r.Check, r.Subject, r.Status, r.Message, r.Fix)
			}
		}
		if _, found := findResult(rep, "face.calibration", statusOK); !found {
			t.Errorf("no ok calibration result")
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := storetest.PostgresURL(t)
		data := healthyDevDir(t, mdir, dsn)
		rep, code := runDoctorJSON(t, nil, "--data", data, "--db", dsn, "--models", mdir)
		if code != 0 {
			t.Errorf("doctor on a healthy PostgreSQL deployment: exit %d: %+v", code, rep.Results)
		}
		if _, found := findResult(rep, "clock", statusOK); !found {
			t.Errorf("no clock comparison with PostgreSQL: %+v", rep.Results)
		}
	})
}

// TestDoctorFaults injects one fault at a time into a healthy directory
// and checks the finding, its fix and the exit status.
func TestDoctorFaults(t *testing.T) {
	mdir := doctorModels(t)
	sqlExec := func(t *testing.T, data, q string, args ...any) {
		t.Helper()
		db, err := store.Open(context.Background(), filepath.Join(data, "madoguchi.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(context.Background(), q, args...); err != nil {
			t.Fatal(err)
		}
	}
	deadHook := func(t *testing.T, data, url string) {
		sqlExec(t, data, `INSERT INTO notify_outbox (event_id, kind, tenant_id, subject_tenant, subject, aad_domain, url, content_type, payload,
			state, attempts, next_at, claimed_by, claim_until, last_status, last_error, created_at, delivered_at)
			VALUES (?, 'ekyc.webhook', 't', 't', 's', 'd', ?, 'application/jwt', ?, 'dead', 8, 0, '', 0, 500, 'x', ?, 0)`,
			"ev_"+url, url, []byte{0}, store.Micros(time.Now()))
	}
	receiver := httptest.NewServer(http.NotFoundHandler())
	defer receiver.Close()
	skewed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(-10*time.Minute).UTC().Format(http.TimeFormat))
	}))
	defer skewed.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String() + "/hook"
	closed.Close()

	tests := []struct {
		name   string
		break_ func(t *testing.T, data string) []string // returns extra flags
		check  string
		status checkStatus
		want   string            // in the message or fix
		env    map[string]string // the environment, if any
	}{
		{"world-readable key", func(t *testing.T, data string) []string {
			chmod(t, filepath.Join(data, "keys", "kek.json"), 0o644)
			return nil
		}, "keys.files", statusFail, "chmod 600", nil},
		{"missing key", func(t *testing.T, data string) []string {
			remove(t, filepath.Join(data, "keys", "ekyc-result.pem"))
			return []string{"--mode", "development"}
		}, "keys.files", statusWarn, "ekyc-result.pem", nil},
		{"transit KMS without a token", func(t *testing.T, data string) []string {
			return []string{"--kms-address", "http://127.0.0.1:1"}
		}, "keys.kek", statusFail, "token is empty", nil},
		{"unreachable transit KMS", func(t *testing.T, data string) []string {
			return []string{"--kms-address", "http://127.0.0.1:1"}
		}, "keys.kek", statusFail, "connection refused", map[string]string{"MADOGUCHI_KMS_TOKEN": "s.test"}},
		{"schema newer than the binary", func(t *testing.T, data string) []string {
			sqlExec(t, data, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99999, 'future', 0)`)
			return nil
		}, "store.schema", statusFail, "newer", nil},
		{"pending migration", func(t *testing.T, data string) []string {
			sqlExec(t, data, `DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`)
			return nil
		}, "store.schema", statusFail, "madoguchi migrate", nil},
		{"unreachable PostgreSQL", func(t *testing.T, data string) []string {
			return []string{"--db", "postgres://root:secretpw@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"}
		}, "store.reachable", statusFail, "PostgreSQL", nil},
		{"unwritable blob folder", func(t *testing.T, data string) []string {
			return []string{"--blobs", unwritableDir(t, data)}
		}, "blobs", statusFail, "blob", nil},
		{"missing blob folder", func(t *testing.T, data string) []string {
			return []string{"--blobs", filepath.Join(data, "nowhere")}
		}, "blobs", statusWarn, "does not exist", nil},
		{"clock ten minutes behind a reference", func(t *testing.T, data string) []string {
			return []string{"--clock-url", skewed.URL}
		}, "clock", statusFail, "synchronise", nil},
		{"expired TLS certificate", func(t *testing.T, data string) []string {
			c, k := writeTLSCert(t, data, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
			return []string{"--tls-cert", c, "--tls-key", k}
		}, "tls", statusFail, "expired", nil},
		{"TLS certificate expiring soon", func(t *testing.T, data string) []string {
			c, k := writeTLSCert(t, data, time.Now().Add(-48*time.Hour), time.Now().Add(5*24*time.Hour))
			return []string{"--tls-cert", c, "--tls-key", k}
		}, "tls", statusWarn, "renew", nil},
		{"missing anchor", func(t *testing.T, data string) []string {
			remove(t, filepath.Join(data, "trust", "jpdl"))
			return nil
		}, "trust.anchors", statusWarn, "jpdl", nil},
		{"stale ICAO CRL", func(t *testing.T, data string) []string {
			writeCSCA(t, data, time.Now().Add(-time.Hour), time.Now())
			return nil
		}, "trust.freshness", statusFail, "trust crl", nil},
		{"CSCA without a CRL", func(t *testing.T, data string) []string {
			writeCSCA(t, data, time.Time{}, time.Now().Add(-200*24*time.Hour))
			return nil
		}, "trust.freshness", statusWarn, "no CRL", nil},
		{"old master list", func(t *testing.T, data string) []string {
			writeCSCA(t, data, time.Now().Add(30*24*time.Hour), time.Now().Add(-200*24*time.Hour))
			return nil
		}, "trust.freshness", statusWarn, "master list", nil},
		{"stale JPKI CRL", func(t *testing.T, data string) []string {
			rewriteJPKI(t, data, jpkitest.CRLOptions{ThisUpdate: time.Now().Add(-72 * time.Hour), NextUpdate: time.Now().Add(-time.Hour)})
			return nil
		}, "jpki.revocation", statusFail, "stale", nil},
		{"old JPKI CRL beside the current one", func(t *testing.T, data string) []string {
			p := rewriteJPKI(t, data, jpkitest.CRLOptions{Number: 2})
			old := testCRL(t, p, p.Sign, jpkitest.CRLOptions{ThisUpdate: time.Now().Add(-72 * time.Hour), NextUpdate: time.Now().Add(24 * time.Hour)})
			writeFile(t, filepath.Join(data, "trust", jpkiCRLDir, "z-old.crl"), old)
			return nil
		}, "jpki.revocation", statusWarn, "z-old.crl: jpki: CRL is not newer", nil},
		{"no JPKI revocation", func(t *testing.T, data string) []string {
			remove(t, filepath.Join(data, "trust", jpkiCRLDir))
			return nil
		}, "jpki.revocation", statusWarn, "jpki-crl", nil},
		{"model file tampered", func(t *testing.T, data string) []string {
			return []string{"--models", tamperedModels(t, mdir)}
		}, "face.models", statusFail, "models install", nil},
		{"calibration for another model", func(t *testing.T, data string) []string {
			writeCalibration(t, filepath.Join(data, "face-calibration.json"), "some-other-model+dlib")
			return nil
		}, "face.calibration", statusFail, "some-other-model+dlib", nil},
		{"no calibration", func(t *testing.T, data string) []string {
			remove(t, filepath.Join(data, "face-calibration.json"))
			return nil
		}, "face.calibration", statusWarn, "face calibrate", nil},
		{"invalid tenant policy", func(t *testing.T, data string) []string {
			sqlExec(t, data, `UPDATE ekyc_policies SET policy = ?`, `{"methods":["zz"]}`)
			return nil
		}, "tenants.policies", statusFail, "ekyc policy set", nil},
		{"unreachable webhook receiver", func(t *testing.T, data string) []string {
			deadHook(t, data, closedURL)
			return nil
		}, "webhooks", statusFail, "not reachable", nil},
		{"dead letters", func(t *testing.T, data string) []string {
			deadHook(t, data, receiver.URL+"/hook")
			return nil
		}, "webhooks", statusWarn, "dead", nil},
		{"production on a development directory", func(t *testing.T, data string) []string {
			return []string{"--mode", "production"}
		}, "production", statusFail, "development keys", nil},
		{"test anchors in production", func(t *testing.T, data string) []string {
			return []string{"--mode", "production"}
		}, "trust.anchors", statusFail, "test", nil},
	}
	template := healthyDevDir(t, mdir, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := copyDataDir(t, template)
			args := append([]string{"--data", data, "--models", mdir}, tt.break_(t, data)...)
			rep, code := runDoctorJSON(t, tt.env, args...)
			var r doctorResult
			found := false
			for _, x := range rep.Results {
				if x.Check == tt.check && x.Status == tt.status && strings.Contains(x.Message+" "+x.Fix, tt.want) {
					r, found = x, true
				}
			}
			if !found {
				t.Fatalf("no %s %s finding mentioning %q; results: %+v", tt.check, tt.status, tt.want, rep.Results)
			}
			wantCode := doctorExitWarn
			if _, anyFail := findAny(rep, statusFail); anyFail {
				wantCode = doctorExitFail
			}
			if code != wantCode {
				t.Errorf("exit %d, want %d", code, wantCode)
			}
			if strings.Contains(r.Message+r.Fix, "secretpw") {
				t.Errorf("a database password reached the report: %q", r.Message)
			}
		})
	}
}

// writeCSCA imports a production CSCA into data's ICAO anchors, its file
// dated imported, with a CRL whose nextUpdate is crlNext (none if zero).
func writeCSCA(t *testing.T, data string, crlNext, imported time.Time) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{Country: []string{"JP"}, CommonName: "Doctor Test CSCA"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{1, 2, 3, 4}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	a, err := trust.NewAnchor(der, false)
	if err != nil {
		t.Fatalf("NewAnchor: %v", err)
	}
	dir := trust.ICAODir(data)
	if _, err := trust.Save(dir, []*trust.Anchor{a}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, "production", a.ID()+".cer"), imported, imported); err != nil {
		t.Fatal(err)
	}
	if crlNext.IsZero() {
		return
	}
	cert, _ := x509.ParseCertificate(der)
	crlThis := now.Add(-time.Hour)
	if crlNext.Before(now) {
		crlThis = crlNext.Add(-48 * time.Hour)
	}
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: crlThis, NextUpdate: crlNext}, cert, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := trust.ParseCRL(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trust.SaveCRLs(dir, []*trust.CRL{c}); err != nil {
		t.Fatal(err)
	}
}

func findAny(rep doctorReport, s checkStatus) (doctorResult, bool) {
	for _, r := range rep.Results {
		if r.Status == s {
			return r, true
		}
	}
	return doctorResult{}, false
}

// TestDoctorText: the text report in Japanese and English, and --lang
// from the environment.
func TestDoctorText(t *testing.T) {
	mdir := doctorModels(t)
	data := healthyDevDir(t, mdir, "")
	chmod(t, filepath.Join(data, "keys", "kek.json"), 0o644)
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want []string
	}{
		{map[string]string{"LANG": "ja_JP.UTF-8"}, nil, []string{"FAIL  keys.files", "chmod 600", "権限", "異常 1 件"}},
		{map[string]string{"LANG": "ja_JP.UTF-8"}, []string{"--lang", "en"}, []string{"permissions 0644", "1 failures"}},
		{nil, nil, []string{"OK    store.schema", "schema is current"}},
	} {
		var out bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(k string) string { return tt.env[k] }}
		code := run(context.Background(), e, append([]string{"doctor", "--data", data, "--models", mdir}, tt.args...))
		if code != doctorExitFail {
			t.Errorf("exit %d, want %d", code, doctorExitFail)
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("doctor %v (env %v) output lacks %q:\n%s", tt.args, tt.env, w, out.String())
			}
		}
	}
	var out bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	if code := run(context.Background(), e, []string{"doctor", "--lang", "fr"}); code != 2 {
		t.Errorf("doctor --lang fr: exit %d, want 2", code)
	}
}

// TestDoctorMessages: every message has both languages with the same
// arguments.
func TestDoctorMessages(t *testing.T) {
	for k, m := range doctorMessages {
		if m.en == "" || m.ja == "" {
			t.Errorf("%s: a language is empty", k)
		}
		for i := 1; i <= 5; i++ {
			v := "%[" + string(rune('0'+i)) + "]"
			if strings.Contains(m.en, v) != strings.Contains(m.ja, v) && !strings.HasSuffix(k, ".fix") {
				t.Errorf("%s: argument %d in one language only", k, i)
			}
		}
	}
}

// copyDataDir copies a data directory, keeping every file's permissions.
func copyDataDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		info, err := e.Info()
		if err != nil {
			return err
		}
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), info.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func chmod(t *testing.T, p string, m fs.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

// unwritableDir returns a folder the test process cannot create files in.
func unwritableDir(t *testing.T, data string) string {
	t.Helper()
	if os.Geteuid() == 0 {
		// root writes through permission bits; procfs refuses new files.
		return "/proc/self"
	}
	d := filepath.Join(data, "ro-blobs")
	if err := os.Mkdir(d, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(d, 0o700) })
	return d
}

// tamperedModels copies the models and flips one byte of one weight file.
func tamperedModels(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	var victim string
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if victim == "" && strings.HasSuffix(p, ".bin") && len(b) > 100 {
			b[100] ^= 1
			victim = rel
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil || victim == "" {
		t.Fatalf("copy models: %v (tampered %q)", err, victim)
	}
	return dst
}

// writeTLSCert writes a self-signed certificate valid in [nb, na].
func writeTLSCert(t *testing.T, dir string, nb, na time.Time) (certPath, keyPath string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "madoguchi.test"}, NotBefore: nb, NotAfter: na, DNSNames: []string{"madoguchi.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}
