-- The console's accounts list reads a tenant's accounts newest first, a page at a time.
CREATE INDEX authorizers_tenant_time ON authorizers (tenant_id, authorized_at);
-- Links list the accounts they produced.
CREATE INDEX authorizers_link ON authorizers (link_id, authorized_at);
