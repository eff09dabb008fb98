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

    let mut server = Server::start(listener, router, &serve::Limits::from_config(&config));
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
