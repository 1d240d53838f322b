package portal

import (
	"bytes"
	"errors"
	"mime/multipart"
	"strings"
	"testing"
)

func multipartBody(t testing.TB, parts [][3]string) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w interface{ Write([]byte) (int, error) }
		var err error
		if p[2] != "" {
			w, err = mw.CreateFormFile(p[0], p[2])
		} else {
			w, err = mw.CreateFormField(p[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(p[1]))
	}
	_ = mw.Close()
	return buf.Bytes(), mw.Boundary()
}

func TestReadUpload(t *testing.T) {
	limits := map[string]int64{"jwks": 10}
	for _, tc := range []struct {
		name  string
		parts [][3]string
		token string
		err   error
		files int
	}{
		{"token then file", [][3]string{{"csrf", "tok", ""}, {"name", "n", ""}, {"jwks", "0123456789", "k.json"}}, "tok", nil, 1},
		{"token not first", [][3]string{{"name", "n", ""}, {"csrf", "tok", ""}}, "", errCSRF, 0},
		{"token as a file", [][3]string{{"csrf", "tok", "x"}}, "", errCSRF, 0},
		{"token too long", [][3]string{{"csrf", strings.Repeat("a", maxTokenPart+1), ""}}, "", errCSRF, 0},
		{"file over its limit", [][3]string{{"csrf", "tok", ""}, {"jwks", "01234567890", "k.json"}}, "tok", errUploadPart, 0},
		{"file not taken", [][3]string{{"csrf", "tok", ""}, {"other", "x", "o"}}, "tok", errBadInput, 0},
		{"field over 4 KiB", [][3]string{{"csrf", "tok", ""}, {"name", strings.Repeat("n", 4<<10+1), ""}}, "tok", errUploadPart, 0},
		{"empty file is no file", [][3]string{{"csrf", "tok", ""}, {"jwks", "", "k.json"}}, "tok", nil, 0},
	} {
		body, boundary := multipartBody(t, tc.parts)
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		tok, err := readToken(mr)
		if err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: readToken = %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if tok != tc.token {
			t.Errorf("%s: token %q, want %q", tc.name, tok, tc.token)
		}
		f, err := readUpload(mr, limits)
		if !errors.Is(err, tc.err) || (err == nil && len(f.Files) != tc.files) {
			t.Errorf("%s: readUpload = %d files, %v; want %d, %v", tc.name, len(f.Files), err, tc.files, tc.err)
		}
	}
}

// FuzzReadUpload: any body is read within its limits without panicking.
func FuzzReadUpload(f *testing.F) {
	body, _ := multipartBody(f, [][3]string{{"csrf", "tok", ""}, {"name", "n", ""}, {"jwks", `{"keys":[]}`, "k.json"}})
	f.Add(body)
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nt\r\n--x--\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		boundary := "x"
		if i := bytes.Index(b, []byte("\r\n")); i > 2 && b[0] == '-' && b[1] == '-' {
			boundary = string(b[2:i])
		}
		mr := multipart.NewReader(bytes.NewReader(b), boundary)
		if _, err := readToken(mr); err != nil {
			return
		}
		u, err := readUpload(mr, map[string]int64{"jwks": 64})
		if err == nil && len(u.Files["jwks"]) > 64 {
			t.Fatalf("a file over its limit was accepted: %d bytes", len(u.Files["jwks"]))
		}
	})
}

// FuzzPayloadTenant: approval payloads name a bounded tenant or fail.
func FuzzPayloadTenant(f *testing.F) {
	f.Add([]byte(`{"tenant_id":"tn_a","client":{}}`))
	f.Add([]byte(`{"tenant_id":""}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := PayloadTenant(b)
		if err == nil && (id == "" || len(id) > MaxIDLen) {
			t.Fatalf("PayloadTenant accepted %q", id)
		}
		if p, err := parseClientRotate(b); err == nil && (p.TenantID == "" || p.ClientID == "") {
			t.Fatalf("parseClientRotate accepted %+v", p)
		}
	})
}
