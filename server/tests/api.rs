//! The tenant API over real HTTP: the real server on port 0, the simulator as WeChat, API keys of
//! two tenants. What a tenant's system sees, including every refusal.

mod common;

use std::time::Duration;

use common::rig::{rig, signed_in, ui, Rig, COMPONENT, MP, OA};
use common::{wait_for, TestDb};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use wxhub::admin::Admin;
use wxhub::domain::{Actor, CredentialKind};
use wxhub::simulator::{Fault, FaultSpec, Lifetimes};

struct Api<'a> {
    r: &'a Rig,
    http: reqwest::Client,
}

impl Api<'_> {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<reqwest::Body>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, self.r.app.url(path));
        if let Some(key) = key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, value)
    }

    async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        let (s, _, v) = self.send(reqwest::Method::GET, path, Some(key), None).await;
        (s, v)
    }

    async fn post(&self, path: &str, key: &str, body: &str) -> (u16, Value) {
        let (s, _, v) = self
            .send(
                reqwest::Method::POST,
                path,
                Some(key),
                Some(body.to_owned().into()),
            )
            .await;
        (s, v)
    }
}

/// Every error has the one documented shape; returns its code.
fn code(v: &Value) -> &str {
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "no message in {v}"
    );
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an API error: {v}"))
}

async fn keys(r: &Rig) -> (String, String, i64) {
    let admin = Admin {
        store: r.app.store.clone(),
        actor: Actor::Cli,
    };
    admin.create_tenant("globex", "Globex").await.unwrap();
    let (acme_key, acme) = admin
        .create_api_key("acme", "orders service")
        .await
        .unwrap();
    let (_, globex) = admin
        .create_api_key("globex", "globex backend")
        .await
        .unwrap();
    (
        acme.key.expose_secret().to_owned(),
        globex.key.expose_secret().to_owned(),
        acme_key.id.0,
    )
}

async fn authorized(r: &Rig, appid: &str, funcs: &[i64]) {
    let location = r.authorize(appid, funcs).await;
    assert_eq!(
        r.app.client.get(&location).send().await.unwrap().status(),
        200
    );
    assert!(
        wait_for(Duration::from_secs(10), || async {
            r.cached_authorizer_token(appid).await.is_some()
        })
        .await,
        "{appid} never got a token"
    );
}

on_both_databases! {
    tokens_accounts_links_and_every_refusal => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let (acme, globex, acme_key_id) = keys(&r).await;
        authorized(&r, OA, &[1, 4]).await;
        let api = Api { r: &r, http: reqwest::Client::new() };

        // The list and one account, with permission sets named.
        let (s, list) = api.get("/api/v1/authorizers", &acme).await;
        assert_eq!(s, 200, "{list}");
        let accounts = list["authorizers"].as_array().unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0]["appid"], OA);
        assert_eq!(accounts[0]["status"], "authorized");
        assert_eq!(accounts[0]["component_appid"], COMPONENT);
        assert_eq!(accounts[0]["permission_ids"], json!([1, 4]));
        let (s, only) = api.get("/api/v1/authorizers?status=authorized", &acme).await;
        assert_eq!((s, only["authorizers"].as_array().unwrap().len()), (200, 1));
        let (s, none) = api.get("/api/v1/authorizers?status=revoked", &acme).await;
        assert_eq!((s, none), (200, json!({ "authorizers": [] })));
        for bad in ["?status=sleeping", "?colour=red", "?status=%00"] {
            let (s, v) = api.get(&format!("/api/v1/authorizers{bad}"), &acme).await;
            assert_eq!((s, code(&v)), (422, "invalid_request"), "{bad}");
        }
        let (s, one) = api.get(&format!("/api/v1/authorizers/{OA}"), &acme).await;
        assert_eq!(s, 200);
        assert_eq!(one["permissions"][0]["name"], "Message management");
        assert_eq!(one["permissions"][1]["name_zh"], "网页服务");
        assert_eq!(one["permissions"][1]["exclusive"], true);

        // The token: the one the engine holds, which WeChat accepts, with time left.
        let (s, token) = api.get(&format!("/api/v1/authorizers/{OA}/access-token"), &acme).await;
        assert_eq!(s, 200, "{token}");
        let value = token["access_token"].as_str().unwrap().to_owned();
        assert_eq!(Some(value.clone()), r.cached_authorizer_token(OA).await);
        assert!(r.token_is_valid_at_wechat(&value));
        assert_eq!(token["authorizer_appid"], OA);
        let expires_in = token["expires_in"].as_i64().unwrap();
        assert!((7000..=7200).contains(&expires_in), "{expires_in}");
        let expires_at = time::OffsetDateTime::parse(token["expires_at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
        let left = (expires_at - time::OffsetDateTime::now_utc()).whole_seconds();
        assert!((left - expires_in).abs() <= 2, "expires_at and expires_in agree: {left} vs {expires_in}");

        // Another tenant's key: its own empty list, and OA is as unknown as an appid nobody has.
        let (s, list) = api.get("/api/v1/authorizers", &globex).await;
        assert_eq!((s, list), (200, json!({ "authorizers": [] })));
        let (s, theirs) = api.get(&format!("/api/v1/authorizers/{OA}/access-token"), &globex).await;
        let (s2, nobody) = api.get("/api/v1/authorizers/wx00000000000000ff/access-token", &globex).await;
        assert_eq!((s, s2), (404, 404));
        assert_eq!(theirs, nobody, "a 404 never says whose account it is");
        assert_eq!(code(&theirs), "not_found");
        for path in [format!("/api/v1/authorizers/{OA}"), format!("/api/v1/authorizers/{OA}/jssdk-config")] {
            let (s, v) = if path.ends_with("config") { api.post(&path, &globex, r#"{"url":"https://a.example/"}"#).await } else { api.get(&path, &globex).await };
            assert_eq!((s, code(&v)), (404, "not_found"), "{path}");
        }
        let (s, v) = api.post(&format!("/api/v1/authorizers/{OA}/access-token/rejected"), &globex, &json!({ "access_token": value }).to_string()).await;
        assert_eq!((s, code(&v)), (404, "not_found"));

        // Keys: none, malformed, unknown, wrong scheme → 401, one shape, WWW-Authenticate.
        let (s, h, v) = api.send(reqwest::Method::GET, "/api/v1/authorizers", None, None).await;
        assert_eq!((s, code(&v)), (401, "unauthorized"));
        assert!(h.contains_key("www-authenticate"));
        for bad in ["garbage", "wxh_short", &format!("wxh_{}", "A".repeat(43)), &format!("{acme}x")] {
            let (s, v) = api.get("/api/v1/authorizers", bad).await;
            assert_eq!((s, code(&v)), (401, "unauthorized"), "{bad}");
        }
        let res = api.http.get(r.app.url("/api/v1/authorizers")).header("authorization", format!("Basic {acme}")).send().await.unwrap();
        assert_eq!(res.status(), 401);

        // Unknown endpoints and methods inside /api/v1 answer in the same shape.
        let (s, v) = api.get("/api/v1/nothing-here", &acme).await;
        assert_eq!((s, code(&v)), (404, "no_such_endpoint"));
        let (s, _, v) = api.send(reqwest::Method::DELETE, &format!("/api/v1/authorizers/{OA}/access-token"), Some(&acme), None).await;
        assert_eq!((s, code(&v)), (405, "method_not_allowed"));

        // Bad appids in the path are unknown accounts, whatever the bytes.
        for garbage in ["wx%00", "%E4%B8%AD%E6%96%87", &"w".repeat(300), "WX5A1C0FFEE0000001", "..%2F..%2Fetc"] {
            let (s, v) = api.get(&format!("/api/v1/authorizers/{garbage}/access-token"), &acme).await;
            assert_eq!((s, code(&v)), (404, "not_found"), "{garbage}");
        }

        // Garbage bodies: the documented errors, and nothing happens.
        let audit_before = r.app.store.tenant_audit(r.tenant, 1000).await.unwrap().len();
        let refreshes_before = r.calls("api_authorizer_token").len();
        let rejected = format!("/api/v1/authorizers/{OA}/access-token/rejected");
        for (body, field) in [
            ("{", "body"),
            ("[]", "body"),
            ("{}", "body"),
            (r#"{"access_token": 5}"#, "body"),
            (r#"{"access_token": "x", "extra": 1}"#, "body"),
            (r#"{"access_token": ""}"#, "access_token"),
            (r#"{"access_token": "a\u0000b"}"#, "access_token"),
            ("\u{0}\u{1}binary", "body"),
        ] {
            let (s, v) = api.post(&rejected, &acme, body).await;
            assert_eq!((s, code(&v)), (422, "invalid_request"), "{body}");
            assert_eq!(v["error"]["field"], field, "{body}");
        }
        let huge = format!(r#"{{"access_token": "{}"}}"#, "a".repeat(100_000));
        let (s, v) = api.post(&rejected, &acme, &huge).await;
        assert_eq!((s, code(&v)), (413, "payload_too_large"));
        // A fresh connection: the server closes the one whose oversized body it did not read.
        let res = reqwest::Client::new().post(r.app.url(&rejected)).header("authorization", format!("Bearer {acme}")).header("content-type", "text/plain").body(json!({"access_token": value}).to_string()).send().await.unwrap();
        assert_eq!(res.status(), 422, "a body that is not declared JSON");
        assert_eq!(r.app.store.tenant_audit(r.tenant, 1000).await.unwrap().len(), audit_before, "garbage changed nothing");
        assert_eq!(r.cached_authorizer_token(OA).await, Some(value.clone()));
        assert_eq!(r.calls("api_authorizer_token").len(), refreshes_before);

        // A report about a token that is not the current one changes nothing.
        let (s, v) = api.post(&rejected, &acme, r#"{"access_token": "not-the-current-token"}"#).await;
        assert_eq!((s, v), (202, json!({ "refreshing": false })));
        // The current one: one refresh, however many systems report it at once.
        let reports = futures_reports(&api, &rejected, &acme, &value, 8).await;
        assert_eq!(reports.iter().filter(|r| **r).count(), 1, "exactly one report starts the refresh: {reports:?}");
        assert!(wait_for(Duration::from_secs(10), || async { r.cached_authorizer_token(OA).await.is_some_and(|t| t != value) }).await, "the token was replaced");
        let (_, fresh) = api.get(&format!("/api/v1/authorizers/{OA}/access-token"), &acme).await;
        let fresh = fresh["access_token"].as_str().unwrap().to_owned();
        assert_ne!(fresh, value);
        assert!(r.token_is_valid_at_wechat(&fresh));
        assert_eq!(r.calls("api_authorizer_token").len(), refreshes_before + 1, "no stampede");
        let (s, v) = api.post(&rejected, &acme, &json!({ "access_token": value }).to_string()).await;
        assert_eq!((s, v), (202, json!({ "refreshing": false })), "a report about the replaced token");
        let reported = r.app.store.tenant_audit(r.tenant, 1000).await.unwrap();
        assert_eq!(reported.iter().filter(|e| e.kind == "token.rejected_reported").count(), 1);

        // JS-SDK: the first request starts keeping the ticket; the signature is WeChat's rule.
        let config = format!("/api/v1/authorizers/{OA}/jssdk-config");
        let (s, v) = api.post(&config, &acme, r#"{"url": "https://shop.example.com/item?id=7#top"}"#).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["appId"], OA);
        let ticket = r.engine().cache.get(r.component, CredentialKind::JsapiTicket, OA, wxhub::now_ms()).expect("the ticket is kept");
        let want = wxhub::wechat::links::jssdk_signature(ticket.value.expose_secret(), v["nonceStr"].as_str().unwrap(), v["timestamp"].as_i64().unwrap(), "https://shop.example.com/item?id=7");
        assert_eq!(v["signature"], want);
        assert_eq!(r.calls("getticket").len(), 1);
        let (s, _) = api.post(&config, &acme, r#"{"url": "https://shop.example.com/other"}"#).await;
        assert_eq!(s, 200);
        assert_eq!(r.calls("getticket").len(), 1, "the ticket is served from memory");
        for bad in [r#"{"url": "ftp://x.example/"}"#, r#"{"url": "not a url"}"#, r#"{"url": ""}"#, r#"{"url": 7}"#, r#"{"link": "https://x.example/"}"#] {
            let (s, v) = api.post(&config, &acme, bad).await;
            assert_eq!((s, code(&v)), (422, "invalid_request"), "{bad}");
        }

        // Authorization links: made, shown, refused when wrong.
        let (s, link) = api.post("/api/v1/authorization-links", &acme, r#"{"note": "from the API", "expires_in": 3600, "auth_type": 1}"#).await;
        assert_eq!(s, 201, "{link}");
        let url = link["url"].as_str().unwrap();
        assert!(url.ends_with(&format!("/authorize/{}", link["id"].as_str().unwrap())), "{url}");
        assert!(link["expires_at"].as_str().is_some());
        let page = r.app.client.get(url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("data-test=\"pc-link\""));
        let (s, link) = api.post("/api/v1/authorization-links", &acme, "{}").await;
        assert_eq!((s, link["expires_at"].clone()), (201, Value::Null));
        let links_before = r.app.store.list_links(r.tenant, 1000).await.unwrap().len();
        for (body, field) in [
            (r#"{"auth_type": 9}"#, "auth_type"),
            (r#"{"auth_type": "1"}"#, "body"),
            (r#"{"expires_in": 5}"#, "expires_in"),
            (r#"{"expires_in": 99999999999}"#, "expires_in"),
            (r#"{"component_appid": "wx0000000000000000"}"#, "component_appid"),
            (r#"{"biz_appid": "nope"}"#, "biz_appid"),
            (r#"{"note": "line\nbreak"}"#, "note"),
            (r#"{"colour": "red"}"#, "body"),
        ] {
            let (s, v) = api.post("/api/v1/authorization-links", &acme, body).await;
            assert_eq!((s, code(&v), v["error"]["field"].as_str()), (422, "invalid_request", Some(field)), "{body}");
        }
        assert_eq!(r.app.store.list_links(r.tenant, 1000).await.unwrap().len(), links_before, "no link from garbage");
        // Globex may not use acme's own component.
        let (s, v) = api.post("/api/v1/authorization-links", &globex, &json!({ "component_appid": COMPONENT }).to_string()).await;
        assert_eq!((s, v["error"]["field"].clone()), (422, json!("component_appid")));

        // A revoked account: 409, and its token is no longer served.
        assert!(r.sim.revoke(COMPONENT, OA));
        let revoked = wait_for(Duration::from_secs(10), || async {
            api.get(&format!("/api/v1/authorizers/{OA}/access-token"), &acme).await.0 == 409
        }).await;
        assert!(revoked, "a revoked account answers 409");
        let (_, v) = api.get(&format!("/api/v1/authorizers/{OA}/access-token"), &acme).await;
        assert_eq!(code(&v), "authorizer_revoked");
        assert!(v.get("access_token").is_none());
        let (s, v) = api.post(&config, &acme, r#"{"url": "https://shop.example.com/"}"#).await;
        assert_eq!((s, code(&v)), (409, "authorizer_revoked"));

        // The owner authorizes again: tokens and JS-SDK signatures are served again.
        authorized(&r, OA, &[1]).await;
        assert!(wait_for(Duration::from_secs(10), || async {
            api.get(&format!("/api/v1/authorizers/{OA}/access-token"), &acme).await.0 == 200
        }).await, "a re-authorized account is served again");
        let (s, v) = api.post(&config, &acme, r#"{"url": "https://shop.example.com/"}"#).await;
        assert_eq!(s, 200, "the JS-SDK ticket is kept again after re-authorization: {v}");

        // A key revoked in the console stops working at once; its last use was recorded.
        let op = {
            let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
            admin.create_user(&wxhub::auth::PasswordHasher::new(2), "op@acme.test", "tenant-admin", Some("acme"), &SecretString::from("correct horse battery")).await.unwrap();
            signed_in(&r, "op@acme.test").await
        };
        // Scopes: narrowed in the console, applied at once on this instance. A key without the
        // scope is refused 403 before its body is read; the account list needs no scope.
        let id = acme_key_id.to_string();
        assert_eq!(ui(&op, &r, "set-api-key-scopes", &[("id", &id), ("scopes", "wechat:call")]).await.0, 200);
        for (method, path, body, scope) in [
            (reqwest::Method::GET, format!("/api/v1/authorizers/{OA}/access-token"), None, "tokens:read"),
            (reqwest::Method::POST, format!("/api/v1/authorizers/{OA}/access-token/rejected"), Some("{}"), "tokens:read"),
            (reqwest::Method::POST, config.clone(), Some("not json at all"), "tokens:read"),
            (reqwest::Method::POST, "/api/v1/authorization-links".to_owned(), Some("{\"garbage\": true"), "links:write"),
            (reqwest::Method::GET, "/api/v1/webhook-endpoints".to_owned(), None, "webhooks:manage"),
            (reqwest::Method::POST, "/api/v1/webhook-endpoints".to_owned(), Some("[]"), "webhooks:manage"),
            (reqwest::Method::DELETE, "/api/v1/webhook-endpoints/we_nope".to_owned(), None, "webhooks:manage"),
            (reqwest::Method::POST, "/api/v1/webhook-endpoints/we_nope/replay".to_owned(), Some("{}"), "webhooks:manage"),
        ] {
            let (s, _, v) = api.send(method.clone(), &path, Some(&acme), body.map(|b| b.to_owned().into())).await;
            assert_eq!((s, code(&v), v["error"]["scope"].as_str()), (403, "insufficient_scope", Some(scope)), "{method} {path}: {v}");
        }
        assert_eq!(api.get("/api/v1/authorizers", &acme).await.0, 200, "listing accounts needs no scope");
        let (s, v) = api.get(&format!("/api/v1/authorizers/{OA}/wechat/cgi-bin/user/info?openid=o_scope&lang=zh_CN"), &acme).await;
        assert_eq!(s, 200, "the gateway is within wechat:call: {v}");
        assert_eq!(ui(&op, &r, "set-api-key-scopes", &[("id", &id), ("scopes", "tokens:read")]).await.0, 200);
        let (s, v) = api.get(&format!("/api/v1/authorizers/{OA}/wechat/cgi-bin/user/info?openid=o_scope"), &acme).await;
        assert_eq!((s, v["error"]["scope"].as_str()), (403, Some("wechat:call")), "{v}");
        assert_eq!(api.get(&format!("/api/v1/authorizers/{OA}/access-token"), &acme).await.0, 200);
        let changes = r.app.store.tenant_audit(r.tenant, 100).await.unwrap();
        let scopes_changed: Vec<Value> = changes.iter().filter(|e| e.kind == "api_key.scopes_changed").map(|e| serde_json::from_str(&e.detail).unwrap()).collect();
        assert_eq!(scopes_changed.len(), 2);
        assert_eq!(scopes_changed[0]["after"], "tokens:read", "newest first: {scopes_changed:?}");
        assert_eq!(scopes_changed[1]["before"], "tokens:read wechat:call links:write webhooks:manage");

        assert_eq!(ui(&op, &r, "revoke-api-key", &[("id", &acme_key_id.to_string())]).await.0, 200);
        let (s, v) = api.get("/api/v1/authorizers", &acme).await;
        assert_eq!((s, code(&v)), (401, "unauthorized"));
        r.app.app.as_ref().unwrap().api().keys.flush_last_used().await.unwrap();
        let key = r.app.store.list_api_keys(r.tenant).await.unwrap().into_iter().find(|k| k.id.0 == acme_key_id).unwrap();
        assert!(key.last_used_at.is_some_and(|at| at > wxhub::now_ms() - 120_000), "last use recorded: {:?}", key.last_used_at);
        r.stop().await;
    };

    rate_limits_and_tokens_not_there_yet => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |s| { s.api_rate_per_second = 1; s.api_rate_burst = 3; }).await;
        let (acme, _, _) = keys(&r).await;
        authorized(&r, MP, &[17]).await;
        let api = Api { r: &r, http: reqwest::Client::new() };
        let path = format!("/api/v1/authorizers/{MP}/access-token");
        for _ in 0..3 {
            assert_eq!(api.get(&path, &acme).await.0, 200);
        }
        let (s, h, v) = api.send(reqwest::Method::GET, &path, Some(&acme), None).await;
        assert_eq!((s, code(&v)), (429, "rate_limited"));
        let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry), "{retry}");
        // The budget refills.
        assert!(wait_for(Duration::from_secs(5), || async { api.get(&path, &acme).await.0 == 200 }).await);

        // Budgets are per key: another key of the same tenant is not held back.
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let (_, other) = admin.create_api_key("acme", "second system").await.unwrap();
        let other = other.key.expose_secret().to_owned();
        // WeChat will not issue a JS-SDK ticket: 503 with Retry-After, after the bounded wait.
        r.sim.inject_fault(FaultSpec { component: None, api: Some("getticket".into()), fault: Fault::Errcode(-1), times: None, percent: None }).unwrap();
        let (s, h, v) = api.send(reqwest::Method::POST, &format!("/api/v1/authorizers/{MP}/jssdk-config"), Some(&other), Some(r#"{"url":"https://a.example/"}"#.into())).await;
        assert_eq!((s, code(&v)), (503, "not_ready"), "{v}");
        assert!(h.contains_key("retry-after"));
        r.stop().await;
    };
}

/// `n` concurrent reports of `token`; which of them started a refresh.
async fn futures_reports(api: &Api<'_>, path: &str, key: &str, token: &str, n: usize) -> Vec<bool> {
    let body = json!({ "access_token": token }).to_string();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let req = api
            .http
            .post(api.r.app.url(path))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body.clone());
        set.spawn(async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        let (s, v) = done.unwrap();
        assert_eq!(s, 202, "{v}");
        out.push(v["refreshing"].as_bool().unwrap());
    }
    out
}
