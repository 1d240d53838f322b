package form

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func post(v url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestLogin(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   url.Values
		want Errors
	}{
		{"ok", url.Values{"username": {" alice "}, "password": {" pw "}, "code": {"012345"}}, Errors{}},
		{"empty", url.Values{}, Errors{"username": "form.required", "password": "form.required", "code": "form.required"}},
		{"long username", url.Values{"username": {strings.Repeat("a", MaxUsername+1)}, "password": {"x"}, "code": {"123456"}}, Errors{"username": "form.too_long"}},
		{"long password", url.Values{"username": {"a"}, "password": {strings.Repeat("p", MaxPassword+1)}, "code": {"123456"}}, Errors{"password": "form.too_long"}},
		{"invalid UTF-8", url.Values{"username": {"\xff"}, "password": {"x"}, "code": {"123456"}}, Errors{"username": "form.too_long"}},
		{"code letters", url.Values{"username": {"a"}, "password": {"x"}, "code": {"12a456"}}, Errors{"code": "form.code_format"}},
		{"code long", url.Values{"username": {"a"}, "password": {"x"}, "code": {"1234567"}}, Errors{"code": "form.code_format"}},
	} {
		f := ParseLogin(post(tc.in))
		if diff := cmp.Diff(tc.want, f.Validate()); diff != "" {
			t.Errorf("%s: Validate() mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
	f := ParseLogin(post(url.Values{"username": {" alice "}, "password": {" pw "}}))
	if f.Username != "alice" || f.Password != " pw " {
		t.Errorf("ParseLogin = %+v: username trimmed, password kept as typed", f)
	}
}

func TestTOTPConfirm(t *testing.T) {
	for in, want := range map[string]Errors{"123456": {}, "": {"code": "form.required"}, "12345": {"code": "form.code_format"}} {
		if diff := cmp.Diff(want, ParseTOTPConfirm(post(url.Values{"code": {in}})).Validate()); diff != "" {
			t.Errorf("code %q: %s", in, diff)
		}
	}
}

func TestPasskeyRegistration(t *testing.T) {
	for _, tc := range []struct {
		in   PasskeyRegistration
		want Errors
	}{
		{PasskeyRegistration{Name: " laptop ", Credential: []byte(`{}`)}, Errors{}},
		{PasskeyRegistration{Name: "", Credential: []byte(`{}`)}, Errors{"name": "form.required"}},
		{PasskeyRegistration{Name: "a\x07b", Credential: []byte(`{}`)}, Errors{"name": "form.invalid"}},
		{PasskeyRegistration{Name: strings.Repeat("n", MaxPasskeyName+1), Credential: []byte(`{}`)}, Errors{"name": "form.too_long"}},
		{PasskeyRegistration{Name: "x"}, Errors{"": "passkey.failed"}},
	} {
		if diff := cmp.Diff(tc.want, tc.in.Validate()); diff != "" {
			t.Errorf("%q: %s", tc.in.Name, diff)
		}
	}
}

func FuzzLogin(f *testing.F) {
	f.Add("alice", "pw", "123456")
	f.Add("", "", "")
	f.Add("\xff\xfe", strings.Repeat("x", 2000), "１２３４５６")
	f.Fuzz(func(t *testing.T, u, p, c string) {
		e := Login{Username: u, Password: p, Code: c}.Validate()
		for field, key := range e {
			if key == "" || (field != "username" && field != "password" && field != "code") {
				t.Fatalf("Validate(%q, %q, %q) = %v", u, p, c, e)
			}
		}
		if !e.Any() && (len(c) != 6 || u == "" || p == "") {
			t.Fatalf("Validate(%q, %q, %q) accepted a bad form", u, p, c)
		}
	})
}

func TestPasswordChange(t *testing.T) {
	long := strings.Repeat("p", MaxPassword+1)
	for _, tc := range []struct {
		name string
		in   url.Values
		want Errors
	}{
		{"ok", url.Values{"current": {" old one "}, "new": {" new one "}, "confirm": {" new one "}}, Errors{}},
		{"empty", url.Values{}, Errors{"current": "form.required", "new": "form.required", "confirm": "form.required"}},
		{"mismatch", url.Values{"current": {"a"}, "new": {"new one"}, "confirm": {"new one "}}, Errors{"confirm": "password.mismatch"}},
		{"long", url.Values{"current": {long}, "new": {long}, "confirm": {long}}, Errors{"current": "form.too_long", "new": "form.too_long", "confirm": "form.too_long"}},
	} {
		f := ParsePasswordChange(post(tc.in))
		if diff := cmp.Diff(tc.want, f.Validate()); diff != "" {
			t.Errorf("%s: Validate (-want +got):\n%s", tc.name, diff)
		}
		if tc.name == "ok" && (f.Current != " old one " || f.New != " new one ") {
			t.Errorf("passwords trimmed: %q %q", f.Current, f.New)
		}
	}
}
