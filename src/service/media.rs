//! Uploaded files: streamed into storage (a local directory, or S3-compatible object storage)
//! with the size limit checked as the bytes arrive, typed by their content (not their name),
//! recorded with their name, type, size, kind and an image's width and height, and served by
//! signed, expiring links that work in an `<img src>`.
//!
//! Who may download: the uploader, until the file is sent; once it is sent in a message, the
//! members of the conversation it was uploaded for. A signed link is that permission carried
//! in the URL: it is made only for those users (in the upload's answer, and in the messages
//! they read), and it names the file and its expiry under an HMAC, so it cannot be altered or
//! extended. A request with the user's own token is checked against the rule directly.
//!
//! Storage keys are made by the server (`files/<random id>`); a client's file name is only
//! metadata, so no name can reach outside the storage.

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use entity::media_file;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use hmac::{Hmac, Mac};
use object_store::path::Path as StoreKey;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::Sha256;

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::Chat;

/// Bytes read before a file's type is decided (an image's header is in them too).
const HEAD_BYTES: usize = 64 * 1024;
/// Longest stored file name, in characters.
const MAX_NAME_CHARS: usize = 255;
/// Signed links expire on multiples of this, so that a file's link stays the same for a while
/// (and browsers can cache it).
const LINK_STEP_SECS: i64 = 300;

/// How uploads and their links are made.
#[derive(Clone)]
pub struct MediaSettings {
    /// Largest file, in bytes (`MAX_UPLOAD_BYTES`).
    pub max_bytes: u64,
    /// The MIME types accepted, by content; `type/*` accepts a whole family
    /// (`UPLOAD_MIME_TYPES`).
    pub allowed: Vec<String>,
    /// How long a signed link works (`MEDIA_URL_TTL_SECS`).
    pub link_ttl: Duration,
    /// What links start with: an origin (`PUBLIC_URL`) and the download route's path.
    pub link_base: String,
    /// The HMAC key of signed links.
    pub key: Vec<u8>,
}

impl std::fmt::Debug for MediaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSettings")
            .field("max_bytes", &self.max_bytes)
            .field("allowed", &self.allowed)
            .field("link_ttl", &self.link_ttl)
            .field("link_base", &self.link_base)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl MediaSettings {
    /// A file's signed download link, valid for the link lifetime from now (rounded up).
    pub fn link(&self, file_id: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(self.link_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let expires =
            (now.saturating_add(ttl) + LINK_STEP_SECS - 1) / LINK_STEP_SECS * LINK_STEP_SECS;
        format!(
            "{}/{file_id}?expires={expires}&signature={}",
            self.link_base,
            self.signature(file_id, expires)
        )
    }

    /// The HMAC of a file id and expiry, in hex.
    fn signature(&self, file_id: &str, expires: i64) -> String {
        hex::encode(self.mac(file_id, expires).finalize().into_bytes())
    }

    fn mac(&self, file_id: &str, expires: i64) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(file_id.as_bytes());
        mac.update(b".");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// Whether `signature` is this server's for the file and expiry, and the expiry is to come.
    fn verify(&self, file_id: &str, expires: i64, signature: &str) -> bool {
        let Ok(given) = hex::decode(signature) else {
            return false;
        };
        expires > chrono::Utc::now().timestamp()
            && self.mac(file_id, expires).verify_slice(&given).is_ok()
    }

    /// Whether files of `mime` may be uploaded.
    fn allows(&self, mime: &str) -> bool {
        self.allowed
            .iter()
            .any(|pattern| match pattern.strip_suffix("/*") {
                Some(family) => mime.split('/').next() == Some(family),
                None => pattern.eq_ignore_ascii_case(mime),
            })
    }
}

/// Where uploaded files are kept, and how.
#[derive(Debug)]
pub struct Media {
    /// The local directory or the bucket.
    store: Arc<dyn ObjectStore>,
    /// Limits and links.
    pub settings: MediaSettings,
}

impl Media {
    /// Files in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, settings: MediaSettings) -> Self {
        Self { store, settings }
    }
}

/// A stored file as its users see it.
#[derive(Clone, Debug)]
pub struct FileView {
    /// Its id.
    pub id: String,
    /// The conversation it was uploaded for.
    pub conversation_id: i64,
    /// Who uploaded it.
    pub uploader: String,
    /// Its name.
    pub name: String,
    /// Its MIME type (from its content).
    pub mime: String,
    /// Its size in bytes.
    pub size: i64,
    /// `image`, `video`, `audio` or `file`.
    pub kind: String,
    /// An image's width.
    pub width: Option<i32>,
    /// An image's height.
    pub height: Option<i32>,
    /// A signed download link.
    pub url: String,
}

/// An upload stored but not yet recorded: [`Chat::keep_uploads`] records it, or
/// [`Chat::discard_uploads`] removes it.
#[derive(Debug)]
pub struct Pending {
    row: media_file::Model,
}

/// How a download proves it may read the file.
#[derive(Clone, Copy, Debug)]
pub enum Access<'a> {
    /// A signed link's expiry and signature.
    Link {
        /// Unix seconds.
        expires: i64,
        /// The HMAC, in hex.
        signature: &'a str,
    },
    /// The user's own token.
    User(&'a UserId),
}

/// A file to send back.
pub struct Download {
    /// What it is.
    pub file: FileView,
    /// Its bytes.
    pub body: BoxStream<'static, object_store::Result<Bytes>>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Chat {
    /// The file storage, or `UNAVAILABLE` when this server has none.
    fn media(&self) -> AppResult<&Media> {
        self.media
            .as_deref()
            .ok_or_else(|| AppError::Unavailable("file uploads are not configured".to_owned()))
    }

    /// Streams one uploaded file into storage: its first bytes decide its type (refused
    /// `415` unless `UPLOAD_MIME_TYPES` allows it, or when it contradicts the type or name the
    /// client gave), and it is cut off at `MAX_UPLOAD_BYTES` (`413`, nothing left stored).
    /// When the conversation is already known it is checked first.
    pub async fn store_upload<S, E>(
        &self,
        user: &UserId,
        conversation_id: Option<i64>,
        name: Option<&str>,
        declared: Option<&str>,
        mut body: S,
    ) -> AppResult<Pending>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: Display,
    {
        let media = self.media()?;
        if let Some(id) = conversation_id {
            self.require_participant(user, id).await?;
        }
        let max = media.settings.max_bytes;
        let too_large = || {
            AppError::PayloadTooLarge(format!(
                "a file may be at most {max} bytes (MAX_UPLOAD_BYTES)"
            ))
        };
        let read_error = |e: E| AppError::validation(format!("the upload broke off: {e}"));
        // The head: enough to know the type, and an image's size.
        let mut head: Vec<u8> = Vec::new();
        let mut rest: Option<Bytes> = None;
        while head.len() < HEAD_BYTES {
            match body.next().await {
                Some(Ok(chunk)) => {
                    let room = HEAD_BYTES - head.len();
                    if chunk.len() > room {
                        head.extend_from_slice(&chunk[..room]);
                        rest = Some(chunk.slice(room..));
                    } else {
                        head.extend_from_slice(&chunk);
                    }
                    if head.len() as u64 > max {
                        return Err(too_large());
                    }
                }
                Some(Err(e)) => return Err(read_error(e)),
                None => break,
            }
        }
        if head.is_empty() {
            return Err(AppError::validation("the file is empty"));
        }
        let name = file_name(name);
        let (mime, kind) = classify(&head, declared, &name)?;
        if !media.settings.allows(&mime) {
            return Err(AppError::UnsupportedMedia(format!(
                "files of type {mime} are not accepted here"
            )));
        }
        let (width, height) = if kind == media_file::KIND_IMAGE {
            match imagesize::blob_size(&head) {
                Ok(size) => (
                    i32::try_from(size.width).ok(),
                    i32::try_from(size.height).ok(),
                ),
                Err(_) => (None, None),
            }
        } else {
            (None, None)
        };
        let id = random_id();
        let key = format!("files/{id}");
        let location = StoreKey::from(key.as_str());
        let upload = media
            .store
            .put_multipart(&location)
            .await
            .map_err(storage_error)?;
        let mut writer = WriteMultipart::new(upload);
        let mut size = head.len() as u64;
        writer.write(&head);
        let mut next = rest.map(Ok);
        loop {
            let chunk = match next.take() {
                Some(chunk) => chunk,
                None => match body.next().await {
                    Some(chunk) => chunk,
                    None => break,
                },
            };
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(read_error(e));
                }
            };
            size += chunk.len() as u64;
            if size > max {
                let _ = writer.abort().await;
                return Err(too_large());
            }
            if let Err(e) = writer.wait_for_capacity(4).await {
                let _ = writer.abort().await;
                return Err(storage_error(e));
            }
            writer.put(chunk);
        }
        writer.finish().await.map_err(storage_error)?;
        Ok(Pending {
            row: media_file::Model {
                id,
                uploader_id: user.key().to_owned(),
                conversation_id: conversation_id.unwrap_or(0),
                message_id: None,
                name,
                mime,
                size: i64::try_from(size).unwrap_or(i64::MAX),
                kind: kind.to_owned(),
                width,
                height,
                storage_key: key,
                created_at: crate::time::now(),
            },
        })
    }

    /// Records uploads for conversation `conversation_id`, which `user` must be a member of;
    /// on any refusal every one of them is removed from storage.
    pub async fn keep_uploads(
        &self,
        user: &UserId,
        conversation_id: i64,
        uploads: Vec<Pending>,
    ) -> AppResult<Vec<FileView>> {
        let kept = async {
            self.require_participant(user, conversation_id).await?;
            let rows: Vec<media_file::Model> = uploads
                .iter()
                .map(|p| media_file::Model {
                    conversation_id,
                    ..p.row.clone()
                })
                .collect();
            if rows.is_empty() {
                return Err(AppError::validation("file is required"));
            }
            media_file::Entity::insert_many(rows.iter().cloned().map(active))
                .exec_without_returning(&self.db)
                .await?;
            Ok(rows)
        }
        .await;
        match kept {
            Ok(rows) => {
                let media = self.media()?;
                Ok(rows.into_iter().map(|r| view(&media.settings, r)).collect())
            }
            Err(e) => {
                self.discard_uploads(uploads).await;
                Err(e)
            }
        }
    }

    /// Removes uploads that will not be recorded.
    pub async fn discard_uploads(&self, uploads: Vec<Pending>) {
        let Ok(media) = self.media() else { return };
        for pending in uploads {
            let key = StoreKey::from(pending.row.storage_key.as_str());
            if let Err(e) = media.store.delete(&key).await {
                tracing::warn!(key = %key, error = %e, "could not remove a discarded upload");
            }
        }
    }

    /// A file to download, if `access` may read it: `NOT_FOUND` for no such file (or a bad or
    /// expired link), `FORBIDDEN` for a user the file is not for.
    pub async fn download(&self, file_id: &str, access: Access<'_>) -> AppResult<Download> {
        let media = self.media()?;
        let not_found = || AppError::NotFound("no such file, or the link expired".to_owned());
        if let Access::Link { expires, signature } = access
            && !media.settings.verify(file_id, expires, signature)
        {
            return Err(not_found());
        }
        let row = media_file::Entity::find_by_id(file_id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        if let Access::User(user) = access {
            let allowed = if row.message_id.is_some() {
                self.require_participant(user, row.conversation_id)
                    .await
                    .is_ok()
            } else {
                row.uploader_id == user.key()
            };
            if !allowed {
                return Err(AppError::Forbidden(
                    "this file is not shared with you".to_owned(),
                ));
            }
        }
        let key = StoreKey::from(row.storage_key.as_str());
        let found = media.store.get(&key).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => not_found(),
            e => storage_error(e),
        })?;
        Ok(Download {
            file: view(&media.settings, row),
            body: found.into_stream(),
        })
    }

    /// The uploader deletes a file: removed from storage; messages that carried it keep their
    /// text, and its link answers `404`.
    pub async fn delete_file(&self, user: &UserId, file_id: &str) -> AppResult<FileView> {
        let media = self.media()?;
        let row = media_file::Entity::find_by_id(file_id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("file {file_id} not found")))?;
        if row.uploader_id != user.key() {
            return Err(AppError::Forbidden(
                "only the uploader may delete a file".to_owned(),
            ));
        }
        self.erase(media, &row).await?;
        Ok(view(&media.settings, row))
    }

    /// Removes a stored file's record, then its bytes.
    async fn erase(&self, media: &Media, row: &media_file::Model) -> AppResult<()> {
        media_file::Entity::delete_many()
            .filter(media_file::Column::Id.eq(row.id.as_str()))
            .exec(&self.db)
            .await?;
        let key = StoreKey::from(row.storage_key.as_str());
        match media.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_error(e)),
        }
    }

    /// Removes a file from the records and from storage, whoever uploaded it (its message was
    /// deleted); a failure is logged.
    pub(crate) async fn remove_file(&self, file_id: &str) {
        let Ok(media) = self.media() else { return };
        let removed = async {
            let row = media_file::Entity::find_by_id(file_id.to_owned())
                .one(&self.db)
                .await?;
            match row {
                Some(row) => self.erase(media, &row).await,
                None => Ok(()),
            }
        }
        .await;
        if let Err(e) = removed {
            tracing::warn!(file = file_id, error = %e, "could not remove a deleted message's file");
        }
    }

    /// The uploaded file `file_id` as `user` may send it in conversation `conversation_id`:
    /// theirs, uploaded for that conversation, not sent yet (a file belongs to one message).
    /// `VALIDATION` otherwise.
    pub(crate) async fn attachable(
        &self,
        user: &UserId,
        conversation_id: i64,
        file_id: &str,
    ) -> AppResult<media_file::Model> {
        let row = media_file::Entity::find_by_id(file_id.to_owned())
            .one(&self.db)
            .await?;
        match row {
            Some(row)
                if row.uploader_id == user.key()
                    && row.conversation_id == conversation_id
                    && row.message_id.is_some() =>
            {
                Err(AppError::validation(
                    "this file was sent already: upload it again to send it again",
                ))
            }
            Some(row)
                if row.uploader_id == user.key() && row.conversation_id == conversation_id =>
            {
                Ok(row)
            }
            _ => Err(AppError::validation(
                "media.fileId must be a file you uploaded to this chat",
            )),
        }
    }
}

/// `view` with a fresh signed link as its attachment URL, when it carries an uploaded file.
pub(crate) fn link_attachment(
    mut view: crate::service::views::MessageView,
    media: Option<&Media>,
) -> crate::service::views::MessageView {
    if let (Some(file), Some(media)) = (&view.file_id, media)
        && view.deleted_at.is_none()
    {
        view.attachment_url = Some(media.settings.link(file));
    }
    view
}

fn active(m: media_file::Model) -> media_file::ActiveModel {
    media_file::ActiveModel {
        id: Set(m.id),
        uploader_id: Set(m.uploader_id),
        conversation_id: Set(m.conversation_id),
        message_id: Set(m.message_id),
        name: Set(m.name),
        mime: Set(m.mime),
        size: Set(m.size),
        kind: Set(m.kind),
        width: Set(m.width),
        height: Set(m.height),
        storage_key: Set(m.storage_key),
        created_at: Set(m.created_at),
    }
}

/// A stored file as its users see it, with a fresh signed link.
fn view(settings: &MediaSettings, m: media_file::Model) -> FileView {
    FileView {
        url: settings.link(&m.id),
        id: m.id,
        conversation_id: m.conversation_id,
        uploader: m.uploader_id,
        name: m.name,
        mime: m.mime,
        size: m.size,
        kind: m.kind,
        width: m.width,
        height: m.height,
    }
}

/// A storage failure: logged, and `UNAVAILABLE` for the client.
fn storage_error(e: object_store::Error) -> AppError {
    tracing::warn!(error = %e, "file storage failed");
    AppError::Unavailable(format!("file storage: {e}"))
}

/// 128 random bits, in hex.
fn random_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A client's file name as kept: its last path segment, without control characters, at most
/// [`MAX_NAME_CHARS`]; `file` when nothing is left.
fn file_name(given: Option<&str>) -> String {
    let base = given
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let clean = clean.trim().trim_start_matches('.').trim();
    if clean.is_empty() {
        "file".to_owned()
    } else {
        clean.to_owned()
    }
}

/// The MIME type and kind of a file from its first bytes; `415` when the type or file name
/// the client gave says another kind of file than its content is.
fn classify(head: &[u8], declared: Option<&str>, name: &str) -> AppResult<(String, &'static str)> {
    let sniffed = infer::get(head).map(|t| t.mime_type().to_owned());
    let mime = match sniffed {
        Some(mime) => mime,
        None if looks_like_text(head) => "text/plain".to_owned(),
        None => "application/octet-stream".to_owned(),
    };
    let kind = kind_of(&mime);
    let mislabelled = |what: &str, said: &str| {
        AppError::UnsupportedMedia(format!(
            "the {what} says {said}, but the file's content is {mime}"
        ))
    };
    if let Some(declared) = declared.map(str::trim).filter(|d| !d.is_empty()) {
        let said = kind_of(&declared.to_ascii_lowercase());
        if said != media_file::KIND_FILE && said != kind {
            return Err(mislabelled("type given", declared));
        }
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    let by_name = match extension.as_str() {
        "png" | "jpg" | "jpeg" | "gif" | "webp" | "bmp" => Some(media_file::KIND_IMAGE),
        "mp4" | "webm" | "mov" | "mkv" => Some(media_file::KIND_VIDEO),
        "mp3" | "ogg" | "wav" | "m4a" | "aac" | "flac" => Some(media_file::KIND_AUDIO),
        _ => None,
    };
    // A webm is audio or video by its tracks, which the header does not always say.
    let same = |a: &str, b: &str| a == b || (extension == "webm" && a != media_file::KIND_FILE);
    if let Some(said) = by_name
        && !same(said, kind)
    {
        return Err(mislabelled("file name", name));
    }
    Ok((mime, kind))
}

/// The kind of a MIME type.
fn kind_of(mime: &str) -> &'static str {
    match mime.split('/').next() {
        Some("image") => media_file::KIND_IMAGE,
        Some("video") => media_file::KIND_VIDEO,
        Some("audio") => media_file::KIND_AUDIO,
        _ => media_file::KIND_FILE,
    }
}

/// Whether `head` reads as UTF-8 text (a character cut at its end aside) without NULs.
fn looks_like_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    valid && !head.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0,
        0, 3, 0, 0, 0, 2, 8, 6, 0, 0, 0,
    ];

    fn settings() -> MediaSettings {
        MediaSettings {
            max_bytes: 1024,
            allowed: vec!["image/*".to_owned(), "text/plain".to_owned()],
            link_ttl: Duration::from_secs(600),
            link_base: "/files".to_owned(),
            key: b"secret".to_vec(),
        }
    }

    #[test]
    fn a_file_is_typed_by_its_content_and_a_false_label_is_refused() {
        let (mime, kind) = classify(PNG, Some("image/png"), "cat.png").unwrap();
        assert_eq!((mime.as_str(), kind), ("image/png", "image"));
        assert_eq!(
            classify(b"hello", None, "notes.txt").unwrap().0,
            "text/plain"
        );
        assert_eq!(
            classify(&[0xff, 0x00, 0x13], None, "x.bin").unwrap().0,
            "application/octet-stream"
        );
        for (declared, name) in [
            (Some("image/png"), "a.txt"),
            (None, "photo.jpg"),
            (Some("video/mp4"), "x"),
        ] {
            let err = classify(b"plain words", declared, name).unwrap_err();
            assert_eq!(err.code(), "UNSUPPORTED_MEDIA_TYPE", "{declared:?} {name}");
        }
        assert!(settings().allows("image/gif") && settings().allows("text/plain"));
        assert!(!settings().allows("application/pdf") && !settings().allows("text/html"));
    }

    #[test]
    fn names_are_kept_as_their_last_segment_without_tricks() {
        assert_eq!(file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(file_name(Some("C:\\Users\\x\\cat.png")), "cat.png");
        assert_eq!(file_name(Some("a\u{0}b\nc.txt")), "abc.txt");
        assert_eq!(file_name(Some("..")), "file");
        assert_eq!(file_name(None), "file");
        assert_eq!(
            file_name(Some(&"x".repeat(1000))).chars().count(),
            MAX_NAME_CHARS
        );
    }

    #[test]
    fn a_link_is_signed_over_its_file_and_expiry() {
        let s = settings();
        let link = s.link("abc");
        let query = link.strip_prefix("/files/abc?expires=").unwrap();
        let (expires, signature) = query.split_once("&signature=").unwrap();
        let expires: i64 = expires.parse().unwrap();
        assert!(s.verify("abc", expires, signature));
        assert!(!s.verify("abd", expires, signature), "another file");
        assert!(!s.verify("abc", expires + 1, signature), "another expiry");
        assert!(!s.verify("abc", expires, "00"), "another signature");
        let past = chrono::Utc::now().timestamp() - 1;
        let old = s.signature("abc", past);
        assert!(!s.verify("abc", past, &old), "expired");
    }
}
