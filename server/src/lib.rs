//! wxhub's server: everything that runs on the machine, as a library so that `main.rs` stays a thin
//! shell and tests drive the real thing (`startup::Application` on port 0).
//!
//! Data flows one way: HTTP edge (`http`, the Leptos server functions in `app`) → services
//! (`auth`, …) → storage (`store`). One `AppState` is built at startup and handed to every route;
//! nothing is global.

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod telemetry;

/// Milliseconds since the Unix epoch: the one time representation in storage and in the domain.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}
