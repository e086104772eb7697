//! The portal's server: configuration, the HTTP router, logging, the feed's ingest path,
//! demo data and operator commands. `main.rs` only parses the command line and calls
//! into here, so that integration tests run exactly the same server in-process.
#![forbid(unsafe_code)]

pub mod audit_chain;
pub mod auth;
pub mod config;
pub mod connections;
pub mod credentials;
pub mod demo;
pub mod feed;
pub mod forms;
pub mod ingest;
pub mod jobs;
pub mod limits;
pub mod privacy;
pub mod record_files;
pub mod release;
pub mod routes;
pub mod telemetry;

use std::sync::Arc;

/// The allocator for the server, its tests and benchmarks. With glibc's, a record page
/// request spent about a quarter of its CPU time in malloc and free (perf, on the record
/// pages benchmark in docs/benchmarks.md); mimalloc's thread-local heaps cut that down.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use app::server::{Clock, SystemClock, storage};
use tokio::net::TcpListener;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("storage: {0}")]
    Storage(#[from] storage::StorageError),
    #[error("demo data: {0}")]
    Demo(#[from] demo::DemoError),
    #[error("{0}")]
    Router(#[from] routes::RouterError),
    #[error("could not listen on the configured address: {0}")]
    Listen(std::io::Error),
}

/// Opens storage, prepares it ([`prepare`]), starts the timed jobs ([`jobs`]), binds the
/// listener and serves until the process is told to stop.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let storage = config.connect_storage().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if config.demo {
        tracing::warn!(
            "DEMO MODE: made-up data and a simulated NHS login. Never use this in production."
        );
    }
    if storage.backend() == storage::Backend::Postgres
        && storage.portal_role_can_change_audit_trail().await?
    {
        tracing::warn!(
            "the database role the portal connects as can change the audit trail: connect \
             as a member of portal_app and migrate with DATABASE_MIGRATION_URL \
             (docs/operations.md)"
        );
    }
    let router = prepare(&config, storage.clone(), clock.clone()).await?;
    jobs::spawn_grant_endings(storage.clone(), clock.clone(), config.proxy.age_rules);
    jobs::spawn_session_sweeper(storage.clone(), clock);
    audit_chain::spawn_sealer(storage);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(StartError::Listen)?;
    let address = listener.local_addr().map_err(StartError::Listen)?;
    tracing::info!(backend = ?backend_name(&config), "the portal is ready at http://{address}");
    connections::serve(
        listener,
        router,
        connections::ConnectionLimits {
            header_read: config.header_read_timeout,
            max_connections: config.max_connections,
        },
        shutdown_signal(),
    )
    .await;
    Ok(())
}

/// Everything between an open database and a router ready to serve, in one place so
/// that the binary and the integration tests cannot drift apart: the release rules and
/// the privacy code list from configuration are applied to storage (a changed code list
/// relabels what is already stored, audited), demo data is loaded when asked, and the
/// router is built.
pub async fn prepare(
    config: &Config,
    storage: Arc<dyn storage::Storage>,
    clock: Arc<dyn Clock>,
) -> Result<axum::Router, StartError> {
    release::sync_release_rules(storage.as_ref(), &config.release_rules, clock.now()).await?;
    privacy::apply_code_list(storage.as_ref(), &config.privacy_codes, clock.now()).await?;
    let simulated_issuer = config.simulated_nhs_login_issuer();
    if config.demo
        && let Some(summary) =
            demo::seed_demo(storage.as_ref(), clock.now(), simulated_issuer.as_deref()).await?
    {
        tracing::info!(
            organisations = summary.organisations,
            items = summary.items,
            "loaded demo data"
        );
    }
    Ok(routes::build_router(config, storage, clock)?)
}

/// The database kind, for logs: never the URL, which may hold a password.
fn backend_name(config: &Config) -> Option<storage::Backend> {
    storage::Backend::from_url(config.database_url.expose()).ok()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
