package staff

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// TenantAccess is a tenant's rule for where its staff may use the portal
// from. An empty IPAllow allows any address.
type TenantAccess struct {
	TenantID string
	IPAllow  []netip.Prefix
}

// MaxIPAllow bounds an allow-list.
const MaxIPAllow = 64

// Allows reports whether addr may be used. An invalid addr is refused
// unless the list is empty.
func (a TenantAccess) Allows(addr netip.Addr) bool {
	if len(a.IPAllow) == 0 {
		return true
	}
	addr = addr.Unmap()
	return slices.ContainsFunc(a.IPAllow, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// ParseIPAllow parses CIDR prefixes (or single addresses) separated by
// spaces or commas.
func ParseIPAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' || r == '\t' || r == '\r' }) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || len(f) > 64 {
				return nil, fmt.Errorf("%w: %q is not an IP address or CIDR prefix", ErrInvalidInput, truncate(f))
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	if len(out) > MaxIPAllow {
		return nil, fmt.Errorf("%w: at most %d prefixes", ErrInvalidInput, MaxIPAllow)
	}
	return out, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func formatIPAllow(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}

// TenantAccess returns tenantID's access rule (an empty one if none is set).
func (d *Directory) TenantAccess(ctx context.Context, tenantID string) (TenantAccess, error) {
	a := TenantAccess{TenantID: tenantID}
	var allow string
	err := d.db.QueryRow(ctx, `SELECT ip_allow FROM staff_tenant_access WHERE tenant_id = ?`, tenantID).Scan(&allow)
	if errors.Is(err, store.ErrNotFound) {
		return a, nil
	}
	if err != nil {
		return a, err
	}
	a.IPAllow, err = ParseIPAllow(allow)
	if err != nil {
		// Stored by SetTenantAccess, so this is corruption: fail closed.
		return a, fmt.Errorf("staff: stored allow-list of tenant %s: %w", tenantID, err)
	}
	return a, nil
}

// SetTenantAccess replaces tenantID's access rule; an operator admin must
// be the actor. An empty list removes the restriction.
func (d *Directory) SetTenantAccess(ctx context.Context, actor Actor, tenantID string, allow []netip.Prefix) error {
	if len(allow) > MaxIPAllow {
		return fmt.Errorf("%w: at most %d prefixes", ErrInvalidInput, MaxIPAllow)
	}
	return d.db.InTx(ctx, func(tx *store.Tx) error {
		if err := d.requireRole(ctx, tx, actor, RoleAdmin); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tenants WHERE id = ?`, tenantID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: tenant", ErrNotFound)
		}
		now := store.Micros(d.now())
		if _, err := tx.Exec(ctx, `DELETE FROM staff_tenant_access WHERE tenant_id = ?`, tenantID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO staff_tenant_access (tenant_id, ip_allow, updated_at) VALUES (?, ?, ?)`,
			tenantID, formatIPAllow(allow), now); err != nil {
			return err
		}
		e := actor.entry("staff.access.set", tenantID, audit.OutcomeOK, map[string]string{"ip_allow": formatIPAllow(allow)})
		e.TenantID = tenantID
		_, err := d.audit.Append(ctx, tx, e)
		return err
	})
}
