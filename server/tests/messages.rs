//! The message URL (issue 13): every message and event of an authorized account is verified,
//! decrypted, checked against the account in the path, stored once, and answered; WeChat's
//! release-test accounts get the answers the full-network release test expects.

mod common;

use common::rig::{rig, Rig, COMPONENT, OA};
use common::{raw_count, wait_for, TestDb};
use wxhub::simulator::Lifetimes;

fn now_s() -> i64 {
    wxhub::now_ms() / 1000
}

fn user_message(to: &str, msg_type: &str, body: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[o_user_1]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>{body}<MsgId>{msg_id}</MsgId></xml>",
        now_s()
    )
}

fn event(to: &str, event: &str, body: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[o_user_1]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{body}</xml>",
        now_s()
    )
}

/// The original id WeChat addresses the account by, once the exchange has stored the profile.
async fn original_id(r: &Rig, appid: &str) -> String {
    let stored = || async {
        r.app
            .store
            .authorizer(r.tenant, appid)
            .await
            .unwrap()
            .map(|a| a.user_name)
            .filter(|u| !u.is_empty())
    };
    assert!(
        wait_for(std::time::Duration::from_secs(10), || async {
            stored().await.is_some()
        })
        .await,
        "{appid} is authorized with a profile"
    );
    stored().await.unwrap_or_default()
}

/// Opens an encrypted passive reply and returns its `Content`.
fn reply_content(r: &Rig, body: &str) -> String {
    let envelope = wxhub::wechat::xml::parse_envelope(body.as_bytes()).expect("an envelope");
    let plain = r
        .crypto()
        .decrypt(&envelope.encrypt)
        .expect("our component's key")
        .message;
    let root = wxhub::wechat::xml::parse_account_message(plain.as_bytes()).expect("a reply");
    assert_eq!(root.msg_type, "text");
    root.root
        .child_text("Content")
        .unwrap_or_default()
        .to_owned()
}

on_both_databases! {
    every_message_type_and_event_is_stored_once_and_answered_success => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        r.authorize(OA, &[1, 2]).await;
        let to = original_id(&r, OA).await;
        let messages = [
            user_message(&to, "text", "<Content><![CDATA[你好]]></Content>", 1),
            user_message(&to, "image", "<PicUrl><![CDATA[http://x/p.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>", 2),
            user_message(&to, "voice", "<MediaId><![CDATA[m2]]></MediaId><Format><![CDATA[amr]]></Format>", 3),
            user_message(&to, "video", "<MediaId><![CDATA[m3]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId>", 4),
            user_message(&to, "shortvideo", "<MediaId><![CDATA[m4]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId>", 5),
            user_message(&to, "location", "<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y><Scale>20</Scale><Label><![CDATA[x]]></Label>", 6),
            user_message(&to, "link", "<Title><![CDATA[t]]></Title><Description><![CDATA[d]]></Description><Url><![CDATA[http://x]]></Url>", 7),
            event(&to, "subscribe", ""),
            event(&to, "unsubscribe", ""),
            event(&to, "SCAN", "<EventKey><![CDATA[123]]></EventKey><Ticket><![CDATA[t]]></Ticket>"),
            event(&to, "LOCATION", "<Latitude>23.1</Latitude><Longitude>113.3</Longitude><Precision>119</Precision>"),
            event(&to, "CLICK", "<EventKey><![CDATA[V1001]]></EventKey>"),
            event(&to, "VIEW", "<EventKey><![CDATA[http://x]]></EventKey>"),
            event(&to, "TEMPLATESENDJOBFINISH", "<MsgID>200163836</MsgID><Status><![CDATA[success]]></Status>"),
            event(&to, "MASSSENDJOBFINISH", "<MsgID>1000001625</MsgID><Status><![CDATA[send success]]></Status>"),
            event(&to, "weapp_audit_success", "<SuccTime>1488856741</SuccTime>"),
            event(&to, "something_wechat_adds_later", "<Whatever>1</Whatever>"),
        ];
        for m in &messages {
            assert_eq!(r.message(OA, m).await, (200, "success".to_owned()), "{m}");
            // WeChat retries until it hears back; the retry is answered alike and stored once.
            assert_eq!(r.message(OA, m).await, (200, "success".to_owned()), "retry of {m}");
        }
        assert_eq!(raw_count(db, "messages").await, messages.len() as i64);
        let stored = r.app.store.recent_messages(r.tenant, OA, 100).await.unwrap();
        let kinds: Vec<String> = stored.iter().rev().map(|m| m.event.clone().unwrap_or_else(|| m.msg_type.clone())).collect();
        assert_eq!(kinds, vec!["text", "image", "voice", "video", "shortvideo", "location", "link", "subscribe", "unsubscribe", "SCAN",
                               "LOCATION", "CLICK", "VIEW", "TEMPLATESENDJOBFINISH", "MASSSENDJOBFINISH", "weapp_audit_success", "something_wechat_adds_later"]);
        assert!(stored.iter().any(|m| m.xml.contains("你好")), "the decrypted XML is kept whole");
        r.stop().await;
    };

    garbage_and_strangers_are_refused_and_nothing_is_stored => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        r.authorize(OA, &[1]).await;
        let to = original_id(&r, OA).await;
        let good = user_message(&to, "text", "<Content>hi</Content>", 9);
        // An account this component does not hold, and one addressed to another original id.
        assert_eq!(r.message("wx00000000000000ff", &good).await, (404, "unknown_account".to_owned()));
        assert_eq!(r.message(OA, &user_message("gh_someone_else", "text", "<Content>hi</Content>", 10)).await, (400, "wrong_appid".to_owned()));
        // Not XML, no MsgType, a time outside the window.
        assert_eq!(r.message(OA, "not xml").await.0, 400);
        assert_eq!(r.message(OA, &format!("<xml><ToUserName>{to}</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime></xml>")).await.0, 400);
        // The time `good` was made with (reading the clock again could fall in the next second).
        let made_at = good.split("<CreateTime>").nth(1).and_then(|rest| rest.split("</CreateTime>").next()).unwrap();
        let old = good.replace(&format!("<CreateTime>{made_at}</CreateTime>"), "<CreateTime>1000</CreateTime>");
        assert_ne!(old, good);
        assert_eq!(r.message(OA, &old).await, (400, "out_of_window".to_owned()));
        // Unsigned, wrongly signed, unknown component, oversize.
        let client = &r.app.client;
        let url = |rest: &str| r.app.url(&format!("/wechat/{COMPONENT}/message/{OA}{rest}"));
        assert_eq!(client.post(url("")).body("<xml><Encrypt>x</Encrypt></xml>").send().await.unwrap().status(), 400);
        assert_eq!(client.post(url("?timestamp=1&nonce=2&msg_signature=00")).body("<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>").send().await.unwrap().status(), 401);
        assert_eq!(client.post(r.app.url(&format!("/wechat/wx0000000000000000/message/{OA}?timestamp=1&nonce=2&msg_signature=00"))).body("x").send().await.unwrap().status(), 404);
        assert_eq!(client.post(url("?timestamp=1&nonce=2&msg_signature=00")).body(vec![b'a'; 70 * 1024]).send().await.unwrap().status(), 413);
        assert_eq!(raw_count(db, "messages").await, 0);
        assert!(raw_count(db, "audit_events WHERE kind = 'push.rejected'").await >= 1, "refusals are audited");
        // A revoked account's messages are refused too.
        r.push(&format!("<xml><AppId>{COMPONENT}</AppId><CreateTime>{}</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>{OA}</AuthorizerAppid></xml>", now_s())).await;
        assert_eq!(r.message(OA, &good).await, (404, "unknown_account".to_owned()));
        assert_eq!(raw_count(db, "messages").await, 0);
        r.stop().await;
    };

    the_release_test_accounts_get_the_answers_the_test_expects => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        for (appid, gh) in [("wx570bc396a51b8ff8", "gh_3c884a361561"), ("wxd101a85aa106f53e", "gh_8dad206e9538")] {
            let (status, body) = r.message(appid, &user_message(gh, "text", "<Content><![CDATA[TESTCOMPONENT_MSG_TYPE_TEXT]]></Content>", 11)).await;
            assert_eq!(status, 200);
            assert_eq!(reply_content(&r, &body), "TESTCOMPONENT_MSG_TYPE_TEXT_callback");
            let (status, body) = r.message(appid, &event(gh, "LOCATION", "<Latitude>1</Latitude>")).await;
            assert_eq!((status, reply_content(&r, &body)), (200, "LOCATIONfrom_callback".to_owned()));
        }
        // The customer-service step: WeChat authorizes the test account (here its push is lost,
        // so the code is still unspent), then sends the code; wxhub answers empty at once and,
        // within the test's 5 seconds, sends `<code>_from_api` to the sender with the account's
        // own token.
        let (appid, gh) = ("wx570bc396a51b8ff8", "gh_3c884a361561");
        r.sim.with_state(|s, _| s.add_account(wxhub::simulator::AccountSeed {
            appid: appid.into(), kind: app::permissions::AccountKind::OfficialAccount, nick_name: "全网发布测试".into(),
            user_name: gh.into(), principal_name: String::new(), alias: String::new(), service_type: 2, verify_type: 0, menu: None,
        }));
        r.sim.drop_pushes(wxhub::simulator::PushDrops { next: 1, percent: 0 });
        let (code, _) = r.sim.authorize(COMPONENT, appid, &[1]).expect("the simulator authorizes the test account");
        let asked = std::time::Instant::now();
        let (status, body) = r.message(appid, &user_message(gh, "text", &format!("<Content><![CDATA[QUERY_AUTH_CODE:{code}]]></Content>"), 12)).await;
        assert_eq!((status, body.as_str()), (200, ""), "an empty answer at once");
        let sent = || r.sim.with_state(|s, _| s.sent_messages.iter().map(|m| (m.authorizer_appid.clone(), m.touser.clone(), m.content.clone())).collect::<Vec<_>>());
        assert!(wait_for(std::time::Duration::from_secs(5), || async { !sent().is_empty() }).await, "the reply is sent within 5 s");
        assert_eq!(sent(), vec![(appid.to_owned(), "o_user_1".to_owned(), format!("{code}_from_api"))]);
        eprintln!("release test customer-service reply sent {:?} after the message", asked.elapsed());
        // WeChat's retry of the same message sends nothing twice.
        r.message(appid, &user_message(gh, "text", &format!("<Content><![CDATA[QUERY_AUTH_CODE:{code}]]></Content>"), 12)).await;
        assert!(wait_for(std::time::Duration::from_secs(5), || async {
            raw_count(db, "jobs WHERE kind = 'release_test_reply' AND status <> 'done'").await == 0
        }).await);
        assert_eq!(raw_count(db, "jobs WHERE kind = 'release_test_reply'").await, 1, "one job for the code, however often it is sent");
        assert_eq!(sent().len(), 1);
        // An ordinary account gets no automatic answer, whatever it is sent.
        r.authorize(OA, &[1]).await;
        let to = original_id(&r, OA).await;
        assert_eq!(r.message(OA, &user_message(&to, "text", "<Content>TESTCOMPONENT_MSG_TYPE_TEXT</Content>", 13)).await, (200, "success".to_owned()));
        r.stop().await;
    };

    the_simulators_release_check_passes_against_wxhub => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        r.component_token().await;
        let http = reqwest::Client::new();
        let url = format!("{}/sim/control/release-check", r.sim.base_url());
        let res = http.post(&url).json(&serde_json::json!({ "component_appid": COMPONENT })).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let check: serde_json::Value = res.json().await.unwrap();
        let steps: Vec<(&str, bool)> = check["steps"].as_array().unwrap().iter()
            .map(|s| (s["name"].as_str().unwrap_or(""), s["passed"].as_bool().unwrap_or(false))).collect();
        assert_eq!(steps, [("text", true), ("event", true), ("customer_service", true)], "{check}");
        assert_eq!(check["passed"], true);
        // The overview page shows the result.
        let page = http.get(format!("{}/sim", r.sim.base_url())).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Release check: <strong>passed"), "{page}");
        // wxhub's components page shows what it saw of the test.
        let admin = wxhub::admin::Admin { store: r.app.store.clone(), actor: wxhub::domain::Actor::Cli };
        let pw = secrecy::SecretString::from("correct horse battery".to_owned());
        admin.create_user(&wxhub::auth::PasswordHasher::new(2), "op@acme.test", "tenant-admin", Some("acme"), &pw).await.unwrap();
        let op = common::rig::signed_in(&r, "op@acme.test").await;
        assert!(wait_for(std::time::Duration::from_secs(10), || async {
            let (_, list) = common::rig::ui(&op, &r, "components", &[]).await;
            list[0]["release_test_reply"] == "done" && list[0]["release_test_seen_at"].is_i64()
        }).await, "{}", common::rig::ui(&op, &r, "components", &[]).await.1);
        // Garbage: a component it does not know, a body that is not the request.
        for bad in [serde_json::json!({ "component_appid": "wx0000000000000000" }), serde_json::json!({ "component": COMPONENT }), serde_json::json!([])] {
            let res = http.post(&url).json(&bad).send().await.unwrap();
            assert_eq!(res.status(), 400, "{bad}");
        }
        r.stop().await;
    };
}
