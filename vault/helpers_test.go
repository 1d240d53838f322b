package vault

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// recAuditor appends to the real audit log and remembers the actions, so
// tests can check that security-relevant changes were recorded.
type recAuditor struct {
	log *audit.Log
	mu  sync.Mutex
	got []audit.Entry
}

func (r *recAuditor) Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error) {
	i, err := r.log.Append(ctx, tx, e)
	if err == nil {
		r.mu.Lock()
		r.got = append(r.got, e)
		r.mu.Unlock()
	}
	return i, err
}

func (r *recAuditor) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.got {
		out = append(out, e.Action)
	}
	return out
}

func newAuditor(t testing.TB, db *store.DB) *recAuditor {
	t.Helper()
	s, _, err := audit.GenerateSigner(nil, "test.example/audit")
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(db, s)
	if err != nil {
		t.Fatal(err)
	}
	return &recAuditor{log: l}
}

// newKeyFile creates a key file in a fresh temporary folder.
func newKeyFile(t testing.TB) *KeyFile {
	t.Helper()
	kf, err := CreateKeyFile(filepath.Join(t.TempDir(), "keys", "kek.json"))
	if err != nil {
		t.Fatalf("CreateKeyFile: %v", err)
	}
	return kf
}

func newVault(t testing.TB, kr Keyring, db *store.DB, opts ...Option) (*Vault, *recAuditor) {
	t.Helper()
	a := newAuditor(t, db)
	v, err := New(kr, db, a, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v, a
}

func seal(t testing.TB, v *Vault, db *store.DB, s SubjectRef, aad, pt []byte) []byte {
	t.Helper()
	var ct []byte
	err := db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		ct, err = v.Seal(context.Background(), tx, s, aad, pt)
		return err
	})
	if err != nil {
		t.Fatalf("Seal(%v) = %v", s, err)
	}
	return ct
}

func shred(t testing.TB, v *Vault, db *store.DB, s SubjectRef) {
	t.Helper()
	err := db.InTx(context.Background(), func(tx *store.Tx) error {
		return v.Shred(context.Background(), tx, s, Actor{Kind: audit.ActorStaff, ID: "staff-1"})
	})
	if err != nil {
		t.Fatalf("Shred(%v) = %v", s, err)
	}
}
