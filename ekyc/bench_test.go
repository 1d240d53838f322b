package ekyc

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/madoguchi/madoguchi/store/storetest"
)

// BenchmarkHeSession runs whole ヘ sessions (create, capture start, chip
// verification with a real RSA-signed test licence, 7 bound selfie frames
// sealed as blobs, submit, decision with record and audit entries) on
// SQLite. The face engine is the test engine, so this measures the hub's
// own cost per session, without neural-network inference.
func BenchmarkHeSession(b *testing.B) {
	e := newEnv(b, storetest.SQLite(b))
	lic := e.licence(7)
	b.ResetTimer()
	for b.Loop() {
		ss := e.runHe(e.tenantA, lic, func(p *page) { p.selfies(7, 0.95) })
		if ss.Outcome != OutcomeApproved {
			b.Fatalf("outcome %s", ss.Outcome)
		}
	}
}

func BenchmarkCheckChallenge(b *testing.B) {
	front, left, closed, right := lm(0, 0.3), lm(0.5, 0.3), lm(0, 0.05), lm(-0.5, 0.3)
	frames := []Landmarks{front, left, front, closed, front, right, front}
	steps := []Step{TurnLeft, Blink, TurnRight}
	for b.Loop() {
		if !CheckChallenge(steps, frames, rule).Passed {
			b.Fatal("challenge failed")
		}
	}
}

var benchPayload = []byte(`{"iss":"https://madoguchi.test","outcome":"approved","verified_claims":{"verification":{"trust_framework":"jp_aml"}}}`)

// BenchmarkResultSign signs a result as compact JWS (ES256).
func BenchmarkResultSign(b *testing.B) {
	s := testSigner(b)
	for b.Loop() {
		if _, err := s.Sign(benchPayload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawES256 is the reference: one bare ECDSA P-256 signature.
func BenchmarkRawES256(b *testing.B) {
	s := testSigner(b)
	h := sha256.Sum256(benchPayload)
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, s.key, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyResult(b *testing.B) {
	s := testSigner(b)
	jws, _ := s.Sign(benchPayload)
	jwks := s.JWKS()
	for b.Loop() {
		if _, err := VerifyResult(jws, jwks); err != nil {
			b.Fatal(err)
		}
	}
}
