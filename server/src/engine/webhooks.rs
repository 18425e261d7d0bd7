//! The webhook outbox's worker, and the deliveries an event makes.
//!
//! An event's deliveries are written with the event (for a message, in the message's own
//! transaction), then this worker takes them: it claims due rows with a lease (several instances
//! share one outbox; a dead worker's rows come back when its lease ends), sends each with the
//! SSRF-guarded [`Sender`](crate::webhooks::Sender), and records the attempt. A failure is retried
//! with exponential backoff and jitter until the delivery's window (`webhook_retry_hours`) ends;
//! then it is a dead letter, kept for replay. An endpoint that keeps failing is disabled, its
//! waiting deliveries become dead letters, and an alert is raised.
//!
//! A `reply`-mode endpoint's delivery is first tried while WeChat waits (see
//! [`Engine::reply_attempt`]); its row is written due only after that attempt's deadline, so the
//! worker does not race it, and takes it over if the attempt fails or this instance dies.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use secrecy::SecretString;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::group_commit::GroupCommit;
use super::metrics::labels;
use super::{Engine, EngineError};
use crate::domain::{Actor, AuditKind, NewAuditEvent, Outcome, TenantId};
use crate::store::{
    AttemptRecord, ClaimedDelivery, DeliveryNext, DisablePolicy, FinishItem, FinishedDelivery,
    HandOff, NewDelivery, StoreError, WebhookEndpoint, WebhookMode,
};
use crate::webhooks::{reply, Attempt};

/// How long WeChat waits for a reply-mode endpoint before it gets `success` (WeChat's own limit is
/// 5 s; the rest is for the network and our own work).
pub const REPLY_DEADLINE: Duration = Duration::from_secs(3);
/// The longest pause between two attempts of one delivery.
const RETRY_CAP_MS: i64 = 3_600_000;

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub attempt_timeout: Duration,
    pub retry_window: Duration,
    pub retry_base: Duration,
    pub concurrency: usize,
    pub per_endpoint: usize,
    pub disable: DisablePolicy,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(10),
            retry_window: Duration::from_secs(24 * 3600),
            retry_base: Duration::from_secs(5),
            concurrency: 256,
            per_endpoint: 16,
            disable: DisablePolicy {
                failures: 20,
                failing_for_ms: 24 * 3_600_000,
            },
        }
    }
}

impl WebhookSettings {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Self {
            attempt_timeout: Duration::from_secs(s.webhook_timeout_seconds),
            retry_window: Duration::from_secs(s.webhook_retry_hours * 3600),
            retry_base: Duration::from_millis(s.webhook_retry_base_ms),
            concurrency: s.webhook_concurrency,
            per_endpoint: s.webhook_concurrency_per_endpoint,
            disable: DisablePolicy {
                failures: s.webhook_disable_after_failures as i64,
                failing_for_ms: s.webhook_disable_after_minutes as i64 * 60_000,
            },
        }
    }

    /// The pause after the `attempts`-th failure: base × 2^(attempts−1), at most an hour, times a
    /// random 0.8–1.2 so that a burst of failures does not come back as one burst.
    pub fn retry_delay_ms(&self, attempts: i64) -> i64 {
        let exp = (attempts.max(1) - 1).min(30) as u32;
        let base = (self.retry_base.as_millis() as i64)
            .saturating_mul(1i64 << exp.min(40))
            .min(RETRY_CAP_MS);
        let factor: f64 = rand::thread_rng().gen_range(0.8..=1.2);
        (base as f64 * factor) as i64
    }
}

/// Attempts waiting to be recorded together.
pub(super) type AttemptRecords = GroupCommit<FinishItem, Result<FinishedDelivery, StoreError>>;

/// How long a claimed delivery is ours: one attempt, with room to record it.
fn lease_ms(cfg: &WebhookSettings) -> i64 {
    (cfg.attempt_timeout + Duration::from_secs(10)).as_millis() as i64
}

/// One event for a tenant's endpoints.
pub struct OutgoingEvent<'a> {
    pub tenant: TenantId,
    pub event_type: &'a str,
    pub authorizer_appid: Option<&'a str>,
    /// The JSON body, the same for every endpoint.
    pub body: String,
}

impl Engine {
    /// The deliveries of `event` to the tenant's endpoints that want it (reply-mode ones held back
    /// for the attempt made while WeChat waits, when `reply_possible`).
    pub async fn deliveries_for(
        &self,
        event: &OutgoingEvent<'_>,
        event_id: &str,
        reply_possible: bool,
        now: i64,
    ) -> Result<(Vec<NewDelivery>, Vec<WebhookEndpoint>), EngineError> {
        let endpoints: Vec<WebhookEndpoint> = self
            .store
            .active_webhook_endpoints(event.tenant)
            .await?
            .into_iter()
            .filter(|e| e.wants(event.event_type, event.authorizer_appid))
            .collect();
        let give_up_at = now + self.settings.webhooks.retry_window.as_millis() as i64;
        let held_until = now + (REPLY_DEADLINE + Duration::from_secs(2)).as_millis() as i64;
        let deliveries = endpoints
            .iter()
            .map(|e| NewDelivery {
                tenant: event.tenant,
                endpoint_id: e.id,
                event_id: event_id.to_owned(),
                event_type: event.event_type.to_owned(),
                authorizer_appid: event.authorizer_appid.map(str::to_owned),
                payload: SecretString::from(event.body.clone()),
                run_at: if reply_possible && e.mode == WebhookMode::Reply {
                    held_until
                } else {
                    now
                },
                give_up_at,
            })
            .collect();
        Ok((deliveries, endpoints))
    }

    /// Writes an event's deliveries outside any other transaction (authorization and test
    /// events); the same event id is written once per endpoint, so a retried caller is harmless.
    pub async fn enqueue_event(
        &self,
        event: &OutgoingEvent<'_>,
        event_id: &str,
    ) -> Result<usize, EngineError> {
        let now = crate::now_ms();
        let (deliveries, _) = self.deliveries_for(event, event_id, false, now).await?;
        let written = self.store.enqueue_deliveries(&deliveries, now).await?;
        if !written.is_empty() {
            self.wake_webhooks();
        }
        Ok(written.len())
    }

    /// Queues a `wechat.authorization.<info_type>` event for the tenant's endpoints. Its id is
    /// derived from `key` (the push or the exchange it came from), so the caller may repeat it
    /// after a crash or a WeChat retry without delivering it twice.
    pub(super) async fn authorization_event(
        &self,
        tenant: TenantId,
        component_appid: &str,
        authorizer_appid: &str,
        info_type: &str,
        key: &str,
        mut data: serde_json::Value,
    ) -> Result<(), EngineError> {
        let event_type = crate::webhooks::authorization_event_type(info_type);
        let digest = crate::secrets::fingerprint(&format!("authorization-event:{key}"));
        let event_id = format!("msg_{}", &digest[..digest.len().min(24)]);
        if let Some(obj) = data.as_object_mut() {
            obj.insert("component_appid".into(), component_appid.into());
            obj.insert("authorizer_appid".into(), authorizer_appid.into());
            obj.insert("info_type".into(), info_type.into());
        }
        let body = json!({
            "type": event_type,
            "timestamp": crate::rfc3339(crate::now_ms()),
            "data": data,
        })
        .to_string();
        let event = OutgoingEvent {
            tenant,
            event_type: &event_type,
            authorizer_appid: Some(authorizer_appid),
            body,
        };
        self.enqueue_event(&event, &event_id).await?;
        Ok(())
    }

    /// Tells this instance's worker that deliveries are due.
    pub fn wake_webhooks(&self) {
        self.wake_webhooks.notify_one();
    }

    pub(super) async fn webhook_loop(
        self: Arc<Self>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) {
        let cfg = self.settings.webhooks.clone();
        let slots = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        let lease_ms = lease_ms(&cfg);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let Ok(first) = slots.clone().acquire_owned().await else {
                return;
            };
            let available = slots.available_permits() + 1;
            let now = crate::now_ms();
            let claimed = match self
                .store
                .claim_due_deliveries(
                    &self.settings.instance,
                    now,
                    now + lease_ms,
                    available as i64,
                    cfg.per_endpoint as i64,
                )
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not claim webhook deliveries");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                drop(first);
                if !self
                    .idle(&self.wake_webhooks, &shutdown, self.settings.idle_poll)
                    .await
                {
                    return;
                }
                continue;
            }
            let mut first = Some(first);
            for delivery in claimed {
                let permit = match first.take() {
                    Some(p) => p,
                    None => match slots.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                };
                let me = self.clone();
                tracker.spawn(async move {
                    // A success hands this slot to the endpoint's next due delivery, if any.
                    let mut current = Arc::new(delivery);
                    loop {
                        let attempt = me
                            .webhook_sender
                            .attempt(&current, me.settings.webhooks.attempt_timeout, false)
                            .await;
                        match me.record_attempt(&current, &attempt, None, true).await {
                            Some(next) => current = Arc::new(next),
                            None => break,
                        }
                    }
                    drop(permit);
                });
            }
        }
    }

    /// Records an attempt: delivered, retried later, or dead when its window is over, written with
    /// the other attempts that finish meanwhile. With `hand_off`, a success claims the endpoint's
    /// next due delivery and returns it.
    async fn record_attempt(
        &self,
        d: &Arc<ClaimedDelivery>,
        attempt: &Attempt,
        note: Option<&str>,
        hand_off: bool,
    ) -> Option<ClaimedDelivery> {
        let now = crate::now_ms();
        let cfg = &self.settings.webhooks;
        let next = match &attempt.error {
            None => DeliveryNext::Delivered,
            Some(_) if now >= d.give_up_at => DeliveryNext::Dead,
            Some(_) => {
                DeliveryNext::RetryAt((now + cfg.retry_delay_ms(d.attempts)).min(d.give_up_at))
            }
        };
        let outcome = match next {
            DeliveryNext::Delivered => "delivered",
            DeliveryNext::RetryAt(_) => "retry",
            DeliveryNext::Dead => "dead",
        };
        self.metrics
            .webhook_attempts
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
        self.rollups.count(
            crate::rollups::Counted::Delivery,
            Some(d.tenant_id),
            outcome,
            now,
        );
        let excerpt = match (note, &attempt.excerpt) {
            (Some(n), Some(e)) => Some(format!("{n}\n{e}")),
            (Some(n), None) => Some(n.to_owned()),
            (None, e) => e.clone(),
        };
        let item = FinishItem {
            delivery: d.clone(),
            attempt: AttemptRecord {
                status_code: attempt.status,
                latency_ms: attempt.latency_ms,
                error: attempt.error.clone(),
                response_excerpt: excerpt,
            },
            next,
            hand_off,
        };
        let finished = self
            .attempt_records
            .submit(item, |items| self.finish_attempts(items))
            .await;
        let handed = match finished {
            Some(Ok(finished)) if finished.endpoint_disabled => {
                self.endpoint_disabled(d, attempt).await;
                None
            }
            Some(Ok(finished)) if !finished.recorded => {
                tracing::info!(
                    delivery = d.id,
                    "a delivery's lease ended before its attempt was recorded"
                );
                None
            }
            Some(Ok(finished)) => finished.next,
            Some(Err(e)) => {
                tracing::warn!(delivery = d.id, error = %crate::report::Chain(&e), "could not record a delivery attempt");
                None
            }
            None => {
                tracing::warn!(
                    delivery = d.id,
                    "the batch with a delivery's attempt was abandoned; its lease will bring it back"
                );
                None
            }
        };
        if handed.is_none() {
            // The endpoint has room again: its next waiting delivery goes now, not at the next
            // poll.
            self.wake_webhooks();
        }
        handed
    }

    /// Records a batch of attempts in one transaction (see [`GroupCommit`]); if the batch fails,
    /// each attempt alone, so one bad record cannot lose the others'.
    async fn finish_attempts(
        &self,
        items: Vec<FinishItem>,
    ) -> Vec<Result<FinishedDelivery, StoreError>> {
        let cfg = &self.settings.webhooks;
        let now = crate::now_ms();
        let hand_off = HandOff {
            owner: &self.settings.instance,
            lease_until: now + lease_ms(cfg),
        };
        match self
            .store
            .finish_deliveries(&items, cfg.disable, Some(hand_off), now)
            .await
        {
            Ok(done) => done.into_iter().map(Ok).collect(),
            Err(e) if items.len() > 1 => {
                tracing::info!(error = %crate::report::Chain(&e), batch = items.len(), "recording a batch of attempts failed; recording them one by one");
                let mut done = Vec::with_capacity(items.len());
                for item in items {
                    done.push(
                        self.store
                            .finish_deliveries(
                                std::slice::from_ref(&item),
                                cfg.disable,
                                Some(hand_off),
                                now,
                            )
                            .await
                            .and_then(|mut one| {
                                one.pop().ok_or_else(|| {
                                    StoreError::Corrupt("no answer for an attempt".into())
                                })
                            }),
                    );
                }
                done
            }
            Err(e) => vec![Err(e)],
        }
    }

    async fn endpoint_disabled(&self, d: &ClaimedDelivery, attempt: &Attempt) {
        let now = crate::now_ms();
        let reason = attempt.error.as_deref().unwrap_or("failed");
        tracing::warn!(endpoint = %d.endpoint_public_id, reason, "webhook endpoint disabled after failing");
        let message = format!(
            "The webhook endpoint {} was disabled after {} failed deliveries in a row (last: {reason}). \
             Fix it, turn it back on, and replay its dead letters.",
            d.endpoint_public_id, self.settings.webhooks.disable.failures
        );
        if let Err(e) = self
            .store
            .raise_alert(
                Some(d.tenant_id),
                None,
                None,
                "webhook_endpoint_disabled",
                &message,
                now,
            )
            .await
        {
            tracing::warn!(error = %crate::report::Chain(&e), "could not raise the endpoint's alert");
        }
        let audit = NewAuditEvent::new(
            Actor::System,
            AuditKind::WebhookEndpointDisabled,
            Outcome::Failed,
            format!(
                "webhook endpoint {} disabled after failing",
                d.endpoint_public_id
            ),
            now,
        )
        .tenant(Some(d.tenant_id))
        .detail(json!({ "endpoint_id": d.endpoint_public_id, "reason": reason }));
        if let Err(e) = self.store.append_audit(&audit).await {
            tracing::warn!(error = %crate::report::Chain(&e), "could not audit the endpoint's disabling");
        }
    }

    /// The attempt made while WeChat waits, for a reply-mode endpoint's delivery: `Some(reply)`
    /// when the endpoint answered in time with a usable reply. Late or failed, the attempt goes
    /// on (and is recorded) in the background; the worker retries the delivery as usual.
    pub async fn reply_attempt(
        self: &Arc<Self>,
        delivery_id: i64,
        started: Instant,
    ) -> Option<reply::PassiveReply> {
        let me = self.clone();
        let attempt = tokio::spawn(async move {
            let now = crate::now_ms();
            let lease_until = now
                + (me.settings.webhooks.attempt_timeout + Duration::from_secs(10)).as_millis()
                    as i64;
            let claimed = match me
                .store
                .claim_delivery(delivery_id, &me.settings.instance, now, lease_until)
                .await
            {
                Ok(Some(c)) => c,
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not claim a reply delivery");
                    return None;
                }
            };
            let attempt = me
                .webhook_sender
                .attempt(&claimed, me.settings.webhooks.attempt_timeout, true)
                .await;
            let parsed = attempt.body.as_deref().map(reply::parse);
            let note = match &parsed {
                Some(Err(refused)) => Some(format!("reply not used: {refused}")),
                _ => None,
            };
            me.record_attempt(&Arc::new(claimed), &attempt, note.as_deref(), false)
                .await;
            parsed.and_then(Result::ok).flatten()
        });
        match tokio::time::timeout(REPLY_DEADLINE.saturating_sub(started.elapsed()), attempt).await
        {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => None,
            Err(_) => {
                tracing::info!(
                    delivery = delivery_id,
                    "no reply in time; WeChat gets success, the delivery goes on"
                );
                None
            }
        }
    }

    /// The encrypted envelope of a plain passive reply.
    pub(super) fn encrypt_reply(
        crypto: &crate::wechat::crypto::MsgCrypt,
        plain: &str,
        now: i64,
    ) -> String {
        let nonce = format!("{:010}", rand::random::<u32>());
        crypto
            .encrypt(plain, &(now / 1000).to_string(), &nonce)
            .to_xml()
    }
}
