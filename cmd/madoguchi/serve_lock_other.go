//go:build !unix

package main

// lockSQLiteServe takes no lock on systems without flock: run one server
// per SQLite database there (see serve_lock_unix.go for why).
func lockSQLiteServe(string) (func(), error) { return func() {}, nil }
