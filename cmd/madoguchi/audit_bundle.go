package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/madoguchi/madoguchi/audit"
)

// verifyProofCmd is 'audit verify --proof FILE': an inclusion proof file
// (C2SP tlog-proof carrying the entry, as 'audit prove --index' prints and
// the portal's entry page exports as a proof bundle) checked offline
// against the verifier key alone: the checkpoint's signature, the entry's
// encoding, and its inclusion in the checkpoint's tree. It prints the
// entry it proved, field by field, so what was checked is what is read.
func verifyProofCmd(e *env, vkey, path string, fail func(error) error) error {
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(e.stdin, audit.MaxProofFileLen+1))
		if err == nil && len(b) > audit.MaxProofFileLen {
			err = fmt.Errorf("standard input: larger than %d bytes", audit.MaxProofFileLen)
		}
	} else {
		b, err = readCapped(path, audit.MaxProofFileLen)
	}
	if err != nil {
		return err
	}
	ent, cp, err := audit.VerifyInclusionProof(b, vkey)
	if err != nil {
		return fail(err)
	}
	p, err := audit.ParseInclusionProof(b)
	if err != nil {
		return fail(err)
	}
	w := e.stdout
	fmt.Fprintf(w, "ok: entry %d is in %s at size %d (root %s)\n", p.Index, cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Root[:]))
	field := func(k, v string) {
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(w, "  %-10s %s\n", k, v)
	}
	field("time", ent.Time.UTC().Format("2006-01-02T15:04:05.000000Z"))
	field("actor", ent.ActorKind+" "+ent.ActorID)
	field("tenant", ent.TenantID)
	field("action", ent.Action)
	field("object", ent.Object)
	field("outcome", ent.Outcome)
	field("request", ent.RequestID)
	for _, k := range slices.Sorted(maps.Keys(ent.Details)) {
		field(k, ent.Details[k])
	}
	return nil
}
