//! A small bounded map whose entries expire, for facts the send path would otherwise read from
//! the database on every message: who is in a conversation, which conversation a pair shares,
//! what a user looks like.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached fact is trusted. Changes made behind this process's back (another node, a
/// hand edit in the database) are seen at most this late.
pub(crate) const TTL: Duration = Duration::from_secs(60);
/// Entries kept per cache before it is emptied and refilled from the database.
const MAX_ENTRIES: usize = 100_000;

/// A map of `K` to `V` whose entries expire after [`TTL`]. A cache, not a registry: forgetting
/// an entry only costs a database read.
#[derive(Debug)]
pub(crate) struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// The value cached for `key`, unless it expired.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let map = self.entries.lock().ok()?;
        let (value, at) = map.get(key)?;
        (at.elapsed() < TTL).then(|| value.clone())
    }

    /// Forgets `key` (what it held is no longer true).
    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(key);
        }
    }

    /// Caches `value` for `key`, as true from now on.
    pub(crate) fn put(&self, key: K, value: V) {
        self.store(key, value, true);
    }

    /// Caches `value` for `key` unless a live entry is there: a value read earlier must not
    /// extend the life of what this cache already trusts.
    pub(crate) fn fill(&self, key: K, value: V) {
        self.store(key, value, false);
    }

    fn store(&self, key: K, value: V, replace: bool) {
        if let Ok(mut map) = self.entries.lock() {
            if !replace && map.get(&key).is_some_and(|(_, at)| at.elapsed() < TTL) {
                return;
            }
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key, (value, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_it_was_given_until_full() {
        let cache: TtlCache<String, u32> = TtlCache::default();
        assert_eq!(cache.get("a"), None);
        cache.put("a".to_owned(), 1);
        assert_eq!(cache.get("a"), Some(1));
        for i in 0..MAX_ENTRIES {
            cache.put(i.to_string(), 2);
        }
        // Filling it empties it once, so the oldest entries are gone and the newest kept.
        assert_eq!(cache.get("a"), None);
        assert_eq!(cache.get(&(MAX_ENTRIES - 1).to_string()), Some(2));
    }

    #[test]
    fn fill_does_not_replace_a_live_entry_and_put_does() {
        let cache: TtlCache<&str, u32> = TtlCache::default();
        cache.fill("a", 1);
        assert_eq!(cache.get("a"), Some(1));
        cache.fill("a", 2);
        assert_eq!(cache.get("a"), Some(1));
        cache.put("a", 3);
        assert_eq!(cache.get("a"), Some(3));
    }
}
