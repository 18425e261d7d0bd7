-- The WeChat gateway's recent calls (issue 14): the last 100 per account (or component) and
-- tenant, for the console. Written in batches about once a second; older rows are pruned with
-- each batch. target: the authorizer appid, or the component appid for component calls. errcode:
-- WeChat's, when its answer had one. outcome: the same label /metrics counts by (an errcode,
-- "none", "http_502", "transport", "too_large"). Neither bodies nor tokens are kept.
CREATE TABLE gateway_calls (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id),
    target       TEXT NOT NULL,
    target_kind  TEXT NOT NULL CHECK (target_kind IN ('authorizer', 'component')),
    api_key_id   INTEGER REFERENCES api_keys (id),
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    status       BIGINT,
    errcode      BIGINT,
    outcome      TEXT NOT NULL,
    retried      BOOLEAN NOT NULL DEFAULT FALSE,
    duration_ms  BIGINT NOT NULL,
    called_at    BIGINT NOT NULL
);
CREATE INDEX gateway_calls_target ON gateway_calls (tenant_id, target, id);
