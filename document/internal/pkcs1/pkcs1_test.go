package pkcs1

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/madoguchi/madoguchi/document"
)

func TestVerifySHA256(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("front image and face image")
	d := sha256.Sum256(msg)
	good, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	d1 := sha1.Sum(msg)
	sha1Sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, d1[:])
	weakSig, _ := rsa.SignPKCS1v15(rand.Reader, weak, crypto.SHA256, d[:])
	other := sha256.Sum256([]byte("tampered"))
	tests := []struct {
		name   string
		pub    *rsa.PublicKey
		digest []byte
		sig    []byte
		want   error
	}{
		{"valid", &key.PublicKey, d[:], good, nil},
		{"tampered data", &key.PublicKey, other[:], good, document.ErrTampered},
		{"sha1 downgrade", &key.PublicKey, d[:], sha1Sig, document.ErrWeakAlgorithm},
		{"short signature", &key.PublicKey, d[:], good[1:], document.ErrMalformed},
		{"1024-bit key", &weak.PublicKey, d[:], weakSig, document.ErrWeakAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySHA256(tt.pub, tt.digest, tt.sig)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifySHA256 = %v, want %v", err, tt.want)
			}
		})
	}
	if !errors.Is(VerifySHA256(&key.PublicKey, d[:], sha1Sig), errSHA1) {
		t.Errorf("SHA-1 signature not named as a downgrade")
	}
}
