package credential

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/face"
)

// TestQRSize states the size of a credential as the server issues it, per
// recogniser: the ids at their real lengths (tenant "tn_" + 26, subject
// "sub_" + 16, the engines' model ids), a 90-day validity, the template
// quantised and sealed. Everything in the payload has a fixed length for a
// given recogniser (ES256 r||s, X25519 enc, AES-GCM tag), so the versions
// are exact; docs/credential.md quotes them.
func TestQRSize(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		model       string
		dim         int
		wantVersion int // at level M
	}{
		{"faceapi-blazeface/lm68/resnet128@1.7.15+dlib-chip-flip", 128, 17},
		{"faceapi-blazeface/lm68/mfn512@faceplugin-0.0.1+arcface5-flip", 512, 24}, // the default recogniser
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d-D", tc.dim), func(t *testing.T) {
			v := randomTemplate(t, 7, tc.dim).Values()
			tpl, err := face.NewTemplate(tc.model, v)
			if err != nil {
				t.Fatal(err)
			}
			compact, err := Compact(tpl)
			if err != nil {
				t.Fatal(err)
			}
			cti := make([]byte, ctiLen)
			rand.Read(cti)
			now := time.Now()
			is, err := Sign(f.iss, Claims{Issuer: "madoguchi.local", Subject: "sub_" + "abcdefghijklmnop", IssuedAt: now.Unix(),
				Expiry: now.Add(90 * 24 * time.Hour).Unix(), CTI: cti, Tenant: "tn_" + "abcdefghijklmnopqrstuvwxyz", Model: tc.model,
				StatusIndex: 1 << 20}, f.branch.PublicKey(), 1, compact)
			if err != nil {
				t.Fatal(err)
			}
			q, err := RenderQR(is.Text)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: template %d B, COSE %d B, QR text %d characters, version %d-M (%d modules, %d px at %d px a module with the quiet zone)",
				tc.model, len(compact), len(is.COSE), len(is.Text), q.Version, q.Modules, (q.Modules+2*qrBorder)*qrScale, qrScale)
			if q.Version != tc.wantVersion {
				t.Errorf("RenderQR(%d-D credential) = version %d-M, want %d-M (docs/credential.md states it)", tc.dim, q.Version, tc.wantVersion)
			}
		})
	}
}
