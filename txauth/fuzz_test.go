package txauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/madoguchi/madoguchi/ekyc"
)

// Fuzz targets for the parsers txauth applies to what it does not write
// itself; ParseTransaction, ParsePolicy, ParseCell (transaction_test.go)
// and ParseDeviceQR (device_qr_test.go) have theirs beside their tests.

// FuzzDecodeLayout: an opened card layout is accepted only as a 32-byte
// seed and a permutation of the pictures.
func FuzzDecodeLayout(f *testing.F) {
	var good layout
	for i := range good.Cells {
		good.Cells[i] = (i * 7) % NumPictures
	}
	good.Seed = make([]byte, 32)
	b, _ := json.Marshal(good)
	f.Add(b)
	f.Add([]byte(`{"cells":[0,0],"seed":"AAAA"}`))
	f.Add([]byte(`{"cells":[-1],"seed":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		lay, err := decodeLayout(body)
		if err != nil {
			if lay != nil {
				t.Fatal("a refused layout was returned")
			}
			return
		}
		if len(lay.Seed) != 32 {
			t.Fatalf("seed of %d bytes accepted", len(lay.Seed))
		}
		seen := map[int]bool{}
		for _, p := range lay.Cells {
			if p < 0 || p >= NumPictures || seen[p] {
				t.Fatalf("cells %v accepted: not a permutation", lay.Cells)
			}
			seen[p] = true
		}
	})
}

// FuzzParseDeviceKey: a device key is accepted only as a P-256 public key.
func FuzzParseDeviceKey(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	f.Add(der)
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKIXPublicKey(&k384.PublicKey)
	f.Add(der384)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		pk, err := parseDeviceKey(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) || pk != nil {
				t.Fatalf("parseDeviceKey = %v, %v", pk, err)
			}
			return
		}
		if pk.Curve != elliptic.P256() || len(b) > MaxDeviceKey {
			t.Fatalf("accepted a key on %s of %d bytes", pk.Curve.Params().Name, len(b))
		}
	})
}

// FuzzPasskeyResponses: the WebAuthn responses PasskeyFinish hands to the
// relying-party library never panic it, whatever the page sends.
func FuzzPasskeyResponses(f *testing.F) {
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA"}}`))
	f.Add([]byte(`{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64<<10 {
			return // the web layer caps the body
		}
		_, _ = protocol.ParseCredentialRequestResponseBytes(b)
		_, _ = protocol.ParseCredentialCreationResponseBytes(b)
	})
}

// FuzzVerifyResult: a result verifies only with the server's signature and
// then says exactly what was signed.
func FuzzVerifyResult(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := ekyc.NewSigner(k)
	if err != nil {
		f.Fatal(err)
	}
	want := Result{Issuer: "https://madoguchi.test", Audience: "tn_a", EventID: "evt_1", Confirmation: "cf_1", Customer: "cus_1",
		Kind: KindTransaction, TransactionHash: "aGFzaA", HashAlg: HashAlg, Outcome: StateConfirmed}
	payload, _ := json.Marshal(want)
	jws, err := signer.SignTyped(ResultType, payload)
	if err != nil {
		f.Fatal(err)
	}
	jwks := signer.JWKS()
	f.Add(jws)
	f.Add(jws[:len(jws)-2])
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := VerifyResult(s, jwks)
		if err != nil {
			return
		}
		got, _ := json.Marshal(r)
		if string(got) != string(payload) {
			t.Fatalf("VerifyResult accepted a result that was never signed: %s", got)
		}
	})
}
