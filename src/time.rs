//! Timestamps as the clients expect them: UTC, millisecond precision, RFC 3339 with `Z`.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

/// The current time, truncated to milliseconds so that what is stored (SQLite text or
/// PostgreSQL `timestamptz`) reads back equal to what was acknowledged.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// `2026-01-21T10:30:00.000Z`, the way JavaScript's `Date#toJSON` writes it.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// serde `serialize_with` helpers for timestamps.
pub mod serde_rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    /// Serialises a timestamp with [`super::format`].
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(t))
    }

    /// Serialises an optional timestamp with [`super::format`], or `null`.
    pub fn option<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format(t)),
            None => s.serialize_none(),
        }
    }
}
