//! Settings: command-line flags, else the environment, else a `.env` file, else defaults.
//!
//! `.env.example` at the repository root lists every setting with its default.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The upload types accepted by default: common images, video, audio, PDF, plain text, ZIP.
pub const DEFAULT_UPLOAD_MIME_TYPES: &str = "image/jpeg,image/png,image/gif,image/webp,\
video/mp4,video/webm,video/quicktime,audio/mpeg,audio/ogg,audio/wav,audio/x-wav,audio/webm,\
audio/mp4,audio/m4a,audio/x-m4a,application/pdf,text/plain,application/zip";

/// The default database: an SQLite file in the working directory, created if missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://parley.db?mode=rwc";

/// Every setting of a parley server. Read with clap from flags and environment variables (the
/// `.env` file is loaded into the environment first, without overriding what is already set).
#[derive(Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1", global = true)]
    pub host: IpAddr,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 3010, global = true)]
    pub port: u16,

    /// `sqlite://FILE?mode=rwc` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10, global = true)]
    pub db_max_connections: u32,

    /// Milliseconds a request waits for a pooled database connection before it is answered
    /// `503 UNAVAILABLE`.
    #[arg(
        long,
        env = "DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub db_acquire_timeout_ms: u64,

    /// Milliseconds an SQLite write waits for another writer's lock before it is answered
    /// `503 UNAVAILABLE`.
    #[arg(
        long,
        env = "SQLITE_BUSY_TIMEOUT_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub sqlite_busy_timeout_ms: u64,

    /// SQLite durability: `full` (a commit survives power loss) or `normal` (WAL: a commit
    /// survives a crash of parley, the last ones may be lost on power loss).
    #[arg(long, env = "SQLITE_SYNCHRONOUS", default_value = "full", value_parser = ["full", "normal"], global = true)]
    pub sqlite_synchronous: String,

    /// HS256 secret that signs tokens. Unset: `serve` picks a random one for this run.
    #[arg(long, env = "JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PEM public key (RSA or EC) to verify RS256 / ES256 tokens instead of HS256.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE", global = true)]
    pub jwt_public_key_file: Option<PathBuf>,

    /// Claim holding the user id. Unset: the first present of sub, id, userId, user_id.
    #[arg(long, env = "JWT_USER_CLAIM", global = true)]
    pub jwt_user_claim: Option<String>,

    /// Seconds of clock skew tolerated when checking `exp`, `nbf` and `iat`.
    #[arg(long, env = "JWT_LEEWAY_SECS", default_value_t = 30, global = true)]
    pub jwt_leeway_secs: u64,

    /// Longest message content, in characters.
    #[arg(
        long,
        env = "MAX_MESSAGE_LENGTH",
        default_value_t = 10_000,
        global = true
    )]
    pub max_message_length: usize,

    /// Largest Socket.IO packet (and long-polling request) in bytes; a larger one closes that
    /// client's connection.
    #[arg(long, env = "MAX_PAYLOAD_BYTES", default_value_t = 128 * 1024, global = true)]
    pub max_payload_bytes: u64,

    /// Packets (answers and events) the server holds for one Socket.IO connection that has not
    /// read them yet; past that the client is not keeping up, and its connection is closed
    /// (it reconnects and catches up by `seq`). Memory is taken only as packets wait.
    #[arg(
        long,
        env = "SOCKET_BUFFER_PACKETS",
        default_value_t = 1_024,
        global = true
    )]
    pub socket_buffer_packets: usize,

    /// Largest REST request body in bytes; a larger one gets 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 128 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Messages and fan-out events (joins, typing, reads) a user may make per second on average,
    /// per node (0: no limit).
    #[arg(long, env = "SEND_RATE_PER_SEC", default_value_t = 20, global = true)]
    pub send_rate_per_sec: u32,

    /// Messages and fan-out events a user may make at once before the rate applies.
    #[arg(long, env = "SEND_BURST", default_value_t = 60, global = true)]
    pub send_burst: u32,

    /// The profile fields users are shown of each other, comma-separated, from `name`,
    /// `username`, `email`, `avatar` (the id is always shown; the others are sent as `null`).
    #[arg(
        long,
        env = "PUBLIC_PROFILE_FIELDS",
        default_value = "name,username,avatar",
        global = true
    )]
    pub public_profile_fields: String,

    /// A `typing` not followed by `stop_typing` within this many milliseconds expires.
    #[arg(
        long,
        env = "TYPING_TIMEOUT_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub typing_timeout_ms: u64,

    /// Seconds after sending during which the sender may edit a message (0: no limit).
    #[arg(long, env = "EDIT_WINDOW_SECS", default_value_t = 900, global = true)]
    pub edit_window_secs: u64,

    /// Milliseconds a socket that connected without a token (protocols with an `authenticate`
    /// event) has to send one before it is disconnected.
    #[arg(
        long,
        env = "SOCKET_AUTH_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub socket_auth_timeout_ms: u64,

    /// The vocabularies the server speaks, comma-separated: `conversations` (the `/api/chat`
    /// backends), `sessions` (the `/api/v1/chat` backend), `chats` (the `/api/chats` backend).
    /// With several, a socket speaks the first unless its handshake names another
    /// (`auth.protocol` or `?protocol=`).
    #[arg(
        long,
        env = "PROTOCOLS",
        default_value = "conversations",
        global = true
    )]
    pub protocols: String,

    /// Directory uploaded files are kept in (created if missing), unless `UPLOAD_STORAGE_URL`
    /// names object storage.
    #[arg(long, env = "UPLOAD_DIR", default_value = "uploads", global = true)]
    pub upload_dir: PathBuf,

    /// S3-compatible object storage for uploaded files: `s3://BUCKET`. Unset: `UPLOAD_DIR`.
    #[arg(long, env = "UPLOAD_STORAGE_URL", global = true)]
    pub upload_storage_url: Option<String>,

    /// The S3 endpoint (`https://s3.eu-west-1.amazonaws.com`, `http://minio:9000`); unset: the
    /// `AWS_*` variables' (AWS itself by default).
    #[arg(long, env = "S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,

    /// The S3 region; unset: `AWS_REGION` (or `us-east-1`).
    #[arg(long, env = "S3_REGION", global = true)]
    pub s3_region: Option<String>,

    /// The S3 access key id; unset: `AWS_ACCESS_KEY_ID`.
    #[arg(long, env = "S3_ACCESS_KEY_ID", global = true)]
    pub s3_access_key_id: Option<String>,

    /// The S3 secret access key; unset: `AWS_SECRET_ACCESS_KEY`.
    #[arg(
        long,
        env = "S3_SECRET_ACCESS_KEY",
        global = true,
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,

    /// Largest uploaded file, in bytes.
    #[arg(long, env = "MAX_UPLOAD_BYTES", default_value_t = 25 * 1024 * 1024, global = true)]
    pub max_upload_bytes: u64,

    /// MIME types accepted for uploads, by their content, comma-separated; `type/*` accepts a
    /// whole family.
    #[arg(
        long,
        env = "UPLOAD_MIME_TYPES",
        default_value = DEFAULT_UPLOAD_MIME_TYPES,
        global = true
    )]
    pub upload_mime_types: String,

    /// Seconds an upload's request body may take to arrive.
    #[arg(
        long,
        env = "UPLOAD_TIMEOUT_SECS",
        default_value_t = 300,
        global = true
    )]
    pub upload_timeout_secs: u64,

    /// Seconds a signed file link works.
    #[arg(
        long,
        env = "MEDIA_URL_TTL_SECS",
        default_value_t = 86_400,
        global = true
    )]
    pub media_url_ttl_secs: u64,

    /// Key of signed file links. Unset: derived from `JWT_SECRET` (random per run with
    /// `JWT_PUBLIC_KEY_FILE`).
    #[arg(long, env = "MEDIA_URL_SECRET", global = true, hide_env_values = true)]
    pub media_url_secret: Option<String>,

    /// The origin file links start with (`https://chat.example.com`). Unset: links are paths
    /// on this server (`/api/media/files/...`).
    #[arg(long, env = "PUBLIC_URL", default_value = "", global = true)]
    pub public_url: String,

    /// Chat requests: `on` (a direct chat opened by one user is a request the other accepts or
    /// rejects) or `off` (it is open for both at once). Unset: `on` when `PROTOCOLS` includes
    /// `chats`, `off` otherwise.
    #[arg(long, env = "DIRECT_REQUESTS", value_parser = ["on", "off"], global = true)]
    pub direct_requests: Option<String>,

    /// Origins allowed by CORS, comma-separated, or `*` for any.
    #[arg(long, env = "CORS_ORIGINS", default_value = "*", global = true)]
    pub cors_origins: String,

    /// Seconds given to in-flight requests at shutdown before they are cut.
    #[arg(
        long,
        env = "SHUTDOWN_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub shutdown_timeout_secs: u64,

    /// Milliseconds a connection has to send a complete request head, whether it is new or
    /// idle between two requests, and then the request's body; also the time a Socket.IO client
    /// has to join after opening its session, or to finish upgrading it to WebSocket.
    #[arg(
        long,
        env = "HTTP_HEADER_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub http_header_timeout_ms: u64,

    /// Most client connections open at once, HTTP and WebSocket alike; past it, new ones wait
    /// in the listen backlog. 0: the open-file limit less a reserve for the database and the
    /// process.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 0, global = true)]
    pub max_connections: usize,
}

/// Longest accepted `TYPING_TIMEOUT_MS`: an hour.
const MAX_TYPING_TIMEOUT_MS: u64 = 3_600_000;
/// Accepted `HTTP_HEADER_TIMEOUT_MS`: a tenth of a second to ten minutes.
const HTTP_HEADER_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=600_000;
/// Largest accepted `MAX_CONNECTIONS`.
const MAX_MAX_CONNECTIONS: usize = 10_000_000;

impl Config {
    /// Checks the settings that could not work: an empty secret, zero or absurd limits.
    /// Returns warnings for settings that work but are unwise.
    pub fn check(&self) -> Result<Vec<String>, String> {
        let mut warnings = Vec::new();
        if let Some(secret) = &self.jwt_secret {
            if secret.is_empty() {
                return Err("JWT_SECRET is set but empty: anyone could sign tokens".to_owned());
            }
            if secret.len() < 32 {
                warnings.push(format!(
                    "JWT_SECRET is {} bytes long; HS256 secrets should have at least 32",
                    secret.len()
                ));
            }
        }
        if self.max_message_length == 0 {
            return Err("MAX_MESSAGE_LENGTH must be at least 1".to_owned());
        }
        if self.max_payload_bytes < 1024 || self.max_body_bytes < 1024 {
            return Err("MAX_PAYLOAD_BYTES and MAX_BODY_BYTES must be at least 1024".to_owned());
        }
        if self.typing_timeout_ms == 0 || self.typing_timeout_ms > MAX_TYPING_TIMEOUT_MS {
            return Err(format!(
                "TYPING_TIMEOUT_MS must be between 1 and {MAX_TYPING_TIMEOUT_MS}"
            ));
        }
        if self.max_upload_bytes == 0 || !(1..=86_400).contains(&self.upload_timeout_secs) {
            return Err(
                "MAX_UPLOAD_BYTES must be at least 1 and UPLOAD_TIMEOUT_SECS between 1 and 86400"
                    .to_owned(),
            );
        }
        if !(60..=30 * 86_400).contains(&self.media_url_ttl_secs) {
            return Err("MEDIA_URL_TTL_SECS must be between 60 and 2592000".to_owned());
        }
        if self.media_url_secret.as_deref() == Some("") {
            return Err("MEDIA_URL_SECRET is set but empty".to_owned());
        }
        if !(100..=600_000).contains(&self.socket_auth_timeout_ms) {
            return Err("SOCKET_AUTH_TIMEOUT_MS must be between 100 and 600000".to_owned());
        }
        if !(16..=1_000_000).contains(&self.socket_buffer_packets) {
            return Err("SOCKET_BUFFER_PACKETS must be between 16 and 1000000".to_owned());
        }
        let timeouts = [self.db_acquire_timeout_ms, self.sqlite_busy_timeout_ms];
        if timeouts.iter().any(|t| *t == 0 || *t > 600_000) {
            return Err(
                "DB_ACQUIRE_TIMEOUT_MS and SQLITE_BUSY_TIMEOUT_MS must be between 1 and 600000"
                    .to_owned(),
            );
        }
        if self.shutdown_timeout_secs > 3_600 || self.jwt_leeway_secs > 86_400 {
            return Err(
                "SHUTDOWN_TIMEOUT_SECS must be at most 3600 and JWT_LEEWAY_SECS at most 86400"
                    .to_owned(),
            );
        }
        if !HTTP_HEADER_TIMEOUT_MS.contains(&self.http_header_timeout_ms) {
            return Err(format!(
                "HTTP_HEADER_TIMEOUT_MS must be between {} and {}",
                HTTP_HEADER_TIMEOUT_MS.start(),
                HTTP_HEADER_TIMEOUT_MS.end()
            ));
        }
        if self.max_connections > MAX_MAX_CONNECTIONS {
            return Err(format!(
                "MAX_CONNECTIONS must be at most {MAX_MAX_CONNECTIONS} (0: automatic)"
            ));
        }
        Ok(warnings)
    }

    /// Whether direct chats start as requests: `DIRECT_REQUESTS`, else whether `PROTOCOLS`
    /// includes `chats`.
    pub fn direct_requests(&self) -> bool {
        match self.direct_requests.as_deref() {
            Some(setting) => setting == "on",
            None => self.protocols.split(',').any(|p| p.trim() == "chats"),
        }
    }

    /// How long a typing indicator lives without a new `typing`.
    pub fn typing_timeout(&self) -> Duration {
        Duration::from_millis(self.typing_timeout_ms)
    }

    /// How long a socket without a token may stay unauthenticated.
    pub fn socket_auth_timeout(&self) -> Duration {
        Duration::from_millis(self.socket_auth_timeout_ms)
    }

    /// How long shutdown waits for in-flight requests.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    /// How long a connection has to send a request head, and then its body.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.http_header_timeout_ms)
    }

    /// A configuration with every default and the given secret, for tests and embedding.
    pub fn with_defaults(jwt_secret: Option<String>) -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 3010,
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            db_max_connections: 10,
            db_acquire_timeout_ms: 5_000,
            sqlite_busy_timeout_ms: 5_000,
            sqlite_synchronous: "full".to_owned(),
            jwt_secret,
            jwt_public_key_file: None,
            jwt_user_claim: None,
            jwt_leeway_secs: 30,
            max_message_length: 10_000,
            max_payload_bytes: 128 * 1024,
            max_body_bytes: 128 * 1024,
            socket_buffer_packets: 1_024,
            send_rate_per_sec: 20,
            send_burst: 60,
            public_profile_fields: "name,username,avatar".to_owned(),
            typing_timeout_ms: 5_000,
            edit_window_secs: 900,
            socket_auth_timeout_ms: 10_000,
            protocols: "conversations".to_owned(),
            direct_requests: None,
            upload_dir: PathBuf::from("uploads"),
            upload_storage_url: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            max_upload_bytes: 25 * 1024 * 1024,
            upload_mime_types: DEFAULT_UPLOAD_MIME_TYPES.to_owned(),
            upload_timeout_secs: 300,
            media_url_ttl_secs: 86_400,
            media_url_secret: None,
            public_url: String::new(),
            cors_origins: "*".to_owned(),
            shutdown_timeout_secs: 10,
            http_header_timeout_ms: 10_000,
            max_connections: 0,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database_url", &redact_url(&self.database_url))
            .field("db_max_connections", &self.db_max_connections)
            .field("db_acquire_timeout_ms", &self.db_acquire_timeout_ms)
            .field("sqlite_busy_timeout_ms", &self.sqlite_busy_timeout_ms)
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwt_public_key_file", &self.jwt_public_key_file)
            .field("jwt_user_claim", &self.jwt_user_claim)
            .field("jwt_leeway_secs", &self.jwt_leeway_secs)
            .field("max_message_length", &self.max_message_length)
            .field("max_payload_bytes", &self.max_payload_bytes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("socket_buffer_packets", &self.socket_buffer_packets)
            .field("send_rate_per_sec", &self.send_rate_per_sec)
            .field("send_burst", &self.send_burst)
            .field("public_profile_fields", &self.public_profile_fields)
            .field("typing_timeout_ms", &self.typing_timeout_ms)
            .field("edit_window_secs", &self.edit_window_secs)
            .field("socket_auth_timeout_ms", &self.socket_auth_timeout_ms)
            .field("protocols", &self.protocols)
            .field("direct_requests", &self.direct_requests)
            .field("upload_dir", &self.upload_dir)
            .field("upload_storage_url", &self.upload_storage_url)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_region", &self.s3_region)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field(
                "s3_secret_access_key",
                &self.s3_secret_access_key.as_ref().map(|_| "[redacted]"),
            )
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("upload_mime_types", &self.upload_mime_types)
            .field("upload_timeout_secs", &self.upload_timeout_secs)
            .field("media_url_ttl_secs", &self.media_url_ttl_secs)
            .field(
                "media_url_secret",
                &self.media_url_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("public_url", &self.public_url)
            .field("cors_origins", &self.cors_origins)
            .field("shutdown_timeout_secs", &self.shutdown_timeout_secs)
            .field("http_header_timeout_ms", &self.http_header_timeout_ms)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// A database URL with any password replaced, fit for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:<redacted>@{host}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_settings_are_refused() {
        let ok = Config::with_defaults(Some("x".repeat(32)));
        assert_eq!(ok.check(), Ok(vec![]));
        let short = Config::with_defaults(Some("short".to_owned()));
        assert_eq!(short.check().map(|w| w.len()), Ok(1));
        let empty = Config::with_defaults(Some(String::new()));
        assert!(empty.check().is_err());
        let mut huge = Config::with_defaults(None);
        huge.typing_timeout_ms = u64::MAX;
        assert!(huge.check().is_err());
        let mut zero = Config::with_defaults(None);
        zero.max_message_length = 0;
        assert!(zero.check().is_err());
    }

    #[test]
    fn connection_limits_must_be_sane() {
        let mut config = Config::with_defaults(None);
        for (ms, ok) in [
            (0, false),
            (99, false),
            (100, true),
            (600_000, true),
            (600_001, false),
        ] {
            config.http_header_timeout_ms = ms;
            assert_eq!(config.check().is_ok(), ok, "HTTP_HEADER_TIMEOUT_MS={ms}");
        }
        config.http_header_timeout_ms = 10_000;
        config.max_connections = 0;
        assert!(config.check().is_ok());
        config.max_connections = usize::MAX;
        assert!(config.check().is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let mut config = Config::with_defaults(Some("hunter2-secret".to_owned()));
        config.database_url = "postgres://app:pg-password@db/chat".to_owned();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(!shown.contains("pg-password"), "{shown}");
        assert!(
            shown.contains("postgres://app:<redacted>@db/chat"),
            "{shown}"
        );
    }
}
