package portal

import "net/http"

// pages is the route table: one line per page or action, each handled by
// its own file (home.go, login_show.go, ...). A new page is a line here, a
// file with its handler and a template in templates/; see doc.go.
func pages() []Route {
	const get, post = http.MethodGet, http.MethodPost
	return []Route{
		{Method: get, Path: "/{$}", Handle: homeShow, Nav: "nav.home", Hint: "hint.home"},
		{Method: get, Path: "/account", Handle: accountShow, Nav: "nav.account", Hint: "hint.account"},

		{Method: get, Path: "/login", Handle: loginShow, Public: true},
		{Method: post, Path: "/login", Handle: loginCheck, Public: true},
		{Method: post, Path: "/logout", Handle: logout},
		{Method: get, Path: "/reauth", Handle: reauthShow},
		{Method: post, Path: "/reauth", Handle: reauthCheck},
		{Method: post, Path: "/lang", Handle: langSet, Public: true},

		{Method: post, Path: "/account/totp", Handle: totpBegin},
		{Method: post, Path: "/account/totp/confirm", Handle: totpConfirm},
		{Method: post, Path: "/account/passkeys/{id}/delete", Handle: passkeyDelete},

		// The passkey ceremonies (static/passkey.js).
		{Method: post, Path: "/passkey/begin", Handle: passkeyLoginBegin, Public: true, JSON: true},
		{Method: post, Path: "/passkey/finish", Handle: passkeyLoginFinish, Public: true, JSON: true, MaxBody: 80 << 10},
		{Method: post, Path: "/account/passkeys/begin", Handle: passkeyRegisterBegin, JSON: true},
		{Method: post, Path: "/account/passkeys/finish", Handle: passkeyRegisterFinish, JSON: true, MaxBody: 80 << 10},

		// The review workbench (目視審査): review_*.go.
		{Method: get, Path: "/review", Handle: reviewQueue, Roles: reviewerRoles, Nav: "nav.review", Hint: "hint.review"},
		{Method: get, Path: "/review/{id}", Handle: reviewShow, Roles: reviewerRoles},
		{Method: post, Path: "/review/{id}/claim", Handle: reviewClaim, Roles: reviewerRoles},
		{Method: post, Path: "/review/{id}/release", Handle: reviewRelease, Roles: reviewerRoles},
		{Method: post, Path: "/review/{id}/decide", Handle: reviewDecide, Roles: reviewerRoles},
		{Method: get, Path: "/review/{id}/frames/{seq}", Handle: reviewFrame, Roles: reviewerRoles},
		{Method: get, Path: "/review/{id}/cards/{kind}", Handle: reviewCard, Roles: reviewerRoles},
		{Method: get, Path: "/review/{id}/chip-photo", Handle: reviewChipPhoto, Roles: reviewerRoles},

		// Verification records (確認記録): record_*.go.
		{Method: get, Path: "/records", Handle: recordsFind, Roles: recordRoles, Nav: "nav.records", Hint: "hint.records"},
		{Method: get, Path: "/records/{id}", Handle: recordShow, Roles: recordRoles},
		{Method: get, Path: "/records/{id}/record.json", Handle: recordJSON, Roles: recordRoles},
		{Method: get, Path: "/records/{id}/record.pdf", Handle: recordPDF, Roles: recordRoles},
	}
}
