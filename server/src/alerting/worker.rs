//! The alerting loop of one instance: every `interval` it checks that the database answers,
//! evaluates the rules for each audience and queues what changed (`store::alerting`); every
//! second (or when woken) it sends due notifications, retrying failures with backoff and
//! auditing each notification's final outcome.
//!
//! The database watch ([`DbWatch`]) is the exception to "state lives in the database": when the
//! database does not answer, nothing can be queued or audited there. So each instance keeps the
//! platform's channels from its last good read, announces the outage itself, and writes the audit
//! events once the database answers again. Several instances may each announce one outage; each
//! notice names its instance.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::channels::{self, ChannelConfig, Notice};
use super::evaluate::{conditions, Observations};
use super::rules::{Rule, RuleSettings, SettingsBook};
use super::AlertSettings;
use crate::domain::{Actor, AuditKind, NewAuditEvent, Outcome, TenantId};
use crate::store::{
    ClaimedNotification, NotificationOutcome, OpenedChannel, Store, StoreError, PLATFORM_AUDIENCE,
};
use crate::webhooks::Sender;

/// How long a readiness check may take before the database counts as not answering.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// Notifications claimed at once.
const CLAIM: i64 = 16;
/// A WeCom group robot takes 20 messages a minute; past that it answers errcode 45009.
const ROBOT_PER_MINUTE: usize = 20;
const MINUTE_MS: i64 = 60_000;

/// How many of `claimed` notices a robot may send now, given when it sent in the last minute
/// (`recent`, oldest first), and when the rest are due: a minute after the oldest of those sends,
/// when the first slot frees. Instances pace from the same rows, so together they stay close to
/// the robot's limit; a 45009 that still comes is retried like any failure.
fn robot_pace(recent: &[i64], claimed: usize, now: i64) -> (usize, i64) {
    let allowed = ROBOT_PER_MINUTE.saturating_sub(recent.len()).min(claimed);
    let frees_at = recent.first().copied().unwrap_or(now) + MINUTE_MS;
    (allowed, frees_at.max(now + 1_000))
}

pub struct Alerting {
    pub store: Store,
    pub sender: Sender,
    pub settings: AlertSettings,
    pub instance: String,
    db: Mutex<DbWatch>,
    wake: Notify,
}

/// What a notice on one channel came to, for the audit log.
fn notified_event(
    audience: i64,
    channel: &crate::store::NotificationChannel,
    notice: &Notice,
    subject: &str,
    attempts: i64,
    error: Option<&str>,
    now: i64,
) -> NewAuditEvent {
    let what = notice.rule.map(Rule::title).unwrap_or("test notification");
    let (outcome, verb) = match error {
        None => (Outcome::Ok, "notified"),
        Some(_) => (Outcome::Failed, "could not notify"),
    };
    NewAuditEvent::new(
        Actor::System,
        AuditKind::AlertNotified,
        outcome,
        format!(
            "wxhub {verb} channel {:?} ({}): {} · {what} ({subject})",
            channel.name, channel.kind, notice.event
        ),
        now,
    )
    .tenant((audience != PLATFORM_AUDIENCE).then_some(TenantId(audience)))
    .detail(json!({
        "notice_id": notice.id,
        "channel_id": channel.id,
        "channel_kind": channel.kind,
        "rule": notice.rule.map(Rule::as_str),
        "subject": subject,
        "event": notice.event,
        "attempts": attempts,
        "error": error,
    }))
}

impl Alerting {
    pub fn new(store: Store, sender: Sender, settings: AlertSettings, instance: String) -> Self {
        Self {
            store,
            sender,
            settings,
            instance,
            db: Mutex::new(DbWatch::default()),
            wake: Notify::new(),
        }
    }

    fn watch(&self) -> std::sync::MutexGuard<'_, DbWatch> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs until `shutdown`: evaluates every `interval`, sends every second or when woken.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let send_every = self.settings.interval.min(Duration::from_secs(1));
        let mut last_evaluation: Option<tokio::time::Instant> = None;
        loop {
            let evaluate = last_evaluation.is_none_or(|at| at.elapsed() >= self.settings.interval);
            if evaluate {
                last_evaluation = Some(tokio::time::Instant::now());
            }
            self.tick(evaluate).await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(send_every) => {}
            }
        }
    }

    async fn tick(&self, evaluate: bool) {
        let now = crate::now_ms();
        if evaluate {
            let answer = tokio::time::timeout(PING_TIMEOUT, self.store.ping()).await;
            let failure = match answer {
                Ok(Ok(())) => None,
                Ok(Err(StoreError::Unavailable(_))) | Ok(Err(_)) => {
                    Some("the database refused or dropped the connection")
                }
                Err(_) => Some("the database did not answer within 5 seconds"),
            };
            match failure {
                Some(error) => {
                    self.database_down(error, now).await;
                    return;
                }
                None => self.database_up(now).await,
            }
            if let Err(e) = self.evaluate(now).await {
                tracing::warn!(error = %e, "alert evaluation failed; next one in {:?}", self.settings.interval);
            }
        }
        if let Err(e) = self.send_due(crate::now_ms()).await {
            tracing::warn!(error = %e, "sending notifications failed; retrying shortly");
        }
    }

    /// One evaluation for every audience; queues what changed and wakes the sender.
    pub async fn evaluate(&self, now: i64) -> Result<usize, StoreError> {
        let book = SettingsBook::from_rows(&self.store.alert_rules_all().await?);
        let channels = self.store.enabled_channels_opened().await?;
        self.watch().remember(
            channels
                .iter()
                .filter(|c| c.channel.tenant_id == PLATFORM_AUDIENCE)
                .cloned()
                .collect(),
            book.get(PLATFORM_AUDIENCE, Rule::DatabaseNotReady),
        );
        let seen = Observations::read(&self.store, now).await?;
        let mut audiences: BTreeMap<i64, Vec<i64>> = BTreeMap::from([(PLATFORM_AUDIENCE, vec![])]);
        for c in &channels {
            audiences
                .entry(c.channel.tenant_id)
                .or_default()
                .push(c.channel.id);
        }
        let mut queued = 0;
        for (audience, channel_ids) in &audiences {
            let (firing, evaluated) = conditions(&seen, &book, *audience);
            queued += self
                .store
                .apply_alert_evaluation(*audience, &evaluated, &firing, channel_ids, now)
                .await?
                .len()
                * channel_ids.len();
            self.store
                .forget_alert_states(*audience, &evaluated)
                .await?;
        }
        for stale in self.store.alert_audiences().await? {
            if !audiences.contains_key(&stale) {
                self.store.forget_alert_states(stale, &[]).await?;
            }
        }
        if queued > 0 {
            self.wake.notify_one();
        }
        Ok(queued)
    }

    /// Sends what is due, a batch at a time, each notification on its own.
    pub async fn send_due(&self, now: i64) -> Result<usize, StoreError> {
        let lease_ms = (self.settings.send_timeout.as_millis() as i64) * 3;
        let mut sent = 0;
        loop {
            let claimed = self.store.claim_notifications(CLAIM, lease_ms, now).await?;
            if claimed.is_empty() {
                return Ok(sent);
            }
            let channels = self.store.enabled_channels_opened().await?;
            let claimed = self.pace_robots(claimed, &channels, now).await?;
            let attempts = claimed.iter().map(|n| self.attempt(n, &channels));
            for result in futures_util::future::join_all(attempts).await {
                result?;
                sent += 1;
            }
        }
    }

    /// Keeps each WeCom robot within its pace ([`robot_pace`]): the notices over it are handed
    /// back untried, due when the robot has room; the rest are returned to be sent.
    async fn pace_robots(
        &self,
        claimed: Vec<ClaimedNotification>,
        channels: &[OpenedChannel],
        now: i64,
    ) -> Result<Vec<ClaimedNotification>, StoreError> {
        let robots: Vec<i64> = channels
            .iter()
            .filter(|c| c.channel.kind == "wecom_robot")
            .map(|c| c.channel.id)
            .filter(|id| claimed.iter().any(|n| n.channel_id == *id))
            .collect();
        // Sends are stamped with the wall clock (`attempt`), so the minute is measured on it; a
        // deferred notice is due after `now`, the clock it was claimed on, so this round does not
        // claim it again.
        let clock = crate::now_ms();
        let mut deferred = Vec::new();
        for robot in robots {
            let recent = self
                .store
                .channel_sends_since(robot, clock - MINUTE_MS)
                .await?;
            let mine = claimed.iter().filter(|n| n.channel_id == robot);
            let (allowed, frees_at) = robot_pace(&recent, mine.clone().count(), clock);
            let due = frees_at.max(now + 1_000);
            deferred.extend(mine.skip(allowed).map(|n| (n.id, due)));
        }
        for (id, due) in &deferred {
            self.store.defer_notification(*id, *due).await?;
        }
        if !deferred.is_empty() {
            tracing::info!(
                deferred = deferred.len(),
                "a WeCom robot is at 20 notices a minute; the rest wait"
            );
        }
        Ok(claimed
            .into_iter()
            .filter(|n| !deferred.iter().any(|(id, _)| *id == n.id))
            .collect())
    }

    async fn attempt(
        &self,
        n: &ClaimedNotification,
        channels: &[OpenedChannel],
    ) -> Result<(), StoreError> {
        let channel = channels.iter().find(|c| c.channel.id == n.channel_id);
        let notice = Notice::from_content(n.id, &n.content, self.settings.console_url.clone());
        let result = match (channel, &notice) {
            (None, _) => Err("the channel was deleted or turned off".to_owned()),
            (_, None) => Err("the notification's content is unreadable".to_owned()),
            (Some(channel), Some(notice)) => match ChannelConfig::from_secret(&channel.config) {
                Err(e) => Err(e),
                Ok(config) => {
                    channels::send(&self.sender, &config, notice, self.settings.send_timeout).await
                }
            },
        };
        let now = crate::now_ms();
        let last =
            n.attempts >= self.settings.max_attempts || channel.is_none() || notice.is_none();
        let outcome = match &result {
            Ok(()) => NotificationOutcome::Sent,
            Err(error) if last => NotificationOutcome::Failed {
                error: error.clone(),
            },
            Err(error) => NotificationOutcome::Retry {
                at: now + self.settings.retry_after(n.attempts).as_millis() as i64,
                error: error.clone(),
            },
        };
        let audit = match (&outcome, channel, &notice) {
            (NotificationOutcome::Retry { .. }, _, _) => None,
            (_, Some(channel), Some(notice)) => Some(notified_event(
                n.tenant_id,
                &channel.channel,
                notice,
                &n.subject,
                n.attempts,
                result.as_ref().err().map(String::as_str),
                now,
            )),
            _ => Some(
                NewAuditEvent::new(
                    Actor::System,
                    AuditKind::AlertNotified,
                    Outcome::Failed,
                    format!("wxhub could not send notification {} ({}): {}", n.id, n.rule, result.as_ref().err().map(String::as_str).unwrap_or("")),
                    now,
                )
                .tenant((n.tenant_id != PLATFORM_AUDIENCE).then_some(TenantId(n.tenant_id)))
                .detail(json!({ "notification_id": n.id, "channel_id": n.channel_id, "rule": n.rule, "subject": n.subject, "event": n.event })),
            ),
        };
        self.store
            .finish_notification(n.id, n.channel_id, &outcome, audit.as_ref(), now)
            .await
    }

    /// One attempt at a test notice on a channel, now (the console's "send test" button).
    pub async fn send_test(&self, channel: &OpenedChannel, now: i64) -> Result<(), String> {
        let config = ChannelConfig::from_secret(&channel.config)?;
        let notice = Notice::test(self.settings.console_url.clone(), now);
        channels::send(&self.sender, &config, &notice, self.settings.send_timeout).await
    }

    /// Wakes the sender (a test, or notices queued elsewhere).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    async fn database_down(&self, error: &'static str, now: i64) {
        let step = self.watch().down(error, now);
        let Some(event) = step else { return };
        tracing::error!(instance = %self.instance, "{error}; announcing it on the platform's channels");
        self.announce_database(event, now).await;
    }

    async fn database_up(&self, now: i64) {
        let step = self.watch().up();
        if let Some(event) = step {
            tracing::info!(instance = %self.instance, "the database answers again");
            self.announce_database(event, now).await;
        }
        self.watch().clear();
        let unaudited = std::mem::take(&mut self.watch().unaudited);
        for (i, event) in unaudited.iter().enumerate() {
            if let Err(e) = self.store.append_audit(event).await {
                tracing::warn!(error = %e, "could not audit the database notices yet");
                self.watch()
                    .unaudited
                    .extend(unaudited[i..].iter().cloned());
                break;
            }
        }
    }

    /// Tells the remembered platform channels about the database, straight away (two tries
    /// each), and keeps the audit events for when the database answers.
    async fn announce_database(&self, event: &'static str, now: i64) {
        let (channels, down_since, error, threshold) = {
            let w = self.watch();
            (
                w.channels.clone(),
                w.down_since.unwrap_or(now),
                w.error,
                w.settings.threshold,
            )
        };
        let seconds = (now - down_since) / 1000;
        let (message, message_zh) = if event == "resolved" {
            (
                format!(
                    "The database answers instance {} again, after {seconds} seconds.",
                    self.instance
                ),
                format!(
                    "数据库已恢复响应实例 {}（中断 {seconds} 秒）。",
                    self.instance
                ),
            )
        } else {
            (
                format!(
                    "The database has not answered instance {} for {seconds} seconds (threshold {threshold}): {error}. Tokens are served from memory until they expire; nothing is refreshed or stored.",
                    self.instance
                ),
                format!(
                    "数据库已 {seconds} 秒未响应实例 {}（阈值 {threshold}）。令牌暂由内存提供直至过期，期间不刷新、不存储。",
                    self.instance
                ),
            )
        };
        let notice = Notice {
            id: format!("ntf_db_{}_{down_since}", self.instance),
            event: event.into(),
            rule: Some(Rule::DatabaseNotReady),
            message,
            message_zh,
            firing_since: down_since,
            at: now,
            link: self.settings.console_url.clone(),
        };
        for channel in &channels {
            let config = match ChannelConfig::from_secret(&channel.config) {
                Ok(c) => c,
                Err(_) => continue,
            };
            let mut result = Err(String::new());
            let mut attempts = 0;
            while attempts < 2 {
                attempts += 1;
                result = channels::send(&self.sender, &config, &notice, self.settings.send_timeout)
                    .await;
                if result.is_ok() {
                    break;
                }
            }
            let audit = notified_event(
                PLATFORM_AUDIENCE,
                &channel.channel,
                &notice,
                "database",
                attempts,
                result.as_ref().err().map(String::as_str),
                crate::now_ms(),
            );
            self.watch().unaudited.push(audit);
        }
    }
}

/// One instance's view of the database's readiness, as a state machine over observations (so it
/// is tested without a broken database).
#[derive(Debug, Default)]
pub struct DbWatch {
    pub down_since: Option<i64>,
    error: &'static str,
    /// When the outage was last announced (`None`: not yet).
    announced_at: Option<i64>,
    /// The platform's channels and the rule's settings, from the last good read.
    channels: Vec<OpenedChannel>,
    settings: RuleSettingsOrDefault,
    /// Audit events of notices sent while the database was away.
    pub unaudited: Vec<NewAuditEvent>,
}

#[derive(Debug, Clone, Copy)]
struct RuleSettingsOrDefault(RuleSettings);

impl Default for RuleSettingsOrDefault {
    fn default() -> Self {
        Self(Rule::DatabaseNotReady.defaults())
    }
}

impl std::ops::Deref for RuleSettingsOrDefault {
    type Target = RuleSettings;
    fn deref(&self) -> &RuleSettings {
        &self.0
    }
}

impl DbWatch {
    pub fn remember(&mut self, channels: Vec<OpenedChannel>, settings: RuleSettings) {
        self.channels = channels;
        self.settings = RuleSettingsOrDefault(settings);
    }

    /// The database did not answer at `now`: what to announce, if anything.
    pub fn down(&mut self, error: &'static str, now: i64) -> Option<&'static str> {
        let since = *self.down_since.get_or_insert(now);
        self.error = error;
        if !self.settings.enabled || now - since < self.settings.threshold * 1000 {
            return None;
        }
        match self.announced_at {
            None => {
                self.announced_at = Some(now);
                Some("firing")
            }
            Some(at)
                if self.settings.renotify_minutes > 0
                    && now - at >= self.settings.renotify_minutes * 60_000 =>
            {
                self.announced_at = Some(now);
                Some("reminder")
            }
            Some(_) => None,
        }
    }

    /// The database answered: "resolved" when an outage had been announced.
    pub fn up(&mut self) -> Option<&'static str> {
        let announced = self.announced_at.take().is_some();
        if self.down_since.is_some() && announced {
            // Keep down_since for the resolved notice's duration; the caller reads it first.
            return Some("resolved");
        }
        self.down_since = None;
        None
    }

    /// Clears the outage once its resolved notice went out.
    pub fn clear(&mut self) {
        self.down_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_robot_sends_twenty_a_minute_and_the_rest_wait_for_the_first_free_slot() {
        let now = 1_000_000;
        assert_eq!(
            robot_pace(&[], 16, now),
            (16, now + MINUTE_MS),
            "an idle robot takes a batch"
        );
        let busy: Vec<i64> = (0..15).map(|i| now - 50_000 + i).collect();
        assert_eq!(
            robot_pace(&busy, 16, now),
            (5, now - 50_000 + MINUTE_MS),
            "5 of 20 left"
        );
        let full: Vec<i64> = (0..20).map(|i| now - 59_000 + i * 100).collect();
        assert_eq!(
            robot_pace(&full, 3, now),
            (0, now + 1_000),
            "none left; the oldest frees in 1 s"
        );
        assert_eq!(robot_pace(&full[..20], 0, now).0, 0);
        // A clock step backwards never makes a notice due in the past.
        assert_eq!(robot_pace(&[now - 70_000], 1, now), (1, now + 1_000));
    }

    #[test]
    fn an_outage_is_announced_once_past_its_threshold_again_after_the_quiet_period_and_resolved() {
        let mut w = DbWatch::default();
        w.remember(
            vec![],
            RuleSettings {
                enabled: true,
                threshold: 60,
                renotify_minutes: 10,
            },
        );
        assert_eq!(w.down("x", 0), None);
        assert_eq!(w.down("x", 59_000), None);
        assert_eq!(w.down("x", 60_000), Some("firing"));
        assert_eq!(w.down("x", 90_000), None);
        assert_eq!(w.down("x", 60_000 + 600_000), Some("reminder"));
        assert_eq!(w.up(), Some("resolved"));
        w.clear();
        assert_eq!(w.up(), None);
        // A blip shorter than the threshold is never announced, nor resolved.
        assert_eq!(w.down("x", 1_000_000), None);
        assert_eq!(w.up(), None);
        assert_eq!(w.down_since, None);
        // Turned off: never.
        w.remember(
            vec![],
            RuleSettings {
                enabled: false,
                threshold: 10,
                renotify_minutes: 0,
            },
        );
        assert_eq!(w.down("x", 0), None);
        assert_eq!(w.down("x", 3_600_000), None);
    }
}
