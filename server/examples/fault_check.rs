//! Fault checks (issue #15): the portal loses nothing it said it stored, stores nothing
//! in part, and recovers by itself. Each check runs the real `server` binary as a child
//! process on a fresh database, sends it the synthetic lab bundles of the ingest
//! benchmark (a Patient, a report and 5 results: 6 items each) through `POST /fhir`, and
//! then reads the database directly to see what was stored.
//!
//! - `kill`: C senders post bundles without pause; at a random moment the server is
//!   killed with SIGKILL and started again on the same database. Repeated for R rounds.
//!   Every bundle answered 2xx must be stored whole (6 items, each with its version),
//!   every other bundle whole or not at all.
//! - `postgres-restart`: senders post without pause and `/ready` is polled every 100 ms
//!   while the PostgreSQL cluster is stopped (fast shutdown) for a few seconds and
//!   started again. `/ready` must report it (503), deliveries meanwhile must be refused
//!   with 503 and an OperationOutcome that names no internals (no 500), and deliveries
//!   must succeed again without the portal being restarted.
//! - `disk-full`: SQLite on a small filesystem (`--folder`, which the caller mounts): a
//!   filler file takes the last free byte, deliveries must be refused with an
//!   OperationOutcome, the portal must keep answering, and once the filler is removed
//!   deliveries must succeed again, without a restart, with nothing stored damaged
//!   (`PRAGMA integrity_check`).
//!
//! It prints one line per round or phase and a verdict, and exits 1 if anything above
//! did not hold. `.ci/fault-checks` runs all three; figures in docs/faults.md.
//!
//! ```sh
//! cargo run -p server --example fault_check -- --server target/debug/server kill --database sqlite
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use sqlx::Connection;

use app::domain::OdsCode;
use app::records::OrganisationKind;
use app::server::storage::{self, NewOrganisation};
use server::credentials::new_credential;

#[path = "support/lab_bundles.rs"]
mod lab_bundles;
#[path = "support/nhs_numbers.rs"]
mod nhs_numbers;
use lab_bundles::{
    OBSERVATIONS_PER_BUNDLE, REPORT_ID_SYSTEM, RESULT_ID_SYSTEM, SENDER_ODS, lab_bundle,
};
use nhs_numbers::nhs_numbers;
#[path = "support/scratch_database.rs"]
mod scratch_database;
use scratch_database::ScratchDatabase;

type CheckResult<T> = Result<T, Box<dyn Error>>;

/// Items a bundle stores: the report and its results (the Patient is not an item).
const ITEMS_PER_BUNDLE: usize = 1 + OBSERVATIONS_PER_BUNDLE;
/// Bundles the checks may use in all: NHS numbers are made for this many.
const MAX_BUNDLES: usize = 60_000;

#[derive(Debug, Parser)]
struct Args {
    /// The portal's server binary.
    #[arg(long, default_value = "target/debug/server")]
    server: PathBuf,
    #[command(subcommand)]
    check: Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Database {
    Sqlite,
    Postgres,
}

#[derive(Debug, Subcommand)]
enum Check {
    /// SIGKILL during a burst of deliveries, then restart.
    Kill {
        #[arg(long, value_enum)]
        database: Database,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// The PostgreSQL server to make a scratch database on.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        database_url: String,
    },
    /// Stop and start the PostgreSQL cluster under load.
    PostgresRestart {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        database_url: String,
        /// The cluster, as pg_ctlcluster names it.
        #[arg(long, default_value = "15")]
        cluster_version: String,
        /// Longer than the portal's wait for a connection (5 s), so that requests are
        /// seen both waiting it out and being refused.
        #[arg(long, default_value_t = 8)]
        down_seconds: u64,
    },
    /// SQLite on a small filesystem filled to the last byte, then freed.
    DiskFull {
        /// A folder on a small filesystem of its own (a tmpfs of a few megabytes).
        #[arg(long)]
        folder: PathBuf,
    },
}

#[tokio::main]
async fn main() -> CheckResult<()> {
    let args = Args::parse();
    if !args.server.is_file() {
        return Err(format!("no server binary at {}", args.server.display()).into());
    }
    let failures = match &args.check {
        Check::Kill {
            database,
            rounds,
            concurrency,
            database_url,
        } => match database {
            Database::Sqlite => {
                let scratch = tempfile::tempdir()?;
                let url = format!("sqlite://{}/portal.db", scratch.path().display());
                kill_rounds(&args.server, &url, scratch.path(), *rounds, *concurrency).await?
            }
            Database::Postgres => {
                let scratch = tempfile::tempdir()?;
                let database = ScratchDatabase::create(database_url, "portal_fault").await?;
                let result = kill_rounds(
                    &args.server,
                    &database.url,
                    scratch.path(),
                    *rounds,
                    *concurrency,
                )
                .await;
                database.drop_database().await?;
                result?
            }
        },
        Check::PostgresRestart {
            database_url,
            cluster_version,
            down_seconds,
        } => {
            let scratch = tempfile::tempdir()?;
            let database = ScratchDatabase::create(database_url, "portal_fault").await?;
            let result = postgres_restart(
                &args.server,
                &database.url,
                scratch.path(),
                cluster_version,
                Duration::from_secs(*down_seconds),
            )
            .await;
            // The cluster is started again whatever happened above.
            if sqlx::PgConnection::connect(database_url).await.is_err() {
                pg_ctl(cluster_version, "start")?;
            }
            wait_for_postgres(database_url).await?;
            database.drop_database().await?;
            result?
        }
        Check::DiskFull { folder } => disk_full(&args.server, folder).await?,
    };
    println!("the servers' log: {}", server_log().display());
    if failures.is_empty() {
        println!("verdict: every check held");
        Ok(())
    } else {
        for failure in &failures {
            println!("FAILED: {failure}");
        }
        Err(format!("{} checks failed", failures.len()).into())
    }
}

// --- The portal as a child process ----------------------------------------------------

struct Portal {
    child: Child,
    base: String,
}

impl Portal {
    /// Starts the server binary on `database_url` and waits until it answers `/health`;
    /// answers the portal and how long that took.
    async fn start(
        binary: &Path,
        database_url: &str,
        scratch: &Path,
        port: u16,
    ) -> CheckResult<(Self, Duration)> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(server_log())?;
        let started = Instant::now();
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("PORTAL_LISTEN", format!("127.0.0.1:{port}"))
            .env("PORTAL_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("PORTAL_DATA_DIR", scratch.join("data"))
            .env("LEPTOS_SITE_ROOT", scratch.join("site"))
            .env("PORTAL_FEED_LIMIT", "100000/100000")
            .env("PORTAL_FEED_ADDRESS_LIMIT", "100000/100000")
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()?;
        let portal = Portal {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = client();
        while started.elapsed() < Duration::from_secs(120) {
            if let Ok(answer) = client.get(format!("{}/health", portal.base)).send().await
                && answer.status().is_success()
            {
                return Ok((portal, started.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!(
            "the server did not answer /health within 2 minutes (see {})",
            server_log().display()
        )
        .into())
    }

    /// SIGKILL: no shutdown, no flushing, nothing.
    fn kill(mut self) -> CheckResult<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

/// Where the servers' own log goes (kept after the run, for reading when a check fails).
fn server_log() -> PathBuf {
    std::env::temp_dir().join(format!("portal-fault-check-{}.log", std::process::id()))
}

fn free_port() -> CheckResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        // Building fails only if no TLS backend can start; plain HTTP needs none.
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Registers the sending laboratory on the database (migrating it) and answers its
/// feed credential.
async fn register_sender(database_url: &str) -> CheckResult<String> {
    let store = storage::connect(database_url).await?;
    let (token, credential_hash) = new_credential();
    store
        .create_organisation(NewOrganisation {
            ods_code: OdsCode::parse(SENDER_ODS)?,
            name: "Riverside Pathology".into(),
            kind: OrganisationKind::HospitalTrust,
            credential_hash,
            at: chrono::Utc::now(),
        })
        .await?;
    Ok(token)
}

// --- Sending ----------------------------------------------------------------------------

/// What became of one delivery, as the sender saw it.
#[derive(Debug, Clone)]
enum Answer {
    /// 2xx: the portal said it stored the bundle.
    Stored,
    /// Any other status, with the body.
    Refused(u16, String),
    /// No answer at all (the connection failed or was cut).
    None,
}

/// Senders that post bundles `next..` without pause until told to stop; each answer is
/// kept with its bundle's index and when it came.
struct Senders {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<(usize, Answer, Instant)>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Senders {
    fn start(
        base: &str,
        token: &str,
        numbers: &Arc<Vec<String>>,
        next: &Arc<AtomicUsize>,
        concurrency: usize,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..concurrency)
            .map(|_| {
                let (stop, answers, numbers, next) =
                    (stop.clone(), answers.clone(), numbers.clone(), next.clone());
                let (url, token) = (format!("{base}/fhir"), token.to_owned());
                tokio::spawn(async move {
                    let client = client();
                    while !stop.load(Ordering::Relaxed) {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(nhs) = numbers.get(index) else {
                            return;
                        };
                        let answer = deliver(&client, &url, &token, lab_bundle(index, nhs)).await;
                        let failed = matches!(answer, Answer::None);
                        answers
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((index, answer, Instant::now()));
                        if failed {
                            // The server is down: do not spin through bundles meanwhile.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                })
            })
            .collect();
        Senders {
            stop,
            answers,
            tasks,
        }
    }

    async fn stop(self) -> Vec<(usize, Answer, Instant)> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        std::mem::take(
            &mut *self
                .answers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

async fn deliver(client: &reqwest::Client, url: &str, token: &str, bundle: String) -> Answer {
    let sent = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(bundle)
        .send()
        .await;
    let Ok(response) = sent else {
        return Answer::None;
    };
    let status = response.status();
    match response.text().await {
        // A 2xx whose body was cut off was still not an answer the sender could rely on.
        Ok(_) if status.is_success() => Answer::Stored,
        Ok(body) => Answer::Refused(status.as_u16(), body),
        Err(_) => Answer::None,
    }
}

// --- What was stored ----------------------------------------------------------------------

/// How many of each bundle's items are stored with their current version.
async fn stored_items_per_bundle(
    database_url: &str,
) -> CheckResult<std::collections::HashMap<usize, usize>> {
    let sql = format!(
        "SELECT i.identifier_value FROM record_items i \
         JOIN record_item_versions v ON v.item_id = i.id AND v.version = i.current_version \
         WHERE i.identifier_system IN ('{REPORT_ID_SYSTEM}', '{RESULT_ID_SYSTEM}')"
    );
    let values: Vec<String> = if database_url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(database_url).await?;
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut c)
            .await?
    } else {
        let mut c = sqlx::PgConnection::connect(database_url).await?;
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut c)
            .await?
    };
    let mut per_bundle = std::collections::HashMap::new();
    for value in values {
        // "U00000042" (the report) or "U00000042-3" (its third result).
        let index: usize = value[1..9].parse()?;
        *per_bundle.entry(index).or_default() += 1;
    }
    Ok(per_bundle)
}

/// Checks every bundle sent: answered 2xx means stored whole; anything else, whole or
/// not at all. Answers (stored whole, not stored, failures).
async fn check_stored(
    database_url: &str,
    answers: &[(usize, Answer, Instant)],
) -> CheckResult<(usize, usize, Vec<String>)> {
    let stored = stored_items_per_bundle(database_url).await?;
    let (mut whole, mut none, mut failures) = (0, 0, Vec::new());
    for (index, answer, _) in answers {
        let items = stored.get(index).copied().unwrap_or(0);
        match (answer, items) {
            (_, ITEMS_PER_BUNDLE) => whole += 1,
            (Answer::Stored, _) => failures.push(format!(
                "bundle {index} was answered 2xx but {items} of its {ITEMS_PER_BUNDLE} items are stored"
            )),
            (_, 0) => none += 1,
            (_, _) => failures.push(format!(
                "bundle {index} is stored in part: {items} of {ITEMS_PER_BUNDLE} items"
            )),
        }
    }
    Ok((whole, none, failures))
}

async fn sqlite_integrity(database_url: &str) -> CheckResult<String> {
    let mut c = sqlx::SqliteConnection::connect(database_url).await?;
    Ok(sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await?)
}

// --- kill -9 --------------------------------------------------------------------------------

async fn kill_rounds(
    binary: &Path,
    database_url: &str,
    scratch: &Path,
    rounds: usize,
    concurrency: usize,
) -> CheckResult<Vec<String>> {
    let token = register_sender(database_url).await?;
    let numbers = Arc::new(nhs_numbers(MAX_BUNDLES)?);
    let next = Arc::new(AtomicUsize::new(0));
    let port = free_port()?;
    let (mut portal, _) = Portal::start(binary, database_url, scratch, port).await?;
    let mut failures = Vec::new();
    let mut all_answers = Vec::new();
    println!("round  kill after ms  sent  answered 2xx  refused  no answer  restart to ready ms");
    for round in 1..=rounds {
        let senders = Senders::start(&portal.base, &token, &numbers, &next, concurrency);
        // A moment somewhere in the burst, different each round.
        let kill_after = Duration::from_millis(500 + (round as u64 * 7919) % 2000);
        tokio::time::sleep(kill_after).await;
        portal.kill()?;
        let answers = senders.stop().await;
        let (restarted, to_ready) = Portal::start(binary, database_url, scratch, port).await?;
        portal = restarted;
        let count =
            |wanted: fn(&Answer) -> bool| answers.iter().filter(|(_, a, _)| wanted(a)).count();
        let refused = count(|a| matches!(a, Answer::Refused(..)));
        println!(
            "{round:>5}  {:>13}  {:>4}  {:>12}  {refused:>7}  {:>9}  {:>19}",
            kill_after.as_millis(),
            answers.len(),
            count(|a| matches!(a, Answer::Stored)),
            count(|a| matches!(a, Answer::None)),
            to_ready.as_millis(),
        );
        for (index, answer, _) in &answers {
            if let Answer::Refused(status, _) = answer {
                failures.push(format!(
                    "round {round}: bundle {index} was refused with {status}"
                ));
            }
        }
        all_answers.extend(answers);
    }
    portal.kill()?;
    let (whole, none, stored_failures) = check_stored(database_url, &all_answers).await?;
    println!(
        "after {rounds} kills: {} bundles sent, {} answered 2xx; stored whole {whole}, not stored {none}, lost or partial {}",
        all_answers.len(),
        all_answers
            .iter()
            .filter(|(_, a, _)| matches!(a, Answer::Stored))
            .count(),
        stored_failures.len()
    );
    failures.extend(stored_failures);
    if database_url.starts_with("sqlite") {
        let integrity = sqlite_integrity(database_url).await?;
        println!("SQLite integrity_check: {integrity}");
        if integrity != "ok" {
            failures.push(format!("integrity_check: {integrity}"));
        }
    }
    Ok(failures)
}

// --- PostgreSQL restarted under load ----------------------------------------------------

fn pg_ctl(version: &str, action: &str) -> CheckResult<()> {
    let mut command = Command::new("pg_ctlcluster");
    command.arg("--skip-systemctl-redirect");
    if action == "stop" {
        // Connections are cut at once, as in a crash or a failover.
        command.args(["--mode", "fast"]);
    }
    command.args([version, "main", action]);
    let status = command.status()?;
    if !status.success() {
        return Err(format!("pg_ctlcluster {version} main {action} failed: {status}").into());
    }
    Ok(())
}

async fn wait_for_postgres(admin_url: &str) -> CheckResult<()> {
    for _ in 0..300 {
        if sqlx::PgConnection::connect(admin_url).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("PostgreSQL did not come back within 30 s".into())
}

/// Words an answer must never carry: they would tell a caller about our internals.
const INTERNALS: [&str; 9] = [
    "sqlx",
    "postgres",
    "pool",
    "connection refused",
    "os error",
    "database error",
    "io error",
    "panicked",
    "127.0.0.1",
];

async fn postgres_restart(
    binary: &Path,
    database_url: &str,
    scratch: &Path,
    cluster_version: &str,
    down: Duration,
) -> CheckResult<Vec<String>> {
    let token = register_sender(database_url).await?;
    let numbers = Arc::new(nhs_numbers(MAX_BUNDLES)?);
    let next = Arc::new(AtomicUsize::new(0));
    let (portal, _) = Portal::start(binary, database_url, scratch, free_port()?).await?;
    let senders = Senders::start(&portal.base, &token, &numbers, &next, 4);
    let polling = Arc::new(AtomicBool::new(true));
    let ready_poller = {
        let (url, polling) = (format!("{}/ready", portal.base), polling.clone());
        tokio::spawn(async move {
            let client = client();
            let mut seen = Vec::new();
            while polling.load(Ordering::Relaxed) {
                let status = match client.get(&url).send().await {
                    Ok(answer) => answer.status().as_u16(),
                    Err(_) => 0,
                };
                seen.push((Instant::now(), status));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        })
    };
    // When PostgreSQL itself refuses connections, seen from outside the portal.
    let probe = {
        let (url, polling) = (database_url.to_owned(), polling.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while polling.load(Ordering::Relaxed) {
                let up = tokio::time::timeout(
                    Duration::from_millis(500),
                    sqlx::PgConnection::connect(&url),
                )
                .await
                .is_ok_and(|c| c.is_ok());
                seen.push((Instant::now(), up));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopping = Instant::now();
    let version = cluster_version.to_owned();
    tokio::task::spawn_blocking(move || pg_ctl(&version, "stop").map_err(|e| e.to_string()))
        .await??;
    tokio::time::sleep(down).await;
    let version = cluster_version.to_owned();
    tokio::task::spawn_blocking(move || pg_ctl(&version, "start").map_err(|e| e.to_string()))
        .await??;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let answers = senders.stop().await;
    polling.store(false, Ordering::Relaxed);
    let readiness = ready_poller.await?;
    let probed = probe.await?;
    portal.kill()?;
    // The outage as PostgreSQL's clients saw it: from the first refused connection to
    // the first accepted one after it.
    let down_from = probed
        .iter()
        .find(|(_, up)| !up)
        .map(|(at, _)| *at)
        .ok_or("PostgreSQL never refused a connection: the restart did not happen")?;
    let up_again = probed
        .iter()
        .find(|(at, up)| *at > down_from && *up)
        .map(|(at, _)| *at)
        .ok_or("PostgreSQL did not accept connections again")?;
    let (stopped, started) = (down_from, up_again);

    let mut failures = Vec::new();
    let in_window = |at: &Instant, from: Instant, to: Instant| *at >= from && *at <= to;
    let before = answers.iter().filter(|(_, _, at)| *at < stopping).count();
    let during: Vec<_> = answers
        .iter()
        .filter(|(_, _, at)| in_window(at, stopped, started))
        .collect();
    let after: Vec<_> = answers.iter().filter(|(_, _, at)| *at > started).collect();
    let status_counts = |answers: &[&(usize, Answer, Instant)]| {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for (_, answer, _) in answers {
            let key = match answer {
                Answer::Stored => "2xx".to_owned(),
                Answer::Refused(status, _) => status.to_string(),
                Answer::None => "no answer".to_owned(),
            };
            *counts.entry(key).or_default() += 1;
        }
        counts
    };
    println!(
        "PostgreSQL refused connections for {} ms (stopped with --mode fast, started {} s later)",
        started.duration_since(stopped).as_millis(),
        down.as_secs(),
    );
    println!("deliveries before the stop: {before}");
    println!("deliveries while it was down: {:?}", status_counts(&during));
    println!("deliveries after it was back: {:?}", status_counts(&after));
    for (index, answer, _) in answers.iter() {
        if let Answer::Refused(status, body) = answer {
            let lower = body.to_lowercase();
            if *status != 503 {
                failures.push(format!("bundle {index} was refused with {status}, not 503"));
            }
            if !lower.contains("operationoutcome") {
                failures.push(format!(
                    "bundle {index}: the refusal is not an OperationOutcome"
                ));
            }
            if let Some(word) = INTERNALS.iter().find(|w| lower.contains(*w)) {
                failures.push(format!(
                    "bundle {index}: the refusal names internals ({word})"
                ));
            }
        }
    }
    let not_ready: Vec<_> = readiness
        .iter()
        .filter(|(at, status)| in_window(at, stopped, started) && *status == 503)
        .collect();
    println!(
        "/ready polled {} times: 503 {} times while PostgreSQL was down; last answer {:?}",
        readiness.len(),
        not_ready.len(),
        readiness.last().map(|(_, s)| *s)
    );
    if not_ready.is_empty() {
        failures.push("/ready never reported PostgreSQL down".into());
    }
    if readiness.last().map(|(_, s)| *s) != Some(200) {
        failures.push("/ready did not report ready again".into());
    }
    match after
        .iter()
        .find(|(_, answer, _)| matches!(answer, Answer::Stored))
    {
        Some((_, _, at)) => println!(
            "first delivery stored after PostgreSQL was back: {} ms after it started",
            at.duration_since(started).as_millis()
        ),
        None => failures.push("no delivery was stored after PostgreSQL came back".into()),
    }
    let last_second: Vec<_> = after
        .iter()
        .filter(|(_, _, at)| *at > started + Duration::from_secs(9))
        .collect();
    if last_second
        .iter()
        .any(|(_, a, _)| !matches!(a, Answer::Stored))
    {
        failures.push("deliveries were still failing 9 s after PostgreSQL was back".into());
    }
    let (whole, none, stored_failures) = check_stored(database_url, &answers).await?;
    println!(
        "{} bundles sent: stored whole {whole}, not stored {none}, lost or partial {}",
        answers.len(),
        stored_failures.len()
    );
    failures.extend(stored_failures);
    Ok(failures)
}

// --- The disk filling up under SQLite ---------------------------------------------------------

/// Writes a file until the filesystem refuses another byte; answers its size.
fn fill(path: &Path) -> CheckResult<u64> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    let mut written = 0;
    for chunk in [1 << 20, 4096, 1] {
        let block = vec![0_u8; chunk];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(error) if error.raw_os_error() == Some(28) => break,
                Err(error) => return Err(error.into()),
            }
        }
    }
    let _ = file.sync_all();
    Ok(written)
}

async fn disk_full(binary: &Path, folder: &Path) -> CheckResult<Vec<String>> {
    let database_url = format!("sqlite://{}/portal.db", folder.display());
    let scratch = tempfile::tempdir()?;
    let token = register_sender(&database_url).await?;
    let numbers = Arc::new(nhs_numbers(MAX_BUNDLES)?);
    let (portal, _) = Portal::start(binary, &database_url, scratch.path(), free_port()?).await?;
    let client = client();
    let url = format!("{}/fhir", portal.base);
    let mut answers = Vec::new();
    let mut failures = Vec::new();
    let send = async |range: std::ops::Range<usize>,
                      answers: &mut Vec<(usize, Answer, Instant)>| {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for index in range {
            let answer = deliver(&client, &url, &token, lab_bundle(index, &numbers[index])).await;
            let key = match &answer {
                Answer::Stored => "2xx".to_owned(),
                Answer::Refused(status, _) => status.to_string(),
                Answer::None => "no answer".to_owned(),
            };
            *counts.entry(key).or_default() += 1;
            answers.push((index, answer, Instant::now()));
        }
        counts
    };
    println!("with room: {:?}", send(0..50, &mut answers).await);
    let filler = folder.join("filler");
    let filled = fill(&filler)?;
    println!(
        "filler file: {} KiB, the filesystem now full",
        filled / 1024
    );
    let full_from = answers.len();
    println!("disk full: {:?}", send(50..150, &mut answers).await);
    for (index, answer, _) in &answers[full_from..] {
        match answer {
            Answer::Refused(status, body) => {
                let lower = body.to_lowercase();
                if *status != 503 || !lower.contains("operationoutcome") {
                    failures.push(format!(
                        "bundle {index} (disk full) was refused with {status}, not a 503 OperationOutcome"
                    ));
                }
                if let Some(word) = INTERNALS.iter().find(|w| lower.contains(*w)) {
                    failures.push(format!(
                        "bundle {index}: the refusal names internals ({word})"
                    ));
                }
            }
            Answer::None => failures.push(format!("bundle {index} (disk full) got no answer")),
            Answer::Stored => {}
        }
    }
    if !answers[full_from..]
        .iter()
        .any(|(_, a, _)| matches!(a, Answer::Refused(..)))
    {
        failures.push("no delivery was refused with the disk full: it was not full".into());
    }
    let health = client.get(format!("{}/health", portal.base)).send().await?;
    println!("/health with the disk full: {}", health.status().as_u16());
    if !health.status().is_success() {
        failures.push("the portal stopped answering /health with the disk full".into());
    }
    std::fs::remove_file(&filler)?;
    let freed_from = answers.len();
    println!("space back: {:?}", send(150..200, &mut answers).await);
    if answers[freed_from..]
        .iter()
        .any(|(_, a, _)| !matches!(a, Answer::Stored))
    {
        failures.push("deliveries still failed once the space was back".into());
    }
    portal.kill()?;
    let (whole, none, stored_failures) = check_stored(&database_url, &answers).await?;
    println!(
        "{} bundles sent: stored whole {whole}, not stored {none}, lost or partial {}",
        answers.len(),
        stored_failures.len()
    );
    failures.extend(stored_failures);
    let integrity = sqlite_integrity(&database_url).await?;
    println!("SQLite integrity_check: {integrity}");
    if integrity != "ok" {
        failures.push(format!("integrity_check: {integrity}"));
    }
    Ok(failures)
}
