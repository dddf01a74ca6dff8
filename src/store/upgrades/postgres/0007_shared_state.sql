-- Version 7 on PostgreSQL: the tables of upgrades/0007_shared_state.sql (which explains
-- them). The rate-limit buckets are UNLOGGED: they are rewritten many times a second, and
-- losing them in a crash only refills every bucket.
CREATE UNLOGGED TABLE rate_limit_buckets (
    class           TEXT COLLATE "C" NOT NULL,
    client_hash     TEXT COLLATE "C" NOT NULL,
    tat             BIGINT NOT NULL,
    admitted        BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (class, client_hash)
);
CREATE INDEX rate_limit_buckets_by_tat ON rate_limit_buckets(tat);
CREATE TABLE setup_tokens (
    token_hash      TEXT COLLATE "C" PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    rowid           BIGINT GENERATED ALWAYS AS IDENTITY
);
