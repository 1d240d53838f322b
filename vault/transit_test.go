package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeTransit implements the transit API shape over loopback with real
// AES-256-GCM, the way OpenBao does: ciphertext "vault:vN:" + base64(nonce ||
// sealed), versions 1..latest, min_decryption_version, and token checks.
type fakeTransit struct {
	token string
	mu    sync.Mutex
	keys  map[int]cipher.AEAD
	min   int
	calls map[string]int
}

func newFakeTransit(t testing.TB, token string) (*fakeTransit, *httptest.Server) {
	f := &fakeTransit{token: token, keys: map[int]cipher.AEAD{}, min: 1, calls: map[string]int{}}
	f.rotate()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeTransit) rotate() {
	k := make([]byte, 32)
	rand.Read(k)
	b, _ := aes.NewCipher(k)
	g, _ := cipher.NewGCM(b)
	f.keys[len(f.keys)+1] = g
}

func (f *fakeTransit) fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string][]string{"errors": {msg}})
}

func (f *fakeTransit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Vault-Token") != f.token {
		f.fail(w, http.StatusForbidden, "permission denied")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var in struct {
		Plaintext  string `json:"plaintext"`
		Ciphertext string `json:"ciphertext"`
		MinDecrypt int    `json:"min_decryption_version"`
	}
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
			f.fail(w, http.StatusBadRequest, "bad json")
			return
		}
	}
	latest := len(f.keys)
	encrypt := func(pt []byte) string {
		nonce := make([]byte, 12)
		rand.Read(nonce)
		return "vault:v" + strconv.Itoa(latest) + ":" + base64.StdEncoding.EncodeToString(f.keys[latest].Seal(nonce, nonce, pt, nil))
	}
	decrypt := func(ct string) ([]byte, error) {
		rest, ok := strings.CutPrefix(ct, "vault:v")
		num, body, ok2 := strings.Cut(rest, ":")
		v, err := strconv.Atoi(num)
		if !ok || !ok2 || err != nil || v < 1 || v > latest {
			return nil, errors.New("invalid ciphertext")
		}
		if v < f.min {
			return nil, errors.New("ciphertext version is disallowed by policy (too old)")
		}
		raw, err := base64.StdEncoding.DecodeString(body)
		if err != nil || len(raw) < 12 {
			return nil, errors.New("invalid ciphertext: could not decode")
		}
		return f.keys[v].Open(nil, raw[:12], raw[12:], nil)
	}
	data := func(d any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"data": d})
	}
	const key = "madoguchi-kek"
	path := strings.TrimPrefix(r.URL.Path, "/v1/transit/")
	f.calls[r.Method+" "+path]++
	switch {
	case r.Method == http.MethodPost && path == "encrypt/"+key:
		pt, err := base64.StdEncoding.DecodeString(in.Plaintext)
		if err != nil {
			f.fail(w, http.StatusBadRequest, "bad plaintext")
			return
		}
		data(map[string]any{"ciphertext": encrypt(pt), "key_version": latest})
	case r.Method == http.MethodPost && path == "decrypt/"+key:
		pt, err := decrypt(in.Ciphertext)
		if err != nil {
			f.fail(w, http.StatusBadRequest, err.Error())
			return
		}
		data(map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)})
	case r.Method == http.MethodPost && path == "rewrap/"+key:
		pt, err := decrypt(in.Ciphertext)
		if err != nil {
			f.fail(w, http.StatusBadRequest, err.Error())
			return
		}
		data(map[string]any{"ciphertext": encrypt(pt), "key_version": latest})
	case r.Method == http.MethodPost && path == "keys/"+key+"/rotate":
		f.rotate()
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && path == "keys/"+key+"/config":
		if in.MinDecrypt < 1 || in.MinDecrypt > latest {
			f.fail(w, http.StatusBadRequest, "min decryption version out of range")
			return
		}
		f.min = max(f.min, in.MinDecrypt)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && path == "keys/"+key:
		keys := map[string]int{}
		for v := range f.keys {
			keys[strconv.Itoa(v)] = 1700000000 + v
		}
		data(map[string]any{"name": key, "type": "aes256-gcm96", "latest_version": latest, "min_decryption_version": f.min, "keys": keys})
	default:
		f.fail(w, http.StatusNotFound, "unsupported path")
	}
}

func newTransit(t testing.TB) (*Transit, *fakeTransit) {
	t.Helper()
	f, srv := newFakeTransit(t, "s.test-token")
	tr, err := NewTransit(TransitConfig{Address: srv.URL, Key: "madoguchi-kek", Token: "s.test-token"})
	if err != nil {
		t.Fatal(err)
	}
	return tr, f
}

func TestTransitKeyring(t *testing.T) {
	ctx := context.Background()
	tr, f := newTransit(t)
	dek := []byte("0123456789abcdef0123456789abcdef")
	w, err := tr.Wrap(ctx, dek)
	if err != nil || w.KEKVersion != 1 || !strings.HasPrefix(string(w.Data), "vault:v1:") {
		t.Fatalf("Wrap = %q (v%d), %v; want vault:v1:...", w.Data, w.KEKVersion, err)
	}
	if got, err := tr.Unwrap(ctx, w); err != nil || string(got) != string(dek) {
		t.Fatalf("Unwrap(Wrap) = %q, %v", got, err)
	}
	if v, err := tr.Rotate(ctx); err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v; want 2", v, err)
	}
	w2, err := tr.Rewrap(ctx, w)
	if err != nil || w2.KEKVersion != 2 {
		t.Fatalf("Rewrap = v%d, %v; want v2", w2.KEKVersion, err)
	}
	if f.calls["POST decrypt/madoguchi-kek"] != 1 {
		t.Errorf("Rewrap went through decrypt (%d decrypt calls), want the rewrap endpoint", f.calls["POST decrypt/madoguchi-kek"])
	}
	if err := tr.Retire(ctx, 2); err != nil {
		t.Fatalf("Retire(2) = %v", err)
	}
	st, err := tr.KEKStatus(ctx)
	if err != nil || st.Current != 2 || st.MinDecrypt != 2 || fmt.Sprint(st.Versions) != "[2]" {
		t.Errorf("KEKStatus = %+v, %v; want current 2, min 2, versions [2]", st, err)
	}
	if _, err := tr.Unwrap(ctx, w); !errors.Is(err, ErrTransit) {
		t.Errorf("Unwrap(retired v1) = %v, want ErrTransit", err)
	}
	if got, err := tr.Unwrap(ctx, w2); err != nil || string(got) != string(dek) {
		t.Errorf("Unwrap(rewrapped) = %q, %v", got, err)
	}

	// Refusals.
	bad := []WrappedKey{
		{KEKVersion: 2, Data: []byte("vault:v1:" + string(w2.Data[9:]))}, // version mismatch row vs text
		{KEKVersion: 2, Data: []byte("garbage")},
		{KEKVersion: 2, Data: []byte("vault:v2:AAAA")},
		{KEKVersion: 2, Data: append([]byte(nil), w2.Data[:len(w2.Data)-4]...)},
	}
	for _, b := range bad {
		if got, err := tr.Unwrap(ctx, b); !errors.Is(err, ErrTransit) {
			t.Errorf("Unwrap(%q) = %q, %v; want ErrTransit", b.Data, got, err)
		}
	}
	wrongTok, _ := NewTransit(TransitConfig{Address: strings.TrimSuffix(tr.base.String(), "/"), Key: "madoguchi-kek", Token: "wrong"})
	if _, err := wrongTok.Wrap(ctx, dek); !errors.Is(err, ErrTransit) || !strings.Contains(err.Error(), "403") {
		t.Errorf("Wrap with a wrong token = %v, want ErrTransit HTTP 403", err)
	}
	if s := fmt.Sprintf("%v %+v %#v", tr.token, tr.token, tr.token); strings.Contains(s, "test-token") {
		t.Errorf("token formatted as %q", s)
	}
}

func TestNewTransitRefuses(t *testing.T) {
	for _, c := range []TransitConfig{
		{Address: "ftp://x", Key: "k", Token: "t"},
		{Address: "https://user:pw@x", Key: "k", Token: "t"},
		{Address: "https://x", Key: "", Token: "t"},
		{Address: "https://x", Key: "../sys", Token: "t"},
		{Address: "https://x", Key: "k", Token: ""},
	} {
		if _, err := NewTransit(c); err == nil {
			t.Errorf("NewTransit(%+v) = nil error", c.Address+" "+c.Key)
		}
	}
}

func TestParseTransitVersion(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"vault:v1:abc", 1}, {"vault:v12:abc", 12},
		{"vault:v0:abc", 0}, {"vault:v01:abc", 0}, {"vault:v1:", 0}, {"vault:v-1:x", 0}, {"vault:x", 0}, {"", 0},
		{"vault:v99999999999999999999:x", 0},
	}
	for _, tt := range tests {
		got, err := ParseTransitVersion(tt.in)
		if got != tt.want || (err == nil) != (tt.want > 0) {
			t.Errorf("ParseTransitVersion(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}
