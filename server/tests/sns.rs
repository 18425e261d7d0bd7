//! User logins for tenants' systems (issue 15, second part): `jscode2session` for mini programs and
//! component web OAuth for Official Accounts, made with the component's token, which the tenant
//! never sees; only for the tenant's own accounts; garbage refused before anything is sent.

mod common;

use std::time::Duration;

use common::rig::{rig, shared_rig, Rig, COMPONENT, MP, OA};
use common::{wait_for, TestDb};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use wxhub::admin::Admin;
use wxhub::domain::Actor;
use wxhub::simulator::Lifetimes;

async fn code(r: &Rig, appid: &str, kind: &str) -> String {
    let minted: Value = reqwest::Client::new()
        .post(format!("{}/sim/control/sns-codes", r.sim.base_url()))
        .json(&json!({ "component_appid": COMPONENT, "authorizer_appid": appid, "kind": kind }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    minted["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code: {minted}"))
        .to_owned()
}

async fn get(r: &Rig, key: &str, path: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .get(r.app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn post(r: &Rig, key: &str, path: &str, body: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(r.app.url(path))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn sns_calls(r: &Rig) -> usize {
    r.sim
        .calls()
        .iter()
        .filter(|c| c.api.starts_with("jscode2session") || c.api.starts_with("oauth2_"))
        .count()
}

on_both_databases! {
    logins_use_the_component_token_for_the_tenants_own_accounts_only => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_tenant("globex", "Globex").await.unwrap();
        let (_, acme) = admin.create_api_key("acme", "app backend").await.unwrap();
        let acme = acme.key.expose_secret().to_owned();
        let (_, globex) = admin.create_api_key("globex", "other").await.unwrap();
        let globex = globex.key.expose_secret().to_owned();
        let (_, tokens_only) = admin.create_scoped_api_key("acme", "tokens only", &["tokens:read".to_owned()]).await.unwrap();
        let tokens_only = tokens_only.key.expose_secret().to_owned();
        r.authorize(MP, &[17, 18]).await;
        r.authorize(OA, &[1]).await;
        assert!(wait_for(Duration::from_secs(10), || async {
            r.cached_authorizer_token(MP).await.is_some() && r.cached_authorizer_token(OA).await.is_some()
        }).await);
        let component_token = r.component_token().await;

        // A mini program's user logs in.
        let js_code = code(&r, MP, "js_code").await;
        let (status, session) = get(&r, &acme, &format!("/api/v1/authorizers/{MP}/jscode2session?js_code={js_code}")).await;
        assert_eq!(status, 200, "{session}");
        assert!(session["openid"].as_str().is_some_and(|o| !o.is_empty()), "{session}");
        assert!(session["session_key"].is_string());
        // WeChat's own refusal comes back as it is: a code works once.
        let (status, again) = get(&r, &acme, &format!("/api/v1/authorizers/{MP}/jscode2session?js_code={js_code}")).await;
        assert_eq!((status, again["errcode"].as_i64()), (200, Some(40163)), "{again}");

        // Web OAuth on behalf of the Official Account, and its refresh.
        let oauth = code(&r, OA, "oauth").await;
        let (status, token) = get(&r, &acme, &format!("/api/v1/authorizers/{OA}/oauth2/access-token?code={oauth}")).await;
        assert_eq!(status, 200, "{token}");
        let refresh = token["refresh_token"].as_str().unwrap().to_owned();
        assert!(token["access_token"].is_string() && token["openid"].is_string());
        let (status, renewed) = post(&r, &acme, &format!("/api/v1/authorizers/{OA}/oauth2/refresh-token"), &json!({ "refresh_token": refresh }).to_string()).await;
        assert_eq!(status, 200, "{renewed}");
        assert_eq!(renewed["openid"], token["openid"]);
        // A mini program's code is no good for web OAuth.
        let wrong = code(&r, MP, "js_code").await;
        let (_, refused) = get(&r, &acme, &format!("/api/v1/authorizers/{OA}/oauth2/access-token?code={wrong}")).await;
        assert_eq!(refused["errcode"], 40029, "{refused}");
        for answer in [&session, &token, &renewed, &refused] {
            assert!(!answer.to_string().contains(&component_token), "the component token is never handed out");
        }

        // Another tenant's key: not found, and nothing is sent. A key without wechat:call: 403.
        let sent = sns_calls(&r);
        let fresh = code(&r, MP, "js_code").await;
        for (key, path, want) in [
            (&globex, format!("/api/v1/authorizers/{MP}/jscode2session?js_code={fresh}"), 404),
            (&globex, format!("/api/v1/authorizers/{OA}/oauth2/access-token?code={fresh}"), 404),
            (&tokens_only, format!("/api/v1/authorizers/{MP}/jscode2session?js_code={fresh}"), 403),
        ] {
            assert_eq!(get(&r, key, &path).await.0, want, "{path}");
        }
        let (status, _) = post(&r, &globex, &format!("/api/v1/authorizers/{OA}/oauth2/refresh-token"), &json!({ "refresh_token": refresh }).to_string()).await;
        assert_eq!(status, 404);

        // Garbage: refused with the field named, nothing sent.
        for (path, field) in [
            (format!("/api/v1/authorizers/{MP}/jscode2session"), "js_code"),
            (format!("/api/v1/authorizers/{MP}/jscode2session?js_code="), "js_code"),
            (format!("/api/v1/authorizers/{MP}/jscode2session?js_code=a%20b"), "js_code"),
            (format!("/api/v1/authorizers/{MP}/jscode2session?js_code=..%2Fx"), "js_code"),
            (format!("/api/v1/authorizers/{MP}/jscode2session?js_code={}", "a".repeat(600)), "js_code"),
            (format!("/api/v1/authorizers/{MP}/jscode2session?js_code=x&js_code=y"), "js_code"),
            (format!("/api/v1/authorizers/{MP}/jscode2session?js_code=x&component_access_token=steal"), "component_access_token"),
            (format!("/api/v1/authorizers/{MP}/jscode2session?js_code=x&appid=wx0000000000000000"), "appid"),
            (format!("/api/v1/authorizers/{OA}/oauth2/access-token?code=%00"), "code"),
        ] {
            let (status, err) = get(&r, &acme, &path).await;
            assert_eq!((status, err["error"]["field"].as_str()), (422, Some(field)), "{path}: {err}");
        }
        for body in ["", "{}", "[]", "{\"refresh_token\": 5}", "{\"refresh_token\": \"a b\"}", "{\"refresh_token\": \"x\", \"extra\": 1}"] {
            let (status, _) = post(&r, &acme, &format!("/api/v1/authorizers/{OA}/oauth2/refresh-token"), body).await;
            assert_eq!(status, 422, "{body:?}");
        }
        assert_eq!(get(&r, &acme, "/api/v1/authorizers/not-an-appid/jscode2session?js_code=x").await.0, 404);
        assert_eq!(sns_calls(&r), sent, "nothing refused reached WeChat");

        // The simulator plays WeChat's rules for callers that skip wxhub, and refuses garbage
        // requests for codes.
        let sim = r.sim.base_url();
        let http = reqwest::Client::new();
        let direct = |q: String| {
            let http = http.clone();
            let url = format!("{sim}/sns/component/jscode2session?{q}");
            async move { http.get(url).send().await.unwrap().json::<Value>().await.unwrap()["errcode"].as_i64() }
        };
        let js = code(&r, MP, "js_code").await;
        for (q, want) in [
            (format!("appid={MP}&js_code={js}&grant_type=authorization_code&component_appid={COMPONENT}"), 41001),
            (format!("appid={MP}&js_code={js}&grant_type=authorization_code&component_access_token={component_token}"), 41002),
            (format!("appid={MP}&js_code={js}&grant_type=password&component_appid={COMPONENT}&component_access_token={component_token}"), 40097),
            (format!("appid={OA}&js_code={js}&grant_type=authorization_code&component_appid={COMPONENT}&component_access_token={component_token}"), 40029),
            (format!("appid={MP}&grant_type=authorization_code&component_appid={COMPONENT}&component_access_token={component_token}"), 41008),
        ] {
            assert_eq!(direct(q.clone()).await, Some(want), "{q}");
        }
        for (body, want) in [
            (json!({ "component_appid": COMPONENT, "authorizer_appid": MP, "kind": "sms" }), 422),
            (json!({ "component_appid": COMPONENT, "authorizer_appid": OA, "kind": "js_code" }), 404),
            (json!({ "component_appid": COMPONENT, "authorizer_appid": "wx_nobody_000000", "kind": "oauth" }), 404),
            (json!({ "component_appid": COMPONENT, "authorizer_appid": MP, "kind": "js_code", "extra": 1 }), 400),
        ] {
            let status = http.post(format!("{sim}/sim/control/sns-codes")).json(&body).send().await.unwrap().status().as_u16();
            assert_eq!(status, want, "{body}");
        }
        r.stop().await;
    };

    on_a_shared_component_each_tenant_logs_users_in_only_for_its_own_accounts => async |db: &TestDb| {
        // The component token is every tenant's at once here: only the account's tenant decides.
        let r = shared_rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let globex_id = admin.create_tenant("globex", "Globex").await.unwrap().id;
        let (_, acme) = admin.create_api_key("acme", "app backend").await.unwrap();
        let acme = acme.key.expose_secret().to_owned();
        let (_, globex) = admin.create_api_key("globex", "web backend").await.unwrap();
        let globex = globex.key.expose_secret().to_owned();
        r.authorize(MP, &[17, 18]).await;
        r.authorize_through(globex_id, OA, &[1]).await;
        assert!(wait_for(Duration::from_secs(10), || async {
            r.cached_authorizer_token(MP).await.is_some() && r.cached_authorizer_token(OA).await.is_some()
        }).await);
        let component_token = r.component_token().await;

        // Each tenant crosses over: not found, and nothing is sent to WeChat.
        let sent = sns_calls(&r);
        let js_code = code(&r, MP, "js_code").await;
        let oauth = code(&r, OA, "oauth").await;
        assert_eq!(get(&r, &globex, &format!("/api/v1/authorizers/{MP}/jscode2session?js_code={js_code}")).await.0, 404);
        assert_eq!(get(&r, &acme, &format!("/api/v1/authorizers/{OA}/oauth2/access-token?code={oauth}")).await.0, 404);
        assert_eq!(post(&r, &acme, &format!("/api/v1/authorizers/{OA}/oauth2/refresh-token"), &json!({ "refresh_token": "r" }).to_string()).await.0, 404);
        assert_eq!(sns_calls(&r), sent, "refused before WeChat");

        // Each on its own account: WeChat's answer, never the shared component's token.
        let (status, session) = get(&r, &acme, &format!("/api/v1/authorizers/{MP}/jscode2session?js_code={js_code}")).await;
        assert_eq!(status, 200, "{session}");
        assert!(session["openid"].as_str().is_some_and(|o| !o.is_empty()), "{session}");
        let (status, token) = get(&r, &globex, &format!("/api/v1/authorizers/{OA}/oauth2/access-token?code={oauth}")).await;
        assert_eq!(status, 200, "{token}");
        assert!(token["access_token"].is_string(), "{token}");
        for answer in [&session, &token] {
            assert!(!answer.to_string().contains(&component_token), "the component token is never handed out");
        }
        r.stop().await;
    };
}
