//! The REST extractor: `Authorization: Bearer <token>`, else `401` with a JSON error body.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::auth::{Identity, bearer};
use crate::error::AppError;
use crate::http::ApiState;

/// The authenticated caller of a REST request.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Identity);

impl FromRequestParts<ApiState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, AppError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = bearer(header).ok_or_else(|| {
            AppError::Unauthorized("missing token: send Authorization: Bearer <token>".to_owned())
        })?;
        let identity = state.app.verifier.verify(token)?;
        state.app.chat.remember_identity(&identity).await?;
        Ok(AuthUser(identity))
    }
}
