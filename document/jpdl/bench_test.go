package jpdl_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

func BenchmarkVerify(b *testing.B) {
	is, _ := issuers(b)
	f, err := is.Issue(licence())
	if err != nil {
		b.Fatal(err)
	}
	v := verifier(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(f, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRSAReference is one RSA-2048 PKCS#1 v1.5 verification alone, the
// floor under Verify.
func BenchmarkRSAReference(b *testing.B) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("licence"))
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, d[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
