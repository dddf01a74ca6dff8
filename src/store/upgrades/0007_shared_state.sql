-- Version 7: state the nodes of one database share (scale-out.md), kept in the database
-- rather than in each process.
--
-- `rate_limit_buckets`: one GCRA bucket per rate-limit class and client, its theoretical
-- arrival time in unix milliseconds, and whether the last spend on it was admitted. The
-- client is a SHA-256 of its key (an address, an email, a session), never the key itself.
-- A bucket whose time has passed is full again and carries nothing: such rows are deleted.
CREATE TABLE rate_limit_buckets (
    class           TEXT NOT NULL,
    client_hash     TEXT NOT NULL,                  -- SHA-256 hex of the client's key
    tat             INTEGER NOT NULL,               -- unix milliseconds
    admitted        INTEGER NOT NULL,               -- 1 when the last spend was admitted
    PRIMARY KEY (class, client_hash)
);
CREATE INDEX rate_limit_buckets_by_tat ON rate_limit_buckets(tat);

-- `setup_tokens`: the one-time first-start setup links printed by the nodes, as SHA-256 of
-- the token (never the token). Any node accepts any of them while no user exists; creating
-- the first user deletes them all.
CREATE TABLE setup_tokens (
    token_hash      TEXT PRIMARY KEY,               -- SHA-256 hex of the token
    created_at      INTEGER NOT NULL
);
