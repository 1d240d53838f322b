package credential

import (
	"bufio"
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/internal/testsuite"
)

// TestNodeIndependentChecks runs the issue's chain with implementations
// that share nothing with this package, under Node
// (e2e/credential/verify-credential.mjs, packages pinned by its
// package-lock.json, installed by .ci/run): jsQR decodes the rendered PNG,
// the base45 package decodes the text, cose-js verifies the ES256
// COSE_Sign1, cbor reads the claims and @hpke/core opens the template
// envelope with the tenant's branch key; then Go expands and matches what
// Node decrypted. The refusals must happen at the right stage: a tampered
// claim or another issuer's key fails verification; another tenant's
// branch key, or a validly signed credential carrying another credential's
// envelope, fails decryption.
func TestNodeIndependentChecks(t *testing.T) {
	dir, _ := filepath.Abs("../e2e/credential")
	for _, pkg := range []string{"jsqr", "pngjs", "base45", "cose-js", "cbor", "@hpke/core"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			testsuite.Unavailable(t, "credential-node", "%s is not installed (npm ci --no-audit --no-fund --ignore-scripts in e2e/credential): %v", pkg, err)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testsuite.Unavailable(t, "credential-node", "node is not installed: %v", err)
	}

	f := newFixture(t)
	f.tpl = randomTemplate(t, 42, 512)
	genuine := f.issue(t, "tnt_a", 3, 24*time.Hour)
	other := f.issue(t, "tnt_a", 4, 24*time.Hour)

	// Another issuer's key, and another tenant's branch key.
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b2, _ := ecdh.X25519().GenerateKey(rand.Reader)

	// A byte of the claims changed after signing (the subject's first
	// character: the CBOR still parses, the signature no longer covers it).
	tampered := bytes.Clone(genuine.COSE)
	sub := []byte(genuine.Claims.Subject)
	at := bytes.Index(tampered, sub)
	if at < 0 {
		t.Fatal("subject not found in the COSE bytes")
	}
	tampered[at] ^= 0x01

	// A validly signed credential carrying another credential's envelope.
	moved := genuine.Claims
	moved.Template = other.Claims.Template
	payload, err := marshal(&moved)
	if err != nil {
		t.Fatal(err)
	}
	movedCOSE, err := signSign1(f.iss.signer, f.iss.kid[:], payload)
	if err != nil {
		t.Fatal(err)
	}

	issuerXY := func(pub *ecdsa.PublicKey) map[string][]byte {
		e, err := pub.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		b := e.Bytes() // 0x04 || x || y
		return map[string][]byte{"x": b[1:33], "y": b[33:65]}
	}
	type tcase struct {
		Name      string            `json:"name"`
		PNG       []byte            `json:"png"`
		Issuer    map[string][]byte `json:"issuer"`
		BranchKey []byte            `json:"branch_key"`
		Model     string            `json:"model"`
		wantStage string
	}
	png := func(cose []byte) []byte {
		q, err := RenderQR(QRText(cose))
		if err != nil {
			t.Fatal(err)
		}
		return q.PNG
	}
	cases := []tcase{
		{Name: "genuine", PNG: genuine.qrPNG(t), Issuer: issuerXY(f.iss.Public()), BranchKey: f.branch.Bytes(), Model: testModel, wantStage: "opened"},
		{Name: "engine of another model", PNG: genuine.qrPNG(t), Issuer: issuerXY(f.iss.Public()), BranchKey: f.branch.Bytes(), Model: "faceapi-blazeface/lm68/mfn512@faceplugin-0.0.1+arcface5-flip", wantStage: "verified"},
		{Name: "tampered claim", PNG: png(tampered), Issuer: issuerXY(f.iss.Public()), BranchKey: f.branch.Bytes(), Model: testModel, wantStage: "decoded"},
		{Name: "another issuer's key", PNG: genuine.qrPNG(t), Issuer: issuerXY(&k2.PublicKey), BranchKey: f.branch.Bytes(), Model: testModel, wantStage: "decoded"},
		{Name: "another tenant's branch key", PNG: genuine.qrPNG(t), Issuer: issuerXY(f.iss.Public()), BranchKey: b2.Bytes(), Model: testModel, wantStage: "verified"},
		{Name: "envelope moved from another credential", PNG: png(movedCOSE), Issuer: issuerXY(f.iss.Public()), BranchKey: f.branch.Bytes(), Model: testModel, wantStage: "verified"},
	}
	in, _ := json.Marshal(map[string]any{"cases": cases})
	cmd := exec.Command(node, filepath.Join(dir, "verify-credential.mjs"))
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify-credential.mjs: %v\n%s", err, stderr.String())
	}
	type result struct {
		Name      string `json:"name"`
		Stage     string `json:"stage"`
		Text      string `json:"text"`
		QRVersion int    `json:"qr_version"`
		Claims    struct {
			Iss, Sub, Tnt string
			Mdl           []byte
			Exp, Iat      int64
			Sli           uint32
			KeyVersion    uint32 `json:"key_version"`
			CTI           []byte `json:"cti"`
		} `json:"claims"`
		Template []byte `json:"template"`
		Error    string `json:"error"`
	}
	var results []result
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("node output %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) != len(cases) {
		t.Fatalf("node answered %d cases, want %d\n%s", len(results), len(cases), stderr.String())
	}
	for i, r := range results {
		tc := cases[i]
		if r.Name != tc.Name || r.Stage != tc.wantStage {
			t.Errorf("%s: Node reached stage %q (error %q), want %q", tc.Name, r.Stage, r.Error, tc.wantStage)
			continue
		}
		if tc.wantStage != "opened" {
			t.Logf("%s: refused by Node after %q: %s", tc.Name, r.Stage, r.Error)
			continue
		}
		// jsQR read exactly what was issued; cose-js's claims are ours;
		// @hpke/core's plaintext is the compact template, which matches.
		c := genuine.Claims
		if r.Text != genuine.Text {
			t.Errorf("jsQR text differs from the issued text")
		}
		if r.Claims.Iss != c.Issuer || r.Claims.Sub != c.Subject || r.Claims.Tnt != c.Tenant || !bytes.Equal(r.Claims.Mdl, ModelCode(c.Model)) ||
			r.Claims.Sli != c.StatusIndex || r.Claims.Exp != c.Expiry || r.Claims.Iat != c.IssuedAt || !bytes.Equal(r.Claims.CTI, c.CTI) || r.Claims.KeyVersion != 1 {
			t.Errorf("claims read by Node = %+v, want iss %s sub %s t %s m %x sli %d exp %d iat %d, key version 1",
				r.Claims, c.Issuer, c.Subject, c.Tenant, ModelCode(c.Model), c.StatusIndex, c.Expiry, c.IssuedAt)
		}
		compact, _ := Compact(f.tpl)
		if !bytes.Equal(r.Template, compact) {
			t.Fatalf("template opened by @hpke/core differs from the compact template (%d vs %d bytes)", len(r.Template), len(compact))
		}
		got, err := Expand(c.Model, r.Template)
		if err != nil {
			t.Fatal(err)
		}
		if s, err := face.Compare(got, f.tpl); err != nil || s < 0.998 {
			t.Errorf("Compare(Node-decrypted template, enrolled) = %v, %v; want a match >= 0.998 (int6)", s, err)
		}
		if _, err := f.trust.Verify(r.Text, time.Now()); err != nil {
			t.Errorf("Verify(text read by jsQR) = %v", err)
		}
		t.Logf("genuine: jsQR read version %d, %d characters; cose-js verified; @hpke/core opened %d bytes", r.QRVersion, len(r.Text), len(r.Template))
	}
}

func (is *Issued) qrPNG(t *testing.T) []byte {
	t.Helper()
	q, err := RenderQR(is.Text)
	if err != nil {
		t.Fatal(err)
	}
	return q.PNG
}
