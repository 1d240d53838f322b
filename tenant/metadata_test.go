package tenant

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestServerMetadata: the document advertises exactly what the token
// endpoint does, mutual TLS only when the server sees client certificates,
// and the algorithms the assertion verifier accepts.
func TestServerMetadata(t *testing.T) {
	plain := ServerMetadata(MetadataConfig{Issuer: "https://id.example/", Scopes: []string{"audit:read"}})
	if plain.Issuer != "https://id.example" || plain.TokenEndpoint != "https://id.example/v1/oauth/token" {
		t.Errorf("issuer/token endpoint = %q %q", plain.Issuer, plain.TokenEndpoint)
	}
	if !slices.Equal(plain.TokenEndpointAuthMethodsSupported, []string{"private_key_jwt"}) || plain.TLSClientCertificateBoundAccessTokens {
		t.Errorf("without mTLS: methods %v, bound %v", plain.TokenEndpointAuthMethodsSupported, plain.TLSClientCertificateBoundAccessTokens)
	}
	for _, alg := range plain.TokenEndpointAuthSigningAlgValuesSupported {
		if !allowedAlg(alg) {
			t.Errorf("advertised alg %s is refused by the verifier", alg)
		}
	}
	for _, alg := range []string{"none", "HS256", "RS256"} {
		if slices.Contains(plain.TokenEndpointAuthSigningAlgValuesSupported, alg) {
			t.Errorf("advertises %s", alg)
		}
	}
	m := ServerMetadata(MetadataConfig{Issuer: "https://id.example", MutualTLS: true})
	if !slices.Equal(m.TokenEndpointAuthMethodsSupported, []string{"private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth"}) || !m.TLSClientCertificateBoundAccessTokens {
		t.Errorf("with mTLS: methods %v, bound %v", m.TokenEndpointAuthMethodsSupported, m.TLSClientCertificateBoundAccessTokens)
	}
	b, _ := json.Marshal(plain)
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	for _, k := range []string{"authorization_endpoint", "jwks_uri", "mtls_endpoint_aliases", "tls_client_certificate_bound_access_tokens"} {
		if _, ok := got[k]; ok {
			t.Errorf("metadata without those features has %q", k)
		}
	}
	if gt, _ := got["grant_types_supported"].([]any); len(gt) != 1 || gt[0] != "client_credentials" {
		t.Errorf("grant_types_supported = %v", got["grant_types_supported"])
	}
}
