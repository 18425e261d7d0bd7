//! Alert settings and channels, for platform staff (the platform's audience) and tenant admins
//! (their tenant's): change a rule's threshold, switch or quiet period; add, turn on or off and
//! delete a channel; send a channel a test notice. Each change is audited with the audience's
//! tenant (none for the platform's), whoever made it.

use secrecy::SecretString;
use serde_json::json;

use super::OpError;
use crate::alerting::channels::{self, ChannelRequest};
use crate::alerting::rules::{Rule, MAX_RENOTIFY_MINUTES};
use crate::domain::{Actor, AuditKind, NewAuditEvent, Outcome, TenantId};
use crate::engine::Engine;
use crate::store::{
    AlertRuleRow, ChannelChange, NewChannel, NotificationChannel, Store, PLATFORM_AUDIENCE,
};

/// Channels per audience.
pub const MAX_CHANNELS: usize = 10;

/// Who acts for which audience: the platform's staff (audience 0) or one tenant's admins.
#[derive(Debug, Clone)]
pub struct AudienceActor {
    pub actor: Actor,
    pub audience: i64,
    pub ip: Option<std::net::IpAddr>,
}

impl AudienceActor {
    fn audit(&self, kind: AuditKind, outcome: Outcome, summary: String, now: i64) -> NewAuditEvent {
        NewAuditEvent::new(self.actor.clone(), kind, outcome, summary, now)
            .tenant((self.audience != PLATFORM_AUDIENCE).then_some(TenantId(self.audience)))
            .ip(self.ip)
    }
}

/// What a person asks of a rule (form fields, as text).
#[derive(Debug, Clone, Default)]
pub struct RuleRequest {
    pub rule: String,
    pub enabled: bool,
    pub threshold: String,
    pub renotify_minutes: String,
}

/// Sets one of the audience's rules.
pub async fn set_rule(
    store: &Store,
    who: &AudienceActor,
    req: &RuleRequest,
    now: i64,
) -> Result<AlertRuleRow, OpError> {
    let rule = Rule::parse(req.rule.trim())
        .filter(|r| who.audience == PLATFORM_AUDIENCE || r.tenant_settable())
        .ok_or_else(|| OpError::invalid("rule", "no such rule", "没有这条规则"))?;
    let (low, high) = rule.bounds();
    let threshold = req
        .threshold
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|t| (low..=high).contains(t))
        .ok_or_else(|| {
            OpError::invalid(
                "threshold",
                format!(
                    "the threshold is a whole number of {} from {low} to {high}",
                    rule.unit().as_str()
                ),
                format!(
                    "阈值须为 {low} 到 {high} 之间的整数（{}）",
                    rule.unit().zh()
                ),
            )
        })?;
    let renotify_minutes = req
        .renotify_minutes
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| (0..=MAX_RENOTIFY_MINUTES).contains(m))
        .ok_or_else(|| {
            OpError::invalid(
                "renotify_minutes",
                "remind after 0 (never) to 10080 minutes (a week)",
                "重复提醒间隔须为 0（不提醒）到 10080 分钟（一周）",
            )
        })?;
    let row = AlertRuleRow {
        tenant_id: who.audience,
        rule: rule.as_str().to_owned(),
        enabled: i64::from(req.enabled),
        threshold,
        renotify_minutes,
        updated_at: now,
    };
    let audit = who
        .audit(
            AuditKind::AlertRuleChanged,
            Outcome::Ok,
            format!(
                "{} set the alert rule {:?}: {}, threshold {threshold} {}, remind every {renotify_minutes} minutes",
                super::named(&who.actor),
                rule.title(),
                if req.enabled { "on" } else { "off" },
                rule.unit().as_str()
            ),
            now,
        )
        .detail(json!({ "rule": rule.as_str(), "enabled": req.enabled, "threshold": threshold, "renotify_minutes": renotify_minutes }));
    store.set_alert_rule(&row, &audit).await?;
    Ok(row)
}

/// Adds a channel; returns it with the secret to show once (a webhook's signing secret).
pub async fn create_channel(
    store: &Store,
    who: &AudienceActor,
    req: &ChannelRequest,
    allow_private: bool,
    now: i64,
) -> Result<(NotificationChannel, Option<SecretString>), OpError> {
    let checked = channels::check(req, allow_private).await?;
    if store.notification_channels(who.audience).await?.len() >= MAX_CHANNELS {
        return Err(OpError::invalid(
            "name",
            "at most 10 channels; delete one first",
            "最多 10 个渠道，请先删除一个",
        ));
    }
    let audit = who
        .audit(
            AuditKind::AlertChannelCreated,
            Outcome::Ok,
            format!(
                "{} added the notification channel {:?} ({})",
                super::named(&who.actor),
                checked.name,
                checked.config.kind()
            ),
            now,
        )
        .detail(json!({ "kind": checked.config.kind(), "name": checked.name, "summary": checked.summary }));
    let channel = store
        .create_notification_channel(
            &NewChannel {
                audience: who.audience,
                kind: checked.config.kind(),
                name: &checked.name,
                summary: &checked.summary,
                config: &checked.config.to_secret(),
            },
            &audit,
            now,
        )
        .await?;
    Ok((channel, checked.shown_once))
}

/// Turns a channel on or off, or deletes it.
pub async fn change_channel(
    store: &Store,
    who: &AudienceActor,
    id: i64,
    change: ChannelChange,
    now: i64,
) -> Result<(), OpError> {
    let (kind, verb) = match change {
        ChannelChange::Enable => (AuditKind::AlertChannelEnabled, "turned on"),
        ChannelChange::Disable => (AuditKind::AlertChannelDisabled, "turned off"),
        ChannelChange::Delete => (AuditKind::AlertChannelDeleted, "deleted"),
    };
    let audit = who
        .audit(
            kind,
            Outcome::Ok,
            format!(
                "{} {verb} notification channel {id}",
                super::named(&who.actor)
            ),
            now,
        )
        .detail(json!({ "channel_id": id }));
    if store
        .change_notification_channel(who.audience, id, change, &audit, now)
        .await?
    {
        Ok(())
    } else {
        Err(OpError::NotFound)
    }
}

/// Sends a channel a test notice now; the outcome (sent, or why not) is audited and returned.
pub async fn send_test(
    engine: &Engine,
    who: &AudienceActor,
    id: i64,
    now: i64,
) -> Result<Result<(), String>, OpError> {
    let channel = engine
        .store
        .notification_channel_opened(who.audience, id)
        .await?
        .ok_or(OpError::NotFound)?;
    let result = engine.alerting.send_test(&channel, now).await;
    let (outcome, verb) = match &result {
        Ok(()) => (Outcome::Ok, "sent"),
        Err(_) => (Outcome::Failed, "could not send"),
    };
    let audit = who
        .audit(
            AuditKind::AlertTestSent,
            outcome,
            format!(
                "{} {verb} a test notification on channel {:?}",
                super::named(&who.actor),
                channel.channel.name
            ),
            crate::now_ms(),
        )
        .detail(json!({ "channel_id": id, "channel_kind": channel.channel.kind, "error": result.as_ref().err() }));
    engine
        .store
        .record_channel_test(
            id,
            result.as_ref().err().map(String::as_str),
            &audit,
            crate::now_ms(),
        )
        .await?;
    Ok(result)
}
