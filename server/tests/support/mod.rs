//! Spawning the real server for integration tests: port 0, a fresh database, an injected
//! clock, and optional changes to the configuration. The database is SQLite in a
//! temporary folder, or, when `TEST_SERVER_BACKEND=postgres` and `TEST_DATABASE_URL` are
//! set, a PostgreSQL database made for the one server and dropped with it (`.ci/test`
//! runs the server's tests both ways).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod fake_idp;
pub mod people;

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use app::access::{Basis, DecidedRecord, Reader, ReaderKind, decide_record};
use app::choices::rules::PatientChoices;
use app::domain::{AccountId, PatientId};
use app::server::FixedClock;
use app::server::storage::{self, RecordItem, RecordQuery, Storage};
use server::config::{Config, SettingsArgs};

pub struct TestServer {
    pub address: SocketAddr,
    pub storage: Arc<dyn Storage>,
    pub clock: FixedClock,
    pub config: Config,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database to drop when the server is done: (admin URL, name).
    postgres: Option<(String, String)>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on itself: a thread
        // with its own runtime removes the database.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .unwrap();
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await;
            });
        })
        .join();
    }
}

/// The login role the servers on PostgreSQL connect as: a member of `portal_app`, the
/// role migration 0012 grants, which cannot change the audit trail. The schema is
/// migrated as the administrator, as a deployment migrates as the schema's owner.
const POSTGRES_APP_ROLE: &str = "portal_test_app";

/// A test server's database: `(url the portal connects with, the schema owner's url to
/// migrate with, the PostgreSQL database to drop afterwards)`. A fresh SQLite file, or
/// a fresh PostgreSQL database when the run asks for that backend.
async fn test_database(
    dir: &std::path::Path,
) -> (String, Option<String>, Option<(String, String)>) {
    let wants_postgres = std::env::var("TEST_SERVER_BACKEND").as_deref() == Ok("postgres");
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if wants_postgres => {
            let name = format!("portal_server_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap();
            ensure_postgres_app_role(&mut admin).await;
            let (base, _) = admin_url.rsplit_once('/').unwrap();
            let owner_url = format!("{base}/{name}");
            let (scheme, rest) = owner_url.split_once("://").unwrap();
            let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let app_url = format!("{scheme}://{POSTGRES_APP_ROLE}@{host_and_db}");
            (app_url, Some(owner_url), Some((admin_url, name)))
        }
        Err(_) if wants_postgres => {
            panic!(
                "TEST_SERVER_BACKEND=postgres needs TEST_DATABASE_URL: nothing would run on PostgreSQL"
            )
        }
        _ => (format!("sqlite://{}/portal.db", dir.display()), None, None),
    }
}

/// Creates `portal_app` and the tests' login role in it, once per cluster. Roles are
/// the cluster's, so the servers of parallel tests meet here: an advisory lock (on the
/// administrator's database, which they all share) takes them one at a time.
async fn ensure_postgres_app_role(admin: &mut sqlx::PgConnection) {
    sqlx::query("SELECT pg_advisory_lock(7202)")
        .execute(&mut *admin)
        .await
        .unwrap();
    let created = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'portal_app') THEN \
             CREATE ROLE portal_app NOLOGIN; END IF; \
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{POSTGRES_APP_ROLE}') THEN \
             CREATE ROLE {POSTGRES_APP_ROLE} LOGIN IN ROLE portal_app; END IF; \
         END $$"
    )))
    .execute(&mut *admin)
    .await;
    sqlx::query("SELECT pg_advisory_unlock(7202)")
        .execute(&mut *admin)
        .await
        .unwrap();
    created.unwrap();
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

/// How long a test waits for any one answer from the server. A request that takes
/// longer has hung: the test fails in seconds with the request named, instead of
/// holding the whole run until CI gives up on it.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// An HTTP client for talking to a test server: follows no redirects (each hop is
/// checked by the test) and gives up after [`REQUEST_TIMEOUT`].
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap()
}

/// 22 November 2026, 09:00 UTC: the tests' "now".
pub fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
}

/// Starts the server. `args` sets what a deployment would set (demo data with
/// `demo`); the listener, database and public URL are filled in here.
pub async fn spawn(args: SettingsArgs) -> TestServer {
    server::telemetry::init(server::config::LogFormat::Human, "warn");
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (database_url, migration_url, postgres) = test_database(dir.path()).await;
    let config = Config::resolve(SettingsArgs {
        database_url: Some(server::config::Secret::new(database_url)),
        database_migration_url: migration_url.map(server::config::Secret::new),
        listen: Some(address),
        public_url: Some(format!("http://{address}")),
        site_root: Some(dir.path().join("site")),
        data_dir: Some(dir.path().join("data")),
        ..args
    })
    .unwrap();
    let clock = FixedClock::at(test_now());
    let storage = config.connect_storage().await.unwrap();
    // The same preparation as the binary's (rules, code list, demo data, router).
    let router = tokio::time::timeout(
        REQUEST_TIMEOUT,
        server::prepare(&config, storage.clone(), Arc::new(clock.clone())),
    )
    .await
    .expect("preparing the server hung")
    .unwrap();
    // Audit rows are sealed into their hash chain as in a deployment.
    server::audit_chain::spawn_sealer(storage.clone());
    // The binary's own accept loop, timeouts and all.
    let limits = server::connections::ConnectionLimits {
        header_read: config.header_read_timeout,
        max_connections: config.max_connections,
    };
    tokio::spawn(server::connections::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    TestServer {
        address,
        storage,
        clock,
        config,
        dir,
        postgres,
    }
}

/// The server with demo data and the built-in NHS login and staff simulators.
pub async fn spawn_demo() -> TestServer {
    spawn(SettingsArgs {
        demo: Some(true),
        nhs_login_simulator: Some(true),
        ..SettingsArgs::default()
    })
    .await
}

/// Every item of a patient's, straight from storage: including those entered in error
/// or labelled, which the portal never shows (for the markers tests look for).
pub async fn stored_items(storage: &dyn Storage, patient: PatientId) -> Vec<RecordItem> {
    let audit = storage::NewAuditEvent::new(
        test_now(),
        app::audit::ActorKind::System,
        app::audit::action::RECORD_VIEWED,
    );
    storage
        .read_record(RecordQuery::for_patient(patient), audit)
        .await
        .unwrap()
        .items
}

/// What the patient may know of their record at `now`: the stored items through the
/// one access decision, as every page gets them.
pub async fn decided_for_patient(
    storage: &dyn Storage,
    patient: PatientId,
    now: DateTime<Utc>,
) -> DecidedRecord {
    let items = stored_items(storage, patient).await;
    let rules = storage
        .current_release_rules()
        .await
        .unwrap()
        .unwrap_or(app::release::RuleSet {
            version: 0,
            rules: Vec::new(),
        });
    let reader = Reader {
        account: AccountId(0),
        kind: ReaderKind::Patient,
        identity_level: Some("P9".to_owned()),
        own_record: Some(patient),
    };
    decide_record(
        &reader,
        patient,
        &Basis::OwnRecord,
        &PatientChoices::none(),
        items,
        &rules,
        now,
    )
}

/// Sends FHIR JSON to the feed with a sender's credential; the answer's status, its
/// `Location` (when there is one) and its JSON body (`null` when there is none).
pub async fn feed_answer(
    request: reqwest::RequestBuilder,
    token: &str,
    body: String,
) -> (u16, Option<String>, serde_json::Value) {
    let response = request
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let answer = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, location, answer)
}

/// Signs a person in through the NHS login simulator and returns their browser.
pub async fn signed_in(server: &TestServer, person: &str) -> browser::Browser {
    signed_in_at(server, "/auth/login", person).await
}

/// Signs a member of staff in through the staff identity provider's simulator.
pub async fn signed_in_staff(server: &TestServer, person: &str) -> browser::Browser {
    signed_in_at(server, "/staff/auth/login", person).await
}

async fn signed_in_at(server: &TestServer, login: &str, person: &str) -> browser::Browser {
    let mut browser = browser::Browser::new(&server.url(""));
    let hops = browser
        .sign_in_through_simulator(&server.url(login), person)
        .await;
    assert_eq!(hops[0].status, 303, "{person} signed in: {}", hops[0].body);
    browser
}
