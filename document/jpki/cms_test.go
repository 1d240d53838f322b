package jpki_test

import (
	"context"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/document/jpki/jpkitest"
)

func cmsSig(t *testing.T, card *jpkitest.Card, content []byte, o jpkitest.CMSOptions) jpki.Signature {
	t.Helper()
	b, err := card.SignCMS(content, o)
	if err != nil {
		t.Fatalf("SignCMS: %v", err)
	}
	s := jpki.Signature{Form: jpki.FormCMS, Value: b}
	if !o.EmbedCert {
		s.Certificate = card.DER()
	}
	return s
}

func TestVerifyCMS(t *testing.T) {
	p := testPKI(t)
	card := issue(t, p, jpkitest.CardOptions{})
	tests := []struct {
		name string
		opts jpkitest.CMSOptions
		want time.Time // signing time; zero: the challenge's issued-at
	}{
		{"attached, issuer and serial", jpkitest.CMSOptions{}, time.Time{}},
		{"detached", jpkitest.CMSOptions{Detached: true}, time.Time{}},
		{"subject key identifier", jpkitest.CMSOptions{BySKI: true}, time.Time{}},
		{"certificate embedded only", jpkitest.CMSOptions{EmbedCert: true}, time.Time{}},
		{"no signed attributes", jpkitest.CMSOptions{NoSignedAttrs: true}, time.Time{}},
		{"no signed attributes, detached", jpkitest.CMSOptions{NoSignedAttrs: true, Detached: true}, time.Time{}},
		{"signing time", jpkitest.CMSOptions{SigningTime: t0.Add(30 * time.Second)}, t0.Add(30 * time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ch := challengeBytes(t, t0)
			res, err := e.verifier.VerifySignature(context.Background(), ch, cmsSig(t, card, ch, tc.opts))
			if err != nil {
				t.Fatalf("VerifySignature(CMS %s) = %v, want nil", tc.name, err)
			}
			want := tc.want
			if want.IsZero() {
				want = t0
			}
			if !res.SigningTime.Equal(want) {
				t.Errorf("SigningTime = %v, want %v", res.SigningTime, want)
			}
		})
	}
}

func TestVerifyCMSRefusals(t *testing.T) {
	p := testPKI(t)
	card := issue(t, p, jpkitest.CardOptions{})
	other := issue(t, p, jpkitest.CardOptions{KeyBits: 2048})
	ch := challengeBytes(t, t0)
	wrong := sha256.Sum256([]byte("something else"))
	tests := []struct {
		name      string
		sig       func(t *testing.T) jpki.Signature
		wantErr   error
		wantCheck string
	}{
		{"attached content is another challenge", func(t *testing.T) jpki.Signature {
			return cmsSig(t, card, challengeBytes(t, t0), jpkitest.CMSOptions{})
		}, jpki.ErrContentMismatch, jpki.CheckContent},
		{"detached signature over another challenge", func(t *testing.T) jpki.Signature {
			return cmsSig(t, card, challengeBytes(t, t0), jpkitest.CMSOptions{Detached: true})
		}, jpki.ErrContentMismatch, jpki.CheckContent},
		{"messageDigest attribute wrong", func(t *testing.T) jpki.Signature {
			return cmsSig(t, card, ch, jpkitest.CMSOptions{Digest: wrong[:]})
		}, jpki.ErrContentMismatch, jpki.CheckContent},
		{"signer id names another certificate", func(t *testing.T) jpki.Signature {
			return cmsSig(t, card, ch, jpkitest.CMSOptions{NameCert: other})
		}, jpki.ErrSignerMismatch, jpki.CheckSignerID},
		{"signer id by SKI names another certificate", func(t *testing.T) jpki.Signature {
			return cmsSig(t, card, ch, jpkitest.CMSOptions{NameCert: other, BySKI: true})
		}, jpki.ErrSignerMismatch, jpki.CheckSignerID},
		{"embedded certificate does not match signer id", func(t *testing.T) jpki.Signature {
			s := cmsSig(t, card, ch, jpkitest.CMSOptions{NameCert: other, Certificates: [][]byte{card.DER()}})
			s.Certificate = nil
			return s
		}, jpki.ErrSignerMismatch, jpki.CheckSignerID},
		{"signed by another key, names the card", func(t *testing.T) jpki.Signature {
			s := cmsSig(t, other, ch, jpkitest.CMSOptions{NameCert: card})
			s.Certificate = card.DER()
			return s
		}, jpki.ErrSignature, jpki.CheckSignature},
		{"content type is not id-data", func(t *testing.T) jpki.Signature {
			return cmsSig(t, card, ch, jpkitest.CMSOptions{ContentType: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 5}})
		}, jpki.ErrSignatureFormat, jpki.CheckSignatureFormat},
		{"SHA-1 digest algorithm", func(t *testing.T) jpki.Signature {
			return cmsSig(t, card, ch, jpkitest.CMSOptions{DigestAlg: asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}})
		}, jpki.ErrWeakAlgorithm, jpki.CheckContent},
		{"signing time after expiry", func(t *testing.T) jpki.Signature {
			return cmsSig(t, card, ch, jpkitest.CMSOptions{SigningTime: t0.Add(time.Hour)})
		}, jpki.ErrSigningTime, jpki.CheckSigningTime},
		{"signing time before issue", func(t *testing.T) jpki.Signature {
			return cmsSig(t, card, ch, jpkitest.CMSOptions{SigningTime: t0.Add(-time.Hour)})
		}, jpki.ErrSigningTime, jpki.CheckSigningTime},
		{"truncated CMS", func(t *testing.T) jpki.Signature {
			s := cmsSig(t, card, ch, jpkitest.CMSOptions{})
			s.Value = s.Value[:len(s.Value)-10]
			return s
		}, jpki.ErrSignatureFormat, jpki.CheckSignatureFormat},
		{"oversized CMS", func(t *testing.T) jpki.Signature {
			return jpki.Signature{Form: jpki.FormCMS, Value: make([]byte, jpki.MaxSignatureSize+1)}
		}, jpki.ErrTooLarge, jpki.CheckSignatureFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			res, err := e.verifier.VerifySignature(context.Background(), ch, tc.sig(t))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("VerifySignature(%s) = %v, want %v", tc.name, err, tc.wantErr)
			}
			if got := failedCheck(t, res); got != tc.wantCheck {
				t.Errorf("VerifySignature(%s) failed check = %s, want %s", tc.name, got, tc.wantCheck)
			}
		})
	}
}
