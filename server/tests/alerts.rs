//! Alerts that reach people (issue 17), on both databases: each rule fires and resolves, a
//! condition is announced once and again only after its quiet period, every channel kind
//! (WeCom robot, signed webhook, SMTP) receives notices from local sinks, failures are retried and
//! then given up, every outcome is audited, a tenant hears only of its own conditions under its
//! own thresholds, garbage settings are refused with nothing stored, and an outage of the database
//! is announced from memory and audited once it answers again.
//!
//! Evaluations run at chosen instants (`evaluate(now)`), so quiet periods of hours and tickets
//! 25 minutes old are tested without waiting; the worker's own loop evaluates once an hour here.

mod common;

use std::time::Duration;

use common::rig::{rig, signed_in, ui, Rig, COMPONENT, OA};
use common::{raw_strings, wait_for, TestDb};
use secrecy::ExposeSecret;
use serde_json::Value;
use wxhub::alerting::channels::ChannelRequest;
use wxhub::domain::{Actor, AuthorizerStatus, TenantId};
use wxhub::ops::alerting::{self, AudienceActor, RuleRequest};
use wxhub::ops::OpError;
use wxhub::simulator::sink::{RunningSink, Sink, SinkAnswer};
use wxhub::simulator::smtp::{RunningSmtp, SmtpSink};
use wxhub::simulator::Lifetimes;
use wxhub::store::{ChannelChange, PLATFORM_AUDIENCE};

const MINUTE: i64 = 60_000;

async fn alert_rig(db: &TestDb, interval_seconds: u64) -> Rig {
    rig(db, Lifetimes::default(), |s| {
        s.webhook_allow_private_networks = true;
        s.alert_interval_seconds = interval_seconds;
        s.alert_retry_base_ms = 10;
    })
    .await
}

fn staff() -> AudienceActor {
    AudienceActor {
        actor: Actor::Cli,
        audience: PLATFORM_AUDIENCE,
        ip: None,
    }
}

fn tenant(t: TenantId) -> AudienceActor {
    AudienceActor {
        actor: Actor::Cli,
        audience: t.0,
        ip: None,
    }
}

fn kind(kind: &str, name: &str) -> ChannelRequest {
    ChannelRequest {
        kind: kind.into(),
        name: name.into(),
        ..Default::default()
    }
}

/// Adds a channel; a webhook's secret is taught to the sink so its signatures are checked.
async fn channel(
    r: &Rig,
    who: &AudienceActor,
    req: ChannelRequest,
    sink: &Sink,
    hook: &str,
) -> i64 {
    let (c, secret) = alerting::create_channel(&r.app.store, who, &req, true, wxhub::now_ms())
        .await
        .unwrap();
    if let Some(secret) = secret {
        sink.set_secret(
            hook,
            secrecy::SecretString::from(secret.expose_secret().to_owned()),
        );
    }
    c.id
}

struct Sinks {
    http: RunningSink,
    smtp: RunningSmtp,
}

impl Sinks {
    async fn start() -> Sinks {
        Sinks {
            http: Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap(),
            smtp: SmtpSink::start("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap(),
        }
    }

    fn bodies(&self, hook: &str) -> Vec<Value> {
        self.http
            .sink
            .received(Some(hook))
            .iter()
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    }

    /// The robot's markdown texts.
    fn robot(&self, key: &str) -> Vec<String> {
        self.bodies(&format!("wecom:{key}"))
            .iter()
            .map(|b| b["markdown"]["content"].as_str().unwrap().to_owned())
            .collect()
    }

    /// (type, rule) of each webhook notice; every signature verified.
    fn hooks(&self, hook: &str) -> Vec<(String, String)> {
        let received = self.http.sink.received(Some(hook));
        assert!(
            received.iter().all(|r| r.verified == Some(true)),
            "unsigned or badly signed notices on {hook}"
        );
        self.bodies(hook)
            .iter()
            .map(|b| {
                (
                    b["type"].as_str().unwrap().to_owned(),
                    b["data"]["rule"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }
}

/// Evaluates at `now` and sends what that queued; returns how many notifications were queued.
/// Notices queued at a future instant are sent at that instant and retried at later ones, until
/// nothing is pending; those queued at the real now are the worker's own loop's to send (two
/// clocks claiming the same rows would each think the other's lease long expired).
async fn evaluate_and_send(r: &Rig, now: i64) -> usize {
    let alerting = &r.engine().alerting;
    let queued = alerting.evaluate(now).await.unwrap();
    if now > wxhub::now_ms() {
        let mut at = now;
        for _ in 0..20 {
            alerting.send_due(at).await.unwrap();
            at += 31 * MINUTE;
        }
    }
    let store = r.app.store.clone();
    assert!(
        wait_for(Duration::from_secs(10), || async {
            store.pending_notifications().await.unwrap() == 0
        })
        .await,
        "notifications left pending"
    );
    queued
}

async fn audit_kinds(r: &Rig) -> Vec<(String, String)> {
    r.app
        .store
        .platform_audit(2000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.starts_with("alert."))
        .map(|e| (e.kind, e.outcome))
        .collect()
}

on_both_databases! {
    a_stale_ticket_reaches_every_channel_once_again_after_the_quiet_period_and_resolves => async |db: &TestDb| {
        let r = alert_rig(db, 3600).await;
        let sinks = Sinks::start().await;
        let (web, smtp) = (&sinks.http, &sinks.smtp);
        channel(&r, &staff(), ChannelRequest { url: web.wecom_url("staff"), ..kind("wecom_robot", "Ops robot") }, &web.sink, "").await;
        channel(&r, &staff(), ChannelRequest { url: web.url("staff"), ..kind("webhook", "Pager") }, &web.sink, "staff").await;
        channel(&r, &staff(), ChannelRequest {
            host: "127.0.0.1".into(), port: smtp.addr.port().to_string(), security: "none".into(),
            from: "wxhub <alerts@wxhub.test>".into(), to: "oncall@wxhub.test, lead@wxhub.test".into(),
            ..kind("email", "On-call mail")
        }, &web.sink, "").await;
        // Acme owns the rig's component; Globex has a channel too and must hear nothing of it.
        channel(&r, &tenant(r.tenant), ChannelRequest { url: web.url("acme"), ..kind("webhook", "Acme hook") }, &web.sink, "acme").await;
        let globex = wxhub::admin::Admin { store: r.app.store.clone(), actor: Actor::Cli }.create_tenant("globex", "Globex").await.unwrap();
        channel(&r, &tenant(globex.id), ChannelRequest { url: web.wecom_url("globex"), ..kind("wecom_robot", "Globex robot") }, &web.sink, "").await;
        r.component_token().await;

        let now = wxhub::now_ms();
        assert_eq!(evaluate_and_send(&r, now).await, 0, "nothing fires with a fresh ticket");

        // 25 minutes without a ticket: staff's three channels and Acme's hook hear of it.
        let t1 = now + 25 * MINUTE;
        assert_eq!(evaluate_and_send(&r, t1).await, 4);
        let robot = sinks.robot("staff");
        assert_eq!(robot.len(), 1, "{robot:?}");
        assert!(robot[0].contains("FIRING · No component ticket") && robot[0].contains(COMPONENT), "{}", robot[0]);
        assert!(robot[0].contains("threshold 20"));
        assert_eq!(sinks.hooks("staff"), vec![("wxhub.alert.firing".into(), "ticket_stale".into())]);
        assert_eq!(sinks.hooks("acme"), vec![("wxhub.alert.firing".into(), "ticket_stale".into())]);
        let mails = smtp.sink.mails();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].to, vec!["oncall@wxhub.test".to_owned(), "lead@wxhub.test".to_owned()]);
        assert!(mails[0].data.contains("Subject: [wxhub] FIRING"), "{}", mails[0].data);
        assert!(sinks.robot("globex").is_empty(), "another tenant's component");

        // Still firing a minute later: nothing new (de-duplicated).
        assert_eq!(evaluate_and_send(&r, t1 + MINUTE).await, 0);
        assert_eq!(sinks.robot("staff").len(), 1);
        // Past the quiet period (240 minutes by default): announced again, on every channel.
        assert_eq!(evaluate_and_send(&r, t1 + 241 * MINUTE).await, 4);
        let robot = sinks.robot("staff");
        assert!(robot[1].contains("STILL FIRING"), "{}", robot[1]);
        assert_eq!(sinks.hooks("acme")[1].0, "wxhub.alert.reminder");

        // A ticket arrives (evaluating at the real now, the ticket is minutes old): resolved.
        assert_eq!(evaluate_and_send(&r, wxhub::now_ms()).await, 4);
        assert!(sinks.robot("staff")[2].contains("RESOLVED"));
        assert_eq!(sinks.hooks("staff")[2].0, "wxhub.alert.resolved");
        assert_eq!(smtp.sink.mails().len(), 3);
        assert!(r.app.store.alert_states(PLATFORM_AUDIENCE).await.unwrap().is_empty());
        assert!(sinks.robot("globex").is_empty());

        // Every notification is in the audit log, Acme's under Acme.
        let audit = audit_kinds(&r).await;
        assert_eq!(audit.iter().filter(|(k, o)| k == "alert.notified" && o == "ok").count(), 12, "{audit:?}");
        let acme = r.app.store.tenant_audit(r.tenant, 500).await.unwrap();
        assert_eq!(acme.iter().filter(|e| e.kind == "alert.notified").count(), 3);
        let globex_audit = r.app.store.tenant_audit(globex.id, 500).await.unwrap();
        assert!(globex_audit.iter().all(|e| e.kind != "alert.notified"));
        r.stop().await;
    };

    every_rule_fires_and_resolves_under_each_audiences_own_thresholds => async |db: &TestDb| {
        let r = alert_rig(db, 3600).await;
        let sinks = Sinks::start().await;
        let web = &sinks.http;
        channel(&r, &staff(), ChannelRequest { url: web.url("staff"), ..kind("webhook", "Pager") }, &web.sink, "staff").await;
        channel(&r, &tenant(r.tenant), ChannelRequest { url: web.url("acme"), ..kind("webhook", "Acme hook") }, &web.sink, "acme").await;
        r.authorize(OA, &[1]).await;
        r.component_token().await;
        // The authorization's own work (the push for the same code, the profile and menu jobs)
        // finishes before the test changes the account behind its back.
        assert!(wait_for(Duration::from_secs(10), || async {
            let a = r.app.store.authorizer(r.tenant, OA).await.unwrap();
            a.is_some_and(|a| a.info_fetched_at.is_some() && a.menu_fetched_at.is_some())
        }).await);
        assert!(wait_for(Duration::from_secs(10), || async {
            r.sim.pushes().iter().any(|p| p.info_type == "authorized" && p.outcome == "delivered")
        }).await);
        let firing = |audience: i64| {
            let store = r.app.store.clone();
            async move {
                let mut rules: Vec<String> = store.alert_states(audience).await.unwrap().into_iter().map(|s| s.rule).collect();
                rules.sort();
                rules
            }
        };
        let now = wxhub::now_ms();
        evaluate_and_send(&r, now).await;
        assert!(firing(0).await.is_empty());

        // An account needing re-authorization, a failing component token, an endpoint disabled
        // for failing with a dead letter, and a bad hour of refreshes.
        raw_strings(db, &format!("UPDATE authorizers SET status = 'needs_reauth' WHERE appid = '{OA}'")).await;
        assert_eq!(r.authorizer_status(OA).await, Some(AuthorizerStatus::NeedsReauth));
        raw_strings(db, "UPDATE credentials SET failure_count = 5, last_error = '61004 access clientip is not registered' WHERE kind = 'component_access_token'").await;
        let who = wxhub::ops::TenantActor { actor: Actor::Cli, tenant: r.tenant, ip: None };
        let (endpoint, _) = wxhub::ops::webhooks::create(&r.app.store, &who, &wxhub::ops::webhooks::EndpointRequest { url: web.url("broken"), ..Default::default() }, true, now).await.unwrap();
        raw_strings(db, &format!("UPDATE webhook_endpoints SET disabled_at = {now}, disabled_reason = 'failing for 24 hours' WHERE public_id = '{}'", endpoint.public_id)).await;
        raw_strings(db, &format!(
            "INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, payload_sealed, status, attempts, run_at, give_up_at, created_at, updated_at) \
             SELECT tenant_id, id, 'msg_dead', 'wechat.event.subscribe', 'x', 'dead', 9, {now}, {now}, {now}, {now} FROM webhook_endpoints WHERE public_id = '{}'", endpoint.public_id)).await;
        let hour = wxhub::rollups::hour_of(now);
        r.app.store.add_hourly_counts(&[
            (wxhub::store::HourlyKey { metric: "refreshes", tenant_row: r.tenant.0, hour_start: hour, detail: String::new() }, 60),
            (wxhub::store::HourlyKey { metric: "refresh_failures", tenant_row: r.tenant.0, hour_start: hour, detail: "-1".into() }, 40),
        ]).await.unwrap();

        evaluate_and_send(&r, now).await;
        let all = ["component_token_failing", "dead_letters", "needs_reauth", "refresh_failure_rate", "webhook_endpoint_disabled"];
        assert_eq!(firing(0).await, all);
        assert_eq!(firing(r.tenant.0).await, all);
        let acme: Vec<String> = sinks.hooks("acme").into_iter().map(|(t, rule)| format!("{t} {rule}")).collect();
        assert_eq!(acme.len(), 5, "{acme:?}");
        assert!(acme.iter().all(|a| a.starts_with("wxhub.alert.firing")));

        // Acme raises its own thresholds past what is happening: Acme hears each resolved, the
        // staff (defaults) hear nothing new.
        for (rule, threshold) in [("needs_reauth", "2"), ("component_token_failing", "10"), ("refresh_failure_rate", "50"), ("webhook_endpoint_disabled", "2"), ("dead_letters", "5")] {
            alerting::set_rule(&r.app.store, &tenant(r.tenant), &RuleRequest { rule: rule.into(), enabled: true, threshold: threshold.into(), renotify_minutes: "0".into() }, now).await.unwrap();
        }
        let staff_before = sinks.hooks("staff").len();
        evaluate_and_send(&r, now + MINUTE).await;
        assert!(firing(r.tenant.0).await.is_empty());
        let acme = sinks.hooks("acme");
        assert_eq!(acme.iter().filter(|(t, _)| t == "wxhub.alert.resolved").count(), 5, "{acme:?}");
        assert_eq!(sinks.hooks("staff").len(), staff_before);

        // The conditions clear: staff hear each resolved.
        raw_strings(db, &format!("UPDATE authorizers SET status = 'authorized' WHERE appid = '{OA}'")).await;
        raw_strings(db, "UPDATE credentials SET failure_count = 0 WHERE kind = 'component_access_token'").await;
        raw_strings(db, "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL").await;
        raw_strings(db, "UPDATE webhook_deliveries SET status = 'delivered'").await;
        // A turned-off rule is dropped quietly rather than announced resolved.
        alerting::set_rule(&r.app.store, &staff(), &RuleRequest { rule: "refresh_failure_rate".into(), enabled: false, threshold: "10".into(), renotify_minutes: "240".into() }, now).await.unwrap();
        evaluate_and_send(&r, now + 2 * MINUTE).await;
        assert!(firing(0).await.is_empty());
        let resolved: Vec<String> = sinks.hooks("staff").into_iter().filter(|(t, _)| t == "wxhub.alert.resolved").map(|(_, rule)| rule).collect();
        assert_eq!(resolved.len(), 4, "{resolved:?}");
        assert!(!resolved.contains(&"refresh_failure_rate".to_owned()));
        r.stop().await;
    };

    failed_notifications_are_retried_then_given_up_and_every_outcome_is_audited => async |db: &TestDb| {
        let r = alert_rig(db, 3600).await;
        let sinks = Sinks::start().await;
        let (web, smtp) = (&sinks.http, &sinks.smtp);
        let hook = channel(&r, &staff(), ChannelRequest { url: web.url("flaky"), ..kind("webhook", "Flaky hook") }, &web.sink, "flaky").await;
        channel(&r, &staff(), ChannelRequest { url: web.wecom_url("limited"), ..kind("wecom_robot", "Busy robot") }, &web.sink, "").await;
        channel(&r, &staff(), ChannelRequest {
            host: "127.0.0.1".into(), port: smtp.addr.port().to_string(), security: "none".into(),
            from: "alerts@wxhub.test".into(), to: "oncall@wxhub.test".into(), ..kind("email", "Mail")
        }, &web.sink, "").await;
        // The hook fails twice, the mail server once; the robot is over its rate limit for good.
        web.sink.script("flaky", [SinkAnswer::Status(500), SinkAnswer::Status(503)]);
        smtp.sink.refuse_next(1);
        web.sink.script("wecom:limited", (0..10).map(|_| SinkAnswer::Json(serde_json::json!({ "errcode": 45009, "errmsg": "api freq out of limit" }), Duration::ZERO)));
        r.component_token().await;
        let t = wxhub::now_ms() + 30 * MINUTE;
        assert_eq!(evaluate_and_send(&r, t).await, 3);

        assert_eq!(web.sink.received(Some("flaky")).len(), 3, "two failures, then delivered");
        let ids: Vec<String> = web.sink.received(Some("flaky")).iter().map(|d| d.webhook_id.clone()).collect();
        assert!(ids.iter().all(|id| id == &ids[0]), "one webhook-id on every retry: {ids:?}");
        assert_eq!(smtp.sink.mails().len(), 1);
        assert!(smtp.sink.sessions() >= 2);
        assert_eq!(web.sink.received(Some("wecom:limited")).len(), 6, "six attempts, then given up");

        let rows = r.app.store.recent_notifications(PLATFORM_AUDIENCE, 10).await.unwrap();
        let by_channel = |name: &str| rows.iter().find(|n| n.channel_name == name).unwrap().clone();
        assert_eq!((by_channel("Flaky hook").status.as_str(), by_channel("Flaky hook").attempts), ("sent", 3));
        let robot = by_channel("Busy robot");
        assert_eq!((robot.status.as_str(), robot.attempts), ("failed", 6));
        assert!(robot.last_error.as_deref().unwrap().contains("45009"), "{robot:?}");
        let channels = r.app.store.notification_channels(PLATFORM_AUDIENCE).await.unwrap();
        let busy = channels.iter().find(|c| c.name == "Busy robot").unwrap();
        assert!(busy.last_error.as_deref().unwrap().contains("45009"));
        assert!(channels.iter().find(|c| c.id == hook).unwrap().last_sent_at.is_some());
        let audit = audit_kinds(&r).await;
        assert_eq!(audit.iter().filter(|(k, o)| k == "alert.notified" && o == "ok").count(), 2, "{audit:?}");
        assert_eq!(audit.iter().filter(|(k, o)| k == "alert.notified" && o == "failed").count(), 1, "{audit:?}");

        // The test button: one attempt now, its outcome returned and audited.
        let engine = r.engine().clone();
        assert_eq!(alerting::send_test(&engine, &staff(), hook, wxhub::now_ms()).await.unwrap(), Ok(()));
        assert_eq!(sinks.hooks("flaky").last().unwrap().0, "wxhub.alert.test");
        web.sink.script("flaky", [SinkAnswer::Status(500)]);
        let failed = alerting::send_test(&engine, &staff(), hook, wxhub::now_ms()).await.unwrap();
        assert!(failed.unwrap_err().contains("HTTP 500"));
        let audit = audit_kinds(&r).await;
        assert!(audit.contains(&("alert.test_sent".into(), "ok".into())) && audit.contains(&("alert.test_sent".into(), "failed".into())), "{audit:?}");
        r.stop().await;
    };

    a_wecom_robot_gets_twenty_notices_a_minute_and_the_rest_wait_untried => async |db: &TestDb| {
        let r = alert_rig(db, 3600).await;
        let sinks = Sinks::start().await;
        let web = &sinks.http;
        channel(&r, &staff(), ChannelRequest { url: web.wecom_url("paced"), ..kind("wecom_robot", "Paced robot") }, &web.sink, "").await;
        r.component_token().await;
        // One notice queued half an hour ahead (the worker's own loop leaves it alone), and 24
        // copies of it: 25 for one robot at once.
        let t = wxhub::now_ms() + 30 * MINUTE;
        let alerting = &r.engine().alerting;
        assert_eq!(alerting.evaluate(t).await.unwrap(), 1);
        for _ in 0..24 {
            raw_strings(db, "INSERT INTO notifications (channel_id, tenant_id, rule, subject, event, content, status, attempts, next_attempt_at, created_at) \
                SELECT channel_id, tenant_id, rule, subject, event, content, status, attempts, next_attempt_at, created_at FROM notifications \
                WHERE id = (SELECT MIN(id) FROM notifications) RETURNING CAST(id AS TEXT)").await;
        }
        let states = || async {
            let rows = r.app.store.recent_notifications(PLATFORM_AUDIENCE, 50).await.unwrap();
            let count = |status: &str, attempts: i64| rows.iter().filter(|n| n.status == status && n.attempts == attempts).count();
            (count("sent", 1), count("pending", 0), rows.len())
        };

        assert_eq!(alerting.send_due(t).await.unwrap(), 20);
        assert_eq!(web.sink.received(Some("wecom:paced")).len(), 20);
        assert_eq!(states().await, (20, 5, 25), "the five over the pace wait, their attempts unspent");
        // Still within the minute: nothing more goes, nothing is spent.
        assert_eq!(alerting.send_due(t + 2_000).await.unwrap(), 0);
        assert_eq!(web.sink.received(Some("wecom:paced")).len(), 20);
        assert_eq!(states().await, (20, 5, 25));
        // A minute after those sends the robot has room again.
        raw_strings(db, "UPDATE notifications SET finished_at = finished_at - 61000 WHERE status = 'sent' RETURNING CAST(id AS TEXT)").await;
        assert_eq!(alerting.send_due(t + 4_000).await.unwrap(), 5);
        assert_eq!(web.sink.received(Some("wecom:paced")).len(), 25);
        assert_eq!(states().await, (25, 0, 25));
        assert!(web.sink.received(Some("wecom:paced")).iter().all(|d| d.body.contains("markdown")));
        r.stop().await;
    };

    garbage_settings_are_refused_and_tenants_never_reach_each_other => async |db: &TestDb| {
        let r = alert_rig(db, 3600).await;
        let sinks = Sinks::start().await;
        let web = &sinks.http;
        let acme_hook = channel(&r, &tenant(r.tenant), ChannelRequest { url: web.url("acme"), ..kind("webhook", "Acme hook") }, &web.sink, "acme").await;
        let globex = wxhub::admin::Admin { store: r.app.store.clone(), actor: Actor::Cli }.create_tenant("globex", "Globex").await.unwrap();
        let audit_before = audit_kinds(&r).await.len();
        let rule = |rule: &str, threshold: &str, renotify: &str| RuleRequest { rule: rule.into(), enabled: true, threshold: threshold.into(), renotify_minutes: renotify.into() };
        for (who, req, field) in [
            (staff(), rule("no_such_rule", "1", "0"), "rule"),
            (staff(), rule("", "1", "0"), "rule"),
            (tenant(r.tenant), rule("database_not_ready", "60", "0"), "rule"),
            (staff(), rule("ticket_stale", "5", "0"), "threshold"),
            (staff(), rule("ticket_stale", "twenty", "0"), "threshold"),
            (staff(), rule("ticket_stale", "99999999999999999999999", "0"), "threshold"),
            (staff(), rule("refresh_failure_rate", "101", "0"), "threshold"),
            (staff(), rule("dead_letters", "-1", "0"), "threshold"),
            (staff(), rule("dead_letters", "1", "-5"), "renotify_minutes"),
            (staff(), rule("dead_letters", "1", "10081"), "renotify_minutes"),
            (staff(), rule("dead_letters", "1", "1e3"), "renotify_minutes"),
        ] {
            match alerting::set_rule(&r.app.store, &who, &req, wxhub::now_ms()).await {
                Err(OpError::Invalid { field: f, .. }) => assert_eq!(f, field, "{req:?}"),
                other => panic!("{req:?}: {other:?}"),
            }
        }
        for req in [
            kind("pagerduty", "x"),
            ChannelRequest { url: "http://10.1.2.3/hook".into(), ..kind("webhook", "internal") },
            ChannelRequest { url: web.url("x"), ..kind("webhook", "") },
            ChannelRequest { url: "javascript:alert(1)".into(), ..kind("wecom_robot", "robot") },
            ChannelRequest { host: "127.0.0.1".into(), security: "none".into(), from: "a@b.c".into(), to: "not-an-address".into(), ..kind("email", "mail") },
        ] {
            // Private addresses are refused unless allowed; everything else regardless.
            let allow = !req.url.contains("10.1.2.3");
            assert!(matches!(alerting::create_channel(&r.app.store, &staff(), &req, allow, wxhub::now_ms()).await, Err(OpError::Invalid { .. })), "{req:?}");
        }
        assert!(r.app.store.alert_rules(PLATFORM_AUDIENCE).await.unwrap().is_empty());
        assert!(r.app.store.alert_rules(r.tenant.0).await.unwrap().is_empty());
        assert!(r.app.store.notification_channels(PLATFORM_AUDIENCE).await.unwrap().is_empty());
        assert_eq!(audit_kinds(&r).await.len(), audit_before, "nothing refused is audited as done");

        // Globex cannot see, test, switch or delete Acme's channel; staff's audience is another.
        let engine = r.engine().clone();
        assert!(r.app.store.notification_channels(globex.id.0).await.unwrap().is_empty());
        for who in [tenant(globex.id), staff()] {
            assert!(matches!(alerting::send_test(&engine, &who, acme_hook, wxhub::now_ms()).await, Err(OpError::NotFound)));
            for change in [ChannelChange::Disable, ChannelChange::Delete] {
                assert!(matches!(alerting::change_channel(&r.app.store, &who, acme_hook, change, wxhub::now_ms()).await, Err(OpError::NotFound)));
            }
        }
        assert!(web.sink.received(Some("acme")).is_empty());
        assert_eq!(r.app.store.notification_channels(r.tenant.0).await.unwrap()[0].enabled, 1);
        // Acme deletes its own: gone from its list, its pending notices end.
        alerting::change_channel(&r.app.store, &tenant(r.tenant), acme_hook, ChannelChange::Delete, wxhub::now_ms()).await.unwrap();
        assert!(r.app.store.notification_channels(r.tenant.0).await.unwrap().is_empty());
        let audit = audit_kinds(&r).await;
        assert!(audit.contains(&("alert.channel_deleted".into(), "ok".into())));
        r.stop().await;
    };

    the_database_going_away_is_announced_from_memory_and_audited_when_it_answers => async |db: &TestDb| {
        let r = alert_rig(db, 1).await;
        let sinks = Sinks::start().await;
        let web = &sinks.http;
        channel(&r, &staff(), ChannelRequest { url: web.wecom_url("db"), ..kind("wecom_robot", "DBA robot") }, &web.sink, "").await;
        alerting::set_rule(&r.app.store, &staff(), &RuleRequest { rule: "database_not_ready".into(), enabled: true, threshold: "10".into(), renotify_minutes: "0".into() }, wxhub::now_ms()).await.unwrap();
        // An evaluation is when the worker reads the channels and threshold it will need.
        r.engine().alerting.evaluate(wxhub::now_ms()).await.unwrap();
        use wxhub::store::failpoints::{FailAction, FailPoint};
        r.app.store.fail_points().arm(FailPoint::Ping, FailAction::Error, None);
        assert!(wait_for(Duration::from_secs(30), || async { !sinks.robot("db").is_empty() }).await, "the outage was announced");
        let robot = sinks.robot("db");
        assert!(robot[0].contains("FIRING · Database not ready"), "{}", robot[0]);
        assert_eq!(robot.len(), 1);
        r.app.store.fail_points().disarm(FailPoint::Ping);
        assert!(wait_for(Duration::from_secs(15), || async { sinks.robot("db").len() == 2 }).await, "the recovery was announced");
        assert!(sinks.robot("db")[1].contains("RESOLVED"));
        assert!(wait_for(Duration::from_secs(10), || async {
            audit_kinds(&r).await.iter().filter(|(k, o)| k == "alert.notified" && o == "ok").count() == 2
        }).await, "both notices audited once the database answered");
        r.stop().await;
    };

    the_console_shows_each_audience_its_own_and_lets_only_admins_change_it => async |db: &TestDb| {
        let r = alert_rig(db, 3600).await;
        let sinks = Sinks::start().await;
        let web = &sinks.http;
        let admin = wxhub::admin::Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_tenant("globex", "Globex").await.unwrap();
        let hasher = wxhub::auth::PasswordHasher::new(2);
        let pw = secrecy::SecretString::from("correct horse battery");
        for (email, role, tenant) in [
            ("boss@platform.test", "platform-admin", None),
            ("eyes@platform.test", "platform-auditor", None),
            ("admin@acme.test", "tenant-admin", Some("acme")),
            ("viewer@acme.test", "tenant-viewer", Some("acme")),
            ("admin@globex.test", "tenant-admin", Some("globex")),
        ] {
            admin.create_user(&hasher, email, role, tenant, &pw).await.unwrap();
        }
        let boss = signed_in(&r, "boss@platform.test").await;
        let eyes = signed_in(&r, "eyes@platform.test").await;
        let acme = signed_in(&r, "admin@acme.test").await;
        let viewer = signed_in(&r, "viewer@acme.test").await;
        let globex = signed_in(&r, "admin@globex.test").await;

        // Acme's admin adds a robot and a webhook; the webhook's secret is shown once.
        let robot = web.wecom_url("acme-robot");
        let (s, created) = ui(&acme, &r, "create-notification-channel", &[("form[kind]", "wecom_robot"), ("form[name]", "Acme on-call"), ("form[url]", &robot)]).await;
        assert_eq!(s, 200, "{created}");
        assert!(created["secret"].is_null());
        assert!(!created["channel"]["summary"].as_str().unwrap().contains("acme-robot"), "the key is never shown: {created}");
        let acme_robot = created["channel"]["id"].as_i64().unwrap();
        let (s, hook) = ui(&acme, &r, "create-notification-channel", &[("form[kind]", "webhook"), ("form[name]", "Acme pager"), ("form[url]", &web.url("acme"))]).await;
        assert_eq!(s, 200, "{hook}");
        assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
        // Staff add the platform's own.
        let (s, _) = ui(&boss, &r, "create-notification-channel", &[("form[kind]", "wecom_robot"), ("form[name]", "Platform on-call"), ("form[url]", &web.wecom_url("staff"))]).await;
        assert_eq!(s, 200);

        // Each audience sees its own channels and rules; the database rule is the platform's.
        let (_, mine) = ui(&viewer, &r, "alerts", &[]).await;
        assert_eq!((mine["platform"].as_bool(), mine["can_edit"].as_bool()), (Some(false), Some(false)));
        let names: Vec<&str> = mine["channels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Acme on-call", "Acme pager"]);
        assert!(mine["rules"].as_array().unwrap().iter().all(|r| r["rule"] != "database_not_ready"));
        let (_, platform) = ui(&eyes, &r, "alerts", &[]).await;
        assert_eq!((platform["platform"].as_bool(), platform["can_edit"].as_bool()), (Some(true), Some(false)));
        assert_eq!(platform["channels"].as_array().unwrap().len(), 1);
        assert_eq!(platform["rules"].as_array().unwrap().len(), 7);
        let (_, theirs) = ui(&globex, &r, "alerts", &[]).await;
        assert!(theirs["channels"].as_array().unwrap().is_empty());

        // The test button reaches the robot and says so.
        let (s, tested) = ui(&acme, &r, "test-notification-channel", &[("id", &acme_robot.to_string())]).await;
        assert_eq!((s, tested["sent"].as_bool()), (200, Some(true)), "{tested}");
        assert!(sinks.robot("acme-robot")[0].contains("TEST"));
        web.sink.script("wecom:acme-robot", [SinkAnswer::Json(serde_json::json!({ "errcode": 93000, "errmsg": "invalid webhook url" }), Duration::ZERO)]);
        let (_, tested) = ui(&acme, &r, "test-notification-channel", &[("id", &acme_robot.to_string())]).await;
        assert_eq!(tested["sent"].as_bool(), Some(false));
        assert!(tested["error"].as_str().unwrap().contains("93000"), "{tested}");
        // A robot (or something posing as one) answering garbage is a failure, said plainly.
        web.sink.script("wecom:acme-robot", [SinkAnswer::Status(200)]);
        let (_, tested) = ui(&acme, &r, "test-notification-channel", &[("id", &acme_robot.to_string())]).await;
        assert_eq!(tested["error"].as_str(), Some("the robot's answer is not JSON"), "{tested}");
        web.sink.script("wecom:acme-robot", [SinkAnswer::Json(serde_json::json!({ "errmsg": "ok" }), Duration::ZERO)]);
        let (_, tested) = ui(&acme, &r, "test-notification-channel", &[("id", &acme_robot.to_string())]).await;
        assert_eq!(tested["error"].as_str(), Some("the robot's answer has no errcode"), "{tested}");
        // The channel's state says both: when it last worked, and why it failed since.
        let (_, mine) = ui(&acme, &r, "alerts", &[]).await;
        let row = mine["channels"].as_array().unwrap().iter().find(|c| c["id"] == acme_robot).unwrap().clone();
        assert!(row["last_sent_at"].is_i64(), "{row}");
        assert!(row["last_error"].as_str().unwrap().contains("errcode"), "{row}");

        // Rules: an admin changes one; readers and strangers cannot; garbage names its field.
        fn rule(threshold: &str) -> Vec<(&str, &str)> {
            vec![("rule", "dead_letters"), ("enabled", "true"), ("threshold", threshold), ("renotify_minutes", "60")]
        }
        assert_eq!(ui(&acme, &r, "set-alert-rule", &rule("5")).await.0, 200);
        let (_, mine) = ui(&viewer, &r, "alerts", &[]).await;
        let dead = mine["rules"].as_array().unwrap().iter().find(|r| r["rule"] == "dead_letters").unwrap().clone();
        assert_eq!((dead["threshold"].as_i64(), dead["customized"].as_bool()), (Some(5), Some(true)));
        let (_, platform) = ui(&eyes, &r, "alerts", &[]).await;
        let staff_dead = platform["rules"].as_array().unwrap().iter().find(|r| r["rule"] == "dead_letters").unwrap().clone();
        assert_eq!(staff_dead["threshold"].as_i64(), Some(1), "a tenant's threshold is its own");
        assert_eq!(ui(&viewer, &r, "set-alert-rule", &rule("7")).await.0, 403);
        assert_eq!(ui(&eyes, &r, "set-alert-rule", &rule("7")).await.0, 403);
        assert_eq!(ui(&reqwest::Client::new(), &r, "set-alert-rule", &rule("7")).await.0, 401);
        for (form, field) in [
            (rule("lots"), "threshold"),
            (rule("0"), "threshold"),
            (vec![("rule", "database_not_ready"), ("enabled", "true"), ("threshold", "60"), ("renotify_minutes", "0")], "rule"),
            (vec![("rule", "dead_letters"), ("enabled", "true"), ("threshold", "1"), ("renotify_minutes", "\u{0}")], "renotify_minutes"),
        ] {
            let (s, v) = ui(&acme, &r, "set-alert-rule", &form).await;
            assert_eq!((s, v["Invalid"]["field"].as_str()), (422, Some(field)), "{form:?}: {v}");
        }
        let (s, _) = ui(&acme, &r, "set-alert-rule", &[("rule", "dead_letters"), ("enabled", "maybe"), ("threshold", "1"), ("renotify_minutes", "0")]).await;
        assert!(s == 400 || s == 422, "an unreadable switch is refused ({s})");

        // Channels: only their audience's admins change them; garbage is refused.
        let id = acme_robot.to_string();
        assert_eq!(ui(&globex, &r, "change-notification-channel", &[("id", &id), ("change", "delete")]).await.0, 404);
        assert_eq!(ui(&boss, &r, "change-notification-channel", &[("id", &id), ("change", "disable")]).await.0, 404);
        assert_eq!(ui(&globex, &r, "test-notification-channel", &[("id", &id)]).await.0, 404);
        assert_eq!(ui(&viewer, &r, "change-notification-channel", &[("id", &id), ("change", "disable")]).await.0, 403);
        assert_eq!(ui(&viewer, &r, "create-notification-channel", &[("form[kind]", "webhook"), ("form[name]", "x"), ("form[url]", &web.url("x"))]).await.0, 403);
        let (s, v) = ui(&acme, &r, "change-notification-channel", &[("id", &id), ("change", "explode")]).await;
        assert_eq!((s, v["Invalid"]["field"].as_str()), (422, Some("change")));
        assert!(ui(&acme, &r, "change-notification-channel", &[("id", "one"), ("change", "delete")]).await.0 >= 400);
        let (s, v) = ui(&acme, &r, "create-notification-channel", &[("form[kind]", "email"), ("form[name]", "Mail"), ("form[host]", "smtp.example.com"), ("form[security]", "ssl")]).await;
        assert_eq!((s, v["Invalid"]["field"].as_str()), (422, Some("security")), "{v}");
        assert_eq!(ui(&acme, &r, "change-notification-channel", &[("id", &id), ("change", "disable")]).await.0, 200);
        let (_, mine) = ui(&acme, &r, "alerts", &[]).await;
        assert_eq!(mine["channels"][0]["enabled"].as_bool(), Some(false));
        let audit = r.app.store.tenant_audit(r.tenant, 100).await.unwrap();
        for kind in ["alert.channel_created", "alert.rule_changed", "alert.test_sent", "alert.channel_disabled"] {
            assert!(audit.iter().any(|e| e.kind == kind), "{kind} audited");
        }
        r.stop().await;
    };

    a_condition_nobody_heard_of_is_announced_when_a_channel_appears_and_ends_quietly_otherwise => async |db: &TestDb| {
        let r = alert_rig(db, 3600).await;
        let sinks = Sinks::start().await;
        let web = &sinks.http;
        r.component_token().await;
        // No channel yet: the condition is kept (the overview lists it), nobody is told.
        let t1 = wxhub::now_ms() + 25 * MINUTE;
        assert_eq!(evaluate_and_send(&r, t1).await, 0);
        let states = r.app.store.alert_states(PLATFORM_AUDIENCE).await.unwrap();
        assert_eq!(states.iter().map(|s| s.rule.as_str()).collect::<Vec<_>>(), ["ticket_stale"]);
        // Staff add a robot: the next evaluation announces it as new, once.
        channel(&r, &staff(), ChannelRequest { url: web.wecom_url("late"), ..kind("wecom_robot", "Late robot") }, &web.sink, "").await;
        assert_eq!(evaluate_and_send(&r, t1 + MINUTE).await, 1);
        assert_eq!(evaluate_and_send(&r, t1 + 2 * MINUTE).await, 0);
        let robot = sinks.robot("late");
        assert_eq!(robot.len(), 1);
        assert!(robot[0].contains("### <font color=\"warning\">FIRING"), "{}", robot[0]);
        // It ends: the robot that heard the start hears the end.
        assert_eq!(evaluate_and_send(&r, wxhub::now_ms()).await, 1);
        assert!(sinks.robot("late")[1].contains("RESOLVED"));

        // A second condition starts while the robot is off and ends before it is back on:
        // nobody heard the start, so nobody hears the end.
        let robot_id = r.app.store.notification_channels(PLATFORM_AUDIENCE).await.unwrap()[0].id;
        alerting::change_channel(&r.app.store, &staff(), robot_id, ChannelChange::Disable, wxhub::now_ms()).await.unwrap();
        assert_eq!(evaluate_and_send(&r, wxhub::now_ms() + 25 * MINUTE).await, 0);
        alerting::change_channel(&r.app.store, &staff(), robot_id, ChannelChange::Enable, wxhub::now_ms()).await.unwrap();
        assert_eq!(evaluate_and_send(&r, wxhub::now_ms()).await, 0);
        assert!(r.app.store.alert_states(PLATFORM_AUDIENCE).await.unwrap().is_empty());
        assert_eq!(sinks.robot("late").len(), 2);
        r.stop().await;
    };
}
