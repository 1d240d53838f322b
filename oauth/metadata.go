package oauth

import (
	"encoding/json"
	"net/http"

	"github.com/madoguchi/madoguchi/tenant"
)

// Algorithms this server accepts and uses (FAPI 2.0 §5.4).
var signingAlgs = []string{"PS256", "ES256", "EdDSA"}

// clientAuthMethods are the client authentication methods package tenant
// implements: private_key_jwt always, the two mutual-TLS methods when the
// server sees client certificates. The metadata advertises these and
// nothing else.
func (s *Server) clientAuthMethods() []string {
	if !s.cfg.MutualTLS {
		return []string{string(tenant.PrivateKeyJWT)}
	}
	return []string{string(tenant.PrivateKeyJWT), string(tenant.TLSClientAuth), string(tenant.SelfSignedTLS)}
}

// Metadata returns the one authorization-server metadata document (RFC
// 8414) of the whole server, which also serves as the OpenID Provider
// configuration: it advertises exactly what is implemented and wired —
// without a customer authenticator, the token endpoint for
// client_credentials only; without TLS client certificates, no mutual-TLS
// method.
func (s *Server) Metadata() map[string]any {
	clientAuthMethods := s.clientAuthMethods()
	scopes := s.cfg.Scopes
	if s.cfg.Customers == nil {
		m := map[string]any{
			"issuer":                                s.issuer,
			"token_endpoint":                        s.tokenURL,
			"response_types_supported":              []string{},
			"grant_types_supported":                 []string{GrantClientCredentials},
			"token_endpoint_auth_methods_supported": clientAuthMethods,
			"token_endpoint_auth_signing_alg_values_supported": signingAlgs,
		}
		if len(scopes) > 0 {
			m["scopes_supported"] = scopes
		}
		if s.cfg.MutualTLS {
			m["tls_client_certificate_bound_access_tokens"] = true
		}
		return m
	}
	m := map[string]any{
		"issuer":                                                   s.issuer,
		"authorization_endpoint":                                   s.authzURL,
		"token_endpoint":                                           s.tokenURL,
		"pushed_authorization_request_endpoint":                    s.parURL,
		"require_pushed_authorization_requests":                    true,
		"introspection_endpoint":                                   s.introspectURL,
		"revocation_endpoint":                                      s.revokeURL,
		"userinfo_endpoint":                                        s.userinfoURL,
		"jwks_uri":                                                 s.jwksURL,
		"response_types_supported":                                 []string{"code"},
		"response_modes_supported":                                 []string{"query", "jwt", "query.jwt"},
		"grant_types_supported":                                    []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials},
		"code_challenge_methods_supported":                         []string{"S256"},
		"token_endpoint_auth_methods_supported":                    clientAuthMethods,
		"token_endpoint_auth_signing_alg_values_supported":         signingAlgs,
		"introspection_endpoint_auth_methods_supported":            clientAuthMethods,
		"introspection_endpoint_auth_signing_alg_values_supported": signingAlgs,
		"revocation_endpoint_auth_methods_supported":               clientAuthMethods,
		"revocation_endpoint_auth_signing_alg_values_supported":    signingAlgs,
		"introspection_signing_alg_values_supported":               []string{"ES256"},
		"authorization_signing_alg_values_supported":               []string{"ES256"},
		"request_object_signing_alg_values_supported":              signingAlgs,
		"request_parameter_supported":                              true,
		"request_uri_parameter_supported":                          true,
		"require_request_uri_registration":                         false,
		"authorization_response_iss_parameter_supported":           true,
		"dpop_signing_alg_values_supported":                        signingAlgs,
		"authorization_details_types_supported":                    []string{DetailTransfer, DetailAccounts},
		"scopes_supported":                                         append([]string{"openid"}, scopes...),
		"subject_types_supported":                                  []string{"public"},
		"id_token_signing_alg_values_supported":                    []string{"ES256"},
		"claims_supported":                                         []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr"},
		"claims_parameter_supported":                               false,
		"acr_values_supported":                                     s.cfg.Customers.ACRValues(),
	}
	if s.cfg.MutualTLS {
		m["tls_client_certificate_bound_access_tokens"] = true
		m["mtls_endpoint_aliases"] = map[string]string{
			"token_endpoint":                        s.tokenURL,
			"pushed_authorization_request_endpoint": s.parURL,
			"introspection_endpoint":                s.introspectURL,
			"revocation_endpoint":                   s.revokeURL,
			"userinfo_endpoint":                     s.userinfoURL,
		}
	}
	if s.cfg.CIBANotifier != nil {
		m["grant_types_supported"] = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantCIBA}
		m["backchannel_authentication_endpoint"] = s.cibaURL
		m["backchannel_token_delivery_modes_supported"] = []string{"poll"}
		if s.pinger != nil {
			m["backchannel_token_delivery_modes_supported"] = []string{"poll", "ping"}
		}
		m["backchannel_user_code_parameter_supported"] = false
		m["backchannel_authentication_request_signing_alg_values_supported"] = signingAlgs
		if a, ok := m["mtls_endpoint_aliases"].(map[string]string); ok {
			a["backchannel_authentication_endpoint"] = s.cibaURL
		}
	}
	return m
}

// metadata serves the same document at both well-known paths.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) error {
	writeJSONCached(w, s.Metadata())
	return nil
}

// writeJSONCached writes a public, cacheable JSON document.
func writeJSONCached(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) error {
	writeJSONCached(w, s.cfg.Signer.JWKS())
	return nil
}
