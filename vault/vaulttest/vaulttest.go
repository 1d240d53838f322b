// Package vaulttest builds the record-keeping stack the domain packages'
// tests run on: an audit log signed by a fresh test key, a blob store in a
// temporary folder and a vault under a fresh key-encryption key, all on the
// given store. Real components; nothing is mocked.
//
// New builds the whole stack. A harness that audits through a recorder of
// its own (package staff's, the portal's) builds the parts it needs with
// Log, Blobs and Vault.
package vaulttest

import (
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Stack is the audit log, blob store and vault of one test.
type Stack struct {
	Audit *audit.Log
	Blobs *blob.Store
	Vault *vault.Vault
}

// New builds the stack on db (origin test.local/audit), its files in
// t.TempDir(): the vault audits to the log and seals blobs in the store.
func New(t testing.TB, db *store.DB) Stack {
	t.Helper()
	al := Log(t, db)
	bs := Blobs(t, db)
	return Stack{Audit: al, Blobs: bs, Vault: Vault(t, db, al, vault.WithBlobs(bs))}
}

// Log returns an audit log on db signed by a fresh test key (origin
// test.local/audit).
func Log(t testing.TB, db *store.DB) *audit.Log {
	t.Helper()
	signer, _, err := audit.GenerateSigner(rand.Reader, "test.local/audit")
	if err != nil {
		t.Fatal(err)
	}
	al, err := audit.New(db, signer)
	if err != nil {
		t.Fatal(err)
	}
	return al
}

// Blobs returns a blob store on db with its files in t.TempDir().
func Blobs(t testing.TB, db *store.DB) *blob.Store {
	t.Helper()
	fs, err := blob.NewFS(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := blob.New(db, fs)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// Vault returns a vault on db under a fresh key-encryption key (a key file
// in t.TempDir()), auditing to a.
func Vault(t testing.TB, db *store.DB, a vault.Auditor, opts ...vault.Option) *vault.Vault {
	t.Helper()
	kf, err := vault.CreateKeyFile(filepath.Join(t.TempDir(), "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(kf, db, a, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
