-- A dual-control request concerns the installation (tenant_id NULL: every
-- request filed before this migration) or one tenant: then an admin of that
-- tenant may file it and another admin of that tenant, or an operator admin,
-- may approve or reject it. Operator admins see every request.
ALTER TABLE approvals ADD COLUMN tenant_id TEXT REFERENCES tenants (id);
CREATE INDEX approvals_tenant ON approvals (tenant_id, status, created_at);
