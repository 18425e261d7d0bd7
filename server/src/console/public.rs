//! The public authorization pages (no session: the link's unguessable id is the key), and what
//! keeps them from being abused by whoever holds a link:
//!
//! - the done page does no work for a revoked or expired link, and is rate-limited per client
//!   address and per link; a code it has seen is never sent to WeChat twice (the exchange job is
//!   keyed by the code);
//! - "has an account authorized yet?" answers only about authorizations after the asking page was
//!   opened, which the server states in a sealed ticket the page carries (`landing_ticket`), so a
//!   link holder cannot list who authorized before.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use app::dto::{AuthorizedAccount, DoneOutcome, PublicLink, ReadyLink};
use app::error::AppError;
use app::services::AuthorizePageService;
use async_trait::async_trait;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::links::{authorization_urls, authorized_account, qr_svg};
use super::{store_error, Console};
use crate::auth::service::internal;
use crate::domain::{Actor, AuditKind, LinkPublicId, NewAuditEvent, Outcome};
use crate::engine::{LinkOpening, RedirectOutcome};

/// How long the done page waits for the exchange before answering "almost there".
const DONE_WAIT: Duration = Duration::from_secs(8);
/// Keys kept by a limiter before idle ones are dropped.
const LIMITER_KEYS: usize = 10_000;

/// Requests to the done page: per client address (one owner comes back once, and the page asks
/// again every couple of seconds while the exchange runs), and per link (a link is shared with
/// many owners, who do not all come back in the same minute).
pub struct PublicLimits {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_link: DefaultKeyedRateLimiter<String>,
}

impl Default for PublicLimits {
    fn default() -> Self {
        let per_minute = |n: u32, burst: u32| {
            Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
        };
        Self {
            per_address: RateLimiter::keyed(per_minute(30, 10)),
            per_link: RateLimiter::keyed(per_minute(120, 30)),
        }
    }
}

impl PublicLimits {
    /// `Err(seconds to wait)` when the address or the link is over its rate.
    fn check(&self, ip: Option<IpAddr>, public_id: &str) -> Result<(), u64> {
        let wait = |not_until: governor::NotUntil<governor::clock::QuantaInstant>| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            wait.as_secs_f64().ceil().max(1.0) as u64
        };
        if self.per_address.len() > LIMITER_KEYS {
            self.per_address.retain_recent();
        }
        if self.per_link.len() > LIMITER_KEYS {
            self.per_link.retain_recent();
        }
        if let Some(ip) = ip {
            self.per_address.check_key(&ip).map_err(wait)?;
        }
        self.per_link
            .check_key(&public_id.to_owned())
            .map_err(wait)?;
        Ok(())
    }
}

fn landing_purpose(public_id: &str) -> String {
    format!("landing:{public_id}")
}

impl Console {
    /// "This page of `public_id` was opened at `since`", sealed: only the server can make one.
    fn landing_ticket(&self, public_id: &str, since: i64) -> Result<String, AppError> {
        let keyring = self
            .store
            .keyring()
            .map_err(|e| internal("a landing ticket could not be sealed", e))?;
        Ok(keyring.seal_str(
            &landing_purpose(public_id),
            &SecretString::from(since.to_string()),
        ))
    }

    /// The moment a landing ticket states, if it is one of ours for this link.
    fn open_landing_ticket(&self, public_id: &str, ticket: &str) -> Option<i64> {
        if ticket.is_empty() || ticket.len() > 512 {
            return None;
        }
        let keyring = self.store.keyring().ok()?;
        let opened = keyring.open_str(&landing_purpose(public_id), ticket).ok()?;
        opened.expose_secret().parse().ok()
    }
}

#[async_trait]
impl AuthorizePageService for Console {
    async fn open_link(&self, public_id: &str) -> Result<PublicLink, AppError> {
        let Some(public_id) = LinkPublicId::parse(public_id) else {
            return Ok(PublicLink::Unknown);
        };
        let now = crate::now_ms();
        let opening = self
            .engine
            .open_link(&public_id, now)
            .await
            .map_err(|e| internal("a link page could not be opened", e))?;
        Ok(match opening {
            LinkOpening::Unknown => PublicLink::Unknown,
            LinkOpening::Expired => PublicLink::Expired,
            LinkOpening::Revoked => PublicLink::Revoked,
            LinkOpening::Unavailable => PublicLink::Unavailable,
            LinkOpening::Ready {
                link,
                component_appid,
                platform_name,
                pre_auth_code,
                expires_at,
            } => {
                let (pc_url, mobile_url) = authorization_urls(
                    &self.urls,
                    &link,
                    &component_appid,
                    pre_auth_code.expose_secret(),
                );
                let qr_svg =
                    qr_svg(&mobile_url).map_err(|e| internal("a QR code could not be drawn", e))?;
                let lifetime = expires_at - now;
                // Renew well before the end: two minutes, or a fifth of a short lifetime.
                let margin = (lifetime / 5).min(120_000);
                // A few seconds of slack: the owner may have scanned while the page loaded.
                let landing_ticket = self.landing_ticket(&link.public_id, now - 5_000)?;
                PublicLink::Ready(ReadyLink {
                    public_id: link.public_id,
                    platform_name,
                    auth_type: link.auth_type,
                    pc_url,
                    mobile_url,
                    qr_svg,
                    code_expires_at: expires_at,
                    renew_at: (expires_at - margin).max(now + 5_000),
                    server_now: now,
                    landing_ticket,
                })
            }
        })
    }

    async fn link_landed(
        &self,
        public_id: &str,
        landing_ticket: &str,
    ) -> Result<Option<AuthorizedAccount>, AppError> {
        let err = store_error("a link's status could not be read");
        let Some(public_id) = LinkPublicId::parse(public_id) else {
            return Ok(None);
        };
        let Some(since) = self.open_landing_ticket(public_id.as_str(), landing_ticket) else {
            return Ok(None);
        };
        let Some(link) = self
            .store
            .link_by_public_id(public_id.as_str())
            .await
            .map_err(&err)?
        else {
            return Ok(None);
        };
        Ok(self
            .store
            .latest_authorization_through_link(link.id, since)
            .await
            .map_err(&err)?
            .map(|a| authorized_account(&a)))
    }

    async fn complete(
        &self,
        client_ip: Option<IpAddr>,
        public_id: &str,
        auth_code: Option<&str>,
    ) -> Result<DoneOutcome, AppError> {
        if let Err(retry_after_secs) = self.public_limits.check(client_ip, public_id) {
            let event = NewAuditEvent::new(
                Actor::Anonymous,
                AuditKind::RedirectRefused,
                Outcome::Denied,
                "authorization redirect refused: too many requests",
                crate::now_ms(),
            )
            .ip(client_ip)
            .detail(json!({ "reason": "rate_limited" }));
            let source =
                client_ip.map_or_else(|| "unknown address".to_owned(), |ip| ip.to_string());
            self.engine.refusals.record(event, &source).await;
            return Err(AppError::RateLimited { retry_after_secs });
        }
        let Some(public_id) = LinkPublicId::parse(public_id) else {
            return Ok(DoneOutcome::UnknownLink);
        };
        let outcome = self
            .engine
            .complete_redirect(&public_id, auth_code, DONE_WAIT)
            .await
            .map_err(|e| internal("an authorization redirect could not be completed", e))?;
        Ok(match outcome {
            RedirectOutcome::Authorized(a) => DoneOutcome::Authorized(authorized_account(&a)),
            RedirectOutcome::Pending => DoneOutcome::Pending,
            RedirectOutcome::Failed(reason) => {
                tracing::info!(reason = %reason, "an authorization redirect's code was refused");
                DoneOutcome::Failed
            }
            RedirectOutcome::MissingCode => DoneOutcome::MissingCode,
            RedirectOutcome::UnknownLink => DoneOutcome::UnknownLink,
            RedirectOutcome::LinkRevoked | RedirectOutcome::LinkExpired => {
                let revoked = matches!(outcome, RedirectOutcome::LinkRevoked);
                let reason = if revoked {
                    "link_revoked"
                } else {
                    "link_expired"
                };
                let event = NewAuditEvent::new(
                    Actor::Anonymous,
                    AuditKind::RedirectRefused,
                    Outcome::Denied,
                    format!("authorization redirect to link {public_id} refused: {reason}"),
                    crate::now_ms(),
                )
                .ip(client_ip)
                .detail(json!({ "reason": reason, "link": public_id.as_str() }));
                self.engine.refusals.record(event, public_id.as_str()).await;
                if revoked {
                    DoneOutcome::LinkRevoked
                } else {
                    DoneOutcome::LinkExpired
                }
            }
        })
    }
}
