-- Version 6: key activity and leaked keys (key-security.md). Each key keeps the distinct
-- client addresses and user agents that used it in the last 30 days (at most 100 of each, the
-- least recent dropped first), written by the usage flusher; a key switched off because it was
-- reported as leaked says so (`deactivated_reason` = 'leak_reported', and the report's URL).
ALTER TABLE api_keys ADD COLUMN deactivated_reason TEXT;
ALTER TABLE api_keys ADD COLUMN leak_report_url TEXT;
CREATE TABLE api_key_ips (
    key_id          TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    ip              TEXT NOT NULL,                  -- the resolved client address
    first_seen_at   INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    requests        INTEGER NOT NULL,
    PRIMARY KEY (key_id, ip)
);
CREATE INDEX api_key_ips_by_time ON api_key_ips(key_id, last_seen_at);
CREATE TABLE api_key_user_agents (
    key_id          TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    user_agent      TEXT NOT NULL,                  -- at most 256 characters (longer ones cut)
    first_seen_at   INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    requests        INTEGER NOT NULL,
    PRIMARY KEY (key_id, user_agent)
);
CREATE INDEX api_key_user_agents_by_time ON api_key_user_agents(key_id, last_seen_at);
