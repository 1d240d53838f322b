package tenant

import "strings"

// Metadata is an RFC 8414 authorization server metadata document. Fields
// are omitted when empty, so a document advertises only what is set; the
// FAPI authorization server (package oauth) builds on ServerMetadata and
// fills in the endpoints and features it adds.
type Metadata struct {
	Issuer                                     string            `json:"issuer"`
	AuthorizationEndpoint                      string            `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                              string            `json:"token_endpoint"`
	JWKSURI                                    string            `json:"jwks_uri,omitempty"`
	ScopesSupported                            []string          `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                     []string          `json:"response_types_supported"`
	GrantTypesSupported                        []string          `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string          `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string          `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	ServiceDocumentation                       string            `json:"service_documentation,omitempty"`
	TLSClientCertificateBoundAccessTokens      bool              `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	MTLSEndpointAliases                        map[string]string `json:"mtls_endpoint_aliases,omitempty"`
}

// MetadataConfig says what this installation actually offers.
type MetadataConfig struct {
	// Issuer is the server's issuer identifier (its public URL, no
	// trailing slash); client assertions name it as their audience.
	Issuer string
	// MutualTLS: the server terminates TLS itself and sees client
	// certificates, so tls_client_auth, self_signed_tls_client_auth and
	// certificate-bound tokens (RFC 8705) work. Behind a TLS-terminating proxy they do not,
	// and are not advertised.
	MutualTLS bool
	// Scopes the server knows (advertised as scopes_supported).
	Scopes []string
}

// ServerMetadata is the metadata of the token endpoint this package
// implements: the client_credentials grant only; private_key_jwt with the
// algorithms the assertion verifier accepts; tls_client_auth (a name
// against a CA), self_signed_tls_client_auth (pinned certificate
// thumbprints) and certificate-bound tokens only with MutualTLS. There is
// no authorization endpoint, so response_types_supported is empty; there
// are no mTLS endpoint aliases (the same endpoint serves both methods).
func ServerMetadata(c MetadataConfig) Metadata {
	base := strings.TrimRight(c.Issuer, "/")
	m := Metadata{
		Issuer:                            base,
		TokenEndpoint:                     base + "/v1/oauth/token",
		ScopesSupported:                   c.Scopes,
		ResponseTypesSupported:            []string{},
		GrantTypesSupported:               []string{"client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{string(PrivateKeyJWT)},
		TokenEndpointAuthSigningAlgValuesSupported: []string{AlgES256, AlgPS256, AlgEdDSA, AlgEd25519},
	}
	if c.MutualTLS {
		m.TokenEndpointAuthMethodsSupported = append(m.TokenEndpointAuthMethodsSupported, string(TLSClientAuth), string(SelfSignedTLS))
		m.TLSClientCertificateBoundAccessTokens = true
	}
	return m
}
