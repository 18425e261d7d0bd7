-- The tenant API finds an account by (tenant, appid) on every call; the other indexes that lead
-- with tenant_id continue with status or time, so each lookup scanned the tenant's accounts
-- (50,000 per tenant in the million-account soak: docs/benchmarks.md).
CREATE INDEX authorizers_tenant_appid ON authorizers (tenant_id, appid);
