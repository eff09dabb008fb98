//! Per-user rate limits: a token bucket per user on this node. Every send and every event that
//! makes other people's clients hear something (a join, a typing indicator, a read receipt)
//! draws one token, so one user's flood costs that user, not everyone else.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Users tracked before the table starts over (a reset only forgives some sends).
const MAX_TRACKED: usize = 100_000;

/// A token bucket per user: `burst` sends at once, refilled at `per_sec` a second.
#[derive(Debug)]
pub(crate) struct UserRate {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl UserRate {
    /// A limiter; `per_sec == 0` allows everything.
    pub(crate) fn new(per_sec: u32, burst: u32) -> Self {
        Self {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `user`'s bucket; `false` when it is empty.
    pub(crate) fn allow(&self, user: &str) -> bool {
        if self.per_sec <= 0.0 {
            return true;
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(user) {
            buckets.clear();
        }
        let now = Instant::now();
        let (tokens, last) = buckets.entry(user.to_owned()).or_insert((self.burst, now));
        let refilled = *tokens + now.duration_since(*last).as_secs_f64() * self.per_sec;
        *tokens = refilled.min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refused_then_refilled() {
        let rate = UserRate::new(1_000, 3);
        assert!((0..3).all(|_| rate.allow("a")));
        assert!(!rate.allow("a"), "the bucket is empty");
        assert!(rate.allow("b"), "buckets are per user");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(rate.allow("a"), "refilled at 1000/s");
        let off = UserRate::new(0, 1);
        assert!((0..100).all(|_| off.allow("a")));
    }
}
