//! The feed ingest benchmark: how fast the real `POST /fhir` endpoint takes in laboratory
//! results, on SQLite or PostgreSQL.
//!
//! It starts the real router in this process on 127.0.0.1 (a port the system picks), with
//! a fresh database (a SQLite file in a temporary folder, or a new PostgreSQL database
//! `portal_bench_<pid>` that is dropped at the end), registers one sending organisation
//! with a credential through the storage trait, and builds N synthetic UK laboratory
//! transaction bundles before the clock starts. Each bundle is a FHIR R4 `transaction`
//! with 7 entries, all conditional updates by identifier: a Patient (a valid test-range
//! NHS number, a different one per bundle), a DiagnosticReport (category LAB, a SNOMED CT
//! panel code) and its 5 Observations (LOINC codes, decimal values, reference ranges).
//! C concurrent tasks then post the bundles over HTTP with `reqwest`, timing each request
//! from sending to the last byte of the answer, in two phases:
//!
//! 1. first delivery: every resource is new (`201 Created`, version 1);
//! 2. re-delivery of the same N bundles: the idempotent path, where every entry must
//!    answer `200 OK` with version 1 unchanged.
//!
//! With `--prefill-bundles P`, P bundles of other patients go through the same feed first,
//! untimed (progress is printed), so that the measured phases write into a database that
//! already holds records: 166,667 make 1,000,000 items.
//!
//! `--mix` names the bundle sets to measure, `lab` (the bundles above) and `mixed`
//! (`support/mixed_bundles.rs`: laboratory reports, radiology reports, letters with a PDF
//! attached, some labelled sensitive, and results held for want of an NHS number), and
//! `--concurrency` the numbers of requests in flight: every combination is measured in
//! turn on the same server, each with patients of its own, and a summary table ends the
//! run.
//!
//! For each phase it prints bundles, resources, wall-clock seconds, resources and bundles
//! per second, p50 and p99 latency, errors (any non-2xx answer, transport failure or
//! entry answered differently from what the phase expects; the first few are printed)
//! and the CPU time the process used per bundle, server and load generator together
//! (Linux only), which says what a bundle costs even when other work shares the machine.
//!
//! ```sh
//! cargo run --release -p server --example ingest_bench -- \
//!     --bundles 2000 --concurrency 8,1 --mix lab,mixed --database sqlite
//! cargo run --release -p server --example ingest_bench -- \
//!     --database postgres --database-url postgres://postgres@127.0.0.1:5432/test
//! ```

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use serde_json::Value;

use app::domain::OdsCode;
use app::records::OrganisationKind;
use app::server::SystemClock;
use app::server::storage::{self, NewOrganisation};
use server::config::{Config, LogFormat, Secret, SettingsArgs};
use server::credentials::new_credential;

type BenchResult<T> = Result<T, Box<dyn Error>>;

/// The bundles: shared with the fault checks (`fault_check.rs`).
#[path = "support/lab_bundles.rs"]
mod lab_bundles;
#[path = "support/nhs_numbers.rs"]
mod nhs_numbers;
use lab_bundles::{RESOURCES_PER_BUNDLE, SENDER_ODS, lab_bundle};
#[path = "support/mixed_bundles.rs"]
mod mixed_bundles;
use mixed_bundles::{DeliveryKind, mixed_bundle};
use nhs_numbers::nhs_numbers;
#[path = "support/feed_poster.rs"]
mod feed_poster;
use feed_poster::{Sample, post_bundle};
#[path = "support/scratch_database.rs"]
mod scratch_database;
use scratch_database::ScratchDatabase;

/// How many failures each phase prints in full.
const ERRORS_SHOWN: usize = 5;

/// A set of bundles to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mix {
    /// Laboratory reports with their results, every bundle alike.
    Lab,
    /// Laboratory and radiology reports, letters with PDFs, and held results.
    Mixed,
}

impl Mix {
    fn name(self) -> &'static str {
        match self {
            Mix::Lab => "lab",
            Mix::Mixed => "mixed",
        }
    }

    /// Bundle `index` of this set, for the patient with NHS number `nhs`.
    fn bundle(self, index: usize, nhs: &str) -> (DeliveryKind, String) {
        match self {
            Mix::Lab => (DeliveryKind::Laboratory, lab_bundle(index, nhs)),
            Mix::Mixed => mixed_bundle(index, nhs),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Database {
    Sqlite,
    Postgres,
}

/// Feed ingest benchmark: N lab transaction bundles through `POST /fhir`, twice.
#[derive(Debug, Parser)]
struct Args {
    /// How many bundles (each 7 resources) to send in each phase.
    #[arg(long, default_value_t = 2000)]
    bundles: usize,
    /// How many requests are in flight at once; several (`8,1`) are measured in turn.
    #[arg(long, value_delimiter = ',', default_value = "8,1")]
    concurrency: Vec<usize>,
    /// Which bundle sets to measure, in turn.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "lab,mixed")]
    mix: Vec<Mix>,
    /// Which backend to run against.
    #[arg(long, value_enum, default_value_t = Database::Sqlite)]
    database: Database,
    /// PostgreSQL server to create the benchmark's own database on (postgres only).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
    /// Bundles of other patients sent through the same feed, untimed, before the two
    /// measured phases, so that they write into a database that already holds records
    /// (each bundle stores 6 items: 166,667 bundles make 1,000,000 items).
    #[arg(long, default_value_t = 0)]
    prefill_bundles: usize,
}

/// Prefill bundles are built and sent this many at a time, so they never all sit in
/// memory at once.
const PREFILL_CHUNK: usize = 10_000;
/// Items each bundle stores: the report and its 5 results (the Patient is not an item).
const ITEMS_PER_BUNDLE: usize = RESOURCES_PER_BUNDLE - 1;

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    if args.bundles == 0 || args.concurrency.contains(&0) || args.concurrency.is_empty() {
        return Err("--bundles and --concurrency must be at least 1".into());
    }
    if args.mix.is_empty() {
        return Err("--mix names at least one bundle set".into());
    }
    server::telemetry::init(LogFormat::Human, "warn");
    match args.database {
        Database::Sqlite => {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}/portal.db", dir.path().display());
            run(&args, &url, dir.path()).await
        }
        Database::Postgres => {
            let scratch = tempfile::tempdir()?;
            let database = ScratchDatabase::create(&args.database_url, "portal_bench").await?;
            let result = run(&args, &database.url, scratch.path()).await;
            // Dropped whatever happened, so a failed run leaves nothing behind.
            let dropped = database.drop_database().await;
            result.and(dropped.map_err(Into::into))
        }
    }
}

/// Starts the server on `database_url`, registers the sender, prefills, and runs both
/// phases for every bundle set and concurrency asked for, each with patients of its own.
async fn run(args: &Args, database_url: &str, scratch: &std::path::Path) -> BenchResult<()> {
    let server = start_server(database_url, scratch).await?;
    let runs: Vec<(Mix, usize)> = args
        .mix
        .iter()
        .flat_map(|&mix| args.concurrency.iter().map(move |&c| (mix, c)))
        .collect();
    let measured_bundles = runs.len() * args.bundles;
    let numbers = nhs_numbers(measured_bundles + args.prefill_bundles)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.iter().copied().max().unwrap_or(1))
        .build()?;
    let target = Target {
        client,
        url: format!("http://{}/fhir", server.address),
        token: server.token.clone(),
    };
    println!(
        "Feed ingest benchmark: {} backend, {} bundles per run, bundle sets {:?}, \
         concurrency {:?}, {} CPU(s)",
        backend_name(args.database),
        args.bundles,
        args.mix.iter().map(|m| m.name()).collect::<Vec<_>>(),
        args.concurrency,
        std::thread::available_parallelism().map_or(1, usize::from),
    );
    let mut errors = 0;
    if args.prefill_bundles > 0 {
        errors += prefill(args, &target, &numbers[measured_bundles..]).await?;
    }
    println!("{}", Report::header());
    let mut reports = Vec::new();
    for (run, &(mix, concurrency)) in runs.iter().enumerate() {
        let first = run * args.bundles;
        let bundles: Arc<Vec<(DeliveryKind, String)>> = Arc::new(
            numbers[first..first + args.bundles]
                .iter()
                .enumerate()
                .map(|(offset, nhs)| mix.bundle(first + offset, nhs))
                .collect(),
        );
        for phase in [Phase::FirstDelivery, Phase::Redelivery] {
            let report = run_phase(&target, &bundles, concurrency, phase, mix).await?;
            println!("{}", report.line());
            for error in &report.shown_errors {
                println!("    error: {error}");
            }
            errors += report.errors;
            reports.push(report);
        }
    }
    server.stop().await?;
    print_summary(&reports);
    // Figures from a run with failures do not count: say so with the exit status too.
    if errors > 0 {
        return Err(format!("{errors} requests failed or were answered wrongly").into());
    }
    Ok(())
}

/// One line per bundle set and concurrency: first delivery and re-delivery side by side,
/// and how each compares with the goal of issue #11.
fn print_summary(reports: &[Report]) {
    println!();
    println!(
        "{:<7} {:>11} {:>16} {:>14} {:>16} {:>14}",
        "set", "concurrency", "first res/s", "first p99 ms", "again res/s", "again p99 ms"
    );
    for pair in reports.chunks(2) {
        let [first, again] = pair else { continue };
        println!(
            "{:<7} {:>11} {:>16.0} {:>14.2} {:>16.0} {:>14.2}",
            first.mix.name(),
            first.concurrency,
            first.resources_per_second(),
            milliseconds(first.p99),
            again.resources_per_second(),
            milliseconds(again.p99),
        );
    }
}

/// Sends `--prefill-bundles` laboratory bundles for patients the measured phases never
/// name, through the same feed at the first concurrency asked for, and says how long
/// that took. Returns how many requests failed.
async fn prefill(args: &Args, target: &Target, numbers: &[String]) -> BenchResult<usize> {
    let concurrency = args.concurrency.first().copied().unwrap_or(8);
    // Identifiers after every measured bundle's.
    let first_index = args.bundles * args.mix.len() * args.concurrency.len();
    let started = Instant::now();
    let mut errors = 0;
    let mut sent = 0;
    for chunk in numbers.chunks(PREFILL_CHUNK) {
        let bundles: Arc<Vec<(DeliveryKind, String)>> = Arc::new(
            chunk
                .iter()
                .enumerate()
                .map(|(offset, nhs)| Mix::Lab.bundle(first_index + sent + offset, nhs))
                .collect(),
        );
        let report = run_phase(
            target,
            &bundles,
            concurrency,
            Phase::FirstDelivery,
            Mix::Lab,
        )
        .await?;
        for error in &report.shown_errors {
            println!("    prefill error: {error}");
        }
        errors += report.errors;
        sent += chunk.len();
        println!(
            "  prefilled {sent} bundles ({} items), {:.0} resources/s so far",
            sent * ITEMS_PER_BUNDLE,
            (sent * RESOURCES_PER_BUNDLE) as f64 / started.elapsed().as_secs_f64()
        );
    }
    println!(
        "Prefilled {sent} bundles ({} items) through the feed in {:.1} s",
        sent * ITEMS_PER_BUNDLE,
        started.elapsed().as_secs_f64()
    );
    Ok(errors)
}

fn backend_name(database: Database) -> &'static str {
    match database {
        Database::Sqlite => "SQLite",
        Database::Postgres => "PostgreSQL",
    }
}

/// The real router, serving on a port of its own, and the sender's credential.
struct RunningServer {
    address: SocketAddr,
    token: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    async fn stop(self) -> BenchResult<()> {
        // The server may already have stopped; then there is nobody to tell.
        let _ = self.shutdown.send(());
        self.task.await??;
        Ok(())
    }
}

/// Starts the server exactly as the integration tests do (`tests/support/mod.rs`), with
/// the real clock, and registers the sending organisation.
async fn start_server(database_url: &str, scratch: &std::path::Path) -> BenchResult<RunningServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let config = Config::resolve(SettingsArgs {
        database_url: Some(Secret::new(database_url.to_owned())),
        listen: Some(address),
        public_url: Some(format!("http://{address}")),
        site_root: Some(scratch.join("site")),
        data_dir: Some(scratch.join("data")),
        // The benchmark measures the portal, not its rate limiter.
        feed_limit: Some("1000000/1000000".into()),
        feed_address_limit: Some("1000000/1000000".into()),
        sign_in_limit: Some("1000000/1000000".into()),
        ..SettingsArgs::default()
    })?;
    let storage = storage::connect(config.database_url.expose()).await?;
    server::release::sync_release_rules(
        storage.as_ref(),
        &config.release_rules,
        chrono::Utc::now(),
    )
    .await?;
    let (token, credential_hash) = new_credential();
    storage
        .create_organisation(NewOrganisation {
            ods_code: OdsCode::parse(SENDER_ODS)?,
            name: "Northgate University Hospitals Pathology".into(),
            kind: OrganisationKind::HospitalTrust,
            credential_hash,
            at: chrono::Utc::now(),
        })
        .await?;
    let router = server::routes::build_router(&config, storage, Arc::new(SystemClock))?;
    let limits = server::connections::ConnectionLimits {
        header_read: config.header_read_timeout,
        max_connections: config.max_connections,
    };
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::connections::serve(listener, router, limits, async {
            let _ = stopped.await;
        })
        .await;
        Ok::<(), std::io::Error>(())
    });
    Ok(RunningServer {
        address,
        token,
        shutdown,
        task,
    })
}

// --- Driving the feed ----------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Every resource is new: items answer `201 Created`, version 1.
    FirstDelivery,
    /// The same bundles again: every entry answers `200 OK`, still version 1.
    Redelivery,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::FirstDelivery => "first delivery",
            Phase::Redelivery => "re-delivery",
        }
    }
}

/// Where and how to post: the feed's base URL and the sender's credential.
struct Target {
    client: reqwest::Client,
    url: String,
    token: String,
}

/// Posts every bundle once with `concurrency` tasks taking the next bundle in turn.
async fn run_phase(
    target: &Target,
    bundles: &Arc<Vec<(DeliveryKind, String)>>,
    concurrency: usize,
    phase: Phase,
    mix: Mix,
) -> BenchResult<Report> {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let client = target.client.clone();
        let url = target.url.clone();
        let token = target.token.clone();
        let bundles = Arc::clone(bundles);
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some((kind, body)) = bundles.get(index) else {
                    break;
                };
                let check = |answer: &str| check_answer(answer, *kind, phase);
                samples.push(post_bundle(&client, &url, &token, body.clone(), check).await);
            }
            samples
        }));
    }
    let mut samples = Vec::with_capacity(bundles.len());
    for worker in workers {
        samples.extend(worker.await?);
    }
    let wall = started.elapsed();
    let cpu = cpu_before
        .zip(process_cpu_seconds())
        .map(|(before, after)| after - before);
    let resources = bundles.iter().map(|(kind, _)| kind.resources()).sum();
    Ok(Report::new(
        phase,
        mix,
        concurrency,
        resources,
        wall,
        cpu,
        samples,
    ))
}

/// A `transaction-response` with one entry per resource, each answered as its kind of
/// delivery must be in this phase (`DeliveryKind::expected_status`), items at version 1.
fn check_answer(text: &str, kind: DeliveryKind, phase: Phase) -> Result<(), String> {
    let answer: Value =
        serde_json::from_str(text).map_err(|e| format!("the answer is not JSON: {e}"))?;
    if answer["type"] != "transaction-response" {
        return Err(format!("not a transaction-response: {}", answer["type"]));
    }
    let entries = answer["entry"].as_array().map_or(&[][..], Vec::as_slice);
    if entries.len() != kind.resources() {
        return Err(format!(
            "{kind:?}: {} entries answered, {} sent",
            entries.len(),
            kind.resources()
        ));
    }
    for (index, entry) in entries.iter().enumerate() {
        let response = &entry["response"];
        let expected_status = kind.expected_status(index, phase == Phase::Redelivery);
        let expected_etag = kind.has_version(index).then_some("W/\"1\"");
        if response["status"] != expected_status
            || expected_etag.is_some_and(|etag| response["etag"] != etag)
        {
            return Err(format!(
                "{kind:?} entry {index} answered {} {}, expected {expected_status} {}",
                response["status"],
                response["etag"],
                expected_etag.unwrap_or_default()
            ));
        }
    }
    Ok(())
}

// --- Figures -------------------------------------------------------------------------

/// What one phase measured.
struct Report {
    phase: Phase,
    mix: Mix,
    concurrency: usize,
    bundles: usize,
    resources: usize,
    wall: Duration,
    /// CPU seconds the whole process (server and load generator) used, where known.
    cpu: Option<f64>,
    p50: Duration,
    p99: Duration,
    errors: usize,
    shown_errors: Vec<String>,
}

impl Report {
    fn new(
        phase: Phase,
        mix: Mix,
        concurrency: usize,
        resources: usize,
        wall: Duration,
        cpu: Option<f64>,
        samples: Vec<Sample>,
    ) -> Self {
        let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
        latencies.sort_unstable();
        let errors: Vec<String> = samples.into_iter().filter_map(|s| s.error).collect();
        Report {
            phase,
            mix,
            concurrency,
            bundles: latencies.len(),
            resources,
            wall,
            cpu,
            p50: percentile(&latencies, 50),
            p99: percentile(&latencies, 99),
            errors: errors.len(),
            shown_errors: errors.into_iter().take(ERRORS_SHOWN).collect(),
        }
    }

    fn resources_per_second(&self) -> f64 {
        let seconds = self.wall.as_secs_f64();
        if seconds > 0.0 {
            self.resources as f64 / seconds
        } else {
            0.0
        }
    }

    fn header() -> String {
        format!(
            "{:<7} {:>4} {:<15} {:>8} {:>10} {:>8} {:>12} {:>10} {:>8} {:>8} {:>7} {:>14}",
            "set",
            "c",
            "phase",
            "bundles",
            "resources",
            "wall s",
            "resources/s",
            "bundles/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "cpu ms/bundle"
        )
    }

    fn line(&self) -> String {
        let resources = self.resources;
        let seconds = self.wall.as_secs_f64();
        let per_second = |count: usize| {
            if seconds > 0.0 {
                count as f64 / seconds
            } else {
                0.0
            }
        };
        format!(
            "{:<7} {:>4} {:<15} {:>8} {:>10} {:>8.2} {:>12.0} {:>10.1} {:>8.2} {:>8.2} {:>7} {:>14}",
            self.mix.name(),
            self.concurrency,
            self.phase.name(),
            self.bundles,
            resources,
            seconds,
            per_second(resources),
            per_second(self.bundles),
            milliseconds(self.p50),
            milliseconds(self.p99),
            self.errors,
            self.cpu.map_or_else(
                || "-".to_owned(),
                |cpu| format!("{:.2}", cpu * 1000.0 / self.bundles.max(1) as f64)
            )
        )
    }
}

/// The nearest-rank percentile of sorted latencies (zero when there are none).
fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// CPU time (user and system) this process has used so far, from `/proc/self/stat`
/// (Linux; `None` elsewhere). It counts the server and the load generator together: on
/// a shared machine it says what a bundle costs better than the wall clock does.
fn process_cpu_seconds() -> Option<f64> {
    /// Clock ticks per second of `/proc` times: 100 on every mainstream Linux platform.
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces:
    // state is field 3, utime 14 and stime 15.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}
