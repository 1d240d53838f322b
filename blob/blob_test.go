package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/internal/weedtest"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// EnvS3 names a real S3-compatible endpoint for the S3 backend test:
// https://ACCESS_KEY:SECRET@host[:port]/bucket?region=REGION. Without it the
// tests start SeaweedFS (internal/weedtest): skipped when it is not
// installed, a failure under CI=true.
const EnvS3 = "MADOGUCHI_TEST_S3"

var (
	weedOnce sync.Once
	weed     *weedtest.Server
	weedDir  string
	weedErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if weed != nil {
		weed.Stop()
	}
	if weedDir != "" {
		os.RemoveAll(weedDir)
	}
	os.Exit(code)
}

// realS3 returns the S3 backend on a real server, under a prefix of its
// own (objects are content-addressed: a tampered copy must not leak into
// another subtest).
func realS3(t *testing.T) *S3 {
	t.Helper()
	if testing.Short() {
		t.Skip("starts SeaweedFS (the plain run covers it)")
	}
	cfg := S3Config{Prefix: "madoguchi-test/" + strings.ToLower(rand.Text()) + "/"}
	if raw := os.Getenv(EnvS3); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || u.User == nil {
			t.Fatalf("%s: want https://KEY:SECRET@host/bucket?region=R", EnvS3)
		}
		cfg.Endpoint, cfg.Region, cfg.Bucket = u.Scheme+"://"+u.Host, u.Query().Get("region"), filepath.Base(u.Path)
		cfg.AccessKeyID = u.User.Username()
		cfg.SecretAccessKey, _ = u.User.Password()
	} else {
		bin := weedtest.Require(t)
		weedOnce.Do(func() {
			if weedDir, weedErr = os.MkdirTemp("", "weedtest"); weedErr == nil {
				weed, weedErr = weedtest.StartProcess(bin, weedDir)
			}
		})
		if weedErr != nil {
			t.Fatalf("SeaweedFS: %v", weedErr)
		}
		cfg.Endpoint, cfg.Region, cfg.Bucket = weed.Endpoint, weed.Region, weed.Bucket
		cfg.AccessKeyID, cfg.SecretAccessKey = weed.AccessKeyID, weed.SecretAccessKey
	}
	be, err := NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// eachBackend runs fn for every backend: filesystem, the SigV4-verifying S3
// fake, and a real S3 endpoint when MADOGUCHI_TEST_S3 is set. corrupt
// overwrites a stored object behind the store's back.
func eachBackend(t *testing.T, fn func(t *testing.T, be Backend, corrupt func(testing.TB, Ref, []byte))) {
	t.Run("fs", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "blobs")
		be, err := NewFS(root)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, be, func(t testing.TB, r Ref, b []byte) {
			p := filepath.Join(root, filepath.FromSlash(r.key()))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("s3fake", func(t *testing.T) {
		f, srv := newFakeS3(t)
		be := newS3(t, srv, f)
		fn(t, be, func(_ testing.TB, r Ref, b []byte) {
			f.mu.Lock()
			f.objects["/madoguchi-blobs/prod/"+r.key()] = b
			f.mu.Unlock()
		})
		if f.denied != 0 {
			t.Errorf("fake S3 refused %d requests from the client (signature)", f.denied)
		}
	})
	t.Run("s3real", func(t *testing.T) {
		be := realS3(t)
		fn(t, be, func(t testing.TB, r Ref, b []byte) {
			if err := be.Put(context.Background(), r, b); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestStore(t *testing.T) {
	eachBackend(t, func(t *testing.T, be Backend, corrupt func(testing.TB, Ref, []byte)) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			ctx := context.Background()
			s, err := New(db, be, WithMaxSize(1<<16))
			if err != nil {
				t.Fatal(err)
			}
			data := []byte("ciphertext of an ID card image " + t.Name())
			r, err := s.Put(ctx, data)
			if err != nil {
				t.Fatalf("Put = %v", err)
			}
			if r != RefOf(data) {
				t.Errorf("Put = %v, want the SHA-256 of the data %v", r, RefOf(data))
			}
			if r2, err := s.Put(ctx, data); err != nil || r2 != r {
				t.Errorf("Put again = %v, %v; want the same ref", r2, err)
			}
			got, err := s.Get(ctx, r)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("Get = %q, %v; want the data", got, err)
			}
			if _, err := s.Get(ctx, RefOf([]byte("never stored"))); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(missing) = %v, want ErrNotFound", err)
			}
			if _, err := s.Get(ctx, Ref{}); !errors.Is(err, ErrInvalidRef) {
				t.Errorf("Get(zero ref) = %v, want ErrInvalidRef", err)
			}
			if _, err := s.Put(ctx, make([]byte, 1<<16+1)); !errors.Is(err, ErrTooLarge) {
				t.Errorf("Put(over limit) = %v, want ErrTooLarge", err)
			}
			corrupt(t, r, append(bytes.Clone(data[:len(data)-1]), 'X'))
			if _, err := s.Get(ctx, r); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Get(tampered object) = %v, want ErrCorrupt", err)
			}
			big := RefOf([]byte("big"))
			corrupt(t, big, make([]byte, 1<<16+1))
			if _, err := s.Get(ctx, big); !errors.Is(err, ErrTooLarge) {
				t.Errorf("Get(oversized object) = %v, want ErrTooLarge", err)
			}
		})
	})
}

func TestAttachAndSweep(t *testing.T) {
	eachBackend(t, func(t *testing.T, be Backend, _ func(testing.TB, Ref, []byte)) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			ctx := context.Background()
			now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
			s, err := New(db, be, WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			kept, _ := s.Put(ctx, []byte("referenced "+t.Name()))
			orphan, _ := s.Put(ctx, []byte("orphan: the record's transaction rolled back "+t.Name()))
			young, _ := s.Put(ctx, []byte("young "+t.Name()))
			detached, _ := s.Put(ctx, []byte("detached "+t.Name()))

			if err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := s.Attach(ctx, tx, kept, "ten_1", "rec_1"); err != nil {
					return err
				}
				if err := s.Attach(ctx, tx, kept, "ten_1", "rec_1"); err != nil { // idempotent
					return err
				}
				return s.Attach(ctx, tx, detached, "ten_1", "rec_2")
			}); err != nil {
				t.Fatalf("Attach = %v", err)
			}
			// A record whose transaction fails leaves its blob unreferenced.
			boom := errors.New("record insert failed")
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := s.Attach(ctx, tx, orphan, "ten_1", "rec_3"); err != nil {
					return err
				}
				return boom
			}); !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if err := db.InTx(ctx, func(tx *store.Tx) error { return s.Detach(ctx, tx, detached, "ten_1", "rec_2") }); err != nil {
				t.Fatal(err)
			}
			if refs, err := s.Refs(ctx, "ten_1", "rec_1"); err != nil || len(refs) != 1 || refs[0] != kept {
				t.Errorf("Refs(rec_1) = %v, %v; want [%v]", refs, err, kept)
			}

			now = now.Add(2 * time.Hour)
			young2, _ := s.Put(ctx, []byte("young "+t.Name())) // refreshed: Put again just now
			if young2 != young {
				t.Fatal("same bytes, different ref")
			}
			rep, err := s.Sweep(ctx, time.Hour)
			if err != nil || rep.Deleted != 2 {
				t.Fatalf("Sweep = %+v, %v; want 2 deleted (orphan, detached)", rep, err)
			}
			for _, r := range []Ref{kept, young} {
				if _, err := s.Get(ctx, r); err != nil {
					t.Errorf("Get(%v) after sweep = %v, want kept", r, err)
				}
			}
			for _, r := range []Ref{orphan, detached} {
				if _, err := s.Get(ctx, r); !errors.Is(err, ErrNotFound) {
					t.Errorf("Get(swept %v) = %v, want ErrNotFound", r, err)
				}
			}
			// A record that tries to attach a swept blob fails instead of dangling.
			err = db.InTx(ctx, func(tx *store.Tx) error { return s.Attach(ctx, tx, orphan, "ten_1", "rec_late") })
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Attach(swept blob) = %v, want ErrNotFound", err)
			}
			if rep, err := s.Sweep(ctx, time.Hour); err != nil || rep.Deleted != 0 {
				t.Errorf("second Sweep = %+v, %v; want nothing", rep, err)
			}
			if _, err := s.Sweep(ctx, 0); err == nil {
				t.Error("Sweep(grace 0) = nil error")
			}
		})
	})
}

func TestFSLayoutAndModes(t *testing.T) {
	root := filepath.Join(t.TempDir(), "blobs")
	be, err := NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("x")
	r := RefOf(data)
	if err := be.Put(context.Background(), r, data); err != nil {
		t.Fatal(err)
	}
	h := r.Hex()
	p := filepath.Join(root, h[:2], h[2:4], h)
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("stat %s = %v, %v; want mode 0600", p, st, err)
	}
	for _, d := range []string{filepath.Dir(p), filepath.Dir(filepath.Dir(p))} {
		if st, _ := os.Stat(d); st.Mode().Perm() != 0o700 {
			t.Errorf("mode of %s = %04o, want 0700", d, st.Mode().Perm())
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("object folder holds %d entries, want 1 (no temp files left)", len(ents))
	}
	if err := be.Delete(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if err := be.Delete(context.Background(), r); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
}

func TestParseRef(t *testing.T) {
	r := RefOf([]byte("abc"))
	if got, err := ParseRef(r.String()); err != nil || got != r {
		t.Errorf("ParseRef(%s) = %v, %v", r, got, err)
	}
	for _, bad := range []string{"", "sha256:", r.Hex(), "sha256:" + r.Hex()[:63], "SHA256:" + r.Hex(),
		"sha256:" + r.Hex() + "0", "sha256:" + "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
		"sha256:../../../../etc/passwd" + r.Hex()[:36]} {
		if _, err := ParseRef(bad); !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseRef(%q) = %v, want ErrInvalidRef", bad, err)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	f.Add(RefOf(nil).String())
	f.Add("sha256:zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRef) {
				t.Fatalf("ParseRef error %v is not ErrInvalidRef", err)
			}
			return
		}
		if r.String() != s {
			t.Fatalf("ParseRef(%q).String() = %q; not canonical", s, r.String())
		}
	})
}

// TestS3RealChecksSignatures: the real server verifies SigV4, so the
// conformance tests above prove the signer, not an anonymous bucket.
func TestS3RealChecksSignatures(t *testing.T) {
	good := realS3(t)
	cfg := good.cfg
	cfg.SecretAccessKey += "x"
	bad, err := NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("signed with the wrong secret")
	var se *S3Error
	if err := bad.Put(context.Background(), RefOf(data), data); !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("Put with a wrong secret = %v, want an S3 403", err)
	}
	if err := good.Put(context.Background(), RefOf(data), data); err != nil {
		t.Fatalf("Put with the right secret = %v", err)
	}
	if _, err := bad.Get(context.Background(), RefOf(data), 1<<10); !errors.As(err, &se) || se.Status != 403 {
		t.Errorf("Get with a wrong secret = %v, want an S3 403", err)
	}
}
