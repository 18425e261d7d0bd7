//! The gateway's recent-calls log, for the console ("the last 100 calls of this account"): calls
//! are kept in memory and written in batches about once a second (or at once when many are
//! waiting), so a busy gateway costs the database one transaction per batch rather than a write
//! per call.
//!
//! It is a log for people, not a record anything depends on: the calls of the last second before a
//! crash are lost, and if the database is down the pending calls are bounded ([`MAX_PENDING`], the
//! oldest dropped first and counted in `wxhub_gateway_calls_unlogged_total`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::{GatewayCallRecord, Store};
use crate::unpoison;

/// How often pending calls are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Pending calls that wake the writer before its second is up.
const FLUSH_AT: usize = 500;
/// Pending calls kept at most while they cannot be written.
pub const MAX_PENDING: usize = 20_000;

pub struct CallLog {
    store: Store,
    pending: Mutex<VecDeque<GatewayCallRecord>>,
    wake: Notify,
    unlogged: prometheus_client::metrics::counter::Counter,
}

impl std::fmt::Debug for CallLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLog").finish_non_exhaustive()
    }
}

impl CallLog {
    pub fn new(store: Store, unlogged: prometheus_client::metrics::counter::Counter) -> Self {
        Self {
            store,
            pending: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            unlogged,
        }
    }

    /// Keeps a finished call for the next batch.
    pub fn record(&self, call: GatewayCallRecord) {
        let mut pending = unpoison(self.pending.lock());
        if pending.len() >= MAX_PENDING {
            pending.pop_front();
            self.unlogged.inc();
        }
        pending.push_back(call);
        if pending.len() >= FLUSH_AT {
            self.wake.notify_one();
        }
    }

    /// Writes what is pending; on failure puts it back (bounded) for the next attempt.
    pub async fn flush(&self) -> Result<usize, crate::store::StoreError> {
        let batch: Vec<GatewayCallRecord> =
            std::mem::take(&mut *unpoison(self.pending.lock())).into();
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        if let Err(e) = self.store.record_gateway_calls(&batch).await {
            // Put them back before what came in meanwhile, keeping the newest MAX_PENDING.
            let mut pending = unpoison(self.pending.lock());
            let mut kept: VecDeque<GatewayCallRecord> = batch.into();
            kept.append(&mut pending);
            let over = kept.len().saturating_sub(MAX_PENDING);
            if over > 0 {
                kept.drain(..over);
                self.unlogged.inc_by(over as u64);
            }
            *pending = kept;
            return Err(e);
        }
        Ok(n)
    }

    /// Flushes every [`FLUSH_EVERY`] (sooner when many are waiting), and once more at shutdown.
    pub async fn flush_loop(self: std::sync::Arc<Self>, shutdown: CancellationToken) {
        loop {
            let stopping = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = tokio::time::sleep(FLUSH_EVERY) => false,
                _ = self.wake.notified() => false,
            };
            if let Err(e) = self.flush().await {
                tracing::warn!(error = %crate::report::Chain(&e), "could not record gateway calls");
            }
            if stopping {
                return;
            }
        }
    }
}
