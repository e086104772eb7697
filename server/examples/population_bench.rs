//! The large-population benchmark for the patient record pages: how fast the real server
//! answers the signed-in results page (`GET /record/results`) and home page
//! (`GET /record`) when the database holds many patients and millions of record items,
//! on SQLite or PostgreSQL, measured side by side with the trivial `GET /health` of the
//! same server (it answers "ok") as the ceiling.
//!
//! 1. Fill. It creates a fresh database through `app::server::storage::connect` (which
//!    runs the migrations: the schema is measured exactly as shipped, with no extra
//!    index), registers 3 organisations through the `Storage` trait, then writes
//!    `--patients` patients and `--items-per-patient` record items each straight into
//!    the tables (a bulk path, not the feed: the feed's own speed is `ingest_bench`), as
//!    multi-row `INSERT`s in large transactions on a loading connection of its own
//!    (SQLite: `synchronous=OFF` and a 1 GiB page cache on that connection only;
//!    PostgreSQL: `synchronous_commit=off` on that session only). The items are written
//!    **in the order they arrived**: every patient's deliveries (a laboratory report
//!    with its 8 results, a radiology report, a letter, an appointment) are placed in
//!    time over five years and written sorted by arrival, interleaved across patients as
//!    a real feed writes them, so a patient's items lie scattered over the tables as they
//!    would after years of feeds. Each item is what the feed would have stored: a
//!    `record_items` row whose `details` column is a real `app::records::ItemDetails`
//!    serialised with serde_json, its relations as the feed records them (a report lists
//!    its results' keys), and its version 1 in `record_item_versions` (a compact raw FHIR
//!    resource and its SHA-256). For 50 items a patient has 4 laboratory reports
//!    (category LAB) of 8 observations each (category `laboratory`, LOINC codes, values
//!    with reference ranges, about 1 in 12 abnormal), 1 radiology report (category RAD,
//!    released 28 days after issue; 1 in 10 still withheld), 4 letters (each with a PDF
//!    attachment of about 24 KiB; 16 distinct files, stored once each as attachments are
//!    content-addressed) and 9 appointments (past, cancelled and upcoming); other counts
//!    keep the same proportions. One patient in 25 has a letter labelled `sexual-health`
//!    (stored, never shown). PostgreSQL gets `ANALYZE` afterwards, as autovacuum would
//!    do; SQLite is left as the portal leaves it (it never runs `ANALYZE`). The fill
//!    time, rate and database size on disk are printed.
//! 2. Sign-in. `--signed-in` accounts (identity level P9, each linked to a different
//!    patient spread over the population) sign in twice through `record_sign_in` (so the
//!    home page has a "last visit"), and each gets a session through `create_session`
//!    with a random token of its own; the request carries it as
//!    `Cookie: portal_session=<token>`, exactly as a browser would.
//! 3. Load. The real router (`server::routes::build_router`, real clock, release rules
//!    synchronised from the built-in table) serves on 127.0.0.1 on a Tokio runtime of
//!    its own; a separate runtime (`--client-threads` threads) runs `--sessions`
//!    concurrent tasks. Each task goes round its share of the signed-in patients'
//!    sessions, one request at a time, so the load is spread over all of them. Each
//!    endpoint is loaded for `--warm-up` seconds untimed and then `--seconds` measured:
//!    `/health` (no cookie; the ceiling), `/about` (an information page, signed in: the
//!    page frame every page pays), `/record/results`, `/record`, `/health` again. A
//!    request is timed from sending to the last byte of the body and counts as an error
//!    unless it answers 200 with the expected text ("ok", the information page's heading,
//!    the results list, "Hello, "). It prints requests, requests per second, p50 and p99
//!    latency, errors, CPU milliseconds per request of the portal's threads, of the load
//!    generator's and (PostgreSQL) of the database server's processes, the process's peak
//!    resident memory during the phase, and how many times the information page's
//!    throughput each record page's is.
//!
//! 4. Mixed load. Unless `--feed-rate 0`, the results page is loaded once more while a
//!    paced sender posts laboratory transaction bundles (`support/lab_bundles.rs`, 7
//!    resources each, for new patients after the population's NHS numbers) to the real
//!    `POST /fhir` at `--feed-rate` resources a second, whatever the pages do (each
//!    bundle is sent on its own schedule, not after the previous answer). The feed's
//!    achieved rate, p50, p99 and errors (any answer other than the transaction-response
//!    with every entry created) are printed beside the page's.
//!
//! The load generator, the server and (for PostgreSQL) the database all share the same
//! CPUs, which the output says: on a small machine the figures are a floor, not what a
//! dedicated server would do.
//!
//! ```sh
//! cargo run --release -p server --example population_bench -- \
//!     --database sqlite --patients 200000 --items-per-patient 50 --seconds 30
//! cargo run --release -p server --example population_bench -- \
//!     --database postgres --database-url postgres://postgres@127.0.0.1:5432/test
//! ```

use std::error::Error;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Parser, ValueEnum};
use sha2::{Digest, Sha256};
use sqlx::Connection;

use app::domain::OdsCode;
use app::records::{
    AttachmentSummary, Coding, DeliveryChannel, ItemDetails, ObservedValue, OrganisationKind,
    ReferenceRange, Relations,
};
use app::server::SystemClock;
use app::server::storage::{
    self, AccountRole, NewOrganisation, NewSession, NewSignIn, SessionAudience, Storage,
};
use server::auth::session::{PATIENT_COOKIE, hash_token, random_token};
use server::config::{Config, LogFormat, Secret, SettingsArgs};
use server::credentials::new_credential;

#[path = "support/nhs_numbers.rs"]
mod nhs_numbers;
use nhs_numbers::nhs_numbers;
#[path = "support/feed_poster.rs"]
mod feed_poster;
#[path = "support/lab_bundles.rs"]
mod lab_bundles;
#[path = "support/scratch_database.rs"]
mod scratch_database;
use feed_poster::{Sample, post_bundle, quote};
use lab_bundles::{RESOURCES_PER_BUNDLE, SENDER_ODS, lab_bundle};
use scratch_database::ScratchDatabase;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
const ISSUER: &str = "https://auth.popbench.invalid";
/// How many failures each phase prints in full.
const ERRORS_SHOWN: usize = 3;
/// Items per multi-row INSERT statement (24 columns; well under both backends' limits,
/// and the SQL is literal text anyway).
const ROWS_PER_STATEMENT: usize = 1_000;
/// Items per transaction while filling.
const ROWS_PER_TRANSACTION: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Database {
    Sqlite,
    Postgres,
}

/// Record pages under a large population: fill, sign in, then load the pages.
#[derive(Debug, Parser)]
struct Args {
    /// Which backend to run against.
    #[arg(long, value_enum, default_value_t = Database::Sqlite)]
    database: Database,
    /// PostgreSQL server to create the benchmark's own database `portal_popbench_<pid>`
    /// on (postgres only).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
    /// How many patients to fill (at most 909,090: the NHS test range's valid numbers).
    #[arg(long, default_value_t = 200_000)]
    patients: usize,
    /// How many record items each patient has.
    #[arg(long, default_value_t = 50)]
    items_per_patient: usize,
    /// How long to load each endpoint, in seconds, after its warm-up.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// How long each endpoint is loaded untimed before that (connections open, caches
    /// warm), in seconds.
    #[arg(long, default_value_t = 5)]
    warm_up: u64,
    /// Concurrent sessions: tasks, each with a request in flight at any time.
    #[arg(long, default_value_t = 64)]
    sessions: usize,
    /// Distinct patients signed in, each with a session of their own; every task goes
    /// round its share of them, so the load is spread over this many records.
    #[arg(long, default_value_t = 10_240)]
    signed_in: usize,
    /// Worker threads of the load generator's runtime (the server gets one per CPU).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Resources a second the feed delivers during the mixed-load phase (lab bundles of
    /// 7 resources); 0 leaves that phase out.
    #[arg(long, default_value_t = 2_000)]
    feed_rate: u64,
    /// Load only the results page (and the mixed phase): for profiling it.
    #[arg(long)]
    only_results: bool,
    /// Keep the database afterwards (PostgreSQL: not dropped; SQLite: the folder stays).
    #[arg(long)]
    keep: bool,
}

fn main() -> BenchResult<()> {
    let args = Args::parse();
    if args.sessions == 0 || args.sessions > args.signed_in || args.signed_in > args.patients {
        return Err("need 1 <= --sessions <= --signed-in <= --patients".into());
    }
    if args.items_per_patient == 0 || args.seconds == 0 || args.client_threads == 0 {
        return Err(
            "--items-per-patient, --seconds and --client-threads must be at least 1".into(),
        );
    }
    server::telemetry::init(LogFormat::Human, "warn");
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .thread_name("server")
        .enable_all()
        .build()?;
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads)
        .thread_name("load")
        .enable_all()
        .build()?;

    let scratch = std::env::temp_dir().join(format!("portal_popbench_{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let result = match args.database {
        Database::Sqlite => {
            let url = format!("sqlite://{}/portal.db", scratch.display());
            run(&args, &url, &scratch, &server_runtime, &client_runtime)
        }
        Database::Postgres => {
            let database = server_runtime.block_on(ScratchDatabase::create(
                &args.database_url,
                "portal_popbench",
            ))?;
            let result = run(
                &args,
                &database.url,
                &scratch,
                &server_runtime,
                &client_runtime,
            );
            if args.keep {
                println!("Kept the database: {}", database.url);
                result
            } else {
                // Dropped whatever happened, so a failed run leaves nothing behind.
                let dropped = server_runtime.block_on(database.drop_database());
                result.and(dropped.map_err(Into::into))
            }
        }
    };
    if args.keep {
        println!("Kept the folder: {}", scratch.display());
    } else {
        std::fs::remove_dir_all(&scratch)?;
    }
    result
}

fn backend_name(database: Database) -> &'static str {
    match database {
        Database::Sqlite => "SQLite",
        Database::Postgres => "PostgreSQL",
    }
}

/// Fill, sign in, serve, load, report.
fn run(
    args: &Args,
    database_url: &str,
    scratch: &Path,
    server_runtime: &tokio::runtime::Runtime,
    client_runtime: &tokio::runtime::Runtime,
) -> BenchResult<()> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "Record pages under load: {} backend, {} patients x {} items = {} items, {} \
         concurrent sessions over {} signed-in patients, {} s per endpoint after {} s of \
         warm-up",
        backend_name(args.database),
        args.patients,
        args.items_per_patient,
        args.patients * args.items_per_patient,
        args.sessions,
        args.signed_in,
        args.seconds,
        args.warm_up,
    );
    println!(
        "Machine: {cpus} CPU(s), shared by the server ({cpus} worker threads), the load \
         generator ({} thread(s)){}",
        args.client_threads,
        if args.database == Database::Postgres {
            " and PostgreSQL"
        } else {
            ""
        }
    );

    let server = server_runtime.block_on(prepare(args, database_url, scratch))?;
    let endpoints: Vec<Endpoint> = if args.only_results {
        vec![Endpoint::Results]
    } else {
        vec![
            Endpoint::Static,
            Endpoint::Information,
            Endpoint::Results,
            Endpoint::Home,
            Endpoint::Static,
        ]
    };
    let base = format!("http://{}", server.address);
    let tokens = server.tokens.clone();
    let feed = (args.feed_rate > 0).then(|| Feed {
        url: format!("{base}/fhir"),
        token: server.feed_token.clone(),
        bundles_per_second: args.feed_rate as f64 / RESOURCES_PER_BUNDLE as f64,
        first_patient: args.patients,
    });
    let seconds = args.seconds;
    let warm_up = args.warm_up;
    let sessions = args.sessions;
    let database = args.database;
    let reports = client_runtime.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(sessions)
            .build()?;
        let tokens = Arc::new(tokens);
        let load = PageLoad {
            client: &client,
            base: &base,
            tokens: &tokens,
            sessions,
            warm_up: Duration::from_secs(warm_up),
            measured: Duration::from_secs(seconds),
            database,
        };
        let mut reports = Vec::new();
        for endpoint in endpoints {
            reports.push(load.warm_up_and_measure(endpoint).await?);
        }
        let mut feed_report = None;
        if let Some(feed) = feed {
            // The feed runs through the warm-up and the measured seconds alike; only the
            // bundles sent in the measured seconds are counted.
            let sender = feed.start(load.warm_up);
            reports.push(load.warm_up_and_measure(Endpoint::ResultsWithFeed).await?);
            feed_report = Some(sender.finish().await?);
        }
        Ok::<_, Box<dyn Error + Send + Sync>>((reports, feed_report))
    })?;
    let (reports, feed_report) = reports;
    print_reports(&reports, args.database);
    if let Some(feed) = &feed_report {
        feed.print();
    }
    server_runtime.block_on(server.stop())
}

// --- Filling ---------------------------------------------------------------------------

/// The server, running, and the session tokens to use.
struct RunningServer {
    address: SocketAddr,
    tokens: Vec<String>,
    /// The hospital's feed credential, for the mixed-load phase.
    feed_token: String,
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

/// Creates and fills the database, signs the sessions in and starts the server, exactly
/// as the integration tests start it (`tests/support/mod.rs`) but with the real clock.
async fn prepare(args: &Args, database_url: &str, scratch: &Path) -> BenchResult<RunningServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let config = Config::resolve(SettingsArgs {
        database_url: Some(Secret::new(database_url.to_owned())),
        listen: Some(address),
        public_url: Some(format!("http://{address}")),
        // The pages render without the built site; the HTML only links to its files.
        site_root: Some(scratch.join("site")),
        data_dir: Some(scratch.join("data")),
        // The benchmark measures the portal, not its rate limiter.
        feed_limit: Some("1000000/1000000".into()),
        feed_address_limit: Some("1000000/1000000".into()),
        sign_in_limit: Some("1000000/1000000".into()),
        ..SettingsArgs::default()
    })?;
    let storage = storage::connect(config.database_url.expose()).await?;
    let now = Utc::now();
    server::release::sync_release_rules(storage.as_ref(), &config.release_rules, now).await?;
    let (organisations, feed_token) = create_organisations(storage.as_ref(), now).await?;

    let started = Instant::now();
    let rows = fill(args, database_url, &organisations, now).await?;
    let fill_time = started.elapsed();
    let items = args.patients * args.items_per_patient;
    println!(
        "Filled {} patients and {items} items ({rows} rows with versions and labels) in \
         {:.1} s: {:.0} items/s, {:.0} rows/s",
        args.patients,
        fill_time.as_secs_f64(),
        items as f64 / fill_time.as_secs_f64(),
        rows as f64 / fill_time.as_secs_f64(),
    );
    report_size(args.database, database_url, scratch).await?;

    let started = Instant::now();
    let tokens = sign_in(&storage, args.patients, args.signed_in, now).await?;
    println!(
        "Signed in {} patients, each with a session of their own, in {:.1} s",
        tokens.len(),
        started.elapsed().as_secs_f64()
    );
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
        tokens,
        feed_token,
        shutdown,
        task,
    })
}

/// The three sources: a hospital trust (laboratory, radiology, clinics, letters), a GP
/// practice (some blood tests, appointments, letters) and a community service.
struct Organisations {
    hospital: Source,
    gp: Source,
    community: Source,
}

#[derive(Clone)]
struct Source {
    id: i64,
    ods: &'static str,
}

/// Registers the three sources; returns them and the hospital's feed credential (the
/// mixed-load phase's lab bundles name it, `SENDER_ODS`, as performer).
async fn create_organisations(
    storage: &dyn Storage,
    now: DateTime<Utc>,
) -> BenchResult<(Organisations, String)> {
    let mut ids = Vec::new();
    let mut feed_token = String::new();
    for (ods, name, kind) in [
        (
            "RXX",
            "Northgate University Hospitals NHS Foundation Trust",
            OrganisationKind::HospitalTrust,
        ),
        (
            "Y09001",
            "Riverside Medical Practice",
            OrganisationKind::GpPractice,
        ),
        (
            "RYX99",
            "Northgate Community Health Services",
            OrganisationKind::CommunityService,
        ),
    ] {
        let (token, credential_hash) = new_credential();
        if ods == SENDER_ODS {
            feed_token = token;
        }
        let organisation = storage
            .create_organisation(NewOrganisation {
                ods_code: OdsCode::parse(ods)?,
                name: name.to_owned(),
                kind,
                credential_hash,
                at: now,
            })
            .await?;
        ids.push(Source {
            id: organisation.id.0,
            ods,
        });
    }
    match ids.as_slice() {
        [hospital, gp, community] => Ok((
            Organisations {
                hospital: hospital.clone(),
                gp: gp.clone(),
                community: community.clone(),
            },
            feed_token,
        )),
        _ => Err("expected three organisations".into()),
    }
}

/// The connection the fill writes on, with the speed settings on it alone.
enum Loader {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Loader {
    async fn open(database_url: &str) -> BenchResult<Self> {
        if database_url.starts_with("sqlite:") {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(database_url)?
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
                .pragma("cache_size", "-1048576")
                .pragma("temp_store", "memory")
                .busy_timeout(Duration::from_secs(60));
            Ok(Loader::Sqlite(
                sqlx::SqliteConnection::connect_with(&options).await?,
            ))
        } else {
            let mut connection = sqlx::PgConnection::connect(database_url).await?;
            sqlx::raw_sql("SET synchronous_commit = off")
                .execute(&mut connection)
                .await?;
            Ok(Loader::Postgres(connection))
        }
    }

    async fn execute(&mut self, sql: String) -> BenchResult<()> {
        let sql = sqlx::AssertSqlSafe(sql);
        match self {
            Loader::Sqlite(connection) => {
                sqlx::raw_sql(sql).execute(connection).await?;
            }
            Loader::Postgres(connection) => {
                sqlx::raw_sql(sql).execute(connection).await?;
            }
        }
        Ok(())
    }

    async fn close(self) -> BenchResult<()> {
        match self {
            Loader::Sqlite(connection) => connection.close().await?,
            Loader::Postgres(connection) => connection.close().await?,
        }
        Ok(())
    }
}

/// One batch of SQL for the loader, and how many rows it writes.
struct Batch {
    sql: String,
    items: usize,
    rows: usize,
}

/// Writes the population. SQL is generated on a thread of its own while the previous
/// batch is being written. Returns the number of rows written.
async fn fill(
    args: &Args,
    database_url: &str,
    organisations: &Organisations,
    now: DateTime<Utc>,
) -> BenchResult<usize> {
    let nhs_numbers = nhs_numbers(args.patients)?;
    let mut loader = Loader::open(database_url).await?;

    // Patients first, in statements of ROWS_PER_STATEMENT.
    loader.execute("BEGIN".to_owned()).await?;
    for (chunk_index, chunk) in nhs_numbers.chunks(ROWS_PER_STATEMENT).enumerate() {
        let mut sql = String::from(
            "INSERT INTO patients (id, nhs_number, family_name, given_name, birth_date, \
             gender, created_at, updated_at) VALUES ",
        );
        for (offset, nhs) in chunk.iter().enumerate() {
            let index = chunk_index * ROWS_PER_STATEMENT + offset;
            let created = to_millis(now) - 400 * DAY_MS;
            if offset > 0 {
                sql.push(',');
            }
            write!(
                sql,
                "({},{},{},{},'{}-{:02}-{:02}',{},{created},{created})",
                index + 1,
                text(nhs),
                text(FAMILY_NAMES[index % FAMILY_NAMES.len()]),
                text(GIVEN_NAMES[(index / FAMILY_NAMES.len()) % GIVEN_NAMES.len()]),
                1930 + index % 75,
                1 + index % 12,
                1 + index % 28,
                text(if index.is_multiple_of(2) {
                    "female"
                } else {
                    "male"
                }),
            )?;
        }
        loader.execute(sql).await?;
    }
    loader.execute("COMMIT".to_owned()).await?;

    // The letters' PDFs, stored once each as the feed stores attachments.
    let letter_pdfs = store_letter_pdfs(&mut loader, now).await?;

    // Then the deliveries in the order they arrived, interleaved across patients, their
    // SQL generated on another thread.
    let deliveries =
        deliveries_in_arrival_order(args.patients, args.items_per_patient, to_millis(now));
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<BenchResult<Batch>>(4);
    let generator = {
        let organisations = Organisations {
            hospital: organisations.hospital.clone(),
            gp: organisations.gp.clone(),
            community: organisations.community.clone(),
        };
        // About ROWS_PER_STATEMENT items a statement (a laboratory delivery is 9).
        let deliveries_per_batch =
            (ROWS_PER_STATEMENT * 18 / args.items_per_patient.max(18)).max(1);
        std::thread::spawn(move || {
            let mut next_item_id: i64 = 1;
            for chunk in deliveries.chunks(deliveries_per_batch) {
                let batch = batch_sql(
                    &organisations,
                    &nhs_numbers,
                    &letter_pdfs,
                    chunk,
                    &mut next_item_id,
                    now,
                );
                if sender.blocking_send(batch).is_err() {
                    return;
                }
            }
        })
    };

    let total_items = args.patients * args.items_per_patient;
    let mut rows = args.patients;
    let mut items_done = 0usize;
    let mut in_transaction = 0usize;
    let progress_step = (total_items / 10).max(1);
    let mut next_progress = progress_step;
    let started = Instant::now();
    loader.execute("BEGIN".to_owned()).await?;
    while let Some(batch) = receiver.recv().await {
        let batch = batch?;
        loader.execute(batch.sql).await?;
        items_done += batch.items;
        rows += batch.rows;
        in_transaction += batch.items;
        if in_transaction >= ROWS_PER_TRANSACTION {
            loader.execute("COMMIT".to_owned()).await?;
            loader.execute("BEGIN".to_owned()).await?;
            in_transaction = 0;
        }
        if items_done >= next_progress && items_done < total_items {
            println!(
                "  {items_done} items written, {:.0} items/s",
                items_done as f64 / started.elapsed().as_secs_f64()
            );
            next_progress += progress_step;
        }
    }
    loader.execute("COMMIT".to_owned()).await?;
    generator
        .join()
        .map_err(|_| "the generator thread failed")?;
    if items_done != total_items {
        return Err(format!("wrote {items_done} items, expected {total_items}").into());
    }

    match matches!(loader, Loader::Sqlite(_)) {
        true => {
            // Everything into the database file, so its size is the whole story.
            loader
                .execute("PRAGMA wal_checkpoint(TRUNCATE)".to_owned())
                .await?;
        }
        false => {
            // Explicit ids were written: move the identity sequences past them, and
            // gather statistics as autovacuum would after such a load.
            loader
                .execute(
                    "SELECT setval(pg_get_serial_sequence('patients', 'id'), \
                     (SELECT MAX(id) FROM patients)); \
                     SELECT setval(pg_get_serial_sequence('record_items', 'id'), \
                     (SELECT MAX(id) FROM record_items)); ANALYZE"
                        .to_owned(),
                )
                .await?;
        }
    }
    loader.close().await?;
    Ok(rows)
}

/// Stores the letters' PDFs; returns each one's SHA-256 and size.
async fn store_letter_pdfs(
    loader: &mut Loader,
    now: DateTime<Utc>,
) -> BenchResult<Vec<(String, usize)>> {
    let mut stored = Vec::with_capacity(LETTER_PDFS);
    for n in 0..LETTER_PDFS {
        let pdf = letter_pdf(n);
        let sha256 = hex::encode(Sha256::digest(&pdf));
        let content = match loader {
            Loader::Sqlite(_) => format!("X'{}'", hex::encode(&pdf)),
            Loader::Postgres(_) => format!("decode('{}', 'hex')", hex::encode(&pdf)),
        };
        loader
            .execute(format!(
                "INSERT INTO attachments (sha256, content_type, size, content, first_received_at) \
                 VALUES ({}, 'application/pdf', {}, {content}, {})",
                text(&sha256),
                pdf.len(),
                to_millis(now)
            ))
            .await?;
        stored.push((sha256, pdf.len()));
    }
    Ok(stored)
}

/// Prints the database's size on disk.
async fn report_size(database: Database, database_url: &str, scratch: &Path) -> BenchResult<()> {
    match database {
        Database::Sqlite => {
            let mut total = 0u64;
            for entry in std::fs::read_dir(scratch)? {
                let entry = entry?;
                if entry.file_name().to_string_lossy().starts_with("portal.db") {
                    total += entry.metadata()?.len();
                }
            }
            println!(
                "Database size on disk: {} (portal.db and its WAL, after a checkpoint)",
                human_bytes(total)
            );
        }
        Database::Postgres => {
            let mut connection = sqlx::PgConnection::connect(database_url).await?;
            let database_size: i64 =
                sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(&mut connection)
                    .await?;
            let mut tables = Vec::new();
            for table in ["record_items", "record_item_versions", "patients"] {
                let size: i64 = sqlx::query_scalar("SELECT pg_total_relation_size($1::regclass)")
                    .bind(table)
                    .fetch_one(&mut connection)
                    .await?;
                tables.push(format!("{table} {}", human_bytes(size.max(0) as u64)));
            }
            connection.close().await?;
            println!(
                "Database size on disk: {} (pg_database_size; with indexes: {})",
                human_bytes(database_size.max(0) as u64),
                tables.join(", ")
            );
        }
    }
    Ok(())
}

fn human_bytes(bytes: u64) -> String {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.2} GiB ({bytes} bytes)", mib / 1024.0)
    } else {
        format!("{mib:.1} MiB ({bytes} bytes)")
    }
}

/// Signs `signed_in` patients in, spread over the population (twice each, a week apart,
/// so the home page has a "last visit"), and gives each a session. Returns the cookie
/// values. Sixteen sign-ins run at a time.
async fn sign_in(
    storage: &Arc<dyn Storage>,
    patients: usize,
    signed_in: usize,
    now: DateTime<Utc>,
) -> BenchResult<Vec<String>> {
    let mut tokens = vec![String::new(); signed_in];
    let mut running = tokio::task::JoinSet::new();
    for index in 0..signed_in {
        if running.len() >= 16
            && let Some(done) = running.join_next().await
        {
            let (slot, token) = done??;
            tokens[slot] = token;
        }
        // The first, ..., the last-but-a-bit.
        let patient_id = (index * patients / signed_in) as i64 + 1;
        let storage = Arc::clone(storage);
        running.spawn(async move {
            let token = sign_in_one(storage.as_ref(), index, patient_id, now).await?;
            Ok::<_, Box<dyn Error + Send + Sync>>((index, token))
        });
    }
    while let Some(done) = running.join_next().await {
        let (slot, token) = done??;
        tokens[slot] = token;
    }
    Ok(tokens)
}

async fn sign_in_one(
    storage: &dyn Storage,
    index: usize,
    patient_id: i64,
    now: DateTime<Utc>,
) -> BenchResult<String> {
    let mut account = None;
    for at in [now - chrono::Duration::days(7), now] {
        account = Some(
            storage
                .record_sign_in(NewSignIn {
                    given_name: None,
                    family_name: None,
                    birth_date: None,
                    issuer: ISSUER.to_owned(),
                    subject: format!("popbench-{index}"),
                    role: AccountRole::Patient,
                    identity_level: Some("P9".to_owned()),
                    patient_id: Some(storage::PatientId(patient_id)),
                    at,
                    request_id: None,
                })
                .await?,
        );
    }
    let account = account.ok_or("no account")?;
    let token = random_token();
    storage
        .create_session(NewSession {
            id_hash: hash_token(&token),
            account_id: account.id,
            audience: SessionAudience::Patient,
            csrf_token: random_token(),
            created_at: now,
            absolute_expires_at: now + app::auth::absolute_timeout(),
        })
        .await?;
    Ok(token)
}

// --- Synthetic records -------------------------------------------------------------------

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

const FAMILY_NAMES: [&str; 8] = [
    "Hart", "Iqbal", "Okafor", "Turner", "Nowak", "Evans", "Chen", "Murphy",
];
const GIVEN_NAMES: [&str; 8] = [
    "Amelia", "Mohammed", "Grace", "Oliver", "Zofia", "Rhys", "Mei", "Siobhan",
];

/// One test of a panel: LOINC code, name, unit, reference range and a typical value.
struct Test {
    loinc: &'static str,
    name: &'static str,
    unit: &'static str,
    low: f64,
    high: f64,
    decimals: usize,
}

const fn test(
    loinc: &'static str,
    name: &'static str,
    unit: &'static str,
    low: f64,
    high: f64,
    decimals: usize,
) -> Test {
    Test {
        loinc,
        name,
        unit,
        low,
        high,
        decimals,
    }
}

/// A laboratory panel: SNOMED CT code, name, and its 8 tests.
struct Panel {
    code: &'static str,
    name: &'static str,
    tests: [Test; 8],
}

const PANELS: [Panel; 4] = [
    Panel {
        code: "26604007",
        name: "Full blood count",
        tests: [
            test("718-7", "Haemoglobin", "g/L", 115.0, 165.0, 0),
            test("6690-2", "White blood cell count", "10*9/L", 4.0, 11.0, 1),
            test("777-3", "Platelet count", "10*9/L", 150.0, 400.0, 0),
            test("789-8", "Red blood cell count", "10*12/L", 3.8, 5.8, 2),
            test("4544-3", "Haematocrit", "L/L", 0.37, 0.47, 3),
            test("787-2", "Mean cell volume", "fL", 80.0, 100.0, 1),
            test("785-6", "Mean cell haemoglobin", "pg", 27.0, 32.0, 1),
            test("751-8", "Neutrophil count", "10*9/L", 2.0, 7.5, 2),
        ],
    },
    Panel {
        code: "444164000",
        name: "Urea and electrolytes",
        tests: [
            test("2951-2", "Sodium", "mmol/L", 133.0, 146.0, 0),
            test("2823-3", "Potassium", "mmol/L", 3.5, 5.3, 1),
            test("22664-7", "Urea", "mmol/L", 2.5, 7.8, 1),
            test("14682-9", "Creatinine", "umol/L", 59.0, 104.0, 0),
            test("33914-3", "eGFR", "mL/min/{1.73_m2}", 60.0, 120.0, 0),
            test("2075-0", "Chloride", "mmol/L", 95.0, 108.0, 0),
            test("1963-8", "Bicarbonate", "mmol/L", 22.0, 29.0, 0),
            test("17861-6", "Calcium", "mmol/L", 2.2, 2.6, 2),
        ],
    },
    Panel {
        code: "26958001",
        name: "Liver function tests",
        tests: [
            test("1742-6", "Alanine aminotransferase", "U/L", 7.0, 56.0, 0),
            test("1920-8", "Aspartate aminotransferase", "U/L", 10.0, 40.0, 0),
            test("6768-6", "Alkaline phosphatase", "U/L", 30.0, 130.0, 0),
            test("1975-2", "Bilirubin", "umol/L", 0.0, 21.0, 0),
            test("1751-7", "Albumin", "g/L", 35.0, 50.0, 0),
            test("2324-2", "Gamma GT", "U/L", 0.0, 60.0, 0),
            test("2885-2", "Total protein", "g/L", 60.0, 80.0, 0),
            test("1968-7", "Direct bilirubin", "umol/L", 0.0, 5.0, 1),
        ],
    },
    Panel {
        code: "16254007",
        name: "Lipids and diabetes",
        tests: [
            test("2093-3", "Total cholesterol", "mmol/L", 0.0, 5.0, 1),
            test("2085-9", "HDL cholesterol", "mmol/L", 1.0, 2.5, 2),
            test("13457-7", "LDL cholesterol", "mmol/L", 0.0, 3.0, 1),
            test("2571-8", "Triglycerides", "mmol/L", 0.0, 1.7, 2),
            test("9830-1", "Cholesterol/HDL ratio", "ratio", 0.0, 4.5, 1),
            test("59261-8", "HbA1c", "mmol/mol", 20.0, 42.0, 0),
            test("2345-7", "Glucose", "mmol/L", 3.9, 7.8, 1),
            test("3016-3", "TSH", "mU/L", 0.27, 4.2, 2),
        ],
    },
];

const SPECIALTIES: [&str; 6] = [
    "Cardiology",
    "Diabetes",
    "Dermatology",
    "Physiotherapy",
    "Respiratory",
    "Ophthalmology",
];

/// A deterministic generator (SplitMix64), so a population is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How a patient's items divide into kinds, keeping the proportions of 50 items:
/// 4 laboratory reports of 8 results, 1 radiology report, 4 letters, 9 appointments.
struct Mix {
    lab_reports: usize,
    radiology: usize,
    documents: usize,
    appointments: usize,
}

impl Mix {
    fn of(items: usize) -> Self {
        let lab_reports = items * 72 / 100 / 9;
        let radiology = if items >= 10 { (items / 50).max(1) } else { 0 };
        let rest = items - lab_reports * 9 - radiology;
        let documents = rest * 4 / 13;
        Mix {
            lab_reports,
            radiology,
            documents,
            appointments: rest - documents,
        }
    }
}

/// What one delivery from a sender is: a laboratory report with its 8 results, a
/// radiology report, a letter or an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DeliveryKind {
    Laboratory,
    Radiology,
    Letter,
    Appointment,
}

/// One delivery of one patient's, placed in time: the population is written in the
/// order these arrive, interleaved across patients, as a real feed would write it.
#[derive(Debug, Clone, Copy)]
struct Delivery {
    received_at: i64,
    patient: u32,
    kind: DeliveryKind,
    n: u16,
}

/// Every delivery of the population, sorted by arrival. Only the timing is worked out
/// here; the items are generated again from the same seed when written.
fn deliveries_in_arrival_order(patients: usize, per_patient: usize, now_ms: i64) -> Vec<Delivery> {
    let mix = Mix::of(per_patient);
    let slots = [
        (DeliveryKind::Laboratory, mix.lab_reports),
        (DeliveryKind::Radiology, mix.radiology),
        (DeliveryKind::Letter, mix.documents),
        (DeliveryKind::Appointment, mix.appointments),
    ];
    let mut deliveries = Vec::with_capacity(patients * slots.iter().map(|s| s.1).sum::<usize>());
    for patient in 0..patients {
        for (kind, count) in slots {
            for n in 0..count {
                let mut rng = delivery_rng(patient, kind, n);
                let timing = Timing::of(kind, n, &mut rng, now_ms);
                deliveries.push(Delivery {
                    received_at: timing.received_at,
                    patient: patient as u32,
                    kind,
                    n: n as u16,
                });
            }
        }
    }
    deliveries.sort_unstable_by_key(|d| (d.received_at, d.patient, d.kind, d.n));
    deliveries
}

/// Each delivery has a generator of its own, so it can be made again in any order.
fn delivery_rng(patient: usize, kind: DeliveryKind, n: usize) -> Rng {
    Rng(0x5EED_0000_0000
        ^ (patient as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)
        ^ ((kind as u64) << 56)
        ^ ((n as u64) << 40))
}

/// When a delivery's event happened and when the portal received it: the first draws of
/// the delivery's generator.
struct Timing {
    /// Issue time of a report, date of a letter, start of an appointment.
    at: i64,
    received_at: i64,
    /// An appointment's status.
    status: &'static str,
}

impl Timing {
    fn of(kind: DeliveryKind, n: usize, rng: &mut Rng, now_ms: i64) -> Self {
        let days = |d: u64| d as i64 * DAY_MS;
        match kind {
            DeliveryKind::Laboratory => {
                let issued = now_ms - days(rng.below(5 * 365)) - rng.below(24) as i64 * HOUR_MS;
                Timing {
                    at: issued,
                    received_at: issued + 10 * 60_000,
                    status: "final",
                }
            }
            DeliveryKind::Radiology => {
                // One in ten written in the last 28 days: still withheld by the rule table.
                let age = if rng.below(10) == 0 {
                    rng.below(28)
                } else {
                    28 + rng.below(4 * 365)
                };
                let issued = now_ms - days(age) - HOUR_MS;
                Timing {
                    at: issued,
                    received_at: issued + 30 * 60_000,
                    status: "final",
                }
            }
            DeliveryKind::Letter => {
                let date = now_ms - days(rng.below(5 * 365)) - 3 * HOUR_MS;
                Timing {
                    at: date,
                    received_at: date + HOUR_MS,
                    status: "current",
                }
            }
            DeliveryKind::Appointment => {
                // Two in nine ahead (booked), one in nine cancelled, the rest attended.
                let (start, status) = match n % 9 {
                    1 | 5 => (now_ms + days(1 + rng.below(120)) + 9 * HOUR_MS, "booked"),
                    7 => (now_ms - days(rng.below(3 * 365)), "cancelled"),
                    _ => (now_ms - days(1 + rng.below(5 * 365)), "fulfilled"),
                };
                Timing {
                    at: start,
                    // Booked a month ahead (or on the day, for what is already past).
                    received_at: (start - 30 * DAY_MS).min(now_ms - HOUR_MS),
                    status,
                }
            }
        }
    }
}

/// The letters' PDFs: a few distinct files, stored once each (attachments are content
/// addressed), each about 24 KiB.
const LETTER_PDFS: usize = 16;

fn letter_pdf(n: usize) -> Vec<u8> {
    let mut pdf = format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
         2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% clinic letter {n}\n"
    )
    .into_bytes();
    let mut rng = Rng(0x9DF0_0000 + n as u64);
    while pdf.len() < 24 * 1024 {
        // Compressed page content looks like noise.
        pdf.extend_from_slice(&rng.next().to_le_bytes());
    }
    pdf.extend_from_slice(b"\ntrailer << /Root 1 0 R >>\n%%EOF\n");
    pdf
}

/// One item's columns, before they become SQL.
struct Item<'a> {
    id: i64,
    patient_id: i64,
    source: &'a Source,
    resource_type: &'static str,
    identifier_value: String,
    kind: &'static str,
    parent: Option<i64>,
    status: &'static str,
    title: String,
    occurred_at: i64,
    details: ItemDetails,
    category: Option<&'static str>,
    code_system: Option<&'static str>,
    code: Option<&'static str>,
    abnormal: Option<bool>,
    issued_at: Option<i64>,
    effective_at: Option<i64>,
    received_at: i64,
    label: Option<&'static str>,
    /// Report and result keys, as the feed stores them (`server::ingest::relations`).
    members: Vec<String>,
}

impl Item<'_> {
    fn identifier_system(&self) -> String {
        format!(
            "https://fhir.{}.example/Id/{}",
            self.source.ods.to_ascii_lowercase(),
            self.resource_type.to_ascii_lowercase()
        )
    }

    /// The key the item is known by (its business identifier), as the feed stores it.
    fn key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.resource_type,
            self.identifier_system(),
            self.identifier_value
        )
    }
}

/// The SQL for `deliveries`, ids from `next_item_id` on.
fn batch_sql(
    organisations: &Organisations,
    nhs_numbers: &[String],
    letter_pdfs: &[(String, usize)],
    deliveries: &[Delivery],
    next_item_id: &mut i64,
    now: DateTime<Utc>,
) -> BenchResult<Batch> {
    let mut items_sql = String::with_capacity(ROWS_PER_STATEMENT * 1100);
    let mut versions_sql = String::with_capacity(ROWS_PER_STATEMENT * 700);
    let mut labels_sql = String::new();
    items_sql.push_str(
        "INSERT INTO record_items (id, public_id, patient_id, source_org_id, resource_type, \
         identifier_system, identifier_value, kind, parent_item_id, current_version, status, \
         entered_in_error, title, occurred_at, occurred_text, details, category, code_system, \
         code, abnormal, issued_at, effective_at, release_directive, first_received_at, \
         last_received_at, relations) VALUES ",
    );
    versions_sql.push_str(
        "INSERT INTO record_item_versions (item_id, version, received_at, sender_org_id, \
         content_sha256, raw_resource) VALUES ",
    );
    let mut count = 0usize;
    let mut labels = 0usize;
    for delivery in deliveries {
        let index = delivery.patient as usize;
        let nhs = nhs_numbers.get(index).ok_or("no NHS number")?;
        for item in delivery_items(organisations, letter_pdfs, delivery, next_item_id, now) {
            if count > 0 {
                items_sql.push(',');
                versions_sql.push(',');
            }
            push_item(&mut items_sql, &mut versions_sql, &item, nhs)?;
            if let Some(label) = item.label {
                labels_sql.push_str(if labels == 0 {
                    "INSERT INTO record_item_labels (item_id, label, origin) VALUES "
                } else {
                    ","
                });
                write!(labels_sql, "({},{},'code_list')", item.id, text(label))?;
                labels += 1;
            }
            count += 1;
        }
    }
    let mut sql = items_sql;
    sql.push_str(";\n");
    sql.push_str(&versions_sql);
    sql.push_str(";\n");
    if labels > 0 {
        sql.push_str(&labels_sql);
        sql.push_str(";\n");
    }
    Ok(Batch {
        sql,
        items: count,
        rows: 2 * count + labels,
    })
}

/// Appends one item's row to the items statement and its version 1 to the versions one.
fn push_item(
    items_sql: &mut String,
    versions_sql: &mut String,
    item: &Item<'_>,
    nhs: &str,
) -> BenchResult<()> {
    let details = serde_json::to_string(&item.details)?;
    let identifier_system = item.identifier_system();
    let relations = serde_json::to_string(&Relations {
        known_as: vec![item.key()],
        members: item.members.clone(),
        belongs_to: Vec::new(),
    })?;
    let occurred_text = fhir_time(item.occurred_at);
    write!(
        items_sql,
        "({},{},{},{},{},{},{},{},{},1,{},FALSE,{},{},{},{},{},{},{},{},{},{},'none',{},{},{})",
        item.id,
        text(&uuid::Uuid::new_v4().to_string()),
        item.patient_id,
        item.source.id,
        text(item.resource_type),
        text(&identifier_system),
        text(&item.identifier_value),
        text(item.kind),
        optional_number(item.parent),
        text(item.status),
        text(&item.title),
        item.occurred_at,
        text(&occurred_text),
        text(&details),
        optional_text(item.category),
        optional_text(item.code_system),
        optional_text(item.code),
        match item.abnormal {
            Some(true) => "TRUE",
            Some(false) => "FALSE",
            None => "NULL",
        },
        optional_number(item.issued_at),
        optional_number(item.effective_at),
        item.received_at,
        item.received_at,
        text(&relations),
    )?;
    // A compact FHIR resource for the version row: what the sender's feed carried, in
    // the shape (not the full size) of the real thing.
    let raw = format!(
        r#"{{"resourceType":"{}","identifier":[{{"system":"{identifier_system}","value":"{}"}}],"status":"{}","subject":{{"identifier":{{"system":"{NHS_NUMBER_SYSTEM}","value":"{nhs}"}}}},"text":"{}","date":"{occurred_text}","projection":{details}}}"#,
        item.resource_type, item.identifier_value, item.status, item.title,
    );
    let sha = hex::encode(Sha256::digest(raw.as_bytes()));
    write!(
        versions_sql,
        "({},1,{},{},{},{})",
        item.id,
        item.received_at,
        item.source.id,
        text(&sha),
        text(&raw)
    )?;
    Ok(())
}

/// The items of one delivery: a laboratory report and its 8 results, or one item.
fn delivery_items<'a>(
    organisations: &'a Organisations,
    letter_pdfs: &[(String, usize)],
    delivery: &Delivery,
    next_item_id: &mut i64,
    now: DateTime<Utc>,
) -> Vec<Item<'a>> {
    let now_ms = to_millis(now);
    let index = delivery.patient as usize;
    let n = usize::from(delivery.n);
    let patient_id = index as i64 + 1;
    let mut rng = delivery_rng(index, delivery.kind, n);
    let timing = Timing::of(delivery.kind, n, &mut rng, now_ms);
    let mut take_id = || {
        let id = *next_item_id;
        *next_item_id += 1;
        id
    };
    let reference = |prefix: &str| format!("{prefix}{index:07}-{n:04}");

    match delivery.kind {
        DeliveryKind::Laboratory => {
            // Mostly the hospital laboratory, sometimes the GP's own phlebotomy.
            let source = if n % 4 == 3 {
                &organisations.gp
            } else {
                &organisations.hospital
            };
            let panel = &PANELS[(index + n) % PANELS.len()];
            let issued = timing.at;
            let effective = issued - 20 * HOUR_MS;
            let report_id = take_id();
            let mut results = Vec::with_capacity(panel.tests.len());
            for (t, test) in panel.tests.iter().enumerate() {
                let abnormal = rng.below(12) == 0;
                let span = test.high - test.low;
                let value = if abnormal {
                    test.high + span * (0.1 + 0.4 * rng.unit())
                } else {
                    test.low + span * (0.1 + 0.8 * rng.unit())
                };
                let value = format!("{value:.*}", test.decimals);
                results.push(Item {
                    id: take_id(),
                    patient_id,
                    source,
                    resource_type: "Observation",
                    identifier_value: format!("{}-{t}", reference("LAB")),
                    kind: "observation",
                    parent: Some(report_id),
                    status: "final",
                    title: test.name.to_owned(),
                    occurred_at: effective,
                    details: ItemDetails::Observation {
                        status: "final".to_owned(),
                        code: Coding {
                            system: Some(LOINC.to_owned()),
                            code: Some(test.loinc.to_owned()),
                            display: Some(test.name.to_owned()),
                        },
                        effective: Some(fhir_time(effective)),
                        value: Some(ObservedValue::Quantity {
                            value,
                            comparator: None,
                            unit: Some(test.unit.to_owned()),
                        }),
                        reference_range: Some(ReferenceRange {
                            low: Some(format!("{:.*}", test.decimals, test.low)),
                            high: Some(format!("{:.*}", test.decimals, test.high)),
                            unit: Some(test.unit.to_owned()),
                            text: None,
                        }),
                        interpretation: Some(if abnormal { "H" } else { "N" }.to_owned()),
                        note: None,
                    },
                    category: Some("laboratory"),
                    code_system: Some(LOINC),
                    code: Some(test.loinc),
                    abnormal: Some(abnormal),
                    issued_at: Some(issued),
                    effective_at: Some(effective),
                    received_at: timing.received_at,
                    label: None,
                    members: Vec::new(),
                });
            }
            let report = Item {
                id: report_id,
                patient_id,
                source,
                resource_type: "DiagnosticReport",
                identifier_value: reference("LAB"),
                kind: "diagnostic_report",
                parent: None,
                status: "final",
                title: panel.name.to_owned(),
                occurred_at: effective,
                details: ItemDetails::DiagnosticReport {
                    status: "final".to_owned(),
                    category: Some("LAB".to_owned()),
                    code: Coding {
                        system: Some(SNOMED.to_owned()),
                        code: Some(panel.code.to_owned()),
                        display: Some(panel.name.to_owned()),
                    },
                    effective: Some(fhir_time(effective)),
                    issued: Some(fhir_time(issued)),
                    conclusion: None,
                    text: None,
                },
                category: Some("LAB"),
                code_system: Some(SNOMED),
                code: Some(panel.code),
                abnormal: None,
                issued_at: Some(issued),
                effective_at: Some(effective),
                received_at: timing.received_at,
                label: None,
                members: results.iter().map(Item::key).collect(),
            };
            std::iter::once(report).chain(results).collect()
        }
        DeliveryKind::Radiology => {
            let issued = timing.at;
            let effective = issued - DAY_MS;
            vec![Item {
                id: take_id(),
                patient_id,
                source: &organisations.hospital,
                resource_type: "DiagnosticReport",
                identifier_value: reference("RAD"),
                kind: "diagnostic_report",
                parent: None,
                status: "final",
                title: "Chest X-ray".to_owned(),
                occurred_at: effective,
                details: ItemDetails::DiagnosticReport {
                    status: "final".to_owned(),
                    category: Some("RAD".to_owned()),
                    code: Coding {
                        system: Some(SNOMED.to_owned()),
                        code: Some("399208008".to_owned()),
                        display: Some("Chest X-ray".to_owned()),
                    },
                    effective: Some(fhir_time(effective)),
                    issued: Some(fhir_time(issued)),
                    conclusion: Some("No acute cardiopulmonary abnormality.".to_owned()),
                    text: Some(
                        "PA chest radiograph. The heart is not enlarged. The lungs are clear. \
                         No pleural effusion or pneumothorax. Bones and soft tissues \
                         unremarkable."
                            .to_owned(),
                    ),
                },
                category: Some("RAD"),
                code_system: Some(SNOMED),
                code: Some("399208008"),
                abnormal: None,
                issued_at: Some(issued),
                effective_at: Some(effective),
                received_at: timing.received_at,
                label: None,
                members: Vec::new(),
            }]
        }
        DeliveryKind::Letter => {
            let source = if n % 2 == 0 {
                &organisations.hospital
            } else {
                &organisations.gp
            };
            let specialty = SPECIALTIES[(index + n) % SPECIALTIES.len()];
            let date = timing.at;
            let description = format!("{specialty} clinic letter");
            let (sha256, size) = &letter_pdfs[(index + n) % letter_pdfs.len()];
            vec![Item {
                id: take_id(),
                patient_id,
                source,
                resource_type: "DocumentReference",
                identifier_value: reference("DOC"),
                kind: "document",
                parent: None,
                status: timing.status,
                title: description.clone(),
                occurred_at: date,
                details: ItemDetails::Document {
                    status: "current".to_owned(),
                    document_type: Some("Outpatient letter".to_owned()),
                    date: Some(fhir_time(date)),
                    description: Some(description),
                    sections: Vec::new(),
                    attachments: vec![AttachmentSummary {
                        title: Some("Clinic letter".to_owned()),
                        content_type: "application/pdf".to_owned(),
                        size: Some(*size as u64),
                        sha256: Some(sha256.clone()),
                    }],
                },
                category: None,
                code_system: None,
                code: None,
                abnormal: None,
                issued_at: None,
                effective_at: None,
                received_at: timing.received_at,
                // Stored, never shown: the privacy rules leave it out of every page.
                label: (n == 0 && index.is_multiple_of(25)).then_some(app::privacy::SEXUAL_HEALTH),
                members: Vec::new(),
            }]
        }
        DeliveryKind::Appointment => {
            let source = match n % 3 {
                0 => &organisations.hospital,
                1 => &organisations.gp,
                _ => &organisations.community,
            };
            let specialty = SPECIALTIES[(index * 7 + n) % SPECIALTIES.len()];
            let start = timing.at;
            let description = format!("{specialty} appointment");
            let channel = match rng.below(4) {
                0 => DeliveryChannel::Telephone,
                1 => DeliveryChannel::Video,
                _ => DeliveryChannel::InPerson,
            };
            vec![Item {
                id: take_id(),
                patient_id,
                source,
                resource_type: "Appointment",
                identifier_value: reference("APT"),
                kind: "appointment",
                parent: None,
                status: timing.status,
                title: description.clone(),
                occurred_at: start,
                details: ItemDetails::Appointment {
                    status: timing.status.to_owned(),
                    start: Some(fhir_time(start)),
                    end: Some(fhir_time(start + 30 * 60_000)),
                    description: Some(description),
                    specialty: Some(specialty.to_owned()),
                    appointment_type: None,
                    place: Some("Outpatients, Northgate General Hospital".to_owned()),
                    channel: Some(channel),
                    instructions: Some("Please arrive 10 minutes early.".to_owned()),
                    cancellation_reason: (timing.status == "cancelled")
                        .then(|| "Clinic cancelled".to_owned()),
                },
                category: None,
                code_system: None,
                code: None,
                abnormal: None,
                issued_at: None,
                effective_at: None,
                received_at: timing.received_at,
                label: None,
                members: Vec::new(),
            }]
        }
    }
}

/// A SQL string literal.
fn text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn optional_text(value: Option<&str>) -> String {
    value.map_or_else(|| "NULL".to_owned(), text)
}

fn optional_number(value: Option<i64>) -> String {
    value.map_or_else(|| "NULL".to_owned(), |n| n.to_string())
}

fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Epoch milliseconds as FHIR writes an instant.
fn fhir_time(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, false))
        .unwrap_or_default()
}

// --- Load --------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Static,
    /// An information page: the page frame every page pays (session, layout), no record.
    Information,
    Results,
    Home,
    /// The results page while the feed delivers at `--feed-rate`.
    ResultsWithFeed,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Static => "static /health",
            Endpoint::Information => "information /about",
            Endpoint::Results => "results /record/results",
            Endpoint::Home => "home /record",
            Endpoint::ResultsWithFeed => "results, feed running",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Endpoint::Static => "/health",
            Endpoint::Information => "/about",
            Endpoint::Results | Endpoint::ResultsWithFeed => "/record/results",
            Endpoint::Home => "/record",
        }
    }

    /// Whether a 200 body is the page the endpoint should answer with.
    fn check(self, body: &str) -> Result<(), String> {
        let expected: &[&str] = match self {
            Endpoint::Static => &["ok"],
            Endpoint::Information => &["<h1>About this service</h1>"],
            // The heading (Leptos may put a marker before its end tag) and the list of
            // result cards (only there when the patient's results were read and decided).
            Endpoint::Results | Endpoint::ResultsWithFeed => &["<h1>Test results", "app-card-list"],
            Endpoint::Home => &["<h1>Hello, "],
        };
        match expected.iter().find(|text| !body.contains(**text)) {
            None => Ok(()),
            Some(missing) => Err(format!(
                "the answer does not contain {missing:?}: {}",
                quote(body)
            )),
        }
    }
}

/// How the pages are loaded: by `sessions` concurrent tasks over the signed-in patients'
/// sessions, each endpoint warmed up (not counted) and then measured.
struct PageLoad<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    tokens: &'a Arc<Vec<String>>,
    sessions: usize,
    warm_up: Duration,
    measured: Duration,
    database: Database,
}

impl PageLoad<'_> {
    /// Warms `endpoint` up, then measures it, with the server's CPU and memory use over
    /// the measured part only.
    async fn warm_up_and_measure(&self, endpoint: Endpoint) -> BenchResult<Report> {
        if !self.warm_up.is_zero() {
            self.run(endpoint, self.warm_up).await?;
        }
        let usage = Usage::start(self.database);
        let (wall, samples) = self.run(endpoint, self.measured).await?;
        Ok(Report::new(endpoint, wall, samples, usage.finish()))
    }

    async fn run(
        &self,
        endpoint: Endpoint,
        duration: Duration,
    ) -> BenchResult<(Duration, Vec<Sample>)> {
        run_phase(
            self.client,
            self.base,
            self.tokens,
            self.sessions,
            endpoint,
            duration,
        )
        .await
    }
}

/// Loads one endpoint for `duration` with `sessions` tasks, each going round its share of
/// the signed-in patients' sessions (task t uses sessions t, t + `sessions`, ...).
/// Returns the wall time and every request's sample.
async fn run_phase(
    client: &reqwest::Client,
    base: &str,
    tokens: &Arc<Vec<String>>,
    sessions: usize,
    endpoint: Endpoint,
    duration: Duration,
) -> BenchResult<(Duration, Vec<Sample>)> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::with_capacity(sessions);
    for task in 0..sessions {
        let client = client.clone();
        let url = format!("{base}{}", endpoint.path());
        let cookies: Vec<String> = tokens
            .iter()
            .skip(task)
            .step_by(sessions)
            .map(|token| format!("{PATIENT_COOKIE}={token}"))
            .collect();
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            for cookie in cookies.iter().cycle() {
                samples.push(request(&client, &url, endpoint, Some(cookie)).await);
                if Instant::now() >= deadline {
                    break;
                }
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for worker in workers {
        samples.extend(worker.await?);
    }
    Ok((started.elapsed(), samples))
}

async fn request(
    client: &reqwest::Client,
    url: &str,
    endpoint: Endpoint,
    cookie: Option<&str>,
) -> Sample {
    let started = Instant::now();
    let answer = async {
        let mut request = client.get(url);
        // The static endpoint is asked as a signed-out visitor would: no session lookup.
        if let (Some(cookie), false) = (cookie, endpoint == Endpoint::Static) {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        Ok::<_, reqwest::Error>((status, body))
    }
    .await;
    let latency = started.elapsed();
    let error = match answer {
        Err(error) => Some(format!("request failed: {error}")),
        Ok((status, body)) if status != reqwest::StatusCode::OK => {
            Some(format!("HTTP {}: {}", status.as_u16(), quote(&body)))
        }
        Ok((_, body)) => endpoint.check(&body).err(),
    };
    Sample { latency, error }
}

/// CPU time and memory over one phase, read from `/proc`: the portal's threads (the
/// server's runtime, sqlx's SQLite threads, blocking work) apart from the load
/// generator's (threads named `load`, and the main thread that waits for them), and, on
/// PostgreSQL, every `postgres` process of the machine's database server.
struct Usage {
    database: Database,
    started: (u64, u64, u64),
}

/// What [`Usage`] measured: CPU seconds of the portal, the load generator and
/// PostgreSQL, and the process's peak resident memory in the phase.
struct Used {
    portal_cpu: f64,
    load_cpu: f64,
    postgres_cpu: Option<f64>,
    peak_rss: Option<u64>,
}

impl Usage {
    fn start(database: Database) -> Self {
        // Resets the peak resident set size (VmHWM) to the current one (Linux).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        Usage {
            database,
            started: cpu_ticks(),
        }
    }

    fn finish(self) -> Used {
        let (portal, load, postgres) = cpu_ticks();
        let ticks = clock_ticks_per_second();
        let seconds = |now: u64, then: u64| now.saturating_sub(then) as f64 / ticks;
        Used {
            portal_cpu: seconds(portal, self.started.0),
            load_cpu: seconds(load, self.started.1),
            postgres_cpu: (self.database == Database::Postgres)
                .then(|| seconds(postgres, self.started.2)),
            peak_rss: peak_rss(),
        }
    }
}

/// The kernel's clock ticks per second for `/proc` CPU times: 100 on Linux (USER_HZ),
/// which this benchmark takes as given rather than call libc.
fn clock_ticks_per_second() -> f64 {
    100.0
}

/// User plus system CPU ticks: (the portal's threads, the load generator's, every
/// `postgres` process).
fn cpu_ticks() -> (u64, u64, u64) {
    let own = std::process::id().to_string();
    let (mut portal, mut load) = (0, 0);
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let Some((name, ticks)) = stat_ticks(&task.path().join("stat")) else {
                continue;
            };
            if name == "load" || task.file_name().to_string_lossy() == own {
                load += ticks;
            } else {
                portal += ticks;
            }
        }
    }
    let mut postgres = 0;
    if let Ok(processes) = std::fs::read_dir("/proc") {
        for process in processes.flatten() {
            if !process
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
            {
                continue;
            }
            if let Some((name, ticks)) = stat_ticks(&process.path().join("stat"))
                && name == "postgres"
            {
                postgres += ticks;
            }
        }
    }
    (portal, load, postgres)
}

/// A `/proc/.../stat` file's command name and its user plus system ticks.
fn stat_ticks(path: &Path) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    // "pid (name) state ppid ...": the name may hold spaces, so split at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // After the name: state is field 3 of the whole line, utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// The process's peak resident set size since the last reset, in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// What one phase measured.
struct Report {
    endpoint: Endpoint,
    requests: usize,
    wall: Duration,
    p50: Duration,
    p99: Duration,
    errors: usize,
    shown_errors: Vec<String>,
    used: Used,
}

impl Report {
    fn new(endpoint: Endpoint, wall: Duration, samples: Vec<Sample>, used: Used) -> Self {
        let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
        latencies.sort_unstable();
        let errors: Vec<String> = samples.into_iter().filter_map(|s| s.error).collect();
        Report {
            endpoint,
            requests: latencies.len(),
            wall,
            p50: percentile(&latencies, 50),
            p99: percentile(&latencies, 99),
            errors: errors.len(),
            shown_errors: errors.into_iter().take(ERRORS_SHOWN).collect(),
            used,
        }
    }

    fn rps(&self) -> f64 {
        let seconds = self.wall.as_secs_f64();
        if seconds > 0.0 {
            self.requests as f64 / seconds
        } else {
            0.0
        }
    }

    /// CPU milliseconds per request.
    fn per_request(&self, cpu_seconds: f64) -> f64 {
        cpu_seconds * 1000.0 / self.requests.max(1) as f64
    }
}

fn print_reports(reports: &[Report], database: Database) {
    let information_rps = reports
        .iter()
        .find(|r| r.endpoint == Endpoint::Information)
        .map_or(0.0, Report::rps);
    println!(
        "{:<24} {:>9} {:>9} {:>8} {:>8} {:>7} {:>10} {:>10} {:>10} {:>9} {:>10}",
        "endpoint",
        "requests",
        "rps",
        "p50 ms",
        "p99 ms",
        "errors",
        "portal ms",
        "load ms",
        if database == Database::Postgres {
            "pg ms"
        } else {
            "-"
        },
        "peak MiB",
        "about/page"
    );
    for report in reports {
        let ratio = match report.endpoint {
            Endpoint::Results | Endpoint::Home | Endpoint::ResultsWithFeed
                if report.rps() > 0.0 =>
            {
                format!("{:.1}x", information_rps / report.rps())
            }
            _ => "-".to_owned(),
        };
        println!(
            "{:<24} {:>9} {:>9.0} {:>8.2} {:>8.2} {:>7} {:>10.3} {:>10.3} {:>10} {:>9} {:>10}",
            report.endpoint.name(),
            report.requests,
            report.rps(),
            milliseconds(report.p50),
            milliseconds(report.p99),
            report.errors,
            report.per_request(report.used.portal_cpu),
            report.per_request(report.used.load_cpu),
            report
                .used
                .postgres_cpu
                .map_or("-".to_owned(), |cpu| format!(
                    "{:.3}",
                    report.per_request(cpu)
                )),
            report.used.peak_rss.map_or("-".to_owned(), |bytes| format!(
                "{:.0}",
                bytes as f64 / 1048576.0
            )),
            ratio,
        );
        for error in &report.shown_errors {
            println!("    error: {error}");
        }
    }
    println!(
        "portal ms / load ms / pg ms: CPU milliseconds per request of the portal's threads, \
         the load generator's and PostgreSQL's processes. peak MiB: the process's peak \
         resident memory in the phase (load generator included). about/page: the \
         information page's rps over the page's. Everything shares the same CPUs."
    );
}

// --- The feed beside the pages ---------------------------------------------------------

/// A paced sender of laboratory bundles for the mixed-load phase.
struct Feed {
    url: String,
    token: String,
    bundles_per_second: f64,
    /// Bundles are for new patients: the NHS numbers after the population's.
    first_patient: usize,
}

/// The feed, sending: stop it to get its figures.
struct FeedSender {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<BenchResult<FeedReport>>,
}

/// What the feed did in the measured seconds.
struct FeedReport {
    bundles: usize,
    wall: Duration,
    p50: Duration,
    p99: Duration,
    errors: usize,
    shown_errors: Vec<String>,
}

impl Feed {
    /// Starts sending at the set rate: each bundle on its own schedule, so a slow answer
    /// does not slow the sender. Samples of the first `warm_up` are not counted.
    fn start(self, warm_up: Duration) -> FeedSender {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let interval = Duration::from_secs_f64(1.0 / self.bundles_per_second);
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let started = Instant::now();
            let counted_from = started + warm_up;
            // Enough numbers for the longest phase at this rate, generated once.
            let numbers = Arc::new(nhs_numbers(
                self.first_patient + (self.bundles_per_second * 600.0) as usize,
            )?);
            let token = Arc::new(self.token);
            let url = Arc::new(self.url);
            let mut sent = Vec::new();
            let mut index = 0;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = ticks.tick() => {}
                }
                let Some(nhs) = numbers.get(self.first_patient + index) else {
                    break;
                };
                // Identifiers of their own, after any the population uses.
                let body = lab_bundle(100_000_000 + index, nhs);
                index += 1;
                let counted = Instant::now() >= counted_from;
                let (client, url, token) = (client.clone(), Arc::clone(&url), Arc::clone(&token));
                sent.push((
                    counted,
                    tokio::spawn(async move {
                        post_bundle(&client, &url, &token, body, all_created).await
                    }),
                ));
            }
            let wall = counted_from.elapsed();
            let mut samples = Vec::new();
            for (counted, handle) in sent {
                let sample = handle.await?;
                if counted {
                    samples.push(sample);
                }
            }
            let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
            latencies.sort_unstable();
            let errors: Vec<String> = samples.into_iter().filter_map(|s| s.error).collect();
            Ok(FeedReport {
                bundles: latencies.len(),
                wall,
                p50: percentile(&latencies, 50),
                p99: percentile(&latencies, 99),
                errors: errors.len(),
                shown_errors: errors.into_iter().take(ERRORS_SHOWN).collect(),
            })
        });
        FeedSender { stop, task }
    }
}

impl FeedSender {
    async fn finish(self) -> BenchResult<FeedReport> {
        let _ = self.stop.send(());
        self.task.await?
    }
}

impl FeedReport {
    fn print(&self) {
        let resources = self.bundles * RESOURCES_PER_BUNDLE;
        println!(
            "feed during the mixed phase: {} bundles ({resources} resources) in {:.1} s = \
             {:.0} resources/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            self.bundles,
            self.wall.as_secs_f64(),
            resources as f64 / self.wall.as_secs_f64().max(f64::MIN_POSITIVE),
            milliseconds(self.p50),
            milliseconds(self.p99),
            self.errors,
        );
        for error in &self.shown_errors {
            println!("    feed error: {error}");
        }
    }
}

/// Whether a lab bundle's answer says every entry but the Patient was created.
fn all_created(answer: &str) -> Result<(), String> {
    let created = answer.matches("\"201 Created\"").count();
    if created == RESOURCES_PER_BUNDLE - 1 {
        return Ok(());
    }
    Err(format!(
        "{created} entries created, {} expected: {}",
        RESOURCES_PER_BUNDLE - 1,
        quote(answer)
    ))
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
