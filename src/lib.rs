//! parley: a real-time chat server speaking the Socket.IO events and REST routes of the Node
//! chat backends it replaces, with every message in SQLite or PostgreSQL through sea-orm.
//!
//! # Layout
//!
//! - [`config`]: every setting, from flags, the environment, `.env` and defaults.
//! - [`error`]: [`AppError`](error::AppError), the one error type, and its HTTP and ack faces.
//! - [`ids`]: user ids that keep their JSON type; numeric ids that accept digit strings.
//! - [`time`]: timestamps in the clients' format.
//! - [`auth`]: token verification, and where each door finds the token.
//! - [`db`]: opening the database and applying migrations.
//! - [`service`]: the chat domain, every rule once (no axum, no socketioxide); it tells what
//!   happened to one [`EventSink`](service::EventSink).
//! - [`transport`]: the doors' machinery, in no vocabulary: REST extractors and envelope, the
//!   Socket.IO connection, event queue, acknowledgements, expiry and shutdown, and the one
//!   broadcaster (the service's sink) that renders each event for every enabled protocol.
//! - [`protocols`]: the vocabularies (`PROTOCOLS`), one folder each: names, payloads, REST
//!   routes, socket events, rendering of the service's events.
//! - [`state`]: [`AppState`](state::AppState), shared by both doors.
//! - [`serve`]: the accept loop under both doors: the connection cap, header and body
//!   timeouts, each connection's [`ConnectionCloser`](serve::ConnectionCloser), and shutdown
//!   in steps (stop accepting, then drain with a deadline).
//!
//! [`run`] serves on a listener it is given until a shutdown future completes.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod ids;
pub mod protocols;
pub mod serve;
pub mod service;
pub mod state;
pub mod time;
pub mod transport;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method};
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::auth::TokenVerifier;
use crate::config::Config;
use crate::protocols::Protocol;
use crate::serve::{Drained, Server};
use crate::service::users::PublicFields;
use crate::service::{Chat, Limits};
use crate::state::AppState;
use crate::transport::broadcast::Broadcaster;
use crate::transport::{connection, rest, socket};

/// Bytes each WebSocket reads at a time. Chat frames are a few hundred bytes; a larger frame
/// takes several reads. Allocated per connection, so it weighs on idle memory.
const WS_READ_BUFFER: usize = 1024;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad settings.
    #[error("configuration: {0}")]
    Config(String),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The listener failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the database, applies migrations, and serves Socket.IO and REST on `listener` until
/// `shutdown` completes; then, within `SHUTDOWN_TIMEOUT_SECS`, answers every socket event it
/// took (refusing new ones), closes every socket, stops accepting, lets in-flight requests
/// finish, and closes the database.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    for warning in config.check().map_err(RunError::Config)? {
        tracing::warn!("{warning}");
    }
    let secret = match (&config.jwt_secret, &config.jwt_public_key_file) {
        (Some(secret), _) => secret.clone(),
        (None, Some(_)) => String::new(),
        (None, None) => {
            return Err(RunError::Config(
                "set JWT_SECRET or JWT_PUBLIC_KEY_FILE".to_owned(),
            ));
        }
    };
    let verifier = TokenVerifier::new(&config, &secret).map_err(RunError::Config)?;
    let protocols = Protocol::parse_list(&config.protocols).map_err(RunError::Config)?;
    let spoken: Vec<_> = protocols.iter().map(|p| p.spoken()).collect();
    let uploads: Vec<&'static str> = protocols.iter().filter_map(|p| p.uploads()).collect();
    let media = match protocols.iter().find_map(|p| p.file_links()) {
        Some(links) => Some(Arc::new(media(&config, &secret, links).await?)),
        None => None,
    };

    let db = db::connect(&config).await?;
    db::migrate(&db).await?;
    let local = listener.local_addr()?;

    let writer_db = db::connect_writer(&config).await?;
    let config = Arc::new(config);

    let expiries = Arc::new(socket::Expiries::default());
    let intake = Arc::new(socket::Intake::default());
    let (io_layer, io) = SocketIo::builder()
        .req_path(serve::SOCKET_IO_PATH)
        .max_payload(config.max_payload_bytes)
        // The same bound on WebSocket messages: a larger one closes the connection.
        .ws_max_message_size(usize::try_from(config.max_payload_bytes).unwrap_or(usize::MAX))
        .ws_max_frame_size(usize::try_from(config.max_payload_bytes).unwrap_or(usize::MAX))
        .ws_read_buffer_size(WS_READ_BUFFER)
        // A client that opened a session has this long to join (send CONNECT), or to finish
        // upgrading it to WebSocket, like a request head.
        .connect_timeout(config.header_timeout())
        .upgrade_timeout(config.header_timeout())
        .max_buffer_size(config.socket_buffer_packets)
        .build_layer();
    let broadcaster = Broadcaster::new(io.clone(), &spoken);

    let chat = Chat::with_writer_db(
        db.clone(),
        writer_db.clone().unwrap_or_else(|| db.clone()),
        Limits {
            max_message_length: config.max_message_length,
            send_rate_per_sec: config.send_rate_per_sec,
            send_burst: config.send_burst,
            public_profile: PublicFields::parse(&config.public_profile_fields)
                .map_err(RunError::Config)?,
            typing_timeout: config.typing_timeout(),
            edit_window: (config.edit_window_secs > 0)
                .then(|| std::time::Duration::from_secs(config.edit_window_secs)),
            direct_requests: config.direct_requests(),
            media,
        },
        Arc::new(broadcaster.clone()),
    );
    let app = AppState {
        chat,
        verifier: Arc::new(verifier),
        config: config.clone(),
    };
    socket::register(
        &io,
        app.clone(),
        broadcaster,
        &spoken,
        expiries,
        intake.clone(),
    );

    let router = rest::around(protocols::router(&protocols))
        .with_state(app)
        .layer(io_layer)
        .layer(tower::util::MapRequestLayer::new(
            socket::detach_request_head::<axum::body::Body>,
        ))
        .layer(tower::util::MapRequestLayer::new({
            let io = io.clone();
            move |req| connection::note_upgrade::<axum::body::Body>(&io, req)
        }))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .layer(cors(&config.cors_origins)?);

    let mut limits = serve::Limits::from_config(&config);
    limits.uploads.0 = uploads;
    let mut server = Server::start(listener, router, &limits);
    tracing::info!(
        database = %config::redact_url(&config.database_url),
        protocols = %config.protocols,
        "parley listening on http://{local}"
    );
    shutdown.await;

    // Shutdown, in order, all within SHUTDOWN_TIMEOUT_SECS of the signal: refuse new socket
    // events and connections and let every event taken finish and answer (its acknowledgement
    // is queued ahead of the close); let long-polling clients collect what is buffered for them
    // (their polls may come on new connections, so connections are still accepted until then);
    // close the sockets; stop accepting; let in-flight HTTP requests finish; close the database.
    let grace = config.shutdown_timeout();
    let deadline = tokio::time::Instant::now() + grace;
    tracing::info!("shutting down: finishing the socket events in flight");
    intake.close();
    if tokio::time::timeout_at(deadline, intake.drained())
        .await
        .is_err()
    {
        tracing::warn!("socket events still running after {grace:?}; closing anyway");
    }
    tracing::info!("shutting down: closing sockets");
    socket::close_all(&io, deadline).await;
    server.stop_accepting().await;
    if let Drained::Cut(connections) = server.drain(deadline).await {
        tracing::warn!(
            "in-flight requests did not finish within {grace:?}; cut {connections} connections"
        );
    }
    if let Some(writer_db) = writer_db {
        writer_db.close().await?;
    }
    db.close().await?;
    tracing::info!("stopped");
    Ok(())
}

fn cors(origins: &str) -> Result<CorsLayer, RunError> {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(Any);
    if origins.trim() == "*" {
        return Ok(layer.allow_origin(Any));
    }
    let list = origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            HeaderValue::from_str(o)
                .map_err(|_| RunError::Config(format!("CORS_ORIGINS has a bad origin: {o}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(layer.allow_origin(AllowOrigin::list(list)))
}

/// The storage of uploaded files (`UPLOAD_STORAGE_URL`, else `UPLOAD_DIR`) and how their links
/// are made: under `links` (the download route's path) on `PUBLIC_URL`, signed with
/// `MEDIA_URL_SECRET` or a key derived from `JWT_SECRET`.
async fn media(
    config: &Config,
    jwt_secret: &str,
    links: &str,
) -> Result<service::media::Media, RunError> {
    use hmac::Mac;
    use object_store::ObjectStore;

    let store: Arc<dyn ObjectStore> = match &config.upload_storage_url {
        Some(url) => {
            // The S3 client's TLS uses ring, as its request signing does.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut s3 = object_store::aws::AmazonS3Builder::from_env().with_url(url.as_str());
            if let Some(endpoint) = &config.s3_endpoint {
                s3 = s3
                    .with_endpoint(endpoint.as_str())
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(region) = &config.s3_region {
                s3 = s3.with_region(region.as_str());
            }
            if let Some(key) = &config.s3_access_key_id {
                s3 = s3.with_access_key_id(key.as_str());
            }
            if let Some(secret) = &config.s3_secret_access_key {
                s3 = s3.with_secret_access_key(secret.as_str());
            }
            let s3 = s3
                .build()
                .map_err(|e| RunError::Config(format!("UPLOAD_STORAGE_URL: {e}")))?;
            Arc::new(s3)
        }
        None => {
            tokio::fs::create_dir_all(&config.upload_dir)
                .await
                .map_err(|e| {
                    RunError::Config(format!("UPLOAD_DIR {}: {e}", config.upload_dir.display()))
                })?;
            let local = object_store::local::LocalFileSystem::new_with_prefix(&config.upload_dir)
                .map_err(|e| RunError::Config(format!("UPLOAD_DIR: {e}")))?;
            Arc::new(local)
        }
    };
    let key = match (&config.media_url_secret, jwt_secret) {
        (Some(secret), _) => secret.as_bytes().to_vec(),
        (None, "") => {
            tracing::warn!(
                "MEDIA_URL_SECRET is not set and tokens are not HS256: file links are signed \
                 with a random key and stop working at a restart (and on other nodes)"
            );
            rand::random::<[u8; 32]>().to_vec()
        }
        (None, secret) => {
            let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes())
                .map_err(|e| RunError::Config(format!("JWT_SECRET: {e}")))?;
            mac.update(b"parley file links");
            mac.finalize().into_bytes().to_vec()
        }
    };
    let settings = service::media::MediaSettings {
        max_bytes: config.max_upload_bytes,
        allowed: config
            .upload_mime_types
            .split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect(),
        link_ttl: std::time::Duration::from_secs(config.media_url_ttl_secs),
        link_base: format!("{}{links}", config.public_url.trim_end_matches('/')),
        key,
    };
    Ok(service::media::Media::new(store, settings))
}
