package web

import (
	"regexp"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/ekyc"
)

// captureTables reads capture.js's ja and en message tables.
func captureTables(t *testing.T, js string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	key := regexp.MustCompile(`(?m)^\s+'?([a-z_.]+)'?: '`)
	for _, lang := range []string{"ja", "en"} {
		start := strings.Index(js, "\n    "+lang+": {")
		if start < 0 {
			t.Fatalf("capture.js: no %s table", lang)
		}
		end := strings.Index(js[start:], "\n    },")
		if end < 0 {
			t.Fatalf("capture.js: %s table not closed", lang)
		}
		out[lang] = map[string]bool{}
		body := js[start : start+end]
		for _, line := range strings.Split(body, "\n") {
			// Several keys may share a line: "'a': '…', 'b': '…'".
			for _, m := range regexp.MustCompile(`(?:^|,)\s*'?([a-z_.]+)'?: '`).FindAllStringSubmatch(line, -1) {
				out[lang][m[1]] = true
			}
		}
		if len(key.FindAllString(body, -1)) == 0 {
			t.Fatalf("capture.js: empty %s table", lang)
		}
	}
	return out
}

// TestCaptureMessagesResolve: no page shows a raw message key. Every key
// the page uses — data-i18n attributes of the HTML, message keys quoted in
// the script, and every key the script builds at run time, expanded over
// the values the server can send (methods, frame kinds, challenge steps,
// outcomes) — is in both the Japanese and the English table. A key built
// in a way this test does not know fails it, so it is kept up to date.
func TestCaptureMessagesResolve(t *testing.T) {
	htmlB, err := captureFS.ReadFile("capture/index.html")
	if err != nil {
		t.Fatal(err)
	}
	jsB, err := captureFS.ReadFile("capture/capture.js")
	if err != nil {
		t.Fatal(err)
	}
	html, js := string(htmlB), string(jsB)
	tables := captureTables(t, js)
	prefixes := map[string]bool{}
	for k := range tables["en"] {
		prefixes[strings.SplitN(k, ".", 2)[0]] = true
	}

	used := map[string]string{} // key -> where
	for _, m := range regexp.MustCompile(`data-i18n="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		used[m[1]] = "index.html data-i18n"
	}
	code := js[strings.Index(js, "const $ ="):] // the script after the tables
	for _, m := range regexp.MustCompile(`'([a-z_]+(?:\.[a-z_]+)+)'`).FindAllStringSubmatch(code, -1) {
		if prefixes[strings.SplitN(m[1], ".", 2)[0]] {
			used[m[1]] = "capture.js literal"
		}
	}

	// Keys built at run time, with every value they can take.
	var methods, camera, steps, say []string
	for _, m := range ekyc.Methods() {
		methods = append(methods, m.API)
	}
	for _, k := range []ekyc.FrameKind{ekyc.FrameDocFront, ekyc.FrameDocBack, ekyc.FrameDocTilt, ekyc.FrameSelfie} {
		camera = append(camera, string(k))
	}
	steps = append(append(steps, camera...), "chip", "send", "jpki")
	for _, s := range []ekyc.Step{ekyc.TurnLeft, ekyc.TurnRight, ekyc.Blink} {
		say = append(say, string(s))
	}
	results := []string{string(ekyc.OutcomeApproved), string(ekyc.OutcomeRejected), string(ekyc.OutcomeReview), "submitted", "received", "cancelled"}
	dynamic := map[string]func(){
		`t('intro.' + st.method)`:     func() { expand(used, "intro.", methods, "") },
		`t('step.' + s)`:              func() { expand(used, "step.", steps, "") },
		`t('step.' + st.steps[i])`:    func() { expand(used, "step.", steps, "") },
		`t(step + '.title')`:          func() { expand(used, "", camera, ".title") },
		`t(step + '.guide')`:          func() { expand(used, "", camera, ".guide") },
		`say('say.' + step)`:          func() { expand(used, "say.", say, "") },
		`t('result.' + r + '.title')`: func() { expand(used, "result.", results, ".title") },
		`t('result.' + r + '.body')`:  func() { expand(used, "result.", results, ".body") },
		`t('progress.' + end)`: func() {
			expand(used, "progress.", []string{"approved", "cancelled", "rejected", "waiting", "error"}, "")
		},
	}
	for _, m := range regexp.MustCompile(`\b(?:t|say)\(([^()]*(?:\([^()]*\))?[^()]*)\)`).FindAllString(code, -1) {
		if !strings.Contains(m, "+") {
			continue
		}
		add, ok := dynamic[m]
		if !ok {
			t.Errorf("capture.js builds a message key as %s: expand its values in this test", m)
			continue
		}
		add()
	}
	if len(used) < 60 {
		t.Fatalf("found %d message keys in use, want the page's whole vocabulary", len(used))
	}
	for k, where := range used {
		for _, lang := range []string{"ja", "en"} {
			if !tables[lang][k] {
				t.Errorf("message %q (%s) is missing from the %s table: the page would show nothing or the raw key", k, where, lang)
			}
		}
	}
	for _, k := range []string{"intro.wa", "step.jpki", "jpki.title", "result.rejected.title"} {
		if _, ok := used[k]; !ok {
			t.Errorf("message %q is not used by the page", k)
		}
	}
	// The page never claims a success of its own: no result screen text
	// is fixed in the HTML.
	if strings.Contains(html, "送信が完了しました") || strings.Contains(html, "All sent") {
		t.Error("index.html carries a fixed completion message")
	}
}

func expand(used map[string]string, prefix string, values []string, suffix string) {
	for _, v := range values {
		used[prefix+v+suffix] = "capture.js " + prefix + "<value>" + suffix
	}
}
