-- Counts per hour for the operations charts (issue 17): refreshes, failures by errcode,
-- authorizations, revocations, messages, webhook deliveries, tenant API calls. Instances count in
-- memory and add their counts here every few seconds, so a chart over 30 days reads 720 rows
-- per series however many accounts there are. `tenant_id` 0 is the whole platform (every event
-- is added there too, including those of accounts no tenant holds); `detail` splits a series
-- (a failure's errcode, a delivery's outcome) and is '' when it does not.
CREATE TABLE hourly_counts (
    metric TEXT NOT NULL,
    detail TEXT NOT NULL,
    tenant_id BIGINT NOT NULL,
    hour_start BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (metric, tenant_id, hour_start, detail)
);
-- Retention drops the oldest hours.
CREATE INDEX hourly_counts_age ON hourly_counts (hour_start);
