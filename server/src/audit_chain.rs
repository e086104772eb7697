//! Keeping and checking the audit trail's hash chain (`app::audit::chain`): the job that
//! seals new rows, and `server audit verify`, which walks the whole chain from its first
//! link and reports the first that does not hold.

use std::sync::Arc;
use std::time::Duration;

use app::audit::chain::{BrokenLink, ChainVerifier};
use app::server::storage::{Storage, StorageError};
use chrono::{DateTime, Utc};

/// How often new audit rows are sealed.
pub const SEAL_INTERVAL: Duration = Duration::from_secs(1);

/// How old a row may be and still not be sealed without that being reported: rows are
/// sealed within [`SEAL_INTERVAL`] of their commit while the portal runs; a minute
/// leaves room for a slow commit and for a check run while the portal is starting.
pub const SEAL_GRACE: chrono::Duration = chrono::Duration::minutes(1);

/// Links read per round trip while verifying.
const LINKS_PER_PAGE: u32 = 5_000;

/// Seals every row waiting to be sealed; answers how many.
pub async fn seal_all(storage: &dyn Storage) -> Result<u64, StorageError> {
    let mut sealed = 0;
    loop {
        let batch = storage.seal_audit_rows().await?;
        sealed += batch;
        if batch == 0 {
            return Ok(sealed);
        }
    }
}

/// Seals new audit rows every [`SEAL_INTERVAL`] until the process ends. A failed seal
/// (a second server sealing at the same moment, the database away) is logged and tried
/// again at the next tick: the rows wait in their queue meanwhile.
pub fn spawn_sealer(storage: Arc<dyn Storage>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SEAL_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match seal_all(storage.as_ref()).await {
                Ok(0) => {}
                Ok(sealed) => tracing::debug!(sealed, "audit rows sealed"),
                Err(error) => tracing::warn!(%error, "could not seal audit rows"),
            }
        }
    });
}

/// What `server audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Links that held, from the first.
    pub verified: i64,
    /// The hash of the last link that held.
    pub head: String,
    /// The first link that did not hold, if any.
    pub broken: Option<BrokenLink>,
    /// Rows older than [`SEAL_GRACE`] that are in no link, and the first of them.
    pub unsealed: u64,
    pub first_unsealed: Option<i64>,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.broken.is_none() && self.unsealed == 0
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.broken {
            Some(broken) => writeln!(f, "BROKEN: {broken}.")?,
            None => writeln!(f, "Every link holds.")?,
        }
        writeln!(f, "Links verified: {}", self.verified)?;
        writeln!(
            f,
            "Head (the hash of the last link verified; record it elsewhere): {}",
            self.head
        )?;
        match self.first_unsealed {
            Some(first) if self.unsealed > 0 => write!(
                f,
                "NOT SEALED: {} audit rows older than a minute are in no link, the first \
                 is row {first}.",
                self.unsealed
            ),
            _ => write!(f, "Every audit row older than a minute is sealed."),
        }
    }
}

/// Walks the chain from its first link, stopping at the first that does not hold, and
/// counts the rows that occurred before `now - SEAL_GRACE` and were never sealed.
/// Reads only: it can run beside the portal, or against a copy of its database.
pub async fn verify(
    storage: &dyn Storage,
    now: DateTime<Utc>,
) -> Result<VerifyReport, StorageError> {
    // Counted before the walk: every row sealed by then is walked, so a row the sealer
    // takes in between is never both missed by the walk and missing from the count.
    let unsealed = storage.unsealed_audit_rows(now - SEAL_GRACE).await?;
    let mut verifier = ChainVerifier::default();
    let mut broken = None;
    let mut after = 0;
    'pages: loop {
        let links = storage.audit_chain_links(after, LINKS_PER_PAGE).await?;
        let Some(last) = links.last() else { break };
        after = last.seq;
        for link in &links {
            if let Err(error) = verifier.check(link) {
                broken = Some(error);
                break 'pages;
            }
        }
    }
    Ok(VerifyReport {
        verified: verifier.verified(),
        head: verifier.head().to_owned(),
        broken,
        unsealed: unsealed.count,
        first_unsealed: unsealed.first_id,
    })
}
