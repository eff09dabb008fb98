//! Who is calling: token verification, and the two doors that use it (the REST extractor in
//! [`http`], the Socket.IO connect middleware in [`socket`]).

pub mod http;
pub mod socket;

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::AppError;
use crate::ids::UserId;

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
    user_claim: Option<String>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("algorithms", &self.validation.algorithms)
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
        let mut validation = Validation::new(algorithm);
        validation.leeway = config.jwt_leeway_secs;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = false;
        Ok(Self {
            key,
            validation,
            user_claim: config.jwt_user_claim.clone(),
        })
    }

    /// Checks signature, algorithm and expiry, and reads the user id and display details.
    pub fn verify(&self, token: &str) -> Result<Identity, AppError> {
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
        let expires_at = claims.get("exp").and_then(Value::as_u64);
        Ok(Identity {
            user,
            profile,
            expires_at: expires_at.map(|exp| exp.saturating_add(self.validation.leeway)),
        })
    }
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
