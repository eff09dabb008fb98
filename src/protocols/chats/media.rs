//! The media routes of the `chats` protocol, under `/api/media`: `POST /upload-chat-media`
//! (`multipart/form-data`: `file` and `chatId`), `POST /bulk-upload` (`files` and `chatId`),
//! `POST /delete` (`{ fileId }`), and `GET /files/:fileId`, where signed links lead.

use axum::Router;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::{get, post};

use crate::error::{AppError, AppResult};
use crate::protocols::chats::MEDIA_PREFIX;
use crate::protocols::chats::wire::{DeleteFileRequest, UploadJson};
use crate::state::AppState;
use crate::transport::rest::{
    ApiJson, ApiPath, ApiQuery, AuthUser, Envelope, detached, method_not_allowed,
};
use crate::transport::upload::{self, LinkQuery};

/// Most files in one bulk upload.
const MAX_BULK_FILES: usize = 10;

/// Every route, under [`MEDIA_PREFIX`]. Upload bodies are bounded per file, as they stream
/// (`MAX_UPLOAD_BYTES`), not by `MAX_BODY_BYTES`.
pub fn routes() -> Router<AppState> {
    let media = Router::new()
        .route("/upload-chat-media", post(upload))
        .route("/bulk-upload", post(bulk_upload))
        .layer(DefaultBodyLimit::disable())
        .route("/delete", post(delete))
        .route("/files/{file}", get(download))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new().nest(MEDIA_PREFIX, media)
}

/// `POST /upload-chat-media`: one `file` for the chat `chatId` (in either order).
pub async fn upload(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    form: Result<Multipart, MultipartRejection>,
) -> AppResult<Envelope<UploadJson>> {
    let mut files = upload::receive(&app, &me.user, form, 1, None).await?;
    let file = files
        .pop()
        .ok_or_else(|| AppError::Internal("an upload went missing".to_owned()))?;
    Ok(Envelope::ok(UploadJson(file)).message("File uploaded"))
}

/// `POST /bulk-upload`: up to ten `files` for the chat `chatId`.
pub async fn bulk_upload(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    form: Result<Multipart, MultipartRejection>,
) -> AppResult<Envelope<Vec<UploadJson>>> {
    let files = upload::receive(&app, &me.user, form, MAX_BULK_FILES, None).await?;
    Ok(Envelope::ok(files.into_iter().map(UploadJson).collect()).message("Files uploaded"))
}

/// `POST /delete`: `{ fileId }`, the uploader only; the file leaves storage.
pub async fn delete(
    State(app): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(body): ApiJson<DeleteFileRequest>,
) -> AppResult<Envelope<UploadJson>> {
    let chat = app.chat.clone();
    let file = detached(async move { chat.delete_file(&me.user, &body.file_id).await }).await?;
    Ok(Envelope::ok(UploadJson(file)).message("File deleted"))
}

/// `GET /files/:fileId`: with a signed link's `expires` and `signature` (no token, as an
/// `<img src>` asks), or with the user's own token.
pub async fn download(
    State(app): State<AppState>,
    ApiPath(file): ApiPath<String>,
    ApiQuery(query): ApiQuery<LinkQuery>,
    user: Result<AuthUser, AppError>,
) -> AppResult<Response> {
    upload::download(&app, &file, &query, user).await
}
