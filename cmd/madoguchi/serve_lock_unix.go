//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockSQLiteServe holds an exclusive lock on <db>.serve.lock for as long
// as the server runs: one serving process per SQLite database. What an
// instance keeps in memory is the deployment's on SQLite (the DPoP replay
// cache: verifying a proof must not cost a write there); several instances
// share PostgreSQL instead, where proofs are also spent in the store
// (docs/scale-out.md). A second serve on the same database fails at start;
// a crashed process's lock goes with it. Operator commands (admin, keys,
// doctor…) take no lock and run beside the server as before.
func lockSQLiteServe(db string) (release func(), err error) {
	p := db + ".serve.lock"
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("serve lock: %w", err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("serve lock %s: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another madoguchi serve is using the SQLite database %s: run one server per SQLite database, or several on PostgreSQL (docs/scale-out.md)", db)
		}
		return nil, fmt.Errorf("serve lock %s: %w", p, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}
