package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/madoguchi/madoguchi/audit"
)

// 'audit verify --proof FILE' checks an inclusion proof file offline: a C2SP
// tlog-proof carrying the entry, as 'audit prove --index' prints and the
// portal's entry page exports as a proof bundle, against the verifier key
// alone (the checkpoint's signature, the entry's encoding, its inclusion in
// the checkpoint's tree). These helpers read it (from standard input for
// "-") and print the entry it proved, field by field, so what was checked
// is what is read.

// readProofArg reads the proof file path, or standard input for "-", up to
// limit bytes.
func readProofArg(e *env, path string, limit int64) ([]byte, error) {
	if path != "-" {
		return readCapped(path, limit)
	}
	b, err := io.ReadAll(io.LimitReader(e.stdin, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("standard input: larger than %d bytes", limit)
	}
	return b, nil
}

// printProvedEntry prints what a verified inclusion proof proved.
func printProvedEntry(e *env, index uint64, ent audit.Entry, cp audit.Checkpoint) {
	w := e.stdout
	fmt.Fprintf(w, "ok: entry %d is in %s at size %d (root %s)\n", index, cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Root[:]))
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
}
