//! The simulator's custom menus (PROTOCOL.md §12a): the seeded backend menu, WeChat's validation of
//! `menu/create` with each errcode, `menu/get` / `menu/delete` / conditional menus, permission set
//! 15, and taps on the phone — events through the platform's message URL, and backend-only items
//! that WeChat answers itself until a platform holds message management.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::post;
use serde_json::{json, Value};
use wxhub::simulator::{ComponentSeed, FaultSpec, Seed, SimSettings, Simulator};
use wxhub::wechat::api::{ClientSettings, WechatClient};
use wxhub::wechat::crypto::MsgCrypt;
use wxhub::wechat::xml::parse_envelope;

const COMPONENT: &str = "wx0c0c0c0c0c0c0c01";
const OA: &str = "wx5a1c0ffee0000001";
const SUBSCRIPTION: &str = "wx5a1c0ffee0000002";
const MP: &str = "wx5a1c0ffee0000003";

/// A stand-in for the platform's message URL: decrypts what WeChat relays and answers `success`.
#[derive(Clone)]
struct Platform {
    crypto: MsgCrypt,
    received: Arc<Mutex<Vec<String>>>,
}

async fn message(
    State(p): State<Platform>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> &'static str {
    let envelope = parse_envelope(&body).expect("an envelope");
    let plain = p
        .crypto
        .verify_and_decrypt(
            &q["timestamp"],
            &q["nonce"],
            &q["msg_signature"],
            &envelope.encrypt,
        )
        .expect("decrypts with the component's key");
    p.received.lock().unwrap().push(plain.message);
    "success"
}

async fn notify() -> &'static str {
    "success"
}

struct Rig {
    sim: Simulator,
    client: WechatClient,
    seed: ComponentSeed,
    http: reqwest::Client,
    received: Arc<Mutex<Vec<String>>>,
}

/// A simulator with the demo accounts and one component; `listening` puts a platform behind its
/// message URL, otherwise the URL points at a closed port.
async fn rig(listening: bool) -> Rig {
    rig_with(listening, None).await
}

async fn rig_with(listening: bool, state_file: Option<std::path::PathBuf>) -> Rig {
    let mut seed = ComponentSeed::generate(COMPONENT, "Menu Platform", None);
    let received = Arc::new(Mutex::new(Vec::new()));
    let addr: SocketAddr = if listening {
        let platform = Platform {
            crypto: MsgCrypt::new(&seed.token, &seed.encoding_aes_key, &seed.appid).unwrap(),
            received: received.clone(),
        };
        let app = axum::Router::new()
            .route("/notify", post(notify))
            .route("/message/{appid}", post(message))
            .with_state(platform);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    } else {
        // Bound then dropped: nothing listens there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    seed.notify_url = Some(format!("http://{addr}/notify"));
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimSettings {
            ticket_interval: Duration::from_secs(3600),
            push_attempts: 1,
            state_file,
            ..Default::default()
        },
        Seed {
            components: vec![seed.clone()],
            accounts: Seed::demo_accounts(),
        },
    )
    .await
    .unwrap();
    let client = WechatClient::new(&ClientSettings {
        api_base: sim.base_url().parse().unwrap(),
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
    })
    .unwrap();
    Rig {
        sim,
        client,
        seed,
        http: reqwest::Client::new(),
        received,
    }
}

impl Rig {
    /// Authorizes `account` with `funcs` and returns an authorizer access token.
    async fn access(&self, account: &str, funcs: &[i64]) -> String {
        let ticket = self.sim.push_ticket_now(COMPONENT).unwrap();
        let token = self
            .client
            .component_token(COMPONENT, &self.seed.secret, &ticket)
            .await
            .unwrap()
            .component_access_token
            .into_inner();
        let (code, _) = self.sim.authorize(COMPONENT, account, funcs).unwrap();
        let info = self
            .client
            .query_auth(&token, COMPONENT, &code)
            .await
            .unwrap();
        info.access_token.unwrap().into_inner()
    }

    /// Calls `/cgi-bin/{api}`: a GET without a body, a POST with one.
    async fn call(&self, api: &str, token: &str, body: Option<Value>) -> Value {
        let url = format!("{}/cgi-bin/{api}?access_token={token}", self.sim.base_url());
        let request = match body {
            None => self.http.get(url),
            Some(b) => self.http.post(url).body(b.to_string()),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{api}");
        response.json().await.unwrap()
    }

    async fn create(&self, token: &str, menu: Value) -> i64 {
        errcode(&self.call("menu/create", token, Some(menu)).await)
    }

    async fn tap(&self, account: &str, name: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/sim/control/menu-tap", self.sim.base_url()))
            .json(&json!({ "authorizer_appid": account, "name": name }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn menus(&self, account: &str) -> Value {
        self.http
            .get(format!(
                "{}/sim/control/menus/{account}",
                self.sim.base_url()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The account's conversation lines as (from, kind, content).
    fn lines(&self, account: &str) -> Vec<(String, String, String)> {
        self.sim
            .conversation(account)
            .into_iter()
            .map(|l| (l.from.to_owned(), l.kind, l.content))
            .collect()
    }
}

/// The errcode of an answer (0 when it has none, as a success with data).
fn errcode(v: &Value) -> i64 {
    let code = v.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    if code != 0 {
        let msg = v["errmsg"].as_str().unwrap_or_default();
        assert!(msg.contains(" rid: "), "errmsg like WeChat's: {v}");
        assert!(
            !msg.starts_with("error rid"),
            "errcode {code} has a message: {v}"
        );
    }
    code
}

fn click(name: &str, key: &str) -> Value {
    json!({ "type": "click", "name": name, "key": key })
}

fn view(name: &str, url: &str) -> Value {
    json!({ "type": "view", "name": name, "url": url })
}

/// A menu with one top-level button.
fn one(button: Value) -> Value {
    json!({ "button": [button] })
}

/// A menu with one parent holding `subs`.
fn parent(subs: Vec<Value>) -> Value {
    json!({ "button": [{ "name": "Parent", "sub_button": subs }] })
}

#[tokio::test]
async fn the_seeded_backend_menu_has_every_item_type_within_the_limits() {
    let r = rig(false).await;
    let token = r.access(OA, &[15]).await;
    let selfmenu = r.call("get_current_selfmenu_info", &token, None).await;
    assert_eq!(selfmenu["is_menu_open"], 1);
    let buttons = selfmenu["selfmenu_info"]["button"].as_array().unwrap();
    assert!(buttons.len() <= 3);
    assert_eq!(buttons[0]["name"], "点单 Order");
    let mut types = Vec::new();
    for b in buttons {
        assert!(b["name"].as_str().unwrap().len() <= 16, "{b}");
        match b["sub_button"]["list"].as_array() {
            Some(subs) => {
                assert!(!subs.is_empty() && subs.len() <= 5);
                for s in subs {
                    assert!(s["name"].as_str().unwrap().len() <= 60, "{s}");
                    types.push(s["type"].as_str().unwrap().to_owned());
                }
            }
            None => types.push(b["type"].as_str().unwrap().to_owned()),
        }
    }
    for kind in [
        "text",
        "img",
        "voice",
        "video",
        "news",
        "view",
        "miniprogram",
        "click",
    ] {
        assert!(types.iter().any(|t| t == kind), "no {kind} item: {types:?}");
    }
    let news = buttons
        .iter()
        .flat_map(|b| b["sub_button"]["list"].as_array().into_iter().flatten())
        .find(|s| s["type"] == "news")
        .unwrap();
    let article = &news["news_info"]["list"][0];
    for field in [
        "title",
        "author",
        "digest",
        "show_cover",
        "cover_url",
        "content_url",
        "source_url",
    ] {
        assert!(article.get(field).is_some(), "news article lacks {field}");
    }
    // The subscription account has none; a backend menu is not an API menu.
    let view = r.menus(SUBSCRIPTION).await;
    assert_eq!(
        view,
        json!({ "backend": null, "api": null, "conditional": [] })
    );
    assert_eq!(
        errcode(&r.call("menu/get", &token, None).await),
        46003,
        "menu/get knows only menus made with the API"
    );
    r.sim.stop().await;
}

#[tokio::test]
async fn menu_create_answers_each_of_wechats_errcodes() {
    let r = rig(false).await;
    let token = r.access(OA, &[15]).await;
    let long_url = format!("https://x.example/{}", "a".repeat(1024));
    let cases: Vec<(&str, Value, i64)> = vec![
        ("no button", json!({ "menu": [] }), 47001),
        ("button not a list", json!({ "button": {} }), 47001),
        ("no buttons", json!({ "button": [] }), 40016),
        (
            "four buttons",
            json!({ "button": [click("a", "1"), click("b", "2"), click("c", "3"), click("d", "4")] }),
            40016,
        ),
        (
            "six sub-buttons",
            parent((0..6).map(|i| click(&format!("s{i}"), "K")).collect()),
            40023,
        ),
        (
            "a sub-button with sub-buttons",
            parent(vec![
                json!({ "name": "deep", "sub_button": [click("x", "K")] }),
            ]),
            40022,
        ),
        (
            "neither type nor sub-buttons",
            one(json!({ "name": "Lonely" })),
            41007,
        ),
        (
            "backend-only type on top",
            one(json!({ "type": "text", "name": "T", "value": "hi" })),
            40017,
        ),
        (
            "unknown type on top",
            one(json!({ "type": "nope", "name": "T", "key": "K" })),
            40017,
        ),
        (
            "backend-only type below",
            parent(vec![json!({ "type": "news", "name": "N", "value": "M" })]),
            40024,
        ),
        (
            "backend-only img below",
            parent(vec![json!({ "type": "img", "name": "I", "value": "M" })]),
            40024,
        ),
        ("empty name on top", one(click("", "K")), 40018),
        (
            "17-byte name on top",
            one(click("一二三四五六", "K")),
            40018,
        ),
        ("empty name below", parent(vec![click("", "K")]), 40025),
        (
            "61-byte name below",
            parent(vec![click(&"n".repeat(61), "K")]),
            40025,
        ),
        (
            "no key on top",
            one(json!({ "type": "click", "name": "C" })),
            40019,
        ),
        (
            "129-byte key on top",
            one(click("C", &"k".repeat(129))),
            40019,
        ),
        (
            "empty key below",
            parent(vec![
                json!({ "type": "scancode_push", "name": "S", "key": "" }),
            ]),
            40026,
        ),
        (
            "no url on top",
            one(json!({ "type": "view", "name": "V" })),
            40020,
        ),
        ("1025+-byte url on top", one(view("V", &long_url)), 40020),
        ("empty url below", parent(vec![view("V", "")]), 40027),
        ("ftp url on top", one(view("V", "ftp://x.example/")), 40055),
        (
            "url without a scheme below",
            parent(vec![view("V", "x.example/a")]),
            40054,
        ),
        (
            "mini program without appid",
            one(
                json!({ "type": "miniprogram", "name": "M", "url": "https://x.example", "pagepath": "p/i" }),
            ),
            40097,
        ),
        (
            "mini program without pagepath",
            one(
                json!({ "type": "miniprogram", "name": "M", "url": "https://x.example", "appid": MP }),
            ),
            40097,
        ),
        (
            "mini program without url",
            one(json!({ "type": "miniprogram", "name": "M", "appid": MP, "pagepath": "p/i" })),
            40020,
        ),
        (
            "media_id without media_id",
            one(json!({ "type": "media_id", "name": "M" })),
            40097,
        ),
        (
            "view_limited without media_id",
            parent(vec![json!({ "type": "view_limited", "name": "M" })]),
            40097,
        ),
        (
            "article_id without article_id",
            one(json!({ "type": "article_id", "name": "A" })),
            40097,
        ),
        (
            "article_view_limited without article_id",
            one(json!({ "type": "article_view_limited", "name": "A", "media_id": "M" })),
            40097,
        ),
    ];
    for (what, menu, expected) in cases {
        assert_eq!(r.create(&token, menu).await, expected, "{what}");
    }
    // Not JSON at all.
    let response = r
        .http
        .post(format!(
            "{}/cgi-bin/menu/create?access_token={token}",
            r.sim.base_url()
        ))
        .body("{\"button\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(errcode(&response.json().await.unwrap()), 47001);
    // Nothing refused was kept.
    assert_eq!(r.menus(OA).await["api"], Value::Null);
    // The limits themselves are fine: 16 and 60 bytes, 5 sub-buttons, 128-byte key, every type.
    let full = json!({ "button": [
        click("一二三四五A", &"k".repeat(128)),
        { "name": "Parent", "sub_button": [
            click(&"n".repeat(60), "K"),
            view("V", "HTTPS://x.example/"),
            { "type": "miniprogram", "name": "M", "url": "http://x.example", "appid": MP, "pagepath": "p/i" },
            { "type": "pic_weixin", "name": "P", "key": "PIC" },
            { "type": "location_select", "name": "L", "key": "LOC" },
        ]},
        { "name": "Material", "sub_button": [
            { "type": "media_id", "name": "MI", "media_id": "MEDIA" },
            { "type": "view_limited", "name": "VL", "media_id": "MEDIA" },
            { "type": "article_id", "name": "AI", "article_id": "ART" },
            { "type": "article_view_limited", "name": "AV", "article_id": "ART" },
            { "type": "scancode_waitmsg", "name": "SW", "key": "SCAN" },
        ]},
    ]});
    assert_eq!(r.create(&token, full).await, 0);
    r.sim.stop().await;
}

#[tokio::test]
async fn create_get_selfmenu_and_delete() {
    let r = rig(false).await;
    let token = r.access(OA, &[15]).await;
    let menu = json!({ "button": [
        { "type": "click", "name": "今日 Today", "key": "TODAY", "ignored": true },
        { "name": "更多", "sub_button": [
            view("官网", "https://coffee.example.com/"),
            { "type": "miniprogram", "name": "小程序", "url": "https://coffee.example.com/", "appid": MP, "pagepath": "pages/a" },
        ]},
    ]});
    assert_eq!(r.create(&token, menu).await, 0);
    let got = r.call("menu/get", &token, None).await;
    assert_eq!(
        got,
        json!({ "menu": { "button": [
            { "type": "click", "name": "今日 Today", "key": "TODAY", "sub_button": [] },
            { "name": "更多", "sub_button": [
                { "type": "view", "name": "官网", "url": "https://coffee.example.com/", "sub_button": [] },
                { "type": "miniprogram", "name": "小程序", "url": "https://coffee.example.com/", "appid": MP, "pagepath": "pages/a", "sub_button": [] },
            ]},
        ]}}),
        "WeChat keeps the known fields, and shows no conditionalmenu when there is none"
    );
    let selfmenu = r.call("get_current_selfmenu_info", &token, None).await;
    assert_eq!(
        selfmenu,
        json!({ "is_menu_open": 1, "selfmenu_info": { "button": [
            { "type": "click", "name": "今日 Today", "key": "TODAY" },
            { "name": "更多", "sub_button": { "list": [
                { "type": "view", "name": "官网", "url": "https://coffee.example.com/" },
                { "type": "miniprogram", "name": "小程序", "url": "https://coffee.example.com/", "appid": MP, "pagepath": "pages/a" },
            ]}},
        ]}})
    );
    // A second create replaces the first.
    assert_eq!(r.create(&token, one(click("Only", "ONLY"))).await, 0);
    let got = r.call("menu/get", &token, None).await;
    assert_eq!(got["menu"]["button"].as_array().unwrap().len(), 1);
    let view = r.menus(OA).await;
    assert_eq!(view["api"]["button"][0]["key"], "ONLY");
    assert_eq!(
        view["backend"]["button"][0]["name"], "点单 Order",
        "the backend menu is still known"
    );

    let deleted = r.call("menu/delete", &token, None).await;
    assert_eq!(deleted, json!({ "errcode": 0, "errmsg": "ok" }));
    assert_eq!(errcode(&r.call("menu/get", &token, None).await), 46003);
    assert_eq!(
        r.call("get_current_selfmenu_info", &token, None).await,
        json!({ "is_menu_open": 0 }),
        "delete removes the backend menu too"
    );
    assert_eq!(
        r.menus(OA).await,
        json!({ "backend": null, "api": null, "conditional": [] })
    );
    // Deleting nothing is fine too; a POST without a body as well.
    let response = r
        .http
        .post(format!(
            "{}/cgi-bin/menu/delete?access_token={token}",
            r.sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(errcode(&response.json().await.unwrap()), 0);
    r.sim.stop().await;
}

#[tokio::test]
async fn conditional_menus_need_a_default_menu_and_a_rule() {
    let r = rig(false).await;
    let token = r.access(OA, &[15]).await;
    let rule = json!({ "tag_id": "2", "sex": "", "client_platform_type": "" });
    let conditional = |rule: Value| json!({ "button": [click("VIP", "VIP")], "matchrule": rule });
    assert_eq!(errcode(&r.call("menu/delete", &token, None).await), 0);
    assert_eq!(
        errcode(
            &r.call(
                "menu/addconditional",
                &token,
                Some(conditional(rule.clone()))
            )
            .await
        ),
        65303,
        "no default menu yet"
    );
    assert_eq!(r.create(&token, one(click("Default", "D"))).await, 0);
    for empty in [Value::Null, json!({}), json!({ "sex": "", "country": "" })] {
        let mut body = conditional(empty.clone());
        if empty.is_null() {
            body.as_object_mut().unwrap().remove("matchrule");
        }
        assert_eq!(
            errcode(&r.call("menu/addconditional", &token, Some(body)).await),
            65304,
            "{empty}"
        );
    }
    // Its buttons are checked as menu/create checks them.
    let bad =
        json!({ "button": [{ "type": "text", "name": "T", "value": "x" }], "matchrule": rule });
    assert_eq!(
        errcode(&r.call("menu/addconditional", &token, Some(bad)).await),
        40017
    );
    let added = r
        .call(
            "menu/addconditional",
            &token,
            Some(conditional(rule.clone())),
        )
        .await;
    let menuid = added["menuid"].as_str().unwrap().to_owned();
    assert!(
        !menuid.is_empty() && menuid.chars().all(|c| c.is_ascii_digit()),
        "{added}"
    );
    let got = r.call("menu/get", &token, None).await;
    assert_eq!(got["menu"]["button"][0]["key"], "D");
    assert_eq!(
        got["conditionalmenu"],
        json!([{ "button": [{ "type": "click", "name": "VIP", "key": "VIP", "sub_button": [] }], "matchrule": rule, "menuid": menuid }])
    );
    // A new default menu leaves the conditional ones alone.
    assert_eq!(r.create(&token, one(click("Default 2", "D2"))).await, 0);
    let got = r.call("menu/get", &token, None).await;
    assert_eq!(got["conditionalmenu"].as_array().unwrap().len(), 1);

    assert_eq!(
        errcode(
            &r.call(
                "menu/delconditional",
                &token,
                Some(json!({ "menuid": "1" }))
            )
            .await
        ),
        65301
    );
    assert_eq!(
        errcode(&r.call("menu/delconditional", &token, Some(json!({}))).await),
        65301
    );
    assert_eq!(
        errcode(
            &r.call(
                "menu/delconditional",
                &token,
                Some(json!({ "menuid": menuid }))
            )
            .await
        ),
        0
    );
    assert_eq!(
        errcode(
            &r.call(
                "menu/delconditional",
                &token,
                Some(json!({ "menuid": menuid }))
            )
            .await
        ),
        65301,
        "already deleted"
    );
    assert!(r
        .call("menu/get", &token, None)
        .await
        .get("conditionalmenu")
        .is_none());

    // At most 20.
    for _ in 0..20 {
        let added = r
            .call(
                "menu/addconditional",
                &token,
                Some(conditional(rule.clone())),
            )
            .await;
        assert_eq!(errcode(&added), 0, "{added}");
    }
    assert_eq!(
        errcode(
            &r.call(
                "menu/addconditional",
                &token,
                Some(conditional(rule.clone()))
            )
            .await
        ),
        65305
    );
    let ids: std::collections::BTreeSet<String> = r.menus(OA).await["conditional"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["menuid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 20, "menuids are distinct");
    // delete removes them all.
    assert_eq!(errcode(&r.call("menu/delete", &token, None).await), 0);
    assert_eq!(r.menus(OA).await["conditional"], json!([]));

    // A backend menu counts as a default menu.
    let r2 = rig(false).await;
    let token = r2.access(OA, &[15]).await;
    let added = r2
        .call("menu/addconditional", &token, Some(conditional(rule)))
        .await;
    assert_eq!(errcode(&added), 0, "{added}");
    r.sim.stop().await;
    r2.sim.stop().await;
}

#[tokio::test]
async fn menus_need_permission_set_15_on_an_official_account() {
    let r = rig(false).await;
    let without = r.access(OA, &[1, 2]).await;
    let mp = r.access(MP, &[17, 18]).await;
    for token in [&without, &mp] {
        for (api, body) in [
            ("get_current_selfmenu_info", None),
            ("menu/create", Some(one(click("A", "K")))),
            ("menu/get", None),
            ("menu/delete", None),
            (
                "menu/addconditional",
                Some(json!({ "button": [click("A", "K")], "matchrule": { "sex": "1" } })),
            ),
            ("menu/delconditional", Some(json!({ "menuid": "1" }))),
        ] {
            assert_eq!(errcode(&r.call(api, token, body).await), 48001, "{api}");
        }
    }
    assert_eq!(
        errcode(&r.call("menu/get", "not-a-token", None).await),
        40001
    );
    // Nothing changed: the backend menu is still there.
    assert_eq!(
        r.menus(OA).await["backend"]["button"][0]["name"],
        "点单 Order"
    );
    r.sim.stop().await;
}

#[tokio::test]
async fn menu_apis_take_faults_by_name_and_are_logged() {
    let r = rig(false).await;
    let token = r.access(OA, &[15]).await;
    r.sim
        .inject_fault(FaultSpec {
            component: None,
            api: Some("menu/create".into()),
            fault: wxhub::simulator::Fault::Errcode(45009),
            times: Some(1),
            percent: None,
        })
        .unwrap();
    assert_eq!(r.create(&token, one(click("A", "K"))).await, 45009);
    assert_eq!(r.create(&token, one(click("A", "K"))).await, 0);
    for name in [
        "menu/get",
        "menu/delete",
        "menu/addconditional",
        "menu/delconditional",
    ] {
        let spec = FaultSpec {
            component: None,
            api: Some(name.into()),
            fault: wxhub::simulator::Fault::Errcode(-1),
            times: Some(1),
            percent: None,
        };
        assert!(spec.validate().is_ok(), "{name} is a fault name");
    }
    let calls: Vec<_> = r
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.api == "menu/create")
        .collect();
    assert_eq!(calls.len(), 2);
    assert!(calls[0].injected && calls[0].errcode == 45009);
    assert_eq!(calls[1].outcome, "ok");
    r.sim.stop().await;
}

#[tokio::test]
async fn taps_send_events_through_the_message_url() {
    let r = rig(true).await;
    r.access(OA, &[1, 15]).await;
    let (status, tapped) = r.tap(OA, "积分 Points").await;
    assert_eq!(status, 200, "{tapped}");
    assert_eq!(tapped["event"], "CLICK");
    assert_eq!(tapped["event_key"], "POINTS");
    assert_eq!(tapped["status"], 200);
    assert_eq!(tapped["answer"], "success");
    let (_, tapped) = r.tap(OA, "点单 Order").await;
    assert_eq!(tapped["event"], "VIEW");
    assert_eq!(tapped["event_key"], "https://coffee.example.com/order");
    let (_, tapped) = r.tap(OA, "小程序 Mini Shop").await;
    assert_eq!(tapped["event"], "view_miniprogram");
    assert_eq!(tapped["event_key"], "pages/index/index");
    {
        let received = r.received.lock().unwrap();
        assert_eq!(received.len(), 3, "each tap reached the message URL once");
        assert!(received[0].contains("<MsgType><![CDATA[event]]></MsgType>"));
        assert!(received[0].contains("<Event><![CDATA[CLICK]]></Event>"));
        assert!(received[0].contains("<EventKey><![CDATA[POINTS]]></EventKey>"));
        assert!(received[1].contains("<Event><![CDATA[VIEW]]></Event>"));
        assert!(received[2].contains("<EventKey><![CDATA[pages/index/index]]></EventKey>"));
    }
    let lines = r.lines(OA);
    assert_eq!(
        lines[0],
        ("user".into(), "event".into(), "CLICK POINTS".into())
    );

    // An API menu takes over the phone: its items work, the backend's are gone.
    let token = r.access(OA, &[1, 15]).await;
    let menu = json!({ "button": [
        { "name": "Tools", "sub_button": [
            { "type": "scancode_push", "name": "Scan", "key": "SCAN_1" },
            click("Hello", "HELLO"),
        ]},
    ]});
    assert_eq!(r.create(&token, menu).await, 0);
    let (_, tapped) = r.tap(OA, "Hello").await;
    assert_eq!(
        (tapped["event"].as_str(), tapped["event_key"].as_str()),
        (Some("CLICK"), Some("HELLO"))
    );
    let (_, tapped) = r.tap(OA, "Scan").await;
    assert_eq!(
        tapped["event"], "scancode_push",
        "WeChat names the event after the item type"
    );
    assert_eq!(tapped["event_key"], "SCAN_1");
    let (status, _) = r.tap(OA, "积分 Points").await;
    assert_eq!(status, 404);
    let (status, body) = r.tap(OA, "Tools").await;
    assert_eq!(status, 422, "a parent only opens its list: {body}");
    r.sim.stop().await;
}

#[tokio::test]
async fn a_tap_with_no_platform_listening_is_an_error_answer() {
    let r = rig(false).await;
    r.access(OA, &[1, 15]).await;
    let (status, tapped) = r.tap(OA, "积分 Points").await;
    assert_eq!(status, 200, "{tapped}");
    assert_eq!(tapped["answer"], "error");
    assert_eq!(tapped["status"], 0, "no HTTP answer at all");
    assert_eq!(tapped["event"], "CLICK");
    assert_eq!(tapped["event_key"], "POINTS");
    assert_eq!(
        r.lines(OA),
        vec![("user".into(), "event".into(), "CLICK POINTS".into())],
        "the tap is in the conversation, with no reply"
    );
    r.sim.stop().await;
}

#[tokio::test]
async fn backend_only_items_are_answered_by_wechat_until_a_platform_takes_messages() {
    let r = rig(true).await;
    // Set 15 only: WeChat still answers the account's messages.
    r.access(OA, &[15]).await;
    let cases = [
        ("联系 Contact", "text", "客服电话 400-000-0000"),
        (
            "价目表 Prices",
            "image",
            "[image media_id IMG_MEDIA_ID_PRICES]",
        ),
        (
            "问候 Greeting",
            "voice",
            "[voice media_id VOICE_MEDIA_ID_HELLO]",
        ),
        (
            "视频 Our story",
            "video",
            "https://coffee.example.com/video/story.mp4",
        ),
        ("新品 New", "news", "春季新品 Spring specials"),
    ];
    for (name, kind, content) in cases {
        let (status, tapped) = r.tap(OA, name).await;
        assert_eq!(status, 200, "{tapped}");
        assert_eq!(
            tapped,
            json!({ "answer": "wechat", "type": kind, "content": content }),
            "{name}"
        );
    }
    assert_eq!(
        r.lines(OA),
        cases
            .iter()
            .map(|(_, k, c)| ("account".to_owned(), (*k).to_owned(), (*c).to_owned()))
            .collect::<Vec<_>>()
    );
    assert!(
        r.received.lock().unwrap().is_empty(),
        "nothing went to the platform"
    );

    // Now the platform holds message management: nothing answers them any more.
    r.access(OA, &[1, 15]).await;
    let (status, tapped) = r.tap(OA, "联系 Contact").await;
    assert_eq!(status, 200);
    assert_eq!(tapped["answer"], "unanswered");
    let note = tapped["content"].as_str().unwrap();
    assert!(note.starts_with("(no answer: “联系 Contact”"), "{note}");
    let last = r.lines(OA).pop().unwrap();
    assert_eq!(last, ("wechat".into(), "menu".into(), note.to_owned()));
    assert!(r.received.lock().unwrap().is_empty(), "nor to the platform");
    r.sim.stop().await;
}

#[tokio::test]
async fn the_control_api_refuses_bad_taps() {
    let r = rig(false).await;
    let base = r.sim.base_url();
    let post = |body: &'static str| {
        r.http
            .post(format!("{base}/sim/control/menu-tap"))
            .body(body)
            .send()
    };
    assert_eq!(post("{").await.unwrap().status(), 422);
    assert_eq!(
        post("{\"authorizer_appid\": \"x\"}")
            .await
            .unwrap()
            .status(),
        422
    );
    let (status, body) = r.tap("wx0000000000000000", "积分 Points").await;
    assert_eq!(status, 404);
    assert!(body["error"].is_string());
    assert_eq!(r.tap(OA, "No such item").await.0, 404);
    assert_eq!(
        r.tap(SUBSCRIPTION, "anything").await.0,
        404,
        "no menu at all"
    );
    // An event needs an authorized platform to go to.
    let (status, body) = r.tap(OA, "积分 Points").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        r.http
            .get(format!("{base}/sim/control/menus/wx0000000000000000"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    r.sim.stop().await;
}

#[tokio::test]
async fn the_phone_page_shows_the_menu_and_taps_it_without_javascript() {
    let r = rig(true).await;
    r.access(OA, &[1, 15]).await;
    let base = r.sim.base_url();
    let page = r
        .http
        .get(format!("{base}/sim/chat/{OA}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-test=\"menu\""));
    assert!(page.contains("data-source=\"backend\""));
    for (level, name) in [
        ("top", "点单 Order"),
        ("top", "会员 Members"),
        ("sub", "积分 Points"),
        ("top", "更多 More"),
        ("sub", "联系 Contact"),
    ] {
        assert!(
            page.contains(&format!(
                "data-test=\"menu-item\" data-level=\"{level}\" data-name=\"{name}\""
            )),
            "{name} is marked on the page"
        );
    }
    assert!(page.contains("action=\"/sim/chat/wx5a1c0ffee0000001/menu\""));
    // Tap "积分 Points" (second top-level item, first sub-item) as the form does.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let tapped = no_redirect
        .post(format!("{base}/sim/chat/{OA}/menu"))
        .form(&[("item", "1.0")])
        .send()
        .await
        .unwrap();
    assert_eq!(tapped.status(), 303);
    assert_eq!(tapped.headers()["location"], format!("/sim/chat/{OA}"));
    assert_eq!(
        r.lines(OA),
        vec![("user".into(), "event".into(), "CLICK POINTS".into())]
    );
    // The backend text item: nothing answers, and the page says so.
    no_redirect
        .post(format!("{base}/sim/chat/{OA}/menu"))
        .form(&[("item", "2.0")])
        .send()
        .await
        .unwrap();
    let page = r
        .http
        .get(format!("{base}/sim/chat/{OA}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-from=\"wechat\""));
    assert!(page.contains("no answer: “联系 Contact”"));
    // A path that is not an item comes back as a problem on the page.
    let bad = no_redirect
        .post(format!("{base}/sim/chat/{OA}/menu"))
        .form(&[("item", "9.9")])
        .send()
        .await
        .unwrap();
    assert!(bad.headers()["location"]
        .to_str()
        .unwrap()
        .contains("?problem="));
    // The subscription account has no menu bar.
    let page = r
        .http
        .get(format!("{base}/sim/chat/{SUBSCRIPTION}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("data-test=\"menu\""));
    r.sim.stop().await;
}

#[tokio::test]
async fn menus_survive_a_restart_and_old_state_files_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sim.json");
    let r = rig_with(false, Some(file.clone())).await;
    let token = r.access(OA, &[15]).await;
    assert_eq!(errcode(&r.call("menu/delete", &token, None).await), 0);
    assert_eq!(r.create(&token, one(click("Kept", "KEPT"))).await, 0);
    let added = r
        .call(
            "menu/addconditional",
            &token,
            Some(json!({ "button": [click("VIP", "VIP")], "matchrule": { "tag_id": "7" } })),
        )
        .await;
    let menuid = added["menuid"].as_str().unwrap().to_owned();
    let before = r.menus(OA).await;
    r.sim.stop().await;

    let r = rig_with(false, Some(file.clone())).await;
    let after = r.menus(OA).await;
    assert_eq!(after, before);
    assert_eq!(
        after["backend"],
        Value::Null,
        "the deleted backend menu stays deleted"
    );
    assert_eq!(after["conditional"][0]["menuid"], menuid.as_str());
    r.sim.stop().await;

    // A file written before menus were simulated has no "menus": it loads, with the seed's menu.
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    saved.as_object_mut().unwrap().remove("menus").unwrap();
    std::fs::write(&file, saved.to_string()).unwrap();
    let r = rig_with(false, Some(file)).await;
    let view = r.menus(OA).await;
    assert_eq!(view["api"], Value::Null);
    assert_eq!(view["backend"]["button"][0]["name"], "点单 Order");
    r.sim.stop().await;
}
