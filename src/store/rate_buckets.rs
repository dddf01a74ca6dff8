//! Rate-limit buckets shared by the nodes of one database (`rate_limit_buckets`): the one
//! place their GCRA arithmetic is written in SQL.
//!
//! A bucket is a theoretical arrival time (TAT) in unix milliseconds, as in
//! `auth::ratelimit`. A spend is one autocommit `INSERT ... ON CONFLICT DO UPDATE ...
//! RETURNING`: the row lock the upsert takes on conflict orders concurrent spends on one
//! bucket, from any node, so each one sees the TAT the previous one left and the decision is
//! exact without a serializable transaction (and so without retries).

use super::db::params;
use super::Store;
use crate::error::Error;

/// One spend on a shared bucket, all in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketSpend {
    /// The time of the decision.
    pub now_millis: i64,
    /// Time already admitted by a node and not yet counted here, added unconditionally.
    pub pending_millis: i64,
    /// The cost of the request to decide now (one emission interval), or 0 to only add
    /// `pending_millis` and read the bucket back.
    pub cost_millis: i64,
    /// How far the TAT may run ahead of now for a request to be admitted (the burst:
    /// limit times interval).
    pub burst_millis: i64,
}

/// A bucket after a spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketState {
    /// Its theoretical arrival time, unix milliseconds.
    pub tat_millis: i64,
    /// Whether the request of the spend was admitted (a refused one costs nothing).
    pub admitted: bool,
}

impl BucketSpend {
    /// The bucket this spend leaves when it finds none (or a full one): GCRA from `now`.
    fn on_empty(&self) -> BucketState {
        let base = self.now_millis + self.pending_millis;
        let admitted = base + self.cost_millis - self.burst_millis <= self.now_millis;
        BucketState {
            tat_millis: if admitted {
                base + self.cost_millis
            } else {
                base
            },
            admitted,
        }
    }
}

impl Store {
    /// Applies `spend` to the bucket of `class` and `client_hash` in one statement and
    /// returns the bucket after it: the TAT moves to `max(tat, now) + pending`, plus `cost`
    /// when that still admits the request (`max(tat, now) + pending + cost - burst <= now`).
    pub fn spend_rate_bucket(
        &self,
        class: &str,
        client_hash: &str,
        spend: &BucketSpend,
    ) -> Result<BucketState, Error> {
        let fresh = spend.on_empty();
        let conn = self.conn()?;
        // `base` is max(b.tat, now), spelt as a CASE: two-argument max is SQLite's alone.
        // Every SET expression sees the row as it was before the update, on both engines.
        let state = conn.query_row(
            "INSERT INTO rate_limit_buckets AS b (class, client_hash, tat, admitted) \
             VALUES (?1, ?2, ?7, ?8) \
             ON CONFLICT (class, client_hash) DO UPDATE SET \
             tat = CASE WHEN (CASE WHEN b.tat > ?3 THEN b.tat ELSE ?3 END) + ?4 + ?5 - ?6 <= ?3 \
                   THEN (CASE WHEN b.tat > ?3 THEN b.tat ELSE ?3 END) + ?4 + ?5 \
                   ELSE (CASE WHEN b.tat > ?3 THEN b.tat ELSE ?3 END) + ?4 END, \
             admitted = CASE WHEN (CASE WHEN b.tat > ?3 THEN b.tat ELSE ?3 END) + ?4 + ?5 - ?6 \
                   <= ?3 THEN 1 ELSE 0 END \
             RETURNING tat, admitted",
            params![
                class,
                client_hash,
                spend.now_millis,
                spend.pending_millis,
                spend.cost_millis,
                spend.burst_millis,
                fresh.tat_millis,
                fresh.admitted
            ],
            |row| {
                Ok(BucketState {
                    tat_millis: row.get(0)?,
                    admitted: row.get(1)?,
                })
            },
        )?;
        Ok(state)
    }

    /// Deletes the buckets that have refilled by `now_millis` (they carry nothing: a missing
    /// bucket is a full one), so the table holds only clients active in the last window.
    /// Returns how many went.
    pub fn prune_rate_buckets(&self, now_millis: i64) -> Result<usize, Error> {
        Ok(self.conn()?.execute(
            "DELETE FROM rate_limit_buckets WHERE tat <= ?1",
            params![now_millis],
        )?)
    }

    /// How many shared buckets exist (for tests and diagnostics).
    pub fn rate_bucket_count(&self) -> Result<usize, Error> {
        Ok(self.conn()?.query_row(
            "SELECT count(*) FROM rate_limit_buckets",
            params![],
            |row| row.get(0),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    /// A spend of one request of a limit of 10 per minute (interval 6 s, burst 60 s).
    fn one(now: i64) -> BucketSpend {
        BucketSpend {
            now_millis: now,
            pending_millis: 0,
            cost_millis: 6_000,
            burst_millis: 60_000,
        }
    }

    #[test]
    fn the_statement_is_gcra_a_burst_then_one_per_interval() {
        let temp = temp_store();
        let store = &temp.store;
        for i in 1..=10 {
            let state = store.spend_rate_bucket("login_ip", "h", &one(0)).unwrap();
            assert_eq!(
                state,
                BucketState {
                    tat_millis: i * 6_000,
                    admitted: true
                }
            );
        }
        // The eleventh is refused and costs nothing.
        for _ in 0..3 {
            let state = store.spend_rate_bucket("login_ip", "h", &one(0)).unwrap();
            assert_eq!(
                state,
                BucketState {
                    tat_millis: 60_000,
                    admitted: false
                }
            );
        }
        assert!(
            !store
                .spend_rate_bucket("login_ip", "h", &one(5_999))
                .unwrap()
                .admitted
        );
        let state = store
            .spend_rate_bucket("login_ip", "h", &one(6_000))
            .unwrap();
        assert_eq!(
            state,
            BucketState {
                tat_millis: 66_000,
                admitted: true
            }
        );
        // Another class or client is another bucket.
        assert!(
            store
                .spend_rate_bucket("login_email", "h", &one(0))
                .unwrap()
                .admitted
        );
        assert!(
            store
                .spend_rate_bucket("login_ip", "g", &one(0))
                .unwrap()
                .admitted
        );
    }

    #[test]
    fn a_refilled_bucket_starts_from_now_and_pending_time_is_always_added() {
        let temp = temp_store();
        let store = &temp.store;
        store.spend_rate_bucket("public", "h", &one(0)).unwrap();
        // Long after, the old TAT is in the past: the spend counts from now.
        let state = store
            .spend_rate_bucket("public", "h", &one(1_000_000))
            .unwrap();
        assert_eq!(state.tat_millis, 1_006_000);
        // A sync adds what a node admitted, even past the burst, and decides nothing.
        let sync = BucketSpend {
            pending_millis: 70_000,
            cost_millis: 0,
            ..one(1_000_000)
        };
        let state = store.spend_rate_bucket("public", "h", &sync).unwrap();
        assert_eq!(state.tat_millis, 1_076_000);
        // Then a request is refused until the debt is paid back.
        assert!(
            !store
                .spend_rate_bucket("public", "h", &one(1_021_999))
                .unwrap()
                .admitted
        );
        assert!(
            store
                .spend_rate_bucket("public", "h", &one(1_022_000))
                .unwrap()
                .admitted
        );
        // A first spend with pending time past the burst is refused but records the time.
        let state = store
            .spend_rate_bucket(
                "public",
                "new",
                &BucketSpend {
                    pending_millis: 60_000,
                    ..one(0)
                },
            )
            .unwrap();
        assert_eq!(
            state,
            BucketState {
                tat_millis: 60_000,
                admitted: false
            }
        );
    }

    #[test]
    fn pruning_deletes_only_refilled_buckets() {
        let temp = temp_store();
        let store = &temp.store;
        store.spend_rate_bucket("public", "old", &one(0)).unwrap();
        store
            .spend_rate_bucket("public", "busy", &one(10_000))
            .unwrap();
        assert_eq!(store.prune_rate_buckets(6_000).unwrap(), 1);
        assert_eq!(store.rate_bucket_count().unwrap(), 1);
        assert_eq!(store.prune_rate_buckets(16_000).unwrap(), 1);
        assert_eq!(store.rate_bucket_count().unwrap(), 0);
    }
}
