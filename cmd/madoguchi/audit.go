package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// auditKeyFile is where the audit log's checkpoint signer key lives under a
// data directory. serve generates a development key there on first start
// (audit.LoadOrCreateDevSigner); production configurations must provide it.
func auditKeyFile(data string) string {
	return filepath.Join(data, "keys", "audit-signer.key")
}

// devAuditKeyName returns a fresh origin for a development key: unique per
// installation, under the reserved .invalid name so it can never pass for a
// production log.
func devAuditKeyName() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "madoguchi.invalid/audit-dev-" + hex.EncodeToString(b[:])
}

const auditUsage = `audit <verify|checkpoint|prove|key|append> [flags]

  verify      recompute the whole log and check every stored hash and checkpoint;
              with two --checkpoint files, prove the second extends the first;
              with --proof FILE of an inclusion proof, check it
  checkpoint  sign and print a checkpoint of the current log
  prove       print an inclusion proof (--index) or a consistency proof (--old)
  key         print the verifier key that checks this log's checkpoints
  append      record an operator action (e.g. a backup restore) in the log`

func runAudit(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "usage: madoguchi "+auditUsage)
		return usageError{"missing subcommand"}
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, e, args[1:])
	case "checkpoint":
		return runAuditCheckpoint(ctx, e, args[1:])
	case "prove":
		return runAuditProve(ctx, e, args[1:])
	case "key":
		return runAuditKey(ctx, e, args[1:])
	case "append":
		return runAuditAppend(ctx, e, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, "usage: madoguchi "+auditUsage)
		return flag.ErrHelp
	}
	fmt.Fprintln(e.stderr, "usage: madoguchi "+auditUsage)
	return usageError{fmt.Sprintf("unknown subcommand %q", args[0])}
}

// auditFlags are the flags the audit subcommands share.
type auditFlags struct {
	dataFlags
	keyFile string
}

func (a *auditFlags) register(fs *flag.FlagSet, e *env) {
	a.dataFlags.register(fs, e)
	envString(fs, e, &a.keyFile, "key-file", "MADOGUCHI_AUDIT_KEY_FILE", "", "checkpoint signer key file (default <data>/keys/audit-signer.key)")
}

func (a *auditFlags) signerPath() string {
	if a.keyFile != "" {
		return a.keyFile
	}
	return auditKeyFile(a.data)
}

// openExisting opens the store read-write without creating anything: a
// missing SQLite file is an error, not a new empty log.
func (a *auditFlags) openExisting(ctx context.Context) (*store.DB, error) {
	dsn := a.dsn()
	if !store.IsPostgresURL(dsn) {
		if _, err := os.Stat(dsn); err != nil {
			return nil, fmt.Errorf("no database at %s: %w", dsn, err)
		}
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.CheckSchema(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (run 'madoguchi migrate')", err)
	}
	return db, nil
}

func (a *auditFlags) openLog(ctx context.Context) (*audit.Log, *store.DB, error) {
	s, err := audit.LoadSigner(a.signerPath())
	if err != nil {
		return nil, nil, err
	}
	db, err := a.openExisting(ctx)
	if err != nil {
		return nil, nil, err
	}
	l, err := audit.New(db, s)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return l, db, nil
}

// verifierKey returns the key from --key (a key or a file holding one), or
// derives it from the signer key file.
func (a *auditFlags) verifierKey(key string) (string, error) {
	if key != "" {
		if _, err := os.Stat(key); err != nil {
			return key, nil // not a file: the key itself, checked when used
		}
		b, err := readCapped(key, 4<<10)
		if err != nil {
			return "", usageError{fmt.Sprintf("--key: %v", err)}
		}
		return strings.TrimSpace(string(b)), nil
	}
	s, err := audit.LoadSigner(a.signerPath())
	if err != nil {
		return "", fmt.Errorf("no --key given and %w", err)
	}
	return s.VerifierKey(), nil
}

// multiFlag collects a repeated string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runAuditVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit verify", "audit verify [--data DIR] [--db URL] [--key KEY|FILE] [--checkpoint FILE]... [--proof FILE|-]")
	var a auditFlags
	a.register(fs, e)
	var cps multiFlag
	fs.Var(&cps, "checkpoint", "a signed checkpoint file; twice (OLD, NEW) proves NEW extends OLD; once, it must match the stored log")
	key := fs.String("key", "", "verifier key (name+hash+key) or a file holding it (default: derived from --key-file)")
	proof := fs.String("proof", "", "a proof file: a consistency proof for two --checkpoint files, or alone an inclusion proof (tlog-proof), a proof bundle or a verification record downloaded from the portal (JSON)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected arguments: " + strings.Join(fs.Args(), " ")}
	}
	vkey, err := a.verifierKey(*key)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		fmt.Fprintf(e.stderr, "audit verify: FAIL: %v\n", err)
		return exitError{1}
	}
	switch {
	case len(cps) == 2:
		return verifyConsistencyCmd(ctx, e, &a, vkey, cps[0], cps[1], *proof, fail)
	case len(cps) > 2:
		return usageError{"give --checkpoint once (check the stored log against it) or twice (OLD, NEW)"}
	case *proof != "":
		b, err := readProofArg(e, *proof, audit.MaxBundleLen+audit.MaxProofFileLen) // FILE, or - for standard input (audit_proof.go)
		if err != nil {
			return err
		}
		if isJSONProof(b) { // a proof bundle or a record downloaded from the portal (audit_bundle.go)
			return verifyBundleFile(e, b, vkey, fail)
		}
		if len(b) > audit.MaxProofFileLen {
			return fail(fmt.Errorf("%w: proof file over %d bytes", audit.ErrProof, audit.MaxProofFileLen))
		}
		ent, cp, err := audit.VerifyInclusionProof(b, vkey)
		if err != nil {
			return fail(err)
		}
		p, _ := audit.ParseInclusionProof(b)
		printProvedEntry(e, p.Index, ent, cp)
		return nil
	}
	var trusted [][]byte
	for _, c := range cps {
		b, err := readCapped(c, audit.MaxCheckpointLen)
		if err != nil {
			return err
		}
		trusted = append(trusted, b)
	}
	db, err := a.openExisting(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := audit.VerifyStore(ctx, db, vkey, trusted...)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(e.stdout, "ok: %d entries, root %s, %d stored checkpoints verified", rep.Size, base64.StdEncoding.EncodeToString(rep.Root[:]), rep.Checkpoints)
	if rep.Latest.Origin != "" {
		fmt.Fprintf(e.stdout, ", latest at size %d", rep.Latest.Size)
		if rep.Latest.Size < rep.Size {
			fmt.Fprintf(e.stdout, " (%d entries since are not yet checkpointed)", rep.Size-rep.Latest.Size)
		}
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func verifyConsistencyCmd(ctx context.Context, e *env, a *auditFlags, vkey, oldFile, newFile, proofFile string, fail func(error) error) error {
	var cp [2]audit.Checkpoint
	for i, f := range []string{oldFile, newFile} {
		b, err := readCapped(f, audit.MaxCheckpointLen)
		if err != nil {
			return err
		}
		if cp[i], err = audit.VerifyCheckpoint(b, vkey); err != nil {
			return fail(fmt.Errorf("%s: %w", filepath.Base(f), err))
		}
	}
	old, nw := cp[0], cp[1]
	if err := audit.CheckNotRolledBack(old, nw); err != nil {
		return fail(err)
	}
	var proof [][]byte
	if proofFile != "" {
		b, err := readCapped(proofFile, audit.MaxProofFileLen)
		if err != nil {
			return err
		}
		o, n, p, err := audit.ParseConsistencyProof(b)
		if err != nil {
			return fail(err)
		}
		if o != old.Size || n != nw.Size {
			return fail(fmt.Errorf("%w: proof is for sizes %d..%d, checkpoints are %d..%d", audit.ErrProof, o, n, old.Size, nw.Size))
		}
		proof = p
	} else {
		db, err := a.openExisting(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		l, err := audit.New(db, nil)
		if err != nil {
			return err
		}
		if proof, err = l.ConsistencyProof(ctx, old.Size, nw.Size); err != nil {
			if errors.Is(err, audit.ErrRange) {
				return fail(fmt.Errorf("%w: %w", audit.ErrRollback, err))
			}
			return err
		}
	}
	if err := audit.VerifyConsistency(old.Size, nw.Size, old.Root, nw.Root, proof); err != nil {
		return fail(err)
	}
	fmt.Fprintf(e.stdout, "ok: %s size %d extends size %d\n", nw.Origin, nw.Size, old.Size)
	return nil
}

func runAuditCheckpoint(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit checkpoint", "audit checkpoint [--data DIR] [--db URL] [--key-file FILE]")
	var a auditFlags
	a.register(fs, e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	l, db, err := a.openLog(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(cp)
	return err
}

func runAuditProve(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit prove", "audit prove [--data DIR] [--db URL] (--index N | --old N) [--size M]")
	var a auditFlags
	a.register(fs, e)
	index := fs.Int64("index", -1, "print a C2SP tlog-proof that entry N is in the log")
	old := fs.Int64("old", -1, "print a consistency proof from size N")
	size := fs.Int64("size", -1, "tree size to prove against (default: the current size)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*index < 0) == (*old < 0) {
		return usageError{"give exactly one of --index N or --old N"}
	}
	l, db, err := a.openLog(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	var signed []byte
	if *size < 0 {
		signed, err = l.Checkpoint(ctx)
	} else {
		signed, err = l.CheckpointAt(ctx, uint64(*size))
	}
	if err != nil {
		return err
	}
	cp, err := audit.VerifyCheckpoint(signed, l.VerifierKey())
	if err != nil {
		return err
	}
	if *old >= 0 {
		p, err := l.ConsistencyProof(ctx, uint64(*old), cp.Size)
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(audit.FormatConsistencyProof(uint64(*old), cp.Size, p))
		return err
	}
	p, err := l.InclusionProof(ctx, uint64(*index), cp.Size)
	if err != nil {
		return err
	}
	_, leaf, err := l.Entry(ctx, uint64(*index))
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(audit.FormatInclusionProof(audit.InclusionProofFile{Leaf: leaf, Index: uint64(*index), Proof: p, Checkpoint: signed}))
	return err
}

func runAuditKey(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit key", "audit key [--data DIR] [--key-file FILE] [--create]")
	var a auditFlags
	a.register(fs, e)
	create := fs.Bool("create", false, "generate a development key if none exists")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var (
		s       *audit.Signer
		created bool
		err     error
	)
	if *create {
		s, created, err = audit.LoadOrCreateDevSigner(a.signerPath(), devAuditKeyName())
	} else {
		s, err = audit.LoadSigner(a.signerPath())
	}
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("%w (create a development key with --create)", err)
		}
		return err
	}
	if created {
		fmt.Fprintf(e.stderr, "madoguchi audit key: WARNING: generated a DEVELOPMENT audit signer key at %s; production needs its own key\n", a.signerPath())
	}
	fmt.Fprintln(e.stdout, s.VerifierKey())
	return nil
}

func runAuditAppend(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "audit append", "audit append [--data DIR] [--db URL] --action ACTION [--actor-kind K] [--actor-id ID] [--tenant T] [--object O] [--outcome R] [--detail k=v]...")
	var a auditFlags
	a.register(fs, e)
	var ent audit.Entry
	fs.StringVar(&ent.Action, "action", "", "what was done, e.g. ops.restore")
	fs.StringVar(&ent.ActorKind, "actor-kind", audit.ActorSystem, "client, staff or system")
	fs.StringVar(&ent.ActorID, "actor-id", "", "staff or client id")
	fs.StringVar(&ent.TenantID, "tenant", "", "tenant id")
	fs.StringVar(&ent.Object, "object", "", "opaque id of the object acted on")
	fs.StringVar(&ent.Outcome, "outcome", audit.OutcomeOK, "ok, denied or failed")
	var details multiFlag
	fs.Var(&details, "detail", "a non-personal key=value fact (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if ent.Action == "" {
		return usageError{"--action is required"}
	}
	for _, d := range details {
		k, v, ok := strings.Cut(d, "=")
		if !ok {
			return usageError{fmt.Sprintf("--detail %q is not key=value", d)}
		}
		if ent.Details == nil {
			ent.Details = map[string]string{}
		}
		ent.Details[k] = v
	}
	l, db, err := a.openLog(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	var idx uint64
	err = db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		idx, err = l.Append(ctx, tx, ent)
		return err
	})
	if errors.Is(err, audit.ErrInvalidEntry) {
		return usageError{err.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, idx)
	return nil
}
