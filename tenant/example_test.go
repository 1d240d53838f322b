package tenant_test

import (
	"fmt"
	"net/url"

	"github.com/madoguchi/madoguchi/tenant"
)

// The token endpoint parses the form, then calls Issuer.Token with the TLS
// peer certificate (if any) and the request id.
func ExampleParseTokenRequest() {
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {"ekyc:read"},
		"client_assertion_type": {tenant.ClientAssertionType},
		"client_assertion":      {"eyJ...header.eyJ...claims.signature"},
	}
	req, err := tenant.ParseTokenRequest(form)
	fmt.Println(req.GrantType, req.Scopes, err)

	form.Add("scope", "ekyc:write") // a repeated parameter is refused
	_, err = tenant.ParseTokenRequest(form)
	fmt.Println(err)
	// Output:
	// client_credentials [ekyc:read] <nil>
	// tenant: invalid token request: scope given more than once
}

func ExamplePrincipal_Has() {
	p := tenant.Principal{TenantID: "tn_a", ClientID: "cl_b", Scopes: []string{"ekyc:read"}}
	fmt.Println(p.Has("ekyc:read"), p.Has("ekyc:write"))
	// Output: true false
}
