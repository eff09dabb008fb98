//! One error type for the whole server, and its two faces: an HTTP status with a JSON body, and a
//! Socket.IO acknowledgement `{success:false, error:{code, message}}`.
//!
//! Internal details (SQL, paths) are logged once where the error is made and never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Everything that can go wrong while serving a client.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed or out-of-range input.
    #[error("{0}")]
    Validation(String),
    /// Missing or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed to touch this.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (or not visible to this user).
    #[error("{0}")]
    NotFound(String),
    /// The route exists, not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Clashes with what is already stored.
    #[error("{0}")]
    Conflict(String),
    /// A request body that did not arrive within `HTTP_HEADER_TIMEOUT_MS`.
    #[error("{0}")]
    RequestTimeout(String),
    /// A request body over the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Well-formed but impossible (messaging yourself).
    #[error("{0}")]
    Unprocessable(String),
    /// An edit after the message's edit window closed (`EDIT_WINDOW_SECS`).
    #[error("{0}")]
    EditWindowExpired(String),
    /// One of two users blocks the other: no chat, message or typing between them.
    #[error("{0}")]
    Blocked(String),
    /// An upload whose content is of a type not accepted, or not the type it claims.
    #[error("{0}")]
    UnsupportedMedia(String),
    /// Too many requests.
    #[error("{0}")]
    RateLimited(String),
    /// The database cannot be reached (or is busy past its timeout), or the server is stopping:
    /// the same request may succeed shortly. The text is for the log only.
    #[error("the service is unavailable for a moment; retry shortly")]
    Unavailable(String),
    /// Anything else. The text is for the log only.
    #[error("internal error")]
    Internal(String),
}

/// `Result` with [`AppError`].
pub type AppResult<T> = Result<T, AppError>;

/// The `error` object of every failure answer.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// Stable machine-readable code (`VALIDATION`, `FORBIDDEN` ...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl AppError {
    /// Shorthand for [`AppError::Validation`].
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation(message.into())
    }

    /// Logs `detail` and returns an [`AppError::Internal`] whose client-facing text is generic.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let detail = detail.to_string();
        tracing::error!(error = %detail, "internal error");
        Self::Internal(detail)
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "VALIDATION",
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            Self::Conflict(_) => "CONFLICT",
            Self::RequestTimeout(_) => "REQUEST_TIMEOUT",
            Self::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            Self::Unprocessable(_) => "UNPROCESSABLE",
            Self::EditWindowExpired(_) => "EDIT_WINDOW_EXPIRED",
            Self::Blocked(_) => "BLOCKED",
            Self::UnsupportedMedia(_) => "UNSUPPORTED_MEDIA_TYPE",
            Self::RateLimited(_) => "RATE_LIMITED",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::EditWindowExpired(_) | Self::Blocked(_) => StatusCode::FORBIDDEN,
            Self::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told: the message, except for internal errors.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            message: self.to_string(),
        }
    }

    /// The Socket.IO acknowledgement for this error.
    pub fn to_ack(&self) -> serde_json::Value {
        serde_json::json!({ "success": false, "error": self.body() })
    }
}

/// Seconds a client is told to wait before retrying after `503 UNAVAILABLE`.
pub const RETRY_AFTER_SECS: u32 = 2;

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return Self::Unavailable(format!("database: {err}"));
        }
        Self::internal(format_args!("database: {err}"))
    }
}

/// Whether a database error says the database cannot serve now (unreachable, restarting,
/// out of connections, locked past the busy timeout) rather than that the request was wrong.
pub fn is_unavailable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, SqlxError};
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match &**sqlx {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::Protocol(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        SqlxError::Database(db) => {
            let sqlite = db.try_downcast_ref::<sea_orm::SqlxSqliteError>().is_some();
            db.code().is_some_and(|code| {
                if sqlite {
                    sqlite_busy(&code)
                } else {
                    postgres_unavailable(&code)
                }
            })
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs of a database that cannot serve now: class 08 (connection exception),
/// 53300 (too many connections), 57P01 to 57P03 (shutting down or starting).
fn postgres_unavailable(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P02" | "57P03")
}

/// SQLite's busy and locked result codes (primary 5 and 6, with their extended codes).
fn sqlite_busy(code: &str) -> bool {
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = self.body();
        let json = serde_json::json!({
            "success": false,
            "message": body.message,
            "error": body,
        });
        let mut response = (self.status(), axum::Json(json)).into_response();
        if matches!(self, Self::Unavailable(_)) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(RETRY_AFTER_SECS),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status_and_code() {
        let cases = [
            (AppError::validation("v"), 400, "VALIDATION"),
            (AppError::Unauthorized("u".into()), 401, "UNAUTHORIZED"),
            (AppError::Forbidden("f".into()), 403, "FORBIDDEN"),
            (AppError::NotFound("n".into()), 404, "NOT_FOUND"),
            (
                AppError::MethodNotAllowed("m".into()),
                405,
                "METHOD_NOT_ALLOWED",
            ),
            (AppError::Conflict("c".into()), 409, "CONFLICT"),
            (AppError::RequestTimeout("t".into()), 408, "REQUEST_TIMEOUT"),
            (
                AppError::PayloadTooLarge("p".into()),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (AppError::Unprocessable("x".into()), 422, "UNPROCESSABLE"),
            (
                AppError::EditWindowExpired("x".into()),
                403,
                "EDIT_WINDOW_EXPIRED",
            ),
            (AppError::Blocked("b".into()), 403, "BLOCKED"),
            (
                AppError::UnsupportedMedia("m".into()),
                415,
                "UNSUPPORTED_MEDIA_TYPE",
            ),
            (AppError::RateLimited("r".into()), 429, "RATE_LIMITED"),
            (AppError::Unavailable("u".into()), 503, "UNAVAILABLE"),
            (AppError::Internal("secret sql".into()), 500, "INTERNAL"),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status().as_u16(), status);
            assert_eq!(err.code(), code);
            let ack = err.to_ack();
            assert_eq!(ack["success"], false);
            assert_eq!(ack["error"]["code"], code);
        }
    }

    #[test]
    fn an_unreachable_or_busy_database_is_unavailable() {
        use sea_orm::{DbErr, RuntimeErr};
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let sqlx = |e| RuntimeErr::SqlxError(std::sync::Arc::new(e));
        let down = DbErr::Exec(sqlx(sea_orm::SqlxError::Io(io)));
        assert!(is_unavailable(&down));
        assert!(is_unavailable(&DbErr::Query(sqlx(
            sea_orm::SqlxError::PoolTimedOut
        ))));
        assert!(!is_unavailable(&DbErr::RecordNotFound("x".into())));
        for code in ["08006", "57P01", "53300"] {
            assert!(postgres_unavailable(code), "{code}");
        }
        // 42501 (insufficient privilege) is a setup mistake, not a moment to wait out.
        for code in ["23505", "42P01", "42501", "22021", "5", "517"] {
            assert!(!postgres_unavailable(code), "{code}");
        }
        for code in ["5", "517", "6", "262"] {
            assert!(sqlite_busy(code), "{code}");
        }
        for code in ["19", "2067", "1", "08006"] {
            assert!(!sqlite_busy(code), "{code}");
        }
        let response = AppError::from(down).into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "2");
    }

    #[test]
    fn internal_details_stay_on_the_server() {
        let err = AppError::Internal("SELECT * FROM users failed at /var/db".into());
        assert_eq!(err.body().message, "internal error");
        assert!(!err.to_ack().to_string().contains("SELECT"));
    }
}
