package ecc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"github.com/madoguchi/madoguchi/document/internal/ecc"
	"github.com/madoguchi/madoguchi/document/internal/ecc/ecctest"
)

func TestCurvesValidate(t *testing.T) {
	for _, c := range ecc.Curves() {
		if err := c.Validate(); err != nil {
			t.Errorf("%s.Validate() = %v, want nil", c.Name, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	base, err := ecc.CurveByName("brainpoolP256r1")
	if err != nil {
		t.Fatal(err)
	}
	add1 := func(n *big.Int) *big.Int { return new(big.Int).Add(n, big.NewInt(1)) }
	tests := []struct {
		name string
		mod  func(c *ecc.Curve)
	}{
		{"composite p", func(c *ecc.Curve) { c.P = add1(c.P) }},
		{"b changed: G off curve", func(c *ecc.Curve) { c.B = add1(c.B) }},
		{"wrong order", func(c *ecc.Curve) { c.N = add1(c.N) }},
		{"order of another prime", func(c *ecc.Curve) { c.N = big.NewInt(65537) }},
		{"cofactor 0", func(c *ecc.Curve) { c.H = 0 }},
		{"cofactor 2 breaks Hasse", func(c *ecc.Curve) { c.H = 2 }},
		{"small field", func(c *ecc.Curve) { c.P = big.NewInt(65537) }},
		{"singular", func(c *ecc.Curve) { c.A, c.B = big.NewInt(0), big.NewInt(0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *base
			tt.mod(&c)
			if err := c.Validate(); !errors.Is(err, ecc.ErrInvalidCurve) {
				t.Errorf("Validate(%s) = %v, want ErrInvalidCurve", tt.name, err)
			}
		})
	}
}

// TestGenericMatchesStdlib checks the math/big arithmetic against
// crypto/ecdsa on the NIST curves: signatures made by the standard library
// verify with the generic code path and vice versa.
func TestGenericMatchesStdlib(t *testing.T) {
	for _, std := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		t.Run(std.Params().Name, func(t *testing.T) {
			c, err := ecc.CurveByName(std.Params().Name)
			if err != nil {
				t.Fatal(err)
			}
			generic := *c // a copy without the stdlib fast path
			generic.Name = "generic " + c.Name
			generic = stripStd(generic)
			priv, err := ecdsa.GenerateKey(std, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := priv.PublicKey.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ecc.ParsePublicKey(&generic, raw)
			if err != nil {
				t.Fatalf("ParsePublicKey: %v", err)
			}
			d := sha512.Sum512([]byte("message"))
			sig, err := ecdsa.SignASN1(rand.Reader, priv, d[:])
			if err != nil {
				t.Fatal(err)
			}
			if !pub.VerifyASN1(d[:], sig) {
				t.Errorf("generic VerifyASN1(stdlib signature) = false, want true")
			}
			d[0] ^= 1
			if pub.VerifyASN1(d[:], sig) {
				t.Errorf("generic VerifyASN1(other digest) = true, want false")
			}
			// generic ScalarBaseMult agrees with the stdlib.
			k := []byte{0x12, 0x34, 0x56, 0x78, 0x9a}
			x1, y1 := generic.ScalarBaseMult(k)
			//lint:ignore SA1019 the deprecated arithmetic is the reference here
			x2, y2 := std.ScalarBaseMult(k)
			if x1.Cmp(x2) != 0 || y1.Cmp(y2) != 0 {
				t.Errorf("ScalarBaseMult(%x) differs from crypto/elliptic", k)
			}
		})
	}
}

func stripStd(c ecc.Curve) ecc.Curve {
	// Rebuild from exported fields only: the unexported stdlib curve is dropped.
	return ecc.Curve{Name: c.Name, OID: c.OID, P: c.P, A: c.A, B: c.B, Gx: c.Gx, Gy: c.Gy, N: c.N, H: c.H}
}

func TestBrainpoolSignVerify(t *testing.T) {
	for _, name := range []string{"brainpoolP224r1", "brainpoolP256r1", "brainpoolP320r1", "brainpoolP384r1", "brainpoolP512r1"} {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && name != "brainpoolP256r1" {
				t.Skip("short")
			}
			c, _ := ecc.CurveByName(name)
			key, err := ecctest.GenerateKey(c)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ecc.ParsePublicKey(c, key.Pub.Bytes())
			if err != nil {
				t.Fatalf("ParsePublicKey(own key) = %v", err)
			}
			d := sha256.Sum256([]byte("challenge"))
			sig, err := key.SignASN1(d[:])
			if err != nil {
				t.Fatal(err)
			}
			if !pub.VerifyASN1(d[:], sig) {
				t.Fatalf("VerifyASN1 = false, want true")
			}
			plain, _ := key.SignPlain(d[:])
			if !pub.VerifyPlain(d[:], plain) {
				t.Errorf("VerifyPlain = false, want true")
			}
			if pub.VerifyPlain(d[:], plain[1:]) {
				t.Errorf("VerifyPlain(short signature) = true, want false")
			}
			other := sha256.Sum256([]byte("other challenge"))
			if pub.VerifyASN1(other[:], sig) {
				t.Errorf("VerifyASN1(other digest) = true, want false")
			}
			r, s, _ := key.Sign(d[:])
			for _, bad := range []struct{ r, s *big.Int }{
				{new(big.Int), s}, {r, new(big.Int)}, {c.N, s}, {r, new(big.Int).Add(s, c.N)}, {new(big.Int).Neg(r), s},
			} {
				if pub.Verify(d[:], bad.r, bad.s) {
					t.Errorf("Verify(r=%x, s=%x) = true, want false", bad.r, bad.s)
				}
			}
		})
	}
}

func TestParseECParameters(t *testing.T) {
	p384, _ := ecc.CurveByName("P-384")
	bp256, _ := ecc.CurveByName("brainpoolP256r1")
	explicit, err := ecctest.ExplicitParameters(p384)
	if err != nil {
		t.Fatal(err)
	}
	named, _ := asn1.Marshal(bp256.OID)
	weird := *bp256
	weird.B = new(big.Int).Add(weird.B, big.NewInt(1))
	// Keep G on the modified curve so only "not a named curve" fails: use a
	// curve whose parameters differ; the parser must refuse it.
	weirdDER, _ := ecctest.ExplicitParameters(&weird)
	otherOrder := *bp256
	otherOrder.N = new(big.Int).Add(otherOrder.N, big.NewInt(2))
	otherOrderDER, _ := ecctest.ExplicitParameters(&otherOrder)
	unknownOID, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 3, 4})
	null, _ := asn1.Marshal(asn1.NullRawValue)
	tests := []struct {
		name string
		in   []byte
		want *ecc.Curve
		err  error
	}{
		{"explicit P-384", explicit, p384, nil},
		{"named brainpool", named, bp256, nil},
		{"explicit, not a named curve", weirdDER, nil, ecc.ErrInvalidPoint},
		{"explicit, other order", otherOrderDER, nil, ecc.ErrUnknownCurve},
		{"unknown OID", unknownOID, nil, ecc.ErrUnknownCurve},
		{"implicitCA", null, nil, ecc.ErrUnknownCurve},
		{"truncated", explicit[:len(explicit)-3], nil, ecc.ErrMalformed},
		{"too large", make([]byte, 5000), nil, ecc.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ecc.ParseECParameters(tt.in)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("ParseECParameters(%s) = %v, %v; want %v, %v", tt.name, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	c, _ := ecc.CurveByName("brainpoolP256r1")
	key, _ := ecctest.GenerateKey(c)
	good := key.Pub.Bytes()
	off := append([]byte{}, good...)
	off[len(off)-1] ^= 1
	compressed := append([]byte{2 + byte(key.Pub.Y.Bit(0))}, good[1:33]...)
	for _, tt := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"uncompressed", good, true},
		{"compressed", compressed, true},
		{"off curve", off, false},
		{"short", good[:40], false},
		{"empty", nil, false},
		{"infinity", []byte{0}, false},
	} {
		pub, err := ecc.ParsePublicKey(c, tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParsePublicKey(%s) error = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if tt.ok && (pub.X.Cmp(key.Pub.X) != 0 || pub.Y.Cmp(key.Pub.Y) != 0) {
			t.Errorf("ParsePublicKey(%s) = a different point", tt.name)
		}
	}
}

func FuzzParseECParameters(f *testing.F) {
	p384, _ := ecc.CurveByName("P-384")
	explicit, _ := ecctest.ExplicitParameters(p384)
	named, _ := asn1.Marshal(p384.OID)
	f.Add(explicit)
	f.Add(named)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ecc.ParseECParameters(b)
		if err == nil && c == nil {
			t.Fatal("nil curve without error")
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	for _, name := range []string{"P-384", "brainpoolP256r1", "brainpoolP384r1"} {
		c, _ := ecc.CurveByName(name)
		generic := stripStd(*c)
		key, _ := ecctest.GenerateKey(&generic)
		pub := &ecc.PublicKey{Curve: c, X: key.Pub.X, Y: key.Pub.Y}
		d := sha512.Sum384([]byte("m"))
		sig, _ := key.SignASN1(d[:])
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if !pub.VerifyASN1(d[:], sig) {
					b.Fatal("verify failed")
				}
			}
		})
		if name == "P-384" {
			gpub := &ecc.PublicKey{Curve: &generic, X: key.Pub.X, Y: key.Pub.Y}
			b.Run(name+"-generic", func(b *testing.B) {
				for b.Loop() {
					if !gpub.VerifyASN1(d[:], sig) {
						b.Fatal("verify failed")
					}
				}
			})
		}
	}
}
