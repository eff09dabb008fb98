//! The `parley` binary: `serve` (the default), `migrate`, `token`.

use std::time::Duration;

use clap::{Parser, Subcommand};
use migration::MigratorTrait;
use parley::config::Config;
use tokio::net::TcpListener;

/// A real-time chat server: Socket.IO and REST, on SQLite or PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "parley", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve Socket.IO and REST (applies pending migrations first).
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Mint a token signed with JWT_SECRET, for development.
    Token {
        /// User id (a number becomes a JSON number).
        #[arg(long)]
        user: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, like 30m, 1h, 7d or a number of seconds.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// Revert the last migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}

fn main() -> std::process::ExitCode {
    // .env fills in what the environment does not set; flags override both.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("parley: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parley: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> Result<(), String> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate { action } => migrate(config, action.unwrap_or(MigrateAction::Up)).await,
        Command::Token { user, name, ttl } => {
            let secret = config
                .jwt_secret
                .filter(|s| !s.is_empty())
                .ok_or("JWT_SECRET is not set: set it in the environment or .env")?;
            let ttl = parse_ttl(&ttl)?;
            let token = parley::auth::mint_token(&secret, &user, name.as_deref(), ttl.as_secs())?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn serve(mut config: Config) -> Result<(), String> {
    if config.jwt_secret.is_none() && config.jwt_public_key_file.is_none() {
        let secret = random_secret();
        tracing::warn!(
            "JWT_SECRET is not set: using a random secret for this run only. Tokens will NOT \
             survive a restart. Set JWT_SECRET (see .env.example) to keep them."
        );
        tracing::warn!("mint a token for this run with: JWT_SECRET={secret} parley token --user 1");
        config.jwt_secret = Some(secret);
    }
    let shutdown = shutdown_signal();
    let addr = (config.host, config.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.host, config.port))?;
    parley::run(listener, config, shutdown)
        .await
        .map_err(|e| e.to_string())
}

async fn migrate(config: Config, action: MigrateAction) -> Result<(), String> {
    let db = parley::db::connect(&config)
        .await
        .map_err(|e| e.to_string())?;
    let result = match action {
        MigrateAction::Up => migration::Migrator::up(&db, None).await,
        MigrateAction::Down => migration::Migrator::down(&db, Some(1)).await,
        MigrateAction::Status => Ok(()),
    };
    let listed = migration::Migrator::get_migration_with_status(&db).await;
    db.close().await.map_err(|e| e.to_string())?;
    result.map_err(|e| e.to_string())?;
    for m in listed.map_err(|e| e.to_string())? {
        let status = match m.status() {
            migration::sea_orm_migration::MigrationStatus::Applied => "applied",
            migration::sea_orm_migration::MigrationStatus::Pending => "pending",
        };
        println!("{status:8} {}", m.name());
    }
    Ok(())
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("bad --ttl {text:?}: use e.g. 30m, 1h, 7d"))?;
    let unit_secs: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("bad --ttl {text:?}: use e.g. 30m, 1h, 7d")),
    };
    n.checked_mul(unit_secs)
        .filter(|s| *s <= 10 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("--ttl {text:?} is longer than ten years"))
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("parley=info,tower_http=warn,socketioxide=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called,
/// so a signal that comes while the database is still opening is not lost (nor fatal).
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {},
                        _ = terminate.recv() => {},
                    }
                }
                (i, t) => {
                    tracing::warn!(
                        sigint = i.is_ok(),
                        sigterm = t.is_ok(),
                        "cannot listen for signals; falling back to Ctrl-C only"
                    );
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
