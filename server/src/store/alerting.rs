//! Alerts that reach people (migration 0016): each audience's rule settings, its notification
//! channels (configuration sealed), what is firing for it, and the notification outbox.
//!
//! An audience is who is told: [`PLATFORM_AUDIENCE`] (0) is the platform's staff, a tenant id is
//! that tenant's admins. Every method that reads or writes an audience's rows takes its id, so a
//! tenant's console can only reach its own.
//!
//! [`Store::apply_alert_evaluation`] turns one evaluation into notices with conditional writes
//! (insert if absent, move `last_notified_at` if unchanged, delete if unchanged), in the same
//! transaction that queues the notices: of several instances evaluating at once, exactly one
//! queues each notice, and a crash queues all of a change's notices or none.

use std::collections::{HashMap, HashSet};

use secrecy::SecretString;

use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::NewAuditEvent;

/// The audience id of the platform's staff.
pub const PLATFORM_AUDIENCE: i64 = 0;

/// `alert_states.last_notified_at` of a condition nobody was told of (the audience had no channel).
const NEVER_TOLD: i64 = 0;

/// One audience's stored settings of one rule (a rule without a row has its defaults).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertRuleRow {
    pub tenant_id: i64,
    pub rule: String,
    pub enabled: i64,
    pub threshold: i64,
    pub renotify_minutes: i64,
    pub updated_at: i64,
}

/// A notification channel as it may be shown (no configuration).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NotificationChannel {
    pub id: i64,
    pub tenant_id: i64,
    pub kind: String,
    pub name: String,
    pub summary: String,
    pub enabled: i64,
    pub last_sent_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub created_at: i64,
}

/// A channel's last outcome: sent at `$2` when the error `$1` is NULL, else failed then with it.
const CHANNEL_OUTCOME: &str = "UPDATE notification_channels SET \
     last_sent_at = CASE WHEN CAST($1 AS TEXT) IS NULL THEN $2 ELSE last_sent_at END, \
     last_error = COALESCE(CAST($1 AS TEXT), last_error), \
     last_error_at = CASE WHEN CAST($1 AS TEXT) IS NULL THEN last_error_at ELSE $2 END \
     WHERE id = $3";

const CHANNEL_COLUMNS: &str = "id, tenant_id, kind, name, summary, enabled, last_sent_at, last_error, last_error_at, created_at";

/// A channel with its configuration opened, for sending.
#[derive(Debug, Clone)]
pub struct OpenedChannel {
    pub channel: NotificationChannel,
    /// The channel's configuration (JSON; it holds secrets).
    pub config: SecretString,
}

/// A condition firing for an audience.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertState {
    pub tenant_id: i64,
    pub rule: String,
    pub subject: String,
    pub subject_tenant_id: Option<i64>,
    pub message: String,
    pub message_zh: String,
    pub firing_since: i64,
    pub last_notified_at: i64,
    pub last_seen_at: i64,
}

/// A condition an evaluation found firing.
#[derive(Debug, Clone)]
pub struct Firing {
    pub rule: &'static str,
    /// What fires, within the rule (`component:wx…`, `tenant:3`).
    pub subject: String,
    /// The tenant the condition is about, if any.
    pub subject_tenant_id: Option<i64>,
    pub message: String,
    pub message_zh: String,
    /// Announce again after this long still firing (`None`: never).
    pub renotify_after_ms: Option<i64>,
}

/// A notice queued by an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub rule: String,
    pub subject: String,
    pub event: &'static str,
}

/// A notification claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedNotification {
    pub id: i64,
    pub channel_id: i64,
    pub tenant_id: i64,
    pub rule: String,
    pub subject: String,
    pub event: String,
    pub content: String,
    pub attempts: i64,
    pub created_at: i64,
}

/// A notification as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    pub rule: String,
    pub subject: String,
    pub event: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// How one attempt at a notification ended.
#[derive(Debug, Clone)]
pub enum NotificationOutcome {
    Sent,
    /// Failed; try again at `at`.
    Retry {
        at: i64,
        error: String,
    },
    /// Failed for the last time.
    Failed {
        error: String,
    },
}

fn purpose(channel_id: i64, tenant_id: i64) -> String {
    format!("notification_channel:{tenant_id}:{channel_id}")
}

/// What a notice is about (a firing condition, or a stored state).
struct About<'a> {
    rule: &'a str,
    subject: &'a str,
    subject_tenant_id: Option<i64>,
    message: &'a str,
    message_zh: &'a str,
}

impl<'a> From<&'a Firing> for About<'a> {
    fn from(f: &'a Firing) -> Self {
        About {
            rule: f.rule,
            subject: &f.subject,
            subject_tenant_id: f.subject_tenant_id,
            message: &f.message,
            message_zh: &f.message_zh,
        }
    }
}

impl<'a> From<&'a AlertState> for About<'a> {
    fn from(s: &'a AlertState) -> Self {
        About {
            rule: &s.rule,
            subject: &s.subject,
            subject_tenant_id: s.subject_tenant_id,
            message: &s.message,
            message_zh: &s.message_zh,
        }
    }
}

/// The facts of a notice, stored as its content and rendered per channel when sent.
fn content(event: &str, about: About<'_>, firing_since: i64, at: i64) -> String {
    serde_json::json!({
        "event": event,
        "rule": about.rule,
        "subject": about.subject,
        "tenant_id": about.subject_tenant_id,
        "message": about.message,
        "message_zh": about.message_zh,
        "firing_since": firing_since,
        "at": at,
    })
    .to_string()
}

/// A channel to add.
pub struct NewChannel<'a> {
    pub audience: i64,
    pub kind: &'a str,
    pub name: &'a str,
    pub summary: &'a str,
    /// The configuration (JSON, with its secrets), sealed before it is stored.
    pub config: &'a SecretString,
}

impl Store {
    /// The stored rule settings of every audience (the evaluator reads them all at once).
    pub async fn alert_rules_all(&self) -> Result<Vec<AlertRuleRow>, StoreError> {
        read!(self, |pool| sqlx::query_as(
            "SELECT tenant_id, rule, enabled, threshold, renotify_minutes, updated_at FROM alert_rules ORDER BY tenant_id, rule"
        )
        .fetch_all(pool)
        .await)
        .map_err(Into::into)
    }

    /// One audience's stored rule settings.
    pub async fn alert_rules(&self, audience: i64) -> Result<Vec<AlertRuleRow>, StoreError> {
        read!(self, |pool| sqlx::query_as(
            "SELECT tenant_id, rule, enabled, threshold, renotify_minutes, updated_at FROM alert_rules WHERE tenant_id = $1 ORDER BY rule"
        )
        .bind(audience)
        .fetch_all(pool)
        .await)
        .map_err(Into::into)
    }

    /// Sets one audience's settings of one rule, audited in the same transaction.
    pub async fn set_alert_rule(
        &self,
        row: &AlertRuleRow,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO alert_rules (tenant_id, rule, enabled, threshold, renotify_minutes, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, rule) DO UPDATE SET \
                 enabled = excluded.enabled, threshold = excluded.threshold, \
                 renotify_minutes = excluded.renotify_minutes, updated_at = excluded.updated_at",
            )
            .bind(row.tenant_id)
            .bind(&row.rule)
            .bind(row.enabled)
            .bind(row.threshold)
            .bind(row.renotify_minutes)
            .bind(row.updated_at)
            .execute(&mut *tx)
            .await?;
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Adds a channel with its configuration sealed, audited in the same transaction.
    pub async fn create_notification_channel(
        &self,
        new: &NewChannel<'_>,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<NotificationChannel, StoreError> {
        let keyring = self.keyring()?;
        let (audience, config) = (new.audience, new.config);
        let channel: NotificationChannel = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO notification_channels (tenant_id, kind, name, summary, config_sealed, enabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, '', 1, $5, $5) RETURNING id",
            )
            .bind(audience)
            .bind(new.kind)
            .bind(new.name)
            .bind(new.summary)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("UPDATE notification_channels SET config_sealed = $1 WHERE id = $2")
                .bind(keyring.seal_str(&purpose(id, audience), config))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let mut audit = audit.clone();
            if let serde_json::Value::Object(detail) = &mut audit.detail {
                detail.insert("channel_id".into(), id.into());
            }
            bind_audit!(sqlx::query(super::audit::INSERT), &audit)
                .execute(&mut *tx)
                .await?;
            let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = $1");
            let channel = sqlx::query_as(&sql).bind(id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(channel)
        })?;
        Ok(channel)
    }

    /// One audience's channels (deleted ones are not listed).
    pub async fn notification_channels(
        &self,
        audience: i64,
    ) -> Result<Vec<NotificationChannel>, StoreError> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY id"
        );
        read!(self, |pool| sqlx::query_as(&sql)
            .bind(audience)
            .fetch_all(pool)
            .await)
        .map_err(Into::into)
    }

    /// Every audience's enabled channels, configuration opened (the worker's view).
    pub async fn enabled_channels_opened(&self) -> Result<Vec<OpenedChannel>, StoreError> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS}, config_sealed FROM notification_channels WHERE enabled = 1 AND deleted_at IS NULL ORDER BY id"
        );
        let channels: Vec<SealedChannelRow> =
            read!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await)?;
        self.open_channels(channels)
    }

    /// One of an audience's channels, configuration opened (a test send).
    pub async fn notification_channel_opened(
        &self,
        audience: i64,
        id: i64,
    ) -> Result<Option<OpenedChannel>, StoreError> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS}, config_sealed FROM notification_channels WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
        );
        let channels: Vec<SealedChannelRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(audience)
            .bind(id)
            .fetch_all(pool)
            .await)?;
        Ok(self.open_channels(channels)?.into_iter().next())
    }

    fn open_channels(&self, rows: Vec<SealedChannelRow>) -> Result<Vec<OpenedChannel>, StoreError> {
        let keyring = self.keyring()?;
        rows.into_iter()
            .map(|r| {
                let config = keyring.open_str(
                    &purpose(r.channel.id, r.channel.tenant_id),
                    &r.config_sealed,
                )?;
                Ok(OpenedChannel {
                    channel: r.channel,
                    config,
                })
            })
            .collect()
    }

    /// Turns one of an audience's channels on or off, or deletes it (its unsent notifications
    /// end as failed); audited in the same transaction. False when there is no such channel.
    pub async fn change_notification_channel(
        &self,
        audience: i64,
        id: i64,
        change: ChannelChange,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        let found = write!(self, |pool| {
            async {
            let mut tx = pool.begin().await?;
            let sql = match change {
                ChannelChange::Enable => "UPDATE notification_channels SET enabled = 1, updated_at = $1 WHERE tenant_id = $2 AND id = $3 AND deleted_at IS NULL",
                ChannelChange::Disable => "UPDATE notification_channels SET enabled = 0, updated_at = $1 WHERE tenant_id = $2 AND id = $3 AND deleted_at IS NULL",
                ChannelChange::Delete => "UPDATE notification_channels SET deleted_at = $1, enabled = 0, updated_at = $1 WHERE tenant_id = $2 AND id = $3 AND deleted_at IS NULL",
            };
            let changed = sqlx::query(sql)
                .bind(now)
                .bind(audience)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed == 0 {
                return Ok::<_, sqlx::Error>(false);
            }
            if !matches!(change, ChannelChange::Enable) {
                sqlx::query(
                    "UPDATE notifications SET status = 'failed', last_error = 'the channel was turned off', finished_at = $1 \
                     WHERE channel_id = $2 AND status = 'pending'",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(true)
        }
        .await
        })?;
        Ok(found)
    }

    /// The audiences that have at least one enabled channel (besides the platform, which is
    /// always evaluated).
    pub async fn audiences_with_channels(&self) -> Result<Vec<i64>, StoreError> {
        read!(self, |pool| sqlx::query_scalar(
            "SELECT DISTINCT tenant_id FROM notification_channels WHERE enabled = 1 AND deleted_at IS NULL ORDER BY tenant_id"
        )
        .fetch_all(pool)
        .await)
        .map_err(Into::into)
    }

    /// The audiences with something firing.
    pub async fn alert_audiences(&self) -> Result<Vec<i64>, StoreError> {
        read!(self, |pool| sqlx::query_scalar(
            "SELECT DISTINCT tenant_id FROM alert_states ORDER BY tenant_id"
        )
        .fetch_all(pool)
        .await)
        .map_err(Into::into)
    }

    /// What is firing for an audience, oldest first.
    pub async fn alert_states(&self, audience: i64) -> Result<Vec<AlertState>, StoreError> {
        read!(self, |pool| sqlx::query_as(
            "SELECT tenant_id, rule, subject, subject_tenant_id, message, message_zh, firing_since, last_notified_at, last_seen_at \
             FROM alert_states WHERE tenant_id = $1 ORDER BY firing_since, rule, subject"
        )
        .bind(audience)
        .fetch_all(pool)
        .await)
        .map_err(Into::into)
    }

    /// Applies one evaluation for an audience: new conditions are announced, those past their
    /// quiet period announced again, and those of `evaluated` rules that no longer fire are
    /// announced resolved, each to every channel in `channels`, in one transaction.
    pub async fn apply_alert_evaluation(
        &self,
        audience: i64,
        evaluated: &[&str],
        firing: &[Firing],
        channels: &[i64],
        now: i64,
    ) -> Result<Vec<Queued>, StoreError> {
        let queued = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let states: Vec<AlertState> = sqlx::query_as(
                "SELECT tenant_id, rule, subject, subject_tenant_id, message, message_zh, firing_since, last_notified_at, last_seen_at \
                 FROM alert_states WHERE tenant_id = $1",
            )
            .bind(audience)
            .fetch_all(&mut *tx)
            .await?;
            let known: HashMap<(&str, &str), &AlertState> = states
                .iter()
                .map(|s| ((s.rule.as_str(), s.subject.as_str()), s))
                .collect();
            let mut notices: Vec<(Queued, String)> = Vec::new();
            let mut still: HashSet<(&str, &str)> = HashSet::new();
            // With no channel, nobody is told: the state is kept (the overview lists it) with
            // `last_notified_at` 0, and announced as new once a channel exists.
            let told = !channels.is_empty();
            let notified_at = if told { now } else { NEVER_TOLD };
            for f in firing {
                still.insert((f.rule, f.subject.as_str()));
                match known.get(&(f.rule, f.subject.as_str())) {
                    None => {
                        let inserted = sqlx::query(
                            "INSERT INTO alert_states (tenant_id, rule, subject, subject_tenant_id, message, message_zh, firing_since, last_notified_at, last_seen_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7) ON CONFLICT (tenant_id, rule, subject) DO NOTHING",
                        )
                        .bind(audience)
                        .bind(f.rule)
                        .bind(&f.subject)
                        .bind(f.subject_tenant_id)
                        .bind(&f.message)
                        .bind(&f.message_zh)
                        .bind(now)
                        .bind(notified_at)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                        if inserted == 1 && told {
                            notices.push((
                                Queued {
                                    rule: f.rule.into(),
                                    subject: f.subject.clone(),
                                    event: "firing",
                                },
                                content("firing", f.into(), now, now),
                            ));
                        }
                    }
                    Some(state) => {
                        sqlx::query(
                            "UPDATE alert_states SET message = $1, message_zh = $2, last_seen_at = $3 \
                             WHERE tenant_id = $4 AND rule = $5 AND subject = $6",
                        )
                        .bind(&f.message)
                        .bind(&f.message_zh)
                        .bind(now)
                        .bind(audience)
                        .bind(f.rule)
                        .bind(&f.subject)
                        .execute(&mut *tx)
                        .await?;
                        let first = state.last_notified_at == NEVER_TOLD;
                        let due = first
                            || f.renotify_after_ms
                                .is_some_and(|quiet| now - state.last_notified_at >= quiet);
                        if told && due {
                            let moved = sqlx::query(
                                "UPDATE alert_states SET last_notified_at = $1 \
                                 WHERE tenant_id = $2 AND rule = $3 AND subject = $4 AND last_notified_at = $5",
                            )
                            .bind(now)
                            .bind(audience)
                            .bind(f.rule)
                            .bind(&f.subject)
                            .bind(state.last_notified_at)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                            if moved == 1 {
                                let event = if first { "firing" } else { "reminder" };
                                notices.push((
                                    Queued {
                                        rule: f.rule.into(),
                                        subject: f.subject.clone(),
                                        event,
                                    },
                                    content(event, f.into(), state.firing_since, now),
                                ));
                            }
                        }
                    }
                }
            }
            for state in &states {
                let key = (state.rule.as_str(), state.subject.as_str());
                if still.contains(&key) || !evaluated.contains(&key.0) {
                    continue;
                }
                let deleted = sqlx::query(
                    "DELETE FROM alert_states WHERE tenant_id = $1 AND rule = $2 AND subject = $3 AND firing_since = $4",
                )
                .bind(audience)
                .bind(&state.rule)
                .bind(&state.subject)
                .bind(state.firing_since)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                // An end is announced to those who heard of the start.
                if deleted == 1 && state.last_notified_at != NEVER_TOLD {
                    notices.push((
                        Queued {
                            rule: state.rule.clone(),
                            subject: state.subject.clone(),
                            event: "resolved",
                        },
                        content("resolved", state.into(), state.firing_since, now),
                    ));
                }
            }
            for (notice, body) in &notices {
                for channel in channels {
                    sqlx::query(
                        "INSERT INTO notifications (channel_id, tenant_id, rule, subject, event, content, status, attempts, next_attempt_at, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
                    )
                    .bind(channel)
                    .bind(audience)
                    .bind(&notice.rule)
                    .bind(&notice.subject)
                    .bind(notice.event)
                    .bind(body)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(notices.into_iter().map(|(q, _)| q).collect::<Vec<_>>())
        })?;
        Ok(queued)
    }

    /// Drops an audience's firing conditions of rules it no longer evaluates (a rule turned off,
    /// an audience without channels), without notices.
    pub async fn forget_alert_states(
        &self,
        audience: i64,
        keep_rules: &[&str],
    ) -> Result<u64, StoreError> {
        let states = self.alert_states(audience).await?;
        let mut forgotten = 0;
        for s in states
            .iter()
            .filter(|s| !keep_rules.contains(&s.rule.as_str()))
        {
            forgotten += write!(self, |pool| sqlx::query(
                "DELETE FROM alert_states WHERE tenant_id = $1 AND rule = $2 AND subject = $3"
            )
            .bind(audience)
            .bind(&s.rule)
            .bind(&s.subject)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(forgotten)
    }

    /// Claims up to `limit` due notifications for `lease_ms` (counting the attempt).
    pub async fn claim_notifications(
        &self,
        limit: i64,
        lease_ms: i64,
        now: i64,
    ) -> Result<Vec<ClaimedNotification>, StoreError> {
        let sql = format!(
            "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $1 WHERE id IN \
             (SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $2 \
              ORDER BY next_attempt_at, id LIMIT $3{}) \
             RETURNING id, channel_id, tenant_id, rule, subject, event, content, attempts, created_at",
            self.dialect.claim_suffix
        );
        write!(self, |pool| sqlx::query_as(&sql)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await)
        .map_err(Into::into)
    }

    /// Records how an attempt ended, on the notification and its channel; a final outcome is
    /// audited in the same transaction.
    pub async fn finish_notification(
        &self,
        id: i64,
        channel_id: i64,
        outcome: &NotificationOutcome,
        audit: Option<&NewAuditEvent>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (sql, first, error): (&str, i64, Option<&str>) = match outcome {
            NotificationOutcome::Sent => (
                "UPDATE notifications SET status = 'sent', last_error = $2, finished_at = $1 WHERE id = $3",
                now,
                None,
            ),
            NotificationOutcome::Retry { at, error } => (
                "UPDATE notifications SET next_attempt_at = $1, last_error = $2 WHERE id = $3",
                *at,
                Some(error),
            ),
            NotificationOutcome::Failed { error } => (
                "UPDATE notifications SET status = 'failed', finished_at = $1, last_error = $2 WHERE id = $3",
                now,
                Some(error),
            ),
        };
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(sql)
                .bind(first)
                .bind(error)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(CHANNEL_OUTCOME)
                .bind(error)
                .bind(now)
                .bind(channel_id)
                .execute(&mut *tx)
                .await?;
            if let Some(audit) = audit {
                bind_audit!(sqlx::query(super::audit::INSERT), audit)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// When a channel's notifications were sent after `since`, oldest first (at most 100): how a
    /// WeCom robot's 20-a-minute pace is kept.
    pub async fn channel_sends_since(
        &self,
        channel_id: i64,
        since: i64,
    ) -> Result<Vec<i64>, StoreError> {
        read!(self, |pool| sqlx::query_scalar(
            "SELECT finished_at FROM notifications WHERE channel_id = $1 AND status = 'sent' \
             AND finished_at > $2 ORDER BY finished_at LIMIT 100"
        )
        .bind(channel_id)
        .bind(since)
        .fetch_all(pool)
        .await)
        .map_err(Into::into)
    }

    /// Hands a claimed notification back untried, due at `at`: its claim is not an attempt (a
    /// robot past its pace waits rather than failing with 45009 and using up its attempts).
    pub async fn defer_notification(&self, id: i64, at: i64) -> Result<(), StoreError> {
        write!(self, |pool| sqlx::query(
            "UPDATE notifications SET attempts = attempts - 1, next_attempt_at = $1 \
             WHERE id = $2 AND status = 'pending' AND attempts > 0"
        )
        .bind(at)
        .bind(id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(())
    }

    /// Records a test notice's outcome on the channel (as a notification's would be), audited in
    /// the same transaction.
    pub async fn record_channel_test(
        &self,
        channel_id: i64,
        error: Option<&str>,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<(), StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(CHANNEL_OUTCOME)
                .bind(error)
                .bind(now)
                .bind(channel_id)
                .execute(&mut *tx)
                .await?;
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// An audience's newest notifications, with their channel's name.
    pub async fn recent_notifications(
        &self,
        audience: i64,
        limit: i64,
    ) -> Result<Vec<NotificationRow>, StoreError> {
        read!(self, |pool| sqlx::query_as(
            "SELECT n.id, n.channel_id, c.name AS channel_name, n.rule, n.subject, n.event, n.status, n.attempts, \
             n.last_error, n.created_at, n.finished_at \
             FROM notifications n JOIN notification_channels c ON c.id = n.channel_id \
             WHERE n.tenant_id = $1 ORDER BY n.id DESC LIMIT $2"
        )
        .bind(audience)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(Into::into)
    }

    /// Notifications not sent yet (waiting for an attempt or retrying).
    pub async fn pending_notifications(&self) -> Result<i64, StoreError> {
        read!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE status = 'pending'"
        )
        .fetch_one(pool)
        .await)
        .map_err(Into::into)
    }

    /// Finished notifications created before `before` are deleted (retention).
    pub async fn prune_notifications(&self, before: i64) -> Result<u64, StoreError> {
        write!(self, |pool| sqlx::query(
            "DELETE FROM notifications WHERE status <> 'pending' AND created_at < $1"
        )
        .bind(before)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map_err(Into::into)
    }
}

/// What [`Store::change_notification_channel`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelChange {
    Enable,
    Disable,
    Delete,
}

#[derive(sqlx::FromRow)]
struct SealedChannelRow {
    #[sqlx(flatten)]
    channel: NotificationChannel,
    config_sealed: String,
}
