package oauth

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/madoguchi/madoguchi/store/storetest"
)

// lockedBuffer is a log sink the server's handlers write to concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestFAPIInteractionID: every OAuth endpoint accepts a client's
// x-fapi-interaction-id (a UUID), echoes it on success and on error, and
// logs it; anything else is replaced by a fresh UUID. The log carries no
// client assertion.
func TestFAPIInteractionID(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	var logs lockedBuffer
	e.srv.log = slog.New(slog.NewJSONHandler(&logs, nil))
	c := e.partner(e.tenant)
	for _, tc := range []struct {
		name, sent string
		echo       string // "" a fresh UUID
		form       url.Values
	}{
		{"a UUID, on success", "6F1D2C3B-4A59-4E7D-8C6B-5A4F3E2D1C0B", "6f1d2c3b-4a59-4e7d-8c6b-5a4f3e2d1c0b", merge(e.clientAuth(c), parParams(testVerifier))},
		{"a UUID, on error", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9", url.Values{"client_id": {c.id}}},
		{"not a UUID", "abc", "", merge(e.clientAuth(c), parParams(testVerifier))},
		{"a UUID with more after it", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9; x=<script>", "", merge(e.clientAuth(c), parParams(testVerifier))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertion := tc.form.Get("client_assertion")
			r := e.post(PathPAR, tc.form, map[string]string{"X-Fapi-Interaction-Id": tc.sent})
			got := r.header.Get("X-Fapi-Interaction-Id")
			switch {
			case tc.echo != "" && got != tc.echo:
				t.Errorf("echoed %q, want %q (status %d)", got, tc.echo, r.status)
			case tc.echo == "" && (!uuidV4.MatchString(got) || strings.Contains(tc.sent, got)):
				t.Errorf("echoed %q, want a fresh UUID v4", got)
			}
			if !strings.Contains(logs.String(), `"x_fapi_interaction_id":"`+got+`"`) {
				t.Errorf("interaction id %s not logged", got)
			}
			if assertion != "" && strings.Contains(logs.String(), assertion) {
				t.Error("the client assertion reached the log")
			}
		})
	}
}

func FuzzInteractionID(f *testing.F) {
	f.Add("6F1D2C3B-4A59-4E7D-8C6B-5A4F3E2D1C0B")
	f.Add("abc")
	f.Add("0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9\n")
	f.Fuzz(func(t *testing.T, v string) {
		r, _ := http.NewRequest("POST", "https://as.example/", nil)
		r.Header.Set("X-Fapi-Interaction-Id", v)
		got := InteractionID(r)
		if !fapiIDRE.MatchString(got) || got != strings.ToLower(got) {
			t.Fatalf("InteractionID(%q) = %q, not a lowercase UUID", v, got)
		}
		if fapiIDRE.MatchString(v) != (got == strings.ToLower(v)) {
			t.Fatalf("InteractionID(%q) = %q: a valid id must be echoed, an invalid one replaced", v, got)
		}
	})
}
