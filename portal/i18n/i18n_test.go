package i18n

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestEmbeddedCatalogue(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if len(c.Keys()) < 50 {
		t.Errorf("catalogue has %d keys", len(c.Keys()))
	}
	for _, k := range c.Keys() {
		raw, _ := c.T(Ja, k)
		var args []any
		switch {
		case strings.Contains(raw, "%[1]d"):
			args = []any{7}
		case strings.Contains(raw, "%[1]s"):
			args = []any{"x"}
		}
		ja, err1 := c.T(Ja, k, args...)
		en, err2 := c.T(En, k, args...)
		if err1 != nil || err2 != nil || ja == "" || en == "" || strings.Contains(ja+en, "%!") {
			t.Errorf("key %q: ja %q en %q", k, ja, en)
		}
	}
	if _, err := c.T(En, "no.such.key"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("T(unknown) = %v, want ErrUnknownKey", err)
	}
	if got, _ := c.T(Lang("fr"), "login.title"); got != "サインイン" {
		t.Errorf("unknown language = %q, want the default language", got)
	}
}

func TestCatalogueChecks(t *testing.T) {
	ok := map[string]string{"a": "A", "b": "B %[1]s"}
	for _, tc := range []struct {
		name string
		m    map[Lang]map[string]string
		want string
	}{
		{"missing in en", map[Lang]map[string]string{Ja: ok, En: {"a": "A"}}, `"b" is in ja but not in en`},
		{"missing in ja", map[Lang]map[string]string{Ja: {"a": "A"}, En: ok}, `"b" is in en but not in ja`},
		{"empty", map[Lang]map[string]string{Ja: ok, En: {"a": " ", "b": "B %[1]s"}}, "empty"},
		{"placeholders", map[Lang]map[string]string{Ja: ok, En: {"a": "A", "b": "B"}}, "placeholders"},
		{"no en", map[Lang]map[string]string{Ja: ok}, "no en"},
	} {
		_, err := newCatalog(tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: newCatalog = %v, want an error about %s", tc.name, err, tc.want)
		}
	}
	if _, err := newCatalog(map[Lang]map[string]string{Ja: ok, En: ok}); err != nil {
		t.Errorf("a consistent catalogue: %v", err)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Lang{"ja": Ja, "en": En, "": Ja, "EN": Ja, "de": Ja} {
		if got, _ := Parse(in); got != want {
			t.Errorf("Parse(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAreaFiles(t *testing.T) {
	ja := `{"a": "あ"}`
	en := `{"a": "A"}`
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		want  string // "" = loads
	}{
		{"one area", fstest.MapFS{"ja/core.json": file(ja), "en/core.json": file(en)}, ""},
		{"two areas", fstest.MapFS{"ja/core.json": file(ja), "en/core.json": file(en),
			"ja/review.json": file(`{"b": "い"}`), "en/review.json": file(`{"b": "B"}`)}, ""},
		{"area missing in en", fstest.MapFS{"ja/core.json": file(ja), "en/core.json": file(en),
			"ja/review.json": file(`{"b": "い"}`)}, "has files"},
		{"key in two areas", fstest.MapFS{"ja/core.json": file(ja), "en/core.json": file(en),
			"ja/review.json": file(`{"a": "い"}`), "en/review.json": file(`{"a": "B"}`)}, "is in both"},
		{"bad json", fstest.MapFS{"ja/core.json": file(`{`), "en/core.json": file(en)}, "ja/core.json"},
	} {
		_, err := load(tc.files)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: load = %v, want a catalogue", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: load = %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
