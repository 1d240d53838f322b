package icao_test

import (
	"crypto"
	"errors"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao"
	"github.com/madoguchi/madoguchi/document/icao/icaotest"
	"github.com/madoguchi/madoguchi/document/internal/cert/certtest"
	"github.com/madoguchi/madoguchi/document/trust"
)

func checkOf(ev *document.Evidence, name string) (document.Check, bool) {
	for _, c := range ev.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return document.Check{}, false
}

// TestDataContentType: a Chinese passport labels its LDSSecurityObject
// with CMS id-data (real sample: gmrtd document/sod_test.go "CN"). It is
// accepted for CHN only, with a note; any other state is refused.
func TestDataContentType(t *testing.T) {
	ck, err := certtest.NewRSA(2048, false)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := certtest.NewRSA(2048, false)
	if err != nil {
		t.Fatal(err)
	}
	cn, err := icaotest.NewPKI("CN", ck, dk, now.AddDate(-1, 0, 0), now.AddDate(9, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ut := setup(t)[0]
	tests := []struct {
		name  string
		pki   *icaotest.PKI
		mrz   string
		ct    []int
		ok    bool
		check string
	}{
		{"CHN id-data", cn, icaotest.MRZ("CHN", "340415"), []int{1, 2, 840, 113549, 1, 7, 1}, true, ""},
		{"CHN ldsSecurityObject", cn, icaotest.MRZ("CHN", "340415"), nil, true, ""},
		{"UTO id-data", ut.pki, ut.mrz, []int{1, 2, 840, 113549, 1, 7, 1}, false, "sod.content_type"},
		{"CHN other type", cn, icaotest.MRZ("CHN", "340415"), []int{1, 2, 840, 113549, 1, 7, 2}, false, "sod.parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := icaotest.Options{MRZ: tt.mrz}
			if tt.ct != nil {
				o.ContentType = tt.ct
			}
			f, err := tt.pki.Build(o)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := verifier(t, tt.pki).Verify(f, nil, now)
			if tt.ok {
				if err != nil {
					t.Fatalf("Verify(%s) = %v, want verified", tt.name, err)
				}
				note, has := checkOf(ev, "sod.content_type")
				if want := tt.ct != nil; has != want {
					t.Fatalf("Verify(%s) note sod.content_type present = %v, want %v", tt.name, has, want)
				}
				if has && (note.Mandatory || note.Result != document.Pass || !strings.Contains(note.Detail, "id-data") || !strings.Contains(note.Detail, "CHN")) {
					t.Errorf("Verify(%s) note = %+v, want a non-mandatory pass naming id-data and CHN", tt.name, note)
				}
				return
			}
			var re *document.RefusalError
			if !errors.Is(err, document.ErrMalformed) || !errors.As(err, &re) || re.Check != tt.check {
				t.Fatalf("Verify(%s) = %v, want ErrMalformed at %s", tt.name, err, tt.check)
			}
		})
	}
}

// TestSHA1StatePolicy: a Russian passport signed with SHA-1 throughout
// (real sample: gmrtd document/sod_test.go "RU": SHA-1 data-group hashes,
// ecdsa-with-SHA1 SOD and DS certificate) is refused by default and
// accepted only when the operator's policy names RUS.
func TestSHA1StatePolicy(t *testing.T) {
	ck, err := certtest.NewEC("P-256", crypto.SHA1, false)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := certtest.NewEC("P-256", crypto.SHA1, false)
	if err != nil {
		t.Fatal(err)
	}
	ru, err := icaotest.NewPKI("RU", ck, dk, now.AddDate(-1, 0, 0), now.AddDate(9, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ru.Build(icaotest.Options{MRZ: icaotest.MRZ("RUS", "340415"), Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	anchor, err := trust.NewAnchor(ru.CSCA.DER, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		states []string
		ok     bool
	}{
		{"default", nil, false},
		{"another state", []string{"CHN", "JPN"}, false},
		{"RUS allowed", []string{"RUS"}, true},
		{"lower case", []string{"rus"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := icao.NewVerifier(icao.Config{Anchors: trust.NewStore(anchor), SHA1States: tt.states})
			if err != nil {
				t.Fatal(err)
			}
			ev, err := v.Verify(f, nil, now)
			note, has := checkOf(ev, "policy.sha1")
			if !tt.ok {
				if !errors.Is(err, document.ErrWeakAlgorithm) {
					t.Fatalf("Verify(SHA-1, policy %v) = %v, want ErrWeakAlgorithm", tt.states, err)
				}
				if has {
					t.Errorf("refused evidence carries the note %+v", note)
				}
				var re *document.RefusalError
				if !errors.As(err, &re) || !strings.Contains(re.Reason, "--allow-sha1 RUS") {
					t.Errorf("refusal %v does not tell the operator how to allow SHA-1 for RUS", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify(SHA-1, policy %v) = %v, want verified", tt.states, err)
			}
			if !has || note.Mandatory || note.Result != document.Pass {
				t.Fatalf("note policy.sha1 = %+v (present %v), want a non-mandatory pass", note, has)
			}
			for _, part := range []string{"data-group hashes", "SOD signature", "Document Signer certificate", "issuing state RUS"} {
				if !strings.Contains(note.Detail, part) {
					t.Errorf("note %q does not name %q", note.Detail, part)
				}
			}
		})
	}

	// The policy follows the issuing state: a SHA-256 passport of RUS gets
	// no note, and a SHA-1 passport of another state is still refused
	// under a policy that names RUS.
	v, err := icao.NewVerifier(icao.Config{Anchors: verifierAnchors(t, setup(t)[0].pki, ru), SHA1States: []string{"RUS"}})
	if err != nil {
		t.Fatal(err)
	}
	base := setup(t)[0]
	f2, err := base.pki.Build(icaotest.Options{MRZ: base.mrz, Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(f2, nil, now); !errors.Is(err, document.ErrWeakAlgorithm) {
		t.Errorf("Verify(UTO with SHA-1, policy RUS) = %v, want ErrWeakAlgorithm", err)
	}
	f3, err := base.pki.Build(icaotest.Options{MRZ: base.mrz})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := v.Verify(f3, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, has := checkOf(ev, "policy.sha1"); has {
		t.Errorf("a SHA-256 passport carries the SHA-1 note")
	}

	for _, bad := range []string{"RU", "R2D", "", "RUSS"} {
		if _, err := icao.NewVerifier(icao.Config{Anchors: trust.NewStore(anchor), SHA1States: []string{bad}}); err == nil {
			t.Errorf("NewVerifier(SHA1States %q) = nil error, want refusal", bad)
		}
	}
}

func verifierAnchors(t *testing.T, pkis ...*icaotest.PKI) *trust.Store {
	t.Helper()
	var as []*trust.Anchor
	for _, p := range pkis {
		a, err := trust.NewAnchor(p.CSCA.DER, true)
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	return trust.NewStore(as...)
}
