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
		{Method: get, Path: "/monitor", Handle: monitorShow, Roles: monitorRoles, Nav: "nav.monitor", Hint: "hint.monitor"},
		{Method: post, Path: "/monitor/action", Handle: monitorAction, Roles: monitorRoles},
		{Method: get, Path: "/credentials", Handle: credentialList, Roles: credentialRoles, Nav: "nav.credentials", Hint: "hint.credentials"},
		{Method: post, Path: "/credentials/revoke", Handle: credentialRevoke, Roles: credentialRoles},
		{Method: post, Path: "/credentials/{id}/reissue", Handle: credentialReissue, Roles: credentialRoles},
		{Method: get, Path: "/credentials/devices", Handle: credentialDevices, Roles: deviceRoles, Hint: "hint.credential_devices"},
		{Method: post, Path: "/credentials/devices", Handle: credentialDeviceAction, Roles: deviceRoles},
		{Method: get, Path: "/consents", Handle: consentList, Roles: consentReaders, Nav: "nav.consents", Hint: "hint.consents"},
		{Method: post, Path: "/consents/{id}/revoke", Handle: consentRevoke, Roles: consentAdmins},
		// Partner onboarding (partner*.go).
		{Method: get, Path: "/partners", Handle: partnerList, Roles: partnerReaders, Nav: "nav.partners", Hint: "hint.partners"},
		{Method: get, Path: "/partners/{id}", Handle: partnerShow, Roles: partnerReaders},
		{Method: post, Path: "/partners/{id}/items/{area}", Handle: partnerItemSet, Roles: partnerEditors, Upload: true, MaxBody: maxEvidenceUpload},
		{Method: get, Path: "/partners/{id}/items/{area}/evidence", Handle: partnerEvidence, Roles: partnerReaders},
		{Method: post, Path: "/partners/{id}/signoff", Handle: partnerSignOff, Roles: partnerReviewers},
		{Method: post, Path: "/partners/{id}/activate", Handle: partnerRequestActivation, Roles: adminRoles},
		{Method: get, Path: "/monitor/locks", Handle: txauthLocksShow, Roles: monitorRoles, Hint: "hint.txauth.locks"},
		{Method: post, Path: "/monitor/locks", Handle: txauthLocksAction, Roles: monitorRoles},
		{Method: get, Path: "/monitor/callbacks", Handle: txauthCallbacksShow, Roles: monitorRoles, Hint: "hint.txauth.callbacks"},
		{Method: post, Path: "/monitor/callbacks", Handle: txauthCallbackRecord, Roles: monitorRoles},

		{Method: get, Path: "/login", Handle: loginShow, Public: true},
		{Method: post, Path: "/login", Handle: loginCheck, Public: true},
		{Method: post, Path: "/logout", Handle: logout},
		{Method: get, Path: "/reauth", Handle: reauthShow},
		{Method: post, Path: "/reauth", Handle: reauthCheck},
		{Method: post, Path: "/lang", Handle: langSet, Public: true},

		{Method: post, Path: "/account/totp", Handle: totpBegin},
		{Method: post, Path: "/account/totp/confirm", Handle: totpConfirm},
		{Method: post, Path: "/account/passkeys/{id}/delete", Handle: passkeyDelete},
		{Method: get, Path: "/account/password", Handle: passwordShow},
		{Method: post, Path: "/account/password", Handle: passwordChange},

		// Administration (admin.go): one entry in the navigation, an index of the sections.
		{Method: get, Path: "/admin", Handle: adminIndex, Roles: adminReaders, Nav: "nav.admin", Hint: "hint.admin"},
		{Method: get, Path: "/admin/tenants", Handle: adminTenants, Roles: operatorRead, Hint: "hint.admin.tenants"},
		{Method: post, Path: "/admin/tenants", Handle: adminTenantCreate, Roles: operatorAdmin},
		{Method: get, Path: "/admin/tenants/{id}", Handle: adminTenant, Roles: operatorRead},
		{Method: post, Path: "/admin/tenants/{id}/access", Handle: adminTenantAccess, Roles: operatorAdmin},
		{Method: get, Path: "/admin/clients", Handle: adminClients, Roles: adminReaders, Hint: "hint.admin.clients"},
		{Method: post, Path: "/admin/clients", Handle: adminClientCreate, Roles: adminRoles, Upload: true, MaxBody: maxKeyUpload},
		{Method: get, Path: "/admin/clients/{id}", Handle: adminClient, Roles: adminReaders},
		{Method: post, Path: "/admin/clients/{id}/rotate", Handle: adminClientRotate, Roles: adminRoles, Upload: true, MaxBody: maxKeyUpload},
		{Method: post, Path: "/admin/clients/{id}/disable", Handle: adminClientDisable, Roles: adminRoles},
		{Method: post, Path: "/admin/clients/{id}/enable", Handle: adminClientEnable, Roles: adminRoles},
		{Method: get, Path: "/admin/staff", Handle: adminStaff, Roles: adminReaders, Hint: "hint.admin.staff"},
		{Method: post, Path: "/admin/staff", Handle: adminStaffInvite, Roles: adminRoles},
		{Method: get, Path: "/admin/staff/{id}", Handle: adminAccount, Roles: adminReaders},
		{Method: post, Path: "/admin/staff/{id}/roles", Handle: adminAccountRole, Roles: adminRoles},
		{Method: post, Path: "/admin/staff/{id}/reset-totp", Handle: adminAccountResetTOTP, Roles: adminRoles},
		{Method: post, Path: "/admin/staff/{id}/reset-passkeys", Handle: adminAccountResetPasskeys, Roles: adminRoles},
		{Method: post, Path: "/admin/staff/{id}/disable", Handle: adminAccountDisable, Roles: adminRoles},
		{Method: post, Path: "/admin/staff/{id}/enable", Handle: adminAccountEnable, Roles: adminRoles},
		{Method: get, Path: "/admin/approvals", Handle: adminApprovals, Roles: adminReaders, Hint: "hint.admin.approvals"},
		{Method: get, Path: "/admin/approvals/{id}", Handle: adminApproval, Roles: adminReaders},
		{Method: post, Path: "/admin/approvals/{id}/approve", Handle: adminApprovalApprove, Roles: adminRoles},
		{Method: post, Path: "/admin/approvals/{id}/reject", Handle: adminApprovalReject, Roles: adminRoles},
		{Method: get, Path: "/admin/webhooks", Handle: adminWebhooks, Roles: adminReaders, Hint: "hint.admin.webhooks"},
		{Method: post, Path: "/admin/webhooks/{id}/retry", Handle: adminWebhookRetry, Roles: adminRoles},
		{Method: post, Path: "/admin/webhooks/{id}/replay", Handle: adminWebhookReplay, Roles: adminRoles},
		{Method: get, Path: "/admin/trust", Handle: adminTrust, Roles: operatorRead, Hint: "hint.admin.trust"},
		{Method: post, Path: "/admin/trust/masterlist", Handle: adminTrustMasterList, Roles: operatorAdmin, Upload: true, MaxBody: maxMasterListUpload},
		{Method: post, Path: "/admin/trust/csca", Handle: adminTrustCSCA, Roles: operatorAdmin, Upload: true, MaxBody: maxCertUpload},
		{Method: get, Path: "/admin/keys", Handle: adminKeys, Roles: operatorRead, Hint: "hint.admin.keys"},
		{Method: post, Path: "/admin/keys/rotate", Handle: adminKeysRotate, Roles: operatorAdmin},
		{Method: get, Path: "/admin/policy", Handle: adminPolicy, Roles: adminReaders, Hint: "hint.admin.policy"},
		{Method: post, Path: "/admin/policy", Handle: adminPolicySet, Roles: adminRoles, MaxBody: maxPolicyForm},
		{Method: post, Path: "/admin/policy/operator-review", Handle: adminPolicyOperatorReview, Roles: adminRoles},

		// The passkey ceremonies (static/passkey.js).
		{Method: post, Path: "/passkey/begin", Handle: passkeyLoginBegin, Public: true, JSON: true},
		{Method: post, Path: "/passkey/finish", Handle: passkeyLoginFinish, Public: true, JSON: true, MaxBody: 80 << 10},
		{Method: post, Path: "/account/passkeys/begin", Handle: passkeyRegisterBegin, JSON: true},
		{Method: post, Path: "/account/passkeys/finish", Handle: passkeyRegisterFinish, JSON: true, MaxBody: 80 << 10},

		// Audit (audit_*.go) and the dashboard (dashboard.go).
		{Method: get, Path: "/audit", Handle: auditList, Roles: auditRoles, Nav: "nav.audit", Hint: "hint.audit"},
		{Method: get, Path: "/audit/entries/{id}", Handle: auditEntry, Roles: auditRoles},
		{Method: get, Path: "/audit/entries/{id}/proof", Handle: auditProof, Roles: auditRoles},
		{Method: get, Path: "/audit/trail/{id}", Handle: auditTrail, Roles: auditRoles},
		{Method: get, Path: "/dashboard", Handle: dashboardShow, Roles: dashboardRoles, Nav: "nav.dashboard", Hint: "hint.dashboard"},

		// The review workbench (目視審査): review_*.go.
		{Method: get, Path: "/review", Handle: reviewQueue, Roles: reviewerRoles, Nav: "nav.review", Hint: "hint.review"},
		{Method: get, Path: "/review/{id}", Handle: reviewShow, Roles: reviewerRoles},
		{Method: post, Path: "/review/{id}/claim", Handle: reviewClaim, Roles: reviewerRoles},
		{Method: post, Path: "/review/{id}/release", Handle: reviewRelease, Roles: reviewerRoles},
		{Method: post, Path: "/review/{id}/decide", Handle: reviewDecide, Roles: reviewerRoles},
		{Method: get, Path: "/review/{id}/frames/{seq}", Handle: reviewFrame, Roles: reviewerRoles},
		{Method: get, Path: "/review/{id}/cards/{kind}", Handle: reviewCard, Roles: reviewerRoles},
		{Method: get, Path: "/review/{id}/chip-photo", Handle: reviewChipPhoto, Roles: reviewerRoles},
		{Method: get, Path: "/review/{id}/related/{other}", Handle: reviewRelated, Roles: reviewerRoles},
		{Method: get, Path: "/review/{id}/related/{other}/frames/{seq}", Handle: reviewRelatedFrame, Roles: reviewerRoles},
		{Method: get, Path: "/review/{id}/related/{other}/chip-photo", Handle: reviewRelatedChipPhoto, Roles: reviewerRoles},

		// Verification records (確認記録): record_*.go.
		{Method: get, Path: "/records", Handle: recordsFind, Roles: recordRoles, Nav: "nav.records", Hint: "hint.records"},
		{Method: get, Path: "/records/{id}", Handle: recordShow, Roles: recordRoles},
		{Method: get, Path: "/records/{id}/record.json", Handle: recordJSON, Roles: recordRoles},
		{Method: get, Path: "/records/{id}/record.pdf", Handle: recordPDF, Roles: recordRoles},
	}
}
