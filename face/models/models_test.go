package models

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type entry struct {
	name string
	body string
	typ  byte // 0 = regular
	link string
}

func makeTarball(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: typ, Linkname: e.link, ModTime: time.Unix(0, 0)}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func integrity(b []byte) string {
	h := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(h[:])
}

// testPackage is a pinned package of two small files and the tarball that
// matches it.
func testPackage(t testing.TB) (Package, []byte) {
	t.Helper()
	a, b := "weights-manifest", "binary weights \x00\x01\x02"
	tgz := makeTarball(t, []entry{
		{name: "package/README.md", body: "not a model"},
		{name: "package/model/a.json", body: a},
		{name: "package/model/b.bin", body: b},
		{name: "package/model/unlisted.bin", body: "ignored"},
	})
	return Package{
		Name: "@test/pkg", Version: "1.0.0", Integrity: integrity(tgz),
		Dir: "pkg", TarPrefix: "package/model/",
		MaxTarball: 1 << 20, MaxUnpacked: 1 << 20,
		Files: []File{
			{"a.json", int64(len(a)), sha256hex(a)},
			{"b.bin", int64(len(b)), sha256hex(b)},
		},
	}, tgz
}

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pkg.tgz")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstallFromTarball(t *testing.T) {
	pkg, tgz := testPackage(t)
	dir := filepath.Join(t.TempDir(), "models")
	ctx := context.Background()
	rep, err := Install(ctx, dir, []Package{pkg}, Options{From: []string{writeTemp(t, tgz)}})
	if err != nil {
		t.Fatalf("Install = %v, want nil", err)
	}
	if len(rep.Installed) != 1 || len(rep.Unchanged) != 0 {
		t.Errorf("Install report = %+v, want one installed", rep)
	}
	if err := Verify(dir, []Package{pkg}); err != nil {
		t.Errorf("Verify after install = %v, want nil", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pkg", "unlisted.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unlisted file extracted: stat err = %v, want not exist", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "pkg" && e.Name() != manifestName && e.Name() != ".install.lock" {
			t.Errorf("leftover %q in model folder", e.Name())
		}
	}

	// Second run: nothing fetched, nothing written.
	st1, _ := os.Stat(filepath.Join(dir, manifestName))
	rep, err = Install(ctx, dir, []Package{pkg}, Options{Fetch: failFetcher{t}})
	if err != nil {
		t.Fatalf("second Install = %v, want nil", err)
	}
	if len(rep.Installed) != 0 || len(rep.Unchanged) != 1 {
		t.Errorf("second Install report = %+v, want one unchanged", rep)
	}
	st2, _ := os.Stat(filepath.Join(dir, manifestName))
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Errorf("second Install rewrote the manifest")
	}
}

type failFetcher struct{ t testing.TB }

func (f failFetcher) Fetch(context.Context, Package, string) (string, error) {
	f.t.Errorf("Fetch called, want no fetch")
	return "", errors.New("unexpected fetch")
}

type bytesFetcher []byte

func (b bytesFetcher) Fetch(_ context.Context, _ Package, dir string) (string, error) {
	p := filepath.Join(dir, "x.tgz")
	return p, os.WriteFile(p, b, 0o644)
}

type errFetcher struct{}

func (errFetcher) Fetch(context.Context, Package, string) (string, error) {
	return "", fmt.Errorf("%w: npm not found", ErrFetch)
}

func TestInstallRepairsTamperedFolder(t *testing.T) {
	pkg, tgz := testPackage(t)
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := Install(ctx, dir, []Package{pkg}, Options{Fetch: bytesFetcher(tgz)}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pkg", "b.bin"), []byte("evil"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Verify(dir, []Package{pkg})
	var fe *FileError
	if !errors.Is(err, ErrModified) || !errors.As(err, &fe) || fe.Path != filepath.Join("pkg", "b.bin") {
		t.Fatalf("Verify(tampered) = %v, want FileError pkg/b.bin wrapping ErrModified", err)
	}
	os.Remove(filepath.Join(dir, "pkg", "a.json"))
	if err := Verify(dir, []Package{pkg}); !errors.Is(err, ErrMissing) {
		t.Fatalf("Verify(missing) = %v, want ErrMissing", err)
	}
	rep, err := Install(ctx, dir, []Package{pkg}, Options{Fetch: bytesFetcher(tgz)})
	if err != nil || len(rep.Installed) != 1 {
		t.Fatalf("Install(tampered folder) = %+v, %v; want reinstalled", rep, err)
	}
	if err := Verify(dir, []Package{pkg}); err != nil {
		t.Errorf("Verify after repair = %v", err)
	}
}

func TestInstallRefuses(t *testing.T) {
	pkg, tgz := testPackage(t)
	tampered := bytes.Clone(tgz)
	tampered[len(tampered)/2] ^= 0xff

	type refuseCase struct {
		name string
		pkg  Package
		tgz  []byte
		opt  func(tgz string) Options // nil: fetched by a fake fetcher
		want error
	}
	// pinned builds a tarball from entries and pins its integrity, so that
	// the case reaches the extraction checks behind the integrity check.
	pinned := func(name string, es []entry, mod func(*Package), want error) refuseCase {
		b := makeTarball(t, es)
		p := pkg
		p.Integrity = integrity(b)
		if mod != nil {
			mod(&p)
		}
		return refuseCase{name: name, pkg: p, tgz: b, opt: from, want: want}
	}
	okA := entry{name: "package/model/a.json", body: "weights-manifest"}
	okB := entry{name: "package/model/b.bin", body: "binary weights \x00\x01\x02"}

	tests := []refuseCase{
		{"tampered tarball via --from", pkg, tampered, from, ErrIntegrity},
		{"tampered tarball via fetch", pkg, tampered, nil, ErrIntegrity},
		{"fetch fails", pkg, nil, func(string) Options { return Options{Fetch: errFetcher{}} }, ErrFetch},
		pinned("traversal entry", []entry{okA, okB, {name: "package/model/../../evil", body: "x"}}, nil, ErrUnsafePath),
		pinned("absolute entry", []entry{{name: "/etc/evil", body: "x"}, okA, okB}, nil, ErrUnsafePath),
		pinned("symlink escaping", []entry{{name: "package/x", typ: tar.TypeSymlink, link: "../../etc/passwd"}, okA, okB}, nil, ErrUnsafePath),
		pinned("allow-listed symlink", []entry{okA, {name: "package/model/b.bin", typ: tar.TypeSymlink, link: "a.json"}}, nil, ErrMalformed),
		pinned("missing file", []entry{okA}, nil, ErrMissing),
		pinned("duplicate file", []entry{okA, okB, okB}, nil, ErrMalformed),
		pinned("file content differs", []entry{okA, {name: okB.name, body: "binary weights \x00\x01\x03"}}, nil, ErrIntegrity),
		pinned("file larger than pinned", []entry{okA, {name: okB.name, body: okB.body + "more"}}, nil, ErrTooLarge),
		pinned("expands beyond limit", []entry{{name: "package/pad", body: string(make([]byte, 1<<16))}, okA, okB}, func(p *Package) { p.MaxUnpacked = 1 << 15 }, ErrTooLarge),
		pinned("tarball beyond limit", []entry{okA, okB}, func(p *Package) { p.MaxTarball = 16 }, ErrTooLarge),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.tgz
			root := t.TempDir()
			dir := filepath.Join(root, "models")
			opt := Options{Fetch: bytesFetcher(b)}
			if tt.opt != nil {
				opt = tt.opt(writeTemp(t, b))
			}
			_, err := Install(context.Background(), dir, []Package{tt.pkg}, opt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Install = %v, want %v", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "pkg")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("package folder exists after a refused install (stat err %v)", err)
			}
			if _, err := os.Stat(filepath.Join(root, "evil")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("traversal wrote outside the model folder")
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if e.Name() != ".install.lock" {
					t.Errorf("leftover %q after a refused install", e.Name())
				}
			}
		})
	}
}

func from(p string) Options { return Options{From: []string{p}} }

func TestInstallFromUnknownTarball(t *testing.T) {
	pkg, _ := testPackage(t)
	other := makeTarball(t, []entry{{name: "package/model/a.json", body: "x"}})
	_, err := Install(context.Background(), t.TempDir(), []Package{pkg}, from(writeTemp(t, other)))
	if !errors.Is(err, ErrIntegrity) {
		t.Fatalf("Install(unknown tarball) = %v, want ErrIntegrity", err)
	}
}

func TestInstallConcurrent(t *testing.T) {
	pkg, tgz := testPackage(t)
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Install(context.Background(), dir, []Package{pkg}, Options{Fetch: bytesFetcher(tgz)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Install #%d = %v, want nil", i, err)
		}
	}
	if err := Verify(dir, []Package{pkg}); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

func TestVerifyManifest(t *testing.T) {
	pkg, tgz := testPackage(t)
	dir := t.TempDir()
	if _, err := Install(context.Background(), dir, []Package{pkg}, Options{Fetch: bytesFetcher(tgz)}); err != nil {
		t.Fatal(err)
	}
	repinned := pkg
	repinned.Version = "1.0.1"
	if err := Verify(dir, []Package{repinned}); !errors.Is(err, ErrModified) {
		t.Errorf("Verify(other version) = %v, want ErrModified (manifest)", err)
	}
	os.WriteFile(filepath.Join(dir, manifestName), []byte("{not json"), 0o644)
	if err := Verify(dir, []Package{pkg}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Verify(corrupt manifest) = %v, want ErrMalformed", err)
	}
	os.Remove(filepath.Join(dir, manifestName))
	if err := Verify(dir, []Package{pkg}); !errors.Is(err, ErrMissing) {
		t.Errorf("Verify(no manifest) = %v, want ErrMissing", err)
	}
}

func TestSafeEntryName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"package/model/a.bin", true},
		{"package/./model/a.bin", true},
		{"", false},
		{"/abs", false},
		{"a/../../b", false},
		{"..", false},
		{`a\..\b`, false},
		{"C:/x", false},
		{"a\x00b", false},
	}
	for _, tt := range tests {
		if got := safeEntryName(tt.in); got != tt.want {
			t.Errorf("safeEntryName(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzExtract(f *testing.F) {
	pkg, tgz := testPackage(f)
	f.Add(tgz)
	f.Add(makeTarball(f, []entry{{name: "package/model/../../x", body: "x"}}))
	f.Add(makeTarball(f, []entry{{name: "package/model/a.json", typ: tar.TypeSymlink, link: "/etc/passwd"}}))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Add([]byte("not gzip"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		dest := filepath.Join(root, "out")
		if err := os.Mkdir(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		err := extract(bytes.NewReader(data), pkg, dest)
		ents, _ := os.ReadDir(root)
		if len(ents) != 1 {
			t.Fatalf("extract wrote outside dest: %v", ents)
		}
		files, _ := os.ReadDir(dest)
		for _, e := range files {
			if _, ok := pkg.File(e.Name()); !ok {
				t.Fatalf("extract wrote unlisted %q", e.Name())
			}
		}
		if err == nil && len(files) != len(pkg.Files) {
			t.Fatalf("extract = nil with %d files, want %d", len(files), len(pkg.Files))
		}
		if err == nil {
			for _, fl := range pkg.Files {
				if verr := verifyFile(filepath.Join(dest, fl.Name), fl); verr != nil {
					t.Fatalf("extract = nil but %s: %v", fl.Name, verr)
				}
			}
		}
	})
}
