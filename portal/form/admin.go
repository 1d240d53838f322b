package form

import (
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/madoguchi/madoguchi/staff"
)

// The administration forms (portal admin pages). Each bounds its fields
// here; the domain packages check them again.

// TenantCreate registers a tenant.
type TenantCreate struct{ Name string }

func ParseTenantCreate(r *http.Request) TenantCreate { return TenantCreate{Name: value(r, "name")} }

func (f TenantCreate) Validate() Errors {
	e := Errors{}
	checkText(e, "name", f.Name, 128)
	return e
}

// IPAllow is a tenant's portal allow-list: CIDR prefixes or addresses, one
// a line (spaces and commas also separate). Empty allows every network.
type IPAllow struct{ Allow string }

func ParseIPAllow(r *http.Request) IPAllow { return IPAllow{Allow: value(r, "allow")} }

func (f IPAllow) Validate() ([]netip.Prefix, Errors) {
	e := Errors{}
	if len(f.Allow) > 4096 {
		e.Add("allow", "form.too_long")
		return nil, e
	}
	p, err := staff.ParseIPAllow(f.Allow)
	if err != nil {
		e.Add("allow", "form.ip_allow")
	}
	return p, e
}

// ClientCreate is the text part of the client form; the JWKS or
// certificate comes as a file.
type ClientCreate struct {
	Name, Scopes string
	// Credential says which file was given: "jwks" or "cert".
	Credential string
	// TLSKind and TLSName are the tls_client_auth identity: which name of
	// the client's certificate is registered (one of TLSKinds) and its
	// value; the CA certificate comes as the file "tls_ca".
	TLSKind, TLSName string
}

// TLSKinds are the certificate names a tls_client_auth client may be
// registered by (RFC 8705 §2.1.2): the subject DN or one SAN.
var TLSKinds = []string{"subject_dn", "san_dns", "san_uri", "san_ip", "san_email"}

var scopeRE = regexp.MustCompile(`^[a-z][a-z0-9:._-]{0,63}$`)

// Validate checks the fields; hasJWKS, hasCert and hasTLSCA say which
// files came. A tls_client_auth client (a CA file or a name) needs both
// the CA file and one name, and no other credential.
func (f ClientCreate) Validate(hasJWKS, hasCert, hasTLSCA bool) Errors {
	e := Errors{}
	checkText(e, "name", f.Name, 128)
	scopes := strings.Fields(f.Scopes)
	if len(scopes) == 0 {
		e.Add("scopes", "form.required")
	}
	if len(scopes) > 32 {
		e.Add("scopes", "form.too_long")
	}
	for _, s := range scopes {
		if !scopeRE.MatchString(s) {
			e.Add("scopes", "form.scope")
		}
	}
	tls := hasTLSCA || f.TLSName != ""
	if !tls {
		checkCredential(e, hasJWKS, hasCert)
		return e
	}
	switch {
	case hasJWKS || hasCert:
		e.Add("tls_ca", "form.one_credential")
	case !hasTLSCA:
		e.Add("tls_ca", "form.required")
	}
	switch {
	case !slices.Contains(TLSKinds, f.TLSKind):
		e.Add("tls_name", "form.tls_kind")
	default:
		checkText(e, "tls_name", f.TLSName, 1024)
	}
	return e
}

func checkCredential(e Errors, hasJWKS, hasCert bool) {
	switch {
	case hasJWKS && hasCert:
		e.Add("jwks", "form.one_credential")
	case !hasJWKS && !hasCert:
		e.Add("jwks", "form.credential_required")
	}
}

// ClientRotate checks a rotation's files.
func ClientRotate(hasJWKS, hasCert bool) Errors {
	e := Errors{}
	checkCredential(e, hasJWKS, hasCert)
	return e
}

// Invite creates a staff account.
type Invite struct{ Username string }

var usernameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,63}$`)

func ParseInvite(r *http.Request) Invite { return Invite{Username: value(r, "username")} }

func (f Invite) Validate() Errors {
	e := Errors{}
	switch {
	case f.Username == "":
		e.Add("username", "form.required")
	case !usernameRE.MatchString(f.Username):
		e.Add("username", "form.username")
	}
	return e
}

// RoleGrant asks for a role.
type RoleGrant struct{ Role string }

func ParseRoleGrant(r *http.Request) RoleGrant { return RoleGrant{Role: value(r, "role")} }

func (f RoleGrant) Validate() (staff.Role, Errors) {
	e := Errors{}
	r, err := staff.ParseRole(f.Role)
	if err != nil {
		e.Add("role", "form.role")
	}
	return r, e
}

// Reject is a rejection's optional reason.
type Reject struct{ Reason string }

func ParseReject(r *http.Request) Reject { return Reject{Reason: value(r, "reason")} }

func (f Reject) Validate() Errors {
	e := Errors{}
	if len(f.Reason) > staff.MaxReasonLen {
		e.Add("reason", "form.too_long")
	}
	return e
}

// Country is an ISO 3166-1 alpha-2 code.
func Country(e Errors, field, v string) string {
	v = strings.ToUpper(strings.TrimSpace(v))
	if len(v) != 2 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		e.Add(field, "form.country")
	}
	return v
}

// Policy is an eKYC policy as JSON text.
type Policy struct{ JSON string }

// MaxPolicyJSON bounds the policy text.
const MaxPolicyJSON = 32 << 10

func ParsePolicy(r *http.Request) Policy { return Policy{JSON: value(r, "policy")} }

func (f Policy) Validate() Errors {
	e := Errors{}
	checkText(e, "policy", f.JSON, MaxPolicyJSON)
	return e
}
