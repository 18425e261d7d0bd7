//! The console's Alerts page, for staff and tenants alike: the audience is the signed-in user's
//! (the platform's for staff, the tenant's for tenant users), never a parameter. Admins change
//! rules and channels through `ops::alerting`; auditors and viewers read.

use app::dto::{
    AlertRuleView, AlertsView, ChannelForm, CreatedChannel, FiringAlertView,
    NotificationChannelView, NotificationView, TestNotification,
};
use app::error::AppError;
use app::services::{AlertService, AuthService, RequestCtx};
use async_trait::async_trait;
use secrecy::ExposeSecret;

use super::{op_error, store_error, user_actor, Console};
use crate::alerting::channels::ChannelRequest;
use crate::alerting::rules::{Rule, SettingsBook};
use crate::ops::alerting::{self, AudienceActor, RuleRequest};
use crate::store::{ChannelChange, NotificationChannel, PLATFORM_AUDIENCE};

/// Notifications the page lists.
const NOTIFICATION_ROWS: i64 = 50;

fn channel_view(c: NotificationChannel) -> NotificationChannelView {
    NotificationChannelView {
        id: c.id,
        kind: c.kind,
        name: c.name,
        summary: c.summary,
        enabled: c.enabled != 0,
        last_sent_at: c.last_sent_at,
        last_error: c.last_error,
        last_error_at: c.last_error_at,
        created_at: c.created_at,
    }
}

fn titles(rule: &str) -> (String, String) {
    match Rule::parse(rule) {
        Some(r) => (r.title().to_owned(), r.title_zh().to_owned()),
        None => ("Test notification".into(), "测试通知".into()),
    }
}

impl Console {
    /// The signed-in user's audience, and whether they may change it.
    async fn audience(&self, ctx: &RequestCtx) -> Result<(AudienceActor, bool), AppError> {
        let user = self
            .accounts
            .current_user(ctx)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let audience = if user.role.is_platform() {
            PLATFORM_AUDIENCE
        } else {
            user.tenant
                .as_ref()
                .map(|t| t.id)
                .ok_or(AppError::Forbidden)?
        };
        Ok((
            AudienceActor {
                actor: user_actor(&user),
                audience,
                ip: ctx.client_ip,
            },
            user.role.can_write(),
        ))
    }

    async fn editor(&self, ctx: &RequestCtx) -> Result<AudienceActor, AppError> {
        match self.audience(ctx).await? {
            (who, true) => Ok(who),
            (_, false) => Err(AppError::Forbidden),
        }
    }
}

#[async_trait]
impl AlertService for Console {
    async fn alerts(&self, ctx: &RequestCtx) -> Result<AlertsView, AppError> {
        let (who, can_edit) = self.audience(ctx).await?;
        let err = store_error("the alerts page could not be read");
        let book =
            SettingsBook::from_rows(&self.store.alert_rules(who.audience).await.map_err(&err)?);
        let rules = Rule::for_audience(who.audience)
            .map(|rule| {
                let s = book.get(who.audience, rule);
                let (min, max) = rule.bounds();
                AlertRuleView {
                    rule: rule.as_str().into(),
                    title: rule.title().into(),
                    title_zh: rule.title_zh().into(),
                    unit: rule.unit().as_str().into(),
                    unit_zh: rule.unit().zh().into(),
                    enabled: s.enabled,
                    threshold: s.threshold,
                    renotify_minutes: s.renotify_minutes,
                    min,
                    max,
                    default_threshold: rule.defaults().threshold,
                    customized: s != rule.defaults(),
                }
            })
            .collect();
        let channels = self
            .store
            .notification_channels(who.audience)
            .await
            .map_err(&err)?
            .into_iter()
            .map(channel_view)
            .collect();
        let firing = self
            .store
            .alert_states(who.audience)
            .await
            .map_err(&err)?
            .into_iter()
            .map(|s| {
                let (title, title_zh) = titles(&s.rule);
                FiringAlertView {
                    rule: s.rule,
                    title,
                    title_zh,
                    subject: s.subject,
                    message: s.message,
                    message_zh: s.message_zh,
                    firing_since: s.firing_since,
                    last_notified_at: s.last_notified_at,
                }
            })
            .collect();
        let notifications = self
            .store
            .recent_notifications(who.audience, NOTIFICATION_ROWS)
            .await
            .map_err(&err)?
            .into_iter()
            .map(|n| {
                let (title, title_zh) = titles(&n.rule);
                NotificationView {
                    id: n.id,
                    channel_name: n.channel_name,
                    rule: n.rule,
                    title,
                    title_zh,
                    subject: n.subject,
                    event: n.event,
                    status: n.status,
                    attempts: n.attempts,
                    last_error: n.last_error,
                    created_at: n.created_at,
                    finished_at: n.finished_at,
                }
            })
            .collect();
        Ok(AlertsView {
            platform: who.audience == PLATFORM_AUDIENCE,
            can_edit,
            rules,
            channels,
            firing,
            notifications,
        })
    }

    async fn set_alert_rule(
        &self,
        ctx: &RequestCtx,
        rule: &str,
        enabled: bool,
        threshold: &str,
        renotify_minutes: &str,
    ) -> Result<(), AppError> {
        let who = self.editor(ctx).await?;
        let req = RuleRequest {
            rule: rule.to_owned(),
            enabled,
            threshold: threshold.to_owned(),
            renotify_minutes: renotify_minutes.to_owned(),
        };
        alerting::set_rule(&self.store, &who, &req, crate::now_ms())
            .await
            .map(|_| ())
            .map_err(op_error("an alert rule could not be changed"))
    }

    async fn create_channel(
        &self,
        ctx: &RequestCtx,
        form: ChannelForm,
    ) -> Result<CreatedChannel, AppError> {
        let who = self.editor(ctx).await?;
        let req = ChannelRequest {
            kind: form.kind,
            name: form.name,
            url: form.url,
            host: form.host,
            port: form.port,
            security: form.security,
            username: form.username,
            password: form.password,
            from: form.from,
            to: form.to,
        };
        let (channel, secret) = alerting::create_channel(
            &self.store,
            &who,
            &req,
            self.engine.alerting.settings.allow_private,
            crate::now_ms(),
        )
        .await
        .map_err(op_error("a notification channel could not be added"))?;
        Ok(CreatedChannel {
            channel: channel_view(channel),
            secret: secret.map(|s| s.expose_secret().to_owned()),
        })
    }

    async fn change_channel(
        &self,
        ctx: &RequestCtx,
        id: i64,
        change: &str,
    ) -> Result<(), AppError> {
        let who = self.editor(ctx).await?;
        let change = match change {
            "enable" => ChannelChange::Enable,
            "disable" => ChannelChange::Disable,
            "delete" => ChannelChange::Delete,
            _ => {
                return Err(AppError::invalid_bilingual(
                    "change",
                    "the change must be enable, disable or delete",
                    "操作必须是 enable、disable 或 delete",
                ))
            }
        };
        alerting::change_channel(&self.store, &who, id, change, crate::now_ms())
            .await
            .map_err(op_error("a notification channel could not be changed"))
    }

    async fn test_channel(&self, ctx: &RequestCtx, id: i64) -> Result<TestNotification, AppError> {
        let who = self.editor(ctx).await?;
        let result = alerting::send_test(&self.engine, &who, id, crate::now_ms())
            .await
            .map_err(op_error("a test notification could not be sent"))?;
        Ok(TestNotification {
            sent: result.is_ok(),
            error: result.err(),
        })
    }
}
