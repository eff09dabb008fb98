//! The media routes of the `chats` protocol, under `/api/media`: `POST /upload-chat-media`
//! (`multipart/form-data`: `file` and `chatId`), `POST /bulk-upload` (`files` and `chatId`),
//! `POST /delete` (`{ fileId }`), and `GET /files/:fileId`, where signed links lead.

use axum::Router;
use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::ids::Id;
use crate::ids::UserId;
use crate::protocols::chats::MEDIA_PREFIX;
use crate::protocols::chats::wire::{DeleteFileRequest, UploadJson};
use crate::service::media::{Access, Pending};
use crate::state::AppState;
use crate::transport::rest::{
    ApiJson, ApiPath, ApiQuery, AuthUser, Envelope, detached, method_not_allowed,
};

/// Most files in one bulk upload.
const MAX_BULK_FILES: usize = 10;
/// Longest text field of an upload form (`chatId`), in bytes.
const MAX_TEXT_FIELD: usize = 64;

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
    let mut files = receive(&app, &me.user, form, 1).await?;
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
    let files = receive(&app, &me.user, form, MAX_BULK_FILES).await?;
    Ok(Envelope::ok(files.into_iter().map(UploadJson).collect()).message("Files uploaded"))
}

/// Reads an upload form: its files streamed into storage, then recorded for its `chatId`; on
/// any failure nothing of it stays stored.
async fn receive(
    app: &AppState,
    user: &UserId,
    form: Result<Multipart, MultipartRejection>,
    most: usize,
) -> AppResult<Vec<crate::service::media::FileView>> {
    let mut form = form.map_err(|e| AppError::validation(e.body_text()))?;
    let mut pending: Vec<Pending> = Vec::new();
    let mut chat_id: Option<i64> = None;
    let read = async {
        while let Some(field) = form.next_field().await.map_err(form_error)? {
            match field.name() {
                Some("file" | "files" | "files[]") => {
                    if pending.len() == most {
                        return Err(AppError::validation(format!(
                            "at most {most} file(s) per upload"
                        )));
                    }
                    let name = field.file_name().map(str::to_owned);
                    let declared = field.content_type().map(str::to_owned);
                    let stored = app
                        .chat
                        .store_upload(user, chat_id, name.as_deref(), declared.as_deref(), field)
                        .await?;
                    pending.push(stored);
                }
                Some("chatId") => {
                    let text = small_text(field).await?;
                    chat_id = Some(Id::parse(&text, "chatId")?.0);
                }
                // Other fields are not read.
                _ => {}
            }
        }
        chat_id.ok_or_else(|| AppError::validation("chatId is required"))
    }
    .await;
    match read {
        Ok(chat_id) if !pending.is_empty() => {
            let chat = app.chat.clone();
            let user = user.clone();
            detached(async move { chat.keep_uploads(&user, chat_id, pending).await }).await
        }
        Ok(_) => Err(AppError::validation("file is required")),
        Err(e) => {
            app.chat.discard_uploads(pending).await;
            Err(e)
        }
    }
}

/// A short text field, read up to [`MAX_TEXT_FIELD`] bytes.
async fn small_text(mut field: axum::extract::multipart::Field<'_>) -> AppResult<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(form_error)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_TEXT_FIELD {
            return Err(AppError::validation("chatId is too long"));
        }
    }
    String::from_utf8(bytes).map_err(|_| AppError::validation("chatId must be text"))
}

/// A malformed upload form.
fn form_error(e: MultipartError) -> AppError {
    AppError::validation(format!("malformed upload: {}", e.body_text()))
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

/// The query of a signed link.
#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    /// Unix seconds.
    expires: Option<String>,
    /// The HMAC.
    signature: Option<String>,
}

/// `GET /files/:fileId`: with a signed link's `expires` and `signature` (no token, as an
/// `<img src>` asks), or with the user's own token.
pub async fn download(
    State(app): State<AppState>,
    ApiPath(file): ApiPath<String>,
    ApiQuery(query): ApiQuery<LinkQuery>,
    user: Result<AuthUser, AppError>,
) -> AppResult<Response> {
    let found = match (&query.expires, &query.signature) {
        (Some(expires), Some(signature)) => {
            let expires = expires
                .parse::<i64>()
                .map_err(|_| AppError::NotFound("no such file, or the link expired".to_owned()))?;
            app.chat
                .download(&file, Access::Link { expires, signature })
                .await?
        }
        _ => {
            let AuthUser(me) = user?;
            app.chat.download(&file, Access::User(&me.user)).await?
        }
    };
    let disposition = if matches!(found.file.kind.as_str(), "image" | "video" | "audio") {
        "inline"
    } else {
        "attachment"
    };
    let name: String = found
        .file
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_str(&found.file.mime)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\""))
                .unwrap_or(HeaderValue::from_static("attachment")),
        ),
        (
            header::CONTENT_LENGTH,
            HeaderValue::from(u64::try_from(found.file.size).unwrap_or(0)),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=300"),
        ),
    ];
    Ok((headers, Body::from_stream(found.body)).into_response())
}
