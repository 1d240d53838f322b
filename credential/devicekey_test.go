package credential

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// A device's HPKE key is X25519 (a file) or P-256 (a token); the branch
// key is wrapped to it with the DHKEM of its own curve and opens only
// with it.
func TestDeviceKeySuites(t *testing.T) {
	_, vkey, _ := note.GenerateKey(rand.Reader, "madoguchi.branch/test")
	bk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	for _, curve := range []ecdh.Curve{ecdh.X25519(), ecdh.P256()} {
		dev, _ := curve.GenerateKey(rand.Reader)
		pub, _, err := ParseEnrolmentCode(EnrolmentCode(dev.PublicKey(), vkey))
		if err != nil || !pub.Equal(dev.PublicKey()) {
			t.Fatalf("%v: ParseEnrolmentCode = %v, %v", curve, pub, err)
		}
		w, err := WrapBranchKey(pub, "tnt_a", "bdv_1", 1, bk)
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnwrapBranchKey(dev, "tnt_a", "bdv_1", 1, w)
		if err != nil || !got.Equal(bk) {
			t.Fatalf("%v: UnwrapBranchKey = %v", curve, err)
		}
		other, _ := curve.GenerateKey(rand.Reader)
		if _, err := UnwrapBranchKey(other, "tnt_a", "bdv_1", 1, w); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%v: UnwrapBranchKey(another device) = %v, want ErrDecrypt", curve, err)
		}
	}
	// Other key encodings are refused.
	p384, _ := ecdh.P384().GenerateKey(rand.Reader)
	for name, raw := range map[string][]byte{
		"P-384":              p384.PublicKey().Bytes(),
		"compressed P-256":   append([]byte{2}, make([]byte, 32)...),
		"P-256 not on curve": append([]byte{4}, make([]byte, 64)...),
		"31 bytes":           make([]byte, 31),
	} {
		code := EnrolmentCodePrefix + base64.RawURLEncoding.EncodeToString(raw) + "." + vkey
		if _, _, err := ParseEnrolmentCode(code); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ParseEnrolmentCode(%s) = %v, want ErrInvalidInput", name, err)
		}
	}
}
