-- Mini-program code management (issue 15).
--
-- code_events: the timeline of each mini program's code, as wxhub did it or WeChat told it:
-- committed (template_id, user_version, user_desc), submitted (auditid, the item list in
-- detail_json), audit_passed / audit_failed (reason, screenshots) / audit_delayed (from the
-- weapp_audit_* events, or read with get_latest_auditstatus), audit_withdrawn, speedup, released,
-- reverted, domains (server or webview domains changed). A WeChat event carries its message's
-- fingerprint as dedupe_key, so a retried push is one row.
CREATE TABLE code_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         INTEGER NOT NULL REFERENCES tenants (id),
    component_id      INTEGER NOT NULL REFERENCES components (id),
    authorizer_appid  TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('committed', 'submitted', 'audit_passed', 'audit_failed',
                          'audit_delayed', 'audit_withdrawn', 'speedup', 'released', 'reverted', 'domains')),
    template_id       BIGINT,
    user_version      TEXT,
    user_desc         TEXT,
    auditid           BIGINT,
    detail_json       TEXT NOT NULL DEFAULT '{}',
    actor_label       TEXT NOT NULL,
    dedupe_key        TEXT UNIQUE,
    created_at        BIGINT NOT NULL
);
CREATE INDEX code_events_account ON code_events (tenant_id, authorizer_appid, id);

-- A batch: one template committed (and, when submit = 1, submitted for audit) to many mini
-- programs of a tenant. Each item is one job (`code_batch_item`); its outcome stays on the item.
CREATE TABLE code_batches (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      INTEGER NOT NULL REFERENCES tenants (id),
    component_id   INTEGER NOT NULL REFERENCES components (id),
    template_id    BIGINT NOT NULL,
    user_version   TEXT NOT NULL,
    user_desc      TEXT NOT NULL,
    ext_json       TEXT NOT NULL,
    submit         INTEGER NOT NULL CHECK (submit IN (0, 1)),
    started_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX code_batches_tenant ON code_batches (tenant_id, id);

-- status: pending, committed (and not to be submitted, or not yet), submitted, failed, skipped
-- (the audit quota was used up before this one's turn).
CREATE TABLE code_batch_items (
    batch_id          BIGINT NOT NULL REFERENCES code_batches (id),
    authorizer_appid  TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'committed', 'submitted', 'failed', 'skipped')),
    auditid           BIGINT,
    error             TEXT,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (batch_id, authorizer_appid)
);

-- A fast registration (快速注册) a tenant started: an enterprise mini program (fastregisterweapp,
-- matched to WeChat's notify_third_fasteregister push by component, name and the legal person's
-- WeChat id) or a personal one (fastregisterpersonalweapp, by taskid). The push's auth_code is
-- exchanged into an account of this tenant. status: waiting, succeeded, failed.
CREATE TABLE fast_registrations (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id             INTEGER NOT NULL REFERENCES tenants (id),
    component_id          INTEGER NOT NULL REFERENCES components (id),
    kind                  TEXT NOT NULL CHECK (kind IN ('enterprise', 'personal')),
    name                  TEXT NOT NULL,
    legal_persona_wechat  TEXT NOT NULL,
    legal_persona_name    TEXT NOT NULL DEFAULT '',
    code                  TEXT NOT NULL DEFAULT '',
    code_type             BIGINT,
    component_phone       TEXT NOT NULL DEFAULT '',
    taskid                TEXT,
    authorize_url         TEXT,
    status                TEXT NOT NULL CHECK (status IN ('waiting', 'succeeded', 'failed')),
    wechat_status         BIGINT,
    message               TEXT,
    appid                 TEXT,
    started_by            TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX fast_registrations_tenant ON fast_registrations (tenant_id, id);
CREATE INDEX fast_registrations_match ON fast_registrations (component_id, legal_persona_wechat);
