//! The application state shared by both doors: cheap to clone.

use std::sync::Arc;

use crate::auth::TokenVerifier;
use crate::config::Config;
use crate::service::Chat;

/// What every REST and Socket.IO handler needs.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The chat service (database, caches, order locks, presence).
    pub chat: Chat,
    /// Verifies tokens.
    pub verifier: Arc<TokenVerifier>,
    /// The settings this server runs with.
    pub config: Arc<Config>,
}
