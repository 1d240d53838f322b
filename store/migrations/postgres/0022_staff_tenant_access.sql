-- Per-tenant rules for the tenant's staff in the portal: the networks they
-- may use it from (space-separated CIDR prefixes; '' or no row: any).
CREATE TABLE staff_tenant_access (
	tenant_id  TEXT   PRIMARY KEY REFERENCES tenants (id),
	ip_allow   TEXT   NOT NULL,
	updated_at BIGINT NOT NULL
);
