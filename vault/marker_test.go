package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/store"
)

// TestMarkerNeverAtRest plants a marker string in personal data, seals
// records (in a table) and blobs (on the filesystem), reads them back, runs
// the failure paths, logs everything the code offers to log, and then proves
// that the marker appears nowhere in the SQLite database file, its -wal and
// -shm, the blob folder, the key folder or the captured logs.
func TestMarkerNeverAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rnd := make([]byte, 8)
	rand.Read(rnd)
	marker := "MARKER-" + hex.EncodeToString(rnd) + "-山田花子"
	personal := []byte(`{"name":"` + marker + `","birth":"1990-01-01","address":"東京都千代田区` + marker + `"}`)
	image := append(bytes.Repeat([]byte{0xff, 0xd8}, 1000), []byte(marker)...) // a "JPEG" carrying the marker

	dbPath := filepath.Join(dir, "madoguchi.db")
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `CREATE TABLE marker_records (id TEXT PRIMARY KEY, subject TEXT NOT NULL, sealed BLOB NOT NULL, image_ref TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	be, err := blob.NewFS(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := blob.New(db, be)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := CreateKeyFile(filepath.Join(dir, "keys", "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, _ := newVault(t, kf, db, WithBlobs(bs))

	subjects := []SubjectRef{alice, bob}
	for i, s := range subjects {
		id := "rec_" + s.Subject
		ref, err := v.SealBlob(ctx, s, AAD("id-front", id), image)
		if err != nil {
			t.Fatal(err)
		}
		err = db.InTx(ctx, func(tx *store.Tx) error {
			ct, err := v.Seal(ctx, tx, s, AAD("record", id), personal)
			if err != nil {
				return err
			}
			if err := bs.Attach(ctx, tx, ref, s.Tenant, id); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO marker_records (id, subject, sealed, image_ref) VALUES (?, ?, ?, ?)`, id, s.Subject, ct, ref.String())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		log.Info("sealed record", "subject", s, "record", id, "blob", ref.String(), "keyring", kf, "n", i)
	}
	// Read back, and exercise failures, logging what a careless caller would.
	for _, s := range subjects {
		id := "rec_" + s.Subject
		var ct []byte
		var refText string
		if err := db.QueryRow(ctx, `SELECT sealed, image_ref FROM marker_records WHERE id = ?`, id).Scan(&ct, &refText); err != nil {
			t.Fatal(err)
		}
		ref, err := blob.ParseRef(refText)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := v.Open(ctx, db, s, AAD("record", id), ct); err != nil || !bytes.Equal(pt, personal) {
			t.Fatalf("Open = %v", err)
		}
		if img, err := v.OpenBlob(ctx, db, s, AAD("id-front", id), ref); err != nil || !bytes.Equal(img, image) {
			t.Fatalf("OpenBlob = %v", err)
		}
		_, err = v.Open(ctx, db, s, AAD("record", "other"), ct)
		log.Error("open failed", "err", err, "subject", s)
		_, err = v.OpenBlob(ctx, db, s, AAD("wrong"), ref)
		log.Error("open blob failed", "err", err)
	}
	// Shred alice: both her record and image become unreadable; bob's stay.
	shred(t, v, db, alice)
	var ctA, ctB []byte
	var refA, refB string
	db.QueryRow(ctx, `SELECT sealed, image_ref FROM marker_records WHERE id = ?`, "rec_"+alice.Subject).Scan(&ctA, &refA)
	db.QueryRow(ctx, `SELECT sealed, image_ref FROM marker_records WHERE id = ?`, "rec_"+bob.Subject).Scan(&ctB, &refB)
	rA, _ := blob.ParseRef(refA)
	rB, _ := blob.ParseRef(refB)
	if _, err := v.Open(ctx, db, alice, AAD("record", "rec_"+alice.Subject), ctA); !errors.Is(err, ErrShredded) {
		t.Errorf("Open(alice record) after shred = %v, want ErrShredded", err)
	}
	if _, err := v.OpenBlob(ctx, db, alice, AAD("id-front", "rec_"+alice.Subject), rA); !errors.Is(err, ErrShredded) {
		t.Errorf("OpenBlob(alice image) after shred = %v, want ErrShredded", err)
	}
	if _, err := v.Open(ctx, db, bob, AAD("record", "rec_"+bob.Subject), ctB); err != nil {
		t.Errorf("Open(bob record) after shredding alice = %v", err)
	}
	if _, err := v.OpenBlob(ctx, db, bob, AAD("id-front", "rec_"+bob.Subject), rB); err != nil {
		t.Errorf("OpenBlob(bob image) after shredding alice = %v", err)
	}

	// Scan everything at rest while the database is still open (WAL not
	// checkpointed), then again after closing.
	needles := map[string][]byte{
		"marker":        []byte(marker),
		"marker ascii":  []byte(marker[:23]),
		"marker base64": []byte(base64.StdEncoding.EncodeToString([]byte(marker))[:24]),
		"marker hex":    []byte(hex.EncodeToString([]byte(marker[:23]))),
		"japanese name": []byte("山田花子"),
	}
	scan := func(when string) {
		t.Helper()
		files := 0
		var walSeen bool
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			if filepath.Base(p) == "madoguchi.db-wal" && len(b) > 0 {
				walSeen = true
			}
			for name, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s: %s found in %s", when, name, p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if when == "open" && !walSeen {
			t.Error("no -wal file content scanned while the database was open")
		}
		if files < 5 { // db, wal, shm, 2 blobs, key file
			t.Errorf("%s: scanned only %d files", when, files)
		}
	}
	scan("open")
	for name, n := range needles {
		if bytes.Contains(logs.Bytes(), n) {
			t.Errorf("%s found in the logs", name)
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte("sealed record")) {
		t.Error("logs were not captured")
	}
	db.Close()
	scan("closed")

	// Positive control: the same scan finds the marker when personal data
	// is stored without the vault.
	ctl := t.TempDir()
	cdb, err := store.Open(ctx, filepath.Join(ctl, "control.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	if _, err := cdb.Exec(ctx, `CREATE TABLE plain (v BLOB)`); err != nil {
		t.Fatal(err)
	}
	if _, err := cdb.Exec(ctx, `INSERT INTO plain (v) VALUES (?)`, personal); err != nil {
		t.Fatal(err)
	}
	found := false
	filepath.WalkDir(ctl, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			found = found || bytes.Contains(b, []byte(marker))
		}
		return nil
	})
	if !found {
		t.Error("positive control: the scan did not find a plaintext marker in an unencrypted SQLite store")
	}
}
