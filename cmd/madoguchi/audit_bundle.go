package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/madoguchi/madoguchi/audit"
)

// verifyBundleFile checks a JSON proof file offline: an audit proof bundle
// (audit.BundleFormat), or a verification record downloaded from the
// portal ({"record": …, "audit_proof": bundle}). For a record it also
// checks that the bundle holds the portal's export entry whose
// record_sha256 is the SHA-256 of the record exactly as it is in the file,
// so the record's content is bound to the signed log.
func verifyBundleFile(e *env, b []byte, vkey string, fail func(error) error) error {
	var doc struct {
		Record json.RawMessage `json:"record"`
		Proof  json.RawMessage `json:"audit_proof"`
	}
	raw := b
	if err := json.Unmarshal(b, &doc); err == nil && len(doc.Proof) > 0 {
		raw = doc.Proof
	}
	bundle, err := audit.ParseProofBundle(raw)
	if err != nil {
		return fail(err)
	}
	entries, cp, err := audit.VerifyProofBundle(bundle, vkey)
	if err != nil {
		return fail(err)
	}
	if len(doc.Record) > 0 {
		// The portal hashed the record as compact JSON; the file may be
		// indented.
		var compact bytes.Buffer
		if err := json.Compact(&compact, doc.Record); err != nil {
			return fail(fmt.Errorf("%w: the record is not JSON", audit.ErrProof))
		}
		sum := sha256.Sum256(compact.Bytes())
		want := hex.EncodeToString(sum[:])
		found := false
		for _, en := range entries {
			found = found || en.Action == "ekyc.record.export" && en.Details["record_sha256"] == want
		}
		if !found {
			return fail(fmt.Errorf("%w: no export entry in the proof matches the record in the file (sha256 %s)", audit.ErrProof, want))
		}
	}
	for i, en := range entries {
		fmt.Fprintf(e.stdout, "entry %d: %s %s %s by %s %s, outcome %s\n", bundle.Entries[i].Index,
			en.Time.Format("2006-01-02T15:04:05.000000Z"), en.Action, en.Object, en.ActorKind, en.ActorID, en.Outcome)
	}
	what := "entries"
	if len(doc.Record) > 0 {
		what = "entries of the record's trail, and the record matches its export entry"
	}
	fmt.Fprintf(e.stdout, "ok: %d %s, in %s at size %d\n", len(entries), what, cp.Origin, cp.Size)
	return nil
}

// isJSONProof reports whether a proof file is JSON (a bundle or a record
// download) rather than a text tlog-proof.
func isJSONProof(b []byte) bool { return bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) }
