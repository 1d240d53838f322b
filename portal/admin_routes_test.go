package portal

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
)

// Route specs of the administration pages: a tenant's object belongs to its
// admins (owner a-admin; another tenant's staff get 404, its reviewers
// 403), an installation object to the operator's admins (a tenant's staff
// get 404 or 403).

func adminTenantObject(obj func(e *env, b *browser) string, ok int) routeSpec {
	return routeSpec{object: obj, ownerOK: ok, owner: "a-admin", intruders: []string{"b-admin", "b-reviewer", "a-reviewer", "op-reviewer"}}
}

func adminOperatorObject(obj func(e *env, b *browser) string, ok int) routeSpec {
	return routeSpec{object: obj, ownerOK: ok, owner: "op-admin", intruders: []string{"a-admin", "b-admin", "a-auditor", "op-reviewer"}}
}

func withBody(s routeSpec, body url.Values) routeSpec { s.body = body; return s }

var seq atomic.Int64

// testJWKS returns a one-key public JWKS (EC P-256) with kid.
func testJWKS(kid string) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	pub, err := k.PublicKey.ECDH()
	if err != nil {
		panic(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
		"x": base64.RawURLEncoding.EncodeToString(raw[1:33]), "y": base64.RawURLEncoding.EncodeToString(raw[33:]),
	}}})
	return b
}

// testCertPEM returns a self-signed client certificate valid around now.
func testCertPEM(now time.Time, cn string) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(seq.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// client creates a private_key_jwt client of tenantID directly (as an
// approved request would) and returns its id.
func (e *env) client(tenantID string) string {
	e.t.Helper()
	ctx := context.Background()
	var c tenant.Client
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		c, err = e.admin.tenants.CreateClientTx(ctx, tx, tenant.Actor{Kind: audit.ActorSystem, ID: "test"}, tenantID,
			tenant.ClientSpec{Name: fmt.Sprintf("client %d", seq.Add(1)), Scopes: []string{"ekyc:sessions"}, JWKS: string(testJWKS("k1"))})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

// account creates an account without roles in tenantID.
func (e *env) account(tenantID string) string {
	e.t.Helper()
	return e.addPerson(fmt.Sprintf("staff-%d", seq.Add(1)), tenantID, "").id
}

// tenantApproval files, as b's person, a role.grant for a new account of
// b's tenant and returns the request's id.
func (e *env) tenantApproval(b *browser) string {
	e.t.Helper()
	p := e.people[b.whoami()]
	g, _ := json.Marshal(staff.RoleGrant{StaffID: e.account(p.tenant), Role: staff.RoleAuditor})
	ap, err := e.dir.Request(context.Background(), staff.Actor{Kind: audit.ActorStaff, ID: p.id}, staff.KindRoleGrant, g)
	if err != nil {
		e.t.Fatal(err)
	}
	return ap.ID
}
