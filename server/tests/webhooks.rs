//! Webhooks to the tenant's systems (issue 13): endpoints registered through the API, every
//! message delivered once per endpoint with a Standard Webhooks signature, retried through
//! failures and timeouts with the same `webhook-id`, dead-lettered and replayed, a failing endpoint
//! disabled with an alert, reply mode in time and late, and garbage refused.

mod common;

use std::time::Duration;

use common::rig::{rig, signed_in, ui, Rig, COMPONENT, MP, OA};
use common::{raw_count, wait_for, TestDb};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use wxhub::admin::Admin;
use wxhub::domain::Actor;
use wxhub::simulator::sink::{RunningSink, Sink, SinkAnswer};
use wxhub::simulator::Lifetimes;

fn now_s() -> i64 {
    wxhub::now_ms() / 1000
}

fn text(to: &str, content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[o_user_1]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>",
        now_s()
    )
}

/// A rig whose webhooks may reach loopback (the sink), retrying fast.
async fn webhook_rig(
    db: &TestDb,
    tweak: impl FnOnce(&mut wxhub::config::Settings),
) -> (Rig, RunningSink, String, String) {
    let r = rig(db, Lifetimes::default(), |s| {
        s.webhook_allow_private_networks = true;
        s.webhook_retry_base_ms = 50;
        s.webhook_timeout_seconds = 1;
        tweak(s);
    })
    .await;
    r.authorize(OA, &[1]).await;
    let to = original_id(&r).await;
    let sink = Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let admin = Admin {
        store: r.app.store.clone(),
        actor: Actor::Cli,
    };
    let (_, key) = admin.create_api_key("acme", "hooks").await.unwrap();
    (r, sink, to, key.key.expose_secret().to_owned())
}

async fn original_id(r: &Rig) -> String {
    let stored = || async {
        r.app
            .store
            .authorizer(r.tenant, OA)
            .await
            .unwrap()
            .map(|a| a.user_name)
            .filter(|u| !u.is_empty())
    };
    assert!(
        wait_for(Duration::from_secs(10), || async {
            stored().await.is_some()
        })
        .await
    );
    stored().await.unwrap_or_default()
}

async fn api(
    r: &Rig,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, r.app.url(path))
        .header("authorization", format!("Bearer {key}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Registers an endpoint for hook `name` of the sink and teaches the sink its secret.
async fn register(r: &Rig, key: &str, sink: &RunningSink, name: &str, extra: Value) -> String {
    let mut body = json!({ "url": sink.url(name), "description": name });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, created) = api(
        r,
        key,
        reqwest::Method::POST,
        "/api/v1/webhook-endpoints",
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    sink.sink.set_secret(name, SecretString::from(secret));
    created["id"].as_str().unwrap().to_owned()
}

async fn deliveries(r: &Rig, key: &str, endpoint: &str) -> Vec<Value> {
    let (status, body) = api(
        r,
        key,
        reqwest::Method::GET,
        &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().cloned().unwrap_or_default()
}

async fn wait_status(r: &Rig, key: &str, endpoint: &str, status: &str, n: usize) -> Vec<Value> {
    let ok = wait_for(Duration::from_secs(15), || async {
        deliveries(r, key, endpoint)
            .await
            .iter()
            .filter(|d| d["status"] == status)
            .count()
            >= n
    })
    .await;
    let all = deliveries(r, key, endpoint).await;
    assert!(ok, "{n} deliveries {status}; have {all:?}");
    all
}

on_both_databases! {
    a_message_is_delivered_signed_through_a_500_and_a_timeout_with_one_webhook_id => async |db: &TestDb| {
        let (r, sink, to, key) = webhook_rig(db, |_| {}).await;
        let endpoint = register(&r, &key, &sink, "orders", json!({})).await;
        sink.sink.script("orders", [SinkAnswer::Status(500), SinkAnswer::Hang(Duration::from_millis(1500))]);
        assert_eq!(r.message(OA, &text(&to, "你好", 1)).await, (200, "success".to_owned()));
        // WeChat retries: the same message is stored and delivered once.
        assert_eq!(r.message(OA, &text(&to, "你好", 1)).await, (200, "success".to_owned()));
        let done = wait_status(&r, &key, &endpoint, "delivered", 1).await;
        assert_eq!(done.len(), 1, "one delivery for one message");
        assert_eq!(done[0]["attempts"], 3);
        assert_eq!(done[0]["last_status_code"], 200);
        assert_eq!(done[0]["event_type"], "wechat.message.text");
        let got = sink.sink.received(Some("orders"));
        assert!(got.len() >= 3, "500, timeout, 200: {got:?}");
        assert!(got.iter().all(|g| g.webhook_id == got[0].webhook_id), "the webhook-id is stable across retries");
        assert!(got.iter().all(|g| g.verified == Some(true)), "every attempt is signed with the endpoint's secret");
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(body["type"], "wechat.message.text");
        assert_eq!(body["data"]["authorizer_appid"], OA);
        assert_eq!(body["data"]["from_user"], "o_user_1");
        assert_eq!(body["data"]["msg_id"], "1");
        assert_eq!(body["data"]["fields"]["Content"], "你好");
        assert!(body["data"]["xml"].as_str().unwrap().contains("你好"));
        assert_eq!(raw_count(db, "messages").await, 1);
        assert_eq!(raw_count(db, "webhook_deliveries").await, 1);
        // Finished deliveries are pruned with the messages they carried.
        let now = wxhub::now_ms();
        let cut = wxhub::store::Cutoffs { audit_before: 0, pushes_before: 0, messages_before: now + 1, jobs_before: 0, throttle_before: 0, now };
        let pruned = r.app.store.prune(&cut, 100).await.unwrap();
        assert_eq!((pruned.messages, pruned.webhook_deliveries), (1, 1));
        r.stop().await;
    };

    filters_pick_endpoints_and_a_rotated_secret_signs_alongside_the_old_one => async |db: &TestDb| {
        let (r, sink, to, key) = webhook_rig(db, |_| {}).await;
        let events_only = register(&r, &key, &sink, "events", json!({ "event_types": ["wechat.event.*"] })).await;
        let other_account = register(&r, &key, &sink, "other", json!({ "authorizer_appids": ["wx5a1c0ffee0000003"] })).await;
        let all = register(&r, &key, &sink, "all", json!({ "event_types": ["*"] })).await;
        let (status, rotated) = api(&r, &key, reqwest::Method::POST, &format!("/api/v1/webhook-endpoints/{all}/rotate-secret"), None).await;
        assert_eq!(status, 200, "{rotated}");
        r.message(OA, &text(&to, "hi", 2)).await;
        let subscribe = format!(
            "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[o_user_2]]></FromUserName><CreateTime>{}</CreateTime>\
             <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>", now_s());
        r.message(OA, &subscribe).await;
        wait_status(&r, &key, &all, "delivered", 2).await;
        wait_status(&r, &key, &events_only, "delivered", 1).await;
        assert_eq!(deliveries(&r, &key, &events_only).await.len(), 1, "only the event");
        assert_eq!(deliveries(&r, &key, &events_only).await[0]["event_type"], "wechat.event.subscribe");
        assert!(deliveries(&r, &key, &other_account).await.is_empty(), "another account's endpoint hears nothing");
        // The "all" hook was taught its first secret; after rotation both secrets sign.
        let got = sink.sink.received(Some("all"));
        assert!(got.iter().all(|g| g.verified == Some(true) && g.signature.split(' ').count() == 2), "{got:?}");
        sink.sink.set_secret("all", SecretString::from(rotated["secret"].as_str().unwrap().to_owned()));
        r.message(OA, &text(&to, "again", 3)).await;
        wait_status(&r, &key, &all, "delivered", 3).await;
        assert_eq!(sink.sink.received(Some("all")).last().map(|g| g.verified), Some(Some(true)), "the new secret verifies too");
        // The list shows the endpoints without secrets; delete removes one.
        let (_, list) = api(&r, &key, reqwest::Method::GET, "/api/v1/webhook-endpoints", None).await;
        assert_eq!(list["data"].as_array().map(Vec::len), Some(3));
        assert!(!list.to_string().contains("whsec_"), "secrets are shown once");
        let (status, _) = api(&r, &key, reqwest::Method::DELETE, &format!("/api/v1/webhook-endpoints/{other_account}"), None).await;
        assert_eq!(status, 204);
        let (status, _) = api(&r, &key, reqwest::Method::DELETE, &format!("/api/v1/webhook-endpoints/{other_account}"), None).await;
        assert_eq!(status, 404);
        r.stop().await;
    };

    a_failing_endpoint_is_disabled_with_an_alert_and_its_dead_letters_replay => async |db: &TestDb| {
        let (r, sink, to, key) = webhook_rig(db, |s| {
            s.webhook_disable_after_failures = 4;
            s.webhook_disable_after_minutes = 0;
        }).await;
        let endpoint = register(&r, &key, &sink, "flaky", json!({})).await;
        sink.sink.script("flaky", std::iter::repeat_n(SinkAnswer::Status(503), 4));
        r.message(OA, &text(&to, "one", 4)).await;
        r.message(OA, &text(&to, "two", 5)).await;
        wait_status(&r, &key, &endpoint, "dead", 2).await;
        let (_, list) = api(&r, &key, reqwest::Method::GET, "/api/v1/webhook-endpoints", None).await;
        assert_eq!(list["data"][0]["enabled"], false);
        assert!(list["data"][0]["disabled_reason"].as_str().unwrap().contains("503"));
        let alerts = r.app.store.open_alerts_for_tenant(r.tenant, 50).await.unwrap();
        assert!(alerts.iter().any(|a| a.kind == "webhook_endpoint_disabled"), "{alerts:?}");
        assert_eq!(raw_count(db, "audit_events WHERE kind = 'webhook.endpoint_disabled'").await, 1);
        // A disabled endpoint gets no new deliveries.
        r.message(OA, &text(&to, "three", 6)).await;
        assert_eq!(deliveries(&r, &key, &endpoint).await.len(), 2);
        // Fixed and turned back on, its dead letters replay (one by id, then the rest).
        let who = wxhub::ops::TenantActor { actor: Actor::Cli, tenant: r.tenant, ip: None };
        wxhub::ops::webhooks::set_enabled(&r.app.store, &who, &endpoint, true, wxhub::now_ms()).await.unwrap();
        let first = deliveries(&r, &key, &endpoint).await[1]["id"].as_i64().unwrap();
        let (status, replayed) = api(&r, &key, reqwest::Method::POST, &format!("/api/v1/webhook-endpoints/{endpoint}/replay"), Some(json!({ "delivery_ids": [first] }))).await;
        assert_eq!((status, replayed["replayed"].as_i64()), (200, Some(1)));
        wait_status(&r, &key, &endpoint, "delivered", 1).await;
        let (_, replayed) = api(&r, &key, reqwest::Method::POST, &format!("/api/v1/webhook-endpoints/{endpoint}/replay"), Some(json!({}))).await;
        assert_eq!(replayed["replayed"], 1);
        wait_status(&r, &key, &endpoint, "delivered", 2).await;
        let (_, replayed) = api(&r, &key, reqwest::Method::POST, &format!("/api/v1/webhook-endpoints/{endpoint}/replay"), Some(json!({}))).await;
        assert_eq!(replayed["replayed"], 0, "nothing dead is left");
        // A test event reaches it whatever its filters.
        let (status, test) = api(&r, &key, reqwest::Method::POST, &format!("/api/v1/webhook-endpoints/{endpoint}/test"), None).await;
        assert_eq!(status, 202);
        assert!(wait_for(Duration::from_secs(10), || async {
            sink.sink.received(Some("flaky")).iter().any(|g| g.webhook_id == test["event_id"].as_str().unwrap_or("?"))
        }).await);
        r.stop().await;
    };

    reply_mode_answers_wechat_in_time_and_falls_back_to_success_when_late => async |db: &TestDb| {
        let (r, sink, to, key) = webhook_rig(db, |s| s.webhook_timeout_seconds = 6).await;
        let endpoint = register(&r, &key, &sink, "bot", json!({ "mode": "reply" })).await;
        sink.sink.script("bot", [
            SinkAnswer::Json(json!({ "reply": { "type": "text", "content": "您好，我是机器人" } }), Duration::from_millis(100)),
            SinkAnswer::Json(json!({ "reply": { "type": "text", "content": "too late" } }), Duration::from_millis(4000)),
        ]);
        let (status, body) = r.message(OA, &text(&to, "在吗", 7)).await;
        assert_eq!(status, 200);
        let envelope = wxhub::wechat::xml::parse_envelope(body.as_bytes()).expect("an encrypted reply");
        let plain = r.crypto().decrypt(&envelope.encrypt).unwrap().message;
        let reply = wxhub::wechat::xml::parse_account_message(plain.as_bytes()).unwrap();
        assert_eq!(reply.content(), Some("您好，我是机器人"));
        assert_eq!(reply.to_user, "o_user_1");
        assert_eq!(reply.from_user, to);
        let started = std::time::Instant::now();
        assert_eq!(r.message(OA, &text(&to, "还在吗", 8)).await, (200, "success".to_owned()));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(2500) && waited < Duration::from_millis(4500), "WeChat waited {waited:?}");
        // The late answer still counts as delivered: the delivery went on without WeChat.
        wait_status(&r, &key, &endpoint, "delivered", 2).await;
        assert_eq!(sink.sink.received(Some("bot")).len(), 2, "each message once");
        r.stop().await;
    };

    garbage_is_refused_and_other_tenants_see_nothing => async |db: &TestDb| {
        let (r, sink, _to, key) = webhook_rig(db, |_| {}).await;
        let endpoint = register(&r, &key, &sink, "mine", json!({})).await;
        let post = |body: Value| {
            let r = &r;
            let key = key.clone();
            async move { api(r, &key, reqwest::Method::POST, "/api/v1/webhook-endpoints", Some(body)).await }
        };
        for (body, field) in [
            (json!({ "url": "ftp://example.com/" }), "url"),
            (json!({ "url": "not a url" }), "url"),
            (json!({ "url": "https://u:p@example.com/" }), "url"),
            (json!({ "url": sink.url("x"), "mode": "sometimes" }), "mode"),
            (json!({ "url": sink.url("x"), "event_types": ["message.text"] }), "event_types"),
            (json!({ "url": sink.url("x"), "authorizer_appids": ["nope"] }), "authorizer_appids"),
            (json!({ "url": sink.url("x"), "description": "a\nb" }), "description"),
            (json!({ "url": sink.url("x"), "description": "x".repeat(201) }), "description"),
        ] {
            let (status, answer) = post(body.clone()).await;
            assert_eq!(status, 422, "{body} → {answer}");
            assert_eq!(answer["error"]["field"], field, "{body} → {answer}");
        }
        let (status, _) = post(json!({ "url": sink.url("x"), "surprise": 1 })).await;
        assert_eq!(status, 422, "unknown fields are refused");
        let (status, _) = post(json!({ "uri": 5 })).await;
        assert_eq!(status, 422);
        let raw = reqwest::Client::new().post(r.app.url("/api/v1/webhook-endpoints")).header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json").body("{not json").send().await.unwrap();
        assert_eq!(raw.status(), 422, "not JSON");
        let huge = reqwest::Client::new().post(r.app.url("/api/v1/webhook-endpoints")).header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json").body(vec![b' '; 64 * 1024]).send().await.unwrap();
        assert_eq!(huge.status(), 413);
        for path in ["we_zz", "../x", "we_0000000000000000", "%00"] {
            let (status, _) = api(&r, &key, reqwest::Method::DELETE, &format!("/api/v1/webhook-endpoints/{path}"), None).await;
            assert_eq!(status, 404, "{path}");
            let (status, _) = api(&r, &key, reqwest::Method::GET, &format!("/api/v1/webhook-endpoints/{path}/deliveries"), None).await;
            assert_eq!(status, 404, "{path}");
        }
        let (status, _) = api(&r, &key, reqwest::Method::GET, &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries?status=weird"), None).await;
        assert_eq!(status, 422);
        let (status, _) = api(&r, &key, reqwest::Method::GET, &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries?limit=many"), None).await;
        assert_eq!(status, 422);
        // Another tenant's key sees none of it.
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_tenant("globex", "Globex").await.unwrap();
        let (_, other) = admin.create_api_key("globex", "g").await.unwrap();
        let other = other.key.expose_secret().to_owned();
        let (_, list) = api(&r, &other, reqwest::Method::GET, "/api/v1/webhook-endpoints", None).await;
        assert_eq!(list["data"], json!([]));
        for (method, path) in [
            (reqwest::Method::DELETE, format!("/api/v1/webhook-endpoints/{endpoint}")),
            (reqwest::Method::POST, format!("/api/v1/webhook-endpoints/{endpoint}/rotate-secret")),
            (reqwest::Method::GET, format!("/api/v1/webhook-endpoints/{endpoint}/deliveries")),
            (reqwest::Method::POST, format!("/api/v1/webhook-endpoints/{endpoint}/test")),
        ] {
            let (status, _) = api(&r, &other, method, &path, None).await;
            assert_eq!(status, 404, "{path}");
        }
        assert_eq!(raw_count(db, "webhook_endpoints").await, 1, "nothing stored by garbage");
        r.stop().await;
    };

    authorizations_and_revocations_reach_the_endpoints_once => async |db: &TestDb| {
        let (r, sink, _to, key) = webhook_rig(db, |_| {}).await;
        let endpoint = register(&r, &key, &sink, "crm", json!({ "event_types": ["wechat.authorization.*"] })).await;
        r.authorize(MP, &[17, 18]).await;
        wait_status(&r, &key, &endpoint, "delivered", 1).await;
        let revoke = format!(
            "<xml><AppId>{COMPONENT}</AppId><CreateTime>{}</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>{MP}</AuthorizerAppid></xml>",
            now_s()
        );
        assert_eq!(r.push(&revoke).await.0, 200);
        // WeChat's retry of the same push: the same event, not a second one.
        assert_eq!(r.push(&revoke).await.0, 200);
        let all = wait_status(&r, &key, &endpoint, "delivered", 2).await;
        let types: Vec<&str> = all.iter().rev().filter_map(|d| d["event_type"].as_str()).collect();
        assert_eq!(types, ["wechat.authorization.authorized", "wechat.authorization.unauthorized"]);
        let got = sink.sink.received(Some("crm"));
        assert_eq!(got.len(), 2, "each event once: {got:?}");
        let authorized: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(authorized["data"]["authorizer_appid"], MP);
        assert_eq!(authorized["data"]["component_appid"], COMPONENT);
        assert_eq!(authorized["data"]["permissions"], json!([17, 18]));
        assert_eq!(authorized["data"]["change"], "authorized");
        assert!(got.iter().all(|g| g.verified == Some(true)));
        r.stop().await;
    };

    the_console_manages_endpoints_and_staff_see_every_tenants_deliveries => async |db: &TestDb| {
        let (r, sink, to, _key) = webhook_rig(db, |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let hasher = wxhub::auth::PasswordHasher::new(2);
        let pw = SecretString::from("correct horse battery".to_owned());
        admin.create_user(&hasher, "root@platform.test", "platform-admin", None, &pw).await.unwrap();
        admin.create_user(&hasher, "op@acme.test", "tenant-admin", Some("acme"), &pw).await.unwrap();
        admin.create_user(&hasher, "eyes@acme.test", "tenant-viewer", Some("acme"), &pw).await.unwrap();
        let (root, op, eyes) = (signed_in(&r, "root@platform.test").await, signed_in(&r, "op@acme.test").await, signed_in(&r, "eyes@acme.test").await);
        let url = sink.url("console");
        let (status, created) = ui(&op, &r, "create-webhook-endpoint", &[("form[url]", &url), ("form[description]", "from the console"), ("form[mode]", "async"), ("form[event_types]", "wechat.message.*, wxhub.test")]).await;
        assert_eq!(status, 200, "{created}");
        let id = created["endpoint"]["id"].as_str().unwrap().to_owned();
        assert_eq!(created["endpoint"]["event_types"], json!(["wechat.message.*", "wxhub.test"]));
        assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
        // Garbage from the form: each refused, naming the field, nothing stored.
        for (form, field) in [
            (vec![("form[url]", "ftp://x"), ("form[description]", ""), ("form[mode]", "async"), ("form[event_types]", "")], "url"),
            (vec![("form[url]", url.as_str()), ("form[description]", ""), ("form[mode]", "loud"), ("form[event_types]", "")], "mode"),
            (vec![("form[url]", url.as_str()), ("form[description]", ""), ("form[mode]", "async"), ("form[event_types]", "Bad Type")], "event_types"),
        ] {
            let (status, answer) = ui(&op, &r, "create-webhook-endpoint", &form).await;
            assert_eq!(status, 422, "{answer}");
            assert!(answer.to_string().contains(field), "{answer}");
        }
        assert_eq!(ui(&op, &r, "create-webhook-endpoint", &[("form[url]", url.as_str())]).await.0, 422, "a form missing fields");
        // Viewers read and cannot change.
        assert_eq!(ui(&eyes, &r, "webhook-endpoints", &[]).await.0, 200);
        assert_eq!(ui(&eyes, &r, "send-webhook-test", &[("id", &id)]).await.0, 403);
        assert_eq!(ui(&eyes, &r, "change-webhook-endpoint", &[("id", &id), ("change", "delete")]).await.0, 403);
        assert_eq!(ui(&eyes, &r, "change-webhook-endpoint", &[("id", &id), ("change", "disable")]).await.0, 403);
        // A test event and a message, both seen in the log.
        assert_eq!(ui(&op, &r, "send-webhook-test", &[("id", &id)]).await.0, 200);
        r.message(OA, &text(&to, "控制台", 11)).await;
        assert!(wait_for(Duration::from_secs(10), || async {
            let (_, log) = ui(&op, &r, "webhook-deliveries", &[("id", &id), ("status", "delivered")]).await;
            log.as_array().map(Vec::len) == Some(2)
        }).await);
        assert_eq!(ui(&op, &r, "webhook-deliveries", &[("id", &id), ("status", "weird")]).await.0, 422);
        assert_eq!(ui(&op, &r, "webhook-deliveries", &[("id", "we_nope")]).await.0, 404);
        assert_eq!(ui(&op, &r, "change-webhook-endpoint", &[("id", "../x"), ("change", "disable")]).await.0, 404);
        for garbage in ["", "remove", "ENABLE", "delete;", &"x".repeat(5000)] {
            let (status, err) = ui(&op, &r, "change-webhook-endpoint", &[("id", &id), ("change", garbage)]).await;
            assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("change")), "{garbage:.20}: {err}");
        }
        assert_eq!(ui(&op, &r, "change-webhook-endpoint", &[("id", &id)]).await.0 / 100, 4, "no change named");
        assert_eq!(ui(&op, &r, "webhook-endpoints", &[]).await.1[0]["enabled"], true, "garbage changed nothing");
        let (_, messages) = ui(&op, &r, "account-messages", &[("appid", OA)]).await;
        assert!(messages.to_string().contains("控制台"), "{messages}");
        assert_eq!(ui(&op, &r, "account-messages", &[("appid", "garbage")]).await.0, 404);
        // Staff see every tenant's deliveries, named; tenant users may not.
        let (status, all) = ui(&root, &r, "all-deliveries", &[]).await;
        assert_eq!(status, 200);
        let all = all.as_array().cloned().unwrap_or_default();
        assert!(all.iter().any(|d| d["tenant"] == "Acme" && d["event_type"] == "wxhub.test"), "{all:?}");
        assert_eq!(ui(&root, &r, "all-deliveries", &[("status", "bogus")]).await.0, 422);
        assert_eq!(ui(&op, &r, "all-deliveries", &[]).await.0, 403);
        // Turned off, then deleted, from the console.
        assert_eq!(ui(&op, &r, "change-webhook-endpoint", &[("id", &id), ("change", "disable")]).await.0, 200);
        let (_, list) = ui(&op, &r, "webhook-endpoints", &[]).await;
        assert_eq!(list[0]["enabled"], false);
        assert_eq!(ui(&op, &r, "change-webhook-endpoint", &[("id", &id), ("change", "enable")]).await.0, 200);
        assert_eq!(ui(&op, &r, "webhook-endpoints", &[]).await.1[0]["enabled"], true);
        assert_eq!(ui(&op, &r, "change-webhook-endpoint", &[("id", &id), ("change", "delete")]).await.0, 200);
        assert_eq!(ui(&op, &r, "webhook-endpoints", &[]).await.1, json!([]));
        r.stop().await;
    };

    the_simulator_chat_reaches_a_reply_endpoint_and_shows_its_reply => async |db: &TestDb| {
        let (r, sink, _to, key) = webhook_rig(db, |_| {}).await;
        register(&r, &key, &sink, "bot", json!({ "mode": "reply" })).await;
        sink.sink.set_echo("bot");
        let sim = r.sim.base_url();
        let http = reqwest::Client::new();
        let send = |body: Value| {
            let http = http.clone();
            let url = format!("{sim}/sim/control/user-messages");
            async move {
                let res = http.post(url).json(&body).send().await.unwrap();
                (res.status().as_u16(), res.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let (status, answer) = send(json!({ "authorizer_appid": OA, "content": "你好" })).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["answer"], "reply");
        assert_eq!(answer["reply"], "Demo sink received: 你好 · 已收到");
        let (_, answer) = send(json!({ "authorizer_appid": OA, "event": "subscribe" })).await;
        assert_eq!(answer["answer"], "success", "events get no echo");
        let conversation: Value = http.get(format!("{sim}/sim/control/user-messages/{OA}")).send().await.unwrap().json().await.unwrap();
        let froms: Vec<&str> = conversation["lines"].as_array().unwrap().iter().filter_map(|l| l["from"].as_str()).collect();
        assert_eq!(froms, ["user", "account", "user"]);
        // The page shows the same conversation.
        let page = http.get(format!("{sim}/sim/chat/{OA}")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Demo sink received: 你好"), "{page}");
        // Garbage: refused with a reason, nothing sent.
        for bad in [
            json!({ "authorizer_appid": OA }),
            json!({ "authorizer_appid": OA, "content": "x", "event": "subscribe" }),
            json!({ "authorizer_appid": OA, "content": "   " }),
            json!({ "authorizer_appid": OA, "event": "<xml>" }),
            json!({ "authorizer_appid": "wx0000000000000000", "content": "x" }),
            json!({ "authorizer_appid": OA, "content": "x", "extra": 1 }),
            json!("not an object"),
        ] {
            let (status, answer) = send(bad.clone()).await;
            assert_eq!(status, 400, "{bad} → {answer}");
            assert!(answer["error"].is_string());
        }
        assert_eq!(raw_count(db, "messages").await, 2, "only the two good ones reached wxhub");
        // The demo's background chatter: one message per authorized account per round, each
        // answered by the reply endpoint.
        assert_eq!(wxhub::simulator::chat::chatter_once(r.sim.control(), 0).await, 1);
        assert_eq!(raw_count(db, "messages").await, 3);
        let conversation: Value = http.get(format!("{sim}/sim/control/user-messages/{OA}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(conversation["lines"].as_array().map(Vec::len), Some(5), "{conversation}");
        r.stop().await;
    };

    private_addresses_are_refused_unless_the_platform_allows_them => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let (_, key) = admin.create_api_key("acme", "hooks").await.unwrap();
        let key = key.key.expose_secret().to_owned();
        for url in ["http://127.0.0.1:9/x", "http://localhost/x", "http://169.254.169.254/latest", "http://[::1]/", "http://10.0.0.8/"] {
            let (status, answer) = api(&r, &key, reqwest::Method::POST, "/api/v1/webhook-endpoints", Some(json!({ "url": url }))).await;
            assert_eq!(status, 422, "{url}");
            assert_eq!(answer["error"]["field"], "url");
        }
        assert_eq!(raw_count(db, "webhook_endpoints").await, 0);
        r.stop().await;
    };
}
