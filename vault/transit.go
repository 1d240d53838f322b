package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TransitConfig configures the external-KMS keyring in the shape of the
// OpenBao / HashiCorp Vault transit secrets engine.
type TransitConfig struct {
	Address    string       // e.g. https://kms.internal:8200
	Mount      string       // transit mount path (default "transit")
	Key        string       // key name, e.g. "madoguchi-kek" (type aes256-gcm96)
	Token      string       // sent as X-Vault-Token
	Namespace  string       // optional X-Vault-Namespace
	HTTPClient *http.Client // default: 10 s timeout
}

// Transit is a Keyring and KeyAdmin backed by a transit engine: the KEK
// never leaves the KMS. It uses
//
//	POST /v1/<mount>/encrypt/<key>        {"plaintext": b64}            -> data.ciphertext "vault:vN:..."
//	POST /v1/<mount>/decrypt/<key>        {"ciphertext": "vault:vN:..."} -> data.plaintext b64
//	POST /v1/<mount>/rewrap/<key>         {"ciphertext": ...}           -> data.ciphertext (no plaintext)
//	POST /v1/<mount>/keys/<key>/rotate
//	GET  /v1/<mount>/keys/<key>                                          -> data.latest_version, min_decryption_version, keys
//	POST /v1/<mount>/keys/<key>/config    {"min_decryption_version": N}  (Retire)
//
// Data (the stored wrapped key) is the "vault:vN:..." ciphertext text.
type Transit struct {
	base   *url.URL
	mount  string
	key    string
	token  secretString
	ns     string
	client *http.Client
}

var (
	_ Keyring  = (*Transit)(nil)
	_ KeyAdmin = (*Transit)(nil)
)

// secretString redacts itself in logs and formatting.
type secretString string

func (secretString) String() string               { return "[REDACTED]" }
func (secretString) LogValue() slog.Value         { return slog.StringValue("[REDACTED]") }
func (s secretString) GoString() string           { return s.String() }
func (s secretString) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// ErrTransit is a refusal or failure answered by the transit engine.
var ErrTransit = errors.New("vault: transit")

// maxTransitResponse bounds a transit answer.
const maxTransitResponse = 1 << 20

// NewTransit validates cfg. It makes no request; call KEKStatus at startup to
// fail fast on a wrong address, token or key.
func NewTransit(cfg TransitConfig) (*Transit, error) {
	u, err := url.Parse(cfg.Address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, errors.New("vault: transit address must be http(s)://host[:port]")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if cfg.Mount == "" {
		cfg.Mount = "transit"
	}
	for _, p := range []string{cfg.Mount, cfg.Key} {
		if p == "" || strings.ContainsAny(p, "?#%") || strings.Contains(p, "..") || strings.HasPrefix(p, "/") {
			return nil, errors.New("vault: transit mount and key must be plain path names")
		}
	}
	if cfg.Token == "" {
		return nil, errors.New("vault: transit token is empty")
	}
	c := cfg.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	return &Transit{base: u, mount: cfg.Mount, key: cfg.Key, token: secretString(cfg.Token), ns: cfg.Namespace, client: c}, nil
}

// LogValue describes the keyring without the token.
func (t *Transit) LogValue() slog.Value {
	return slog.GroupValue(slog.String("keyring", "transit"), slog.String("address", t.base.String()),
		slog.String("mount", t.mount), slog.String("key", t.key))
}

func (t *Transit) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := *t.base
	u.Path = t.base.Path + "/v1/" + t.mount + "/" + path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", string(t.token))
	if t.ns != "" {
		req.Header.Set("X-Vault-Namespace", t.ns)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrTransit, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTransitResponse+1))
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrTransit, method, path, err)
	}
	if len(b) > maxTransitResponse {
		return fmt.Errorf("%w: %s %s: response over %d bytes", ErrTransit, method, path, maxTransitResponse)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Errors []string `json:"errors"`
		}
		_ = json.Unmarshal(b, &e)
		msg := strings.Join(e.Errors, "; ")
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return fmt.Errorf("%w: %s %s: HTTP %d: %s", ErrTransit, method, path, resp.StatusCode, msg)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %s %s: bad JSON answer: %w", ErrTransit, method, path, err)
	}
	return nil
}

type transitCipherResp struct {
	Data struct {
		Ciphertext string `json:"ciphertext"`
		Plaintext  string `json:"plaintext"`
	} `json:"data"`
}

// ParseTransitVersion returns N from a "vault:vN:..." ciphertext.
func ParseTransitVersion(ct string) (int, error) {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok {
		return 0, fmt.Errorf("%w: ciphertext lacks the vault:vN: prefix", ErrTransit)
	}
	num, body, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 || n > 1<<30 || body == "" || num != strconv.Itoa(n) {
		return 0, fmt.Errorf("%w: malformed ciphertext version", ErrTransit)
	}
	return n, nil
}

func (t *Transit) wrapped(ct string) (WrappedKey, error) {
	if len(ct) > 4096 {
		return WrappedKey{}, fmt.Errorf("%w: ciphertext too long", ErrTransit)
	}
	v, err := ParseTransitVersion(ct)
	if err != nil {
		return WrappedKey{}, err
	}
	return WrappedKey{KEKVersion: v, Data: []byte(ct)}, nil
}

// Wrap encrypts plaintext under the key's latest version.
func (t *Transit) Wrap(ctx context.Context, plaintext []byte) (WrappedKey, error) {
	if len(plaintext) > maxWrapInput {
		return WrappedKey{}, fmt.Errorf("vault: wrap input is %d bytes, limit %d", len(plaintext), maxWrapInput)
	}
	var out transitCipherResp
	in := map[string]string{"plaintext": base64.StdEncoding.EncodeToString(plaintext)}
	if err := t.call(ctx, http.MethodPost, "encrypt/"+t.key, in, &out); err != nil {
		return WrappedKey{}, err
	}
	return t.wrapped(out.Data.Ciphertext)
}

// Unwrap decrypts a wrapped key.
func (t *Transit) Unwrap(ctx context.Context, w WrappedKey) ([]byte, error) {
	v, err := ParseTransitVersion(string(w.Data))
	if err != nil {
		return nil, err
	}
	if v != w.KEKVersion {
		return nil, fmt.Errorf("%w: wrapped key says version %d, row says %d", ErrTransit, v, w.KEKVersion)
	}
	var out transitCipherResp
	if err := t.call(ctx, http.MethodPost, "decrypt/"+t.key, map[string]string{"ciphertext": string(w.Data)}, &out); err != nil {
		return nil, err
	}
	pt, err := base64.StdEncoding.DecodeString(out.Data.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("%w: bad plaintext encoding", ErrTransit)
	}
	return pt, nil
}

// Rewrap re-encrypts w under the latest version inside the KMS.
func (t *Transit) Rewrap(ctx context.Context, w WrappedKey) (WrappedKey, error) {
	var out transitCipherResp
	if err := t.call(ctx, http.MethodPost, "rewrap/"+t.key, map[string]string{"ciphertext": string(w.Data)}, &out); err != nil {
		return WrappedKey{}, err
	}
	return t.wrapped(out.Data.Ciphertext)
}

// Rotate creates a new key version in the KMS.
func (t *Transit) Rotate(ctx context.Context) (int, error) {
	if err := t.call(ctx, http.MethodPost, "keys/"+t.key+"/rotate", struct{}{}, nil); err != nil {
		return 0, err
	}
	st, err := t.KEKStatus(ctx)
	if err != nil {
		return 0, err
	}
	return st.Current, nil
}

// KEKStatus reads the key's versions.
func (t *Transit) KEKStatus(ctx context.Context) (KEKStatus, error) {
	var out struct {
		Data struct {
			Name                 string         `json:"name"`
			LatestVersion        int            `json:"latest_version"`
			MinDecryptionVersion int            `json:"min_decryption_version"`
			Keys                 map[string]any `json:"keys"`
		} `json:"data"`
	}
	if err := t.call(ctx, http.MethodGet, "keys/"+t.key, nil, &out); err != nil {
		return KEKStatus{}, err
	}
	d := out.Data
	if d.LatestVersion < 1 || d.MinDecryptionVersion < 1 || d.MinDecryptionVersion > d.LatestVersion {
		return KEKStatus{}, fmt.Errorf("%w: key %s reports inconsistent versions", ErrTransit, t.key)
	}
	st := KEKStatus{Name: t.key, Current: d.LatestVersion, MinDecrypt: d.MinDecryptionVersion}
	for k := range d.Keys {
		if n, err := strconv.Atoi(k); err == nil && n >= d.MinDecryptionVersion && n <= d.LatestVersion {
			st.Versions = append(st.Versions, n)
		}
	}
	slices.Sort(st.Versions)
	return st, nil
}

// Retire raises the key's min_decryption_version to minVersion.
func (t *Transit) Retire(ctx context.Context, minVersion int) error {
	return t.call(ctx, http.MethodPost, "keys/"+t.key+"/config", map[string]int{"min_decryption_version": minVersion}, nil)
}
