package oauth

import (
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
)

// The metadata must advertise only client authentication methods that
// package tenant implements: a client that picks an advertised method must
// be able to use it.
func TestMetadataAdvertisesOnlyImplementedAuthMethods(t *testing.T) {
	implemented := []string{string(tenant.PrivateKeyJWT), string(tenant.TLSClientAuth), string(tenant.SelfSignedTLS)}
	m := newEnv(t, storetest.SQLite(t)).srv.Metadata()
	for _, field := range []string{
		"token_endpoint_auth_methods_supported",
		"introspection_endpoint_auth_methods_supported",
		"revocation_endpoint_auth_methods_supported",
	} {
		got, ok := m[field].([]string)
		if !ok || len(got) == 0 {
			t.Fatalf("Metadata()[%q] = %v, want a non-empty list", field, m[field])
		}
		if !slices.Equal(got, implemented) {
			t.Errorf("Metadata()[%q] = %v, want %v", field, got, implemented)
		}
		for _, method := range got {
			if !slices.Contains(implemented, method) {
				t.Errorf("Metadata()[%q] advertises %q, which package tenant does not implement", field, method)
			}
		}
	}
}
