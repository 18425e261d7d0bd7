//! Audit events for refusals, bounded. Refusals are what an attacker controls: forged pushes,
//! guessed codes on a public page, locked-out sign-ins. Writing one row for each would let anyone
//! fill the audit log and, on SQLite, queue ahead of the token engine's write-backs on the single
//! writer. So each kind of refusal from one source is written once per window, with its detail,
//! and the rest of that window is counted and written as one summary row when the window closes.
//!
//! Rows written are therefore bounded by (sources seen) × 2 per window; the number of sources kept
//! is capped too, beyond which refusals share one "(other)" slot.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::domain::NewAuditEvent;
use crate::store::Store;

/// Distinct sources tracked at once; more share one slot.
const MAX_SOURCES: usize = 1024;
const OTHER: &str = "(other)";

struct Slot {
    opened: Instant,
    suppressed: u64,
    /// The first event of the window, the template of its summary.
    first: NewAuditEvent,
}

pub struct RefusalLog {
    store: Store,
    window: Duration,
    slots: Mutex<HashMap<(crate::domain::AuditKind, String), Slot>>,
}

impl std::fmt::Debug for RefusalLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefusalLog")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl RefusalLog {
    pub fn new(store: Store, window: Duration) -> Self {
        Self {
            store,
            window,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Records a refusal from `source` (an address, a component, a link: whatever an attacker
    /// would repeat). The first of a window is written now; later ones are counted.
    pub async fn record(&self, event: NewAuditEvent, source: &str) {
        let write_now = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let mut key = (event.kind, source.to_owned());
            if !slots.contains_key(&key) && slots.len() >= MAX_SOURCES {
                key.1 = OTHER.to_owned();
            }
            match slots.get_mut(&key) {
                Some(slot) if slot.opened.elapsed() < self.window => {
                    slot.suppressed += 1;
                    false
                }
                _ => {
                    slots.insert(
                        key,
                        Slot {
                            opened: Instant::now(),
                            suppressed: 0,
                            first: event.clone(),
                        },
                    );
                    true
                }
            }
        };
        if write_now {
            if let Err(e) = self.store.append_audit(&event).await {
                tracing::warn!(error = %crate::report::Chain(&e), kind = %event.kind, "could not audit a refusal");
            }
        }
    }

    /// Writes the summaries of closed windows (all windows with `everything`), and forgets them.
    pub async fn flush(&self, everything: bool) {
        let closed: Vec<((crate::domain::AuditKind, String), Slot)> = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let keys: Vec<(crate::domain::AuditKind, String)> = slots
                .iter()
                .filter(|(_, s)| everything || s.opened.elapsed() >= self.window)
                .map(|(k, _)| k.clone())
                .collect();
            keys.into_iter()
                .filter_map(|k| slots.remove(&k).map(|s| (k, s)))
                .collect()
        };
        for ((kind, source), slot) in closed {
            if slot.suppressed == 0 {
                continue;
            }
            let mut summary = slot.first.clone();
            summary.occurred_at = crate::now_ms();
            summary.summary = format!(
                "{} more like this from {source} within {} s (counted, not written one by one)",
                slot.suppressed,
                self.window.as_secs()
            );
            summary.detail = json!({ "suppressed": slot.suppressed, "source": source, "window_s": self.window.as_secs() });
            if let Err(e) = self.store.append_audit(&summary).await {
                tracing::warn!(error = %crate::report::Chain(&e), %kind, "could not write a refusal summary");
            }
        }
    }

    /// Flushes closed windows every few seconds until shutdown, then everything.
    pub async fn flush_loop(self: std::sync::Arc<Self>, shutdown: CancellationToken) {
        let period = (self.window / 4).clamp(Duration::from_millis(100), Duration::from_secs(15));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(period) => {}
            }
            self.flush(false).await;
        }
        self.flush(true).await;
    }
}
