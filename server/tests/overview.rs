//! The operations overview (issue 17) on both databases: what happens is counted into the hourly
//! rows (authorizations, revocations, API calls, refreshes), the platform's overview and each
//! tenant's dashboard chart it, a tenant never sees another's counts, and garbage is refused.

mod common;

use std::time::Duration;

use common::rig::{rig, signed_in, ui, Rig, COMPONENT, OA};
use common::{wait_for, TestDb};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuthorizerStatus};
use wxhub::rollups::{hour_of, Counted};
use wxhub::simulator::Lifetimes;
use wxhub::store::{CountsOf, HourlyKey, HOUR_MS, PLATFORM_ROW};

const PASSWORD: &str = "correct horse battery";

/// A chart's total, by kind, from a dashboard or overview answer.
fn chart_total(v: &Value, kind: &str) -> i64 {
    let chart = v["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} chart in {v}"));
    chart["series"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().iter())
        .map(|n| n.as_i64().unwrap())
        .sum()
}

async fn people(r: &Rig) -> (reqwest::Client, reqwest::Client, reqwest::Client) {
    let admin = Admin {
        store: r.app.store.clone(),
        actor: Actor::Cli,
    };
    let hasher = wxhub::auth::PasswordHasher::new(2);
    let pw = SecretString::from(PASSWORD);
    admin.create_tenant("globex", "Globex").await.unwrap();
    for (email, role, tenant) in [
        ("eyes@platform.test", "platform-auditor", None),
        ("op@acme.test", "tenant-viewer", Some("acme")),
        ("op@globex.test", "tenant-viewer", Some("globex")),
    ] {
        admin
            .create_user(&hasher, email, role, tenant, &pw)
            .await
            .unwrap();
    }
    (
        signed_in(r, "eyes@platform.test").await,
        signed_in(r, "op@acme.test").await,
        signed_in(r, "op@globex.test").await,
    )
}

on_both_databases! {
    what_happens_is_charted_for_the_platform_and_its_tenant_only => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let (eyes, acme, globex) = people(&r).await;
        let location = r.authorize(OA, &[1, 2]).await;
        assert_eq!(r.app.client.get(&location).send().await.unwrap().status(), 200);
        assert!(wait_for(Duration::from_secs(10), || async { r.authorizer_status(OA).await == Some(AuthorizerStatus::Authorized) }).await);
        // Two API calls of Acme's.
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let (_, key) = admin.create_api_key("acme", "orders").await.unwrap();
        for _ in 0..2 {
            let res = reqwest::Client::new().get(r.app.url("/api/v1/authorizers")).bearer_auth(key.key.expose_secret()).send().await.unwrap();
            assert_eq!(res.status(), 200);
        }
        // A stranger's call is not Acme's use.
        let res = reqwest::Client::new().get(r.app.url("/api/v1/authorizers")).bearer_auth("wxh_nonsense").send().await.unwrap();
        assert_eq!(res.status(), 401);
        r.engine().rollups.flush().await.unwrap();

        let overview = ui(&eyes, &r, "platform-overview", &[]).await;
        assert_eq!(overview.0, 200, "{}", overview.1);
        let o = overview.1;
        assert_eq!(chart_total(&o, "Authorizations"), 1);
        assert_eq!(chart_total(&o, "ApiCalls"), 2);
        assert_eq!(chart_total(&o, "Revocations"), 0);
        assert_eq!(o["range"], "Day");
        assert_eq!(o["charts"][0]["starts"].as_array().unwrap().len(), 24, "a bar per hour");
        let authorized = o["accounts_by_status"].as_array().unwrap().iter().find(|p| p[0] == "Authorized").unwrap()[1].clone();
        assert_eq!(authorized, 1);
        assert!(o["components"].as_array().unwrap().iter().any(|c| c["appid"] == COMPONENT));
        let month = ui(&eyes, &r, "platform-overview", &[("range", "30d")]).await.1;
        assert_eq!((month["range"].as_str(), month["charts"][0]["starts"].as_array().unwrap().len()), (Some("Month"), 30));
        assert_eq!(chart_total(&month, "ApiCalls"), 2, "the same counts, by day");

        // Acme charts its own; Globex has nothing of Acme's.
        let mine = ui(&acme, &r, "dashboard", &[]).await.1;
        assert_eq!((chart_total(&mine, "Authorizations"), chart_total(&mine, "ApiCalls")), (1, 2));
        let theirs = ui(&globex, &r, "dashboard", &[]).await.1;
        assert_eq!((chart_total(&theirs, "Authorizations"), chart_total(&theirs, "ApiCalls")), (0, 0));

        // The revocation is counted too, once (WeChat's retry of the push changes nothing).
        r.sim.revoke(COMPONENT, OA);
        assert!(wait_for(Duration::from_secs(10), || async { r.authorizer_status(OA).await == Some(AuthorizerStatus::Revoked) }).await);
        r.engine().rollups.flush().await.unwrap();
        assert_eq!(chart_total(&ui(&eyes, &r, "platform-overview", &[]).await.1, "Revocations"), 1);
        assert_eq!(chart_total(&ui(&acme, &r, "dashboard", &[]).await.1, "Revocations"), 1);
        assert_eq!(chart_total(&ui(&globex, &r, "dashboard", &[]).await.1, "Revocations"), 0);

        // Only staff read the overview; garbage ranges are refused by name.
        assert_eq!(ui(&acme, &r, "platform-overview", &[]).await.0, 403);
        assert_eq!(ui(&reqwest::Client::new(), &r, "platform-overview", &[]).await.0, 401);
        for garbage in ["7d", "\u{0}", "24h; DROP TABLE", &"x".repeat(10_000)] {
            let (s, v) = ui(&eyes, &r, "platform-overview", &[("range", garbage)]).await;
            assert_eq!((s, v["Invalid"]["field"].as_str()), (422, Some("range")), "{garbage:?}: {v}");
        }
        r.stop().await;
    };

    a_stale_ticket_is_one_open_alert_on_the_overview_not_two => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let (eyes, _, _) = people(&r).await;
        let stale = |o: &Value| -> Vec<String> {
            o["open_alerts"].as_array().unwrap().iter()
                .filter(|a| a["kind"] == "ticket_stale")
                .map(|a| a["message"].as_str().unwrap().to_owned()).collect()
        };
        // The engine raises it as it asks WeChat to push again ...
        let now = wxhub::now_ms();
        r.app.store.raise_alert(Some(r.tenant), Some(r.component), None, "ticket_stale", "no component_verify_ticket for 31 minutes; asked WeChat to restart pushing", now).await.unwrap();
        let o = ui(&eyes, &r, "platform-overview", &[]).await.1;
        assert_eq!(stale(&o).len(), 1, "{o}");
        // ... and the rule finds the same component's ticket old: listed once, as the rule's.
        assert!(r.engine().alerting.evaluate(now + 31 * 60_000).await.unwrap() <= 1);
        let o = ui(&eyes, &r, "platform-overview", &[]).await.1;
        let messages = stale(&o);
        assert_eq!(messages.len(), 1, "{o}");
        assert!(messages[0].contains("threshold") && messages[0].contains(COMPONENT), "{messages:?}");
        assert_eq!(o["open_alert_count"], o["open_alerts"].as_array().unwrap().len(), "{o}");
        r.stop().await;
    };

    hourly_counts_add_up_across_flushes_and_instances => async |db: &TestDb| {
        let store = common::store(db).await;
        let now = 1_800_000_000_000;
        let key = |tenant_row: i64, hour_start: i64, detail: &str| HourlyKey { metric: Counted::RefreshFailure.metric(), tenant_row, hour_start, detail: detail.into() };
        // Two instances flush the same hour; each flush adds.
        store.add_hourly_counts(&[(key(PLATFORM_ROW, hour_of(now), "40001"), 2), (key(7, hour_of(now), "40001"), 2)]).await.unwrap();
        store.add_hourly_counts(&[(key(7, hour_of(now), "40001"), 3), (key(PLATFORM_ROW, hour_of(now), "40001"), 3), (key(PLATFORM_ROW, hour_of(now), "-1"), 1)]).await.unwrap();
        store.add_hourly_counts(&[(key(PLATFORM_ROW, hour_of(now) - 48 * HOUR_MS, "-1"), 9)]).await.unwrap();
        let day = |of| { let store = &store; async move { store.hourly_counts(of, "refresh_failures", hour_of(now) - 23 * HOUR_MS, hour_of(now) + HOUR_MS).await.unwrap() } };
        let platform: Vec<(String, i64)> = day(CountsOf::Platform).await.into_iter().map(|c| (c.detail, c.count)).collect();
        assert_eq!(platform, vec![("-1".to_owned(), 1), ("40001".to_owned(), 5)]);
        let tenant: Vec<i64> = day(CountsOf::Tenant(wxhub::domain::TenantId(7))).await.into_iter().map(|c| c.count).collect();
        assert_eq!(tenant, vec![5]);
        assert!(day(CountsOf::Tenant(wxhub::domain::TenantId(8))).await.is_empty());
        // Retention drops whole old hours only.
        assert_eq!(store.prune_hourly_counts(hour_of(now) - 24 * HOUR_MS).await.unwrap(), 1);
        assert_eq!(day(CountsOf::Platform).await.len(), 2);
    };

    counts_survive_a_database_outage_and_go_with_the_next_flush => async |db: &TestDb| {
        let store = common::store(db).await;
        let rollups = wxhub::rollups::Rollups::new(store.clone());
        let now = wxhub::now_ms();
        for _ in 0..3 {
            rollups.count(Counted::Message, Some(wxhub::domain::TenantId(4)), "", now);
        }
        // The table goes away (as the database would), and comes back.
        common::raw_strings(db, "ALTER TABLE hourly_counts RENAME TO hourly_counts_away").await;
        assert!(rollups.flush().await.is_err(), "the write failed");
        common::raw_strings(db, "ALTER TABLE hourly_counts_away RENAME TO hourly_counts").await;
        rollups.count(Counted::Message, Some(wxhub::domain::TenantId(4)), "", now);
        assert_eq!(rollups.flush().await.unwrap(), 2, "a tenant row and the platform's");
        let rows = store.hourly_counts(CountsOf::Tenant(wxhub::domain::TenantId(4)), "messages", hour_of(now), hour_of(now) + HOUR_MS).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.count).sum::<i64>(), 4, "nothing counted twice, nothing lost");
    };
}
