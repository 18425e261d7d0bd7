//! The WeChat gateway over real HTTP: a tenant's system calls WeChat through wxhub with its API
//! key and never holds a token. The simulator is WeChat.

mod common;

use std::time::Duration;

use common::rig::{rig, Rig, COMPONENT, OA};
use common::{wait_for, TestDb};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wxhub::admin::Admin;
use wxhub::domain::Actor;
use wxhub::simulator::{Fault, FaultSpec, Lifetimes};

async fn keys(r: &Rig) -> (String, String) {
    let admin = Admin {
        store: r.app.store.clone(),
        actor: Actor::Cli,
    };
    admin.create_tenant("globex", "Globex").await.unwrap();
    let (_, acme) = admin.create_api_key("acme", "orders").await.unwrap();
    let (_, globex) = admin.create_api_key("globex", "other").await.unwrap();
    (
        acme.key.expose_secret().to_owned(),
        globex.key.expose_secret().to_owned(),
    )
}

async fn authorized(r: &Rig, appid: &str) {
    let location = r.authorize(appid, &[1, 2, 8, 15]).await;
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

fn calls_of(r: &Rig, api: &str) -> usize {
    r.sim.calls().iter().filter(|c| c.api == api).count()
}

/// A request written byte for byte (an HTTP client would resolve `..` before sending, and would not
/// declare a length it does not send); returns the answer's status.
async fn raw_request(r: &Rig, method: &str, target: &str, key: &str, extra_headers: &str) -> u16 {
    let addr = r.app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n{extra_headers}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn raw_status(r: &Rig, target: &str, key: &str) -> u16 {
    raw_request(r, "GET", target, key, "").await
}

on_both_databases! {
    json_and_query_calls_go_through_with_the_accounts_token => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let (acme, globex) = keys(&r).await;
        authorized(&r, OA).await;
        let http = reqwest::Client::new();
        let url = |rest: &str| r.app.url(&format!("/api/v1/authorizers/{OA}/wechat/{rest}"));

        // A GET with a query string; a token the caller slips in is dropped for wxhub's.
        let res = http.get(url("cgi-bin/user/info?openid=o_follower&lang=zh_CN&access_token=stolen"))
            .bearer_auth(&acme).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-wxhub-gateway"], "1");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["openid"], "o_follower", "{v}");
        assert_eq!(v["subscribe"], 1);

        // A POST with a JSON body, answered as WeChat answered it.
        let body = json!({"touser": "o_follower", "template_id": "tpl_1", "data": {"first": {"value": "hi"}}});
        let res = http.post(url("cgi-bin/message/template/send")).bearer_auth(&acme).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["errcode"], 0, "{v}");
        assert!(v["msgid"].as_i64().is_some());
        // WeChat's own error comes back as it is, with its status.
        let res = http.post(url("cgi-bin/message/template/send")).bearer_auth(&acme).json(&json!({"touser": "o"})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["errcode"], 40037);
        // An API the simulator does not have: its 404 comes back.
        let res = http.get(url("cgi-bin/no/such/api")).bearer_auth(&acme).send().await.unwrap();
        assert_eq!(res.status(), 404);

        // Another tenant's key, no key, and an account nobody has: not found / unauthorized.
        let res = http.get(url("cgi-bin/user/info?openid=o")).bearer_auth(&globex).send().await.unwrap();
        assert_eq!(res.status(), 404);
        let res = http.get(url("cgi-bin/user/info?openid=o")).send().await.unwrap();
        assert_eq!(res.status(), 401);
        let res = http.get(r.app.url("/api/v1/authorizers/wx00000000000000ff/wechat/cgi-bin/user/info")).bearer_auth(&acme).send().await.unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(calls_of(&r, "user_info"), 1, "refused calls never reach WeChat");

        // A garbage query string goes through as WeChat would parse it; the token is still wxhub's.
        let res = http.get(url("cgi-bin/user/info?%zz=%ff&&=&openid=o_x%20y&access_token"))
            .bearer_auth(&acme).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["openid"], "o_x y");

        // Counted by account, path and errcode.
        let metrics = r.engine().metrics.render();
        assert!(metrics.contains(&format!("wxhub_gateway_calls_total{{account=\"{OA}\",path=\"cgi-bin/user/info\",errcode=\"none\"}} 2")), "{metrics}");
        assert!(metrics.contains("path=\"cgi-bin/message/template/send\",errcode=\"40037\"} 1"), "{metrics}");
        assert!(!metrics.contains("stolen"));
        r.stop().await;
    };

    a_refused_token_is_reported_renewed_and_the_call_sent_once_more => async |db: &TestDb| {
        // Every report may force a refresh (the product's floor is a second between two).
        let r = rig(db, Lifetimes::default(), |s| s.forced_refresh_interval_seconds = 0).await;
        let (acme, _) = keys(&r).await;
        authorized(&r, OA).await;
        let before = r.cached_authorizer_token(OA).await.unwrap();
        let http = reqwest::Client::new();
        r.sim.inject_fault(FaultSpec { component: None, api: Some("template_send".into()), fault: Fault::Errcode(40001), times: Some(1), percent: None }).unwrap();
        let body = json!({"touser": "o_follower", "template_id": "tpl_1"});
        let res = http.post(r.app.url(&format!("/api/v1/authorizers/{OA}/wechat/cgi-bin/message/template/send")))
            .bearer_auth(&acme).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["errcode"], 0, "the second try succeeded: {v}");
        assert_eq!(calls_of(&r, "template_send"), 2);
        let after = r.cached_authorizer_token(OA).await.unwrap();
        assert_ne!(before, after, "the engine renewed the refused token");

        // Refused twice: WeChat's answer goes back, and there is no third try.
        r.sim.inject_fault(FaultSpec { component: None, api: Some("template_send".into()), fault: Fault::Errcode(42001), times: Some(2), percent: None }).unwrap();
        let res = http.post(r.app.url(&format!("/api/v1/authorizers/{OA}/wechat/cgi-bin/message/template/send")))
            .bearer_auth(&acme).json(&body).send().await.unwrap();
        assert_eq!(res.json::<Value>().await.unwrap()["errcode"], 42001);
        assert_eq!(calls_of(&r, "template_send"), 4);

        // The console shows the calls: newest first, with errcode, retry, duration and key.
        r.app.app.as_ref().unwrap().api().call_log.flush().await.unwrap();
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_user(&wxhub::auth::PasswordHasher::new(2), "viewer@acme.test", "tenant-viewer", Some("acme"), &secrecy::SecretString::from("correct horse battery")).await.unwrap();
        let viewer = common::rig::signed_in(&r, "viewer@acme.test").await;
        let (status, calls) = common::rig::ui(&viewer, &r, "account-gateway-calls", &[("appid", OA)]).await;
        assert_eq!(status, 200, "{calls}");
        let calls = calls.as_array().unwrap();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!((calls[0]["errcode"].as_i64(), calls[0]["retried"].as_bool()), (Some(42001), Some(true)));
        assert_eq!((calls[1]["errcode"].as_i64(), calls[1]["retried"].as_bool(), calls[1]["status"].as_i64()), (Some(0), Some(true), Some(200)));
        assert_eq!(calls[1]["path"], "cgi-bin/message/template/send");
        assert_eq!(calls[1]["method"], "POST");
        assert!(calls[1]["key"].as_str().unwrap().starts_with("orders (wxh_"), "{}", calls[1]["key"]);
        assert!(!serde_json::to_string(&calls).unwrap().contains("tpl_1"), "bodies are not kept");
        assert_eq!(common::rig::ui(&viewer, &r, "account-gateway-calls", &[("appid", "wx_not_ours_00001")]).await.0, 404);
        r.stop().await;
    };

    a_two_megabyte_upload_streams_through_and_survives_a_retry => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let (acme, _) = keys(&r).await;
        authorized(&r, OA).await;
        let http = reqwest::Client::new();
        let file: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let upload = |bytes: Vec<u8>| {
            let part = reqwest::multipart::Part::bytes(bytes).file_name("photo.jpg").mime_str("image/jpeg").unwrap();
            http.post(r.app.url(&format!("/api/v1/authorizers/{OA}/wechat/cgi-bin/media/upload?type=image")))
                .bearer_auth(&acme)
                .multipart(reqwest::multipart::Form::new().part("media", part))
        };
        let res = upload(file.clone()).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        let media_id = v["media_id"].as_str().unwrap_or_else(|| panic!("{v}")).to_owned();
        assert_eq!(v["type"], "image");

        // The same file back, bytes and content type as WeChat sent them.
        let res = http.get(r.app.url(&format!("/api/v1/authorizers/{OA}/wechat/cgi-bin/media/get?media_id={media_id}")))
            .bearer_auth(&acme).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains("photo.jpg"));
        assert!(res.bytes().await.unwrap() == file, "the file came back whole");

        // WeChat refuses the token after taking the whole upload: the same bytes go again.
        r.sim.inject_fault(FaultSpec { component: None, api: Some("media_upload".into()), fault: Fault::Errcode(40001), times: Some(1), percent: None }).unwrap();
        let uploads = calls_of(&r, "media_upload");
        let res = upload(file.clone()).send().await.unwrap();
        let v: Value = res.json().await.unwrap();
        let second = v["media_id"].as_str().unwrap_or_else(|| panic!("{v}")).to_owned();
        assert_eq!(calls_of(&r, "media_upload"), uploads + 2);
        let kept = r.sim.with_state(|s, _| s.media.get(&second).map(|m| m.bytes.clone())).unwrap();
        assert!(kept == file, "the retried upload is the same file");

        // Bigger than the gateway takes: refused from the declared length, before anything is sent.
        let before = calls_of(&r, "media_upload");
        let target = format!("/api/v1/authorizers/{OA}/wechat/cgi-bin/media/upload?type=video");
        let status = raw_request(&r, "POST", &target, &acme, "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 99999999999\r\n").await;
        assert_eq!(status, 413);
        // A body that says it is multipart and is not: WeChat's (the simulator's) refusal comes back.
        let res = http.post(r.app.url(&target)).bearer_auth(&acme)
            .header("content-type", "multipart/form-data; boundary=nothing").body("no parts here").send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["errcode"], 41005);
        assert_eq!(calls_of(&r, "media_upload"), before + 1, "only the malformed one reached WeChat");
        assert!(r.sim.with_state(|s, _| s.media.len()) == 2, "nothing stored for either");
        r.stop().await;
    };

    garbage_paths_never_leave_the_api_base => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let (acme, _) = keys(&r).await;
        authorized(&r, OA).await;
        // What the engine calls by itself after an authorization (tokens, profile, menu) may
        // still be under way; only the rest could have come from the gateway.
        let gateway_calls = || {
            r.sim.calls().iter().filter(|c| !matches!(c.api.as_str(),
                "api_component_token" | "api_authorizer_token" | "api_get_authorizer_info"
                | "api_query_auth" | "api_create_preauthcode" | "get_current_selfmenu_info" | "menu/get"
            )).count()
        };
        let before = gateway_calls();
        let prefix = format!("/api/v1/authorizers/{OA}/wechat/");
        for bad in [
            "../../../../etc/passwd", "cgi-bin/../../x", "./cgi-bin/user/info", "cgi-bin//user/info",
            "cgi-bin%2Fuser%2Finfo", "%2e%2e/x", "http://evil.example/x", "//evil.example/x",
            "evil.example:80/x", "user@evil.example/x", "cgi-bin/user/info%00", "cgi-bin/%0d%0aHost:evil",
            "cgi-bin\\..\\x", "",
        ] {
            let status = raw_status(&r, &format!("{prefix}{bad}"), &acme).await;
            assert!((400..500).contains(&status), "{bad:?} answered {status}");
        }
        let long = "a/".repeat(200);
        assert_eq!(raw_status(&r, &format!("{prefix}{long}x"), &acme).await, 422);
        assert_eq!(gateway_calls(), before, "nothing reached WeChat");
        r.stop().await;
    };

    the_component_gateway_is_for_the_owning_tenant_only => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let (acme, globex) = keys(&r).await;
        authorized(&r, OA).await;
        let http = reqwest::Client::new();
        assert!(
            wait_for(Duration::from_secs(10), || async { r.engine().component_token(r.component, wxhub::now_ms()).is_some() }).await,
            "no component token"
        );
        let url = r.app.url(&format!("/api/v1/components/{COMPONENT}/wechat/cgi-bin/component/api_get_authorizer_list"));
        let body = json!({"component_appid": COMPONENT, "offset": 0, "count": 100});
        let res = http.post(&url).bearer_auth(&acme).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["total_count"], 1, "{v}");
        let res = http.post(&url).bearer_auth(&globex).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 404, "another tenant's component is not found");
        r.stop().await;
    };
}

#[test]
fn gateway_paths_are_checked_before_any_url_is_made() {
    use wxhub::wechat::gateway::{forward_query, GatewayPath};
    let base: url::Url = "http://127.0.0.1:9/prefix".parse().unwrap();
    let ok = GatewayPath::parse("cgi-bin/message/custom/send").unwrap();
    assert_eq!(
        ok.url_on(&base, "access_token=t").unwrap().as_str(),
        "http://127.0.0.1:9/prefix/cgi-bin/message/custom/send?access_token=t"
    );
    for bad in [
        "", "..", "a/../b", "a//b", "a/./b", "a%2Fb", "http:", "a b", "a?b", "a#b", "é",
    ] {
        assert!(GatewayPath::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        forward_query(
            Some("openid=o&access_token=x&component_access_token=y&lang=zh_CN"),
            "access_token",
            "mine"
        ),
        "openid=o&lang=zh_CN&access_token=mine"
    );
    assert_eq!(
        forward_query(None, "component_access_token", "a&b"),
        "component_access_token=a%26b"
    );
}
