//! Mini-program code management (issue 15, third part) through the tenant API, against the
//! simulator: the whole pipeline with a rejection, the audit events from the message URL on the
//! timeline (once, even when WeChat retries), the alert a rejection raises, scope checks, a batch
//! with partial failures under the audit quota, and garbage for every input.

mod common;

use std::time::Duration;

use app::permissions::AccountKind;
use common::rig::{rig, shared_rig, signed_in, ui, Rig, COMPONENT, MP, OA};
use common::{wait_for, TestDb};
use secrecy::ExposeSecret;
use secrecy::SecretString;
use serde_json::{json, Value};
use wxhub::admin::Admin;
use wxhub::domain::Actor;
use wxhub::simulator::code::{AuditOutcome, AuditRules};
use wxhub::simulator::{AccountSeed, Lifetimes};

async fn call(
    r: &Rig,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, r.app.url(path))
        .bearer_auth(key);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(r: &Rig, key: &str, path: &str) -> (u16, Value) {
    call(r, key, reqwest::Method::GET, path, None).await
}

async fn post(r: &Rig, key: &str, path: &str, body: Value) -> (u16, Value) {
    call(r, key, reqwest::Method::POST, path, Some(&body.to_string())).await
}

async fn decide(r: &Rig, appid: &str, outcome: &str, reason: Option<&str>) -> Value {
    let res = reqwest::Client::new()
        .post(format!("{}/sim/control/audits", r.sim.base_url()))
        .json(&json!({ "authorizer_appid": appid, "outcome": outcome, "reason": reason }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.json().await.unwrap()
}

async fn kinds(r: &Rig, key: &str, appid: &str) -> Vec<String> {
    let (status, t) = get(r, key, &format!("/api/v1/authorizers/{appid}/code")).await;
    assert_eq!(status, 200, "{t}");
    t["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn mini_program(appid: &str) -> AccountSeed {
    AccountSeed {
        appid: appid.into(),
        kind: AccountKind::MiniProgram,
        nick_name: format!("Shop {}", &appid[14..]),
        user_name: format!("gh_{}", &appid[6..18]),
        principal_name: "Acme Co.".into(),
        alias: String::new(),
        service_type: 0,
        verify_type: 0,
        menu: None,
    }
}

/// The tenant's audit events as (kind, outcome).
async fn audit_outcomes(r: &Rig) -> Vec<(String, String)> {
    r.app
        .store
        .tenant_audit(r.tenant, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.outcome))
        .collect()
}

/// A rig on the platform's shared component, its token fetched, and an API key of acme's.
async fn shared_with_key(db: &TestDb) -> (Rig, String) {
    let r = shared_rig(db, Lifetimes::default(), |_| {}).await;
    r.component_token().await;
    let admin = Admin {
        store: r.app.store.clone(),
        actor: Actor::Cli,
    };
    let (_, key) = admin.create_api_key("acme", "onboarding").await.unwrap();
    let key = key.key.expose_secret().to_owned();
    (r, key)
}

async fn setup(db: &TestDb) -> (Rig, String, i64) {
    let r = rig(db, Lifetimes::default(), |s| {
        // The tests' webhook sink listens on 127.0.0.1.
        s.webhook_allow_private_networks = true;
        s.webhook_retry_base_ms = 50;
    })
    .await;
    let admin = Admin {
        store: r.app.store.clone(),
        actor: Actor::Cli,
    };
    let (_, key) = admin.create_api_key("acme", "release bot").await.unwrap();
    let key = key.key.expose_secret().to_owned();
    r.sim.with_state(|s, _| {
        s.code.rules = AuditRules {
            outcome: AuditOutcome::Hold,
            ..Default::default()
        }
    });
    let template = r
        .sim
        .with_state(|s, now| s.add_template(COMPONENT, "1.0.0", "first", now))
        .unwrap();
    r.authorize(MP, &[17, 18]).await;
    assert!(
        wait_for(Duration::from_secs(10), || async {
            r.cached_authorizer_token(MP).await.is_some()
        })
        .await
    );
    // The account kind comes with the profile, a job of its own that can finish after the token
    // is cached; every code call refuses an account not yet known to be a mini program.
    assert!(
        wait_for(Duration::from_secs(10), || async {
            r.app
                .store
                .authorizer(r.tenant, MP)
                .await
                .unwrap()
                .is_some_and(|a| a.account_kind == "mini_program")
        })
        .await,
        "the profile names the account a mini program"
    );
    (r, key, template)
}

on_both_databases! {
    commit_audit_release_and_a_rejection_on_the_timeline => async |db: &TestDb| {
        let (r, key, template) = setup(db).await;
        let base = format!("/api/v1/authorizers/{MP}/code");
        let sink = wxhub::simulator::sink::Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let (status, hook) = post(&r, &key, "/api/v1/webhook-endpoints", json!({ "url": sink.url("ci"), "event_types": ["wechat.event.*"] })).await;
        assert_eq!(status, 201, "{hook}");

        let (status, body) = post(&r, &key, &format!("{base}/commit"), json!({
            "template_id": template, "ext_json": {"extAppid": MP, "pages": ["pages/index/index", "pages/shop/shop"]},
            "user_version": "1.0.0", "user_desc": "first release",
        })).await;
        assert_eq!(status, 200, "{body}");
        let (status, cats) = get(&r, &key, &format!("{base}/categories")).await;
        assert_eq!(status, 200, "{cats}");
        assert_eq!(cats["pages"], json!(["pages/index/index", "pages/shop/shop"]));
        let first = &cats["categories"][0];
        let res = reqwest::Client::new().get(r.app.url(&format!("{base}/trial-qrcode?path=pages%2Fshop%2Fshop"))).bearer_auth(&key).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("image/"));
        assert!(res.bytes().await.unwrap().starts_with(b"\x89PNG"));

        let (_, quota) = get(&r, &key, &format!("{base}/quota")).await;
        let rest = quota["rest"].as_i64().unwrap();
        let (status, submitted) = post(&r, &key, &format!("{base}/submit-audit"), json!({ "item_list": [{
            "address": "pages/shop/shop", "tag": "shop", "first_id": first["first_id"], "second_id": first["second_id"],
            "first_class": first["first_class"], "second_class": first["second_class"], "title": "Shop",
        }]})).await;
        assert_eq!(status, 200, "{submitted}");
        let auditid = submitted["auditid"].as_i64().unwrap();
        assert_eq!(get(&r, &key, &format!("{base}/quota")).await.1["rest"].as_i64(), Some(rest - 1));
        // One audit at a time: WeChat's refusal, with its errcode, and nothing on the timeline.
        let (status, again) = post(&r, &key, &format!("{base}/submit-audit"), json!({})).await;
        assert_eq!((status, again["error"]["code"].as_str(), again["error"]["errcode"].as_i64()), (422, Some("wechat_refused"), Some(85009)), "{again}");
        // Releasing before the audit passed is refused too.
        let (status, early) = post(&r, &key, &format!("{base}/release"), json!({})).await;
        assert_eq!((status, early["error"]["errcode"].as_i64()), (422, Some(85020)), "{early}");

        // WeChat passes it and pushes weapp_audit_success to the message URL.
        let decided = decide(&r, MP, "pass", None).await;
        assert_eq!(decided["auditid"], auditid);
        assert_eq!(decided["pushed"]["answer"], "success", "{decided}");
        assert!(wait_for(Duration::from_secs(5), || async { kinds(&r, &key, MP).await.first().map(String::as_str) == Some("audit_passed") }).await);
        let (status, latest) = get(&r, &key, &format!("{base}/audit")).await;
        assert_eq!((status, latest["audit"]["status"].as_i64()), (200, Some(0)), "{latest}");
        let (status, body) = post(&r, &key, &format!("{base}/release"), json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(kinds(&r, &key, MP).await, ["released", "audit_passed", "submitted", "committed"]);
        let code = r.sim.with_state(|s, _| s.code.apps.get(MP).cloned()).unwrap();
        assert_eq!(code.release.as_ref().map(|v| v.user_version.as_str()), Some("1.0.0"));

        // Version 2 is rejected: the reason and screenshots on the timeline, an alert for the tenant.
        post(&r, &key, &format!("{base}/commit"), json!({ "template_id": template, "user_version": "1.1.0", "user_desc": "second" })).await;
        let (status, _) = post(&r, &key, &format!("{base}/submit-audit"), json!({})).await;
        assert_eq!(status, 200);
        decide(&r, MP, "fail", Some("页面空白 / blank page")).await;
        assert!(wait_for(Duration::from_secs(5), || async { kinds(&r, &key, MP).await.first().map(String::as_str) == Some("audit_failed") }).await);
        let (_, timeline) = get(&r, &key, &base).await;
        let failed = &timeline["timeline"][0];
        assert_eq!(failed["detail"]["reason"], "页面空白 / blank page");
        assert_eq!(failed["detail"]["screenshots"].as_array().map(Vec::len), Some(2));
        assert_eq!(failed["actor"], "WeChat");
        let alerts = r.app.store.open_alerts_for_tenant(r.tenant, 20).await.unwrap();
        assert!(alerts.iter().any(|a| a.kind == "code_audit_failed" && a.message.contains("blank page")), "{alerts:?}");

        // WeChat retries the push (and a read finds the same result): still one row.
        let before = kinds(&r, &key, MP).await.len();
        let (status, latest) = get(&r, &key, &format!("{base}/audit")).await;
        assert_eq!((status, latest["audit"]["status"].as_i64()), (200, Some(1)));
        let created = chrono_secs();
        let xml = format!("<xml><ToUserName><![CDATA[gh_5a1c0ffee000]]></ToUserName><FromUserName><![CDATA[o_wechat_system]]></FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[weapp_audit_fail]]></Event><Reason><![CDATA[页面空白 / blank page]]></Reason><FailTime>{created}</FailTime><ScreenShot>a|b</ScreenShot></xml>");
        let user_name = r.app.store.authorizer(r.tenant, MP).await.unwrap().unwrap().user_name;
        let (status, _) = r.message(MP, &xml.replace("gh_5a1c0ffee000", &user_name)).await;
        assert_eq!(status, 200);
        assert_eq!(kinds(&r, &key, MP).await.len(), before);

        // Resubmitted, withdrawn; a revert with nothing before the one release is refused.
        post(&r, &key, &format!("{base}/submit-audit"), json!({})).await;
        let (status, _) = post(&r, &key, &format!("{base}/undo-audit"), json!({})).await;
        assert_eq!(status, 200);
        let (status, refused) = post(&r, &key, &format!("{base}/revert-release"), json!({})).await;
        assert_eq!((status, refused["error"]["errcode"].as_i64()), (422, Some(87012)));
        assert_eq!(&kinds(&r, &key, MP).await[..2], ["audit_withdrawn", "submitted"]);

        // The tenant's webhook got each result WeChat pushed.
        assert!(wait_for(Duration::from_secs(10), || async {
            let got = sink.sink.received(Some("ci"));
            got.iter().any(|d| d.body.contains("wechat.event.weapp_audit_success"))
                && got.iter().any(|d| d.body.contains("wechat.event.weapp_audit_fail"))
        }).await, "{:?}", sink.sink.received(None).iter().map(|d| d.body.clone()).collect::<Vec<_>>());

        // Every step is in the audit log; refusals as failed operations.
        let audit: Vec<String> = r.app.store.tenant_audit(r.tenant, 1000).await.unwrap().into_iter().map(|e| e.kind).collect();
        for kind in ["code.committed", "code.submitted", "code.audit_result", "code.released", "code.audit_withdrawn", "code.operation_failed"] {
            assert!(audit.iter().any(|k| k == kind), "{kind} missing from {audit:?}");
        }
        r.stop().await;
    };

    code_endpoints_are_scoped_and_refuse_garbage => async |db: &TestDb| {
        let (r, key, template) = setup(db).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_tenant("globex", "Globex").await.unwrap();
        let (_, globex) = admin.create_api_key("globex", "other").await.unwrap();
        let globex = globex.key.expose_secret().to_owned();
        let (_, tokens_only) = admin.create_scoped_api_key("acme", "tokens only", &["tokens:read".to_owned()]).await.unwrap();
        let tokens_only = tokens_only.key.expose_secret().to_owned();
        r.authorize(OA, &[1, 15]).await;
        let commit = json!({ "template_id": template, "user_version": "1.0.0" });
        let commits = || r.calls("commit").len();

        // Another tenant's mini program is not found; a key without wechat:call is refused.
        for path in ["code", "code/audit", "code/quota", "code/categories", "code/domains", "code/trial-qrcode"] {
            assert_eq!(get(&r, &globex, &format!("/api/v1/authorizers/{MP}/{path}")).await.0, 404, "{path}");
            assert_eq!(get(&r, &tokens_only, &format!("/api/v1/authorizers/{MP}/{path}")).await.0, 403, "{path}");
        }
        assert_eq!(post(&r, &globex, &format!("/api/v1/authorizers/{MP}/code/commit"), commit.clone()).await.0, 404);
        for path in ["code/submit-audit", "code/release", "code/undo-audit", "code/revert-release"] {
            assert_eq!(post(&r, &globex, &format!("/api/v1/authorizers/{MP}/{path}"), json!({})).await.0, 404, "{path}");
        }
        // An Official Account has no code to manage.
        let (status, err) = post(&r, &key, &format!("/api/v1/authorizers/{OA}/code/commit"), commit.clone()).await;
        assert_eq!((status, err["error"]["field"].as_str()), (422, Some("appid")), "{err}");
        assert_eq!(commits(), 0);

        // Garbage: refused with the field named, nothing sent to WeChat.
        for (body, field) in [
            ("", "content-type"),
            ("{", "body"),
            ("[]", "body"),
            ("{}", "body"),
            (r#"{"template_id": "x", "user_version": "1"}"#, "body"),
            (r#"{"template_id": 1, "user_version": "1", "extra": true}"#, "body"),
            (r#"{"template_id": 0, "user_version": "1"}"#, "template_id"),
            (r#"{"template_id": 1, "user_version": ""}"#, "user_version"),
            (r#"{"template_id": 1, "user_version": "1\u0000"}"#, "user_version"),
            (&format!(r#"{{"template_id": 1, "user_version": "{}"}}"#, "9".repeat(65)), "user_version"),
            (r#"{"template_id": 1, "user_version": "1", "ext_json": "[1]"}"#, "ext_json"),
            (r#"{"template_id": 1, "user_version": "1", "ext_json": "{nope"}"#, "ext_json"),
            (r#"{"template_id": 1, "user_version": "1", "ext_json": 5}"#, "ext_json"),
        ] {
            let content_type_missing = body.is_empty();
            let mut req = reqwest::Client::new().post(r.app.url(&format!("/api/v1/authorizers/{MP}/code/commit"))).bearer_auth(&key);
            if !content_type_missing {
                req = req.header("content-type", "application/json");
            }
            let res = req.body(body.to_owned()).send().await.unwrap();
            let status = res.status().as_u16();
            let err: Value = res.json().await.unwrap_or(Value::Null);
            assert_eq!((status, err["error"]["field"].as_str()), (422, Some(field)), "{body:?}: {err}");
        }
        assert_eq!(commits(), 0, "garbage never reaches WeChat");
        for items in [json!({"item_list": 5}), json!({"item_list": [1]}), json!({"item_list": [{"address": {"a": 1}}]}),
                      json!({"item_list": [{"hack": "x"}]}), json!({"item_list": vec![json!({}); 6]})] {
            let (status, err) = post(&r, &key, &format!("/api/v1/authorizers/{MP}/code/submit-audit"), items.clone()).await;
            assert_eq!((status, err["error"]["field"].as_str()), (422, Some("item_list")), "{items}: {err}");
        }
        assert!(r.calls("submit_audit").is_empty());
        for (body, field) in [("{}", "body"), ("[]", "body"), (r#"{"auditid": "x"}"#, "body"), (r#"{"auditid": 1, "extra": 1}"#, "body"),
                              (r#"{"auditid": 0}"#, "auditid"), (r#"{"auditid": -5}"#, "auditid"), (r#"{"auditid": 1e40}"#, "body")] {
            let (status, err) = call(&r, &key, reqwest::Method::POST, &format!("/api/v1/authorizers/{MP}/code/speedup-audit"), Some(body)).await;
            assert_eq!((status, err["error"]["field"].as_str()), (422, Some(field)), "{body}: {err}");
        }
        assert!(r.calls("speedupaudit").is_empty());
        for body in [json!({}), json!({"server": {"requestdomain": ["http://plain.example.com"]}}),
                     json!({"webview": ["javascript:alert(1)"]}), json!({"server": {"requestdomain": "x"}})] {
            let (status, _) = call(&r, &key, reqwest::Method::PUT, &format!("/api/v1/authorizers/{MP}/code/domains"), Some(&body.to_string())).await;
            assert_eq!(status, 422, "{body}");
        }
        assert!(r.calls("modify_domain").is_empty());
        for bad in ["path=%00", "size=1"] {
            assert_eq!(get(&r, &key, &format!("/api/v1/authorizers/{MP}/code/trial-qrcode?{bad}")).await.0, 422, "{bad}");
        }
        // Good domains go through and come back as WeChat holds them.
        let (status, domains) = call(&r, &key, reqwest::Method::PUT, &format!("/api/v1/authorizers/{MP}/code/domains"),
            Some(&json!({"server": {"requestdomain": ["https://API.example.com"], "wsrequestdomain": ["wss://ws.example.com"]}, "webview": ["https://h5.example.com"]}).to_string())).await;
        assert_eq!(status, 200, "{domains}");
        assert_eq!(domains["server"]["requestdomain"], json!(["https://api.example.com"]));
        assert_eq!(domains["webview"], json!(["https://h5.example.com"]));
        assert_eq!(kinds(&r, &key, MP).await, ["domains"]);
        r.stop().await;
    };

    a_batch_commits_to_many_submits_within_the_quota_and_keeps_each_result => async |db: &TestDb| {
        let (r, key, template) = setup(db).await;
        let more = ["wx5a1c0ffee00000b1", "wx5a1c0ffee00000b2", "wx5a1c0ffee00000b3"];
        for appid in more {
            r.sim.with_state(|s, _| s.add_account(mini_program(appid)));
            // The last one did not grant code management.
            let funcs: &[i64] = if appid == more[2] { &[17] } else { &[17, 18] };
            r.authorize(appid, funcs).await;
        }
        assert!(wait_for(Duration::from_secs(10), || async { futures_util::future::join_all(more.iter().map(|a| r.cached_authorizer_token(a))).await.iter().all(Option::is_some) }).await);
        // Quota for two submissions: MP and the first added one get them, the second is skipped.
        let res = reqwest::Client::new().put(format!("{}/sim/control/audit-quota", r.sim.base_url()))
            .json(&json!({ "component_appid": COMPONENT, "limit": 2 })).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 204);

        let body = json!({ "component_appid": COMPONENT, "template_id": template, "user_version": "2.0.0",
            "user_desc": "batch", "submit": true, "appids": [MP, more[0], more[1]] });
        // The one without set 18 is refused up front, naming it; nothing starts.
        let mut with_bad = body.clone();
        with_bad["appids"] = json!([MP, more[2]]);
        let (status, err) = post(&r, &key, "/api/v1/code-batches", with_bad).await;
        assert_eq!((status, err["error"]["field"].as_str()), (422, Some("appids")), "{err}");
        assert!(err["error"]["message"].as_str().unwrap().contains(more[2]));
        for bad in [json!({}), json!({"component_appid": "wx0000000000000000", "template_id": 1, "user_version": "1", "appids": [MP]}),
                    json!({"component_appid": COMPONENT, "template_id": 1, "user_version": "1", "appids": []}),
                    json!({"component_appid": COMPONENT, "template_id": 1, "user_version": "1", "appids": ["wx0000000000000009"]})] {
            assert_eq!(post(&r, &key, "/api/v1/code-batches", bad.clone()).await.0, 422, "{bad}");
        }
        assert!(r.calls("commit").is_empty());

        let (status, started) = post(&r, &key, "/api/v1/code-batches", body).await;
        assert_eq!(status, 202, "{started}");
        let id = started["id"].as_i64().unwrap();
        let path = format!("/api/v1/code-batches/{id}");
        assert!(wait_for(Duration::from_secs(20), || async { get(&r, &key, &path).await.1["progress"]["pending"] == 0
            && get(&r, &key, &path).await.1["progress"]["committed"] == 0 }).await, "{}", get(&r, &key, &path).await.1);
        let (_, batch) = get(&r, &key, &path).await;
        assert_eq!(batch["progress"]["total"], 3);
        assert_eq!(batch["progress"]["submitted"], 2, "{batch}");
        assert_eq!(batch["progress"]["skipped"], 1, "{batch}");
        let skipped = batch["items"].as_array().unwrap().iter().find(|i| i["status"] == "skipped").unwrap();
        assert!(skipped["error"].as_str().unwrap().contains("quota"), "{skipped}");
        // Each mini program's own timeline tells it (the quota went to whichever ran first);
        // nobody else's batch is readable.
        for item in batch["items"].as_array().unwrap() {
            let appid = item["appid"].as_str().unwrap();
            let want: &[&str] = if item["status"] == "submitted" { &["submitted", "committed"] } else { &["committed"] };
            assert_eq!(kinds(&r, &key, appid).await, want, "{item}");
        }
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_tenant("globex", "Globex").await.unwrap();
        let (_, globex) = admin.create_api_key("globex", "other").await.unwrap();
        assert_eq!(get(&r, globex.key.expose_secret(), &path).await.0, 404);
        assert_eq!(get(&r, &key, "/api/v1/code-batches/nope").await.0, 404);
        r.stop().await;
    };

    the_console_runs_the_pipeline_for_admins_reads_for_viewers_and_refuses_garbage => async |db: &TestDb| {
        let (r, key, template) = setup(db).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let hasher = wxhub::auth::PasswordHasher::new(2);
        let pw = SecretString::from("correct horse battery");
        admin.create_tenant("globex", "Globex").await.unwrap();
        for (email, role, tenant) in [("op@acme.test", "tenant-admin", "acme"), ("eyes@acme.test", "tenant-viewer", "acme"), ("op@globex.test", "tenant-admin", "globex")] {
            admin.create_user(&hasher, email, role, Some(tenant), &pw).await.unwrap();
        }
        let op = signed_in(&r, "op@acme.test").await;
        let viewer = signed_in(&r, "eyes@acme.test").await;
        let stranger = signed_in(&r, "op@globex.test").await;
        let t = template.to_string();

        let (status, overview) = ui(&op, &r, "code-overview", &[("appid", MP)]).await;
        assert_eq!(status, 200, "{overview}");
        assert_eq!(overview["can_write"], true);
        assert_eq!(overview["templates"][0]["template_id"], template);
        assert_eq!(overview["quota"]["limit"], 20);
        assert!(overview["read_problems"].as_array().unwrap().is_empty(), "{overview}");

        // Garbage: each refused with its field, nothing reaches WeChat.
        for (form, field) in [
            (vec![("appid", MP), ("template_id", "x"), ("user_version", "1"), ("user_desc", ""), ("ext_json", "")], "template_id"),
            (vec![("appid", MP), ("template_id", t.as_str()), ("user_version", ""), ("user_desc", ""), ("ext_json", "")], "user_version"),
            (vec![("appid", MP), ("template_id", t.as_str()), ("user_version", "1"), ("user_desc", ""), ("ext_json", "[]")], "ext_json"),
        ] {
            let (status, err) = ui(&op, &r, "code-commit", &form).await;
            assert_eq!(status, 422, "{form:?}: {err}");
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
        let (status, _) = ui(&op, &r, "code-commit", &[("appid", MP)]).await;
        assert!((400..500).contains(&status), "missing fields: {status}");
        assert!(r.calls("commit").is_empty());
        let (status, _) = ui(&op, &r, "code-step", &[("appid", MP), ("step", "detonate")]).await;
        assert_eq!(status, 422);
        let (status, _) = ui(&op, &r, "code-submit", &[("appid", MP), ("page", "pages/index/index"), ("category", "x:y"), ("title", "")]).await;
        assert_eq!(status, 422);
        let domain_calls = r.calls("modify_domain").len();
        let (status, _) = ui(&op, &r, "code-set-domains", &[("appid", MP), ("request", "ftp://x"), ("socket", ""), ("upload", ""), ("download", ""), ("webview", "")]).await;
        assert_eq!(status, 422);
        assert!(r.calls("submit_audit").is_empty());
        assert_eq!(r.calls("modify_domain").len(), domain_calls, "refused domains never reach WeChat");

        // The pipeline from the console, the audit passed by WeChat's push.
        let (status, body) = ui(&op, &r, "code-commit", &[("appid", MP), ("template_id", t.as_str()), ("user_version", "3.0.0"), ("user_desc", "from the console"), ("ext_json", "")]).await;
        assert_eq!(status, 200, "{body}");
        let (status, auditid) = ui(&op, &r, "code-submit", &[("appid", MP), ("page", "pages/index/index"), ("category", "287:612"), ("title", "Home")]).await;
        assert_eq!(status, 200, "{auditid}");
        decide(&r, MP, "pass", None).await;
        assert!(wait_for(Duration::from_secs(5), || async {
            ui(&op, &r, "code-overview", &[("appid", MP)]).await.1["audit"]["status"] == "passed"
        }).await);
        let (status, _) = ui(&op, &r, "code-step", &[("appid", MP), ("step", "release")]).await;
        assert_eq!(status, 200);
        let (_, overview) = ui(&viewer, &r, "code-overview", &[("appid", MP)]).await;
        // What the page polls: the timeline's head, from storage.
        let (status, head) = ui(&viewer, &r, "code-timeline-head", &[("appid", MP)]).await;
        assert_eq!((status, &head), (200, &overview["timeline"][0]["id"]));
        assert_eq!(ui(&stranger, &r, "code-timeline-head", &[("appid", MP)]).await.0, 404);
        assert_eq!(overview["released"]["user_version"], "3.0.0");
        assert_eq!(overview["audit"]["status"], "released");
        assert_eq!(overview["can_write"], false, "viewers read");
        assert_eq!(kinds(&r, &key, MP).await, ["released", "audit_passed", "submitted", "committed"]);
        let (status, qr) = ui(&viewer, &r, "code-trial-qrcode", &[("appid", MP), ("path", "")]).await;
        assert_eq!(status, 200);
        assert!(qr.as_str().unwrap().starts_with("data:image/png;base64,"));

        // Viewers are refused every change; another tenant cannot see the account at all.
        for (endpoint, form) in [
            ("code-commit", vec![("appid", MP), ("template_id", t.as_str()), ("user_version", "9"), ("user_desc", ""), ("ext_json", "")]),
            ("code-step", vec![("appid", MP), ("step", "revert")]),
            ("code-library-change", vec![("component_appid", COMPONENT), ("change", "delete"), ("id", t.as_str())]),
        ] {
            assert_eq!(ui(&viewer, &r, endpoint, &form).await.0, 403, "{endpoint}");
        }
        assert_eq!(ui(&stranger, &r, "code-overview", &[("appid", MP)]).await.0, 404);
        assert_eq!(ui(&stranger, &r, "code-step", &[("appid", MP), ("step", "release")]).await.0, 404);

        // The releases page: the library, a draft made a template, a batch from the form.
        r.sim.with_state(|s, now| s.add_draft(COMPONENT, "4.0.0", "draft", now)).unwrap();
        let (status, releases) = ui(&op, &r, "code-releases", &[]).await;
        assert_eq!(status, 200, "{releases}");
        let draft = releases["libraries"][0]["drafts"][0]["draft_id"].as_i64().unwrap().to_string();
        assert_eq!(releases["libraries"][0]["can_write"], true);
        let (status, _) = ui(&op, &r, "code-library-change", &[("component_appid", COMPONENT), ("change", "add"), ("id", draft.as_str())]).await;
        assert_eq!(status, 200);
        let (_, releases) = ui(&op, &r, "code-releases", &[]).await;
        assert_eq!(releases["libraries"][0]["templates"].as_array().unwrap().len(), 2);
        let (status, id) = ui(&op, &r, "code-start-batch", &[("form[component_appid]", COMPONENT), ("form[template_id]", t.as_str()),
            ("form[user_version]", "3.1.0"), ("form[user_desc]", ""), ("form[ext_json]", ""), ("form[appids]", MP)]).await;
        assert_eq!(status, 200, "{id}");
        assert!(wait_for(Duration::from_secs(10), || async {
            ui(&op, &r, "code-releases", &[]).await.1["batches"][0]["items"][0]["status"] == "committed"
        }).await);
        let (status, _) = ui(&op, &r, "code-start-batch", &[("form[component_appid]", COMPONENT), ("form[template_id]", "1"),
            ("form[user_version]", "3.1.0"), ("form[user_desc]", ""), ("form[ext_json]", ""), ("form[appids]", "wx0000000000000009")]).await;
        assert_eq!(status, 422);

        // The fast-registration form: garbage refused with the field named; viewers and strangers
        // refused; nothing reaches WeChat.
        let good = [("form[component_appid]", COMPONENT), ("form[kind]", "enterprise"), ("form[name]", "青禾科技有限公司"), ("form[code]", "91440300MA5QINGHE"),
            ("form[code_type]", "1"), ("form[wechat]", "qing_legal"), ("form[legal_persona_name]", "林青"), ("form[component_phone]", "13800000000")];
        for (key, value, field) in [
            ("form[kind]", "company", "kind"), ("form[code_type]", "x", "code_type"), ("form[code_type]", "9", "code_type"),
            ("form[wechat]", "a b", "wechat"), ("form[name]", "", "name"), ("form[name]", "\u{0}", "name"), ("form[code]", "91-44", "code"),
            ("form[component_phone]", "call me", "component_phone"), ("form[legal_persona_name]", &"x".repeat(40), "legal_persona_name"),
        ] {
            let mut form = good.to_vec();
            form.retain(|(k, _)| *k != key);
            form.push((key, value));
            let (status, err) = ui(&op, &r, "code-fast-register", &form).await;
            assert_eq!(status, 422, "{key}={value:?}: {err}");
            assert!(err.to_string().contains(field), "{key}={value:?} names {field}: {err}");
        }
        let mut unknown = good.to_vec();
        unknown.retain(|(k, _)| *k != "form[component_appid]");
        unknown.push(("form[component_appid]", "wx0000000000000000"));
        assert_ne!(ui(&op, &r, "code-fast-register", &unknown).await.0, 200);
        assert_eq!(ui(&op, &r, "code-fast-register", &good[..2]).await.0 / 100, 4, "missing fields");
        assert_eq!(ui(&viewer, &r, "code-fast-register", &good).await.0, 403);
        assert_ne!(ui(&stranger, &r, "code-fast-register", &good).await.0, 200);
        assert!(r.calls("fastregisterweapp").is_empty());
        let (status, id) = ui(&op, &r, "code-fast-register", &good).await;
        assert_eq!(status, 200, "{id}");
        assert_eq!(r.calls("fastregisterweapp").len(), 1);
        r.sim.with_state(|s, _| s.code.fast.iter_mut().for_each(|f| f.decide_at = None));
        let id = id.as_i64().unwrap_or_else(|| panic!("{id}")).to_string();

        // "Ask WeChat now": admins of the registration's tenant only; garbage ids are refused and
        // nothing is asked.
        assert_eq!(ui(&viewer, &r, "code-fast-register-check", &[("id", &id)]).await.0, 403);
        assert_eq!(ui(&stranger, &r, "code-fast-register-check", &[("id", &id)]).await.0, 404);
        for bad in ["nope", "-1", "0", "99999999", "1e3", "", "1; drop table x"] {
            let (status, body) = ui(&op, &r, "code-fast-register-check", &[("id", bad)]).await;
            assert_eq!(status / 100, 4, "{bad}: {status} {body}");
        }
        assert_eq!(r.calls("fastregisterweapp").len(), 1, "nothing asked");
        let (status, now) = ui(&op, &r, "code-fast-register-check", &[("id", &id)]).await;
        assert_eq!(status, 200, "{now}");
        assert_eq!((now["status"].as_str(), now["wechat_status"].as_i64()), (Some("waiting"), Some(89251)), "{now}");
        assert_eq!(r.calls("fastregisterweapp").len(), 2, "the request and the search");
        r.stop().await;
    };

    the_simulators_timed_audit_rules_push_delay_pass_and_fail_by_themselves => async |db: &TestDb| {
        let (r, key, template) = setup(db).await;
        let base = format!("/api/v1/authorizers/{MP}/code");
        let sink = wxhub::simulator::sink::Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let (status, hook) = post(&r, &key, "/api/v1/webhook-endpoints", json!({ "url": sink.url("delay"), "event_types": ["wechat.event.*"] })).await;
        assert_eq!(status, 201, "{hook}");
        let rules = |outcome: &str, reason: Option<&str>| {
            let mut body = json!({ "outcome": outcome, "after_ms": 200 });
            if let Some(reason) = reason { body["reason"] = json!(reason); }
            let url = format!("{}/sim/control/audit-rules", r.sim.base_url());
            async move {
                let res = reqwest::Client::new().put(url).json(&body).send().await.unwrap();
                assert_eq!(res.status().as_u16(), 200, "{body}");
            }
        };
        let newest = || async { kinds(&r, &key, MP).await.first().cloned().unwrap_or_default() };
        let ship = |version: &'static str| {
            let (r, key, base) = (&r, key.clone(), base.clone());
            async move {
                let (status, body) = post(r, &key, &format!("{base}/commit"), json!({ "template_id": template, "user_version": version })).await;
                assert_eq!(status, 200, "{body}");
                let (status, body) = post(r, &key, &format!("{base}/submit-audit"), json!({})).await;
                assert_eq!(status, 200, "{body}");
            }
        };

        // WeChat needs longer: weapp_audit_delay on the timeline and at the webhook; still auditing.
        rules("delay", Some("需要更长审核时间 / needs longer")).await;
        ship("3.0.0").await;
        assert!(wait_for(Duration::from_secs(10), || async { newest().await == "audit_delayed" }).await, "{:?}", kinds(&r, &key, MP).await);
        let (_, timeline) = get(&r, &key, &base).await;
        assert_eq!(timeline["timeline"][0]["detail"]["reason"], "需要更长审核时间 / needs longer", "{timeline}");
        let (_, latest) = get(&r, &key, &format!("{base}/audit")).await;
        assert_eq!(latest["audit"]["status"].as_i64(), Some(4), "a delayed audit is still being audited: {latest}");
        assert!(wait_for(Duration::from_secs(10), || async {
            sink.sink.received(Some("delay")).iter().any(|d| d.body.contains("wechat.event.weapp_audit_delay"))
        }).await);
        decide(&r, MP, "pass", None).await;
        assert!(wait_for(Duration::from_secs(10), || async { newest().await == "audit_passed" }).await);

        // Timed rules decide without anyone: a rejection with its reason, then a pass.
        rules("fail", Some("类目不符 / wrong category")).await;
        ship("3.1.0").await;
        assert!(wait_for(Duration::from_secs(10), || async { newest().await == "audit_failed" }).await, "{:?}", kinds(&r, &key, MP).await);
        let (_, timeline) = get(&r, &key, &base).await;
        assert_eq!(timeline["timeline"][0]["detail"]["reason"], "类目不符 / wrong category");
        rules("pass", None).await;
        ship("3.2.0").await;
        assert!(wait_for(Duration::from_secs(10), || async { newest().await == "audit_passed" }).await, "{:?}", kinds(&r, &key, MP).await);
        let (status, body) = post(&r, &key, &format!("{base}/release"), json!({})).await;
        assert_eq!(status, 200, "{body}");
        let code = r.sim.with_state(|s, _| s.code.apps.get(MP).cloned()).unwrap();
        assert_eq!(code.release.as_ref().map(|v| v.user_version.as_str()), Some("3.2.0"));
        r.stop().await;
    };

    a_batch_keeps_going_past_wechats_refusal_of_one_mini_program => async |db: &TestDb| {
        let (r, key, template) = setup(db).await;
        let others = ["wx5a1c0ffee00000c1", "wx5a1c0ffee00000c2"];
        for appid in others {
            r.sim.with_state(|s, _| s.add_account(mini_program(appid)));
            r.authorize(appid, &[17, 18]).await;
        }
        assert!(wait_for(Duration::from_secs(10), || async { futures_util::future::join_all(others.iter().map(|a| r.cached_authorizer_token(a))).await.iter().all(Option::is_some) }).await);
        assert!(wait_for(Duration::from_secs(10), || async {
            futures_util::future::join_all(others.iter().map(|a| r.app.store.authorizer(r.tenant, a))).await.into_iter()
                .all(|a| a.unwrap().is_some_and(|a| a.account_kind == "mini_program"))
        }).await);
        // WeChat refuses one commit of the three (whichever comes first): 85013, an ext_json it dislikes.
        r.sim.inject_fault(wxhub::simulator::FaultSpec { component: None, api: Some("commit".into()), fault: wxhub::simulator::Fault::Errcode(85013), times: Some(1), percent: None }).unwrap();
        let (status, started) = post(&r, &key, "/api/v1/code-batches", json!({ "component_appid": COMPONENT, "template_id": template,
            "user_version": "4.0.0", "submit": true, "appids": [MP, others[0], others[1]] })).await;
        assert_eq!(status, 202, "{started}");
        let path = format!("/api/v1/code-batches/{}", started["id"]);
        assert!(wait_for(Duration::from_secs(20), || async {
            let p = &get(&r, &key, &path).await.1["progress"];
            p["pending"] == 0 && p["committed"] == 0
        }).await, "{}", get(&r, &key, &path).await.1);
        let (_, batch) = get(&r, &key, &path).await;
        assert_eq!((batch["progress"]["failed"].as_i64(), batch["progress"]["submitted"].as_i64()), (Some(1), Some(2)), "{batch}");
        let failed = batch["items"].as_array().unwrap().iter().find(|i| i["status"] == "failed").unwrap();
        assert!(failed["error"].as_str().unwrap().contains("85013"), "{failed}");
        // The refused one has nothing on its timeline; the others were committed and submitted.
        for item in batch["items"].as_array().unwrap() {
            let appid = item["appid"].as_str().unwrap();
            let want: &[&str] = if item["status"] == "failed" { &[] } else { &["submitted", "committed"] };
            assert_eq!(kinds(&r, &key, appid).await, want, "{item}");
        }
        let audit = audit_outcomes(&r).await;
        assert!(audit.contains(&("code.operation_failed".into(), "failed".into())), "{audit:?}");
        r.stop().await;
    };

    a_fast_registered_mini_program_becomes_the_starting_tenants_account_even_on_a_shared_component => async |db: &TestDb| {
        let (r, key) = shared_with_key(db).await;
        let good = json!({ "component_appid": COMPONENT, "kind": "enterprise", "name": "鹿鸣科技有限公司", "code": "91440300MA5EXAMPLE",
            "code_type": 1, "wechat": "lu_legal", "legal_persona_name": "陆明", "component_phone": "13800000000" });
        let registrations = || r.calls("fastregisterweapp").len() + r.calls("fastregisterpersonalweapp").len();

        // Garbage: refused with the field named, nothing sent.
        for (change, field) in [
            (json!({"kind": "company"}), "kind"), (json!({"code_type": 0}), "code_type"), (json!({"wechat": "a b"}), "wechat"),
            (json!({"name": ""}), "name"), (json!({"code": "91-44"}), "code"), (json!({"component_phone": "call me"}), "component_phone"),
            (json!({"legal_persona_name": "x".repeat(40)}), "legal_persona_name"), (json!({"extra": 1}), "body"),
            (json!({"component_appid": "wx0000000000000000"}), "component_appid"), (json!({"code_type": "1"}), "body"),
        ] {
            let mut body = good.clone();
            for (k, v) in change.as_object().unwrap() { body[k] = v.clone(); }
            let (status, err) = post(&r, &key, "/api/v1/fast-registrations", body.clone()).await;
            assert_eq!((status, err["error"]["field"].as_str()), (422, Some(field)), "{body}: {err}");
        }
        assert_eq!(registrations(), 0);

        let (status, started) = post(&r, &key, "/api/v1/fast-registrations", good.clone()).await;
        assert_eq!(status, 202, "{started}");
        // The same enterprise again while WeChat works on it: WeChat's refusal.
        let (status, again) = post(&r, &key, "/api/v1/fast-registrations", good.clone()).await;
        assert_eq!((status, again["error"]["errcode"].as_i64()), (422, Some(89249)), "{again}");
        let mut refused = good.clone();
        refused["name"] = json!("拒绝公司");
        refused["wechat"] = json!("no_show");
        assert_eq!(post(&r, &key, "/api/v1/fast-registrations", refused).await.0, 202);
        let (status, personal) = post(&r, &key, "/api/v1/fast-registrations", json!({ "component_appid": COMPONENT, "kind": "personal", "name": "张三", "wechat": "zhang_san" })).await;
        assert_eq!(status, 202, "{personal}");

        // WeChat pushes the outcomes; the registrations settle.
        assert!(wait_for(Duration::from_secs(20), || async {
            let (_, list) = get(&r, &key, "/api/v1/fast-registrations").await;
            list["registrations"].as_array().is_some_and(|l| l.len() == 3 && l.iter().all(|f| f["status"] != "waiting"))
        }).await, "{}", get(&r, &key, "/api/v1/fast-registrations").await.1);
        let (_, list) = get(&r, &key, "/api/v1/fast-registrations").await;
        let by_name = |n: &str| list["registrations"].as_array().unwrap().iter().find(|f| f["name"] == n).unwrap().clone();
        let failed = by_name("拒绝公司");
        assert_eq!((failed["status"].as_str(), failed["wechat_status"].as_i64(), failed["appid"].is_null()), (Some("failed"), Some(100003), true), "{failed}");
        for name in ["鹿鸣科技有限公司", "张三"] {
            let done = by_name(name);
            assert_eq!(done["status"], "succeeded", "{done}");
            let appid = done["appid"].as_str().unwrap().to_owned();
            // The new account is acme's, not left unassigned on the shared component.
            assert!(wait_for(Duration::from_secs(10), || async {
                get(&r, &key, &format!("/api/v1/authorizers/{appid}")).await.0 == 200
            }).await, "{appid} never became acme's");
        }
        assert_eq!(r.app.store.count_unassigned_authorizers().await.unwrap(), 0);
        let audit: Vec<String> = r.app.store.tenant_audit(r.tenant, 1000).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(audit.iter().filter(|k| *k == "code.fast_register_started").count(), 4, "three started, one refused: {audit:?}");
        r.stop().await;
    };

    the_template_library_is_in_the_api_and_changed_on_the_tenants_own_component => async |db: &TestDb| {
        let (r, key, template) = setup(db).await;
        let base = format!("/api/v1/components/{COMPONENT}/code-templates");
        let draft = r.sim.with_state(|s, now| s.add_draft(COMPONENT, "2.0.0", "spring", now)).unwrap();
        let (status, library) = get(&r, &key, &base).await;
        assert_eq!(status, 200, "{library}");
        assert_eq!(library["can_change"], true, "{library}");
        assert!(library["templates"].as_array().unwrap().iter().any(|t| t["template_id"] == template), "{library}");
        assert!(library["drafts"].as_array().unwrap().iter().any(|d| d["draft_id"] == draft && d["user_version"] == "2.0.0"), "{library}");

        // Another tenant's key does not see the component; a key without wechat:call is refused.
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_tenant("globex", "Globex").await.unwrap();
        let (_, globex) = admin.create_api_key("globex", "other").await.unwrap();
        let globex = globex.key.expose_secret().to_owned();
        let (_, tokens_only) = admin.create_scoped_api_key("acme", "tokens only", &["tokens:read".to_owned()]).await.unwrap();
        let tokens_only = tokens_only.key.expose_secret().to_owned();
        assert_eq!(get(&r, &globex, &base).await.0, 404);
        assert_eq!(post(&r, &globex, &base, json!({ "draft_id": draft })).await.0, 404);
        assert_eq!(call(&r, &globex, reqwest::Method::DELETE, &format!("{base}/{template}"), None).await.0, 404);
        assert_eq!(get(&r, &tokens_only, &base).await.0, 403);
        assert_eq!(post(&r, &tokens_only, &base, json!({ "draft_id": draft })).await.0, 403);
        assert_eq!(get(&r, &key, "/api/v1/components/wx0000000000000000/code-templates").await.0, 404);

        // Garbage: refused with the field named, nothing sent to WeChat.
        for (body, field) in [
            ("{", "body"), ("[]", "body"), ("{}", "body"), (r#"{"draft_id": "x"}"#, "body"),
            (r#"{"draft_id": 1, "extra": true}"#, "body"), (r#"{"draft_id": -1}"#, "draft_id"),
            (r#"{"draft_id": 1, "template_type": 7}"#, "template_type"), (r#"{"draft_id": 1e99}"#, "body"),
        ] {
            let (status, err) = call(&r, &key, reqwest::Method::POST, &base, Some(body)).await;
            assert_eq!((status, err["error"]["field"].as_str()), (422, Some(field)), "{body}: {err}");
        }
        for bad in ["x", "-3", "0", "99999999999999999999"] {
            let (status, err) = call(&r, &key, reqwest::Method::DELETE, &format!("{base}/{bad}"), None).await;
            assert_eq!(status, 422, "{bad}: {err}");
        }
        assert!(r.calls("addtotemplate").is_empty());
        assert!(r.calls("deletetemplate").is_empty());

        let (status, added) = post(&r, &key, &base, json!({ "draft_id": draft })).await;
        assert_eq!(status, 201, "{added}");
        let (_, library) = get(&r, &key, &base).await;
        let new_template = library["templates"].as_array().unwrap().iter()
            .find(|t| t["user_version"] == "2.0.0").unwrap_or_else(|| panic!("{library}"))["template_id"].as_i64().unwrap();
        let (status, deleted) = call(&r, &key, reqwest::Method::DELETE, &format!("{base}/{new_template}"), None).await;
        assert_eq!(status, 200, "{deleted}");
        // Deleting it again is WeChat's refusal, with its errcode.
        let (status, again) = call(&r, &key, reqwest::Method::DELETE, &format!("{base}/{new_template}"), None).await;
        assert_eq!(status, 422, "{again}");
        assert!(again["error"]["errcode"].as_i64().is_some(), "{again}");
        let (_, library) = get(&r, &key, &base).await;
        assert!(!library["templates"].as_array().unwrap().iter().any(|t| t["template_id"] == new_template), "{library}");
        let audit = audit_outcomes(&r).await;
        assert!(audit.contains(&("code.template_added".into(), "ok".into())), "{audit:?}");
        assert!(audit.contains(&("code.template_deleted".into(), "ok".into())), "{audit:?}");
        assert!(audit.contains(&("code.template_deleted".into(), "failed".into())), "{audit:?}");
        r.stop().await;
    };

    a_waiting_fast_registration_is_asked_about_and_a_lost_push_does_not_leave_it_waiting => async |db: &TestDb| {
        let (r, key) = shared_with_key(db).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let hold = || r.sim.with_state(|s, _| s.code.fast.iter_mut().for_each(|f| f.decide_at = None));
        let (status, started) = post(&r, &key, "/api/v1/fast-registrations", json!({ "component_appid": COMPONENT, "kind": "enterprise",
            "name": "青禾科技有限公司", "code": "91440300MA5QINGHE", "code_type": 1, "wechat": "qing_legal", "legal_persona_name": "林青" })).await;
        assert_eq!(status, 202, "{started}");
        hold();
        let id = started["id"].as_i64().unwrap();
        let check = format!("/api/v1/fast-registrations/{id}/check");

        // Asked while the legal person has not confirmed: still waiting, WeChat's state recorded.
        let (status, now) = post(&r, &key, &check, json!({})).await;
        assert_eq!(status, 200, "{now}");
        assert_eq!((now["status"].as_str(), now["wechat_status"].as_i64()), (Some("waiting"), Some(89251)), "{now}");
        assert!(now["message"].as_str().unwrap().contains("face verification"), "{now}");
        assert_eq!(r.calls("fastregisterweapp").len(), 2, "the request and the search");

        // WeChat registers it, and its push is lost: the health loop's check finds it.
        r.sim.with_state(|s, now| {
            s.code.fast.iter_mut().for_each(|f| f.decide_at = Some(now));
            s.finish_fast_registrations(now);
            s.outbox.retain(|p| p.info_type != "notify_third_fasteregister");
        });
        assert_eq!(r.engine().check_quiet_fast_registrations(Duration::from_secs(3600)).await.unwrap(), 0, "not quiet for an hour yet");
        assert_eq!(r.engine().check_quiet_fast_registrations(Duration::ZERO).await.unwrap(), 1);
        let (_, list) = get(&r, &key, "/api/v1/fast-registrations").await;
        let row = &list["registrations"][0];
        assert_eq!((row["status"].as_str(), row["wechat_status"].as_i64()), (Some("succeeded"), Some(0)), "{list}");
        let appid = row["appid"].as_str().unwrap_or_else(|| panic!("{list}"));
        assert!(row["message"].as_str().unwrap().contains(appid), "{list}");
        assert_eq!(r.engine().check_quiet_fast_registrations(Duration::ZERO).await.unwrap(), 0, "nothing waits any more");
        // Checking a settled registration asks WeChat nothing.
        let searches = r.calls("fastregisterweapp").len();
        let (status, again) = post(&r, &key, &check, json!({})).await;
        assert_eq!((status, again["status"].as_str()), (200, Some("succeeded")), "{again}");
        assert_eq!(r.calls("fastregisterweapp").len(), searches);

        // A personal registration is asked about by its task id; one WeChat no longer knows fails.
        let (status, personal) = post(&r, &key, "/api/v1/fast-registrations", json!({ "component_appid": COMPONENT, "kind": "personal", "name": "李四", "wechat": "li_si" })).await;
        assert_eq!(status, 202, "{personal}");
        hold();
        let personal_check = format!("/api/v1/fast-registrations/{}/check", personal["id"]);
        let (status, now) = post(&r, &key, &personal_check, json!({})).await;
        assert_eq!((status, now["status"].as_str(), now["wechat_status"].as_i64()), (200, Some("waiting"), Some(89251)), "{now}");
        assert_eq!(r.calls("fastregisterpersonalweapp").len(), 2, "the request and the query");
        r.sim.with_state(|s, _| s.code.fast.retain(|f| f.kind != "personal"));
        let (status, now) = post(&r, &key, &personal_check, json!({})).await;
        assert_eq!((status, now["status"].as_str(), now["wechat_status"].as_i64()), (200, Some("failed"), Some(89250)), "{now}");

        // Another tenant's registration and garbage ids are not found; nothing is asked.
        admin.create_tenant("globex", "Globex").await.unwrap();
        let (_, globex) = admin.create_api_key("globex", "other").await.unwrap();
        let asked = r.calls("fastregisterweapp").len() + r.calls("fastregisterpersonalweapp").len();
        assert_eq!(post(&r, globex.key.expose_secret(), &check, json!({})).await.0, 404);
        for bad in ["nope", "-1", "0", "99999999", "1e3", "%00"] {
            assert_eq!(post(&r, &key, &format!("/api/v1/fast-registrations/{bad}/check"), json!({})).await.0, 404, "{bad}");
        }
        assert_eq!(r.calls("fastregisterweapp").len() + r.calls("fastregisterpersonalweapp").len(), asked);
        r.stop().await;
    };

    platform_staff_keep_the_shared_library_and_tenants_only_read_it => async |db: &TestDb| {
        let r = shared_rig(db, Lifetimes::default(), |_| {}).await;
        r.component_token().await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let hasher = wxhub::auth::PasswordHasher::new(2);
        let pw = SecretString::from("correct horse battery");
        for (email, role, tenant) in [("root@platform.test", "platform-admin", None), ("eyes@platform.test", "platform-auditor", None), ("op@acme.test", "tenant-admin", Some("acme"))] {
            admin.create_user(&hasher, email, role, tenant, &pw).await.unwrap();
        }
        let root = signed_in(&r, "root@platform.test").await;
        let eyes = signed_in(&r, "eyes@platform.test").await;
        let op = signed_in(&r, "op@acme.test").await;
        let draft = r.sim.with_state(|s, now| s.add_draft(COMPONENT, "5.0.0", "shared shop", now)).unwrap().to_string();

        let (status, staff_view) = ui(&root, &r, "code-releases", &[]).await;
        assert_eq!(status, 200, "{staff_view}");
        assert_eq!(staff_view["staff"], true);
        assert_eq!(staff_view["libraries"][0]["component_appid"], COMPONENT);
        assert_eq!(staff_view["libraries"][0]["can_write"], true);
        assert_eq!(ui(&eyes, &r, "code-releases", &[]).await.1["libraries"][0]["can_write"], false);
        let (_, tenant_view) = ui(&op, &r, "code-releases", &[]).await;
        assert_eq!(tenant_view["libraries"][0]["can_write"], false, "a tenant reads the shared library");
        // Through the API too: the tenant reads the shared library and cannot change it.
        let (_, key) = admin.create_api_key("acme", "release bot").await.unwrap();
        let key = key.key.expose_secret().to_owned();
        let base = format!("/api/v1/components/{COMPONENT}/code-templates");
        let (status, library) = get(&r, &key, &base).await;
        assert_eq!((status, library["can_change"].as_bool()), (200, Some(false)), "{library}");
        let (status, err) = post(&r, &key, &base, json!({ "draft_id": draft.parse::<i64>().unwrap() })).await;
        assert_eq!((status, err["error"]["field"].as_str()), (422, Some("component_appid")), "{err}");

        let change = [("component_appid", COMPONENT), ("change", "add"), ("id", draft.as_str())];
        assert_eq!(ui(&op, &r, "code-library-change", &change).await.0, 403);
        assert_eq!(ui(&eyes, &r, "code-library-change", &change).await.0, 403);
        assert!(r.calls("addtotemplate").is_empty());
        let (status, body) = ui(&root, &r, "code-library-change", &change).await;
        assert_eq!(status, 200, "{body}");
        let (_, tenant_view) = ui(&op, &r, "code-releases", &[]).await;
        assert_eq!(tenant_view["libraries"][0]["templates"][0]["user_version"], "5.0.0");
        let template = tenant_view["libraries"][0]["templates"][0]["template_id"].as_i64().unwrap().to_string();
        for garbage in [("change", "explode"), ("id", "x")] {
            let mut form = change.to_vec();
            form.retain(|(k, _)| *k != garbage.0);
            form.push(garbage);
            assert_eq!(ui(&root, &r, "code-library-change", &form).await.0, 422, "{garbage:?}");
        }
        let (status, _) = ui(&root, &r, "code-library-change", &[("component_appid", COMPONENT), ("change", "delete"), ("id", template.as_str())]).await;
        assert_eq!(status, 200);
        // Deleting it again is WeChat's refusal, audited as a failure.
        let (status, _) = ui(&root, &r, "code-library-change", &[("component_appid", COMPONENT), ("change", "delete"), ("id", template.as_str())]).await;
        assert_eq!(status, 422);
        let audit: Vec<(String, String)> = r.app.store.platform_audit(1000).await.unwrap().into_iter().map(|e| (e.kind, e.outcome)).collect();
        assert!(audit.contains(&("code.template_added".into(), "ok".into())), "{audit:?}");
        assert!(audit.contains(&("code.template_deleted".into(), "failed".into())), "{audit:?}");
        r.stop().await;
    };

    the_simulated_wechat_keeps_its_rules_and_refuses_garbage_at_its_control_api => async |db: &TestDb| {
        let (r, key, template) = setup(db).await;
        let base = format!("/api/v1/authorizers/{MP}/code");
        let errcode = |v: &Value| v["error"]["errcode"].as_i64();
        let commit = |version: &str| json!({ "template_id": template, "user_version": version });

        // An unknown template is WeChat's 85014; nothing committed is 85086 for a submission.
        let (_, e) = post(&r, &key, &format!("{base}/commit"), json!({ "template_id": 999, "user_version": "1" })).await;
        assert_eq!(errcode(&e), Some(85014), "{e}");
        let (_, e) = post(&r, &key, &format!("{base}/submit-audit"), json!({})).await;
        assert_eq!(errcode(&e), Some(85086), "{e}");
        // A page the code does not have is 85007.
        post(&r, &key, &format!("{base}/commit"), commit("1.0.0")).await;
        let (_, e) = post(&r, &key, &format!("{base}/submit-audit"), json!({ "item_list": [{ "address": "pages/nowhere" }] })).await;
        assert_eq!(errcode(&e), Some(85007), "{e}");

        // Five withdrawals a day, then 87013.
        for n in 0..6 {
            let (status, _) = post(&r, &key, &format!("{base}/submit-audit"), json!({})).await;
            assert_eq!(status, 200, "submission {n}");
            let (status, e) = post(&r, &key, &format!("{base}/undo-audit"), json!({})).await;
            if n < 5 {
                assert_eq!(status, 200, "undo {n}: {e}");
            } else {
                assert_eq!(errcode(&e), Some(87013), "{e}");
            }
        }
        // A speed-up of another audit is 85012; of this one it brings the decision forward.
        let (_, e) = post(&r, &key, &format!("{base}/speedup-audit"), json!({ "auditid": 1 })).await;
        assert_eq!(errcode(&e), Some(85012), "{e}");
        let auditid = r.sim.with_state(|s, _| s.code.apps[MP].audits.last().map(|a| a.auditid)).unwrap();
        r.sim.with_state(|s, now| {
            let a = s.code.apps.get_mut(MP).unwrap().audits.last_mut().unwrap();
            a.decide_at = Some(now + 3_600_000);
        });
        let (status, _) = post(&r, &key, &format!("{base}/speedup-audit"), json!({ "auditid": auditid })).await;
        assert_eq!(status, 200);
        let sooner = r.sim.with_state(|s, now| s.code.apps[MP].audits.last().unwrap().decide_at.unwrap() - now);
        assert!(sooner < 3_600_000, "{sooner}");
        assert_eq!(kinds(&r, &key, MP).await[0], "speedup");

        // Two releases, then a revert brings the first back; a second revert has nothing before it.
        decide(&r, MP, "pass", None).await;
        post(&r, &key, &format!("{base}/release"), json!({})).await;
        post(&r, &key, &format!("{base}/commit"), commit("2.0.0")).await;
        post(&r, &key, &format!("{base}/submit-audit"), json!({})).await;
        decide(&r, MP, "pass", None).await;
        let (status, _) = post(&r, &key, &format!("{base}/release"), json!({})).await;
        assert_eq!(status, 200);
        let (_, e) = post(&r, &key, &format!("{base}/release"), json!({})).await;
        assert_eq!(errcode(&e), Some(85020), "releasing twice: {e}");
        let (status, _) = post(&r, &key, &format!("{base}/revert-release"), json!({})).await;
        assert_eq!(status, 200);
        let live = r.sim.with_state(|s, _| s.code.apps[MP].release.clone()).unwrap();
        assert_eq!(live.user_version, "1.0.0");
        let (_, e) = post(&r, &key, &format!("{base}/revert-release"), json!({})).await;
        assert_eq!(errcode(&e), Some(87012), "{e}");

        // The quota runs out: 85085.
        let client = reqwest::Client::new();
        let sim = r.sim.base_url();
        let res = client.put(format!("{sim}/sim/control/audit-quota")).json(&json!({ "component_appid": COMPONENT, "limit": 0 })).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 204);
        post(&r, &key, &format!("{base}/commit"), commit("3.0.0")).await;
        let (_, e) = post(&r, &key, &format!("{base}/submit-audit"), json!({})).await;
        assert_eq!(errcode(&e), Some(85085), "{e}");

        // A person decides on the simulator's page: the audit form is there, garbage is refused.
        client.put(format!("{sim}/sim/control/audit-quota")).json(&json!({ "component_appid": COMPONENT, "limit": 5 })).send().await.unwrap();
        let (status, _) = post(&r, &key, &format!("{base}/submit-audit"), json!({})).await;
        assert_eq!(status, 200);
        let page = client.get(format!("{sim}/sim")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(&format!("data-appid=\"{MP}\"")), "the audit is on the page");
        let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let res = no_redirect.post(format!("{sim}/sim/audits")).form(&[("authorizer_appid", MP), ("outcome", "explode")]).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 400);
        let res = no_redirect.post(format!("{sim}/sim/audits")).form(&[("authorizer_appid", MP), ("outcome", "fail"), ("reason", "by hand")]).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 303);
        assert!(wait_for(Duration::from_secs(5), || async { kinds(&r, &key, MP).await.first().map(String::as_str) == Some("audit_failed") }).await);

        // Garbage at the control API: 400 or 404, and nothing changes.
        let rules_before = r.sim.with_state(|s, _| format!("{:?}", s.code.rules));
        for (method, path, body) in [
            ("PUT", "audit-rules", "{"), ("PUT", "audit-rules", r#"{"outcome": "maybe"}"#), ("PUT", "audit-rules", r#"{"outcome": "pass", "after_ms": -1}"#),
            ("PUT", "audit-rules", r#"{"outcome": "pass", "extra": 1}"#),
            ("POST", "audits", r#"{"authorizer_appid": "wx0000000000000000", "outcome": "pass"}"#), ("POST", "audits", r#"{"authorizer_appid": "x", "outcome": "hold"}"#),
            ("PUT", "audit-quota", r#"{"component_appid": "nope", "limit": 1}"#), ("PUT", "audit-quota", r#"{"component_appid": "x", "limit": -5}"#),
            ("POST", "template-drafts", r#"{"component_appid": "nope", "user_version": "1"}"#), ("POST", "template-drafts", r#"{"user_version": ""}"#),
        ] {
            let req = if method == "PUT" { client.put(format!("{sim}/sim/control/{path}")) } else { client.post(format!("{sim}/sim/control/{path}")) };
            let status = req.header("content-type", "application/json").body(body).send().await.unwrap().status().as_u16();
            assert!(status == 400 || status == 404, "{path} {body}: {status}");
        }
        assert_eq!(r.sim.with_state(|s, _| format!("{:?}", s.code.rules)), rules_before);
        let drafts = r.sim.with_state(|s, _| s.code.libraries[COMPONENT].drafts.len());
        assert_eq!(drafts, 0, "no draft was added");
        r.stop().await;
    };
}

fn chrono_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
