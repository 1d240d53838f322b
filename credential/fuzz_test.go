package credential

import (
	"crypto/ecdh"
	"errors"
	"testing"
	"time"
)

// FuzzParse: QR text of any shape is refused with an error or parsed; a
// parsed credential re-encodes to a structure that parses again, and
// Verify never panics.
func FuzzParse(f *testing.F) {
	fx := newFixture(f)
	good := fx.issue(f, "tnt_a", 3, time.Hour)
	f.Add(good.Text)
	f.Add(Prefix)
	f.Add(Prefix + "0")
	f.Add(Prefix + base45Encode([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x40, 0x40}))
	f.Add(Prefix + base45Encode([]byte{0xd2, 0x9f, 0xff}))
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(text)
		if err != nil {
			return
		}
		if len(p.Claims.CTI) != ctiLen {
			t.Fatalf("parsed cti of %d bytes", len(p.Claims.CTI))
		}
		_, _ = fx.trust.Verify(text, time.Now())
	})
}

// FuzzParseCOSE: raw COSE/CBOR bytes.
func FuzzParseCOSE(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.issue(f, "tnt_a", 3, time.Hour).COSE)
	f.Add([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa1, 0x04, 0x48, 1, 2, 3, 4, 5, 6, 7, 8, 0x41, 0xa0, 0x40})
	f.Add([]byte{0xd2, 0x84, 0x5f, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseCOSE(b)
		if err != nil {
			return
		}
		_ = p.VerifySignature(fx.trust.Keys)
		_, _ = p.OpenTemplate(map[uint32]*ecdh.PrivateKey{1: fx.branch})
	})
}

// FuzzStatusList: signed status lists.
func FuzzStatusList(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.setStatus(f, 1, 3, time.Now()))
	f.Add([]byte{0xd2, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStatusList(b, fx.trust.Keys)
		if err != nil {
			return
		}
		_, _ = s.Revoked(1 << 20)
	})
}

// FuzzEnvelope: the HPKE envelope and the compact template inside it.
func FuzzEnvelope(f *testing.F) {
	fx := newFixture(f)
	good := fx.issue(f, "tnt_a", 3, time.Hour)
	e := good.Claims.Template
	f.Add(e.Enc, e.Ciphertext, uint32(1))
	f.Add(make([]byte, 32), make([]byte, 40), uint32(1))
	f.Fuzz(func(t *testing.T, enc, ct []byte, ver uint32) {
		env := envelope{KeyVersion: ver, Enc: enc, Ciphertext: ct}
		pt, err := env.open(fx.branch, "tnt_a", good.Claims.CTI, testModel)
		if err != nil {
			return
		}
		_, _ = Expand(testModel, pt)
	})
}

// FuzzBase45 round-trips.
func FuzzBase45(f *testing.F) {
	f.Add([]byte("Hello!!"))
	f.Add([]byte{0xff, 0xff, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		back, err := base45Decode(base45Encode(b))
		if err != nil || string(back) != string(b) {
			t.Fatalf("round trip of %x: %x, %v", b, back, err)
		}
	})
}

// FuzzExpand: any bytes either expand to a template of the dimension the
// encoding byte and length imply, or are ErrMalformed.
func FuzzExpand(f *testing.F) {
	for _, enc := range Encodings {
		b, _ := CompactAs(randomTemplate(f, 3, 128), enc)
		f.Add(b)
	}
	f.Add([]byte{4, 0xe7, 0x77, 0x77, 0x70})
	f.Add([]byte{1, 0x3f, 0x80, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		tpl, err := Expand(testModel, b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Expand(%x) = %v, want ErrMalformed", b, err)
			}
			return
		}
		if tpl.Len() != (len(b)-1)*8/int(b[0]) {
			t.Fatalf("Expand(%x): %d values", b, tpl.Len())
		}
	})
}
