package jpki_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

func TestEvidenceAndRecord(t *testing.T) {
	e := newEnv(t)
	card := issue(t, e.pki, jpkitest.CardOptions{})
	ch := challengeBytes(t, t0)
	res, err := e.verifier.VerifySignature(context.Background(), ch, rawSig(t, card, ch))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := res.Evidence("https://hub.example.jp/")
	if err != nil {
		t.Fatal(err)
	}
	want := jpki.ElectronicSignature{
		Type:          "electronic_signature",
		SignatureType: "https://hub.example.jp/signature/jpki_sign",
		Issuer:        "C=JP, O=JPKI TEST, OU=JPKI for digital signature, OU=Japan Agency for Local Authority Information Systems (TEST)",
		SerialNumber:  strings.ToUpper(card.Cert.SerialNumber.Text(16)),
		CreatedAt:     "2026-06-01T03:00:00Z",
	}
	if diff := cmp.Diff(want, ev); diff != "" {
		t.Errorf("Evidence() mismatch (-want +got):\n%s", diff)
	}

	claims, err := res.Claims()
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(j), "山田") || strings.Contains(string(j), "1990") {
		t.Errorf("json.Marshal(Claims) reveals personal data: %s", j)
	}
	wantClaims := map[string]any{
		"name": "山田　太郎", "birthdate": "1990-01-02", "gender": "male",
		"address": map[string]string{"formatted": "東京都千代田区千代田１－１", "country": "JP"},
	}
	if diff := cmp.Diff(wantClaims, claims.Reveal()); diff != "" {
		t.Errorf("Claims().Reveal() mismatch (-want +got):\n%s", diff)
	}

	rec, err := res.Record()
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.SignedBytes) != string(ch) || len(rec.Chain) != 2 || len(rec.Revocation) == 0 || rec.RevocationType != "crl" {
		t.Errorf("Record() = signed %d bytes, chain %d, revocation %s %d bytes; want the challenge, 2, crl evidence",
			len(rec.SignedBytes), len(rec.Chain), rec.RevocationType, len(rec.Revocation))
	}
	if _, err := (&jpki.Result{}).Record(); err == nil {
		t.Error("Record() of a failed result = nil error")
	}
	if _, err := (&jpki.Result{}).Claims(); err == nil {
		t.Error("Claims() of a failed result = nil error")
	}
}
