//! Ids as they cross the wire: user ids that keep the JSON type the token gave them, and numeric
//! conversation / message ids that may arrive as numbers or digit strings.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::AppError;

/// Longest accepted user id, in bytes.
pub const MAX_USER_ID_LEN: usize = 128;

/// A user id. `key` is the text stored in the database (`"1"`, `"alice"`); `numeric` says whether
/// it is rendered as a JSON number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserId {
    key: String,
    numeric: bool,
}

impl UserId {
    /// A user id from its stored form.
    pub fn from_stored(key: String, numeric: bool) -> Self {
        let numeric = numeric && key.parse::<i64>().is_ok();
        Self { key, numeric }
    }

    /// Reads a user id from a JSON value: an integer, or a non-empty string of at most
    /// [`MAX_USER_ID_LEN`] bytes.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        match value {
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Ok(Self {
                    key: i.to_string(),
                    numeric: true,
                }),
                (None, Some(_)) => Err("user id is out of range".to_owned()),
                _ => Err("user id must be an integer or a string".to_owned()),
            },
            serde_json::Value::String(s) => {
                let s = s.trim();
                if s.is_empty() {
                    Err("user id must not be empty".to_owned())
                } else if s.len() > MAX_USER_ID_LEN {
                    Err(format!("user id is longer than {MAX_USER_ID_LEN} bytes"))
                } else if s.chars().any(char::is_control) {
                    Err("user id contains control characters".to_owned())
                } else {
                    Ok(Self {
                        key: s.to_owned(),
                        numeric: false,
                    })
                }
            }
            _ => Err("user id must be an integer or a string".to_owned()),
        }
    }

    /// Reads a user id from the text of a URL path segment (a string, as
    /// [`UserId::from_json`] reads one); `400 VALIDATION` if it is not one.
    pub fn parse_path(text: &str) -> Result<Self, AppError> {
        Self::from_json(&serde_json::Value::String(text.to_owned())).map_err(AppError::validation)
    }

    /// The stored text form.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether it is rendered as a JSON number.
    pub fn is_numeric(&self) -> bool {
        self.numeric
    }

    /// The order of the two users of a direct conversation: numerically when both are
    /// numbers, else by text.
    pub fn ordered_pair<'a>(a: &'a UserId, b: &'a UserId) -> (&'a UserId, &'a UserId) {
        let a_first = match (a.key.parse::<i64>(), b.key.parse::<i64>()) {
            (Ok(x), Ok(y)) if x != y => x < y,
            _ => a.key <= b.key,
        };
        if a_first { (a, b) } else { (b, a) }
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key)
    }
}

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.key.parse::<i64>() {
            Ok(n) if self.numeric => s.serialize_i64(n),
            _ => s.serialize_str(&self.key),
        }
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        UserId::from_json(&value).map_err(serde::de::Error::custom)
    }
}

/// A conversation or message id from a client: a positive integer, given as a JSON number or as
/// a string of digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Id(pub i64);

impl Id {
    /// Parses the text form used in URL paths.
    pub fn parse(text: &str, what: &str) -> Result<Self, AppError> {
        match text.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(AppError::validation(format!(
                "{what} must be a positive integer"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let n = match &value {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n > 0 => Ok(Id(n)),
            _ => Err(serde::de::Error::custom(format!(
                "expected a positive integer id, got {value}"
            ))),
        }
    }
}

/// Deserializes an optional client-chosen id (a `tempId`, a `clientMsgId`) given as a string or
/// a number, as text.
pub fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(serde::de::Error::custom("must be a string or a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_ids_keep_their_json_type() {
        let n = UserId::from_json(&json!(7)).unwrap_or_else(|e| panic!("{e}"));
        let s = UserId::from_json(&json!("7")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.key(), s.key());
        assert_eq!(serde_json::to_value(&n).ok(), Some(json!(7)));
        assert_eq!(serde_json::to_value(&s).ok(), Some(json!("7")));
        let named = UserId::from_json(&json!("alice")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(serde_json::to_value(&named).ok(), Some(json!("alice")));
    }

    #[test]
    fn bad_user_ids_are_refused() {
        for bad in [
            json!(1.5),
            json!(null),
            json!(""),
            json!({}),
            json!("x".repeat(200)),
        ] {
            assert!(UserId::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pairs_order_numerically_then_by_text() {
        let a = UserId::from_stored("10".into(), true);
        let b = UserId::from_stored("9".into(), true);
        assert_eq!(UserId::ordered_pair(&a, &b).0.key(), "9");
        assert_eq!(UserId::ordered_pair(&b, &a).0.key(), "9");
        // Different users whose ids read as the same number still get one order.
        let one = UserId::from_stored("1".into(), true);
        let zero_one = UserId::from_stored("01".into(), false);
        assert_eq!(UserId::ordered_pair(&one, &zero_one).0.key(), "01");
        assert_eq!(UserId::ordered_pair(&zero_one, &one).0.key(), "01");
    }

    #[test]
    fn ids_parse_from_numbers_and_digit_strings() {
        let parse = |v| serde_json::from_value::<Id>(v).ok();
        assert_eq!(parse(json!(3)), Some(Id(3)));
        assert_eq!(parse(json!("3")), Some(Id(3)));
        assert_eq!(parse(json!("abc")), None);
        assert_eq!(parse(json!(0)), None);
        assert_eq!(parse(json!(-1)), None);
        assert!(Id::parse("x", "conversation id").is_err());
    }
}
