-- The token cache follows changed credentials by update time (other instances' refreshes).
CREATE INDEX credentials_changed ON credentials (updated_at);
-- Pre-auth codes are looked up by link when a page is rendered again.
CREATE INDEX authorizers_component ON authorizers (component_id, status);
