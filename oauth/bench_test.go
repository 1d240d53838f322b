package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
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
// server and keep-alive clients, a bare handler with the sender-constrained
// resource path, for each way a token can be bound: a DPoP proof per
// request signed with ES256, EdDSA (Ed25519) or PS256 (RSA-2048), each key
// with its own token (cnf.jkt; proof verified: htm/htu/ath/iat/nonce, jti
// into the replay cache), and a certificate-bound token (cnf.x5t#S256,
// RFC 8705) presented on a connection with that TLS client certificate.
// Tokens come from the in-memory cache. Proofs are made before the timer,
// as a separate load generator would. It runs on SQLite, and on
// PostgreSQL when MADOGUCHI_TEST_POSTGRES is set. The ratios of ns/op and
// cpu-ns/op to bare are what docs/benchmarks.md quotes.
func BenchmarkResourcePath(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchResourcePath(b, storetest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchResourcePath(b, storetest.Postgres(b)) })
}

// benchEnv is a running server on db and its partner client, whose
// per-customer limit (which would stop a benchmark of one customer) is
// raised to the largest the INTEGER column holds; tokens live an hour.
func benchEnv(b *testing.B, db *store.DB) (*env, pclient) {
	e := newEnv(b, db, func(c *Config) { c.AccessTTL = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go e.srv.Run(ctx)
	for !e.watch.Fresh() {
		time.Sleep(10 * time.Millisecond)
	}
	c := e.partner(e.tenant)
	if _, err := e.db.Exec(ctx, `UPDATE oauth_clients SET rate_customer = ? WHERE client_id = ?`, math.MaxInt32, c.id); err != nil {
		b.Fatal(err)
	}
	return e, c
}

// proofs makes n proofs by k for GET u with token, on every core.
func (e *env) proofs(k dpopKey, u, token string, n int) []string {
	out := make([]string, n)
	var wg sync.WaitGroup
	w := runtime.GOMAXPROCS(0)
	for j := range w {
		wg.Go(func() {
			for i := j; i < n; i += w {
				out[i] = e.proof(k, "GET", u, token, nil)
			}
		})
	}
	wg.Wait()
	return out
}

func benchResourcePath(b *testing.B, db *store.DB) {
	e, c := benchEnv(b, db)
	// Two keep-alive clients alike but for the TLS client certificate
	// (without the harness client's cookie jar).
	e.http.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	hc := &http.Client{Transport: e.http.Transport}
	mc, _ := e.mtlsClient()
	mc.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	get := func(b *testing.B, hc *http.Client, path, auth, proof string) int {
		req, _ := http.NewRequest("GET", e.base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// run times request(i) for i in [0, b.N) from 8 goroutines per core;
	// a refused request fails the benchmark.
	run := func(b *testing.B, name string, request func(b *testing.B, i int) int) {
		b.SetParallelism(8)
		var next atomic.Int64
		b.ResetTimer()
		measureCPU(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if st := request(b, int(next.Add(1)-1)); st != 200 {
						b.Errorf("%s = %d, want 200", name, st)
					}
				}
			})
		})
	}
	b.Run("bare", func(b *testing.B) {
		run(b, "bare", func(b *testing.B, _ int) int { return get(b, hc, "/bare", "", "") })
	})
	u := e.base + "/resource"
	for _, alg := range []string{"ES256", "EdDSA", "PS256"} {
		name := "dpop-" + strings.ToLower(alg)
		dk := newDPoPKeyAlg(b, alg)
		at := e.tokens(c, dk)["access_token"].(string)
		b.Run(name, func(b *testing.B) {
			proofs := e.proofs(dk, u, at, b.N)
			run(b, name, func(b *testing.B, i int) int { return get(b, hc, "/resource", "DPoP "+at, proofs[i]) })
		})
	}
	at := e.certTokens(c, mc)["access_token"].(string)
	b.Run("mtls", func(b *testing.B) {
		run(b, "mtls", func(b *testing.B, _ int) int { return get(b, mc, "/resource", "Bearer "+at, "") })
	})
}

// BenchmarkDPoPVerify splits the DPoP resource path's own cost, in process
// (no HTTP): one signature verification alone for each proof algorithm the
// server accepts (the floor: a proof must be verified) — ES256
// (ecdsa.Verify), EdDSA (ed25519.Verify), PS256 (rsa.VerifyPSS, 2048) —,
// parsing and verifying an ES256 proof (parseDPoP), and the whole
// AuthenticateResource with the token from the in-memory cache. Proofs
// are made before the timer.
func BenchmarkDPoPVerify(b *testing.B) {
	e, c := benchEnv(b, storetest.SQLite(b))
	dk := newDPoPKey(b)
	at := e.tokens(c, dk)["access_token"].(string)
	u := e.base + "/resource"
	msg := []byte("signing input")
	d := sha256.Sum256(msg)
	// verify times one verification, b.N times.
	verify := func(b *testing.B, ok func() bool) {
		b.ReportAllocs()
		b.ResetTimer()
		measureCPU(b, func() {
			for range b.N {
				if !ok() {
					b.Fatal("verify failed")
				}
			}
		})
	}
	b.Run("ecdsa.Verify", func(b *testing.B) {
		k := dk.key.(*ecdsa.PrivateKey)
		r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
		if err != nil {
			b.Fatal(err)
		}
		verify(b, func() bool { return ecdsa.Verify(&k.PublicKey, d[:], r, s) })
	})
	b.Run("ed25519.Verify", func(b *testing.B) {
		pub, k, _ := ed25519.GenerateKey(rand.Reader)
		sig := ed25519.Sign(k, msg)
		verify(b, func() bool { return ed25519.Verify(pub, msg, sig) })
	})
	b.Run("rsa.VerifyPSS", func(b *testing.B) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			b.Fatal(err)
		}
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], opts)
		if err != nil {
			b.Fatal(err)
		}
		verify(b, func() bool { return rsa.VerifyPSS(&k.PublicKey, crypto.SHA256, d[:], sig, opts) == nil })
	})
	b.Run("parseDPoP", func(b *testing.B) {
		p := e.proofs(dk, u, at, 1)[0]
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
		ps := e.proofs(dk, u, at, b.N)
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
