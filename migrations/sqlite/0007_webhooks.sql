-- Webhooks to the tenants' systems (issue 13): endpoints a tenant registers, and the durable outbox
-- of deliveries to them.
--
-- webhook_endpoints.public_id: the id the API and console show (`we_…`); the row id stays inside.
-- secret_sealed: the signing secret (`whsec_…`), sealed; previous_secret_sealed keeps the one a
-- rotation replaced, and deliveries are signed with both until previous_secret_expires_at, so a
-- tenant can roll its verifier without losing a delivery.
-- authorizer_appids / event_types: JSON arrays that narrow what the endpoint receives (NULL: all).
-- failing_since / consecutive_failures: the current run of failed attempts; an endpoint that keeps
-- failing is disabled (disabled_at, disabled_reason) and an alert raised.
CREATE TABLE webhook_endpoints (
    id                          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id                   INTEGER NOT NULL REFERENCES tenants (id),
    public_id                   TEXT NOT NULL UNIQUE,
    url                         TEXT NOT NULL,
    description                 TEXT NOT NULL DEFAULT '',
    authorizer_appids           TEXT,
    event_types                 TEXT,
    mode                        TEXT NOT NULL DEFAULT 'async',
    secret_sealed               TEXT NOT NULL,
    previous_secret_sealed      TEXT,
    previous_secret_expires_at  BIGINT,
    consecutive_failures        BIGINT NOT NULL DEFAULT 0,
    failing_since               BIGINT,
    disabled_at                 BIGINT,
    disabled_reason             TEXT,
    created_at                  BIGINT NOT NULL,
    updated_at                  BIGINT NOT NULL,
    deleted_at                  BIGINT
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, deleted_at);

-- One row per (event, endpoint), written in the transaction that stores the event, so a crash at
-- any moment loses none. event_id is the `webhook-id` header: one per event, the same on every
-- retry. status: pending → running (leased, like jobs) → delivered, or dead after the retry window;
-- give_up_at ends the retry window (24 h from the event, or from a replay); a dead letter is
-- replayed by setting it pending again with a new window.
-- payload_sealed: the JSON body, sealed (it carries the users' own words).
CREATE TABLE webhook_deliveries (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id              INTEGER NOT NULL REFERENCES tenants (id),
    endpoint_id            INTEGER NOT NULL REFERENCES webhook_endpoints (id),
    event_id               TEXT NOT NULL,
    event_type             TEXT NOT NULL,
    authorizer_appid       TEXT,
    payload_sealed         TEXT NOT NULL,
    status                 TEXT NOT NULL,
    attempts               BIGINT NOT NULL DEFAULT 0,
    run_at                 BIGINT NOT NULL,
    give_up_at             BIGINT NOT NULL,
    lease_owner            TEXT,
    lease_expires_at       BIGINT,
    last_attempt_at        BIGINT,
    last_status_code       BIGINT,
    last_latency_ms        BIGINT,
    last_error             TEXT,
    last_response_excerpt  TEXT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    finished_at            BIGINT,
    UNIQUE (endpoint_id, event_id)
);
-- The worker's claim: due pending rows and expired leases.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, run_at);
-- The console's log per endpoint, newest first, and the staff view across tenants.
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
-- A finished attempt hands its slot to the endpoint's next due delivery.
CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, status, run_at);
CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant_id, id);
-- Retention prunes finished deliveries by age.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at);
