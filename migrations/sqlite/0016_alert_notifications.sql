-- Alerts that reach people (issue 17).
--
-- An *audience* is who is told: 0 is the platform's staff, a tenant id is that tenant's admins.
-- Each audience has its own rule settings (a missing row is the rule's default), its own
-- channels and its own view of what is firing, so a tenant's thresholds never change what the
-- staff are told, and a tenant is never told about another tenant.

-- A rule's settings for one audience. threshold's unit is the rule's (minutes, a count, a percent).
-- renotify_minutes: a condition still firing is announced again after this quiet period (0: never).
CREATE TABLE alert_rules (
    tenant_id        BIGINT NOT NULL,
    rule             TEXT NOT NULL,
    enabled          BIGINT NOT NULL,
    threshold        BIGINT NOT NULL,
    renotify_minutes BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, rule)
);

-- Where an audience's notifications go. config_sealed holds the whole configuration (a robot's
-- key, a signing secret, an SMTP password) sealed with the master key; summary is what may be
-- shown (a host, the recipients), never a secret.
CREATE TABLE notification_channels (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     BIGINT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('wecom_robot', 'webhook', 'email')),
    name          TEXT NOT NULL,
    summary       TEXT NOT NULL,
    config_sealed TEXT NOT NULL,
    enabled       BIGINT NOT NULL,
    last_sent_at  BIGINT,
    last_error    TEXT,
    last_error_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);
CREATE INDEX notification_channels_tenant ON notification_channels (tenant_id, deleted_at);

-- What is firing, per audience: one row per (audience, rule, subject) while the condition holds.
-- Inserting the row announces it, moving last_notified_at announces it again, deleting it
-- announces its end; each is one conditional write, so of several instances evaluating at once
-- exactly one sends each notice.
CREATE TABLE alert_states (
    tenant_id         BIGINT NOT NULL,
    rule              TEXT NOT NULL,
    subject           TEXT NOT NULL,
    subject_tenant_id BIGINT,
    message           TEXT NOT NULL,
    message_zh        TEXT NOT NULL,
    firing_since      BIGINT NOT NULL,
    last_notified_at  BIGINT NOT NULL,
    last_seen_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, rule, subject)
);

-- The notification outbox: one row per (notice, channel), written with the state change that
-- caused it; a worker sends it, retrying with backoff, and audits the outcome.
-- status: pending → sent, or failed after the last attempt. content is JSON (the facts, no
-- secret), rendered for the channel's kind when sent.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id      BIGINT NOT NULL,
    tenant_id       BIGINT NOT NULL,
    rule            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    event           TEXT NOT NULL CHECK (event IN ('firing', 'reminder', 'resolved', 'test')),
    content         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_channel ON notifications (channel_id, id);
CREATE INDEX notifications_age ON notifications (created_at);
