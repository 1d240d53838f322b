package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store/storetest"
)

// BenchmarkResourcePath compares, in the same run and over the same TLS
// server and keep-alive client, a bare handler with the DPoP-protected
// resource path (token from the in-memory cache, proof verified: ES256,
// htm/htu/ath/iat/nonce, jti into the replay cache). Proofs are made
// before the timer, as a separate load generator would. The ratio of
// ns/op is what docs/benchmarks.md quotes.
func BenchmarkResourcePath(b *testing.B) {
	e := newEnv(b, storetest.SQLite(b))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.srv.Run(ctx)
	for !e.watch.Fresh() {
		time.Sleep(10 * time.Millisecond)
	}
	c := e.partner(e.tenant)
	// The per-customer limit would stop a benchmark of one customer.
	if _, err := e.db.Exec(ctx, `UPDATE oauth_clients SET rate_customer = ? WHERE client_id = ?`, 1<<40, c.id); err != nil {
		b.Fatal(err)
	}
	dk := newDPoPKey(b)
	at := e.tokens(c, dk)["access_token"].(string)
	hc := e.http
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	get := func(path, auth, proof string) int {
		req, _ := http.NewRequest("GET", e.base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
			req.Header.Set("DPoP", proof)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	b.Run("bare", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if get("/bare", "", "") != 200 {
					b.Error("bare != 200")
				}
			}
		})
	})
	b.Run("dpop", func(b *testing.B) {
		proofs := make([]string, b.N)
		for i := range proofs {
			proofs[i] = e.proof(dk, "GET", e.base+"/resource", at, nil)
		}
		b.SetParallelism(8)
		var next atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) - 1
				if st := get("/resource", "DPoP "+at, proofs[i]); st != 200 {
					b.Errorf("dpop = %d", st)
				}
			}
		})
	})
}

// BenchmarkDPoPVerify splits the DPoP resource path's own cost, in process
// (no HTTP): one ES256 verification alone (the floor: a proof must be
// verified), parsing and verifying a proof (parseDPoP), and the whole
// AuthenticateResource with the token from the in-memory cache. Proofs
// are made before the timer.
func BenchmarkDPoPVerify(b *testing.B) {
	e := newEnv(b, storetest.SQLite(b))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.srv.Run(ctx)
	for !e.watch.Fresh() {
		time.Sleep(10 * time.Millisecond)
	}
	c := e.partner(e.tenant)
	if _, err := e.db.Exec(ctx, `UPDATE oauth_clients SET rate_customer = ? WHERE client_id = ?`, 1<<40, c.id); err != nil {
		b.Fatal(err)
	}
	dk := newDPoPKey(b)
	at := e.tokens(c, dk)["access_token"].(string)
	u := e.base + "/resource"
	proofs := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = e.proof(dk, "GET", u, at, nil)
		}
		return out
	}
	b.Run("ecdsa.Verify", func(b *testing.B) {
		d := sha256.Sum256([]byte("signing input"))
		r, s, err := ecdsa.Sign(rand.Reader, dk.key, d[:])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if !ecdsa.Verify(&dk.key.PublicKey, d[:], r, s) {
				b.Fatal("verify failed")
			}
		}
	})
	b.Run("parseDPoP", func(b *testing.B) {
		p := proofs(1)[0]
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseDPoP(e.srv.dpopKeys, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AuthenticateResource", func(b *testing.B) {
		ps := proofs(b.N)
		reqs := make([]*http.Request, b.N)
		for i := range reqs {
			r := httptest.NewRequest("GET", u, nil)
			r.Header.Set("Authorization", "DPoP "+at)
			r.Header.Set("DPoP", ps[i])
			reqs[i] = r
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := e.srv.AuthenticateResource(reqs[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
