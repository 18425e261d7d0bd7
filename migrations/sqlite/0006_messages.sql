-- The accounts' traffic (issue 13): every message and event WeChat posts to the message URL for an
-- authorized account, kept for `WXHUB_MESSAGE_RETENTION_DAYS` (default 7).
--
-- dedupe_key: WeChat retries a message three times; MsgId names a user message, FromUserName +
-- CreateTime + Event an event. The unique key makes the retry a no-op in the same statement.
-- xml_sealed: the decrypted XML, sealed like every payload (it is the users' own words).
CREATE TABLE messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    component_id     INTEGER NOT NULL REFERENCES components (id),
    tenant_id        INTEGER REFERENCES tenants (id),
    authorizer_appid TEXT NOT NULL,
    dedupe_key       TEXT NOT NULL,
    msg_type         TEXT NOT NULL,
    event            TEXT,
    from_user        TEXT NOT NULL,
    to_user          TEXT NOT NULL,
    create_time      BIGINT NOT NULL,
    msg_id           TEXT,
    xml_sealed       TEXT NOT NULL,
    received_at      BIGINT NOT NULL,
    UNIQUE (component_id, authorizer_appid, dedupe_key)
);
-- An account's recent messages (the console), newest first.
CREATE INDEX messages_account ON messages (tenant_id, authorizer_appid, received_at);
-- Retention prunes per component by age.
CREATE INDEX messages_age ON messages (component_id, received_at);
