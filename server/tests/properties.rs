//! Property tests (issue 16) for what the other suites cover only by example:
//! - webhook signatures: every signature verifies, any change to what it covers does not;
//! - menu JSON: any JSON at all is a value or an error, and a well-formed menu survives the trip;
//! - the message URL: unsigned garbage is refused and stored nowhere; signed garbage never makes
//!   a 5xx, and is stored only when it is a message.
//!
//! The crypto and XML round-trips are in `wechat_protocol.rs`, the notify URL's signed garbage in
//! `signed_garbage.rs`, and the byte-level fuzz targets in `fuzz_corpus.rs`.

mod common;

use base64::Engine as _;
use common::rig::{rig, OA};
use common::{Backend, TestDb};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use secrecy::SecretString;
use wxhub::simulator::Lifetimes;
use wxhub::webhooks::signing::{sign, verify};

fn secret() -> impl Strategy<Value = SecretString> {
    proptest::collection::vec(any::<u8>(), 24..=64).prop_map(|bytes| {
        SecretString::from(format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_webhook_signature_verifies_and_any_change_breaks_it(
        secret in secret(),
        other in secret(),
        id in "[a-zA-Z0-9_]{1,40}",
        timestamp in 1_600_000_000i64..2_000_000_000,
        body in proptest::collection::vec(any::<u8>(), 0..512),
        flip in any::<prop::sample::Index>(),
    ) {
        let header = sign(std::slice::from_ref(&secret), &id, timestamp, &body).unwrap();
        prop_assert!(verify(&secret, &id, timestamp, &body, &header, timestamp, 300));
        // Another secret, another id, another time, another body: refused.
        prop_assert!(!verify(&other, &id, timestamp, &body, &header, timestamp, 300));
        let other_id = format!("{id}x");
        prop_assert!(!verify(&secret, &other_id, timestamp, &body, &header, timestamp, 300));
        prop_assert!(!verify(&secret, &id, timestamp + 1, &body, &header, timestamp, 300));
        let mut changed = body.clone();
        if changed.is_empty() {
            changed.push(0);
        } else {
            let i = flip.index(changed.len());
            changed[i] ^= 1;
        }
        prop_assert!(!verify(&secret, &id, timestamp, &changed, &header, timestamp, 300));
        // Out of the tolerance: refused even when genuine.
        prop_assert!(!verify(&secret, &id, timestamp, &body, &header, timestamp + 301, 300));
        // Both secrets during a rotation: either verifies.
        let both = sign(&[secret.clone(), other.clone()], &id, timestamp, &body).unwrap();
        prop_assert!(verify(&secret, &id, timestamp, &body, &both, timestamp, 300));
        prop_assert!(verify(&other, &id, timestamp, &body, &both, timestamp, 300));
    }

    #[test]
    fn garbage_signature_headers_and_secrets_are_refusals_not_panics(
        header in "\\PC{0,200}",
        raw_secret in "\\PC{0,80}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let secret = SecretString::from(raw_secret);
        prop_assert!(!verify(&secret, "msg_1", 1_700_000_000, &body, &header, 1_700_000_000, 300) || header.contains("v1,"));
        let _ = sign(std::slice::from_ref(&secret), "msg_1", 1_700_000_000, &body);
    }
}

/// Any JSON value (objects, arrays, strings, numbers, nesting).
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "\\PC{0,20}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("click"),
            Just("view"),
            Just("miniprogram"),
            Just("media_id"),
            Just("button"),
            Just("sub_button"),
            Just("name"),
            Just("key"),
            Just("url")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("button".to_owned()),
                    Just("sub_button".to_owned()),
                    Just("type".to_owned()),
                    Just("name".to_owned()),
                    Just("key".to_owned()),
                    Just("url".to_owned()),
                    Just("list".to_owned()),
                    Just("selfmenu_info".to_owned()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A menu WeChat would take: 1–3 buttons, each a click item or a parent of 1–5 click items.
fn valid_menu() -> impl Strategy<Value = app::menu::ApiMenu> {
    let item = ("[a-z]{1,4}", "[A-Z0-9_]{1,20}").prop_map(|(name, key)| app::menu::MenuItem {
        kind: "click".into(),
        name,
        key: Some(key),
        ..Default::default()
    });
    let button = prop_oneof![
        item.clone(),
        ("[a-z]{1,4}", proptest::collection::vec(item, 1..=5)).prop_map(|(name, subs)| {
            app::menu::MenuItem {
                name,
                sub_button: subs,
                ..Default::default()
            }
        }),
    ];
    proptest::collection::vec(button, 1..=3).prop_map(|button| app::menu::ApiMenu { button })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_json_is_a_menu_or_an_error(value in json()) {
        if let Ok(menu) = serde_json::from_value::<app::menu::ApiMenu>(value.clone()) {
            let _ = app::menu::validate(&menu);
            let _ = menu.lines();
        }
        if let Ok(menu) = serde_json::from_value::<app::menu::SelfMenu>(value) {
            let _ = app::menu::map_selfmenu(&menu);
        }
    }

    #[test]
    fn a_well_formed_menu_survives_the_trip_and_passes(menu in valid_menu()) {
        prop_assert_eq!(app::menu::validate(&menu), vec![]);
        let text = serde_json::to_string(&menu).unwrap();
        let back: app::menu::ApiMenu = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, menu);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What WeChat could post: a message's elements in any order, any of them missing or odd.
fn message_xml(to: String) -> impl Strategy<Value = String> {
    let element = prop_oneof![
        Just(format!("<ToUserName><![CDATA[{to}]]></ToUserName>")),
        Just("<ToUserName><![CDATA[gh_other]]></ToUserName>".to_owned()),
        Just("<FromUserName><![CDATA[o_user]]></FromUserName>".to_owned()),
        (0i64..2_000_000_000).prop_map(|t| format!("<CreateTime>{t}</CreateTime>")),
        Just(format!(
            "<CreateTime>{}</CreateTime>",
            wxhub::now_ms() / 1000
        )),
        prop_oneof![
            Just("text"),
            Just("event"),
            Just("image"),
            Just(""),
            Just("x")
        ]
        .prop_map(|t| format!("<MsgType><![CDATA[{t}]]></MsgType>")),
        "\\PC{0,40}"
            .prop_map(|c| format!("<Content><![CDATA[{}]]></Content>", c.replace("]]>", ""))),
        any::<u64>().prop_map(|id| format!("<MsgId>{id}</MsgId>")),
        "[A-Za-z_]{0,12}".prop_map(|e| format!("<Event>{e}</Event>")),
        "[<>&a-z/]{0,12}",
    ];
    let jumble = proptest::collection::vec(element, 0..9)
        .prop_map(|parts| format!("<xml>{}</xml>", parts.concat()));
    // And well-formed ones with odd contents, so some are messages.
    let message = ("\\PC{1,60}", any::<u64>()).prop_map(move |(content, id)| {
        format!(
            "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[o_user]]></FromUserName>\
             <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{}]]></Content><MsgId>{id}</MsgId></xml>",
            wxhub::now_ms() / 1000,
            content.replace("]]>", "")
        )
    });
    prop_oneof![2 => jumble, 1 => message]
}

#[test]
fn the_message_url_refuses_garbage_and_stores_only_messages() {
    let rt = runtime();
    let db = rt.block_on(TestDb::new(Backend::Sqlite)).unwrap();
    let r = rt.block_on(async {
        let r = rig(&db, Lifetimes::default(), |_| {}).await;
        let location = r.authorize(OA, &[1]).await;
        assert_eq!(
            r.app.client.get(&location).send().await.unwrap().status(),
            200
        );
        r
    });
    let stored = || {
        rt.block_on(r.app.store.recent_messages(r.tenant, OA, 100_000))
            .unwrap()
            .len()
    };
    let before = stored();
    // Unsigned bytes, with and without a query: refused, nothing stored.
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let url = r.app.url(&format!(
        "/wechat/{}/message/{OA}?signature=x&timestamp=1&nonce=2&encrypt_type=aes&msg_signature=00",
        common::rig::COMPONENT
    ));
    let result = runner.run(&proptest::collection::vec(any::<u8>(), 0..2048), |body| {
        let status = rt.block_on(async {
            r.app
                .client
                .post(&url)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        prop_assert!((400..500).contains(&status), "{status}");
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert_eq!(stored(), before, "unsigned garbage stored nothing");

    // Signed garbage (the tenant knows its keys): never a 5xx; stored only when it parses.
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let kept = std::sync::atomic::AtomicUsize::new(0);
    let outcomes = std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    // Messages are addressed to the account's original id, known once its profile is fetched.
    let to = rt.block_on(async {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let account = r.app.store.authorizer(r.tenant, OA).await.unwrap();
            if let Some(name) = account.map(|a| a.user_name).filter(|u| !u.is_empty()) {
                break name;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the profile was fetched"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    let result = runner.run(&message_xml(to), |xml| {
        let count = stored();
        let (status, body) = rt.block_on(r.message(OA, &xml));
        let shown: String = body.chars().take(40).collect();
        *outcomes
            .lock()
            .unwrap()
            .entry(format!("{status} {shown}"))
            .or_default() += 1;
        prop_assert!(status < 500, "{status} {body} for {xml}");
        let added = stored() - count;
        let parses = wxhub::wechat::xml::parse_account_message(xml.as_bytes()).is_ok();
        prop_assert!(added <= 1, "one post stored {added} rows");
        if added == 1 {
            prop_assert!(parses, "stored what is not a message: {xml}");
            prop_assert_eq!(status, 200, "stored, but WeChat was not told success");
            kept.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "signed garbage at the message URL: {:?}",
        outcomes.into_inner().unwrap()
    );
    assert!(
        kept.into_inner() > 0,
        "some signed inputs were messages, and were kept"
    );
    rt.block_on(r.stop());
    rt.block_on(db.cleanup());
}
