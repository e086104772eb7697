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

/// A link an operator recorded earlier (`seq:hash`, as `verify` printed it as the
/// head): the chain must still hold it, so that a chain cut short or rewritten from an
/// earlier point is found even though every link in it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedLink {
    pub seq: i64,
    pub hash: String,
}

impl std::str::FromStr for RecordedLink {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (seq, hash) = text
            .split_once(':')
            .ok_or("a recorded link is SEQ:HASH, as verify prints the head")?;
        let seq = seq
            .trim()
            .parse()
            .map_err(|_| "SEQ must be a link number")?;
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("HASH must be 64 hexadecimal digits".into());
        }
        Ok(RecordedLink { seq, hash })
    }
}

/// The most breaks a report lists (all are counted).
const BREAKS_LISTED: usize = 20;

/// What `server audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Links that held.
    pub verified: i64,
    /// The last link walked, `seq:hash`, for the operator to record elsewhere.
    pub head: Option<RecordedLink>,
    /// The links that did not hold, in order (the first [`BREAKS_LISTED`]), and how
    /// many there were in all. After each the walk goes on from its stored hash.
    pub breaks: Vec<BrokenLink>,
    pub break_count: u64,
    /// Whether the chain still holds the link recorded earlier, if one was given.
    pub recorded: Option<Result<(), String>>,
    /// Rows older than [`SEAL_GRACE`] that are in no link, and the first of them.
    pub unsealed: u64,
    pub first_unsealed: Option<i64>,
}

impl VerifyReport {
    /// Every link holds, the recorded link is there, every row is sealed, and there is
    /// a chain at all (an empty one is more likely the wrong database than a portal
    /// that has never written a row).
    pub fn intact(&self) -> bool {
        self.break_count == 0
            && self.unsealed == 0
            && self.head.is_some()
            && !matches!(self.recorded, Some(Err(_)))
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.break_count == 0 {
            writeln!(f, "Every link holds.")?;
        }
        for broken in &self.breaks {
            writeln!(f, "BROKEN: {broken}.")?;
        }
        if self.break_count > self.breaks.len() as u64 {
            writeln!(f, "BROKEN: {} links in all.", self.break_count)?;
        }
        writeln!(f, "Links verified: {}", self.verified)?;
        match &self.head {
            Some(head) => writeln!(
                f,
                "Head (record it elsewhere; check it later with --expect): {}:{}",
                head.seq, head.hash
            )?,
            None => writeln!(
                f,
                "EMPTY: there is no chain at all. Is this the portal's database?"
            )?,
        }
        match &self.recorded {
            Some(Ok(())) => writeln!(f, "The recorded link is in the chain, as recorded.")?,
            Some(Err(why)) => writeln!(f, "NOT AS RECORDED: {why}.")?,
            None => {}
        }
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

/// Walks the whole chain from its first link, reporting every link that does not hold
/// (going on from each one's stored hash), checks that it still holds `recorded`, and
/// counts the rows that occurred before `now - SEAL_GRACE` and were never sealed. Reads
/// only: it can run beside the portal, or against a copy of its database.
pub async fn verify(
    storage: &dyn Storage,
    now: DateTime<Utc>,
    recorded: Option<&RecordedLink>,
) -> Result<VerifyReport, StorageError> {
    // Counted before the walk: every row sealed by then is walked, so a row the sealer
    // takes in between is never both missed by the walk and missing from the count.
    let unsealed = storage.unsealed_audit_rows(now - SEAL_GRACE).await?;
    let mut verifier = ChainVerifier::default();
    let (mut breaks, mut break_count) = (Vec::new(), 0_u64);
    let mut head = None;
    let mut recorded_seen = None;
    let mut after = 0;
    loop {
        let links = storage.audit_chain_links(after, LINKS_PER_PAGE).await?;
        let Some(last) = links.last() else { break };
        after = last.seq;
        for link in &links {
            if let Err(broken) = verifier.check(link) {
                break_count += 1;
                if breaks.len() < BREAKS_LISTED {
                    breaks.push(broken);
                }
                verifier.resume_after(link);
            }
            if let Some(wanted) = recorded
                && link.seq == wanted.seq
            {
                recorded_seen = Some(link.hash.clone());
            }
            head = Some(RecordedLink {
                seq: link.seq,
                hash: link.hash.clone(),
            });
        }
    }
    let recorded = recorded.map(|wanted| match recorded_seen {
        Some(hash) if hash == wanted.hash => Ok(()),
        Some(hash) => Err(format!(
            "link {} has hash {hash}, not {} as recorded: the chain was rewritten from \
             there or before",
            wanted.seq, wanted.hash
        )),
        None => Err(format!(
            "there is no link {}: the chain was cut short since it was recorded",
            wanted.seq
        )),
    });
    Ok(VerifyReport {
        verified: verifier.verified(),
        head,
        breaks,
        break_count,
        recorded,
        unsealed: unsealed.count,
        first_unsealed: unsealed.first_id,
    })
}
