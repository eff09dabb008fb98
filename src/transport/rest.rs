//! The REST door's machinery, shared by every protocol: the authenticated caller
//! ([`AuthUser`]), extractors whose rejections are [`AppError`]s, the `{ success, message?, data }`
//! envelope the seeds answer in, page parameters, and the routes every server has (`/health`,
//! the JSON 404 and 405).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{Identity, bearer};
use crate::error::AppError;
use crate::service::views::PageRequest;
use crate::state::AppState;

/// Largest page size a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// The authenticated caller of a REST request: `Authorization: Bearer <token>`, else `401`.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let app = AppState::from_ref(state);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = bearer(header).ok_or_else(|| {
            AppError::Unauthorized("missing token: send Authorization: Bearer <token>".to_owned())
        })?;
        let identity = app.verifier.verify(token)?;
        app.chat.remember_identity(&identity).await?;
        Ok(AuthUser(identity))
    }
}

/// The routes of every server around the protocols' own: `/health`, and JSON answers for
/// unknown routes and methods.
pub fn around(protocols: Router<AppState>) -> Router<AppState> {
    protocols
        .route("/health", axum::routing::get(health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> AppError {
    AppError::NotFound("no such route".to_owned())
}

/// The JSON `405` of a route that does not take the method (each protocol's nested router
/// sets it too, since a nested router keeps its own fallback).
pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed("this route does not take that method".to_owned())
}

/// Runs a state-changing call to its end even if the client goes away mid-request (axum drops
/// the handler's future then): a send whose transaction committed is always broadcast.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, AppError>> + Send + 'static,
) -> Result<T, AppError> {
    tokio::spawn(work).await.map_err(AppError::internal)?
}

/// Stores a message sent over REST, to its end even if the client goes away (see
/// [`detached`]): the message, with `201` when this request stored it and `200` when it
/// repeats an earlier send's client id.
pub(crate) async fn store_message(
    app: &AppState,
    sender: crate::ids::UserId,
    input: crate::service::messages::SendInput,
) -> Result<(crate::service::views::MessageView, StatusCode), AppError> {
    let chat = app.chat.clone();
    let sent = detached(async move { chat.send_message(&sender, input).await }).await?;
    let status = if sent.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((sent.message, status))
}

/// A success answer: `{ success: true, message?, data }` with a status.
#[derive(Debug)]
pub struct Envelope<T> {
    status: StatusCode,
    message: Option<&'static str>,
    data: T,
}

impl<T: Serialize> Envelope<T> {
    /// `200` with `data`.
    pub fn ok(data: T) -> Self {
        Self {
            status: StatusCode::OK,
            message: None,
            data,
        }
    }

    /// Sets the status.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Sets the `message` sentence.
    pub fn message(mut self, message: &'static str) -> Self {
        self.message = Some(message);
        self
    }
}

#[derive(Serialize)]
struct EnvelopeBody<'a, T> {
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    data: &'a T,
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        let body = EnvelopeBody {
            success: true,
            message: self.message,
            data: &self.data,
        };
        (self.status, Json(body)).into_response()
    }
}

/// A JSON body whose every rejection is an [`AppError`] (400, or 413 over the size limit).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_error(&rejection)),
        }
    }
}

fn json_error(rejection: &JsonRejection) -> AppError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::PayloadTooLarge("request body is too large".to_owned())
        }
        _ => AppError::validation(rejection.body_text()),
    }
}

/// Query parameters whose rejection is a `400` [`AppError`].
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_error(&rejection)),
        }
    }
}

/// A path parameter whose rejection (bad UTF-8, say) is a `400` [`AppError`].
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(AppError::validation(rejection.body_text())),
        }
    }
}

fn query_error(rejection: &QueryRejection) -> AppError {
    AppError::validation(rejection.body_text())
}

/// `page` and `limit` query parameters, as text so that bad values get a clear error.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    /// Page number, from 1.
    pub page: Option<String>,
    /// Page size, 1 to [`MAX_PAGE_SIZE`].
    pub limit: Option<String>,
}

impl PageQuery {
    /// The page asked for, with `default_limit` when none is given.
    pub fn resolve(&self, default_limit: u64) -> Result<PageRequest, AppError> {
        let page = parse_positive(self.page.as_deref(), "page")?.unwrap_or(1);
        let limit = parse_positive(self.limit.as_deref(), "limit")?.unwrap_or(default_limit);
        if limit > MAX_PAGE_SIZE {
            return Err(AppError::validation(format!(
                "limit must be at most {MAX_PAGE_SIZE}"
            )));
        }
        if page > 1_000_000 {
            return Err(AppError::validation("page is too large"));
        }
        Ok(PageRequest { page, limit })
    }
}

fn parse_positive(text: Option<&str>, name: &str) -> Result<Option<u64>, AppError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => match t.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(AppError::validation(format!(
                "{name} must be a positive integer"
            ))),
        },
    }
}

/// The `Idempotency-Key` header of a send, if it has one (printable text, else `400`).
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, AppError> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| AppError::validation("Idempotency-Key must be printable text"))
        })
        .transpose()
}

/// A `seq` cursor query parameter named `name`: absent, empty, or a non-negative integer.
pub fn seq_cursor(text: Option<&str>, name: &str) -> Result<Option<i64>, AppError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| AppError::validation(format!("{name} must be a non-negative integer"))),
    }
}

/// `{ page, limit, total, totalPages }`, as the seeds' paged answers carry it.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    page: u64,
    limit: u64,
    total: u64,
    total_pages: u64,
}

impl Pagination {
    /// The numbers of `page`, one of pages of `limit`.
    pub fn of<T>(page: &crate::service::views::Page<T>, limit: u64) -> Self {
        Self {
            page: page.page,
            limit,
            total: page.total,
            total_pages: page.total_pages,
        }
    }

    /// Whether pages come after this one.
    pub fn has_more(&self) -> bool {
        self.page < self.total_pages
    }
}

/// The query of a search: `q`, `page`, `limit`.
#[derive(Debug, serde::Deserialize)]
pub struct SearchQuery {
    /// The page.
    #[serde(flatten)]
    pub page: PageQuery,
    /// The text to find.
    pub q: Option<String>,
}
