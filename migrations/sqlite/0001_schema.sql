-- wxhub schema, SQLite dialect. The PostgreSQL file of the same version must describe the same
-- tables, columns, constraints and indexes; only the column types and the identity clause differ.
-- Every timestamp is Unix milliseconds (INTEGER). Every secret is a sealed string (AES-256-GCM,
-- "v1.<key id>.<base64>"), never plaintext; the *_sealed suffix says so.

CREATE TABLE meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE tenants (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('platform-admin', 'platform-auditor', 'tenant-admin', 'tenant-viewer')),
    tenant_id     INTEGER REFERENCES tenants (id),
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER,
    CHECK ((role IN ('platform-admin', 'platform-auditor') AND tenant_id IS NULL)
        OR (role IN ('tenant-admin', 'tenant-viewer') AND tenant_id IS NOT NULL))
);
CREATE INDEX users_tenant ON users (tenant_id);

-- Failed-login counters, keyed 'account:<email>' or 'ip:<address>'. Kept in the database so the
-- throttle holds across restarts and across instances.
CREATE TABLE login_throttle (
    key               TEXT PRIMARY KEY,
    failures          INTEGER NOT NULL,
    window_started_at INTEGER NOT NULL,
    locked_until      INTEGER
);

-- tower-sessions records. The cookie value is never stored: id_hash is SHA-256 of it.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    INTEGER,
    data       TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

-- A third-party platform. owner_tenant_id NULL means the platform's shared component.
CREATE TABLE components (
    id                                INTEGER PRIMARY KEY AUTOINCREMENT,
    appid                             TEXT NOT NULL UNIQUE,
    owner_tenant_id                   INTEGER REFERENCES tenants (id),
    name                              TEXT NOT NULL DEFAULT '',
    message_token_sealed              TEXT NOT NULL,
    appsecret_sealed                  TEXT NOT NULL,
    encoding_aes_key_sealed           TEXT NOT NULL,
    previous_encoding_aes_key_sealed  TEXT,
    status                            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at                        INTEGER NOT NULL,
    updated_at                        INTEGER NOT NULL
);
CREATE INDEX components_owner ON components (owner_tenant_id);

CREATE TABLE api_keys (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id          INTEGER NOT NULL REFERENCES tenants (id),
    name               TEXT NOT NULL,
    prefix             TEXT NOT NULL,
    key_hash           TEXT NOT NULL UNIQUE,
    created_by_user_id INTEGER REFERENCES users (id),
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER,
    revoked_at         INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- A shareable authorization page. public_id is the unguessable part of /authorize/{public_id}.
CREATE TABLE authorization_links (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id             TEXT NOT NULL UNIQUE,
    tenant_id             INTEGER NOT NULL REFERENCES tenants (id),
    component_id          INTEGER NOT NULL REFERENCES components (id),
    auth_type             INTEGER NOT NULL CHECK (auth_type IN (1, 2, 3)),
    biz_appid             TEXT,
    note                  TEXT NOT NULL DEFAULT '',
    created_by_user_id    INTEGER REFERENCES users (id),
    created_by_api_key_id INTEGER REFERENCES api_keys (id),
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER,
    revoked_at            INTEGER,
    authorizations        INTEGER NOT NULL DEFAULT 0,
    last_authorized_at    INTEGER
);
CREATE INDEX authorization_links_tenant ON authorization_links (tenant_id, created_at);

-- Every pre_auth_code minted for a link: the authorized push names the code it used, which is how a
-- shared component's new account is attributed to the right tenant. Looked up by hash.
CREATE TABLE pre_auth_codes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    link_id      INTEGER NOT NULL REFERENCES authorization_links (id),
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id),
    component_id INTEGER NOT NULL REFERENCES components (id),
    code_hash    TEXT NOT NULL UNIQUE,
    code_sealed  TEXT NOT NULL,
    issued_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX pre_auth_codes_link ON pre_auth_codes (link_id, expires_at);

-- An Official Account or Mini Program that authorized a component; belongs to one tenant.
CREATE TABLE authorizers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id),
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
    UNIQUE (component_id, appid)
);
CREATE INDEX authorizers_tenant ON authorizers (tenant_id, status, authorized_at);

-- One row per granted permission set, so accounts can be filtered by permission with an index.
CREATE TABLE authorizer_permissions (
    authorizer_id INTEGER NOT NULL REFERENCES authorizers (id) ON DELETE CASCADE,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id),
    permission_id INTEGER NOT NULL,
    PRIMARY KEY (authorizer_id, permission_id)
);
CREATE INDEX authorizer_permissions_tenant ON authorizer_permissions (tenant_id, permission_id);

-- What happened to an authorization over time; never deleted.
CREATE TABLE authorizer_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id),
    authorizer_id INTEGER NOT NULL REFERENCES authorizers (id),
    change        TEXT NOT NULL,
    source        TEXT NOT NULL,
    permissions   TEXT NOT NULL DEFAULT '[]',
    added         TEXT NOT NULL DEFAULT '[]',
    removed       TEXT NOT NULL DEFAULT '[]',
    detail        TEXT NOT NULL DEFAULT '{}',
    occurred_at   INTEGER NOT NULL
);
CREATE INDEX authorizer_history_authorizer ON authorizer_history (authorizer_id, occurred_at);

-- Every WeChat credential: tickets, component and authorizer tokens, refresh tokens, jsapi tickets.
-- Refresh workers claim due rows with a lease; lease_token fences write-backs.
CREATE TABLE credentials (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    component_id      INTEGER NOT NULL REFERENCES components (id),
    authorizer_id     INTEGER REFERENCES authorizers (id),
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
    UNIQUE (component_id, kind, subject)
);
CREATE INDEX credentials_due ON credentials (refresh_at);
CREATE INDEX credentials_tenant ON credentials (tenant_id, kind);

-- The durable work queue (api_query_auth after a push, info and menu fetches, ...).
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    tenant_id        INTEGER,
    component_id     INTEGER,
    payload          TEXT NOT NULL DEFAULT '{}',
    secret_sealed    TEXT,
    dedupe_key       TEXT UNIQUE,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 10,
    run_at           INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX jobs_due ON jobs (status, run_at);

-- Every accepted WeChat push, for de-duplication of WeChat's retries and for audit. The decrypted
-- XML carries tickets and authorization codes, so it is sealed.
CREATE TABLE received_pushes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    component_id     INTEGER NOT NULL REFERENCES components (id),
    tenant_id        INTEGER,
    endpoint         TEXT NOT NULL CHECK (endpoint IN ('notify', 'message')),
    authorizer_appid TEXT,
    info_type        TEXT,
    dedupe_key       TEXT NOT NULL,
    create_time      INTEGER,
    payload_sealed   TEXT,
    received_at      INTEGER NOT NULL,
    processed_at     INTEGER,
    UNIQUE (component_id, dedupe_key)
);
CREATE INDEX received_pushes_time ON received_pushes (component_id, received_at);

CREATE TABLE audit_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at      INTEGER NOT NULL,
    tenant_id        INTEGER,
    component_id     INTEGER,
    authorizer_appid TEXT,
    actor_kind       TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system', 'wechat', 'cli', 'anonymous')),
    actor_id         INTEGER,
    actor_label      TEXT NOT NULL DEFAULT '',
    kind             TEXT NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'denied')),
    summary          TEXT NOT NULL DEFAULT '',
    detail           TEXT NOT NULL DEFAULT '{}',
    ip               TEXT
);
CREATE INDEX audit_events_time ON audit_events (occurred_at);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, occurred_at);
CREATE INDEX audit_events_kind ON audit_events (kind, occurred_at);
CREATE INDEX audit_events_authorizer ON audit_events (authorizer_appid, occurred_at);

-- Conditions someone should look at (ticket pushes stopped, refresh token lost, ...).
CREATE TABLE alerts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER,
    component_id  INTEGER,
    authorizer_id INTEGER,
    kind          TEXT NOT NULL,
    message       TEXT NOT NULL,
    occurrences   INTEGER NOT NULL DEFAULT 1,
    raised_at     INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    resolved_at   INTEGER
);
CREATE INDEX alerts_open ON alerts (resolved_at, raised_at);
