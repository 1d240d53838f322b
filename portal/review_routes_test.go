package portal

import (
	"net/http"
	"net/url"
	"os"
)

// Objects for the route-table tests (routes_test.go) of the workbench and
// the records: each is tenant A's, owned by a-reviewer's browser.

// reviewObject makes a referred ヘ session of tenant A (claimed by the
// owner if claimed) and returns the route's path for it.
func reviewObject(suffix string, claimed bool) func(e *env, b *browser) string {
	return func(e *env, b *browser) string {
		ss := e.referred("tn_a", "he", true)
		if claimed {
			e.claimAs(b.whoami(), ss.ID)
		}
		return "/review/" + ss.ID + suffix
	}
}

// hoCardObject makes a referred ホ session claimed by the owner: its front
// frame has a card outline to rectify.
func hoCardObject(e *env, b *browser) string {
	ss := e.referred("tn_a", "ho", true)
	e.claimAs(b.whoami(), ss.ID)
	return "/review/" + ss.ID + "/cards/front"
}

// rejectForm is a valid rejection (a fresh one: posting a form adds the
// browser's CSRF token to it).
func rejectForm() url.Values {
	return url.Values{"verdict": {"reject"}, "reason": {"review.presentation_attack"}, "note": {"the selfie shows a screen"}}
}

// recordObject makes a decided session of tenant A with its record.
func recordObject(suffix string) func(e *env, b *browser) string {
	return func(e *env, b *browser) string {
		return "/records/" + recordOf(e.decided("tn_a")) + suffix
	}
}

// recordViewers see tenant A's records besides its reviewer: its admin and
// the operator's admin.
var recordViewers = []string{"a-admin", "op-admin"}

// pdfOK is what the PDF download answers: 200 with the Japanese font, 503
// without it (CI installs it, so CI sees 200).
func pdfOK() int {
	if _, err := os.Stat(pdfFontFile); err != nil && os.Getenv("CI") != "true" {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}
