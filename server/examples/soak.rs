//! The soak (issue #15): mixed traffic for a long while against the real `server` binary,
//! to see that nothing creeps: no errors, and latency and memory the same in the last
//! minute as in the first.
//!
//! The server runs as a child process in demo mode (SQLite, demo data, the NHS login
//! simulator) on a fresh database. For `--seconds` (600 by default), in parallel:
//! - **sign-ins**: 2 workers, each signing a demo patient in through the NHS login
//!   simulator exactly as a browser does (login, the simulator's page, its form, the
//!   callback), reading their results and signing out with the form's CSRF token;
//! - **record pages**: 4 workers, each a signed-in patient reading the overview,
//!   results, letters and appointments in turn, without pause;
//! - **feed deliveries**: 1 worker posting a new laboratory bundle (7 resources) every
//!   100 ms, 70 resources a second.
//!
//! Everything is bounded: the number of workers, the delivery rate and the time.
//!
//! Each request's latency and outcome is kept; the server's resident memory is read from
//! `/proc/<pid>/status` every second. It prints, per minute, the requests, errors, p50
//! and p99 of each kind and the peak RSS, then a verdict: no errors; each kind's p99 in
//! the last minute at most twice the first minute's (and at least 1 ms slack); peak RSS
//! in the last minute at most 25% above the first minute's. Exit status 1 otherwise.
//!
//! ```sh
//! cargo run -p server --example soak -- --server target/debug/server --seconds 600
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::Parser;

use app::domain::OdsCode;
use app::server::storage::{self, CredentialChange};
use server::credentials::new_credential;

#[path = "support/lab_bundles.rs"]
mod lab_bundles;
#[path = "support/nhs_numbers.rs"]
mod nhs_numbers;
use lab_bundles::{SENDER_ODS, lab_bundle};
use nhs_numbers::nhs_numbers;
#[path = "../tests/support/browser.rs"]
mod browser;
use browser::Browser;

type SoakResult<T> = Result<T, Box<dyn Error>>;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "target/debug/server")]
    server: PathBuf,
    #[arg(long, default_value_t = 600)]
    seconds: u64,
}

/// The browser helper's client: no redirects followed, a 60 s limit.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    SignIn,
    Page,
    Delivery,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::SignIn => "sign-in",
            Kind::Page => "record page",
            Kind::Delivery => "feed delivery",
        }
    }
}

/// One request as measured: when it ended, what it was, how long, whether it worked.
struct Sample {
    at: Duration,
    kind: Kind,
    latency: Duration,
    ok: bool,
}

#[derive(Default)]
struct Log {
    samples: Mutex<Vec<Sample>>,
    /// (seconds since start, RSS in KiB)
    rss: Mutex<Vec<(u64, u64)>>,
    first_errors: Mutex<Vec<String>>,
}

impl Log {
    fn record(&self, start: Instant, kind: Kind, began: Instant, outcome: Result<(), String>) {
        let sample = Sample {
            at: start.elapsed(),
            kind,
            latency: began.elapsed(),
            ok: outcome.is_ok(),
        };
        if let Err(error) = outcome {
            let mut errors = self
                .first_errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if errors.len() < 5 {
                errors.push(format!("{}: {error}", kind.name()));
            }
        }
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sample);
    }
}

#[tokio::main]
async fn main() -> SoakResult<()> {
    let args = Args::parse();
    let scratch = tempfile::tempdir()?;
    let database_url = format!("sqlite://{}/portal.db", scratch.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");

    let log_file = std::fs::File::create(scratch.path().join("server.log"))?;
    let mut child = Command::new(&args.server)
        .env("DATABASE_URL", &database_url)
        .env("PORTAL_LISTEN", format!("127.0.0.1:{port}"))
        .env("PORTAL_PUBLIC_URL", &base)
        .env("PORTAL_DATA_DIR", scratch.path().join("data"))
        .env("LEPTOS_SITE_ROOT", scratch.path().join("site"))
        .env("PORTAL_DEMO", "true")
        .env("NHS_LOGIN_SIMULATOR", "true")
        .env("PORTAL_SIGN_IN_LIMIT", "100000/100000")
        .env("PORTAL_FEED_LIMIT", "100000/100000")
        .env("PORTAL_FEED_ADDRESS_LIMIT", "100000/100000")
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::from(log_file.try_clone()?))
        .stderr(Stdio::from(log_file))
        .spawn()?;
    let pid = child.id();
    let ready = async {
        for _ in 0..1200 {
            if let Ok(answer) = http_client().get(format!("{base}/health")).send().await
                && answer.status().is_success()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };
    if !ready.await {
        child.kill()?;
        return Err("the server did not start".into());
    }
    // The demo hospital (RXX, the lab bundles' performer) sends the deliveries: a fresh
    // credential for it, once the server has loaded the demo data.
    let token = {
        let store = storage::connect(&database_url).await?;
        let (token, credential_hash) = new_credential();
        store
            .set_organisation_credential(CredentialChange {
                ods_code: OdsCode::parse(SENDER_ODS)?,
                credential_hash: Some(credential_hash),
                at: chrono::Utc::now(),
            })
            .await?;
        token
    };
    println!(
        "Soak: {} s of mixed traffic against {} (pid {pid}), SQLite, demo data",
        args.seconds,
        args.server.display()
    );

    let log = Arc::new(Log::default());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();

    for worker in 0..2 {
        let (log, stop, base) = (log.clone(), stop.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let people = ["amelia", "ngozi", "daniel"];
            let mut n = worker;
            while !stop.load(Ordering::Relaxed) {
                let person = people[n % people.len()];
                n += 1;
                let began = Instant::now();
                let base = base.clone();
                let outcome = tokio::spawn(async move { sign_in_and_out(&base, person).await })
                    .await
                    .unwrap_or_else(|panic| Err(format!("worker panicked: {panic}")));
                log.record(start, Kind::SignIn, began, outcome);
            }
        }));
    }
    for worker in 0..4 {
        let (log, stop, base) = (log.clone(), stop.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let person = ["amelia", "ngozi", "daniel", "amelia"][worker];
            let Ok(mut browser) = tokio::spawn({
                let base = base.clone();
                async move { sign_in(&base, person).await }
            })
            .await
            .unwrap_or_else(|panic| Err(format!("worker panicked: {panic}"))) else {
                log.record(
                    start,
                    Kind::Page,
                    Instant::now(),
                    Err("could not sign in".into()),
                );
                return;
            };
            let pages = [
                "/record",
                "/record/results",
                "/record/letters",
                "/record/appointments",
            ];
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let url = format!("{base}{}", pages[n % pages.len()]);
                n += 1;
                let began = Instant::now();
                let page = browser.get(&url).await;
                let outcome = if page.status == 200 {
                    Ok(())
                } else {
                    Err(format!("{url}: {}", page.status))
                };
                log.record(start, Kind::Page, began, outcome);
            }
        }));
    }
    {
        let (log, stop, base) = (log.clone(), stop.clone(), base.clone());
        let numbers = nhs_numbers(args.seconds as usize * 10 + 100)?;
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut ticks = tokio::time::interval(Duration::from_millis(100));
            let sent = AtomicUsize::new(0);
            while !stop.load(Ordering::Relaxed) {
                ticks.tick().await;
                let index = sent.fetch_add(1, Ordering::Relaxed);
                let Some(nhs) = numbers.get(index) else { break };
                let began = Instant::now();
                let answer = client
                    .post(format!("{base}/fhir"))
                    .bearer_auth(&token)
                    .header("content-type", "application/fhir+json")
                    .body(lab_bundle(index, nhs))
                    .send()
                    .await;
                let outcome = match answer {
                    Ok(answer) if answer.status().is_success() => {
                        answer.bytes().await.map(|_| ()).map_err(|e| e.to_string())
                    }
                    Ok(answer) => Err(format!("POST /fhir: {}", answer.status())),
                    Err(error) => Err(error.to_string()),
                };
                log.record(start, Kind::Delivery, began, outcome);
            }
        }));
    }
    {
        let (log, stop) = (log.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = resident_kib(pid) {
                    log.rss
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((start.elapsed().as_secs(), kib));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    child.kill()?;
    child.wait()?;
    report(&log, args.seconds)
}

/// Signs `person` in through the simulator as a browser does.
async fn sign_in(base: &str, person: &str) -> Result<Browser, String> {
    let mut browser = Browser::new(base);
    let hops = browser
        .sign_in_through_simulator(&format!("{base}/auth/login"), person)
        .await;
    match hops.first() {
        Some(hop) if hop.status == 303 => Ok(browser),
        Some(hop) => Err(format!("callback: {}", hop.status)),
        None => Err("no callback".into()),
    }
}

/// A whole visit: sign in, read results, sign out with the page's CSRF token.
async fn sign_in_and_out(base: &str, person: &str) -> Result<(), String> {
    let mut browser = sign_in(base, person).await?;
    let results = browser.get(&format!("{base}/record/results")).await;
    if results.status != 200 {
        return Err(format!("/record/results: {}", results.status));
    }
    let fields = browser::hidden_fields(&results.body);
    let csrf = fields
        .iter()
        .find(|(name, _)| name == "csrf_token")
        .map(|(_, value)| value.clone())
        .ok_or("no CSRF token on the page")?;
    let out = browser
        .post_form(&format!("{base}/auth/logout"), &[("csrf_token", &csrf)])
        .await;
    if !out.status.is_redirection() {
        return Err(format!("/auth/logout: {}", out.status));
    }
    Ok(())
}

/// The process's resident set in KiB (Linux).
fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() * percent / 100).min(sorted.len() - 1)]
}

fn report(log: &Log, seconds: u64) -> SoakResult<()> {
    let samples = log.samples.lock().unwrap_or_else(PoisonError::into_inner);
    let rss = log.rss.lock().unwrap_or_else(PoisonError::into_inner);
    let minutes = seconds.div_ceil(60).max(1);
    // (minute, kind) -> latencies, errors
    let mut per_minute: BTreeMap<(u64, Kind), (Vec<Duration>, usize)> = BTreeMap::new();
    for sample in samples.iter() {
        let minute = (sample.at.as_secs() / 60).min(minutes - 1);
        let entry = per_minute.entry((minute, sample.kind)).or_default();
        entry.0.push(sample.latency);
        if !sample.ok {
            entry.1 += 1;
        }
    }
    let peak_rss = |minute: u64| {
        rss.iter()
            .filter(|(at, _)| at / 60 == minute)
            .map(|(_, kib)| *kib)
            .max()
            .unwrap_or(0)
    };
    println!(
        "minute  {:<14} {:>8} {:>7} {:>8} {:>8}  peak RSS MiB",
        "kind", "requests", "errors", "p50 ms", "p99 ms"
    );
    let mut p99 = BTreeMap::new();
    for ((minute, kind), (latencies, errors)) in per_minute.iter_mut() {
        latencies.sort_unstable();
        let (p50, p99_here) = (percentile(latencies, 50), percentile(latencies, 99));
        p99.insert((*minute, *kind), p99_here);
        println!(
            "{:>6}  {:<14} {:>8} {:>7} {:>8.1} {:>8.1}  {:>12.1}",
            minute + 1,
            kind.name(),
            latencies.len(),
            errors,
            p50.as_secs_f64() * 1e3,
            p99_here.as_secs_f64() * 1e3,
            peak_rss(*minute) as f64 / 1024.0
        );
    }
    let total = samples.len();
    let errors = samples.iter().filter(|s| !s.ok).count();
    println!("total: {total} requests, {errors} errors");
    let mut failures = Vec::new();
    if errors > 0 {
        failures.push(format!("{errors} requests failed"));
        for error in log
            .first_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            println!("  {error}");
        }
    }
    let last = minutes - 1;
    for kind in [Kind::SignIn, Kind::Page, Kind::Delivery] {
        if let (Some(first), Some(end)) = (p99.get(&(0, kind)), p99.get(&(last, kind)))
            && *end > (*first * 2).max(*first + Duration::from_millis(1))
        {
            failures.push(format!(
                "{} p99 grew from {:.1} ms in the first minute to {:.1} ms in the last",
                kind.name(),
                first.as_secs_f64() * 1e3,
                end.as_secs_f64() * 1e3
            ));
        }
    }
    let (first_rss, last_rss) = (peak_rss(0), peak_rss(last));
    println!(
        "peak RSS: first minute {:.1} MiB, last minute {:.1} MiB",
        first_rss as f64 / 1024.0,
        last_rss as f64 / 1024.0
    );
    if last_rss * 4 > first_rss * 5 {
        failures.push("RSS grew by more than 25% from the first minute to the last".into());
    }
    if failures.is_empty() {
        println!("verdict: no errors; p99 and RSS stable from the first minute to the last");
        Ok(())
    } else {
        for failure in &failures {
            println!("FAILED: {failure}");
        }
        Err(format!("{} soak checks failed", failures.len()).into())
    }
}
