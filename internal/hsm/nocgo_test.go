//go:build !cgo

package hsm

import (
	"errors"
	"strings"
	"testing"
)

// A binary built without cgo fails closed, saying why, and still reports
// a malformed URI as one.
func TestNoCgo(t *testing.T) {
	const uri = "pkcs11:token=bank;object=issuer?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:PIN"
	if _, err := OpenSigner(uri); !errors.Is(err, ErrNoCgo) || !strings.Contains(err.Error(), "built without cgo") {
		t.Errorf("OpenSigner = %v, want ErrNoCgo", err)
	}
	if _, err := OpenKeyExchanger(uri); !errors.Is(err, ErrNoCgo) {
		t.Errorf("OpenKeyExchanger = %v, want ErrNoCgo", err)
	}
	if err := GenerateKey(uri, ECDSAP256); !errors.Is(err, ErrNoCgo) {
		t.Errorf("GenerateKey = %v, want ErrNoCgo", err)
	}
	if _, err := OpenSigner("pkcs11:token=bank"); !errors.Is(err, ErrURI) {
		t.Errorf("OpenSigner(bad URI) = %v, want ErrURI", err)
	}
}
