package main

// madoguchi doctor: checks a deployment before it takes traffic and says
// what to fix (issue 17). It reads the same settings as serve (flags and
// MADOGUCHI_* variables, config.go) and opens the same files with the same
// loaders, but never creates or changes anything: a missing development key
// is reported, not generated; the blob probe object it writes is deleted.
//
// Each finding is ok, warn, fail or skip (a check that does not apply to
// this configuration). The exit status is for scripts:
//
//	0  every check is ok or skipped
//	3  at least one warning, no failure
//	4  at least one failure
//	2  the command line is wrong
//	1  doctor itself could not run
//
// --json prints one JSON object (schema in docs/operations.md) for
// monitoring; --lang ja|en chooses the language of the messages (default:
// MADOGUCHI_LANG, then LC_ALL, LC_MESSAGES, LANG; Japanese when the locale
// starts with "ja", English otherwise).

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// Doctor exit statuses (documented above and in docs/operations.md).
const (
	doctorExitWarn = 3
	doctorExitFail = 4
)

// checkStatus is a finding's verdict.
type checkStatus string

const (
	statusOK   checkStatus = "ok"
	statusWarn checkStatus = "warn"
	statusFail checkStatus = "fail"
	statusSkip checkStatus = "skip"
)

// finding is one result of a check: a message key of doctorMessages with
// its arguments. The fix is the message under key+".fix", if any.
type finding struct {
	status  checkStatus
	subject string // the file, tenant, kind or URL it is about; "" for the whole check
	key     string
	args    []any
}

func ok(key string, args ...any) finding   { return finding{status: statusOK, key: key, args: args} }
func warn(key string, args ...any) finding { return finding{status: statusWarn, key: key, args: args} }
func fail(key string, args ...any) finding { return finding{status: statusFail, key: key, args: args} }
func skip(key string, args ...any) finding { return finding{status: statusSkip, key: key, args: args} }

func (f finding) about(subject string) finding { f.subject = subject; return f }

// doctorCheck is one named check.
type doctorCheck struct {
	id  string
	run func(*doctor, context.Context) []finding
}

// doctorChecks is the order in which checks run; later checks reuse what
// earlier ones opened (the store, the trust configuration).
var doctorChecks = []doctorCheck{
	{"data.dir", (*doctor).checkDataDir},
	{"keys.files", (*doctor).checkKeyFiles},
	{"keys.kek", (*doctor).checkKEK},
	{"store.reachable", (*doctor).checkStore},
	{"store.schema", (*doctor).checkSchema},
	{"blobs", (*doctor).checkBlobs},
	{"clock", (*doctor).checkClock},
	{"tls", (*doctor).checkTLS},
	{"trust.anchors", (*doctor).checkAnchors},
	{"trust.freshness", (*doctor).checkTrustFreshness},
	{"jpki.revocation", (*doctor).checkJPKI},
	{"face.models", (*doctor).checkModels},
	{"face.calibration", (*doctor).checkCalibration},
	{"tenants.policies", (*doctor).checkPolicies},
	{"webhooks", (*doctor).checkWebhooks},
	{"production", (*doctor).checkProduction},
}

// doctorResult is one line of the report (and one element of --json).
type doctorResult struct {
	Check   string      `json:"check"`
	Subject string      `json:"subject,omitempty"`
	Status  checkStatus `json:"status"`
	Message string      `json:"message"`
	Fix     string      `json:"fix,omitempty"`
}

// doctorReport is the --json document.
type doctorReport struct {
	Version int            `json:"version"`
	Mode    string         `json:"mode"`
	Lang    string         `json:"lang"`
	Time    time.Time      `json:"time"`
	Status  checkStatus    `json:"status"` // the worst status
	Exit    int            `json:"exit"`
	Counts  map[string]int `json:"counts"`
	Results []doctorResult `json:"results"`
}

// doctor holds the settings and what the checks opened.
type doctor struct {
	mode      string
	data      dataFlags
	tlsCert   string
	tlsKey    string
	modelsDir string
	clockURL  string
	now       func() time.Time
	// Opened by earlier checks for later ones (nil when that check failed).
	db    *store.DB
	trust *trustConfig
	// modelsOK is set when the pinned models verified.
	modelsOK bool
	// faceModel is the installed engine's model identifier and calFMR
	// its calibration's target FMR (zero: unknown).
	faceModel string
	calFMR    float64
}

func runDoctor(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "doctor", "doctor [flags]")
	var d doctor
	var lang string
	d.data.register(fs, e)
	envString(fs, e, &d.mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development or production: the mode the server will run in")
	envString(fs, e, &d.tlsCert, "tls-cert", "MADOGUCHI_TLS_CERT", "", "the server's PEM certificate chain, checked for validity and expiry")
	envString(fs, e, &d.tlsKey, "tls-key", "MADOGUCHI_TLS_KEY", "", "PEM private key for --tls-cert")
	envString(fs, e, &d.modelsDir, "models", "MADOGUCHI_MODELS", "", "face model folder (default <data>/models)")
	envString(fs, e, &d.clockURL, "clock-url", "MADOGUCHI_CLOCK_URL", "", "an http(s) URL whose Date header the local clock is compared with (besides PostgreSQL's clock)")
	fs.StringVar(&lang, "lang", doctorDefaultLang(e), "language of the messages: ja or en (env MADOGUCHI_LANG, LC_ALL, LC_MESSAGES, LANG)")
	asJSON := fs.Bool("json", false, "print one JSON document for monitoring instead of the text report")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintln(e.stderr, "\nexit status: 0 every check ok or skipped, 3 warnings, 4 failures, 2 usage (docs/operations.md)")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"doctor takes no arguments"}
	}
	if d.mode != modeDevelopment && d.mode != modeProduction {
		return usageError{fmt.Sprintf("--mode %q: want %s or %s", d.mode, modeDevelopment, modeProduction)}
	}
	if lang != "ja" && lang != "en" {
		return usageError{fmt.Sprintf("--lang %q: want ja or en", lang)}
	}
	if (d.tlsCert == "") != (d.tlsKey == "") {
		return usageError{"--tls-cert and --tls-key go together"}
	}
	if d.modelsDir == "" {
		d.modelsDir = filepath.Join(d.data.data, "models")
	}
	d.now = time.Now
	defer d.close()
	rep := d.run(ctx, lang)
	var err error
	if *asJSON {
		err = writeIndented(e.stdout, rep)
	} else {
		err = writeDoctorText(e.stdout, rep)
	}
	if err != nil {
		return err
	}
	if rep.Exit != 0 {
		return exitError{rep.Exit}
	}
	return nil
}

// run runs every check and builds the report.
func (d *doctor) run(ctx context.Context, lang string) doctorReport {
	rep := doctorReport{Version: 1, Mode: d.mode, Lang: lang, Time: d.now().UTC().Truncate(time.Second), Status: statusOK,
		Counts: map[string]int{string(statusOK): 0, string(statusWarn): 0, string(statusFail): 0, string(statusSkip): 0}}
	for _, c := range doctorChecks {
		for _, f := range c.run(d, ctx) {
			rep.Counts[string(f.status)]++
			rep.Results = append(rep.Results, doctorResult{
				Check: c.id, Subject: f.subject, Status: f.status,
				Message: doctorText(lang, f.key, f.args...), Fix: doctorFix(lang, f.key, f.args...),
			})
		}
	}
	switch {
	case rep.Counts[string(statusFail)] > 0:
		rep.Status, rep.Exit = statusFail, doctorExitFail
	case rep.Counts[string(statusWarn)] > 0:
		rep.Status, rep.Exit = statusWarn, doctorExitWarn
	}
	return rep
}

func (d *doctor) close() {
	if d.db != nil {
		d.db.Close()
		d.db = nil
	}
}

// writeDoctorText prints the human report: one line per finding, the fix
// indented below it, and a summary.
func writeDoctorText(w io.Writer, rep doctorReport) error {
	bw := &errWriter{w: w}
	for _, r := range rep.Results {
		label := strings.ToUpper(string(r.Status))
		what := r.Check
		if r.Subject != "" {
			what += " (" + r.Subject + ")"
		}
		fmt.Fprintf(bw, "%-4s  %s: %s\n", label, what, r.Message)
		if r.Fix != "" && r.Status != statusOK && r.Status != statusSkip {
			fmt.Fprintf(bw, "      → %s\n", r.Fix)
		}
	}
	fmt.Fprintf(bw, "\n%s\n", doctorText(rep.Lang, "summary", rep.Counts["ok"], rep.Counts["warn"], rep.Counts["fail"], rep.Counts["skip"]))
	return bw.err
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// doctorDefaultLang picks the messages' language from the environment.
func doctorDefaultLang(e *env) string {
	for _, v := range []string{"MADOGUCHI_LANG", "LC_ALL", "LC_MESSAGES", "LANG"} {
		s := e.getenv(v)
		if s == "" {
			continue
		}
		if strings.HasPrefix(strings.ToLower(s), "ja") {
			return "ja"
		}
		return "en"
	}
	return "en"
}
