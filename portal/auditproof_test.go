package portal

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// Golden vectors for the browser's proof verifier (static/auditproof.js),
// computed by the audit package: valid bundles for every index of trees of
// several sizes, and bundles with a tampered entry, proof, checkpoint,
// signature or key, each with the step that must fail. The Go verifier
// (the one 'madoguchi audit verify' runs) must agree with the expected
// verdict of every vector, and TestAuditProofJS runs the JavaScript on the
// same file under Node. Regenerate with
//
//	go test ./portal/ -run TestAuditProofVectors -update-vectors

var updateVectors = flag.Bool("update-vectors", false, "rewrite testdata/auditproof-vectors.json")

const vectorsFile = "testdata/auditproof-vectors.json"

type proofVector struct {
	Name   string `json:"name"`
	Key    string `json:"key"`
	Bundle string `json:"bundle"`
	// OK is the verdict; FailedStep the step that must fail otherwise
	// (auditproof.js STEPS).
	OK         bool   `json:"ok"`
	FailedStep string `json:"failed_step,omitempty"`
	// Expect, if set, is the entry the page shows (the "match" step).
	Expect map[string]any `json:"expect,omitempty"`
	// For valid vectors: what the verifier reports.
	Entry map[string]any `json:"entry,omitempty"`
	Size  string         `json:"size,omitempty"`
	Root  string         `json:"root,omitempty"`
}

// fixedReader is a deterministic entropy source for the vector keys.
type fixedReader struct{ seed string }

func (r *fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", r.seed, i)))
		p[i] = h[0]
	}
	return len(p), nil
}

func entryJSON(idx uint64, e audit.Entry) map[string]any {
	d := map[string]any{}
	for k, v := range e.Details {
		d[k] = v
	}
	return map[string]any{"index": fmt.Sprint(idx), "time_us": fmt.Sprint(e.Time.UnixMicro()), "actor_kind": e.ActorKind,
		"actor_id": e.ActorID, "tenant_id": e.TenantID, "action": e.Action, "object": e.Object, "request_id": e.RequestID,
		"outcome": e.Outcome, "details": d}
}

func makeVectors(t *testing.T) []proofVector {
	t.Helper()
	ctx := context.Background()
	const origin = "vectors.madoguchi.invalid/audit"
	signer, _, err := audit.GenerateSigner(&fixedReader{"signer"}, origin)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := audit.GenerateSigner(&fixedReader{"other"}, origin) // same name, another key
	if err != nil {
		t.Fatal(err)
	}
	witnessKey, _, err := note.GenerateKey(&fixedReader{"witness"}, "witness.madoguchi.invalid")
	if err != nil {
		t.Fatal(err)
	}
	witness, err := note.NewSigner(witnessKey)
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	l, err := audit.New(db, signer)
	if err != nil {
		t.Fatal(err)
	}
	const n = 13
	var ents []audit.Entry
	for i := range n {
		e := audit.Entry{Time: time.Date(2026, 6, 1, 9, 0, i, i*1000, time.UTC), ActorKind: audit.ActorStaff, ActorID: fmt.Sprintf("st_%02d", i),
			TenantID: "tn_a", Action: "portal.view", Object: fmt.Sprintf("ekyc.session:ses_%02d", i), RequestID: fmt.Sprintf("req-%d", i),
			Outcome: audit.OutcomeOK, Details: map[string]string{"ip": "192.0.2.1", "route": "/audit/entries/{id}", "note": "確認 ✓"}}
		if i%4 == 3 {
			e.ActorKind, e.ActorID, e.Outcome, e.Details = audit.ActorSystem, "", audit.OutcomeDenied, nil
		}
		ents = append(ents, e)
		if err := db.InTx(ctx, func(tx *store.Tx) error { _, err := l.Append(ctx, tx, e); return err }); err != nil {
			t.Fatal(err)
		}
	}
	bundle := func(idx, size uint64) (string, audit.InclusionProofFile) {
		t.Helper()
		cp, err := l.CheckpointAt(ctx, size)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := l.InclusionProof(ctx, idx, size)
		if err != nil {
			t.Fatal(err)
		}
		_, leaf, err := l.Entry(ctx, idx)
		if err != nil {
			t.Fatal(err)
		}
		p := audit.InclusionProofFile{Leaf: leaf, Index: idx, Proof: proof, Checkpoint: cp}
		return string(audit.FormatInclusionProof(p)), p
	}
	key := signer.VerifierKey()
	var vs []proofVector
	for _, size := range []uint64{1, 2, 3, 5, 7, 8, 13} {
		for idx := range size {
			b, _ := bundle(idx, size)
			root, err := l.Root(ctx, size)
			if err != nil {
				t.Fatal(err)
			}
			vs = append(vs, proofVector{Name: fmt.Sprintf("valid index %d size %d", idx, size), Key: key, Bundle: b, OK: true,
				Entry: entryJSON(idx, ents[idx]), Size: fmt.Sprint(size), Root: base64.StdEncoding.EncodeToString(root[:])})
		}
	}
	// Tampering, on entry 5 in the tree of 13.
	good, p := bundle(5, 13)
	bad := func(name, step, b, k string) {
		vs = append(vs, proofVector{Name: name, Key: k, Bundle: b, FailedStep: step})
	}
	with := func(edit func(*audit.InclusionProofFile)) string {
		q := p
		q.Leaf = bytes.Clone(p.Leaf)
		q.Proof = append([][]byte(nil), p.Proof...)
		q.Checkpoint = bytes.Clone(p.Checkpoint)
		edit(&q)
		return string(audit.FormatInclusionProof(q))
	}
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 1; return b }
	cpText, cpSigs, _ := strings.Cut(string(p.Checkpoint), "\n\n")
	cpText += "\n"
	resign := func(text string, s note.Signer) []byte {
		m, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	objAt := bytes.Index(p.Leaf, []byte("ses_05"))
	bad("entry: object edited", "inclusion", with(func(q *audit.InclusionProofFile) { q.Leaf = flip(q.Leaf, objAt+5) }), key)
	bad("entry: time edited", "inclusion", with(func(q *audit.InclusionProofFile) { q.Leaf = flip(q.Leaf, 8) }), key)
	bad("entry: trailing byte", "leaf", with(func(q *audit.InclusionProofFile) { q.Leaf = append(q.Leaf, 0) }), key)
	bad("entry: unknown version", "leaf", with(func(q *audit.InclusionProofFile) { q.Leaf = flip(q.Leaf, 0) }), key)
	bad("entry: none", "leaf", with(func(q *audit.InclusionProofFile) { q.Leaf = nil }), key)
	bad("proof: a hash edited", "inclusion", with(func(q *audit.InclusionProofFile) { q.Proof[1] = flip(q.Proof[1], 31) }), key)
	bad("proof: a hash missing", "inclusion", with(func(q *audit.InclusionProofFile) { q.Proof = q.Proof[:len(q.Proof)-1] }), key)
	bad("proof: a hash too many", "inclusion", with(func(q *audit.InclusionProofFile) { q.Proof = append(q.Proof, q.Proof[0]) }), key)
	bad("proof: hashes swapped", "inclusion", with(func(q *audit.InclusionProofFile) { q.Proof[0], q.Proof[1] = q.Proof[1], q.Proof[0] }), key)
	bad("proof: another index", "inclusion", with(func(q *audit.InclusionProofFile) { q.Index = 4 }), key)
	bad("proof: index outside the tree", "inclusion", with(func(q *audit.InclusionProofFile) { q.Index = 13 }), key)
	bad("proof: short hash", "inclusion", with(func(q *audit.InclusionProofFile) { q.Proof[0] = q.Proof[0][:31] }), key)
	bad("checkpoint: root edited, signature kept", "signature", with(func(q *audit.InclusionProofFile) {
		lines := strings.Split(cpText, "\n")
		r, _ := base64.StdEncoding.DecodeString(lines[2])
		lines[2] = base64.StdEncoding.EncodeToString(flip(r, 0))
		q.Checkpoint = []byte(strings.Join(lines, "\n") + "\n" + cpSigs)
	}), key)
	bad("checkpoint: size edited, signature kept", "signature", with(func(q *audit.InclusionProofFile) {
		q.Checkpoint = []byte(strings.Replace(cpText, "\n13\n", "\n12\n", 1) + "\n" + cpSigs)
	}), key)
	bad("checkpoint: signature edited", "signature", with(func(q *audit.InclusionProofFile) {
		sig := strings.TrimSuffix(strings.Fields(cpSigs)[2], "\n")
		raw, _ := base64.StdEncoding.DecodeString(sig)
		q.Checkpoint = []byte(strings.Replace(string(q.Checkpoint), sig, base64.StdEncoding.EncodeToString(flip(raw, 20)), 1))
	}), key)
	bad("checkpoint: signed by another key of the same name", "signature", with(func(q *audit.InclusionProofFile) {
		q.Checkpoint, _ = audit.SignCheckpoint(mustParseCP(t, cpText), other)
	}), key)
	bad("checkpoint: no signature", "signature", with(func(q *audit.InclusionProofFile) { q.Checkpoint = []byte(cpText + "\n") }), key)
	bad("checkpoint: another origin, signed by the key", "checkpoint", with(func(q *audit.InclusionProofFile) {
		q.Checkpoint = resign(strings.Replace(cpText, origin, "elsewhere.invalid/log", 1), signerOf(t, signer))
	}), key)
	bad("key: another log's key", "signature", good, other.VerifierKey())
	parts := strings.SplitN(key, "+", 3)
	bad("key: key hash edited", "key", good, parts[0]+"+00000000+"+parts[2])
	bad("key: not a key", "key", good, "not a key")
	bad("key: truncated", "key", good, key[:len(key)-4])
	// A witness cosignature is ignored, as the signed-note spec requires.
	cosigned := with(func(q *audit.InclusionProofFile) {
		m, err := note.Open(q.Checkpoint, note.VerifierList(mustVerifier(t, key)))
		if err != nil {
			t.Fatal(err)
		}
		q.Checkpoint, err = note.Sign(m, witness)
		if err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(cosigned, "witness.madoguchi.invalid") {
		t.Fatal("cosignature missing")
	}
	root, _ := l.Root(ctx, 13)
	vs = append(vs, proofVector{Name: "valid: with a witness cosignature", Key: key, Bundle: cosigned, OK: true,
		Entry: entryJSON(5, ents[5]), Size: "13", Root: base64.StdEncoding.EncodeToString(root[:])})
	// The page's own entry must be the one proven.
	vs = append(vs, proofVector{Name: "valid, matches the page", Key: key, Bundle: good, OK: true, Expect: entryJSON(5, ents[5]),
		Entry: entryJSON(5, ents[5]), Size: "13", Root: base64.StdEncoding.EncodeToString(root[:])})
	shown := entryJSON(5, ents[5])
	shown["object"] = "ekyc.session:ses_06"
	vs = append(vs, proofVector{Name: "page shows another entry than the proven one", Key: key, Bundle: good, Expect: shown, FailedStep: "match"})
	return vs
}

func mustParseCP(t *testing.T, text string) audit.Checkpoint {
	t.Helper()
	c, err := audit.ParseCheckpoint([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustVerifier(t *testing.T, key string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signerOf rebuilds the note signer of s from the fixed seed (the audit
// package does not hand out its private key).
func signerOf(t *testing.T, s *audit.Signer) note.Signer {
	t.Helper()
	skey, _, err := note.GenerateKey(&fixedReader{"signer"}, s.Name())
	if err != nil {
		t.Fatal(err)
	}
	ns, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestAuditProofVectors: the vectors are what the audit package computes
// (stable: fixed keys, times and entries), and the Go verifier agrees with
// every expected verdict.
func TestAuditProofVectors(t *testing.T) {
	vs := makeVectors(t)
	b, err := json.MarshalIndent(vs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *updateVectors {
		if err := os.WriteFile(vectorsFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (run with -update-vectors)", err)
	}
	var old []proofVector
	if err := json.Unmarshal(stored, &old); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(old, vs); diff != "" {
		t.Errorf("%s is stale (run with -update-vectors):\n%s", vectorsFile, diff)
	}
	for _, v := range vs {
		ent, cp, err := audit.VerifyInclusionProof([]byte(v.Bundle), v.Key)
		ok := err == nil
		if ok && v.Expect != nil {
			idx := v.Expect["index"]
			ok = cmp.Equal(entryJSON(5, ent), v.Expect) && idx == "5"
		}
		if ok != v.OK {
			t.Errorf("%s: Go verifier says ok=%v (%v), vector says %v", v.Name, ok, err, v.OK)
		}
		if v.OK && (fmt.Sprint(cp.Size) != v.Size || base64.StdEncoding.EncodeToString(cp.Root[:]) != v.Root) {
			t.Errorf("%s: checkpoint %d %x", v.Name, cp.Size, cp.Root)
		}
	}
	if len(vs) < 60 {
		t.Errorf("only %d vectors", len(vs))
	}
}

// TestAuditProofJS runs static/auditproof.js under Node (WebCrypto) on
// every vector: the verdict, the failing step, and for valid bundles the
// decoded entry, size and root must be what the Go side wrote.
func TestAuditProofJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node not found")
		}
		t.Skip("SKIPPED: node not installed")
	}
	// The module is imported from a .mjs copy: Node would take the .js
	// file for CommonJS.
	src, err := staticFS.ReadFile("static/auditproof.js")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod := filepath.Join(dir, "auditproof.mjs")
	if err := os.WriteFile(mod, src, 0o644); err != nil {
		t.Fatal(err)
	}
	vectors, _ := filepath.Abs(vectorsFile)
	script, _ := filepath.Abs("../e2e/browser/auditproof-vectors.mjs")
	out, err := exec.Command(node, script, mod, vectors).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var vs []proofVector
	b, _ := os.ReadFile(vectorsFile)
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct {
			Name       string         `json:"name"`
			OK         bool           `json:"ok"`
			FailedStep string         `json:"failedStep"`
			Reason     string         `json:"reason"`
			Entry      map[string]any `json:"entry"`
			Checkpoint struct {
				Size, Root string
			} `json:"checkpoint"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("node output %q: %v", sc.Text(), err)
		}
		v := vs[seen]
		seen++
		if r.Name != v.Name || r.OK != v.OK || (!v.OK && r.FailedStep != v.FailedStep) {
			t.Errorf("%s: JS ok=%v step %q (%s); want ok=%v step %q", v.Name, r.OK, r.FailedStep, r.Reason, v.OK, v.FailedStep)
			continue
		}
		if v.OK && (!cmp.Equal(r.Entry, v.Entry) || r.Checkpoint.Size != v.Size || r.Checkpoint.Root != v.Root) {
			t.Errorf("%s: JS decoded %v size %s root %s; want %v %s %s", v.Name, r.Entry, r.Checkpoint.Size, r.Checkpoint.Root, v.Entry, v.Size, v.Root)
		}
	}
	if seen != len(vs) {
		t.Errorf("node reported %d of %d vectors", seen, len(vs))
	}
}
