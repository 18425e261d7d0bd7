-- API key scopes (issue 14): what a key may do, as scope names separated by spaces. Keys made
-- before scopes existed keep every right they had.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'tokens:read wechat:call links:write webhooks:manage';
