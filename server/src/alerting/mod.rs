//! Alerts that reach people: rules with thresholds, evaluated every half minute against what the
//! store already knows (ticket ages, component tokens, account statuses, the hourly counts,
//! webhook endpoints and dead letters) and against the database's own readiness; notices of
//! conditions that start, persist past a quiet period, and end; and the channels that carry them
//! (a WeCom group robot, a signed JSON webhook, e-mail over SMTP).
//!
//! - [`rules`] — the seven rules, their units, defaults and which audience may set them.
//! - [`evaluate`] — one evaluation: observations read once, thresholds applied per audience.
//! - [`channels`] — each channel's configuration (checked, sealed), rendering and sending.
//! - [`worker`] — the loop: evaluate, queue notices (`store::alerting`), send them with retries,
//!   audit each outcome; and the database watch, which cannot use the database to tell anyone.
//!
//! Audiences are the platform's staff (every condition) and each tenant with a channel (only its
//! own conditions, with its own thresholds). State lives in the database, so several instances
//! evaluate without telling anyone twice; only "database not ready" is per instance.

pub mod channels;
pub mod evaluate;
pub mod rules;
pub mod worker;

use std::time::Duration;

pub use rules::{Rule, RuleSettings};

/// How the alerting worker runs.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// How often the rules are evaluated (and the database's readiness checked).
    pub interval: Duration,
    /// The first retry of a failed notification; each next one doubles, up to [`MAX_RETRY`].
    pub retry_base: Duration,
    /// Attempts per notification before it is given up (and audited as failed).
    pub max_attempts: i64,
    /// One attempt's deadline.
    pub send_timeout: Duration,
    /// The console's address, linked from notices (`None`: no link).
    pub console_url: Option<String>,
    /// Channels may point at private addresses (tests and the demo only).
    pub allow_private: bool,
}

/// The longest wait between two attempts at a notification.
pub const MAX_RETRY: Duration = Duration::from_secs(30 * 60);

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            retry_base: Duration::from_secs(30),
            max_attempts: 6,
            send_timeout: Duration::from_secs(10),
            console_url: None,
            allow_private: false,
        }
    }
}

impl AlertSettings {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Self {
            interval: Duration::from_secs(s.alert_interval_seconds),
            retry_base: Duration::from_millis(s.alert_retry_base_ms),
            console_url: s
                .public_url
                .as_ref()
                .map(|u| u.as_str().trim_end_matches('/').to_owned()),
            allow_private: s.webhook_allow_private_networks,
            ..Self::default()
        }
    }

    /// The wait before attempt `attempts + 1`, after `attempts` failed ones.
    pub fn retry_after(&self, attempts: i64) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).clamp(0, 16) as u32);
        self.retry_base.saturating_mul(factor).min(MAX_RETRY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_the_base_up_to_half_an_hour() {
        let s = AlertSettings {
            retry_base: Duration::from_secs(30),
            ..AlertSettings::default()
        };
        assert_eq!(s.retry_after(1), Duration::from_secs(30));
        assert_eq!(s.retry_after(2), Duration::from_secs(60));
        assert_eq!(s.retry_after(3), Duration::from_secs(120));
        assert_eq!(s.retry_after(100), MAX_RETRY);
        assert_eq!(s.retry_after(-3), Duration::from_secs(30));
    }
}
