package credential

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/face"
)

// TestQRSize states the size of a credential as the server issues it, per
// recogniser and template encoding: the ids at their real lengths (tenant
// "tn_" + 26, subject "sub_" + 16, the engines' model ids), a 90-day
// validity, the template quantised and sealed, the QR code rendered by the
// encoder the server uses. Everything in the payload has a fixed length
// for a given recogniser and encoding (ES256 r||s, X25519 enc, AES-GCM
// tag), so the sizes are exact; docs/credential.md quotes them, and the
// default must stay within the design notes' budget of version 22-M.
func TestQRSize(t *testing.T) {
	f := newFixture(t)
	const (
		resnet = "faceapi-blazeface/lm68/resnet128@1.7.15+dlib-chip-flip"
		mfn    = "faceapi-blazeface/lm68/mfn512@faceplugin-0.0.1+arcface5-flip" // the default recogniser
	)
	tests := []struct {
		model       string
		dim         int
		enc         Encoding
		wantCOSE    int
		wantVersion int // at level M
	}{
		{mfn, 512, Int6, 645, 21}, // the default credential
		{mfn, 512, Int8, 773, 23},
		{mfn, 512, Int5, 581, 19},
		{mfn, 512, Int4, 517, 18},
		{resnet, 128, Int6, 356, 15},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d-D-%s", tc.dim, tc.enc), func(t *testing.T) {
			v := randomTemplate(t, 7, tc.dim).Values()
			tpl, err := face.NewTemplate(tc.model, v)
			if err != nil {
				t.Fatal(err)
			}
			compact, err := CompactAs(tpl, tc.enc)
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
			t.Logf("%s %s: template %d B, COSE %d B, QR text %d characters, version %d-M (%d modules, %d px at %d px a module with the quiet zone)",
				tc.model, tc.enc, len(compact), len(is.COSE), len(is.Text), q.Version, q.Modules, (q.Modules+2*qrBorder)*qrScale, qrScale)
			if len(is.COSE) != tc.wantCOSE || q.Version != tc.wantVersion {
				t.Errorf("%d-D %s credential: COSE %d B, version %d-M; want %d B, %d-M (docs/credential.md states it)",
					tc.dim, tc.enc, len(is.COSE), q.Version, tc.wantCOSE, tc.wantVersion)
			}
			if tc.enc == DefaultEncoding && q.Version > 22 {
				t.Errorf("the default credential is version %d-M, over the budget of 22-M", q.Version)
			}
		})
	}
}
