package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/store/storetest"
)

func getPage(t *testing.T, h http.Handler, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	resp := w.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestCapturePageRoutes(t *testing.T) {
	h, _ := newEKYCServer(t, storetest.SQLite(t))

	// The page is reached through the capture URL a new session gets.
	req := httptest.NewRequest(http.MethodPost, "/v1/ekyc/sessions", jsonBody(map[string]string{"method": "he", "reference": "cap-1"}))
	req.Header.Set("Authorization", "Bearer tok-a")
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusCreated {
		t.Fatalf("create session = %d %s", w.Code, w.Body)
	}
	m := regexp.MustCompile(`"capture_url":"([^"]+)"`).FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no capture_url in %s", w.Body)
	}
	u, err := url.Parse(m[1])
	if err != nil || u.Fragment == "" || u.RawQuery != "" {
		t.Fatalf("capture_url %q: want the token in the fragment only (%v)", "<redacted>", err)
	}

	tests := []struct {
		path, ctype, cache string
		want               []string // substrings of the body
	}{
		{u.Path, "text/html; charset=utf-8", "no-store", []string{`<script src="/ekyc/capture/capture.js" defer></script>`, "本人確認", `id="btn-start"`}},
		{"/ekyc/capture/capture.js", "text/javascript; charset=utf-8", "no-cache", []string{"madoguchi-frame-v1", "左を向いてください", "Capture-Key "}},
		{"/ekyc/capture/capture.css", "text/css; charset=utf-8", "no-cache", []string{".viewfinder"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := getPage(t, h, tc.path, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", tc.path, resp.StatusCode)
			}
			for k, want := range map[string]string{
				"Content-Type":            tc.ctype,
				"Cache-Control":           tc.cache,
				"Content-Security-Policy": captureCSP,
				"X-Frame-Options":         "DENY",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("GET %s: %s = %q, want %q", tc.path, k, got, want)
				}
			}
			if pp := resp.Header.Get("Permissions-Policy"); !strings.Contains(pp, "camera=(self)") {
				t.Errorf("GET %s: Permissions-Policy = %q, want camera=(self)", tc.path, pp)
			}
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("GET %s: body lacks %q", tc.path, s)
				}
			}
			if et := resp.Header.Get("ETag"); tc.cache != "no-store" {
				r2, _ := getPage(t, h, tc.path, map[string]string{"If-None-Match": et})
				if et == "" || r2.StatusCode != http.StatusNotModified {
					t.Errorf("GET %s If-None-Match %q = %d, want 304", tc.path, et, r2.StatusCode)
				}
			} else if et != "" {
				t.Errorf("GET %s: ETag on a no-store page", tc.path)
			}
		})
	}

	for _, p := range []string{"/ekyc/capture/index.html", "/ekyc/capture/../server.go", "/ekyc/capture/x.js", "/ekyc/capture/"} {
		resp, _ := getPage(t, h, p, nil)
		if resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s = 200, want only the three named files served", p)
		}
	}
	req = httptest.NewRequest(http.MethodPost, "/ekyc/capture", nil)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ekyc/capture = %d, want 405", w.Code)
	}
}

// TestCapturePageStrict checks what the CSP relies on and what the page
// promises: no inline script, style or handler; only same-origin assets;
// nothing written to web storage; the token dropped from the address bar.
func TestCapturePageStrict(t *testing.T) {
	html, err := captureFS.ReadFile("capture/index.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := captureFS.ReadFile("capture/capture.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		re   string
		src  []byte
	}{
		{"inline script", `<script(?:\s[^>]*)?>\s*[^<\s]`, html},
		{"script without src", `<script(?:\s(?:[^s>]|s(?:[^r]|r[^c]))*)?>`, html},
		{"inline style attribute", `\sstyle\s*=`, html},
		{"style element", `<style[\s>]`, html},
		{"inline event handler", `\son[a-z]+\s*=`, html},
		{"absolute URL", `(?:src|href)\s*=\s*"(?:https?:)?//`, html},
		{"web storage", `localStorage|sessionStorage|indexedDB|document\.cookie`, js},
		{"eval", `\beval\(|new Function\(|setTimeout\(\s*['"]`, js},
		{"file upload", `type=["']?file`, html},
	} {
		if loc := regexp.MustCompile(c.re).FindIndex(c.src); loc != nil {
			t.Errorf("%s: found %q", c.name, c.src[loc[0]:loc[1]])
		}
	}
	for _, want := range []string{"history.replaceState", "'Capture ' + st.token", "st.token = ''"} {
		if !strings.Contains(string(js), want) {
			t.Errorf("capture.js lacks %q", want)
		}
	}
	// Both languages carry every key.
	start, end := strings.Index(string(js), "const T = {"), strings.Index(string(js), "const $ =")
	if start < 0 || end < start {
		t.Fatal("capture.js: no message table (const T) before const $")
	}
	keys := regexp.MustCompile(`(?m)^\s+'?([a-z_.]+)'?: '`).FindAllSubmatch(js[start:end], -1)
	count := map[string]int{}
	for _, k := range keys {
		count[string(k[1])]++
	}
	if len(count) < 40 {
		t.Fatalf("found %d message keys in capture.js, want the ja and en tables", len(count))
	}
	for k, n := range count {
		if n != 2 {
			t.Errorf("message %q defined %d times, want once per language (ja, en)", k, n)
		}
	}
}

func TestCapturePageNeedsEKYC(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	resp, _ := getPage(t, s, "/ekyc/capture", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /ekyc/capture without eKYC = %d, want 404", resp.StatusCode)
	}
}
