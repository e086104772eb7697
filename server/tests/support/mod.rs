//! Spawning the real server for integration tests: port 0, a fresh SQLite database in a
//! temporary folder, an injected clock, and optional changes to the configuration.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod fake_idp;

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use app::server::FixedClock;
use app::server::storage::{self, Storage};
use server::config::{Config, SettingsArgs};

pub struct TestServer {
    pub address: SocketAddr,
    pub storage: Arc<dyn Storage>,
    pub clock: FixedClock,
    pub config: Config,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

/// 22 November 2026, 09:00 UTC: the tests' "now".
pub fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
}

/// Starts the server. `args` sets what a deployment would set; the listener, database
/// and public URL are filled in here.
pub async fn spawn(args: SettingsArgs, demo_data: bool) -> TestServer {
    server::telemetry::init(server::config::LogFormat::Human, "warn");
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = Config::resolve(SettingsArgs {
        database_url: Some(server::config::Secret::new(format!(
            "sqlite://{}/portal.db",
            dir.path().display()
        ))),
        listen: Some(address),
        public_url: Some(format!("http://{address}")),
        site_root: Some(dir.path().join("site")),
        data_dir: Some(dir.path().join("data")),
        ..args
    })
    .unwrap();
    let clock = FixedClock::at(test_now());
    let storage = storage::connect(config.database_url.expose())
        .await
        .unwrap();
    server::release::sync_release_rules(storage.as_ref(), &config.release_rules, test_now())
        .await
        .unwrap();
    if demo_data {
        server::demo::seed_demo(storage.as_ref(), test_now())
            .await
            .unwrap();
    }
    let router =
        server::routes::build_router(&config, storage.clone(), Arc::new(clock.clone())).unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    TestServer {
        address,
        storage,
        clock,
        config,
        dir,
    }
}

/// The server with demo data and the built-in NHS login and staff simulators.
pub async fn spawn_demo() -> TestServer {
    spawn(
        SettingsArgs {
            demo: Some(true),
            nhs_login_simulator: Some(true),
            ..SettingsArgs::default()
        },
        true,
    )
    .await
}
