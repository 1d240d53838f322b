package devissuer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/document/chip/devissuer"
	"github.com/madoguchi/madoguchi/face/imageio/jpeg2000"
)

var now = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

var (
	once    sync.Once
	keysDir string
	shared  *devissuer.Issuers
	sErr    error
)

// issuers creates one issuer set per test binary (RSA keys are slow).
func issuers(t testing.TB) (*devissuer.Issuers, string) {
	t.Helper()
	once.Do(func() {
		keysDir, sErr = os.MkdirTemp("", "devissuer-test-")
		if sErr == nil {
			shared, _, sErr = devissuer.LoadOrCreate(keysDir, now)
		}
	})
	if sErr != nil {
		t.Fatal(sErr)
	}
	return shared, keysDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if keysDir != "" {
		os.RemoveAll(keysDir)
	}
	os.Exit(code)
}

// portrait is a real JPEG: a face-like oval on a grey background.
func portrait(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			dx, dy := float64(x-w/2)/float64(w/3), float64(y-h/2)/(float64(h)/2.5)
			c := color.RGBA{R: 90, G: 100, B: 120, A: 255}
			if dx*dx+dy*dy < 1 {
				c = color.RGBA{R: 220, G: 180, B: 150, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestMintVerifies(t *testing.T) {
	is, _ := issuers(t)
	trustDir := t.TempDir()
	if err := is.WriteAnchors(trustDir); err != nil {
		t.Fatal(err)
	}
	if err := is.WriteAnchors(trustDir); err != nil {
		t.Fatalf("WriteAnchors again = %v, want idempotent", err)
	}
	cfg, err := chip.LoadDir(trustDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Now = func() time.Time { return now }
	v, err := chip.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CheckProduction(); !errors.Is(err, document.ErrTestAnchor) {
		t.Errorf("CheckProduction(development anchors) = %v, want ErrTestAnchor", err)
	}
	birth := time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC)
	holders := map[document.Kind]devissuer.Holder{
		document.KindJPDL:      {Name: "山田 太郎", Birth: birth, Photo: portrait(t, 600, 800)},
		document.KindMyNumber:  {Name: "山田 花子", Birth: birth, Sex: "female", Photo: portrait(t, 300, 400)},
		document.KindResidence: {Name: "SMITH JOHN", Birth: birth, Photo: portrait(t, 480, 640)},
		document.KindICAO:      {Name: "Eriksson Anna Maria", Birth: birth, Sex: "female", Photo: portrait(t, 400, 520)},
	}
	for _, k := range document.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			files, err := is.Mint(k, holders[k], now)
			if err != nil {
				t.Fatalf("Mint(%s) = %v", k, err)
			}
			for n := range files {
				if c, ok := chip.FileName(k, n); !ok || c != n {
					t.Errorf("Mint(%s) file %q is not a canonical %s file name", k, n, k)
				}
			}
			if _, ok := files["textap_ef01"]; ok {
				t.Error("Mint(mynumber) wrote the My Number file")
			}
			ev, err := v.Verify(context.Background(), k, files, nil)
			if err != nil || !ev.Verified {
				t.Fatalf("Verify(Mint(%s)) = %v, want verified", k, err)
			}
			if ev.Photo == nil || !ev.Photo.Signed {
				t.Fatalf("Verify(Mint(%s)) has no signed photo", k)
			}
			img, err := decode(ev.Photo)
			if err != nil {
				t.Fatalf("chip photo of %s does not decode: %v", k, err)
			}
			if b := img.Bounds(); b.Dx() < 24 || b.Dy() < 24 {
				t.Errorf("chip photo of %s is %v, want a usable portrait", k, b)
			}
			birthOK := false
			for _, a := range ev.Attributes {
				if a.Name == "birthdate" && a.Value.Reveal() == "1990-04-01" && a.Signed {
					birthOK = true
				}
			}
			if k != document.KindResidence && !birthOK {
				t.Errorf("Verify(Mint(%s)) has no signed birthdate 1990-04-01", k)
			}
		})
	}
}

func decode(p *document.Photo) (image.Image, error) {
	if p.Format == "jpeg" {
		return jpeg.Decode(bytes.NewReader(p.Data))
	}
	return jpeg2000.Decode(bytes.NewReader(p.Data))
}

func TestMintRefusals(t *testing.T) {
	is, _ := issuers(t)
	photo := portrait(t, 60, 80)
	birth := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		kind document.Kind
		h    devissuer.Holder
		want error
	}{
		{"kanji on a passport", document.KindICAO, devissuer.Holder{Name: "山田 太郎", Birth: birth, Photo: photo}, devissuer.ErrHolder},
		{"emoji on a licence", document.KindJPDL, devissuer.Holder{Name: "Taro 😀", Birth: birth, Photo: photo}, devissuer.ErrHolder},
		{"no name", document.KindJPDL, devissuer.Holder{Birth: birth, Photo: photo}, devissuer.ErrHolder},
		{"long name", document.KindMyNumber, devissuer.Holder{Name: strings.Repeat("あ", 50), Birth: birth, Photo: photo}, devissuer.ErrHolder},
		{"born tomorrow", document.KindMyNumber, devissuer.Holder{Name: "A B", Birth: now.AddDate(0, 0, 1), Photo: photo}, devissuer.ErrHolder},
		{"no photo", document.KindResidence, devissuer.Holder{Name: "A B", Birth: birth}, devissuer.ErrHolder},
		{"not an image", document.KindResidence, devissuer.Holder{Name: "A B", Birth: birth, Photo: []byte("GIF89a....")}, devissuer.ErrPhoto},
		{"bad sex", document.KindICAO, devissuer.Holder{Name: "A B", Birth: birth, Sex: "yes", Photo: photo}, devissuer.ErrHolder},
		{"unknown kind", document.Kind("library-card"), devissuer.Holder{Name: "A B", Birth: birth, Photo: photo}, devissuer.ErrHolder},
	}
	for _, tt := range tests {
		if _, err := is.Mint(tt.kind, tt.h, now); !errors.Is(err, tt.want) {
			t.Errorf("Mint(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestLoadKeys(t *testing.T) {
	is, dir := issuers(t)
	again, err := devissuer.Load(dir)
	if err != nil {
		t.Fatalf("Load(existing) = %v", err)
	}
	// The same keys: anchors written from either are identical.
	a, b := t.TempDir(), t.TempDir()
	if err := is.WriteAnchors(a); err != nil {
		t.Fatal(err)
	}
	if err := again.WriteAnchors(b); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"jpdl", "mynumber", "residence"} {
		x, _ := os.ReadFile(filepath.Join(a, k, "dev-issuer.pem"))
		y, _ := os.ReadFile(filepath.Join(b, k, "dev-issuer.pem"))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s anchor differs after reloading the keys", k)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("key file %s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	if _, created, err := devissuer.LoadOrCreate(dir, now); err != nil || created {
		t.Errorf("LoadOrCreate(existing) = created %v, %v; want loaded", created, err)
	}

	if _, err := devissuer.Load(t.TempDir()); !errors.Is(err, devissuer.ErrNotFound) {
		t.Errorf("Load(empty) = %v, want ErrNotFound", err)
	}
	// A copy of the keys made readable by others is refused.
	lax := t.TempDir()
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if err := os.WriteFile(filepath.Join(lax, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := devissuer.Load(lax); err != nil {
		t.Fatalf("Load(copy) = %v", err)
	}
	if err := os.Chmod(filepath.Join(lax, "jpdl.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := devissuer.Load(lax); !errors.Is(err, devissuer.ErrPermissions) {
		t.Errorf("Load(world-readable key) = %v, want ErrPermissions", err)
	}
	if err := os.WriteFile(filepath.Join(lax, "jpdl.pem"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(lax, "jpdl.pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := devissuer.Load(lax); !errors.Is(err, devissuer.ErrKeyFile) {
		t.Errorf("Load(garbage key) = %v, want ErrKeyFile", err)
	}
	if _, _, err := devissuer.LoadOrCreate(lax, now); !errors.Is(err, devissuer.ErrKeyFile) {
		t.Errorf("LoadOrCreate(garbage key) = %v, want ErrKeyFile (never replaced)", err)
	}
}

// BenchmarkMint mints one chip per kind from a 480×640 JPEG portrait.
func BenchmarkMint(b *testing.B) {
	is, _ := issuers(b)
	photo := portrait(b, 480, 640)
	h := devissuer.Holder{Name: "YAMADA TARO", Birth: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC), Photo: photo}
	for _, k := range document.Kinds() {
		b.Run(string(k), func(b *testing.B) {
			for b.Loop() {
				if _, err := is.Mint(k, h, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRedaction: neither the issuers' keys nor a holder's data reach fmt
// or log/slog output.
func TestRedaction(t *testing.T) {
	is, _ := issuers(t)
	h := devissuer.Holder{Name: "MARKER-NAME-7781", Address: "MARKER-ADDR", Birth: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC), Photo: []byte("MARKER-PHOTO")}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "issuers", is, "holder", h)
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s %v %+v %#v", is, is, is, h, h, h, h)
	for _, secret := range []string{"MARKER", "1990", "PRIVATE", "BEGIN"} {
		if strings.Contains(out, secret) {
			t.Errorf("formatted issuers/holder contain %q: %s", secret, out)
		}
	}
}
