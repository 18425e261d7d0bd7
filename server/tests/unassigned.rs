//! Accounts no tenant's link names (issue 15): on the platform's shared component they are kept,
//! with their tokens refreshed, unassigned; staff see them and assign each to a tenant (audited),
//! and the tenant has it from then on. Auditors, tenants and garbage change nothing.

mod common;

use std::time::Duration;

use common::rig::{shared_rig, signed_in, ui, Rig, COMPONENT, MP, OA};
use common::{wait_for, TestDb};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuthorizerStatus};
use wxhub::simulator::{Lifetimes, PushDrops};
use wxhub::store::AuthorizationFilter;

const PASSWORD: &str = "correct horse battery";

fn lifetimes() -> Lifetimes {
    Lifetimes {
        component_token: 120,
        authorizer_token: 6,
        token_overlap: 1,
        refresh_token_grace: 1,
        ..Lifetimes::default()
    }
}

async fn unassigned(r: &Rig) -> Vec<String> {
    let filter = AuthorizationFilter {
        unassigned: true,
        ..Default::default()
    };
    let (rows, _) = r
        .app
        .store
        .platform_authorizations(&filter, 0, 50)
        .await
        .unwrap();
    rows.into_iter().map(|row| row.authorizer.appid).collect()
}

async fn open_unassigned_alerts(r: &Rig) -> usize {
    r.app
        .store
        .open_alerts()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == "unassigned_authorization")
        .count()
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
        ("root@platform.test", "platform-admin", None),
        ("eyes@platform.test", "platform-auditor", None),
        ("op@acme.test", "tenant-admin", Some("acme")),
    ] {
        admin
            .create_user(&hasher, email, role, tenant, &pw)
            .await
            .unwrap();
    }
    (
        signed_in(r, "root@platform.test").await,
        signed_in(r, "eyes@platform.test").await,
        signed_in(r, "op@acme.test").await,
    )
}

fn assign_form<'a>(appid: &'a str, tenant: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("form[component_appid]", COMPONENT),
        ("form[appid]", appid),
        ("form[tenant]", tenant),
    ]
}

on_both_databases! {
    an_unattributed_authorization_is_kept_unassigned_until_staff_assign_it => async |db: &TestDb| {
        let r = shared_rig(db, lifetimes(), |_| {}).await;
        let (root, eyes, acme_op) = people(&r).await;
        r.component_token().await;
        // The owner authorizes in WeChat's own pages: no pre_auth_code of any tenant's link.
        r.sim.authorize(COMPONENT, OA, &[1, 15]).unwrap();
        assert!(wait_for(Duration::from_secs(20), || async {
            r.app.store.authorizer_of_component(r.component, OA).await.unwrap()
                .is_some_and(|a| a.status == AuthorizerStatus::Authorized && a.tenant_id.is_none())
        }).await, "the account is kept, with no tenant");
        // Refreshed like any other: its token is served by the engine and matches WeChat's.
        let (ours, theirs) = r.refresh_tokens(OA).await;
        assert!(ours.is_some() && ours == theirs, "its refresh token is kept");
        assert!(wait_for(Duration::from_secs(20), || async { r.cached_authorizer_token(OA).await.is_some() }).await);
        let first = r.cached_authorizer_token(OA).await.unwrap();
        assert!(wait_for(Duration::from_secs(20), || async {
            r.cached_authorizer_token(OA).await.is_some_and(|t| t != first && r.token_is_valid_at_wechat(&t))
        }).await, "and refreshed when it comes due (6 s lifetime)");
        // No tenant sees it; staff do, and are alerted once.
        assert!(r.app.store.authorizer(r.tenant, OA).await.unwrap().is_none());
        assert!(r.app.store.list_authorizers(r.tenant).await.unwrap().is_empty());
        assert_eq!(unassigned(&r).await, vec![OA.to_owned()]);
        assert_eq!(r.app.store.count_unassigned_authorizers().await.unwrap(), 1);
        assert_eq!(open_unassigned_alerts(&r).await, 1);
        let (s, page) = ui(&root, &r, "authorizations", &[("query[tenant]", "_unassigned")]).await;
        assert_eq!(s, 200, "{page}");
        assert_eq!(page["unassigned"], 1);
        assert_eq!(page["can_assign"], true);
        assert_eq!(page["rows"][0]["appid"], OA);
        assert_eq!(page["rows"][0]["tenant_slug"], "");
        let (s, page) = ui(&eyes, &r, "authorizations", &[("query[tenant]", "")]).await;
        assert_eq!((s, page["can_assign"].clone()), (200, Value::Bool(false)), "auditors look only");
        let (s, tl) = ui(&root, &r, "timeline", &[("component", COMPONENT), ("appid", OA)]).await;
        assert_eq!((s, tl["tenant_slug"].clone()), (200, Value::String(String::new())), "{tl}");

        // Neither an auditor nor a tenant may assign it; garbage is refused; nothing moves.
        let (s, _) = ui(&eyes, &r, "assign-account", &assign_form(OA, "acme")).await;
        assert_eq!(s, 403);
        let (s, _) = ui(&acme_op, &r, "assign-account", &assign_form(OA, "acme")).await;
        assert_eq!(s, 403);
        for (form, field) in [
            (assign_form(OA, "nobody"), "tenant"),
            (assign_form(OA, ""), "tenant"),
            (assign_form("not-an-appid", "acme"), "appid"),
            (assign_form("wx' OR 1=1 --", "acme"), "appid"),
            (vec![("form[component_appid]", "wx0000000000000000"), ("form[appid]", OA), ("form[tenant]", "acme")], "component_appid"),
        ] {
            let (s, v) = ui(&root, &r, "assign-account", &form).await;
            assert_eq!(s, 422, "{form:?}: {v}");
            assert!(v.to_string().contains(field), "{form:?} names {field}: {v}");
        }
        let (s, _) = ui(&root, &r, "assign-account", &assign_form("wx00000000000000ff", "acme")).await;
        assert_eq!(s, 404, "an account nobody holds");
        let (s, _) = ui(&root, &r, "assign-account", &[("form", "{{{")]).await;
        assert!((400..500).contains(&s), "a mangled form: {s}");
        assert_eq!(unassigned(&r).await, vec![OA.to_owned()]);

        // Staff assign it to acme: acme has it, with its tokens, history and the audit trail.
        let (s, v) = ui(&root, &r, "assign-account", &assign_form(OA, "acme")).await;
        assert_eq!(s, 200, "{v}");
        let account = r.app.store.authorizer(r.tenant, OA).await.unwrap().expect("acme holds it now");
        assert_eq!(account.func_ids, vec![1, 15]);
        assert!(unassigned(&r).await.is_empty());
        assert_eq!(open_unassigned_alerts(&r).await, 0, "the alert is resolved");
        let history = r.app.store.authorizer_history(r.tenant, account.id).await.unwrap();
        let changes: Vec<&str> = history.iter().map(|h| h.change.as_str()).collect();
        assert_eq!(changes, vec!["authorized", "assigned"], "acme sees how it came");
        let events = r.app.store.platform_audit(1_000).await.unwrap();
        let assigned = events.iter().find(|e| e.kind == "authorizer.assigned").expect("audited");
        assert_eq!(assigned.tenant_id, Some(r.tenant));
        assert_eq!(assigned.actor_label, "root@platform.test");
        // acme's systems get its token through the API at once.
        let (_, key) = Admin { store: r.app.store.clone(), actor: Actor::Cli }
            .create_api_key("acme", "backend").await.unwrap();
        let http = reqwest::Client::new();
        let res = http.get(r.app.url(&format!("/api/v1/authorizers/{OA}/access-token")))
            .header("authorization", format!("Bearer {}", key.key.expose_secret()))
            .send().await.unwrap();
        assert_eq!(res.status(), 200);
        let token: Value = res.json().await.unwrap();
        assert!(token["access_token"].as_str().is_some_and(|t| r.token_is_valid_at_wechat(t)), "{token}");
        // A second assignment, to anyone, is refused: it belongs to acme.
        let (s, v) = ui(&root, &r, "assign-account", &assign_form(OA, "globex")).await;
        assert_eq!(s, 422, "{v}");
        assert!(r.app.store.authorizer(r.tenant, OA).await.unwrap().is_some());
        r.stop().await;
    };

    an_unassigned_account_authorized_through_a_tenants_link_goes_to_that_tenant => async |db: &TestDb| {
        let r = shared_rig(db, lifetimes(), |_| {}).await;
        r.component_token().await;
        r.sim.authorize(COMPONENT, OA, &[1]).unwrap();
        assert!(wait_for(Duration::from_secs(20), || async { unassigned(&r).await == vec![OA.to_owned()] }).await);
        // The owner later scans acme's link: the account is acme's from then on.
        let location = r.authorize(OA, &[1, 15]).await;
        assert_eq!(r.app.client.get(&location).send().await.unwrap().status(), 200);
        assert!(wait_for(Duration::from_secs(20), || async {
            r.app.store.authorizer(r.tenant, OA).await.unwrap().is_some_and(|a| a.func_ids == vec![1, 15])
        }).await, "acme holds it with the new permission sets");
        assert!(unassigned(&r).await.is_empty());
        assert!(wait_for(Duration::from_secs(20), || async {
            let (ours, theirs) = r.refresh_tokens(OA).await;
            ours.is_some() && ours == theirs
        }).await, "with the newest refresh token");
        r.stop().await;
    };

    a_fast_registered_mini_program_is_kept_from_its_push => async |db: &TestDb| {
        let r = shared_rig(db, lifetimes(), |_| {}).await;
        r.component_token().await;
        let fasteregister = |status: &str, appid: &str, code: &str, at: i64| format!(
            "<xml><AppId><![CDATA[{COMPONENT}]]></AppId><CreateTime>{at}</CreateTime><InfoType><![CDATA[notify_third_fasteregister]]></InfoType>\
             <appid><![CDATA[{appid}]]></appid><status>{status}</status><auth_code><![CDATA[{code}]]></auth_code><msg><![CDATA[OK]]></msg>\
             <info><name><![CDATA[Fast Ltd]]></name><code><![CDATA[91440300]]></code><code_type>1</code_type></info></xml>"
        );
        // WeChat makes the mini program and its authorization code; its `authorized` push is lost,
        // and the fast-registration push carries the code instead.
        r.sim.drop_pushes(PushDrops { next: 1, percent: 0 });
        let (code, _) = r.sim.authorize(COMPONENT, MP, &[17, 18]).unwrap();
        let now = wxhub::now_ms() / 1000;
        // A failed registration, a garbage appid and an empty code are answered and change nothing.
        for xml in [
            fasteregister("-1", MP, &code, now),
            fasteregister("0", "not-an-appid", &code, now + 1),
            fasteregister("0", MP, "", now + 2),
        ] {
            assert_eq!(r.push(&xml).await, (200, "success".into()));
        }
        // An exchange is queued in the push's own transaction, before the answer: none was.
        assert_eq!(common::raw_count(db, "jobs WHERE kind = 'exchange_code'").await, 0, "no code was queued for exchange");
        assert!(r.app.store.authorizer_of_component(r.component, MP).await.unwrap().is_none());
        assert_eq!(r.push(&fasteregister("0", MP, &code, now + 3)).await, (200, "success".into()));
        assert!(wait_for(Duration::from_secs(20), || async {
            r.app.store.authorizer_of_component(r.component, MP).await.unwrap()
                .is_some_and(|a| a.status == AuthorizerStatus::Authorized && a.tenant_id.is_none() && a.func_ids == vec![17, 18])
        }).await, "kept unassigned with its permission sets");
        let (ours, theirs) = r.refresh_tokens(MP).await;
        assert!(ours.is_some() && ours == theirs, "with its refresh token");
        assert_eq!(unassigned(&r).await, vec![MP.to_owned()]);
        // WeChat's retry of the same push exchanges nothing twice.
        assert_eq!(r.push(&fasteregister("0", MP, &code, now + 3)).await, (200, "success".into()));
        assert_eq!(common::raw_count(db, "jobs WHERE kind = 'exchange_code'").await, 1, "the retry queued nothing");
        assert_eq!(r.calls("api_query_auth").len(), 1);
        r.stop().await;
    };
}
