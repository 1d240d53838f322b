package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store/storetest"
)

// measureCPU runs f (the timed part of a benchmark) and reports the
// process CPU time per operation as cpu-ns/op beside the wall-clock ns/op.
func measureCPU(b *testing.B, f func()) {
	b.Helper()
	c0 := cpuNow()
	f()
	b.ReportMetric(float64(cpuNow()-c0)/float64(b.N), "cpu-ns/op")
}

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
		measureCPU(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if get("/bare", "", "") != 200 {
						b.Error("bare != 200")
					}
				}
			})
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
		measureCPU(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					if st := get("/resource", "DPoP "+at, proofs[i]); st != 200 {
						b.Errorf("dpop = %d", st)
					}
				}
			})
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
		b.ResetTimer()
		measureCPU(b, func() {
			for range b.N {
				if !ecdsa.Verify(&dk.key.PublicKey, d[:], r, s) {
					b.Fatal("verify failed")
				}
			}
		})
	})
	// The other proof algorithm a client may choose (EdDSA), for scale.
	b.Run("ed25519.Verify", func(b *testing.B) {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		msg := []byte("signing input")
		sig := ed25519.Sign(k, msg)
		pub := k.Public().(ed25519.PublicKey)
		b.ReportAllocs()
		b.ResetTimer()
		measureCPU(b, func() {
			for range b.N {
				if !ed25519.Verify(pub, msg, sig) {
					b.Fatal("verify failed")
				}
			}
		})
	})
	b.Run("parseDPoP", func(b *testing.B) {
		p := proofs(1)[0]
		b.ReportAllocs()
		b.ResetTimer()
		measureCPU(b, func() {
			for range b.N {
				if _, err := parseDPoP(e.srv.dpopKeys, p); err != nil {
					b.Fatal(err)
				}
			}
		})
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
		measureCPU(b, func() {
			for i := range b.N {
				if _, err := e.srv.AuthenticateResource(reqs[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkTokenEndpoint compares, in the same run and over the same TLS
// server and keep-alive client, a bare handler that reads a form and
// answers JSON with the token endpoint: client_credentials with a
// private_key_jwt assertion (package tenant: assertion verified, jti
// spent, token stored, audited) and the authorization_code exchange with
// private_key_jwt and a DPoP proof (code spent, consent read, access and
// refresh tokens stored, audited). Assertions, proofs and codes are made
// before the timer. The store is SQLite (one writer).
func BenchmarkTokenEndpoint(b *testing.B) {
	e := newEnv(b, storetest.SQLite(b))
	c := e.partner(e.tenant)
	dk := newDPoPKey(b)
	hc := e.http
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	post := func(path string, form url.Values, proof string) int {
		req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if proof != "" {
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
	run := func(b *testing.B, forms []url.Values, proofs []string, path string) {
		b.SetParallelism(8)
		var next atomic.Int64
		b.ResetTimer()
		measureCPU(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					p := ""
					if proofs != nil {
						p = proofs[i]
					}
					if st := post(path, forms[i], p); st != 200 {
						b.Errorf("%s = %d", path, st)
					}
				}
			})
		})
	}
	ccForm := func() url.Values {
		return merge(e.clientAuth(c), url.Values{"grant_type": {GrantClientCredentials}, "scope": {"accounts:read"}})
	}
	b.Run("bare", func(b *testing.B) {
		forms := make([]url.Values, b.N)
		for i := range forms {
			forms[i] = ccForm()
		}
		run(b, forms, nil, "/bare")
	})
	b.Run("client_credentials", func(b *testing.B) {
		forms := make([]url.Values, b.N)
		for i := range forms {
			forms[i] = ccForm()
		}
		run(b, forms, nil, PathToken)
	})
	b.Run("authorization_code+dpop", func(b *testing.B) {
		start := time.Now()
		codes := make([]string, b.N)
		for i := range codes {
			codes[i] = codeOf(b, e.authorize(c, parParams(testVerifier), &dk))
		}
		// Codes live 60 s: the server's clock goes back by the time it
		// took to make them.
		e.clock.advance(-time.Since(start))
		forms := make([]url.Values, b.N)
		proofs := make([]string, b.N)
		for i := range forms {
			forms[i] = merge(e.clientAuth(c), url.Values{"grant_type": {GrantAuthorizationCode}, "code": {codes[i]},
				"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}})
			proofs[i] = e.proof(dk, "POST", e.base+PathToken, "", nil)
		}
		run(b, forms, proofs, PathToken)
	})
}
