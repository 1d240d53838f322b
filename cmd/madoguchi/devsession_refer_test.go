package main

import (
	"strings"
	"testing"
)

// TestDevSessionReferUsage: --refer runs ヘ with its own kiosk, only on a
// development data directory; its printed portal address uses localhost.
func TestDevSessionReferUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"method wa", []string{"--refer", "--method", "wa"}, 2, "--refer runs method he"},
		{"own client", []string{"--refer", "--client-id", "cl_1", "--key", "k.pem"}, 2, "takes no --client-id"},
		{"not a development directory", []string{"--refer", "--data", t.TempDir(), "--chip", t.TempDir(), "--selfie", "x.png"}, 1, ""},
	} {
		code, _, stderr := runCLI(t, append([]string{"dev", "session"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: dev session %v = exit %d, %q; want exit %d mentioning %q", tc.name, tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if got := portalReviewURL("http://127.0.0.1:8080/", "ses_1"); got != "http://localhost:8080/portal/review/ses_1" {
		t.Errorf("portalReviewURL = %q", got)
	}
}
