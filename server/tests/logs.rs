//! The logs never carry patient data. The real binary runs in JSON log mode with the demo
//! data loaded; after pages, record searches and errors have been requested, every line
//! must be JSON and none may contain a demo patient's NHS number or name.
// Test helpers may panic: in a test, a panic is a clear failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use server::demo;

#[tokio::test]
async fn json_logs_hold_no_patient_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log-level",
            "debug",
        ])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/logs.db", dir.path().display()),
        )
        .env("PORTAL_DEMO", "true")
        .env("LEPTOS_SITE_ROOT", dir.path().join("site"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let (lines_tx, lines) = mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }

    let mut output = Vec::new();
    let address = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the server never said it was ready");
        output.push(line.clone());
        if let Some(rest) = line.split("ready at http://").nth(1) {
            break rest
                .split(|c: char| c == '"' || c.is_whitespace())
                .next()
                .unwrap()
                .to_owned();
        }
    };

    // A request that hangs fails the test instead of holding the run.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    for path in [
        "/",
        "/about",
        "/no/such/page",
        "/health",
        "/ready",
        // A search with an NHS number in the query, as a sender's read-back would send.
        "/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018",
    ] {
        client
            .get(format!("http://{address}{path}"))
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
        output.push(line);
    }

    assert!(output.len() > 5, "expected request logs, got {output:?}");
    for line in &output {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not JSON: {line}"
        );
        for secret in [
            demo::AMELIA,
            demo::OLIVER,
            demo::GRACE,
            demo::MOHAMMED,
            demo::SOPHIE,
            "Hart",
            "Okafor",
            "Iqbal",
            "Amelia",
        ] {
            assert!(!line.contains(secret), "patient data in a log line: {line}");
        }
    }
    assert!(
        output.iter().any(|l| l.contains("request_id")),
        "request ids are logged"
    );
}
