package oauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/internal/pagestyle"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

var styleLinkRE = regexp.MustCompile(`<link rel="stylesheet" href="([^"]*)">`)

// checkStyled: the page links exactly one style sheet, PathStyle, has no
// inline style (which its CSP would block) and its CSP allows styles from
// this origin only.
func checkStyled(t *testing.T, csp, body string) {
	t.Helper()
	if links := styleLinkRE.FindAllStringSubmatch(body, -1); len(links) != 1 || links[0][1] != PathStyle {
		t.Errorf("style sheets linked = %v, want one, %s", links, PathStyle)
	}
	for _, inline := range []string{"<style", " style="} {
		if strings.Contains(body, inline) {
			t.Errorf("page has inline style (%q), which its CSP blocks", inline)
		}
	}
	var style []string
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "style-src" {
			style = append(style, strings.Join(f[1:], " "))
		}
	}
	if len(style) != 1 || style[0] != "'self'" || !strings.HasPrefix(csp, "default-src 'none';") {
		t.Errorf("CSP %q: style-src %q, want default-src 'none' and style-src 'self' only", csp, style)
	}
}

func TestRenderPage(t *testing.T) {
	transfer := []Detail{{Type: DetailTransfer, Amount: "98765", Currency: "JPY", Purpose: "請求書 INV-42",
		Payee: &Account{Name: "サトウ ハナコ", BankCode: "0001", BranchCode: "001", AccountType: "ordinary", AccountNumber: "7654321"}}}
	tests := []struct {
		name       string
		formTarget string
		d          pageData
		csp        string
		want       []string // substrings of the body
		absent     []string
	}{
		{"transfer consent", "https://partner.example", pageData{Client: "Partner", Interaction: "ix", Action: PathDecide, Details: describeDetails(transfer),
			Fields: []FormField{{Name: "customer", Label: "お客さま番号 Customer number", Type: "text"}, {Name: "assertion", Type: "hidden"}}},
			"default-src 'none'; style-src 'self'; script-src 'none'; form-action 'self' https://partner.example; frame-ancestors 'none'; base-uri 'none'",
			[]string{`<dd class="amount" data-field="amount">¥98,765</dd>`, `<dd class="payee" data-field="payee">サトウ ハナコ</dd>`,
				`<label for="field-customer">お客さま番号 Customer number</label><input id="field-customer" name="customer" type="text"`,
				`<input type="hidden" name="assertion">`, `id="approve" class="primary"`, `id="deny" class="secondary"`},
			[]string{`role="alert"`, `role="status"`, "<script"}},
		{"device page with a factor script", "", pageData{Client: "Partner", Interaction: "ix", Action: PathDevice, BindingMessage: "K7", ScriptURL: "/txauth/signin.js",
			Link: &FormLink{URL: "https://bank.example/txauth/confirm#t", Label: "open", Text: "confirm it is you"}},
			"default-src 'none'; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			[]string{`<strong id="binding-message">K7</strong>`, `<a id="customer-step" href="https://bank.example/txauth/confirm#t" class="step"`, `<script src="/txauth/signin.js">`},
			[]string{`role="alert"`}},
		{"refusal", "", pageData{Error: "この認可リクエストは期限切れです。"},
			"default-src 'none'; style-src 'self'; script-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			[]string{`<p role="alert" id="error" class="alert">この認可リクエストは期限切れです。</p>`}, []string{"<form", `role="status"`}},
		{"CIBA approved", "", pageData{Notice: "承認しました。"},
			"default-src 'none'; style-src 'self'; script-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			[]string{`<p role="status" id="notice" class="notice">承認しました。</p>`}, []string{"<form", `role="alert"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			renderPage(w, http.StatusOK, tt.formTarget, tt.d)
			csp, body := w.Header().Get("Content-Security-Policy"), w.Body.String()
			if csp != tt.csp {
				t.Errorf("CSP = %q, want %q", csp, tt.csp)
			}
			checkStyled(t, csp, body)
			for _, s := range tt.want {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %s", s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(body, s) {
					t.Errorf("page has %s", s)
				}
			}
		})
	}
}

// TestPageStyleServed: the server serves the style sheet its consent page
// links, the customer pages' one, and the page's CSP allows it.
func TestPageStyleServed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		c := e.partner(e.tenant)
		r := e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), nil)
		resp, err := e.http.Get(e.base + PathAuthorize + "?" + url.Values{"client_id": {c.id}, "request_uri": {r.body["request_uri"].(string)}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d", PathAuthorize, resp.StatusCode)
		}
		checkStyled(t, resp.Header.Get("Content-Security-Policy"), string(page))

		resp, err = e.http.Get(e.base + PathStyle)
		if err != nil {
			t.Fatal(err)
		}
		css, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || string(css) != string(pagestyle.CSS()) {
			t.Errorf("GET %s = %d %s, %d bytes; want 200 text/css, pagestyle.CSS", PathStyle, resp.StatusCode, resp.Header.Get("Content-Type"), len(css))
		}
	})
}
