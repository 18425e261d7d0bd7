-- The audit log is read newest first in keyset pages (`id < cursor ORDER BY id DESC`), filtered by
-- tenant, by account or by kind; these let each filter walk its rows in id order without sorting.
CREATE INDEX audit_events_tenant_id ON audit_events (tenant_id, id);
CREATE INDEX audit_events_account_id ON audit_events (component_id, authorizer_appid, id);
CREATE INDEX audit_events_kind_id ON audit_events (kind, id);
