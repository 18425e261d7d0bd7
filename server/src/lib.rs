//! wxhub's server: everything that runs on the machine, as a library so that `main.rs` stays a thin
//! shell and tests drive the real thing (`startup::Application` on port 0).
//!
//! Data flows one way: HTTP edge (`http`, the Leptos server functions in `app`) → services
//! (`auth`, …) → storage (`store`). One `AppState` is built at startup and handed to every route;
//! nothing is global.

pub mod admin;
pub mod alerting;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod http;
pub mod ops;
pub mod refusals;
pub mod report;
pub mod retention;
pub mod rollups;
pub mod secrets;
pub mod simulator;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhooks;
pub mod wechat;

/// A lock's contents even when a panicking task poisoned it: every `std::sync` lock here guards
/// maps and counters that each write leaves consistent, so one panic must not stop the rest.
pub(crate) fn unpoison<T>(r: std::sync::LockResult<T>) -> T {
    r.unwrap_or_else(|p| p.into_inner())
}

/// Milliseconds since the Unix epoch: the one time representation in storage and in the domain.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Unix milliseconds as RFC 3339 (UTC).
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// argon2 allocates 19 MiB for every password hash. glibc raises its mmap threshold after the first
/// such block is freed, and later blocks then stay in per-thread arenas: about 100 MB kept after a
/// burst of sign-ins. A fixed threshold keeps large blocks mmapped, so they go back on free.
/// Call it first thing in `main`, before any other thread exists (the benchmarks do too, so they
/// measure what `server` runs).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_large_allocations_to_the_os() {
    // SAFETY: mallopt only tunes the allocator; the caller runs it before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_large_allocations_to_the_os() {}
