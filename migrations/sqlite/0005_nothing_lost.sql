-- Nothing WeChat hands us is lost, and nothing is applied out of order (issue 6).
--
-- jobs.result_sealed: WeChat's answer to an exchange (the refresh token among it), sealed and
-- stored the moment it arrives, before anything else can fail; a retried job uses it instead of
-- spending the one-shot code again.
-- jobs.wechat_called_at: when an attempt first sent the code to WeChat; a later 61009 then means
-- "spent by us", to be recovered through api_get_authorizer_info, not a bad code.
ALTER TABLE jobs ADD COLUMN result_sealed TEXT;
ALTER TABLE jobs ADD COLUMN wechat_called_at BIGINT;
-- authorizers.last_event_at: WeChat's CreateTime (ms) of the newest authorization event applied to
-- the account; an older one (a late retry of `unauthorized`) changes nothing.
ALTER TABLE authorizers ADD COLUMN last_event_at BIGINT;
-- Retention: finished jobs and idle throttle rows are pruned by age (received pushes per component,
-- through received_pushes_time, so the busiest insert gains no index).
CREATE INDEX jobs_finished ON jobs (finished_at);
CREATE INDEX login_throttle_window ON login_throttle (window_started_at);
-- An exchange that arrives after the account's revocation was pushed is recognised as older. Only
-- revocations are indexed: tickets, the busiest push, never touch it.
CREATE INDEX received_pushes_revocations ON received_pushes (component_id, authorizer_appid) WHERE info_type = 'unauthorized';
-- credentials.forced_at: when a tenant's rejected-token report last forced a refresh; one account is
-- forced at most once per interval, whoever reports.
ALTER TABLE credentials ADD COLUMN forced_at BIGINT;
-- A tenant's open alerts are read by tenant (the dashboard), not filtered from everyone's.
CREATE INDEX alerts_tenant_open ON alerts (tenant_id, resolved_at, raised_at);
