//! The list feeds (`/api/v1/changelogs/feed`, `/api/v1/blogs/feed`), built once per change to
//! content and served from memory until the next one.
//!
//! A list feed reads 50 items and escapes their text twice; under a flood that work, not the
//! sending, is what takes the workers. The documents depend only on published content and
//! the configuration, so each is kept with the store's content generation read *before* the
//! items were (see `Store::content_generation`): while the generation is unchanged, the kept
//! bytes are exactly what a rebuild would produce, and any create, update, publish, unpublish
//! or delete raises it when it commits (a counter in the database kept by triggers, so writes
//! by any process count), so the next request after it rebuilds. The
//! bytes served are the same as without the cache, so `ETag` and 304 answers are too.
//!
//! The cache holds at most one document per key (two keys today), each bounded by the feed
//! excerpts (see `content::feed::EXCERPT_BYTES`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// What a build produced: the document, and whether it may be kept.
pub struct Built {
    /// The document.
    pub body: Vec<u8>,
    /// False for a document that depends on more than content (an empty feed dates itself
    /// with the current time), which is then built again for every request.
    pub keep: bool,
}

/// A kept document: the content generation it was built from, and its bytes.
type Kept = (u64, Arc<Vec<u8>>);

/// Documents by key, each with the content generation it was built from.
#[derive(Debug, Default)]
pub struct FeedCache {
    documents: Mutex<HashMap<&'static str, Kept>>,
}

impl FeedCache {
    /// The document for `key` at content generation `generation`: the kept one if it was
    /// built from that generation, else `build`'s, kept unless a document of a newer
    /// generation was stored meanwhile. `build` runs without the lock held, so a slow build
    /// never blocks readers of another key or of a current document.
    pub fn get_or_build<E>(
        &self,
        key: &'static str,
        generation: u64,
        build: impl FnOnce() -> Result<Built, E>,
    ) -> Result<Vec<u8>, E> {
        let kept = self
            .lock()
            .get(key)
            .filter(|(built_from, _)| *built_from == generation)
            .map(|(_, body)| Arc::clone(body));
        if let Some(body) = kept {
            return Ok(body.as_ref().clone());
        }
        let built = build()?;
        if built.keep {
            let mut documents = self.lock();
            let newer = documents
                .get(key)
                .is_some_and(|(built_from, _)| *built_from > generation);
            if !newer {
                documents.insert(key, (generation, Arc::new(built.body.clone())));
            }
        } else {
            self.lock().remove(key);
        }
        Ok(built.body)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Kept>> {
        // The map is always whole (one insert or remove at a time), so a panic elsewhere
        // while it was held leaves nothing half-done.
        self.documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn build(text: &str, keep: bool, calls: &Cell<u32>) -> Result<Built, ()> {
        calls.set(calls.get() + 1);
        Ok(Built {
            body: text.as_bytes().to_vec(),
            keep,
        })
    }

    #[test]
    fn a_document_is_built_once_per_generation() {
        let cache = FeedCache::default();
        let calls = Cell::new(0);
        let first = cache.get_or_build("blog", 1, || build("one", true, &calls));
        let again = cache.get_or_build("blog", 1, || build("other", true, &calls));
        assert_eq!((first, again), (Ok(b"one".to_vec()), Ok(b"one".to_vec())));
        assert_eq!(calls.get(), 1);
        // A new generation rebuilds; another key is separate.
        let next = cache.get_or_build("blog", 2, || build("two", true, &calls));
        assert_eq!(next, Ok(b"two".to_vec()));
        let other = cache.get_or_build("changelog", 2, || build("cl", true, &calls));
        assert_eq!(other, Ok(b"cl".to_vec()));
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn a_late_build_of_an_older_generation_does_not_replace_a_newer_one() {
        let cache = FeedCache::default();
        let calls = Cell::new(0);
        cache
            .get_or_build("blog", 5, || build("new", true, &calls))
            .unwrap();
        let old = cache.get_or_build("blog", 4, || build("old", true, &calls));
        assert_eq!(
            old,
            Ok(b"old".to_vec()),
            "the request still gets what it built"
        );
        let current = cache.get_or_build("blog", 5, || build("x", true, &calls));
        assert_eq!(current, Ok(b"new".to_vec()));
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn unkept_documents_and_failures_are_not_served_again() {
        let cache = FeedCache::default();
        let calls = Cell::new(0);
        cache
            .get_or_build("blog", 1, || build("kept", true, &calls))
            .unwrap();
        cache
            .get_or_build("blog", 2, || build("empty", false, &calls))
            .unwrap();
        let after = cache.get_or_build("blog", 2, || build("empty 2", false, &calls));
        assert_eq!(after, Ok(b"empty 2".to_vec()));
        let failed: Result<Vec<u8>, &str> = cache.get_or_build("blog", 3, || Err("db down"));
        assert_eq!(failed, Err("db down"));
        let rebuilt = cache.get_or_build("blog", 3, || build("back", true, &calls));
        assert_eq!(rebuilt, Ok(b"back".to_vec()));
        assert_eq!(calls.get(), 4);
    }
}
