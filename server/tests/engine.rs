//! The token engine and the WeChat callbacks, end to end against the simulator with compressed
//! lifetimes: the real server on port 0, the simulator pushing to its notify URL, the product's
//! client talking to the simulator.

mod common;

use std::time::Duration;

use common::rig::{href_of, rig, signed_in, ui, Rig, COMPONENT, MP, OA};
use common::{wait_for, TestDb};
use secrecy::SecretString;
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuditKind, AuthorizerStatus, CredentialKind, NewAuditEvent, Outcome};
use wxhub::simulator::{Fault, FaultSpec, Lifetimes, PushDrops};

/// Watches the served token for `duration`: every token the engine serves must be one WeChat
/// accepts at that moment. Returns how many samples were taken.
async fn never_serves_a_dead_token(r: &Rig, appid: &str, duration: Duration) -> usize {
    let start = tokio::time::Instant::now();
    let mut samples = 0;
    while start.elapsed() < duration {
        if let Some(token) = r.cached_authorizer_token(appid).await {
            assert!(
                r.token_is_valid_at_wechat(&token),
                "the engine served a token WeChat no longer accepts"
            );
            samples += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    samples
}

fn compressed() -> Lifetimes {
    Lifetimes {
        component_token: 30,
        authorizer_token: 6,
        jsapi_ticket: 6,
        token_overlap: 1,
        refresh_token_grace: 1,
        ..Lifetimes::default()
    }
}

on_both_databases! {
    the_whole_chain_and_refreshes_over_several_lifetimes => async |db: &TestDb| {
        let r = rig(db, compressed(), |_| {}).await;
        let location = r.authorize(OA, &[1, 2, 15]).await;
        // The browser comes back: the page says it worked, and the account is stored.
        let page = r.app.client.get(&location).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains(OA) && html.contains("authorized"), "{html}");
        let account = r.app.store.authorizer(r.tenant, OA).await.unwrap().unwrap();
        assert_eq!(account.status, AuthorizerStatus::Authorized);
        assert_eq!(account.func_ids, vec![1, 2, 15]);
        // The push for the same code arrived too; only one exchange happened.
        assert!(wait_for(Duration::from_secs(5), || async { r.sim.pushes().iter().any(|p| p.info_type == "authorized" && p.outcome == "delivered") }).await);
        assert_eq!(r.calls("api_query_auth").len(), 1, "one exchange for the push and the redirect");
        // Profile and menu follow from the queue.
        assert!(wait_for(Duration::from_secs(10), || async {
            let a = r.app.store.authorizer(r.tenant, OA).await.unwrap().unwrap();
            a.info_fetched_at.is_some() && a.menu_fetched_at.is_some()
        }).await, "profile and menu fetched");
        let account = r.app.store.authorizer(r.tenant, OA).await.unwrap().unwrap();
        assert_eq!(account.nick_name, "华夏咖啡 Huaxia Coffee");
        assert_eq!(account.account_kind, "official_account");
        assert!(account.menu_json.unwrap().contains("button"));
        let history = r.app.store.authorizer_history(r.tenant, account.id).await.unwrap();
        assert_eq!(history[0].change, "authorized");

        // Over four 6-second lifetimes the served token is always one WeChat accepts, and it is
        // refreshed before it expires, once per lifetime.
        let before = r.calls("api_authorizer_token").len();
        let samples = never_serves_a_dead_token(&r, OA, Duration::from_secs(24)).await;
        assert!(samples > 200, "the token was served throughout ({samples} samples)");
        let refreshes: Vec<_> = r.calls("api_authorizer_token").into_iter().skip(before).collect();
        assert!((3..=6).contains(&refreshes.len()), "{} refreshes in 4 lifetimes", refreshes.len());
        for pair in refreshes.windows(2) {
            let gap = pair[1].at - pair[0].at;
            assert!(gap >= 3_500, "two refreshes {gap} ms apart: a duplicate");
        }
        // Every refresh is audited.
        let audit = r.app.store.tenant_audit(r.tenant, 500).await.unwrap();
        assert!(audit.iter().filter(|e| e.kind == "token.refreshed" && e.authorizer_appid.as_deref() == Some(OA)).count() >= 3);
        // Metrics are on the private listener; the public one has none without a token.
        assert_eq!(r.app.client.get(r.app.url("/metrics")).send().await.unwrap().status(), 404);
        let private = r.app.app.as_ref().unwrap().metrics_addr().expect("a metrics listener");
        let metrics = r.app.client.get(format!("http://{private}/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("wxhub_refreshes_total{kind=\"authorizer_access_token\"}"), "{metrics}");
        assert!(metrics.contains("wxhub_ticket_age_seconds"), "{metrics}");
        r.stop().await;
    };

    ticket_pushes_stop_tokens_still_refresh_and_pushing_is_restarted => async |db: &TestDb| {
        let lifetimes = Lifetimes { component_token: 4, token_overlap: 1, ..Lifetimes::default() };
        let r = rig(db, lifetimes, |s| s.ticket_stale_seconds = 3).await;
        r.component_token().await;
        // The simulator pushes no more tickets (interval 1 h), yet component tokens keep coming
        // from the one ticket stored.
        assert!(wait_for(Duration::from_secs(20), || async { r.calls("api_component_token").iter().filter(|c| c.errcode == 0).count() >= 4 }).await);
        // After 3 silent seconds the engine asked WeChat to push again, which it did.
        assert!(wait_for(Duration::from_secs(10), || async { !r.calls("api_start_push_ticket").is_empty() }).await);
        let audit = r.app.store.tenant_audit(r.tenant, 500).await.unwrap();
        assert!(audit.iter().any(|e| e.kind == "ticket.push_restart_requested"));
        assert!(wait_for(Duration::from_secs(5), || async {
            r.sim.pushes().iter().filter(|p| p.info_type == "component_verify_ticket" && p.outcome == "delivered").count() >= 2
        }).await);
        r.stop().await;
    };

    faults_are_survived_without_serving_dead_tokens => async |db: &TestDb| {
        let r = rig(db, compressed(), |_| {}).await;
        let location = r.authorize(MP, &[17, 19]).await;
        assert_eq!(r.app.client.get(&location).send().await.unwrap().status(), 200);
        r.sim.set_latency(Duration::from_millis(150));
        // One fault at a time; after each the engine must get a good token again, and at no
        // moment may it serve one WeChat would refuse. 40001 is "the component token you used is
        // not valid": the engine must refresh the component token and carry on.
        // 61023 for a refresh token WeChat still lists as current: its hiccup, retried, not a
        // lost authorization.
        for fault in [Fault::Errcode(-1), Fault::Errcode(45009), Fault::Http(502), Fault::Timeout, Fault::Errcode(40001), Fault::Errcode(61023)] {
            let component_refreshes = r.calls("api_component_token").len();
            r.sim.inject_fault(FaultSpec { component: None, api: Some("api_authorizer_token".into()), fault, times: Some(1), percent: None }).unwrap();
            let hit_at = loop {
                if let Some(c) = r.calls("api_authorizer_token").into_iter().rev().find(|c| c.injected) {
                    if r.sim.faults().is_empty() { break c.seq; }
                }
                never_serves_a_dead_token(&r, MP, Duration::from_millis(200)).await;
            };
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while !r.calls("api_authorizer_token").iter().any(|c| c.seq > hit_at && c.errcode == 0 && !c.injected) {
                assert!(tokio::time::Instant::now() < deadline, "no recovery from {fault:?}");
                never_serves_a_dead_token(&r, MP, Duration::from_millis(200)).await;
            }
            if fault == Fault::Errcode(40001) {
                assert!(r.calls("api_component_token").len() > component_refreshes, "40001 made the engine refresh the component token");
            }
        }
        r.sim.set_latency(Duration::ZERO);
        assert_eq!(r.authorizer_status(MP).await, Some(AuthorizerStatus::Authorized), "a spurious 61023 lost nothing");
        assert!(wait_for(Duration::from_secs(10), || async { r.cached_authorizer_token(MP).await.is_some() }).await, "a token is served again");
        let health = r.app.store.credential_health(r.component, CredentialKind::AuthorizerAccessToken, MP).await.unwrap().unwrap();
        assert_eq!(health.failure_count, 0, "the failures were cleared by a success");
        let audit = r.app.store.tenant_audit(r.tenant, 1000).await.unwrap();
        assert!(audit.iter().any(|e| e.kind == "token.refresh_failed"));
        r.stop().await;
    };

    a_lost_refresh_token_is_recovered_and_a_revocation_stops_everything => async |db: &TestDb| {
        let r = rig(db, compressed(), |_| {}).await;
        let location = r.authorize(OA, &[1]).await;
        assert_eq!(r.app.client.get(&location).send().await.unwrap().status(), 200);
        // WeChat replaces the refresh token but the push telling us is lost: our refresh token
        // dies after its 1-second grace, and the engine must recover the new one.
        r.sim.drop_pushes(PushDrops { next: 1, percent: 0 });
        r.sim.authorize(COMPONENT, OA, &[1]).unwrap();
        let before = r.app.store.tenant_audit(r.tenant, 1000).await.unwrap().iter().filter(|e| e.kind == "refresh_token.recovered").count();
        assert!(wait_for(Duration::from_secs(20), || async {
            r.app.store.tenant_audit(r.tenant, 1000).await.unwrap().iter().filter(|e| e.kind == "refresh_token.recovered").count() > before
        }).await, "61023 was recovered");
        assert!(r.calls("api_get_authorizer_list").is_empty(), "per account, from api_get_authorizer_info, without scanning the list");
        let want = r.sim.with_state(|s, _| s.refresh_token(COMPONENT, OA)).unwrap();
        let have = r.app.store.refresh_token(r.component, OA).await.unwrap().unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(have.expose_secret(), want, "the current refresh token is stored");
        assert_eq!(r.authorizer_status(OA).await, Some(AuthorizerStatus::Authorized));
        never_serves_a_dead_token(&r, OA, Duration::from_secs(8)).await;

        // Again, but WeChat also refuses the recovered token once, at once (the million-account
        // soak met it: a lost answer, the recovery, then a spurious 61023). That is WeChat's
        // hiccup, retried, not a lost authorization.
        r.sim.drop_pushes(PushDrops { next: 1, percent: 0 });
        r.sim.authorize(COMPONENT, OA, &[1]).unwrap();
        r.sim.inject_fault(FaultSpec { component: None, api: Some("api_authorizer_token".into()), fault: Fault::Errcode(61023), times: Some(2), percent: None }).unwrap();
        let recovered = |r: &Rig| {
            let store = r.app.store.clone();
            let tenant = r.tenant;
            async move { store.tenant_audit(tenant, 1000).await.unwrap().iter().filter(|e| e.kind == "refresh_token.recovered").count() }
        };
        let before = recovered(&r).await;
        assert!(wait_for(Duration::from_secs(30), || async { recovered(&r).await > before && r.sim.faults().is_empty() }).await, "recovered, and both 61023s answered");
        let refused_at = r.calls("api_authorizer_token").into_iter().rev().find(|c| c.injected).unwrap().seq;
        assert!(wait_for(Duration::from_secs(30), || async {
            r.calls("api_authorizer_token").iter().any(|c| c.seq > refused_at && c.errcode == 0 && !c.injected)
        }).await, "refreshed after the second refusal");
        assert_eq!(r.authorizer_status(OA).await, Some(AuthorizerStatus::Authorized), "nothing lost");
        never_serves_a_dead_token(&r, OA, Duration::from_secs(2)).await;

        // The owner revokes: the account is marked, its token is no longer served, no refreshes.
        assert!(r.sim.revoke(COMPONENT, OA));
        assert!(wait_for(Duration::from_secs(5), || async { r.authorizer_status(OA).await == Some(AuthorizerStatus::Revoked) }).await);
        // The cache learns it right after the commit (the push handler syncs it), and it stays
        // dead: a refresh that committed just before the revocation must not bring it back.
        assert!(wait_for(Duration::from_secs(1), || async { r.cached_authorizer_token(OA).await.is_none() }).await);
        for _ in 0..20 {
            assert!(r.cached_authorizer_token(OA).await.is_none(), "a revoked account's token came back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let calls = r.calls("api_authorizer_token").len();
        tokio::time::sleep(Duration::from_secs(7)).await;
        assert_eq!(r.calls("api_authorizer_token").len(), calls, "no refresh after revocation");
        let account = r.app.store.authorizer(r.tenant, OA).await.unwrap().unwrap();
        let history = r.app.store.authorizer_history(r.tenant, account.id).await.unwrap();
        assert_eq!(history.last().unwrap().change, "revoked");
        r.stop().await;
    };

    forged_replayed_and_malformed_pushes => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        r.component_token().await;
        let pushes = r.app.store.push_count(r.component).await.unwrap();
        let crypto = wxhub::wechat::crypto::MsgCrypt::new(&r.seed.token, &r.seed.encoding_aes_key, COMPONENT).unwrap();
        let ticket_xml = format!("<xml><AppId>{COMPONENT}</AppId><CreateTime>{}</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>ticket@@@forged</ComponentVerifyTicket></xml>", wxhub::now_ms() / 1000);
        let sealed = crypto.encrypt(&ticket_xml, "1700000000", "42");
        let body = wxhub::wechat::xml::build_envelope(COMPONENT, &sealed.encrypt);
        let url = |sig: &str| r.app.url(&format!("/wechat/{COMPONENT}/notify?timestamp=1700000000&nonce=42&encrypt_type=aes&msg_signature={sig}"));
        let post = |u: String, b: String| r.app.client.post(u).body(b).send();
        // Forged signature: 401, nothing stored.
        let bad = post(url(&"0".repeat(40)), body.clone()).await.unwrap();
        assert_eq!(bad.status(), 401);
        // Wrong key entirely (another platform's ciphertext): refused.
        let other = wxhub::wechat::crypto::MsgCrypt::new(&r.seed.token, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", COMPONENT).unwrap();
        let foreign = other.encrypt(&ticket_xml, "1700000000", "42");
        assert_eq!(post(url(&foreign.msg_signature), wxhub::wechat::xml::build_envelope(COMPONENT, &foreign.encrypt)).await.unwrap().status(), 400);
        // Right key, but the plaintext names another appid.
        let elsewhere = wxhub::wechat::crypto::MsgCrypt::new(&r.seed.token, &r.seed.encoding_aes_key, "wx0000000000000009").unwrap();
        let wrong_appid = elsewhere.encrypt(&ticket_xml, "1700000000", "42");
        assert_eq!(post(url(&wrong_appid.msg_signature), wxhub::wechat::xml::build_envelope(COMPONENT, &wrong_appid.encrypt)).await.unwrap().status(), 400);
        // Garbage bodies and queries.
        for garbage in ["", "not xml", "<xml><Encrypt></Encrypt></xml>", "<!DOCTYPE x [<!ENTITY a \"b\">]><xml/>"] {
            assert_eq!(post(url(&sealed.msg_signature), garbage.to_owned()).await.unwrap().status(), 400, "{garbage:?}");
        }
        assert_eq!(r.app.client.post(r.app.url(&format!("/wechat/{COMPONENT}/notify"))).body(body.clone()).send().await.unwrap().status(), 400);
        assert_eq!(post(r.app.url("/wechat/wx9999999999999999/notify?timestamp=1&nonce=2&msg_signature=x"), body.clone()).await.unwrap().status(), 404);
        let huge = format!("<xml><Encrypt>{}</Encrypt></xml>", "A".repeat(80 * 1024));
        // On its own connection: the server closes one whose oversized body it did not read.
        assert_eq!(reqwest::Client::new().post(url(&sealed.msg_signature)).body(huge).send().await.unwrap().status(), 413);
        assert_eq!(r.app.store.push_count(r.component).await.unwrap(), pushes, "nothing stored");
        let audit = r.app.store.tenant_audit(r.tenant, 100).await.unwrap();
        assert!(audit.iter().filter(|e| e.kind == "push.rejected").count() >= 5);

        // A genuine push is accepted once; WeChat's retry of it is answered success and ignored.
        let ok = post(url(&sealed.msg_signature), body.clone()).await.unwrap();
        assert_eq!((ok.status().as_u16(), ok.text().await.unwrap()), (200, "success".to_owned()));
        assert_eq!(r.app.store.push_count(r.component).await.unwrap(), pushes + 1);
        let again = post(url(&sealed.msg_signature), body.clone()).await.unwrap();
        assert_eq!((again.status().as_u16(), again.text().await.unwrap()), (200, "success".to_owned()));
        assert_eq!(r.app.store.push_count(r.component).await.unwrap(), pushes + 1, "the replay was not stored twice");
        // Unknown InfoTypes are acknowledged and kept.
        let unknown = format!("<xml><AppId>{COMPONENT}</AppId><CreateTime>{}</CreateTime><InfoType>brand_new</InfoType><Foo>bar</Foo></xml>", wxhub::now_ms() / 1000);
        let sealed = crypto.encrypt(&unknown, "1700000000", "43");
        let u = r.app.url(&format!("/wechat/{COMPONENT}/notify?timestamp=1700000000&nonce=43&msg_signature={}", sealed.msg_signature));
        let res = post(u, wxhub::wechat::xml::build_envelope(COMPONENT, &sealed.encrypt)).await.unwrap();
        assert_eq!(res.text().await.unwrap(), "success");
        assert_eq!(r.app.store.push_count(r.component).await.unwrap(), pushes + 2);
        // Appids that cannot exist are unknown components, on both databases (PostgreSQL refuses NUL in text).
        for garbage in ["wx%00", "%E4%B8%AD", &"w".repeat(200)] {
            let res = post(r.app.url(&format!("/wechat/{garbage}/notify?timestamp=1&nonce=2&msg_signature=x")), body.clone()).await.unwrap();
            assert_eq!(res.status().as_u16(), 404, "{garbage}");
        }
        // The redirect with garbage: clear pages, nothing stored.
        assert_eq!(r.app.client.get(r.app.url("/authorize/nope/done?auth_code=x")).send().await.unwrap().status(), 404);
        r.stop().await;
    };
}

on_both_databases! {
    a_console_link_authorizes_an_account_and_tenants_never_see_each_other => async |db: &TestDb| {
        let r = rig(db, compressed(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let hasher = wxhub::auth::PasswordHasher::new(2);
        let pw = SecretString::from("correct horse battery");
        admin.create_tenant("globex", "Globex").await.unwrap();
        admin.create_user(&hasher, "op@acme.test", "tenant-admin", Some("acme"), &pw).await.unwrap();
        admin.create_user(&hasher, "viewer@acme.test", "tenant-viewer", Some("acme"), &pw).await.unwrap();
        admin.create_user(&hasher, "op@globex.test", "tenant-admin", Some("globex"), &pw).await.unwrap();
        let op = signed_in(&r, "op@acme.test").await;
        let viewer = signed_in(&r, "viewer@acme.test").await;
        let other = signed_in(&r, "op@globex.test").await;
        r.component_token().await;
        let component = r.component.0.to_string();
        let links_count = || async { common::raw_count(db, "authorization_links").await };

        // Garbage and the wrong people change nothing.
        for (form, field) in [
            (vec![("form[component_id]", "abc"), ("form[auth_type]", "3")], "component_id"),
            (vec![("form[component_id]", component.as_str()), ("form[auth_type]", "9")], "auth_type"),
            (vec![("form[component_id]", component.as_str()), ("form[biz_appid]", "wx<script>")], "biz_appid"),
            (vec![("form[component_id]", component.as_str()), ("form[expires_in_hours]", "-5")], "expires_in_hours"),
        ] {
            let (status, body) = ui(&op, &r, "create-link", &form).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(body["Invalid"]["field"], field, "{body}");
        }
        let (status, _) = ui(&op, &r, "create-link", &[("junk", "1")]).await;
        assert_eq!(status, 422);
        let (status, _) = ui(&viewer, &r, "create-link", &[("form[component_id]", &component)]).await;
        assert_eq!(status, 403, "viewers change nothing");
        let (status, body) = ui(&other, &r, "create-link", &[("form[component_id]", &component)]).await;
        assert_eq!((status, body["Invalid"]["field"].as_str()), (422, Some("component_id")), "another tenant's component is not offered");
        let (status, _) = ui(&reqwest::Client::new(), &r, "create-link", &[("form[component_id]", &component)]).await;
        assert_eq!(status, 401);
        assert_eq!(links_count().await, 0, "nothing was stored");

        // The operator creates a link; the public page offers a QR code and WeChat's PC page.
        let (status, link) = ui(&op, &r, "create-link", &[
            ("form[component_id]", &component), ("form[auth_type]", "3"), ("form[note]", "spring"), ("form[expires_in_hours]", "24"),
        ]).await;
        assert_eq!(status, 200, "{link}");
        let public_id = link["public_id"].as_str().unwrap().to_owned();
        assert_eq!(link["url"].as_str().unwrap(), r.app.url(&format!("/authorize/{public_id}")));
        let page = r.app.client.get(r.app.url(&format!("/authorize/{public_id}"))).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("<svg"), "the QR code is in the first HTML");
        let pc = href_of(&html, "pc-link").expect("a PC link in the first HTML");
        let mobile = href_of(&html, "mobile-link").expect("a mobile link");
        assert!(pc.starts_with(&format!("{}/cgi-bin/componentloginpage?", r.sim.base_url())), "{pc}");
        assert!(mobile.contains("/wxaopen/safe/bindcomponent?action=bindcomponent"), "{mobile}");
        let pc_url = url::Url::parse(&pc).unwrap();
        let q: std::collections::HashMap<String, String> = pc_url.query_pairs().into_owned().collect();
        assert_eq!(q["redirect_uri"], r.app.url(&format!("/authorize/{public_id}/done")));
        // Reloading the page reuses the code rather than minting another.
        let again = r.app.client.get(r.app.url(&format!("/authorize/{public_id}"))).send().await.unwrap().text().await.unwrap();
        assert_eq!(href_of(&again, "pc-link").unwrap(), pc);
        assert_eq!(r.calls("api_create_preauthcode").len(), 1);

        // The page carries a sealed "opened at" ticket: it may ask whether an account has landed
        // since, and nobody can ask about earlier ones.
        let (status, opened) = ui(&reqwest::Client::new(), &r, "public-link", &[("public_id", &public_id)]).await;
        assert_eq!(status, 200);
        let ticket = opened["Ready"]["landing_ticket"].as_str().expect("a landing ticket").to_owned();
        for forged in ["", "0", "v1.0.AAAA", &ticket[..ticket.len() - 2]] {
            let (status, landed) = ui(&reqwest::Client::new(), &r, "public-link-landed", &[("public_id", &public_id), ("ticket", forged)]).await;
            assert_eq!((status, landed), (200, serde_json::Value::Null), "{forged:?}");
        }
        // The owner confirms on WeChat's page and comes back to the done page.
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        assert_eq!(http.get(&pc).send().await.unwrap().status(), 200);
        let confirm = http.post(format!("{}/sim/confirm", r.sim.base_url())).form(&[
            ("component_appid", q["component_appid"].as_str()), ("pre_auth_code", q["pre_auth_code"].as_str()),
            ("redirect_uri", q["redirect_uri"].as_str()), ("authorizer_appid", OA), ("func", "1"), ("func", "15"),
        ]).send().await.unwrap();
        assert_eq!(confirm.status(), 302);
        let done = r.app.client.get(confirm.headers()["location"].to_str().unwrap()).header("accept-language", "zh-CN,zh;q=0.9").send().await.unwrap();
        assert_eq!(done.status(), 200);
        let html = done.text().await.unwrap();
        assert!(html.contains("data-outcome=\"authorized\"") && html.contains(OA), "{html}");
        assert!(html.contains("授权完成") && html.contains("菜单管理"), "in the owner's language, permissions named");
        let (status, landed) = ui(&reqwest::Client::new(), &r, "public-link-landed", &[("public_id", &public_id), ("ticket", &ticket)]).await;
        assert_eq!((status, landed["appid"].as_str()), (200, Some(OA)), "{landed}");
        // A ticket of another link says nothing about this one.
        let (_, elsewhere) = ui(&reqwest::Client::new(), &r, "public-link-landed", &[("public_id", "someotherlink"), ("ticket", &ticket)]).await;
        assert_eq!(elsewhere, serde_json::Value::Null);
        // The used code is not offered again.
        let fresh = r.app.client.get(r.app.url(&format!("/authorize/{public_id}"))).send().await.unwrap().text().await.unwrap();
        assert_ne!(href_of(&fresh, "pc-link").unwrap(), pc);

        // The operator and the viewer see the account; filters narrow it; the other tenant sees nothing.
        for client in [&op, &viewer] {
            let (status, page) = ui(client, &r, "accounts", &[("query[q]", ""), ("query[status]", ""), ("query[kind]", ""), ("query[permission]", ""), ("query[page]", "")]).await;
            assert_eq!((status, page["total"].as_i64()), (200, Some(1)), "{page}");
            assert_eq!(page["rows"][0]["appid"], OA);
            assert_eq!(page["rows"][0]["permissions"], serde_json::json!([1, 15]));
        }
        let count = |page: serde_json::Value| page["total"].as_i64();
        let search = |q: &'static str, status: &'static str, permission: &'static str| {
            let op = op.clone();
            let r = &r;
            async move { ui(&op, r, "accounts", &[("query[q]", q), ("query[status]", status), ("query[kind]", ""), ("query[permission]", permission), ("query[page]", "1")]).await.1 }
        };
        assert_eq!(count(search("5a1c0ffee0000001", "", "").await), Some(1));
        assert_eq!(count(search("nobody", "", "").await), Some(0));
        assert_eq!(count(search("100%_\\", "", "").await), Some(0), "wildcards are literal");
        assert_eq!(count(search("", "authorized", "15").await), Some(1));
        assert_eq!(count(search("", "revoked", "").await), Some(0));
        assert_eq!(count(search("", "", "17").await), Some(0));
        assert_eq!(count(search("'; DROP TABLE authorizers; --", "<x>", "abc").await), Some(0));
        assert_eq!(count(search("5a1c\u{0}", "", "").await), Some(1), "control characters are dropped, not sent to the database");
        let (status, detail) = ui(&op, &r, "account", &[("appid", OA)]).await;
        assert_eq!(status, 200, "{detail}");
        assert_eq!(detail["row"]["permissions"], serde_json::json!([1, 15]));
        assert_eq!(ui(&op, &r, "account", &[("appid", "wx0000000000000000")]).await.0, 404);
        assert_eq!(ui(&op, &r, "account", &[("appid", "../../etc")]).await.0, 404);

        let (_, theirs) = ui(&other, &r, "accounts", &[("query[q]", ""), ("query[status]", ""), ("query[kind]", ""), ("query[permission]", ""), ("query[page]", "")]).await;
        assert_eq!(theirs["total"].as_i64(), Some(0));
        assert_eq!(ui(&other, &r, "account", &[("appid", OA)]).await.0, 404);
        assert_eq!(ui(&other, &r, "links", &[]).await.1, serde_json::json!([]));
        let link_id = link["id"].as_i64().unwrap().to_string();
        assert_eq!(ui(&other, &r, "revoke-link", &[("id", &link_id)]).await.0, 404);
        assert_eq!(ui(&viewer, &r, "revoke-link", &[("id", &link_id)]).await.0, 403);
        assert_eq!(ui(&other, &r, "refresh-menu", &[("appid", OA)]).await.0, 404);
        let (_, mine) = ui(&op, &r, "links", &[]).await;
        assert_eq!((mine[0]["state"].as_str(), mine[0]["authorizations"].as_i64()), (Some("Active"), Some(1)));

        // Revoked: the page says so, and the list too.
        assert_eq!(ui(&op, &r, "revoke-link", &[("id", &link_id)]).await.0, 200);
        let gone = r.app.client.get(r.app.url(&format!("/authorize/{public_id}"))).send().await.unwrap();
        assert_eq!(gone.status(), 200);
        let html = gone.text().await.unwrap();
        assert!(html.contains("link-problem") && html.contains("withdrawn") && !html.contains("<svg"), "{html}");
        assert_eq!(ui(&op, &r, "links", &[]).await.1[0]["state"], "Revoked");
        let unknown = r.app.client.get(r.app.url("/authorize/no-such-link")).send().await.unwrap();
        assert_eq!(unknown.status(), 404);
        for garbage in ["%00", "a%2F..%2F..", &"x".repeat(300), "<script>"] {
            let res = r.app.client.get(r.app.url(&format!("/authorize/{garbage}"))).send().await.unwrap();
            assert!(matches!(res.status().as_u16(), 404), "{garbage}: {}", res.status());
        }
        // An expired link says so, in Chinese for a Chinese browser, and mints nothing.
        let audit = NewAuditEvent::new(Actor::Cli, AuditKind::LinkCreated, Outcome::Ok, "expired link", wxhub::now_ms());
        r.app.store.create_link(r.tenant, r.component, "expiredlink0000000001", 3, None, "", Some(wxhub::now_ms() - 1), &audit, wxhub::now_ms()).await.unwrap();
        let minted = r.calls("api_create_preauthcode").len();
        let expired = r.app.client.get(r.app.url("/authorize/expiredlink0000000001")).header("accept-language", "zh-CN").send().await.unwrap().text().await.unwrap();
        assert!(expired.contains("link-problem") && expired.contains("已过期") && !expired.contains("<svg"), "{expired}");
        assert_eq!(r.calls("api_create_preauthcode").len(), minted);
        // Every change was audited with the acting user.
        let audit = common::raw_strings(db, "SELECT kind || ' ' || actor_label FROM audit_events WHERE kind LIKE 'link.%' ORDER BY id").await;
        assert_eq!(audit, vec!["link.created op@acme.test".to_owned(), "link.revoked op@acme.test".to_owned(), "link.created cli".to_owned()]);
        r.stop().await;
    };
}

on_both_databases! {
    components_show_their_callback_urls_pass_a_check_and_keep_secrets_write_only => async |db: &TestDb| {
        let r = rig(db, compressed(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let hasher = wxhub::auth::PasswordHasher::new(2);
        let pw = SecretString::from("correct horse battery");
        admin.create_tenant("globex", "Globex").await.unwrap();
        admin.create_user(&hasher, "op@acme.test", "tenant-admin", Some("acme"), &pw).await.unwrap();
        admin.create_user(&hasher, "viewer@acme.test", "tenant-viewer", Some("acme"), &pw).await.unwrap();
        admin.create_user(&hasher, "op@globex.test", "tenant-admin", Some("globex"), &pw).await.unwrap();
        let op = signed_in(&r, "op@acme.test").await;
        let viewer = signed_in(&r, "viewer@acme.test").await;
        let other = signed_in(&r, "op@globex.test").await;
        r.component_token().await;

        let (status, list) = ui(&op, &r, "components", &[]).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list[0]["appid"], COMPONENT);
        assert_eq!(list[0]["notify_url"].as_str(), Some(r.app.url(&format!("/wechat/{COMPONENT}/notify")).as_str()));
        assert!(!list.to_string().contains(&r.seed.secret) && !list.to_string().contains(&r.seed.encoding_aes_key), "no secret reaches the browser");
        let id = list[0]["id"].as_i64().unwrap().to_string();
        // The check: ticket, token and one real call, all fine against the simulator.
        let (status, steps) = ui(&viewer, &r, "check-component", &[("id", &id)]).await;
        assert_eq!(status, 200, "{steps}");
        assert_eq!(steps.as_array().unwrap().len(), 3, "{steps}");
        assert!(steps.as_array().unwrap().iter().all(|s| s["ok"] == true), "{steps}");
        assert_eq!(r.calls("api_get_authorizer_list").len(), 1);
        // With WeChat refusing, the step says why in both languages, never raw.
        r.sim.inject_fault(FaultSpec { component: None, api: Some("api_get_authorizer_list".into()), fault: Fault::Errcode(45009), times: Some(1), percent: None }).unwrap();
        let (_, steps) = ui(&op, &r, "check-component", &[("id", &id)]).await;
        assert_eq!(steps[2]["ok"], false, "{steps}");
        assert!(steps[2]["detail_en"].as_str().unwrap().contains("45009"), "{steps}");
        // Other tenants cannot see, check or edit it; viewers cannot edit.
        assert!(!ui(&other, &r, "components", &[]).await.1.to_string().contains(COMPONENT));
        assert_eq!(ui(&other, &r, "check-component", &[("id", &id)]).await.0, 404);
        let rename = [("form[id]", id.as_str()), ("form[appid]", COMPONENT), ("form[name]", "Renamed")];
        assert_eq!(ui(&other, &r, "save-component", &rename).await.0, 404);
        assert_eq!(ui(&viewer, &r, "save-component", &rename).await.0, 403);

        // Garbage is refused by field; nothing changes.
        let before = common::raw_strings(db, "SELECT appsecret_sealed || encoding_aes_key_sealed || message_token_sealed || name FROM components ORDER BY id").await;
        for (form, field) in [
            (vec![("form[appid]", "wx<script>")], "appid"),
            (vec![("form[appid]", "wx00000000000000aa"), ("form[token]", "tok"), ("form[appsecret]", "short"), ("form[encoding_aes_key]", "x")], "appsecret"),
            (vec![("form[appid]", "wx00000000000000aa")], "token"),
            (vec![("form[id]", id.as_str()), ("form[appid]", "wx00000000000000aa")], "appid"),
            (vec![("form[id]", id.as_str()), ("form[appid]", COMPONENT), ("form[encoding_aes_key]", "tooshort")], "encoding_aes_key"),
        ] {
            let (status, body) = ui(&op, &r, "save-component", &form).await;
            assert_eq!((status, body["Invalid"]["field"].as_str()), (422, Some(field)), "{body}");
        }
        assert_eq!(common::raw_strings(db, "SELECT appsecret_sealed || encoding_aes_key_sealed || message_token_sealed || name FROM components ORDER BY id").await, before);

        // Renaming keeps every secret; a new EncodingAESKey keeps the old one as the previous key.
        let c = r.app.store.component_by_appid(COMPONENT).await.unwrap().unwrap();
        let secrets = r.app.store.component_secrets(&c).await.unwrap();
        assert_eq!(ui(&op, &r, "save-component", &rename).await.0, 200);
        let after = r.app.store.component_secrets(&c).await.unwrap();
        use secrecy::ExposeSecret;
        assert_eq!(after.appsecret.expose_secret(), secrets.appsecret.expose_secret());
        assert_eq!(after.encoding_aes_key.expose_secret(), secrets.encoding_aes_key.expose_secret());
        let new_key = "Z".repeat(43);
        assert_eq!(ui(&op, &r, "save-component", &[("form[id]", id.as_str()), ("form[appid]", COMPONENT), ("form[name]", "Renamed"), ("form[encoding_aes_key]", &new_key)]).await.0, 200);
        let rotated = r.app.store.component_secrets(&c).await.unwrap();
        assert_eq!(rotated.encoding_aes_key.expose_secret(), new_key);
        assert_eq!(rotated.previous_encoding_aes_key.as_ref().map(|k| k.expose_secret().to_owned()), Some(secrets.encoding_aes_key.expose_secret().to_owned()));
        assert_eq!(ui(&op, &r, "components", &[]).await.1[0]["name"], "Renamed");

        // A new component of the tenant's own; its appid must be new.
        let create = |appid: &'static str| [("form[appid]", appid), ("form[name]", "Second"), ("form[token]", "tok3n"), ("form[appsecret]", "0123456789abcdef0123456789abcdef"), ("form[encoding_aes_key]", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")];
        assert_eq!(ui(&op, &r, "save-component", &create("wx00000000000000aa")).await.0, 200);
        let (status, body) = ui(&op, &r, "save-component", &create(COMPONENT)).await;
        assert_eq!((status, body["Invalid"]["field"].as_str()), (422, Some("appid")), "{body}");
        assert_eq!(ui(&op, &r, "components", &[]).await.1.as_array().unwrap().len(), 2);
        let audit = common::raw_strings(db, "SELECT kind FROM audit_events WHERE actor_label = 'op@acme.test' AND kind LIKE 'component.%' ORDER BY id").await;
        assert_eq!(audit, ["component.updated", "component.updated", "component.created"]);
        r.stop().await;
    };
}
