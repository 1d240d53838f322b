package pagestyle

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	first := httptest.NewRecorder()
	Handler().ServeHTTP(first, httptest.NewRequest("GET", "/page.css", nil))
	etag := first.Header().Get("ETag")
	tests := []struct {
		name        string
		ifNoneMatch string
		status      int
		body        string
	}{
		{"fresh", "", http.StatusOK, css},
		{"revalidated", etag, http.StatusNotModified, ""},
		{"changed", `"other"`, http.StatusOK, css},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/page.css", nil)
			if tt.ifNoneMatch != "" {
				r.Header.Set("If-None-Match", tt.ifNoneMatch)
			}
			w := httptest.NewRecorder()
			Handler().ServeHTTP(w, r)
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Errorf("GET (If-None-Match %q) = %d, %d bytes; want %d, %d bytes", tt.ifNoneMatch, w.Code, w.Body.Len(), tt.status, len(tt.body))
			}
			want := map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache", "ETag": etag}
			if tt.status == http.StatusOK {
				want["Content-Type"] = "text/css; charset=utf-8"
			}
			for k, v := range want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if etag == "" {
		t.Error("no ETag")
	}
}

// The sheet loads nothing: a page's CSP allows it with style-src 'self'
// and no font, image or other source.
func TestLoadsNothing(t *testing.T) {
	for _, s := range []string{"@import", "url(", "@font-face", "expression("} {
		if strings.Contains(strings.ToLower(css), s) {
			t.Errorf("page.css contains %q", s)
		}
	}
	b := CSS()
	b[0] ^= 0xff
	if string(CSS()) != css {
		t.Error("CSS() returns a shared slice: a caller changed the sheet")
	}
}
