// Package portal is Madoguchi's back office in the browser: server-rendered
// pages under /portal for tenant staff (a bank's reviewers, administrators
// and auditors) and operator staff, served by the same binary as the API.
//
// # Invariants
//
//   - Every page is a Route in the table in pages.go. The framework
//     (middleware.go) applies, before any page code runs: security headers
//     and one strict CSP (no inline script or style, same-origin resources
//     only), the body cap (413 before reading), CSRF on every POST
//     (csrf.go), the session with its idle and absolute limits, the tenant's
//     IP allow-list, and the route's roles. A page cannot forget them.
//   - Tenant staff see only their own tenant. Pages read tenant objects only
//     through Load with an ObjectKind (scope.go): another tenant's object is
//     404, exactly like a missing one, and the refusal is audited. Operator
//     reviewers see a tenant's sessions only where its policy allows operator
//     review.
//   - Every sign-in, sign-out, refusal and view of personal data is an audit
//     entry: who, which object, when, and from where (the client address).
//     An audited read and its entry share one transaction.
//   - Every word comes from the catalogue (portal/i18n), Japanese by default
//     and English complete; an unknown key fails the render instead of
//     showing the key. Errors show a catalogue message and the request id,
//     never the error.
//   - Cookies are __Host-, Secure, HttpOnly, SameSite=Strict
//     (portal/session). The session token is opaque; the server keeps its
//     hash (package staff).
//   - The only script is static/passkey.js, because WebAuthn is a browser
//     API; every page works for password sign-in without it.
//
// # Adding a page
//
//  1. Add a line to pages() in pages.go: method, path, handler, Roles (who
//     may use it) and, for a page people navigate to, Nav and Hint message
//     keys (it then appears in the navigation and on the home page for those
//     roles only). Set MaxBody for uploads.
//  2. Write the handler in its own file, named for the page or action
//     (review_queue.go, review_decide.go): func(rq *Request) error.
//     Load objects with Load(rq, kind, rq.PathValue("id")); declare the kind
//     once (Name, Personal, Review, Fetch returning the object's Owner).
//     List pages filter on rq.TenantFilter(), page with rq.Pager, and wrap
//     reads of personal data in rq.ViewTx. Before a sensitive change call
//     rq.RequireRecentAuth(back). Parse forms with a type in portal/form;
//     on errors re-render the page with status 422 and the form's Errors.
//     After a change, rq.Flash(key) and rq.Redirect(path).
//  3. Add templates/<page>.html defining "content"; render it with
//     rq.Render(status, "<page>", "<title key>", data). Put every word in
//     i18n/ja/<area>.json and i18n/en/<area>.json.
//  4. Add the route to the route-table tests (routes_test.go): the
//     cross-tenant table if it takes an id, and the roles table. A test
//     fails for a route with a path parameter that the cross-tenant table
//     does not cover.
//
// Errors: return ErrNotFound or ErrForbidden for 404/403; anything else is
// a 500 with the cause logged, not shown.
package portal
