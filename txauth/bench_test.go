package txauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// Benchmarks (docs/benchmarks.md, "Transaction authentication"). Run
//
//	go test ./txauth/ -run '^$' -bench . -benchtime 300x
//
// and compare each figure with the bare baselines of the same run.

type benchCase struct {
	e    *env
	card *Card
	cust string
}

func newBench(b *testing.B, db *store.DB) *benchCase {
	b.Helper()
	e := newEnv(b, db)
	p := ExamplePolicy()
	p.Rules, p.VelocityMax, p.VelocityWindowSeconds, p.UnusualHours = nil, 0, 0, [2]int{0, 0}
	p.Webhook = "https://bank.example/events"
	if _, err := e.svc.SetPolicy(e.ctx, System, e.tenantA, p); err != nil {
		b.Fatal(err)
	}
	cu := e.customer(e.tenantA, "B-1")
	return &benchCase{e: e, card: e.activeCard(e.tenantA, cu.ID), cust: cu.ID}
}

func percentile(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return float64(s[min(len(s)-1, int(float64(len(s))*p))].Microseconds()) / 1000
}

// BenchmarkConfirmationDecision: one whole confirmation without face
// inference: the relying service's request (policy assessment, sealing,
// audit), the page's challenge, and the answer that decides it (verify,
// sign the result, queue the webhooks). p50/p99 of the request and of the
// deciding answer are reported in ms.
func BenchmarkConfirmationDecision(b *testing.B) {
	bc := newBench(b, storetest.SQLite(b))
	e := bc.e
	var create, decide []time.Duration
	tx := sampleTx()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: bc.cust, Transaction: tx})
		if err != nil {
			b.Fatal(err)
		}
		create = append(create, time.Since(t0))
		tok := tokenOf(b, cr.ConfirmURL)
		v, err := e.svc.Page(e.ctx, tok)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		picks := e.rightPicks(bc.card, v.Challenge)
		b.StartTimer()
		t1 := time.Now()
		if v, err = e.svc.Answer(e.ctx, tok, v.Challenge.ID, picks); err != nil || v.State != StateConfirmed {
			b.Fatalf("Answer = %+v, %v", v, err)
		}
		decide = append(decide, time.Since(t1))
	}
	b.ReportMetric(percentile(create, 0.5), "create-p50-ms")
	b.ReportMetric(percentile(create, 0.99), "create-p99-ms")
	b.ReportMetric(percentile(decide, 0.5), "decide-p50-ms")
	b.ReportMetric(percentile(decide, 0.99), "decide-p99-ms")
}

// BenchmarkChallengeIssue: image challenges issued per second (the page's
// first view of a confirmation: transaction opened, cells chosen,
// candidates derived and sealed, audited).
func BenchmarkChallengeIssue(b *testing.B) {
	bc := newBench(b, storetest.SQLite(b))
	e := bc.e
	tx := sampleTx()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: bc.cust, Transaction: tx})
		if err != nil {
			b.Fatal(err)
		}
		tok := tokenOf(b, cr.ConfirmURL)
		b.StartTimer()
		if v, err := e.svc.Page(e.ctx, tok); err != nil || v.Challenge == nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "challenges/s")
}

// BenchmarkChallengeVerify: image-card answers verified per second (the
// right answer: challenge spent, layout and candidates opened, card
// updated, factor recorded, result signed and webhooks queued).
func BenchmarkChallengeVerify(b *testing.B) {
	bc := newBench(b, storetest.SQLite(b))
	e := bc.e
	tx := sampleTx()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		cr, err := e.svc.Create(e.ctx, client, e.tenantA, Request{Customer: bc.cust, Transaction: tx})
		if err != nil {
			b.Fatal(err)
		}
		tok := tokenOf(b, cr.ConfirmURL)
		v, err := e.svc.Page(e.ctx, tok)
		if err != nil {
			b.Fatal(err)
		}
		picks := e.rightPicks(bc.card, v.Challenge)
		b.StartTimer()
		if _, err := e.svc.Answer(e.ctx, tok, v.Challenge.ID, picks); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "answers/s")
}

// BenchmarkBareTx is the store's floor in the same run: one durable
// transaction appending one audit entry.
func BenchmarkBareTx(b *testing.B) {
	db := storetest.SQLite(b)
	e := newEnv(b, db)
	var a Auditor = e.svc.cfg.Audit
	var d []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := db.InTx(e.ctx, func(tx *store.Tx) error {
			_, err := a.Append(e.ctx, tx, audit.Entry{ActorKind: audit.ActorSystem, Action: "bench.bare", Outcome: audit.OutcomeOK})
			return err
		}); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
	b.ReportMetric(percentile(d, 0.5), "p50-ms")
	b.ReportMetric(percentile(d, 0.99), "p99-ms")
}

// BenchmarkBareHandler is the HTTP floor in the same run: a handler that
// decodes a small JSON body and answers JSON.
func BenchmarkBareHandler(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		_ = json.NewDecoder(r.Body).Decode(&v)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"state": "ok"})
	})
	body := string(sampleTx().Canonical())
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(body)))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
