package credential

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"math"
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
	for _, dim := range []int{128, 512, 1024} {
		tpl := randomTemplate(t, uint64(dim), dim)
		b, err := Compact(tpl)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != dim+5 {
			t.Fatalf("Compact(%d-D) = %d bytes, want %d", dim, len(b), dim+5)
		}
		back, err := Expand(testModel, b)
		if err != nil {
			t.Fatal(err)
		}
		sc, _ := face.Compare(tpl, back)
		if sc < 0.999 {
			t.Fatalf("Compare(%d-D, quantised) = %v, want >= 0.999", dim, sc)
		}
	}
	if _, err := Expand(testModel, []byte{1, 0, 0, 0, 0, 5}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Expand(zero scale) = %v", err)
	}
	nan := math.Float32bits(float32(math.NaN()))
	if _, err := Expand(testModel, []byte{1, byte(nan >> 24), byte(nan >> 16), byte(nan >> 8), byte(nan), 5}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Expand(NaN scale) = %v", err)
	}
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
