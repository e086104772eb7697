//! Clients that hold connections open, through the real accept loop
//! (`server::connections`): headers sent slowly or never, a kept-alive connection left
//! idle, a request body that stalls. Each is cut off once its time runs out, while a
//! client that keeps to time is served. The server here allows 2 s where a deployment
//! allows 20; every wait below allows five times that before calling the server stuck,
//! and every client that keeps to time does so with a second or more to spare, so that
//! a busy machine cannot make the test fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use app::domain::OdsCode;
use app::records::OrganisationKind;
use app::server::storage::NewOrganisation;
use server::config::SettingsArgs;
use server::credentials::new_credential;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{TestServer, test_now};

/// Five times the server's header-read timeout: past this, the server has failed to
/// cut off.
const PATIENCE: Duration = Duration::from_secs(10);

async fn strict_server() -> TestServer {
    support::spawn(SettingsArgs {
        header_read_timeout: Some(2),
        request_timeout: Some(5),
        ..SettingsArgs::default()
    })
    .await
}

/// Registers a sender and answers its feed credential.
async fn slow_sender(server: &TestServer) -> String {
    let (token, credential_hash) = new_credential();
    server
        .storage
        .create_organisation(NewOrganisation {
            ods_code: OdsCode::parse("RRV").unwrap(),
            name: "Slow Sender Trust".into(),
            kind: OrganisationKind::HospitalTrust,
            credential_hash,
            at: test_now(),
        })
        .await
        .unwrap();
    token
}

/// Reads one whole response (head and a `Content-Length` body) from a kept-alive
/// connection, however many reads it arrives in.
async fn read_one_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("a Content-Length");
            if body.len() >= length {
                return text;
            }
        }
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
            .await
            .expect("the response came in time")
            .unwrap();
        assert!(n > 0, "closed mid-response: {text}");
        received.extend_from_slice(&buffer[..n]);
    }
}

/// Reads until the server closes the connection; answers what it sent meanwhile.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buffer)).await {
            Err(_) => panic!(
                "the connection was still open after {PATIENCE:?}; received so far: {}",
                String::from_utf8_lossy(&received)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&received).into_owned(),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let server = strict_server().await;
    // Half a request, then nothing.
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: portal\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");

    // Nothing at all after connecting.
    let mut silent = TcpStream::connect(server.address).await.unwrap();
    read_until_closed(&mut silent).await;
}

#[tokio::test]
async fn headers_sent_a_byte_at_a_time_do_not_keep_the_connection() {
    let server = strict_server().await;
    let stream = TcpStream::connect(server.address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // One byte every 200 ms: each keeps the connection busy, none resets the deadline.
    let trickle = tokio::spawn(async move {
        for byte in b"GET /health HTTP/1.1\r\nHost: portal\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n"
        {
            if writer.write_all(&[*byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    });
    let mut received = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, reader.read_to_end(&mut received)).await;
    assert!(closed.is_ok(), "still open after {PATIENCE:?}");
    let answer = String::from_utf8_lossy(&received);
    assert!(!answer.contains("200 OK"), "{answer}");
    // The server closed it before the client had finished sending.
    assert!(trickle.await.unwrap(), "the whole head got through");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_and_a_prompt_one_is_served() {
    let server = strict_server().await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    // Two requests in good time on one connection, then silence.
    for _ in 0..2 {
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: portal\r\n\r\n")
            .await
            .unwrap();
        let answer = read_one_response(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    }
    let after = read_until_closed(&mut stream).await;
    assert!(after.is_empty() || after.contains("408"), "{after}");
}

#[tokio::test]
async fn a_client_that_stops_reading_a_large_answer_is_cut_off() {
    let server = strict_server().await;
    // A file far larger than what the two sockets' buffers can hold between them.
    const SIZE: usize = 48 * 1024 * 1024;
    let folder = server.config.site_root.join("pkg");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("large.bin"), vec![b'x'; SIZE]).unwrap();

    // A small receive buffer, so the server's writes must wait for the client.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.address).await.unwrap();
    stream
        .write_all(b"GET /pkg/large.bin HTTP/1.1\r\nHost: portal\r\n\r\n")
        .await
        .unwrap();
    // Reads nothing for twice the write timeout, then reads what is left.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut received = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
    assert!(closed.is_ok(), "still open after {PATIENCE:?}");
    let head = String::from_utf8_lossy(&received[..received.len().min(200)]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    // Cut off: what the buffers held arrived, the rest was never sent.
    assert!(
        received.len() < SIZE,
        "the whole answer arrived ({} bytes): the server waited for the client",
        received.len()
    );
}

#[tokio::test]
async fn past_the_connection_cap_a_connection_waits_until_one_closes() {
    // A header-read time longer than the test, so only closing a connection frees one.
    let server = support::spawn(SettingsArgs {
        header_read_timeout: Some(30),
        max_connections: Some(2),
        ..SettingsArgs::default()
    })
    .await;
    let first = TcpStream::connect(server.address).await.unwrap();
    let _second = TcpStream::connect(server.address).await.unwrap();
    // Both are accepted and hold the two places.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut third = TcpStream::connect(server.address).await.unwrap();
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: portal\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0_u8; 1024];
    let early = tokio::time::timeout(Duration::from_millis(1500), third.read(&mut buffer)).await;
    assert!(
        early.is_err(),
        "a third connection was served while two held the only places"
    );

    drop(first);
    let answer = read_one_response(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

#[tokio::test]
async fn a_request_body_that_stalls_is_answered_408() {
    let server = strict_server().await;
    let token = slow_sender(&server).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let head = format!(
        "POST /fhir HTTP/1.1\r\nHost: portal\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/fhir+json\r\nContent-Length: 5000\r\n\r\n{{\"resourceType\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The rest of the body never comes.
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Told as FHIR, with nothing stored.
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
    assert!(
        server
            .storage
            .list_recent_audit_events(100)
            .await
            .unwrap()
            .iter()
            .all(|e| e.action != app::audit::action::FEED_RECEIVED)
    );
}

#[tokio::test]
async fn a_body_that_trickles_in_past_the_request_timeout_is_answered_503() {
    let server = strict_server().await;
    let token = slow_sender(&server).await;
    let stream = TcpStream::connect(server.address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // A byte every 300 ms: never stalled for the body timeout (2 s), but the request
    // as a whole runs past its 5 s.
    let trickle = tokio::spawn(async move {
        let head = format!(
            "POST /fhir HTTP/1.1\r\nHost: portal\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/fhir+json\r\nContent-Length: 5000\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        for _ in 0..100 {
            if writer.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let mut received = Vec::new();
    let closed = tokio::time::timeout(
        PATIENCE + Duration::from_secs(5),
        reader.read_to_end(&mut received),
    )
    .await;
    assert!(closed.is_ok(), "still open");
    let answer = String::from_utf8_lossy(&received);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    trickle.abort();
}

#[test]
fn timeouts_of_zero_or_over_an_hour_are_refused() {
    for (setting, args) in [
        (
            "PORTAL_HEADER_READ_TIMEOUT",
            SettingsArgs {
                header_read_timeout: Some(0),
                ..SettingsArgs::default()
            },
        ),
        (
            "PORTAL_REQUEST_TIMEOUT",
            SettingsArgs {
                request_timeout: Some(3601),
                ..SettingsArgs::default()
            },
        ),
    ] {
        let error = server::config::Config::resolve(args)
            .unwrap_err()
            .to_string();
        assert!(error.contains(setting), "{error}");
    }
}
