package icao

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/madoguchi/madoguchi/document/internal/cert"
)

// A real chip's RSA Active Authentication exchange (ISO/IEC 9796-2 scheme 1,
// SHA-1, 1792-bit key), recorded in gmrtd's activeauth tests
// (github.com/gmrtd/gmrtd, MIT): DG15, the challenge (RND.IFD) and the
// INTERNAL AUTHENTICATE response.
var (
	aaKATDG15 = mustHex(
		"6F8201023081FF300D06092A864886F70D01010105000381ED003081E90281E100BB8F93F4DC95E205CDA17C6927AB1E" +
			"365B13065D03CD12E0FCE95D96840529453202F56CC4C13F77CD062930C8BC89A2873B257045C286E601CF3C09323A53" +
			"103314902804AA10A314628CE222206A8866946A36B442041BB54AC81E6855DD1D6E16101833D65A191C20AC8B33B8A1" +
			"A32920F46043F8031CF2BC17417030865FC5BE5A39DEE423BCBA3CA8177168EB23CFE01BA43EC87711B1CFFF85DB46F3" +
			"00DD8AE317B50D543B573E119E23AF7070D0B2FED6A3B2313A5EC02A531AAED1741F4390D1013E2A0F081EAC5DC8B0A1" +
			"B2C6BDB1206F08D30E3643E1E5BDF536110203010001")
	aaKATChallenge = mustHex("96302b0f3d7e7864")
	aaKATResponse  = mustHex(
		"474256306840c0ab1b63c10e1c26bdfef4a0dd843920283cc4e6e70a60f2bd25dc7725f9677bc1cde66379dc28b38e84" +
			"90f33afb2d10f9980c44c0bfc175d2b6684218f535c92fdd3e18db770a9ccbf91db3c7f0138e6d9e94b9bc8371761e3a" +
			"bed5e5e9b260279cfb238b58ae0d6a01da51c74c2a3ecd62c448bd9f20127f7384587287fa971204234e55b1a856c3e5" +
			"aaaa620bb799a68fbae08ee132bb61683eba9b0b40dc1e54641cad975b16991cab50af82e3f3985afd19e7427a125f5b" +
			"4b9878b12a5d2e01c7eedca3bb41c6fc05dccd818bce379d04b1f2f5d43487d3")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestActiveAuthKnownAnswer(t *testing.T) {
	spki, err := ParseDG15(aaKATDG15)
	if err != nil {
		t.Fatalf("ParseDG15 = %v", err)
	}
	pol := cert.DefaultPolicy()
	if err := VerifyActiveAuth(spki, nil, ActiveAuth{Challenge: aaKATChallenge, Signature: aaKATResponse}, pol); err != nil {
		t.Errorf("VerifyActiveAuth(recorded chip response) = %v, want nil", err)
	}
	other := append([]byte{}, aaKATChallenge...)
	other[7] ^= 1
	if err := VerifyActiveAuth(spki, nil, ActiveAuth{Challenge: other, Signature: aaKATResponse}, pol); !errors.Is(err, ErrAA) {
		t.Errorf("VerifyActiveAuth(replayed to another challenge) = %v, want ErrAA", err)
	}
	bad := append([]byte{}, aaKATResponse...)
	bad[10] ^= 1
	if err := VerifyActiveAuth(spki, nil, ActiveAuth{Challenge: aaKATChallenge, Signature: bad}, pol); !errors.Is(err, ErrAA) {
		t.Errorf("VerifyActiveAuth(corrupted response) = %v, want ErrAA", err)
	}
	for _, n := range []int{0, 7, 9} {
		if err := VerifyActiveAuth(spki, nil, ActiveAuth{Challenge: make([]byte, n), Signature: aaKATResponse}, pol); !errors.Is(err, ErrAA) {
			t.Errorf("VerifyActiveAuth(challenge of %d bytes) = %v, want ErrAA", n, err)
		}
	}
	if err := VerifyActiveAuth(spki, nil, ActiveAuth{Challenge: aaKATChallenge, Signature: aaKATResponse[1:]}, pol); !errors.Is(err, ErrAA) {
		t.Errorf("VerifyActiveAuth(short response) = %v, want ErrAA", err)
	}
}
