//! Work the server does on its own, on a timer rather than for a request.
//!
//! - removing sessions that have ended (past their absolute expiry, or idle longer than
//!   the idle timeout). An ended session is already refused on every request; sweeping
//!   it away keeps the sessions table the size of the people signed in, and leaves no
//!   session id hash behind longer than it is needed;
//! - removing sign-ins started and never completed, once past their lifetime;
//! - removing the answers to subject access requests once their download time has
//!   passed;
//! - writing the proxy grants that ended by the clock (end date passed, unused for five
//!   years, a child reaching the age a parent's access stops) into each grant's history
//!   and the audit trail. Access already stops at that moment, because every read
//!   decides the grant against the clock; this job only records it, once.

use std::sync::Arc;
use std::time::Duration;

use app::audit::{ActorKind, NewAuditEvent, action};
use app::auth::idle_timeout;
use app::proxy::rules::{AgeRules, GrantReason, GrantStatus, decide_grant};
use app::server::Clock;
use app::server::storage::{GrantChange, GrantDecisionBy};
use app::server::storage::{Storage, StorageError};

/// How often ended sessions are removed.
pub const SESSION_SWEEP_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Removes every session that has ended by the clock's `now`; answers how many.
pub async fn sweep_sessions(storage: &dyn Storage, clock: &dyn Clock) -> Result<u64, StorageError> {
    let now = clock.now();
    storage
        .delete_expired_sessions(now, now - idle_timeout())
        .await
}

/// Removes sign-ins started but never completed within their lifetime (anyone can
/// start one; each leaves a row until its callback or this sweep).
pub async fn sweep_login_attempts(
    storage: &dyn Storage,
    clock: &dyn Clock,
) -> Result<u64, StorageError> {
    let not_before =
        clock.now() - chrono::Duration::minutes(crate::auth::LOGIN_ATTEMPT_LIFETIME_MINUTES);
    storage.delete_expired_login_attempts(not_before).await
}

/// Removes the answers to subject access requests whose download time has passed
/// (they are refused from that moment; this keeps no copy longer than it is offered).
pub async fn sweep_expired_answers(
    storage: &dyn Storage,
    clock: &dyn Clock,
) -> Result<u64, StorageError> {
    storage.delete_expired_answers(clock.now()).await
}

/// Runs [`sweep_sessions`], [`sweep_login_attempts`] and [`sweep_expired_answers`] every
/// [`SESSION_SWEEP_INTERVAL`] until the process ends. A failed sweep is logged (without
/// detail that could name anyone) and tried again at the next interval.
pub fn spawn_session_sweeper(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>) {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + SESSION_SWEEP_INTERVAL;
        let mut ticks = tokio::time::interval_at(start, SESSION_SWEEP_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep_sessions(storage.as_ref(), clock.as_ref()).await {
                Ok(removed) => tracing::debug!(removed, "ended sessions removed"),
                Err(error) => tracing::warn!(%error, "could not remove ended sessions"),
            }
            match sweep_login_attempts(storage.as_ref(), clock.as_ref()).await {
                Ok(removed) => tracing::debug!(removed, "abandoned sign-ins removed"),
                Err(error) => tracing::warn!(%error, "could not remove abandoned sign-ins"),
            }
            match sweep_expired_answers(storage.as_ref(), clock.as_ref()).await {
                Ok(removed) => tracing::debug!(removed, "expired answers removed"),
                Err(error) => tracing::warn!(%error, "could not remove expired answers"),
            }
        }
    });
}

/// How often grants that ended by the clock are recorded.
pub const GRANT_ENDINGS_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Records, once each, the grants that have ended by the clock: an "expired", "lapsed"
/// or "suspended_at_age" entry in the grant's history (its terms unchanged) with its
/// audit row. Answers how many it recorded.
pub async fn record_grant_endings(
    storage: &dyn Storage,
    clock: &dyn Clock,
    age_rules: &AgeRules,
) -> Result<u64, StorageError> {
    let now = clock.now();
    let mut recorded = 0;
    for (record, latest_event) in storage.grants_not_revoked().await? {
        let grant = &record.grant;
        let decision = decide_grant(grant, age_rules, now);
        let (event, audit_action) = match (decision.status, decision.reason) {
            (GrantStatus::Expired, _) => ("expired", action::PROXY_GRANT_EXPIRED),
            (GrantStatus::Lapsed, _) => ("lapsed", action::PROXY_GRANT_LAPSED),
            (_, GrantReason::ChildReachedAge { .. }) => {
                ("suspended_at_age", action::PROXY_GRANT_SUSPENDED_AT_AGE)
            }
            _ => continue,
        };
        if latest_event == event {
            continue;
        }
        let change = GrantChange {
            grant: grant.id,
            from_state: grant.state,
            state: grant.state,
            basis: grant.basis,
            scope: grant.scope.clone(),
            ends_at: grant.ends_at,
            at: now,
            event,
            by: GrantDecisionBy {
                actor_kind: ActorKind::System,
                actor_account: None,
                decision_maker: None,
                reason: None,
            },
            audit: NewAuditEvent {
                patient: Some(grant.patient),
                target: Some(format!("grant:{}", grant.public_id)),
                reason: Some(grant.basis.code().to_owned()),
                ..NewAuditEvent::new(now, ActorKind::System, audit_action)
            },
        };
        match storage.change_grant(change).await {
            Ok(_) => recorded += 1,
            // Changed by someone meanwhile: the next run looks again.
            Err(StorageError::Conflict(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(recorded)
}

/// Runs [`record_grant_endings`] every [`GRANT_ENDINGS_INTERVAL`] until the process
/// ends, logging only counts.
pub fn spawn_grant_endings(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, age_rules: AgeRules) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(GRANT_ENDINGS_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match record_grant_endings(storage.as_ref(), clock.as_ref(), &age_rules).await {
                Ok(recorded) => tracing::debug!(recorded, "ended proxy grants recorded"),
                Err(error) => tracing::warn!(%error, "could not record ended proxy grants"),
            }
        }
    });
}
