package web

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/internal/pagestyle"
)

// TestConfirmPageStyle: the confirmation page links one style sheet, the
// customer pages' shared one (internal/pagestyle), served under the page's
// CSP, which allows it (default-src 'self') and no inline style.
func TestConfirmPageStyle(t *testing.T) {
	h := New(Config{TxAuth: &TxAuthConfig{Service: &txFuzzService{}}})
	tests := []struct {
		path, ctype string
		check       func(t *testing.T, body string)
	}{
		{"/txauth/confirm", "text/html; charset=utf-8", func(t *testing.T, body string) {
			links := regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`).FindAllStringSubmatch(body, -1)
			if len(links) != 1 || links[0][1] != "/txauth/confirm/confirm.css" {
				t.Errorf("style sheets linked = %v, want one, /txauth/confirm/confirm.css", links)
			}
			for _, inline := range []string{"<style", " style="} {
				if strings.Contains(body, inline) {
					t.Errorf("page has inline style %q, which the CSP blocks", inline)
				}
			}
		}},
		{"/txauth/confirm/confirm.css", "text/css; charset=utf-8", func(t *testing.T, body string) {
			if body != string(pagestyle.CSS()) {
				t.Errorf("confirm.css is not pagestyle.CSS (%d bytes, want %d)", len(body), len(pagestyle.CSS()))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := getPage(t, h, tc.path, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", tc.path, resp.StatusCode)
			}
			for k, want := range map[string]string{"Content-Type": tc.ctype, "Content-Security-Policy": confirmCSP} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("GET %s: %s = %q, want %q", tc.path, k, got, want)
				}
			}
			tc.check(t, body)
		})
	}
	if strings.Contains(confirmCSP, "unsafe-inline") || strings.Contains(confirmCSP, "style-src") {
		t.Errorf("confirmCSP = %q: want styles from default-src 'self' only", confirmCSP)
	}
}
