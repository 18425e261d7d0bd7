-- Unassigned accounts (issue 15): an account that authorized the platform's shared component
-- without coming through a tenant's link (a 全网发布 test account, a fast-registered mini program,
-- one imported from `api_get_authorizer_list`) is kept with its tokens and refreshed like any other,
-- with no tenant (tenant_id NULL) until platform staff assign it. Every tenant query filters on
-- `tenant_id = $n`, which NULL never matches, so no tenant sees an unassigned account.
--
-- SQLite cannot drop a NOT NULL constraint, so the tables are rebuilt inside the migration's
-- transaction, where foreign keys stay enforced. Every table that refers to authorizers
-- (permissions, history, credentials) is rebuilt with it, referring to authorizers_new, and the
-- old ones are dropped children first: dropping the old authorizers then leaves no row dangling
-- (its implicit DELETE finds no child), and the renames turn every reference into authorizers.
-- Ids are kept, so nothing else changes.

CREATE TABLE authorizers_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER REFERENCES tenants (id),
    component_id    INTEGER NOT NULL REFERENCES components (id),
    appid           TEXT NOT NULL,
    account_kind    TEXT NOT NULL DEFAULT 'unknown' CHECK (account_kind IN ('official_account', 'mini_program', 'unknown')),
    nick_name       TEXT NOT NULL DEFAULT '',
    head_img        TEXT NOT NULL DEFAULT '',
    user_name       TEXT NOT NULL DEFAULT '',
    principal_name  TEXT NOT NULL DEFAULT '',
    alias           TEXT NOT NULL DEFAULT '',
    qrcode_url      TEXT NOT NULL DEFAULT '',
    service_type    INTEGER,
    verify_type     INTEGER,
    account_status  INTEGER,
    info_json       TEXT,
    info_fetched_at INTEGER,
    func_info       TEXT NOT NULL DEFAULT '[]',
    menu_json       TEXT,
    menu_fetched_at INTEGER,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'authorized', 'revoked', 'needs_reauth')),
    link_id         INTEGER REFERENCES authorization_links (id),
    authorized_at   INTEGER NOT NULL,
    revoked_at      INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_event_at   BIGINT,
    UNIQUE (component_id, appid)
);
INSERT INTO authorizers_new (id, tenant_id, component_id, appid, account_kind, nick_name, head_img, user_name,
    principal_name, alias, qrcode_url, service_type, verify_type, account_status, info_json, info_fetched_at,
    func_info, menu_json, menu_fetched_at, status, link_id, authorized_at, revoked_at, created_at, updated_at,
    last_event_at)
SELECT id, tenant_id, component_id, appid, account_kind, nick_name, head_img, user_name,
    principal_name, alias, qrcode_url, service_type, verify_type, account_status, info_json, info_fetched_at,
    func_info, menu_json, menu_fetched_at, status, link_id, authorized_at, revoked_at, created_at, updated_at,
    last_event_at
FROM authorizers;

CREATE TABLE authorizer_permissions_new (
    authorizer_id INTEGER NOT NULL REFERENCES authorizers_new (id) ON DELETE CASCADE,
    tenant_id     INTEGER REFERENCES tenants (id),
    permission_id INTEGER NOT NULL,
    PRIMARY KEY (authorizer_id, permission_id)
);
INSERT INTO authorizer_permissions_new (authorizer_id, tenant_id, permission_id)
SELECT authorizer_id, tenant_id, permission_id FROM authorizer_permissions;

CREATE TABLE authorizer_history_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER REFERENCES tenants (id),
    authorizer_id INTEGER NOT NULL REFERENCES authorizers_new (id),
    change        TEXT NOT NULL,
    source        TEXT NOT NULL,
    permissions   TEXT NOT NULL DEFAULT '[]',
    added         TEXT NOT NULL DEFAULT '[]',
    removed       TEXT NOT NULL DEFAULT '[]',
    detail        TEXT NOT NULL DEFAULT '{}',
    occurred_at   INTEGER NOT NULL
);
INSERT INTO authorizer_history_new (id, tenant_id, authorizer_id, change, source, permissions, added, removed, detail, occurred_at)
SELECT id, tenant_id, authorizer_id, change, source, permissions, added, removed, detail, occurred_at FROM authorizer_history;

CREATE TABLE credentials_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    component_id      INTEGER NOT NULL REFERENCES components (id),
    authorizer_id     INTEGER REFERENCES authorizers_new (id),
    tenant_id         INTEGER REFERENCES tenants (id),
    kind              TEXT NOT NULL CHECK (kind IN ('component_verify_ticket', 'component_access_token',
                          'authorizer_access_token', 'authorizer_refresh_token', 'jsapi_ticket')),
    subject           TEXT NOT NULL,
    value_sealed      TEXT,
    value_fingerprint TEXT,
    issued_at         INTEGER,
    expires_at        INTEGER,
    refresh_at        INTEGER,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    lease_token       INTEGER NOT NULL DEFAULT 0,
    failure_count     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER,
    last_error        TEXT,
    last_error_code   INTEGER,
    last_error_at     INTEGER,
    last_refreshed_at INTEGER,
    version           INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    forced_at         BIGINT,
    UNIQUE (component_id, kind, subject)
);
INSERT INTO credentials_new (id, component_id, authorizer_id, tenant_id, kind, subject, value_sealed, value_fingerprint,
    issued_at, expires_at, refresh_at, lease_owner, lease_expires_at, lease_token, failure_count, next_attempt_at,
    last_error, last_error_code, last_error_at, last_refreshed_at, version, created_at, updated_at, forced_at)
SELECT id, component_id, authorizer_id, tenant_id, kind, subject, value_sealed, value_fingerprint,
    issued_at, expires_at, refresh_at, lease_owner, lease_expires_at, lease_token, failure_count, next_attempt_at,
    last_error, last_error_code, last_error_at, last_refreshed_at, version, created_at, updated_at, forced_at
FROM credentials;

DROP TABLE credentials;
DROP TABLE authorizer_permissions;
DROP TABLE authorizer_history;
DROP TABLE authorizers;
ALTER TABLE authorizers_new RENAME TO authorizers;
ALTER TABLE authorizer_permissions_new RENAME TO authorizer_permissions;
ALTER TABLE authorizer_history_new RENAME TO authorizer_history;
ALTER TABLE credentials_new RENAME TO credentials;

CREATE INDEX authorizers_tenant ON authorizers (tenant_id, status, authorized_at);
CREATE INDEX authorizers_component ON authorizers (component_id, status);
CREATE INDEX authorizers_tenant_time ON authorizers (tenant_id, authorized_at);
CREATE INDEX authorizers_link ON authorizers (link_id, authorized_at);
CREATE INDEX authorizer_permissions_tenant ON authorizer_permissions (tenant_id, permission_id);
CREATE INDEX authorizer_history_authorizer ON authorizer_history (authorizer_id, occurred_at);
CREATE INDEX credentials_due ON credentials (refresh_at);
CREATE INDEX credentials_tenant ON credentials (tenant_id, kind);
CREATE INDEX credentials_changed ON credentials (updated_at);
-- Staff read the unassigned accounts as one list.
CREATE INDEX authorizers_unassigned ON authorizers (component_id, authorized_at) WHERE tenant_id IS NULL;

-- An import of a component's existing authorizations through api_get_authorizer_list: one row per
-- run, advanced page by page (the offset and the counts are written after each page), so a restart
-- resumes where the last page ended.
CREATE TABLE authorizer_imports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    component_id  INTEGER NOT NULL REFERENCES components (id),
    status        TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    started_by    TEXT NOT NULL,
    total         INTEGER,
    next_offset   INTEGER NOT NULL DEFAULT 0,
    imported      INTEGER NOT NULL DEFAULT 0,
    updated       INTEGER NOT NULL DEFAULT 0,
    unchanged     INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    started_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    finished_at   INTEGER
);
CREATE INDEX authorizer_imports_component ON authorizer_imports (component_id, started_at);
