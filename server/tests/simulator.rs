//! The simulator's rules, each proved through the product's own WeChat client (so the client's
//! request shapes and error mapping are tested at the same time), plus its pushes, its
//! confirmation page and its control API.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::post;
use common::wait_for;
use serde_json::{json, Value};
use wxhub::simulator::{
    ComponentSeed, Fault, FaultSpec, Lifetimes, PushDrops, Seed, SimSettings, Simulator,
};
use wxhub::wechat::api::{ClientSettings, WechatClient, WechatError};
use wxhub::wechat::crypto::MsgCrypt;
use wxhub::wechat::links::{AuthType, AuthorizationRequest};
use wxhub::wechat::xml::{parse_component_push, parse_envelope, ComponentPush, PushKind};

const COMPONENT: &str = "wx0c0c0c0c0c0c0c01";
const OA: &str = "wx5a1c0ffee0000001";
const MP: &str = "wx5a1c0ffee0000003";

/// A stand-in for the product's notify endpoint: checks the signature, decrypts, parses, records.
struct Receiver {
    addr: SocketAddr,
    pushes: Arc<Mutex<Vec<ComponentPush>>>,
    refuse: Arc<Mutex<u32>>,
}

#[derive(Clone)]
struct ReceiverState {
    crypto: MsgCrypt,
    pushes: Arc<Mutex<Vec<ComponentPush>>>,
    refuse: Arc<Mutex<u32>>,
}

async fn notify(
    State(st): State<ReceiverState>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> (axum::http::StatusCode, &'static str) {
    {
        let mut refuse = st.refuse.lock().unwrap();
        if *refuse > 0 {
            *refuse -= 1;
            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy");
        }
    }
    let envelope = parse_envelope(&body).expect("envelope");
    assert!(st
        .crypto
        .verify_plain_signature(&q["timestamp"], &q["nonce"], &q["signature"]));
    assert_eq!(q["encrypt_type"], "aes");
    let plain = st
        .crypto
        .verify_and_decrypt(
            &q["timestamp"],
            &q["nonce"],
            &q["msg_signature"],
            &envelope.encrypt,
        )
        .expect("decrypts with the component's key");
    let push = parse_component_push(plain.message.as_bytes()).expect("parses");
    st.pushes.lock().unwrap().push(push);
    (axum::http::StatusCode::OK, "success")
}

async fn receiver(seed: &ComponentSeed) -> Receiver {
    let pushes = Arc::new(Mutex::new(Vec::new()));
    let refuse = Arc::new(Mutex::new(0));
    let state = ReceiverState {
        crypto: MsgCrypt::new(&seed.token, &seed.encoding_aes_key, &seed.appid).unwrap(),
        pushes: pushes.clone(),
        refuse: refuse.clone(),
    };
    let app = axum::Router::new()
        .route("/notify", post(notify))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        addr,
        pushes,
        refuse,
    }
}

struct Rig {
    sim: Simulator,
    client: WechatClient,
    seed: ComponentSeed,
    rx: Receiver,
}

async fn rig_with(settings: SimSettings) -> Rig {
    let mut seed = ComponentSeed::generate(COMPONENT, "Test Platform", None);
    let rx = receiver(&seed).await;
    seed.notify_url = Some(format!("http://{}/notify", rx.addr));
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        settings,
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
        rx,
    }
}

async fn rig() -> Rig {
    rig_with(SimSettings {
        ticket_interval: Duration::from_secs(3600),
        ..Default::default()
    })
    .await
}

impl Rig {
    /// The first ticket is pushed at start; wait for it like the product would.
    async fn ticket(&self) -> String {
        assert!(
            wait_for(Duration::from_secs(5), || async {
                self.latest_ticket().is_some()
            })
            .await,
            "no ticket push arrived"
        );
        self.latest_ticket().unwrap()
    }

    fn latest_ticket(&self) -> Option<String> {
        self.rx
            .pushes
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find_map(|p| match &p.kind {
                PushKind::VerifyTicket { ticket } => Some(ticket.clone()),
                _ => None,
            })
    }

    fn pushes_of(&self, info_type: &str) -> Vec<ComponentPush> {
        self.rx
            .pushes
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.info_type == info_type)
            .cloned()
            .collect()
    }

    async fn token(&self) -> String {
        let ticket = self.ticket().await;
        self.client
            .component_token(COMPONENT, &self.seed.secret, &ticket)
            .await
            .unwrap()
            .component_access_token
            .into_inner()
    }

    /// Authorizes `account` through the confirmation page, as a person would; returns auth_code.
    async fn authorize_via_page(&self, token: &str, account: &str, funcs: &[i64]) -> String {
        let code = self
            .client
            .create_preauthcode(token, COMPONENT)
            .await
            .unwrap();
        let redirect = "https://hub.example.com/authorize/l1/done?lang=zh";
        let url = AuthorizationRequest {
            component_appid: COMPONENT,
            pre_auth_code: code.pre_auth_code.expose(),
            redirect_uri: redirect,
            auth_type: None,
            biz_appid: None,
        }
        .pc_url(&self.sim.base_url().parse().unwrap());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = http.get(&url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains(&format!("data-account=\"{account}\"")),
            "account listed"
        );
        let mut form: Vec<(&str, String)> = vec![
            ("component_appid", COMPONENT.into()),
            ("pre_auth_code", code.pre_auth_code.expose().into()),
            ("redirect_uri", redirect.into()),
            ("authorizer_appid", account.into()),
        ];
        for f in funcs {
            form.push(("func", f.to_string()));
        }
        let done = http
            .post(format!("{}/sim/confirm", self.sim.base_url()))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 302);
        let location = done.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("https://hub.example.com/authorize/l1/done?lang=zh&auth_code="),
            "{location}"
        );
        let parsed = url::Url::parse(&location).unwrap();
        let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["expires_in"], "600");
        q["auth_code"].clone()
    }
}

fn api_err(r: Result<impl std::fmt::Debug, WechatError>) -> i64 {
    match r {
        Err(WechatError::Api { code, errmsg }) => {
            assert!(
                errmsg.contains(" rid: "),
                "errmsg carries a rid like WeChat's: {errmsg}"
            );
            code
        }
        other => panic!("expected a WeChat errcode, got {other:?}"),
    }
}

#[tokio::test]
async fn component_token_rules() {
    let r = rig().await;
    let ticket = r.ticket().await;
    let c = &r.client;
    assert_eq!(
        api_err(c.component_token(COMPONENT, "wrong", &ticket).await),
        40125
    );
    assert_eq!(
        api_err(
            c.component_token(COMPONENT, &r.seed.secret, "ticket@@@made-up")
                .await
        ),
        61006
    );
    assert_eq!(
        api_err(c.component_token(COMPONENT, &r.seed.secret, "").await),
        61006
    );
    assert_eq!(
        api_err(
            c.component_token("wx9999999999999999", &r.seed.secret, &ticket)
                .await
        ),
        40013
    );
    // An account's appid is not a component.
    assert_eq!(
        api_err(c.component_token(OA, &r.seed.secret, &ticket).await),
        61011
    );

    let first = c
        .component_token(COMPONENT, &r.seed.secret, &ticket)
        .await
        .unwrap();
    assert_eq!(first.expires_in, 7200);
    let first = first.component_access_token.into_inner();
    assert!(c.create_preauthcode(&first, COMPONENT).await.is_ok());
    // A new token supersedes the first, which keeps working for 5 minutes only.
    let second = c
        .component_token(COMPONENT, &r.seed.secret, &ticket)
        .await
        .unwrap()
        .component_access_token
        .into_inner();
    assert!(c.create_preauthcode(&first, COMPONENT).await.is_ok());
    r.sim.advance_clock(Duration::from_secs(301));
    assert_eq!(
        api_err(c.create_preauthcode(&first, COMPONENT).await),
        40001
    );
    assert!(c.create_preauthcode(&second, COMPONENT).await.is_ok());
    // Every token dies at its expiry.
    r.sim.advance_clock(Duration::from_secs(7200));
    assert_eq!(
        api_err(c.create_preauthcode(&second, COMPONENT).await),
        42001
    );
    assert_eq!(api_err(c.create_preauthcode("", COMPONENT).await), 41001);
    assert_eq!(
        api_err(c.create_preauthcode("nonsense", COMPONENT).await),
        40001
    );
    // A ticket is good for 12 hours: by now (2 h 5 min later) still good, at 12 h expired.
    assert!(c
        .component_token(COMPONENT, &r.seed.secret, &ticket)
        .await
        .is_ok());
    r.sim.advance_clock(Duration::from_secs(10 * 3600));
    assert_eq!(
        api_err(c.component_token(COMPONENT, &r.seed.secret, &ticket).await),
        61005
    );

    // Malformed bodies are 47001, as on WeChat.
    let raw = reqwest::Client::new();
    for body in ["not json", "[1,2]", ""] {
        let v: Value = raw
            .post(format!(
                "{}/cgi-bin/component/api_component_token",
                r.sim.base_url()
            ))
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["errcode"], 47001, "{body:?}");
    }
    let calls = r.sim.calls();
    assert!(calls
        .iter()
        .any(|c| c.api == "api_component_token" && c.errcode == 40125));
    r.sim.stop().await;
}

#[tokio::test]
async fn the_whole_authorization_and_its_codes_are_one_shot() {
    let r = rig().await;
    let token = r.token().await;
    let c = &r.client;
    let auth_code = r.authorize_via_page(&token, OA, &[1, 15, 999]).await;
    // The push carries the same code and the pre_auth_code.
    assert!(
        wait_for(Duration::from_secs(5), || async {
            !r.pushes_of("authorized").is_empty()
        })
        .await
    );
    let pushed = r.pushes_of("authorized").remove(0);
    match &pushed.kind {
        PushKind::Authorized(change) => {
            assert_eq!(change.authorizer_appid, OA);
            assert_eq!(change.authorization_code, auth_code);
            assert!(change
                .pre_auth_code
                .as_deref()
                .is_some_and(|p| p.starts_with("preauthcode@@@")));
            assert!(change.authorization_code_expired_time.unwrap() > pushed.create_time);
        }
        other => panic!("unexpected push {other:?}"),
    }
    // Only sets that exist for an Official Account are granted (999 is dropped by the page).
    let info = c.query_auth(&token, COMPONENT, &auth_code).await.unwrap();
    assert_eq!(info.authorizer_appid, OA);
    assert_eq!(
        info.func_info.iter().map(|f| f.id).collect::<Vec<_>>(),
        vec![1, 15]
    );
    let access = info.access_token.unwrap().into_inner();
    let refresh = info.refresh_token.unwrap().into_inner();
    assert!(refresh.starts_with("refreshtoken@@@"));
    // The code is single-use.
    assert_eq!(
        api_err(c.query_auth(&token, COMPONENT, &auth_code).await),
        61009
    );
    assert_eq!(
        api_err(
            c.query_auth(&token, COMPONENT, "queryauthcode@@@nope")
                .await
        ),
        61009
    );

    // The account's data with the new token: menu (set 15 granted), jsapi ticket, CS message.
    let menu = c.get_current_selfmenu_info(&access).await.unwrap();
    assert!(menu.is_menu_open);
    assert!(
        menu.raw["selfmenu_info"]["button"]
            .as_array()
            .unwrap()
            .len()
            == 3
    );
    let ticket = c.get_jsapi_ticket(&access).await.unwrap();
    assert_eq!(ticket.expires_in, 7200);
    c.send_custom_text(&access, "openid-1", "hello")
        .await
        .unwrap();
    let sent = r.sim.with_state(|s, _| s.sent_messages.clone());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].content, "hello");
    let details = c.get_authorizer_info(&token, COMPONENT, OA).await.unwrap();
    assert_eq!(details.profile.nick_name, "华夏咖啡 Huaxia Coffee");
    assert_eq!(details.profile.service_type, Some(2));
    assert!(!details.profile.is_mini_program);
    assert_eq!(
        details.authorization.refresh_token.unwrap().expose(),
        refresh
    );

    // The pre_auth_code was used: the page refuses it now.
    let list = c
        .get_authorizer_list(&token, COMPONENT, 0, 100)
        .await
        .unwrap();
    assert_eq!(list.total_count, 1);
    assert_eq!(
        list.list[0].refresh_token.as_ref().unwrap().expose(),
        refresh
    );

    // An authorization code expires.
    let (code2, _) = r.sim.authorize(COMPONENT, MP, &[17, 19]).unwrap();
    r.sim.advance_clock(Duration::from_secs(601));
    let token = r.token().await;
    assert_eq!(
        api_err(c.query_auth(&token, COMPONENT, &code2).await),
        61010
    );
    r.sim.stop().await;
}

#[tokio::test]
async fn pre_auth_codes_are_one_shot_and_expire_on_the_page() {
    let r = rig().await;
    let token = r.token().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let code = r
        .client
        .create_preauthcode(&token, COMPONENT)
        .await
        .unwrap();
    assert_eq!(code.expires_in, 600);
    let base: url::Url = r.sim.base_url().parse().unwrap();
    let req = AuthorizationRequest {
        component_appid: COMPONENT,
        pre_auth_code: code.pre_auth_code.expose(),
        redirect_uri: "https://hub.example.com/done",
        auth_type: Some(AuthType::MiniProgram),
        biz_appid: None,
    };
    // auth_type=2 lists mini programs only; the mobile link shows the same page.
    let html = http
        .get(req.mobile_url(&base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(MP) && !html.contains(OA),
        "mini programs only"
    );
    let biz = AuthorizationRequest {
        biz_appid: Some(OA),
        ..req.clone()
    };
    let html = http
        .get(biz.pc_url(&base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(OA) && !html.contains(MP),
        "biz_appid wins over auth_type"
    );

    let form = [
        ("component_appid", COMPONENT),
        ("pre_auth_code", code.pre_auth_code.expose()),
        ("redirect_uri", "https://hub.example.com/done"),
        ("authorizer_appid", MP),
        ("func", "19"),
    ];
    let first = http
        .post(format!("{}/sim/confirm", r.sim.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 302);
    let again = http
        .post(format!("{}/sim/confirm", r.sim.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already been used"));
    let page = http.get(req.pc_url(&base)).send().await.unwrap();
    assert_eq!(page.status(), 400);

    let fresh = r
        .client
        .create_preauthcode(&token, COMPONENT)
        .await
        .unwrap();
    r.sim.advance_clock(Duration::from_secs(601));
    let expired = AuthorizationRequest {
        pre_auth_code: fresh.pre_auth_code.expose(),
        ..req
    };
    let page = http.get(expired.pc_url(&base)).send().await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("expired"));
    // Garbage on the page: no panic, a clear error.
    for q in [
        "",
        "?component_appid=x",
        "?component_appid=wx&pre_auth_code=p&redirect_uri=javascript:alert(1)",
        "?auth_type=9&component_appid=a&pre_auth_code=b&redirect_uri=https://x",
    ] {
        let resp = http
            .get(format!(
                "{}/cgi-bin/componentloginpage{q}",
                r.sim.base_url()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{q}");
    }
    let junk = http
        .post(format!("{}/sim/confirm", r.sim.base_url()))
        .body("func=abc&redirect_uri=https://x")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(junk.status(), 400);
    r.sim.stop().await;
}

#[tokio::test]
async fn refresh_tokens_overlap_replace_and_revoke() {
    let r = rig().await;
    let token = r.token().await;
    let c = &r.client;
    let code = r.authorize_via_page(&token, OA, &[1, 2]).await;
    let info = c.query_auth(&token, COMPONENT, &code).await.unwrap();
    let first_access = info.access_token.unwrap().into_inner();
    let refresh = info.refresh_token.unwrap().into_inner();

    // A refresh gives a new token; the old one works 5 more minutes, then 40001.
    let next = c
        .authorizer_token(&token, COMPONENT, OA, &refresh)
        .await
        .unwrap();
    assert_eq!(
        next.authorizer_refresh_token.as_ref().unwrap().expose(),
        refresh
    );
    assert!(c.get_jsapi_ticket(&first_access).await.is_ok());
    r.sim.advance_clock(Duration::from_secs(301));
    assert_eq!(api_err(c.get_jsapi_ticket(&first_access).await), 40001);
    assert!(c
        .get_jsapi_ticket(next.authorizer_access_token.expose())
        .await
        .is_ok());
    // Set 15 was not granted: no menu.
    assert_eq!(
        api_err(
            c.get_current_selfmenu_info(next.authorizer_access_token.expose())
                .await
        ),
        48001
    );

    // Re-authorization replaces the refresh token; the old one has 5 minutes of grace.
    let token = r.token().await;
    let code2 = r.authorize_via_page(&token, OA, &[1, 2, 15]).await;
    assert!(
        wait_for(Duration::from_secs(5), || async {
            !r.pushes_of("updateauthorized").is_empty()
        })
        .await
    );
    assert!(c
        .authorizer_token(&token, COMPONENT, OA, &refresh)
        .await
        .is_ok());
    r.sim.advance_clock(Duration::from_secs(301));
    let token = r.token().await;
    assert_eq!(
        api_err(c.authorizer_token(&token, COMPONENT, OA, &refresh).await),
        61023
    );
    // The current one is recoverable from the authorizer list (what the engine does on 61023).
    let list = c
        .get_authorizer_list(&token, COMPONENT, 0, 500)
        .await
        .unwrap();
    let current = list
        .list
        .iter()
        .find(|i| i.authorizer_appid == OA)
        .unwrap()
        .refresh_token
        .clone()
        .unwrap();
    assert_ne!(current.expose(), refresh);
    let info2 = c.query_auth(&token, COMPONENT, &code2).await.unwrap();
    assert_eq!(info2.refresh_token.unwrap().expose(), current.expose());
    let live = c
        .authorizer_token(&token, COMPONENT, OA, current.expose())
        .await
        .unwrap();

    // The owner revokes: unauthorized is pushed, tokens and the refresh token die.
    assert!(r.sim.revoke(COMPONENT, OA));
    assert!(
        wait_for(Duration::from_secs(5), || async {
            !r.pushes_of("unauthorized").is_empty()
        })
        .await
    );
    assert_eq!(
        api_err(
            c.get_jsapi_ticket(live.authorizer_access_token.expose())
                .await
        ),
        40001
    );
    assert_eq!(
        api_err(
            c.authorizer_token(&token, COMPONENT, OA, current.expose())
                .await
        ),
        61003
    );
    assert_eq!(
        api_err(c.get_authorizer_info(&token, COMPONENT, OA).await),
        61003
    );
    // Never authorized at all.
    assert_eq!(
        api_err(
            c.authorizer_token(&token, COMPONENT, MP, "refreshtoken@@@x")
                .await
        ),
        61003
    );
    assert_eq!(
        c.get_authorizer_list(&token, COMPONENT, 0, 10)
            .await
            .unwrap()
            .total_count,
        0
    );
    r.sim.stop().await;
}

#[tokio::test]
async fn refresh_rotation_hands_out_a_new_refresh_token_every_time() {
    let r = rig().await;
    let token = r.token().await;
    let c = &r.client;
    let code = r.authorize_via_page(&token, OA, &[1]).await;
    let first = c
        .query_auth(&token, COMPONENT, &code)
        .await
        .unwrap()
        .refresh_token
        .unwrap()
        .into_inner();
    let control = format!("{}/sim/control/refresh-rotation", r.sim.base_url());
    let http = reqwest::Client::new();
    for garbage in [
        "",
        "{}",
        r#"{"enabled": "yes"}"#,
        r#"{"enabled": true, "x": 1}"#,
    ] {
        let res = http.put(&control).body(garbage).send().await.unwrap();
        assert_eq!(res.status(), 400, "{garbage}");
    }
    let res = http
        .put(&control)
        .body(r#"{"enabled": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Each refresh answers with a new refresh token...
    let second = c
        .authorizer_token(&token, COMPONENT, OA, &first)
        .await
        .unwrap()
        .authorizer_refresh_token
        .unwrap()
        .into_inner();
    assert_ne!(second, first);
    let third = c
        .authorizer_token(&token, COMPONENT, OA, &second)
        .await
        .unwrap()
        .authorizer_refresh_token
        .unwrap()
        .into_inner();
    assert_ne!(third, second);
    assert_eq!(
        r.sim.with_state(|s, _| s.refresh_token(COMPONENT, OA)),
        Some(third.clone())
    );
    // ...the one before keeps working for the grace period only, and the list and the account
    // info tell the current one.
    assert!(c
        .authorizer_token(&token, COMPONENT, OA, &third)
        .await
        .is_ok());
    r.sim.advance_clock(Duration::from_secs(301));
    let token = r.token().await;
    assert_eq!(
        api_err(c.authorizer_token(&token, COMPONENT, OA, &third).await),
        61023
    );
    let info = c.get_authorizer_info(&token, COMPONENT, OA).await.unwrap();
    let current = info.authorization.refresh_token.unwrap().into_inner();
    assert_eq!(
        r.sim.with_state(|s, _| s.refresh_token(COMPONENT, OA)),
        Some(current)
    );
    r.sim.stop().await;
}

#[tokio::test]
async fn options_quota_and_list_paging() {
    let r = rig().await;
    let token = r.token().await;
    let c = &r.client;
    for appid in [OA, MP] {
        r.sim.authorize(COMPONENT, appid, &[1]).unwrap();
    }
    assert_eq!(
        c.get_authorizer_option(&token, COMPONENT, OA, "voice_recognize")
            .await
            .unwrap(),
        "0"
    );
    c.set_authorizer_option(&token, COMPONENT, OA, "voice_recognize", "1")
        .await
        .unwrap();
    assert_eq!(
        c.get_authorizer_option(&token, COMPONENT, OA, "voice_recognize")
            .await
            .unwrap(),
        "1"
    );
    assert_eq!(
        api_err(
            c.set_authorizer_option(&token, COMPONENT, OA, "voice_recognize", "7")
                .await
        ),
        61013
    );
    assert_eq!(
        api_err(
            c.get_authorizer_option(&token, COMPONENT, OA, "bogus")
                .await
        ),
        61012
    );
    let page = c
        .get_authorizer_list(&token, COMPONENT, 1, 1)
        .await
        .unwrap();
    assert_eq!((page.total_count, page.list.len()), (2, 1));
    for _ in 0..10 {
        c.clear_component_quota(&token, COMPONENT).await.unwrap();
    }
    assert_eq!(
        api_err(c.clear_component_quota(&token, COMPONENT).await),
        48006
    );
    assert_eq!(
        api_err(c.clear_quota_v2(COMPONENT, "wrong", None).await),
        40125
    );
    assert_eq!(
        api_err(c.clear_quota_v2(COMPONENT, &r.seed.secret, Some(OA)).await),
        48006
    );
    r.sim.stop().await;
}

#[tokio::test]
async fn faults_latency_and_the_call_log() {
    let r = rig().await;
    let ticket = r.ticket().await;
    let c = &r.client;
    r.sim
        .inject_fault(FaultSpec {
            component: None,
            api: Some("api_component_token".into()),
            fault: Fault::Errcode(45009),
            times: Some(2),
            percent: None,
        })
        .unwrap();
    assert_eq!(
        api_err(c.component_token(COMPONENT, &r.seed.secret, &ticket).await),
        45009
    );
    assert_eq!(
        api_err(c.component_token(COMPONENT, &r.seed.secret, &ticket).await),
        45009
    );
    let token = c
        .component_token(COMPONENT, &r.seed.secret, &ticket)
        .await
        .unwrap()
        .component_access_token
        .into_inner();
    // A fault on one API leaves the others alone.
    r.sim
        .inject_fault(FaultSpec {
            component: None,
            api: Some("api_query_auth".into()),
            fault: Fault::Errcode(-1),
            times: None,
            percent: None,
        })
        .unwrap();
    assert!(c.create_preauthcode(&token, COMPONENT).await.is_ok());
    assert_eq!(api_err(c.query_auth(&token, COMPONENT, "x").await), -1);
    r.sim.clear_faults();
    r.sim
        .inject_fault(FaultSpec {
            component: None,
            api: None,
            fault: Fault::Http(503),
            times: Some(1),
            percent: None,
        })
        .unwrap();
    assert_eq!(
        c.create_preauthcode(&token, COMPONENT).await.unwrap_err(),
        WechatError::HttpStatus(503)
    );
    r.sim
        .inject_fault(FaultSpec {
            component: None,
            api: None,
            fault: Fault::Errcode(40001),
            times: None,
            percent: Some(100),
        })
        .unwrap();
    assert_eq!(
        api_err(c.create_preauthcode(&token, COMPONENT).await),
        40001
    );
    r.sim.clear_faults();

    // Timeouts: the client gives up at its own deadline and says so.
    let quick = WechatClient::new(&ClientSettings {
        api_base: r.sim.base_url().parse().unwrap(),
        timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
    })
    .unwrap();
    r.sim
        .inject_fault(FaultSpec {
            component: None,
            api: None,
            fault: Fault::Timeout,
            times: Some(1),
            percent: None,
        })
        .unwrap();
    assert_eq!(
        quick
            .create_preauthcode(&token, COMPONENT)
            .await
            .unwrap_err(),
        WechatError::Timeout(Duration::from_millis(300))
    );
    r.sim.set_latency(Duration::from_millis(500));
    assert!(matches!(
        quick.create_preauthcode(&token, COMPONENT).await,
        Err(WechatError::Timeout(_))
    ));
    r.sim.set_latency(Duration::ZERO);
    assert!(quick.create_preauthcode(&token, COMPONENT).await.is_ok());

    let calls = r.sim.calls();
    let injected: Vec<_> = calls
        .iter()
        .filter(|c| c.injected)
        .map(|c| c.outcome.as_str())
        .collect();
    assert_eq!(
        injected,
        vec![
            "errcode 45009",
            "errcode 45009",
            "errcode -1",
            "http 503",
            "errcode 40001",
            "timeout"
        ]
    );
    assert!(calls.windows(2).all(|w| w[0].seq < w[1].seq));
    // Bad fault rules are refused.
    assert!(r
        .sim
        .inject_fault(FaultSpec {
            component: None,
            api: Some("no_such_api".into()),
            fault: Fault::Errcode(1),
            times: None,
            percent: None
        })
        .is_err());
    assert!(r
        .sim
        .inject_fault(FaultSpec {
            component: None,
            api: None,
            fault: Fault::Http(200),
            times: None,
            percent: None
        })
        .is_err());
    assert!(r
        .sim
        .inject_fault(FaultSpec {
            component: None,
            api: None,
            fault: Fault::Errcode(-1),
            times: Some(0),
            percent: None
        })
        .is_err());
    assert!(r
        .sim
        .inject_fault(FaultSpec {
            component: None,
            api: None,
            fault: Fault::Errcode(-1),
            times: None,
            percent: Some(101)
        })
        .is_err());
    r.sim.stop().await;
}

#[tokio::test]
async fn tickets_on_schedule_on_request_and_dropped_pushes() {
    let r = rig_with(SimSettings {
        ticket_interval: Duration::from_secs(1),
        push_attempts: 3,
        ..Default::default()
    })
    .await;
    let count = || r.pushes_of("component_verify_ticket").len();
    assert!(
        wait_for(Duration::from_secs(10), || async { count() >= 3 }).await,
        "a ticket every second"
    );

    let slow = rig().await;
    let first = slow.ticket().await;
    let before = slow.pushes_of("component_verify_ticket").len();
    assert_eq!(
        slow.client
            .start_push_ticket(COMPONENT, &slow.seed.secret)
            .await
            .unwrap(),
        "in a normal state"
    );
    assert!(
        wait_for(Duration::from_secs(5), || async {
            slow.pushes_of("component_verify_ticket").len() > before
        })
        .await
    );
    assert_ne!(slow.latest_ticket().unwrap(), first);
    assert_eq!(
        api_err(slow.client.start_push_ticket(COMPONENT, "wrong").await),
        40125
    );

    // Dropped pushes never arrive and are logged as dropped.
    slow.sim.drop_pushes(PushDrops {
        next: 1,
        percent: 0,
    });
    let before = slow.pushes_of("component_verify_ticket").len();
    slow.sim.push_ticket_now(COMPONENT).unwrap();
    assert!(slow.sim.settle_pushes(Duration::from_secs(5)).await);
    assert_eq!(slow.pushes_of("component_verify_ticket").len(), before);
    assert_eq!(slow.sim.pushes().last().unwrap().outcome, "dropped");

    // A failing notify URL gets event pushes retried; tickets are sent once.
    *slow.rx.refuse.lock().unwrap() = 2;
    slow.sim.authorize(COMPONENT, OA, &[1]).unwrap();
    assert!(slow.sim.settle_pushes(Duration::from_secs(10)).await);
    let last = slow.sim.pushes().last().unwrap().clone();
    assert_eq!(
        (
            last.info_type.as_str(),
            last.outcome.as_str(),
            last.attempts
        ),
        ("authorized", "delivered", 3)
    );
    r.sim.stop().await;
    slow.sim.stop().await;
}

#[tokio::test]
async fn the_control_api_over_http() {
    let r = rig().await;
    let http = reqwest::Client::new();
    let base = r.sim.base_url();
    let put = |path: &str, body: Value| http.put(format!("{base}{path}")).json(&body).send();
    let resp = put("/sim/control/lifetimes", json!({"authorizer_token": 120}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        r.sim.lifetimes(),
        Lifetimes {
            authorizer_token: 120,
            ..Lifetimes::default()
        }
    );
    for bad in [
        json!({"authorizer_token": 0}),
        json!({"nope": 1}),
        json!({"ticket": "soon"}),
        json!([1]),
    ] {
        assert_eq!(
            put("/sim/control/lifetimes", bad.clone())
                .await
                .unwrap()
                .status(),
            400,
            "{bad}"
        );
    }
    assert_eq!(
        r.sim.lifetimes().authorizer_token,
        120,
        "a refused change leaves things as they were"
    );
    let resp = http
        .post(format!("{base}/sim/control/faults"))
        .json(&json!({"api": "api_authorizer_token", "fault": {"errcode": 45009}, "times": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(r.sim.faults().len(), 1);
    for bad in [
        "{",
        "{\"fault\": \"explode\"}",
        "{\"fault\": {\"http\": 200}}",
    ] {
        let resp = http
            .post(format!("{base}/sim/control/faults"))
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }
    assert_eq!(
        http.delete(format!("{base}/sim/control/faults"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(r.sim.faults().is_empty());
    let before = r.sim.now_ms();
    let resp = http
        .post(format!("{base}/sim/control/clock"))
        .json(&json!({"seconds": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(r.sim.now_ms() - before >= 3_600_000);
    assert_eq!(
        put("/sim/control/latency", json!({"ms": 999999}))
            .await
            .unwrap()
            .status(),
        400
    );
    let resp = http
        .post(format!("{base}/sim/control/authorizations"))
        .json(&json!({"component_appid": COMPONENT, "authorizer_appid": MP, "func_ids": [17]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = http
        .post(format!("{base}/sim/control/revocations"))
        .json(&json!({"component_appid": COMPONENT, "authorizer_appid": MP}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let resp = http
        .post(format!("{base}/sim/control/revocations"))
        .json(&json!({"component_appid": COMPONENT, "authorizer_appid": MP}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = http.post(format!("{base}/sim/control/accounts")).json(&json!([{"appid": "bad", "kind": "OfficialAccount", "nick_name": "x", "user_name": "gh"}])).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    // Accounts authorized before wxhub: garbage is refused and adds nothing; then three are made.
    let existing = || {
        r.sim
            .with_state(|s, _| s.existing_authorizations(COMPONENT))
    };
    for (body, status) in [
        (json!({"component_appid": COMPONENT, "count": 0}), 400),
        (json!({"component_appid": COMPONENT, "count": 50001}), 400),
        (json!({"component_appid": COMPONENT, "count": -3}), 400),
        (json!({"component_appid": COMPONENT, "count": "many"}), 400),
        (
            json!({"component_appid": COMPONENT, "count": 2, "func_ids": []}),
            400,
        ),
        (
            json!({"component_appid": COMPONENT, "count": 2, "func_ids": [0]}),
            400,
        ),
        (
            json!({"component_appid": COMPONENT, "count": 2, "extra": 1}),
            400,
        ),
        (json!({"count": 2}), 400),
        (
            json!({"component_appid": "wx0000000000000000", "count": 2}),
            404,
        ),
    ] {
        let resp = http
            .post(format!("{base}/sim/control/existing-authorizations"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{body}");
    }
    let resp = http
        .post(format!("{base}/sim/control/existing-authorizations"))
        .body("{{{")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(existing(), 0);
    let resp = http
        .post(format!("{base}/sim/control/existing-authorizations"))
        .json(&json!({"component_appid": COMPONENT, "count": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(existing(), 3);
    let listed = r
        .client
        .get_authorizer_list(&r.token().await, COMPONENT, 0, 500)
        .await
        .unwrap();
    assert_eq!(
        listed
            .list
            .iter()
            .filter(|a| a.authorizer_appid.starts_with("wxe"))
            .count(),
        3,
        "the list offers them"
    );
    let state: Value = http
        .get(format!("{base}/sim/control/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["components"][0]["appid"], COMPONENT);
    assert!(
        !state.to_string().contains(&r.seed.secret),
        "the state view does not show secrets"
    );
    let calls: Value = http
        .get(format!("{base}/sim/control/calls?api=api_component_token"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(calls
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["api"] == "api_component_token"));
    assert_eq!(
        http.get(format!("{base}/sim/control/calls?since=abc"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let overview = http
        .get(format!("{base}/sim"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(overview.contains(COMPONENT));
    assert_eq!(
        http.get(format!("{base}/cgi-bin/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    r.sim.stop().await;
}

#[tokio::test]
async fn a_state_file_keeps_authorizations_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sim.json");
    let settings = || SimSettings {
        ticket_interval: Duration::from_secs(3600),
        state_file: Some(file.clone()),
        ..Default::default()
    };
    let seed = ComponentSeed::generate(COMPONENT, "Persistent", None);
    let start = |with_component: bool| {
        let seed = seed.clone();
        let settings = settings();
        async move {
            let components = if with_component { vec![seed] } else { vec![] };
            Simulator::start(
                "127.0.0.1:0".parse().unwrap(),
                settings,
                Seed {
                    components,
                    accounts: Seed::demo_accounts(),
                },
            )
            .await
            .unwrap()
        }
    };
    let sim = start(true).await;
    let ticket = sim.push_ticket_now(COMPONENT).unwrap();
    sim.authorize(COMPONENT, OA, &[1, 15]).unwrap();
    let refresh = sim
        .with_state(|s, _| s.refresh_token(COMPONENT, OA))
        .unwrap();
    sim.stop().await;
    assert!(file.exists(), "the state was written on stop");

    // Restarted, with the component registered only after start (as the demo does).
    let sim = start(false).await;
    sim.with_state(|s, _| s.add_component(seed.clone()))
        .unwrap();
    let client = WechatClient::new(&ClientSettings {
        api_base: sim.base_url().parse().unwrap(),
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
    })
    .unwrap();
    let token = client
        .component_token(COMPONENT, &seed.secret, &ticket)
        .await
        .expect("the old ticket is still known");
    let fresh = client
        .authorizer_token(
            token.component_access_token.expose(),
            COMPONENT,
            OA,
            &refresh,
        )
        .await
        .expect("the refresh token survived the restart");
    assert_eq!(fresh.authorizer_refresh_token.unwrap().expose(), refresh);
    sim.stop().await;
    // A corrupt state file is a clear error, not a panic or a silent reset.
    std::fs::write(&file, "{ not json").unwrap();
    let err = Simulator::start("127.0.0.1:0".parse().unwrap(), settings(), Seed::default())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("sim.json"), "{err}");
}

/// The harsher faults (issue 16): late answers, resets, and the lost answer, where WeChat acts
/// but the caller never hears it; each for one API and one component only when asked.
#[tokio::test]
async fn lost_answers_resets_late_answers_and_component_targeting() {
    let r = rig().await;
    let token = r.token().await;
    let c = &r.client;
    let code = r.authorize_via_page(&token, OA, &[1, 2]).await;
    let info = c.query_auth(&token, COMPONENT, &code).await.unwrap();
    let refresh = info.refresh_token.unwrap().into_inner();
    let issued_before = r.sim.with_state(|s, _| s.authorizer_token_count());

    // The lost answer: the refresh happens at WeChat, the caller gets a transport error.
    r.sim
        .inject_fault(FaultSpec {
            component: Some(COMPONENT.into()),
            api: Some("api_authorizer_token".into()),
            fault: Fault::LostAnswer,
            times: Some(1),
            percent: None,
        })
        .unwrap();
    let lost = c.authorizer_token(&token, COMPONENT, OA, &refresh).await;
    assert!(matches!(lost, Err(WechatError::Transport(_))), "{lost:?}");
    assert_eq!(
        r.sim.with_state(|s, _| s.authorizer_token_count()),
        issued_before + 1,
        "WeChat issued a token nobody heard of"
    );

    // A reset: nothing happens at WeChat.
    r.sim
        .inject_fault(FaultSpec {
            component: None,
            api: Some("api_authorizer_token".into()),
            fault: Fault::Reset,
            times: Some(1),
            percent: None,
        })
        .unwrap();
    assert!(matches!(
        c.authorizer_token(&token, COMPONENT, OA, &refresh).await,
        Err(WechatError::Transport(_))
    ));
    assert_eq!(
        r.sim.with_state(|s, _| s.authorizer_token_count()),
        issued_before + 1
    );

    // Another component's rule leaves this one alone; a late answer is still an answer.
    r.sim
        .inject_fault(FaultSpec {
            component: Some("wx0000000000000000".into()),
            api: None,
            fault: Fault::Errcode(-1),
            times: None,
            percent: None,
        })
        .unwrap();
    r.sim
        .inject_fault(FaultSpec {
            component: Some(COMPONENT.into()),
            api: Some("api_create_preauthcode".into()),
            fault: Fault::LatencyMs(30),
            times: Some(1),
            percent: None,
        })
        .unwrap();
    assert!(c
        .authorizer_token(&token, COMPONENT, OA, &refresh)
        .await
        .is_ok());
    assert!(c.create_preauthcode(&token, COMPONENT).await.is_ok());
    let outcomes: Vec<String> = r
        .sim
        .calls()
        .iter()
        .filter(|c| c.injected)
        .map(|c| c.outcome.clone())
        .collect();
    assert_eq!(
        outcomes,
        ["answer lost (ok)", "connection reset", "ok, 30 ms late"],
        "{outcomes:?}"
    );

    // A long tail stays within its bounds most of the time; bad rules are refused.
    let tail = Fault::LongTail {
        median_ms: 50,
        p99_ms: 2_000,
    };
    let samples: Vec<u64> = (0..2_000).map(|_| tail.delay_ms()).collect();
    let under_median = samples.iter().filter(|&&ms| ms <= 50).count();
    assert!(
        (800..=1_200).contains(&under_median),
        "half within the median: {under_median}"
    );
    assert!(
        samples.iter().filter(|&&ms| ms > 2_000).count() < 60,
        "about 1 % past p99"
    );
    for bad in [
        Fault::LongTail {
            median_ms: 0,
            p99_ms: 10,
        },
        Fault::LongTail {
            median_ms: 100,
            p99_ms: 10,
        },
        Fault::LatencyMs(500_000),
    ] {
        assert!(
            r.sim
                .inject_fault(FaultSpec {
                    component: None,
                    api: None,
                    fault: bad,
                    times: None,
                    percent: None
                })
                .is_err(),
            "{bad:?}"
        );
    }
    let res = reqwest::Client::new()
        .post(format!("{}/sim/control/faults", r.sim.base_url()))
        .json(&serde_json::json!({ "fault": { "long_tail": { "median_ms": 50, "p99_ms": 10 } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    r.sim.stop().await;
}

/// The simulator counts refreshes, and the double ones: a refresh while the account's token is
/// younger than half its lifetime (two servers refreshing at once).
#[tokio::test]
async fn double_refreshes_are_counted() {
    let r = rig().await;
    let token = r.token().await;
    let c = &r.client;
    let code = r.authorize_via_page(&token, OA, &[1, 2]).await;
    let info = c.query_auth(&token, COMPONENT, &code).await.unwrap();
    let refresh = info.refresh_token.unwrap().into_inner();
    // The exchange is not a refresh; one after most of a lifetime is a normal one.
    r.sim.advance_clock(Duration::from_secs(4_000));
    let token = r.token().await;
    c.authorizer_token(&token, COMPONENT, OA, &refresh)
        .await
        .unwrap();
    let report = r.sim.with_state(|s, _| s.refresh_report.clone());
    assert_eq!((report.refreshes, report.double_refreshes), (1, 0));
    // A second one right after, while the first token was never used, is a retry (the answer
    // may never have arrived): early, not double.
    let second = c
        .authorizer_token(&token, COMPONENT, OA, &refresh)
        .await
        .unwrap();
    let report = r.sim.with_state(|s, _| s.refresh_report.clone());
    assert_eq!(
        (
            report.refreshes,
            report.double_refreshes,
            report.early_refreshes
        ),
        (2, 0, 1)
    );
    // Once a token is in use, refreshing it again within half a lifetime is double.
    c.get_jsapi_ticket(second.authorizer_access_token.expose())
        .await
        .unwrap();
    c.authorizer_token(&token, COMPONENT, OA, &refresh)
        .await
        .unwrap();
    let report: serde_json::Value =
        reqwest::get(format!("{}/sim/control/refresh-report", r.sim.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(report["refreshes"], 3);
    assert_eq!(report["double_refreshes"], 1);
    assert_eq!(report["doubles"][0]["authorizer_appid"], OA);

    // A lost answer followed by the retry: early, and known to follow a lost answer.
    r.sim
        .inject_fault(FaultSpec {
            component: None,
            api: Some("api_authorizer_token".into()),
            fault: Fault::LostAnswer,
            times: Some(1),
            percent: None,
        })
        .unwrap();
    assert!(c
        .authorizer_token(&token, COMPONENT, OA, &refresh)
        .await
        .is_err());
    let current = c
        .authorizer_token(&token, COMPONENT, OA, &refresh)
        .await
        .unwrap();
    let report = r.sim.with_state(|s, _| s.refresh_report.clone());
    assert_eq!(
        (report.double_refreshes, report.early_after_lost_answer),
        (1, 1)
    );

    // What the tenant API served: the current token is fine, a made-up one is expired served.
    let control = |path: &str| format!("{}/sim/control/{path}", r.sim.base_url());
    let http = reqwest::Client::new();
    let served: Value = http
        .post(control("served"))
        .json(&json!({ "tokens": [current.authorizer_access_token.expose(), "made-up"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, json!({ "checked": 2, "refused": 1 }));
    let report = r.sim.with_state(|s, _| s.refresh_report.clone());
    assert_eq!((report.served_checked, report.expired_served), (2, 1));
    assert_eq!(report.expired[0].errcode, 40001);

    // Which refresh tokens a platform lost: the current one is held, a stale or missing one lost,
    // an account WeChat does not know is not counted.
    let check: Value = http
        .post(control("refresh-tokens/check"))
        .json(&json!({ "held": [
            { "component_appid": COMPONENT, "authorizer_appid": OA, "refresh_token": refresh },
            { "component_appid": COMPONENT, "authorizer_appid": OA, "refresh_token": "stale" },
            { "component_appid": COMPONENT, "authorizer_appid": OA, "refresh_token": null },
            { "component_appid": COMPONENT, "authorizer_appid": "wx0000000000000bad", "refresh_token": "x" },
        ] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (check["checked"].as_u64(), check["lost"].as_u64()),
        (Some(3), Some(2))
    );
    // Garbage at both: 400, nothing counted.
    for (path, body) in [
        ("served", "not json"),
        ("served", r#"{"tokens": "x"}"#),
        ("served", r#"{"tokens": [], "extra": 1}"#),
        ("refresh-tokens/check", "[]"),
        (
            "refresh-tokens/check",
            r#"{"held": [{"component_appid": 1}]}"#,
        ),
    ] {
        let res = http.post(control(path)).body(body).send().await.unwrap();
        assert_eq!(res.status(), 400, "{path} {body}");
    }
    let many: Vec<String> = (0..10_001).map(|i| i.to_string()).collect();
    let res = http
        .post(control("served"))
        .json(&json!({ "tokens": many }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let after = r.sim.with_state(|s, _| s.refresh_report.clone());
    assert_eq!((after.served_checked, after.expired_served), (2, 1));
    r.sim.stop().await;
}
