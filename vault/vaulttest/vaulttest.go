// Package vaulttest builds the record-keeping stack the domain packages'
// tests run on: an audit log signed by a fresh test key, a blob store in a
// temporary folder and a vault under a fresh key-encryption key, all on the
// given store. Real components; nothing is mocked.
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
// t.TempDir().
func New(t testing.TB, db *store.DB) Stack {
	t.Helper()
	signer, _, err := audit.GenerateSigner(rand.Reader, "test.local/audit")
	if err != nil {
		t.Fatal(err)
	}
	al, err := audit.New(db, signer)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kf, err := vault.CreateKeyFile(filepath.Join(dir, "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := blob.NewFS(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := blob.New(db, fs)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(kf, db, al, vault.WithBlobs(bs))
	if err != nil {
		t.Fatal(err)
	}
	return Stack{Audit: al, Blobs: bs, Vault: v}
}
