//! Work the server does on its own, on a timer rather than for a request.
//!
//! Today one job: removing sessions that have ended (past their absolute expiry, or idle
//! longer than the idle timeout). An ended session is already refused on every request;
//! sweeping it away keeps the sessions table the size of the people signed in, and
//! leaves no session id hash behind longer than it is needed.

use std::sync::Arc;
use std::time::Duration;

use app::auth::idle_timeout;
use app::server::Clock;
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

/// Runs [`sweep_sessions`] every [`SESSION_SWEEP_INTERVAL`] until the process ends. A
/// failed sweep is logged (without detail that could name anyone) and tried again at
/// the next interval.
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
        }
    });
}
