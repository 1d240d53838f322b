package credential

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/face"
)

// The default engine's model id, as a credential carries it (the tests
// never depend on it being the default).
const testModel = "faceapi-blazeface/lm68/resnet128@1.7.15+dlib-chip-flip"

type fixture struct {
	iss      *IssuerKey
	branch   *ecdh.PrivateKey
	tpl      face.Template
	trust    *Trust
	issuedAt time.Time
}

func randomTemplate(t testing.TB, seed uint64, dim int) face.Template {
	t.Helper()
	r := mrand.New(mrand.NewPCG(seed, 1))
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	tpl, err := face.NewTemplate(testModel, v)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := NewIssuerKey(k)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	f := &fixture{iss: iss, branch: bk, tpl: randomTemplate(t, 1, 128), issuedAt: now}
	f.trust = &Trust{Issuer: "madoguchi.test", Keys: KeySet{iss.kid: iss.Public()}, Tenant: "tnt_a",
		BranchKeys: map[uint32]*ecdh.PrivateKey{1: bk}, Models: []string{testModel}}
	f.setStatus(t, 1, 0, now)
	return f
}

func (f *fixture) setStatus(t testing.TB, seq uint64, revoked int, at time.Time) []byte {
	t.Helper()
	bits := make([]byte, 16)
	if revoked >= 0 {
		bits[revoked/8] |= 1 << (revoked % 8)
	}
	b, err := SignStatusList(f.iss, StatusList{Issuer: "madoguchi.test", Tenant: "tnt_a", IssuedAt: at.Unix(), Expiry: at.Add(72 * time.Hour).Unix(), Seq: seq, Bits: bits})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseStatusList(b, f.trust.Keys)
	if err != nil {
		t.Fatal(err)
	}
	f.trust.Status = s
	return b
}

func (f *fixture) issue(t testing.TB, tenant string, index uint32, ttl time.Duration) *Issued {
	t.Helper()
	cti := make([]byte, 16)
	rand.Read(cti)
	compact, err := Compact(f.tpl)
	if err != nil {
		t.Fatal(err)
	}
	c := Claims{Issuer: "madoguchi.test", Subject: "sub_4wq7zq2lq3", IssuedAt: f.issuedAt.Unix(), Expiry: f.issuedAt.Add(ttl).Unix(),
		CTI: cti, Tenant: tenant, Model: testModel, StatusIndex: index}
	is, err := Sign(f.iss, c, f.branch.PublicKey(), 1, compact)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	is := f.issue(t, "tnt_a", 3, 24*time.Hour)
	v, err := f.trust.Verify(is.Text, time.Now())
	if err != nil {
		t.Fatalf("Verify = %v, want nil", err)
	}
	sc, err := face.Compare(v.Template, f.tpl)
	if err != nil || sc < 0.999 {
		t.Fatalf("Compare(decrypted, original) = %v, %v; want > 0.999", sc, err)
	}
	if v.Claims.ID() != is.Claims.ID() || !strings.HasPrefix(is.Text, Prefix) {
		t.Fatalf("claims id %s vs %s", v.Claims.ID(), is.Claims.ID())
	}
	q, err := RenderQR(is.Text)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("COSE %d bytes, QR text %d characters, version %d-M (%d modules)", len(is.COSE), len(is.Text), q.Version, q.Modules)
	if q.Version > 20 {
		t.Errorf("QR version %d-M: larger than the v20 budget for a phone screen", q.Version)
	}
}

func TestVerifyRefusals(t *testing.T) {
	f := newFixture(t)
	good := f.issue(t, "tnt_a", 3, 24*time.Hour)
	other := f.newOtherIssuer(t)
	tamper := func(s string) string {
		b, _ := base45Decode(strings.TrimPrefix(s, Prefix))
		b[len(b)/2] ^= 1
		return Prefix + base45Encode(b)
	}
	tests := []struct {
		name string
		text string
		at   time.Time
		prep func()
		want error
	}{
		{"tampered byte", tamper(good.Text), time.Now(), nil, nil},
		{"expired", f.issue(t, "tnt_a", 4, time.Hour).Text, time.Now().Add(2 * time.Hour), nil, ErrExpired},
		{"other tenant", f.issue(t, "tnt_b", 5, time.Hour).Text, time.Now(), nil, ErrOtherTenant},
		{"revoked", good.Text, time.Now(), func() { f.setStatus(t, 2, 3, time.Now()) }, ErrRevoked},
		{"index past the list", f.issue(t, "tnt_a", 500, time.Hour).Text, time.Now(), nil, ErrStatusUnknown},
		{"status list expired", f.issue(t, "tnt_a", 3, 100*time.Hour).Text, time.Now().Add(73 * time.Hour), nil, ErrStatusStale},
		{"unknown issuer key", other.Text, time.Now(), nil, ErrSignature},
		{"model not run here", good.Text, time.Now(), func() { f.trust.Models = []string{"another-model"} }, ErrModel},
		{"branch key of another version", good.Text, time.Now(), func() { f.trust.BranchKeys = map[uint32]*ecdh.PrivateKey{2: f.branch} }, ErrDecrypt},
		{"no prefix", strings.TrimPrefix(good.Text, Prefix), time.Now(), nil, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.setStatus(t, 1, -1, time.Now())
			f.trust.Models = []string{testModel}
			f.trust.BranchKeys = map[uint32]*ecdh.PrivateKey{1: f.branch}
			if tc.prep != nil {
				tc.prep()
			}
			_, err := f.trust.Verify(tc.text, tc.at)
			if err == nil {
				t.Fatalf("Verify = nil, want a refusal")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func (f *fixture) newOtherIssuer(t *testing.T) *Issued {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	iss, _ := NewIssuerKey(k)
	saved := f.iss
	f.iss = iss
	defer func() { f.iss = saved }()
	return f.issue(t, "tnt_a", 3, time.Hour)
}

func TestStatusListReplayRefused(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	old := f.setStatus(t, 1, -1, now.Add(-time.Hour))
	fresh := f.setStatus(t, 2, 3, now)
	oldList, err := ParseStatusList(old, f.trust.Keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.trust.Update(oldList); !errors.Is(err, ErrStatusReplay) {
		t.Fatalf("Update(old list) = %v, want ErrStatusReplay", err)
	}
	freshList, _ := ParseStatusList(fresh, f.trust.Keys)
	if err := f.trust.Update(freshList); err != nil {
		t.Fatalf("Update(same list) = %v", err)
	}
	// A list signed by another key does not parse at all.
	b := append([]byte(nil), fresh...)
	b[len(b)-1] ^= 1
	if _, err := ParseStatusList(b, f.trust.Keys); !errors.Is(err, ErrSignature) {
		t.Fatalf("ParseStatusList(forged) = %v, want ErrSignature", err)
	}
}

func TestCompactRoundTrip(t *testing.T) {
	tests := []struct {
		enc     Encoding
		minCos  face.Score // cosine of a random Gaussian template to its compact form
		bytes16 int        // bytes of a 128-D template
	}{
		{Int8, 0.9999, 129},
		{Int6, 0.998, 97},
		{Int5, 0.993, 81},
		{Int4, 0.98, 65},
	}
	for _, tc := range tests {
		for _, dim := range []int{128, 512, 1024} {
			tpl := randomTemplate(t, uint64(dim), dim)
			b, err := CompactAs(tpl, tc.enc)
			if err != nil {
				t.Fatal(err)
			}
			if want := 1 + (tc.bytes16-1)*dim/128; len(b) != want {
				t.Errorf("CompactAs(%d-D, %s) = %d bytes, want %d", dim, tc.enc, len(b), want)
			}
			back, err := Expand(testModel, b)
			if err != nil {
				t.Fatalf("Expand(CompactAs(%d-D, %s)) = %v", dim, tc.enc, err)
			}
			if sc, _ := face.Compare(tpl, back); sc < tc.minCos {
				t.Errorf("Compare(%d-D, %s) = %v, want >= %v", dim, tc.enc, sc, tc.minCos)
			}
			again, _ := CompactAs(back, tc.enc)
			if string(again) != string(b) {
				t.Errorf("CompactAs(Expand(CompactAs(%d-D, %s))) differs: the encoding is not a fixed point", dim, tc.enc)
			}
		}
	}
	if b, _ := Compact(randomTemplate(t, 1, 512)); Encoding(b[0]) != DefaultEncoding || DefaultEncoding != Int6 {
		t.Errorf("Compact writes encoding %d, want the default int6 (docs/credential.md)", b[0])
	}
}

// TestCompactKnownAnswers pins the packing: offset values, most
// significant bit first, no scale.
func TestCompactKnownAnswers(t *testing.T) {
	tpl, _ := face.NewTemplate(testModel, []float32{1, 0, 0, 0, 0, 0, 0, -1})
	for enc, want := range map[Encoding][]byte{
		Int4: {4, 0xe7, 0x77, 0x77, 0x70},
		Int6: {6, 0xf9, 0xf7, 0xdf, 0x7d, 0xf7, 0xc0},
		Int8: {8, 0xfe, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00},
	} {
		got, err := CompactAs(tpl, enc)
		if err != nil || string(got) != string(want) {
			t.Errorf("CompactAs(e1 - e8, %s) = %x, %v; want %x", enc, got, err, want)
		}
	}
	for name, b := range map[string][]byte{
		"empty":                   {6},
		"unknown encoding":        {7, 0, 0, 0, 0, 0, 0, 0},
		"format 1 (int8 + scale)": {1, 0x3f, 0x80, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8},
		"not a whole value":       {6, 1, 2, 3, 4, 5},
		"dimension not 8k":        {4, 0x77, 0x77, 0x77},
		"value over 2L":           {4, 0xf7, 0x77, 0x77, 0x77},
		"zero vector":             {4, 0x77, 0x77, 0x77, 0x77},
		"too long":                append([]byte{8}, make([]byte, MaxTemplateDim+8)...),
	} {
		if _, err := Expand(testModel, b); !errors.Is(err, ErrMalformed) {
			t.Errorf("Expand(%s) = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := CompactAs(randomTemplate(t, 1, 12), Int6); err == nil {
		t.Error("CompactAs(12-D) = nil error, want a dimension error")
	}
}

// TestOldFormatRefused: a format-1 credential is refused as such, with
// the reason the branch shows.
func TestOldFormatRefused(t *testing.T) {
	f := newFixture(t)
	good := f.issue(t, "tnt_a", 3, time.Hour)
	old := "MDG1:" + strings.TrimPrefix(good.Text, Prefix)
	_, err := f.trust.Verify(old, time.Now())
	if !errors.Is(err, ErrOldFormat) || RefusalCode(err) != "credential.old_format" {
		t.Fatalf("Verify(format 1) = %v (%s), want ErrOldFormat, credential.old_format", err, RefusalCode(err))
	}
}

// TestModelCode: a verifier finds its model by the code; the full model id
// is the envelope's aad, so a credential whose code names the verifier's
// model but whose template was sealed for another model id does not open.
func TestModelCode(t *testing.T) {
	f := newFixture(t)
	good := f.issue(t, "tnt_a", 3, time.Hour)
	if len(good.Claims.ModelCode) != 4 || string(good.Claims.ModelCode) != string(ModelCode(testModel)) {
		t.Fatalf("ModelCode = %x, want the first 4 bytes of SHA-256(%q)", good.Claims.ModelCode, testModel)
	}
	v, err := f.trust.Verify(good.Text, time.Now())
	if err != nil || v.Claims.Model != testModel {
		t.Fatalf("Verify = %v (model %q), want model %q", err, v.Claims.Model, testModel)
	}
	other := *f.trust
	other.Models = []string{"another/model@1"}
	if _, err := other.Verify(good.Text, time.Now()); !errors.Is(err, ErrModel) {
		t.Errorf("Verify(on an engine of another model) = %v, want ErrModel", err)
	}
	// Sealed for another model id, labelled with this one's code.
	c := good.Claims
	c.Template, err = sealTemplate(f.branch.PublicKey(), 1, c.Tenant, c.CTI, "another/model@1", mustCompact(t, f.tpl))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := marshal(&c)
	msg, err := signSign1(f.iss.signer, f.iss.kid[:], payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.trust.Verify(QRText(msg), time.Now()); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Verify(envelope sealed for another model id) = %v, want ErrDecrypt", err)
	}
}

func mustCompact(t *testing.T, tpl face.Template) []byte {
	t.Helper()
	b, err := Compact(tpl)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBase45KnownAnswers(t *testing.T) {
	// RFC 9285 §4.3 examples.
	for in, want := range map[string]string{"AB": "BB8", "Hello!!": "%69 VD92EX0", "base-45": "UJCLQE7W581", "ietf!": "QED8WEX0"} {
		if got := base45Encode([]byte(in)); got != want {
			t.Errorf("base45Encode(%q) = %q, want %q", in, got, want)
		}
		back, err := base45Decode(want)
		if err != nil || string(back) != in {
			t.Errorf("base45Decode(%q) = %q, %v", want, back, err)
		}
	}
	for _, bad := range []string{"GGW", "A", "ab3", "::::"} {
		if _, err := base45Decode(bad); err == nil {
			t.Errorf("base45Decode(%q) = nil error", bad)
		}
	}
}

func TestBranchKeyWrap(t *testing.T) {
	dev, _ := ecdh.X25519().GenerateKey(rand.Reader)
	bk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	w, err := WrapBranchKey(dev.PublicKey(), "tnt_a", "bdv_1", 3, bk)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnwrapBranchKey(dev, "tnt_a", "bdv_1", 3, w)
	if err != nil || !got.Equal(bk) {
		t.Fatalf("UnwrapBranchKey = %v", err)
	}
	for name, try := range map[string]func() error{
		"other device":  func() error { _, err := UnwrapBranchKey(dev, "tnt_a", "bdv_2", 3, w); return err },
		"other version": func() error { _, err := UnwrapBranchKey(dev, "tnt_a", "bdv_1", 4, w); return err },
		"other tenant":  func() error { _, err := UnwrapBranchKey(dev, "tnt_b", "bdv_1", 3, w); return err },
	} {
		if err := try(); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: UnwrapBranchKey = %v, want ErrDecrypt", name, err)
		}
	}
}
