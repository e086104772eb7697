//! Posting one bundle to the feed as a sending system does, for the examples that drive
//! the feed (the ingest benchmark, the pages benchmark's mixed phase): how long the
//! answer took and, if it was not the one expected, why.

use std::time::{Duration, Instant};

/// One request: how long it took and, if it went wrong, why.
pub struct Sample {
    pub latency: Duration,
    pub error: Option<String>,
}

/// How much of an unexpected answer a failure quotes.
const QUOTED_CHARACTERS: usize = 300;

/// Posts `body` to the feed at `url` with the sender's bearer `token`. A transport error
/// or a status other than 2xx is a failure; a 2xx answer is then judged by `check`,
/// which gets the answer's text.
pub async fn post_bundle(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: String,
    check: impl FnOnce(&str) -> Result<(), String>,
) -> Sample {
    let started = Instant::now();
    let answer = async {
        let response = client
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/fhir+json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        Ok::<_, reqwest::Error>((status, text))
    }
    .await;
    let latency = started.elapsed();
    let error = match answer {
        Err(error) => Some(format!("request failed: {error}")),
        Ok((status, text)) if !status.is_success() => {
            Some(format!("HTTP {}: {}", status.as_u16(), quote(&text)))
        }
        Ok((_, text)) => check(&text).err(),
    };
    Sample { latency, error }
}

/// The start of an answer, for a failure message.
pub fn quote(text: &str) -> String {
    text.chars().take(QUOTED_CHARACTERS).collect()
}
