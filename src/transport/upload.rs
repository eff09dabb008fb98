//! Uploads over the REST door, in no vocabulary: reading a `multipart/form-data` form whose
//! files stream into the service's storage as they arrive, and answering a download with the
//! file's bytes and headers that keep a browser from running it.

use axum::body::Body;
use axum::extract::multipart::{Field, Multipart, MultipartError, MultipartRejection};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, AppResult};
use crate::ids::{Id, UserId};
use crate::service::media::{Download, FileView, Pending};
use crate::state::AppState;
use crate::transport::rest::detached;

/// Longest text field of an upload form (`chatId`), in bytes.
const MAX_TEXT_FIELD: usize = 64;
/// How long the rest of a refused upload is read (and discarded) before it is answered.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads an upload form of at most `most` files (fields `file`, `files` or `files[]`) for the
/// conversation `chat` (from the path), or else the one its `chatId` field names (before or
/// after the files): the files are streamed into storage, then recorded; on any failure
/// nothing of the form stays stored.
///
/// It runs in a task of its own, so that a request dropped halfway (the client gone, the server
/// cutting connections at shutdown) still removes what it stored.
pub async fn receive(
    app: &AppState,
    user: &UserId,
    form: Result<Multipart, MultipartRejection>,
    most: usize,
    chat: Option<i64>,
) -> AppResult<Vec<FileView>> {
    let form = form.map_err(|e| AppError::validation(e.body_text()))?;
    let app = app.clone();
    let user = user.clone();
    detached(async move { read_form(&app, &user, form, most, chat).await }).await
}

/// See [`receive`].
async fn read_form(
    app: &AppState,
    user: &UserId,
    mut form: Multipart,
    most: usize,
    chat: Option<i64>,
) -> AppResult<Vec<FileView>> {
    let mut pending: Vec<Pending> = Vec::new();
    let mut chat_id = chat;
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
                Some("chatId") if chat.is_none() => {
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
        Ok(chat_id) if !pending.is_empty() => app.chat.keep_uploads(user, chat_id, pending).await,
        Ok(_) => Err(AppError::validation("file is required")),
        Err(e) => {
            app.chat.discard_uploads(pending).await;
            // A client that sends its whole body before it reads the answer would see its
            // connection reset, not the answer, if the body were left unread.
            let _ = tokio::time::timeout(DRAIN_TIME, drain(&mut form)).await;
            Err(e)
        }
    }
}

/// Reads what is left of a refused form, discarding it.
async fn drain(form: &mut Multipart) {
    while let Ok(Some(mut field)) = form.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}

/// A short text field, read up to [`MAX_TEXT_FIELD`] bytes.
async fn small_text(mut field: Field<'_>) -> AppResult<String> {
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

/// A file's bytes with its type, length and name, `nosniff`, a sandboxing
/// `Content-Security-Policy`, and `inline` for images, video and audio (`attachment` for the
/// rest).
pub fn file_response(found: Download) -> Response {
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
    (headers, Body::from_stream(found.body)).into_response()
}

/// The query of a signed link: `expires` and `signature`.
#[derive(Debug, serde::Deserialize)]
pub struct LinkQuery {
    /// Unix seconds.
    pub expires: Option<String>,
    /// The HMAC.
    pub signature: Option<String>,
}

/// A download of `file`: by a signed link's query when it has one, else with the user's token
/// (`user`, which fails `401` without one).
pub async fn download(
    app: &AppState,
    file: &str,
    query: &LinkQuery,
    user: Result<crate::transport::rest::AuthUser, AppError>,
) -> AppResult<Response> {
    use crate::service::media::Access;
    let found = match (&query.expires, &query.signature) {
        (Some(expires), Some(signature)) => {
            let expires = expires
                .parse::<i64>()
                .map_err(|_| AppError::NotFound("no such file, or the link expired".to_owned()))?;
            app.chat
                .download(file, Access::Link { expires, signature })
                .await?
        }
        _ => {
            let crate::transport::rest::AuthUser(me) = user?;
            app.chat.download(file, Access::User(&me.user)).await?
        }
    };
    Ok(file_response(found))
}
