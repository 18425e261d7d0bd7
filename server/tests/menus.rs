//! Menu takeover (issue 14) end to end: an account with a backend-made menu authorizes with set 15;
//! its original is kept as version 1 with the mapped menu and click map; the original is restored
//! as far as the API can (published through the simulator, which enforces WeChat's rules); a
//! follower's tap on a mapped item is answered like before and still reaches the tenant's webhook
//! flagged `handled_by: "menu_map"`; an edit is published with its map carried over; a bad edit is
//! refused per field and nothing is sent; WeChat's refusal is audited; roll-back; and the history
//! is kept after an unauthorization.

mod common;

use std::time::Duration;

use common::rig::{rig, signed_in, ui, Rig, OA};
use common::{raw_count, wait_for, TestDb};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use wxhub::admin::Admin;
use wxhub::domain::Actor;
use wxhub::simulator::sink::Sink;
use wxhub::simulator::{Fault, FaultSpec, Lifetimes};

/// A follower's tap; each from a follower of its own, so no two are one event retried.
fn click(to: &str, key: &str) -> String {
    static FOLLOWER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let follower = FOLLOWER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[o_follower_{follower}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>\
         <EventKey><![CDATA[{key}]]></EventKey></xml>",
        wxhub::now_ms() / 1000
    )
}

/// Opens an encrypted passive reply: its MsgType and the parsed XML.
fn open_reply(r: &Rig, body: &str) -> wxhub::wechat::xml::AccountMessage {
    let envelope = wxhub::wechat::xml::parse_envelope(body.as_bytes())
        .unwrap_or_else(|e| panic!("not an envelope ({e}): {body}"));
    let plain = r.crypto().decrypt(&envelope.encrypt).unwrap().message;
    wxhub::wechat::xml::parse_account_message(plain.as_bytes()).unwrap()
}

fn item_with_key<'a>(menu: &'a mut app::menu::ApiMenu, key: &str) -> &'a mut app::menu::MenuItem {
    let (i, j) = menu
        .button
        .iter()
        .enumerate()
        .find_map(|(i, b)| {
            if b.key.as_deref() == Some(key) {
                return Some((i, None));
            }
            b.sub_button
                .iter()
                .position(|s| s.key.as_deref() == Some(key))
                .map(|j| (i, Some(j)))
        })
        .unwrap_or_else(|| panic!("no item with key {key}"));
    match j {
        None => &mut menu.button[i],
        Some(j) => &mut menu.button[i].sub_button[j],
    }
}

async fn admin_user(r: &Rig) {
    let admin = Admin {
        store: r.app.store.clone(),
        actor: Actor::Cli,
    };
    admin
        .create_user(
            &wxhub::auth::PasswordHasher::new(2),
            "op@acme.test",
            "tenant-admin",
            Some("acme"),
            &SecretString::from("correct horse battery"),
        )
        .await
        .unwrap();
}

async fn sim_menus(r: &Rig) -> Value {
    reqwest::get(format!("{}/sim/control/menus/{OA}", r.sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

on_both_databases! {
    a_backend_menu_is_kept_mapped_restored_answered_edited_and_rolled_back => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |s| {
            s.webhook_allow_private_networks = true;
            s.webhook_retry_base_ms = 50;
        }).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let (_, key) = admin.create_api_key("acme", "hooks").await.unwrap();
        let key = key.key.expose_secret().to_owned();
        let sink = Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let created: Value = reqwest::Client::new()
            .post(r.app.url("/api/v1/webhook-endpoints"))
            .bearer_auth(&key)
            .json(&json!({ "url": sink.url("crm") }))
            .send().await.unwrap().json().await.unwrap();
        assert!(created["id"].is_string(), "{created}");
        admin_user(&r).await;
        admin.create_user(&wxhub::auth::PasswordHasher::new(2), "viewer@acme.test", "tenant-viewer", Some("acme"), &SecretString::from("correct horse battery")).await.unwrap();

        r.authorize(OA, &[1, 15]).await;
        // The original, read on authorization, is version 1.
        assert!(wait_for(Duration::from_secs(15), || async {
            !r.app.store.menu_versions(r.tenant, r.component, OA).await.unwrap().is_empty()
        }).await, "the menu is read on authorization");
        let op = signed_in(&r, "op@acme.test").await;
        let (status, overview) = ui(&op, &r, "account-menus", &[("appid", OA)]).await;
        assert_eq!(status, 200, "{overview}");
        assert_eq!(overview["can_publish"], true);
        // The editor's starting point is the overview's live version, and nothing else of it.
        let (status, base) = ui(&op, &r, "menu-draft-base", &[("appid", OA)]).await;
        assert_eq!(status, 200, "{base}");
        assert_eq!((base["appid"].as_str(), &base["can_publish"]), (Some(OA), &json!(true)), "{base}");
        assert_eq!((overview["name"].as_str(), base["name"].as_str()), (Some("华夏咖啡 Huaxia Coffee"), Some("华夏咖啡 Huaxia Coffee")), "the pages' heading names the account");
        assert_eq!(base["live"]["version"], overview["live"]["version"], "{base}");
        assert_eq!(base["live"]["menu"], overview["live"]["menu"], "{base}");
        assert!(base.get("versions").is_none() && base["live"].get("click_map").is_none(), "{base}");
        let original = &overview["original"];
        assert_eq!(original["version"], 1);
        assert_eq!(original["source"], "fetched");
        let backend_types: Vec<String> = original["backend"]["selfmenu_info"]["button"].as_array().unwrap().iter()
            .flat_map(|b| std::iter::once(b.clone()).chain(b["sub_button"]["list"].as_array().cloned().unwrap_or_default()))
            .filter_map(|b| b["type"].as_str().map(str::to_owned)).collect();
        for kind in ["text", "img", "voice", "video", "news", "view", "click", "miniprogram"] {
            assert!(backend_types.iter().any(|t| t == kind), "the seeded backend menu has a {kind} item: {backend_types:?}");
        }
        let menu: app::menu::ApiMenu = serde_json::from_value(original["menu"].clone()).unwrap();
        assert_eq!(app::menu::validate(&menu), vec![], "the mapped menu follows WeChat's rules");
        let map: app::menu::ClickMap = serde_json::from_value(original["click_map"].clone()).unwrap();
        let text_key = map.iter().find(|(_, c)| matches!(c.reply, app::menu::MappedReply::Text { .. })).map(|(k, _)| k.clone()).expect("a text item mapped");
        let image_key = map.iter().find(|(_, c)| matches!(c.reply, app::menu::MappedReply::Image { .. })).map(|(k, _)| k.clone()).expect("an image item mapped");
        let news_key = map.iter().find(|(_, c)| matches!(c.reply, app::menu::MappedReply::News { .. })).map(|(k, _)| k.clone()).expect("a news item mapped");
        let app::menu::MappedReply::Text { content: old_text } = map[&text_key].reply.clone() else { unreachable!() };

        // Before wxhub publishes, a CLICK on such a key is the tenant's business: no reply.
        let to = r.app.store.authorizer(r.tenant, OA).await.unwrap().unwrap().user_name;
        let (status, body) = r.message(OA, &click(&to, &text_key)).await;
        assert_eq!((status, body.as_str()), (200, "success"));

        // Restore the original as far as the API can: the mapped menu goes to WeChat.
        let (status, v) = ui(&op, &r, "roll-back-menu", &[("appid", OA), ("version", "1")]).await;
        assert_eq!((status, v.clone()), (200, json!(2)), "{v}");
        let live = sim_menus(&r).await;
        let sent: app::menu::ApiMenu = serde_json::from_value(live["api"].clone()).unwrap();
        assert_eq!(sent, menu, "WeChat holds the mapped menu: {live}");

        // A follower's tap is answered like before; the tenant still sees it, flagged.
        let (status, body) = r.message(OA, &click(&to, &text_key)).await;
        assert_eq!(status, 200);
        let reply = open_reply(&r, &body);
        assert_eq!((reply.msg_type.as_str(), reply.root.child_text("Content")), ("text", Some(old_text.as_str())));
        let (_, body) = r.message(OA, &click(&to, &image_key)).await;
        let reply = open_reply(&r, &body);
        assert_eq!(reply.msg_type, "image");
        assert!(reply.root.child("Image").and_then(|i| i.child_text("MediaId")).is_some_and(|m| !m.is_empty()));
        let (_, body) = r.message(OA, &click(&to, &news_key)).await;
        let reply = open_reply(&r, &body);
        assert_eq!(reply.msg_type, "news");
        assert_eq!(reply.root.child_text("ArticleCount"), Some("1"));
        // A key wxhub never mapped, and a made-up one of wxhub's shape, are the tenant's.
        for other in ["POINTS", "wxhub_menu_9_9"] {
            let (status, body) = r.message(OA, &click(&to, other)).await;
            assert_eq!((status, body.as_str()), (200, "success"), "{other}");
        }
        // The unmapped taps are delivered too, on their own schedule: wait for all five.
        assert!(wait_for(Duration::from_secs(10), || async {
            let received = sink.sink.received(Some("crm"));
            received.iter().filter(|d| d.body.contains("\"menu_map\"")).count() == 3
                && received.iter().any(|d| d.body.contains("\"POINTS\""))
        }).await, "the three answered taps reach the webhook flagged: {:?}", sink.sink.received(None).iter().map(|d| d.body.clone()).collect::<Vec<_>>());
        let flagged: Vec<Value> = sink.sink.received(Some("crm")).iter().map(|d| serde_json::from_str(&d.body).unwrap()).collect();
        assert!(flagged.iter().any(|d| d["handled_by"] == "menu_map" && d["data"]["fields"]["EventKey"] == text_key.as_str()), "{flagged:?}");
        assert!(flagged.iter().any(|d| d["handled_by"].is_null() && d["data"]["fields"]["EventKey"] == "POINTS"), "an unmapped tap is not flagged");

        // The simulator's phone: a tap by name goes through the message URL and is answered.
        let tap: Value = reqwest::Client::new().post(format!("{}/sim/control/menu-tap", r.sim.base_url()))
            .json(&json!({ "authorizer_appid": OA, "name": map[&text_key].name }))
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(tap["answer"], "reply", "{tap}");
        assert!(tap.to_string().contains(&old_text), "{tap}");

        // An edit: the text item renamed; its key and answer are carried over.
        let mut edited = menu.clone();
        item_with_key(&mut edited, &text_key).name = "客服 Help".into();
        let edited_json = serde_json::to_string(&edited).unwrap();
        let (status, v) = ui(&op, &r, "publish-menu", &[("appid", OA), ("menu_json", &edited_json), ("base_version", "2")]).await;
        assert_eq!((status, v.clone()), (200, json!(3)), "{v}");
        assert!(sim_menus(&r).await.to_string().contains("客服 Help"));
        let (_, body) = r.message(OA, &click(&to, &text_key)).await;
        assert_eq!(open_reply(&r, &body).root.child_text("Content"), Some(old_text.as_str()), "the map is carried over");

        // Refused edits: per field, nothing sent, nothing recorded.
        let versions_before = raw_count(db, "menu_versions").await;
        let mut too_long = edited.clone();
        too_long.button[0].name = "一二三四五六七".into();
        let mut bad_url = edited.clone();
        bad_url.button[2] = app::menu::MenuItem { name: "x".into(), kind: "view".into(), url: Some("javascript:alert(1)".into()), ..Default::default() };
        for (json, field) in [
            (serde_json::to_string(&too_long).unwrap(), "menu.1.name"),
            (serde_json::to_string(&bad_url).unwrap(), "menu.3.url"),
            (serde_json::to_string(&app::menu::ApiMenu { button: vec![edited.button[0].clone(); 4] }).unwrap(), "menu.button"),
            ("not json".to_owned(), "menu"),
            (r#"{"button":[]}"#.to_owned(), "menu.button"),
            (r#"{"button":[{"type":"text","name":"x"}]}"#.to_owned(), "menu.1.type"),
            (format!(r#"{{"button":[{{"type":"click","name":"x","key":"{}"}}]}}"#, "k".repeat(129)), "menu.1.key"),
        ] {
            let (status, err) = ui(&op, &r, "publish-menu", &[("appid", OA), ("menu_json", &json), ("base_version", "3")]).await;
            assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some(field)), "{err}");
            assert!(!err["Invalid"]["message_zh"].as_str().unwrap_or("").is_empty());
        }
        assert_eq!(ui(&op, &r, "publish-menu", &[("appid", OA), ("menu_json", &edited_json), ("base_version", "x")]).await.0, 422);
        assert_eq!(ui(&op, &r, "publish-menu", &[("appid", "../etc"), ("menu_json", &edited_json), ("base_version", "3")]).await.0, 404);
        assert_eq!(ui(&op, &r, "roll-back-menu", &[("appid", OA), ("version", "99")]).await.0, 404);
        assert_eq!(ui(&op, &r, "delete-conditional-menu", &[("appid", OA), ("menuid", "1; drop")]).await.0, 422);
        // An editor opened on version 2 may not overwrite version 3.
        let (status, err) = ui(&op, &r, "publish-menu", &[("appid", OA), ("menu_json", &edited_json), ("base_version", "2")]).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("base_version")), "{err}");
        let viewer = signed_in(&r, "viewer@acme.test").await;
        assert_eq!(ui(&viewer, &r, "publish-menu", &[("appid", OA), ("menu_json", &edited_json), ("base_version", "3")]).await.0, 403);
        assert_eq!(ui(&viewer, &r, "account-menus", &[("appid", OA)]).await.1["can_publish"], false);
        assert_eq!(ui(&viewer, &r, "menu-draft-base", &[("appid", OA)]).await.1["can_publish"], false);
        for garbage in ["../etc", "", "wx' OR 1=1 --", &"w".repeat(5000)] {
            let (status, body) = ui(&op, &r, "menu-draft-base", &[("appid", garbage)]).await;
            assert!(status == 404 || status == 422, "{garbage:.20}: {status} {body}");
        }
        assert!(ui(&op, &r, "menu-draft-base", &[]).await.0 >= 400, "no appid");
        assert_eq!(raw_count(db, "menu_versions").await, versions_before);
        assert!(sim_menus(&r).await.to_string().contains("客服 Help"), "nothing reached WeChat");

        // WeChat refuses: the operator is told its errcode, the failure is audited.
        r.sim.inject_fault(FaultSpec { component: None, api: Some("menu/create".into()), fault: Fault::Errcode(40018), times: Some(1), percent: None }).unwrap();
        let (status, err) = ui(&op, &r, "roll-back-menu", &[("appid", OA), ("version", "2")]).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("wechat")), "{err}");
        assert!(err.to_string().contains("40018"), "{err}");
        assert_eq!(raw_count(db, "audit_events WHERE kind = 'menu.publish_failed'").await, 1);

        // Roll back to version 2 (the mapped original): version 4, the same menu.
        let (status, v) = ui(&op, &r, "roll-back-menu", &[("appid", OA), ("version", "2")]).await;
        assert_eq!((status, v.clone()), (200, json!(4)), "{v}");
        let sent: app::menu::ApiMenu = serde_json::from_value(sim_menus(&r).await["api"].clone()).unwrap();
        assert_eq!(sent, menu);
        let kinds = common::raw_strings(db, "SELECT kind FROM audit_events WHERE kind LIKE 'menu.%' ORDER BY id").await;
        assert_eq!(kinds.iter().filter(|k| *k == "menu.published").count(), 3, "{kinds:?}");

        // Someone changes the live menu outside wxhub (keeping wxhub's keys); read back, that
        // version has no map of its own, yet rolling back to it keeps the taps answered.
        let token = r.cached_authorizer_token(OA).await.unwrap();
        let mut outside = menu.clone();
        outside.button[0].name = "外部 Outside".into();
        let created: Value = reqwest::Client::new().post(format!("{}/cgi-bin/menu/create?access_token={token}", r.sim.base_url()))
            .json(&outside).send().await.unwrap().json().await.unwrap();
        assert_eq!(created["errcode"], 0, "{created}");
        let (status, read) = ui(&op, &r, "read-menu-now", &[("appid", OA)]).await;
        assert_eq!((status, read.clone()), (200, json!(5)), "{read}");
        let (status, v) = ui(&op, &r, "roll-back-menu", &[("appid", OA), ("version", "3")]).await;
        assert_eq!((status, v.clone()), (200, json!(6)), "{v}");
        let (status, v) = ui(&op, &r, "roll-back-menu", &[("appid", OA), ("version", "5")]).await;
        assert_eq!((status, v.clone()), (200, json!(7)), "{v}");
        assert!(sim_menus(&r).await.to_string().contains("外部 Outside"));
        let (_, body) = r.message(OA, &click(&to, &text_key)).await;
        assert_eq!(open_reply(&r, &body).root.child_text("Content"), Some(old_text.as_str()), "the map is found in the history");

        // Unauthorized: the history stays, nothing can be published.
        assert!(r.sim.revoke(common::rig::COMPONENT, OA));
        assert!(wait_for(Duration::from_secs(10), || async {
            ui(&op, &r, "account-menus", &[("appid", OA)]).await.1["can_publish"] == false
        }).await);
        let (_, overview) = ui(&op, &r, "account-menus", &[("appid", OA)]).await;
        assert_eq!(overview["versions"].as_array().map(Vec::len), Some(7), "{overview}");
        assert!(overview["unavailable"].is_array());
        let (status, err) = ui(&op, &r, "roll-back-menu", &[("appid", OA), ("version", "1")]).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("appid")));
        r.stop().await;
    };

    the_editor_rules_agree_with_wechat_and_conditional_menus_are_listed_and_deleted => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        admin_user(&r).await;
        r.authorize(OA, &[1, 15]).await;
        assert!(wait_for(Duration::from_secs(10), || async { r.cached_authorizer_token(OA).await.is_some() }).await);
        let token = r.cached_authorizer_token(OA).await.unwrap();
        let http = reqwest::Client::new();
        let api = r.sim.base_url();
        let create = |body: Value| {
            let http = http.clone();
            let url = format!("{api}/cgi-bin/menu/create?access_token={token}");
            async move { http.post(url).json(&body).send().await.unwrap().json::<Value>().await.unwrap() }
        };
        // Every rule the editor applies is the one WeChat (the simulator) applies, with its errcode.
        let ok = json!({ "type": "click", "name": "好", "key": "K" });
        let sub = |item: Value| json!({ "button": [{ "name": "父", "sub_button": [item] }] });
        let cases = [
            json!({ "button": [] }),
            json!({ "button": [ok, ok, ok, ok] }),
            json!({ "button": [{ "type": "click", "name": "一二三四五六", "key": "K" }] }),
            json!({ "button": [{ "type": "text", "name": "a" }] }),
            json!({ "button": [{ "type": "click", "name": "a" }] }),
            json!({ "button": [{ "type": "click", "name": "a", "key": "k".repeat(129) }] }),
            json!({ "button": [{ "type": "view", "name": "a" }] }),
            json!({ "button": [{ "type": "view", "name": "a", "url": "ftp://x" }] }),
            json!({ "button": [{ "type": "miniprogram", "name": "a", "url": "https://x", "appid": "wx1" }] }),
            json!({ "button": [{ "type": "media_id", "name": "a" }] }),
            json!({ "button": [{ "name": "a" }] }),
            json!({ "button": [{ "name": "父", "sub_button": [ok, ok, ok, ok, ok, ok] }] }),
            sub(json!({ "type": "click", "name": "子".repeat(21), "key": "K" })),
            sub(json!({ "type": "voice", "name": "a" })),
            sub(json!({ "type": "click", "name": "a", "key": "" })),
            sub(json!({ "type": "view", "name": "a", "url": "" })),
            sub(json!({ "type": "view", "name": "a", "url": "javascript:x" })),
        ];
        for case in cases {
            let menu: app::menu::ApiMenu = serde_json::from_value(case.clone()).unwrap();
            let ours = app::menu::validate(&menu).first().map(|p| p.errcode);
            let wechat = create(case.clone()).await["errcode"].as_i64();
            assert!(ours.is_some(), "the editor refuses {case}");
            assert_eq!(ours, wechat, "the editor and WeChat agree on {case}");
        }
        let good = json!({ "button": [ok, { "name": "父", "sub_button": [{ "type": "view", "name": "子".repeat(20), "url": "https://x.example" }] }] });
        assert_eq!(app::menu::validate(&serde_json::from_value(good.clone()).unwrap()), vec![]);
        assert_eq!(create(good).await["errcode"], 0);

        // A conditional menu made elsewhere is listed once read, and deleted from the console,
        // also when the newest version is one wxhub published.
        let op = signed_in(&r, "op@acme.test").await;
        let (_, overview) = ui(&op, &r, "account-menus", &[("appid", OA)]).await;
        let original = overview["original"]["version"].as_i64().unwrap().to_string();
        assert_eq!(ui(&op, &r, "roll-back-menu", &[("appid", OA), ("version", &original)]).await.0, 200);
        let added: Value = http.post(format!("{api}/cgi-bin/menu/addconditional?access_token={token}"))
            .json(&json!({ "button": [ok], "matchrule": { "tag_id": "2" } }))
            .send().await.unwrap().json().await.unwrap();
        let menuid = added["menuid"].as_str().map(str::to_owned).unwrap_or_else(|| added["menuid"].to_string());
        let (status, v) = ui(&op, &r, "read-menu-now", &[("appid", OA)]).await;
        assert_eq!(status, 200, "{v}");
        let (_, overview) = ui(&op, &r, "account-menus", &[("appid", OA)]).await;
        assert_eq!(overview["conditional"][0]["menuid"], menuid.as_str(), "{overview}");
        assert!(overview["conditional"][0]["rule"].as_str().unwrap().contains("tag_id=2"));
        assert_eq!(ui(&op, &r, "delete-conditional-menu", &[("appid", OA), ("menuid", "99999")]).await.1["Invalid"]["field"], "wechat", "an unknown menu id is WeChat's 65301");
        assert_eq!(ui(&op, &r, "delete-conditional-menu", &[("appid", OA), ("menuid", &menuid)]).await.0, 200);
        let (_, overview) = ui(&op, &r, "account-menus", &[("appid", OA)]).await;
        assert_eq!(overview["conditional"], json!([]), "{overview}");
        assert_eq!(raw_count(db, "audit_events WHERE kind = 'menu.conditional_deleted'").await, 1);
        r.stop().await;
    };
}
