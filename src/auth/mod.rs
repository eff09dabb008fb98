//! Who is calling: token verification, and where each door finds the token (the REST extractor
//! is `transport::rest::AuthUser`, the Socket.IO connect middleware `transport::socket`).

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::AppError;
use crate::ids::UserId;

/// The token of a Socket.IO handshake: its `auth.token` (with or without `Bearer `), else an
/// `Authorization: Bearer` header, else a `?token=` query parameter.
pub fn handshake_token(auth: Option<&Value>, parts: &axum::http::request::Parts) -> Option<String> {
    let from_auth = auth
        .and_then(|a| a.get("token"))
        .and_then(Value::as_str)
        .map(|t| bearer(Some(t)).unwrap_or(t).trim().to_owned())
        .filter(|t| !t.is_empty());
    if from_auth.is_some() {
        return from_auth;
    }
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(t) = bearer(header) {
        return Some(t.to_owned());
    }
    parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| v.to_owned())
            .filter(|v| !v.is_empty())
    })
}

/// Claims tried, in order, when `JWT_USER_CLAIM` is not set.
pub const DEFAULT_USER_CLAIMS: [&str; 4] = ["sub", "id", "userId", "user_id"];

/// Longest display detail kept from a token, in characters.
const MAX_PROFILE_FIELD: usize = 512;

pub use crate::service::users::{Identity, Profile};

/// Verifies tokens with the configured key and algorithm.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    leeway: u64,
    user_claim: Option<String>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("algorithms", &self.validation.algorithms)
            .field("leeway", &self.leeway)
            .field("user_claim", &self.user_claim)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier for the configuration: RS256/ES256 with `JWT_PUBLIC_KEY_FILE` when set, else
    /// HS256 with `secret`.
    pub fn new(config: &Config, secret: &str) -> Result<Self, String> {
        let (key, algorithm) = match &config.jwt_public_key_file {
            Some(path) => public_key(path)?,
            None => (
                DecodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
            ),
        };
        // The library checks the signature and algorithm; the times are checked in
        // [`token_times`], which reads them whatever their JSON number form.
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims::<&str>(&[]);
        validation.validate_aud = false;
        Ok(Self {
            key,
            validation,
            leeway: config.jwt_leeway_secs,
            user_claim: config.jwt_user_claim.clone(),
        })
    }

    /// Checks signature, algorithm, expiry and start times, and reads the user id and display
    /// details.
    pub fn verify(&self, token: &str) -> Result<Identity, AppError> {
        self.verify_at(token, jsonwebtoken::get_current_timestamp())
    }

    /// [`TokenVerifier::verify`] as if the time were `now` (Unix seconds).
    fn verify_at(&self, token: &str, now: u64) -> Result<Identity, AppError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|e| {
            let why = match e.kind() {
                ErrorKind::ExpiredSignature => "token expired".to_owned(),
                ErrorKind::InvalidSignature => "invalid token: bad signature".to_owned(),
                ErrorKind::InvalidAlgorithm => "invalid token: algorithm not accepted".to_owned(),
                ErrorKind::MissingRequiredClaim(c) => format!("invalid token: missing {c}"),
                _ => "invalid token: malformed".to_owned(),
            };
            AppError::Unauthorized(why)
        })?;
        let claims = data.claims;
        let expires_at = token_times(&claims, now, self.leeway)?;
        let raw_id = match &self.user_claim {
            Some(name) => claims.get(name),
            None => DEFAULT_USER_CLAIMS.iter().find_map(|c| claims.get(*c)),
        }
        .ok_or_else(|| AppError::Unauthorized("invalid token: no user id claim".to_owned()))?;
        let user = UserId::from_json(raw_id)
            .map_err(|e| AppError::Unauthorized(format!("invalid token: {e}")))?;
        // Display details are kept printable and bounded, whatever the token carries.
        let text = |name: &str| {
            claims.get(name).and_then(Value::as_str).map(|s| {
                s.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_PROFILE_FIELD)
                    .collect::<String>()
            })
        };
        let profile = Profile {
            name: text("name"),
            username: text("username"),
            email: text("email"),
            avatar: text("avatar").or_else(|| text("picture")),
        };
        Ok(Identity {
            user,
            profile,
            expires_at,
        })
    }
}

/// Checks a token's times against `now`, with `leeway` seconds of clock skew either way, and
/// returns when it stops being accepted (its `exp` plus the leeway). `exp` is required; `nbf`
/// and `iat` are optional. Each is a JSON number, integer or not (PyJWT writes
/// `time.time() + 3600`, a float), read down to the whole second; a time that is not a finite,
/// non-negative number refuses the token.
fn token_times(claims: &Map<String, Value>, now: u64, leeway: u64) -> Result<u64, AppError> {
    let time = |name: &'static str| -> Result<Option<u64>, AppError> {
        let Some(value) = claims.get(name) else {
            return Ok(None);
        };
        let seconds = match value {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e15)
                    // Below 1e15, so the whole seconds fit in u64.
                    .map(|f| f.floor() as u64)
            }),
            _ => None,
        };
        seconds.map(Some).ok_or_else(|| {
            AppError::Unauthorized(format!("invalid token: {name} must be a number of seconds"))
        })
    };
    let exp = time("exp")?
        .ok_or_else(|| AppError::Unauthorized("invalid token: missing exp".to_owned()))?;
    let nbf = time("nbf")?;
    let iat = time("iat")?;
    let until = exp.saturating_add(leeway);
    if until <= now {
        return Err(AppError::Unauthorized("token expired".to_owned()));
    }
    let starts = nbf.into_iter().chain(iat).max();
    if starts.is_some_and(|t| t > now.saturating_add(leeway)) {
        return Err(AppError::Unauthorized(
            "token not yet valid (nbf or iat is in the future)".to_owned(),
        ));
    }
    Ok(until)
}

fn public_key(path: &Path) -> Result<(DecodingKey, Algorithm), String> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("cannot read JWT_PUBLIC_KEY_FILE {}: {e}", path.display()))?;
    if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
        return Ok((key, Algorithm::RS256));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        return Ok((key, Algorithm::ES256));
    }
    Err(format!(
        "JWT_PUBLIC_KEY_FILE {} is neither an RSA nor an EC public key in PEM",
        path.display()
    ))
}

/// Mints an HS256 token for `user` (a JSON number when it parses as one), valid for `ttl_secs`.
pub fn mint_token(
    secret: &str,
    user: &str,
    name: Option<&str>,
    ttl_secs: u64,
) -> Result<String, String> {
    let id = match user.parse::<i64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::from(user),
    };
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = Map::new();
    claims.insert("sub".to_owned(), id);
    claims.insert("iat".to_owned(), Value::from(now));
    claims.insert("exp".to_owned(), Value::from(now.saturating_add(ttl_secs)));
    if let Some(name) = name {
        claims.insert("name".to_owned(), Value::from(name));
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| format!("cannot sign token: {e}"))
}

/// Reads a token from an `Authorization: Bearer` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(&Config::with_defaults(None), "s3cret").unwrap()
    }

    fn sign(claims: Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn exp() -> u64 {
        jsonwebtoken::get_current_timestamp() + 600
    }

    #[test]
    fn reads_the_first_present_id_claim() {
        let v = verifier();
        let id = v
            .verify(&sign(json!({"userId": 5, "exp": exp()}), "s3cret"))
            .unwrap();
        assert_eq!(serde_json::to_value(&id.user).unwrap(), json!(5));
        let id = v
            .verify(&sign(
                json!({"sub": "ann", "id": 9, "name": "Ann", "exp": exp()}),
                "s3cret",
            ))
            .unwrap();
        assert_eq!(serde_json::to_value(&id.user).unwrap(), json!("ann"));
        assert_eq!(id.profile.name.as_deref(), Some("Ann"));
    }

    #[test]
    fn a_configured_user_claim_is_the_only_one_read() {
        let mut config = Config::with_defaults(None);
        config.jwt_user_claim = Some("uid".to_owned());
        let v = TokenVerifier::new(&config, "s3cret").unwrap();
        let id = v
            .verify(&sign(
                json!({"sub": "ignored", "uid": 77, "exp": exp()}),
                "s3cret",
            ))
            .unwrap();
        assert_eq!(serde_json::to_value(&id.user).unwrap(), json!(77));
        let err = v
            .verify(&sign(json!({"sub": 1, "exp": exp()}), "s3cret"))
            .unwrap_err();
        assert!(err.to_string().contains("no user id"), "{err}");
    }

    #[test]
    fn refuses_bad_tokens() {
        let v = verifier();
        let cases = [
            (
                sign(json!({"sub": 1, "exp": exp()}), "other"),
                "bad signature",
            ),
            (sign(json!({"sub": 1, "exp": 1_000}), "s3cret"), "expired"),
            (sign(json!({"sub": 1}), "s3cret"), "missing exp"),
            (
                sign(json!({"name": "x", "exp": exp()}), "s3cret"),
                "no user id",
            ),
            ("not.a.token".to_owned(), "malformed"),
        ];
        for (token, why) in cases {
            let err = v.verify(&token).unwrap_err();
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
        // alg "none": header {"alg":"none"}, no signature.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOjEsImV4cCI6OTk5OTk5OTk5OX0.";
        assert!(v.verify(none).is_err());
    }

    #[test]
    fn times_are_numbers_whatever_their_json_form() {
        // Leeway 30 s (the default), the clock at 1,000,000.
        let v = verifier();
        let now = 1_000_000_u64;
        let at = |claims: Value| v.verify_at(&sign(claims, "s3cret"), now);
        // A float exp (PyJWT's `time.time() + 3600`) is read to the second and expires.
        let float = at(json!({"sub": 22, "exp": 1_000_100.7})).unwrap();
        assert_eq!(float.expires_at, 1_000_100 + 30);
        let err = at(json!({"sub": 22, "exp": 999_960.5})).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        assert_eq!(
            at(json!({"sub": 22, "exp": 1_000_100})).unwrap().expires_at,
            1_000_130
        );
        // Within the leeway after exp, still accepted; at its end, refused.
        assert!(at(json!({"sub": 1, "exp": 999_971})).is_ok());
        assert!(at(json!({"sub": 1, "exp": 999_970})).is_err());
        for bad in [json!("1000100"), json!(-5), json!(null), json!(1e300)] {
            let err = at(json!({"sub": 1, "exp": bad})).unwrap_err();
            assert!(
                err.to_string().contains("exp must be a number"),
                "{bad}: {err}"
            );
        }
        let err = at(json!({"sub": 1, "exp": 1_000_100, "iat": "yesterday"})).unwrap_err();
        assert!(err.to_string().contains("iat must be a number"), "{err}");
    }

    #[test]
    fn tokens_from_the_future_are_refused() {
        let v = verifier();
        let now = 1_000_000_u64;
        let at = |claims: Value| v.verify_at(&sign(claims, "s3cret"), now);
        let exp = 1_100_000;
        // nbf tomorrow, as an integer or a float: not yet.
        for nbf in [json!(1_086_400), json!(1_086_400.25)] {
            let err = at(json!({"sub": 1, "exp": exp, "nbf": nbf})).unwrap_err();
            assert!(err.to_string().contains("not yet valid"), "{err}");
        }
        let err = at(json!({"sub": 1, "exp": exp, "iat": 1_000_031})).unwrap_err();
        assert!(err.to_string().contains("not yet valid"), "{err}");
        // Within the leeway, and in the past, fine.
        assert!(at(json!({"sub": 1, "exp": exp, "nbf": 1_000_030, "iat": 1_000_030.9})).is_ok());
        assert!(at(json!({"sub": 1, "exp": exp, "nbf": 999_000, "iat": 999_000})).is_ok());
    }

    #[test]
    fn minted_tokens_verify() {
        let token = mint_token("s3cret", "42", Some("Zed"), 60).unwrap();
        let id = verifier().verify(&token).unwrap();
        assert_eq!(serde_json::to_value(&id.user).unwrap(), json!(42));
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
