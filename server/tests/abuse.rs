//! What anyone on the internet, a link holder, a tenant's key or a signed-in viewer can make wxhub
//! do (issue 6, "leaks and abuse"): the public done page, forced refreshes, sessions, metrics,
//! sign-in guesses, and the console's quieter leaks. And one load test that throws all of it at a
//! server on SQLite while its tokens refresh on a compressed cycle.

mod common;

use std::time::Duration;

use common::rig::{rig, shared_rig, signed_in, ui, Rig, COMPONENT, MP, OA};
use common::{raw_count, raw_strings, spawn_app, spawn_app_with, wait_for, TestDb};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuditKind, NewAuditEvent, Outcome};
use wxhub::simulator::Lifetimes;

fn lifetimes() -> Lifetimes {
    Lifetimes {
        component_token: 120,
        authorizer_token: 6,
        token_overlap: 1,
        refresh_token_grace: 1,
        ..Lifetimes::default()
    }
}

/// A link of the rig's tenant; revoked when asked.
async fn link(r: &Rig, revoked: bool) -> String {
    let link = r.link(r.tenant).await;
    if revoked {
        let audit = NewAuditEvent::new(
            Actor::Cli,
            AuditKind::LinkRevoked,
            Outcome::Ok,
            "test",
            wxhub::now_ms(),
        );
        assert!(r
            .app
            .store
            .revoke_link(r.tenant, link.id, &audit, wxhub::now_ms())
            .await
            .unwrap());
    }
    link.public_id
}

async fn users(r: &Rig) {
    let admin = Admin {
        store: r.app.store.clone(),
        actor: Actor::Cli,
    };
    let hasher = wxhub::auth::PasswordHasher::new(2);
    let pw = SecretString::from("correct horse battery");
    admin.create_tenant("globex", "Globex").await.unwrap();
    admin
        .create_user(&hasher, "op@acme.test", "tenant-admin", Some("acme"), &pw)
        .await
        .unwrap();
    admin
        .create_user(
            &hasher,
            "viewer@acme.test",
            "tenant-viewer",
            Some("acme"),
            &pw,
        )
        .await
        .unwrap();
    admin
        .create_user(
            &hasher,
            "op@globex.test",
            "tenant-admin",
            Some("globex"),
            &pw,
        )
        .await
        .unwrap();
}

/// A well-formed session id (what tower-sessions issues: 128 random bits, base64url) that names
/// no session.
fn session_id() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

on_both_databases! {
    the_done_page_does_no_work_for_withdrawn_links_and_never_spends_a_code_twice => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |s| s.trust_forwarded_for = true).await;
        r.component_token().await;
        let withdrawn = link(&r, true).await;
        let jobs = raw_count(db, "jobs").await;
        let audit = raw_count(db, "audit_events").await;
        for i in 0..25 {
            let res = plain_client()
                .get(r.app.url(&format!("/authorize/{withdrawn}/done?auth_code=queryauthcode@@@{}", common::random_suffix())))
                .header("x-forwarded-for", format!("10.1.{}.{}", i / 200, i % 200))
                .send().await.unwrap();
            assert_eq!(res.status(), 410);
            assert!(res.text().await.unwrap().contains("data-outcome=\"link-revoked\""));
        }
        assert!(r.calls("api_query_auth").is_empty(), "no code was sent to WeChat");
        assert_eq!(raw_count(db, "jobs").await, jobs, "no job was queued");
        assert!(raw_count(db, "audit_events").await - audit <= 2, "refusals are audited once per link and window");

        // A live link: a made-up code costs one call to WeChat, however often it is presented.
        let live = link(&r, false).await;
        let done = |code: &'static str, ip: &'static str| {
            let url = r.app.url(&format!("/authorize/{live}/done?auth_code={code}"));
            async move { plain_client().get(url).header("x-forwarded-for", ip).send().await.unwrap() }
        };
        assert_eq!(done("queryauthcode@@@madeup", "10.2.0.1").await.status(), 502);
        assert_eq!(done("queryauthcode@@@madeup", "10.2.0.2").await.status(), 502);
        assert_eq!(r.calls("api_query_auth").len(), 1, "the second presentation was answered from the job");
        // Garbage that cannot be a code, and ids that cannot be links, do nothing (and never 500,
        // PostgreSQL refuses NUL bytes).
        assert_eq!(done("has%00nul", "10.2.0.3").await.status(), 400);
        assert_eq!(done("has%20space", "10.2.0.3").await.status(), 400);
        for bad in ["ab%00cd", "%E4%B8%AD", "x%2Fy"] {
            let res = plain_client().get(r.app.url(&format!("/authorize/{bad}/done?auth_code=x"))).send().await.unwrap();
            assert_eq!(res.status(), 404, "{bad}");
            let res = plain_client().get(r.app.url(&format!("/authorize/{bad}"))).send().await.unwrap();
            assert_eq!(res.status(), 404, "{bad}");
        }
        assert_eq!(r.calls("api_query_auth").len(), 1);

        // One address is limited (a burst of 10, then 30 a minute), and so is one link.
        let mut limited = 0;
        for _ in 0..15 {
            let res = done("queryauthcode@@@again", "10.3.0.1").await;
            if res.status() == 429 {
                limited += 1;
                assert!(res.text().await.unwrap().contains("Too many requests"));
            }
        }
        assert!(limited >= 4, "{limited} of 15 quick requests from one address were limited");
        r.stop().await;
    };

    forced_refreshes_are_rationed_per_account_and_per_tenant => async |db: &TestDb| {
        // Tokens that live a minute: the API serves a token only with 5 s or more left.
        let r = rig(db, Lifetimes { authorizer_token: 60, ..lifetimes() }, |s| {
            s.forced_refresh_interval_seconds = 1;
            s.forced_refreshes_per_hour = 3;
        }).await;
        let location = r.authorize(OA, &[1]).await;
        assert_eq!(r.app.client.get(&location).send().await.unwrap().status(), 200);
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let (_, key) = admin.create_api_key("acme", "loop").await.unwrap();
        let key = key.key.expose_secret().to_owned();
        let http = reqwest::Client::new();
        let get_token = || async {
            let v: serde_json::Value = http.get(r.app.url(&format!("/api/v1/authorizers/{OA}/access-token")))
                .bearer_auth(&key).send().await.unwrap().json().await.unwrap();
            v["access_token"].as_str().map(str::to_owned)
        };
        assert!(wait_for(Duration::from_secs(10), || async { get_token().await.is_some() }).await);
        let report = |token: String| {
            let req = http.post(r.app.url(&format!("/api/v1/authorizers/{OA}/access-token/rejected")))
                .bearer_auth(&key).json(&json!({ "access_token": token }));
            async move {
                let res = req.send().await.unwrap();
                (res.status().as_u16(), res.json::<serde_json::Value>().await.unwrap())
            }
        };
        let before = r.calls("api_authorizer_token").len();
        // "Get the token, report it rejected", as fast as a client can loop.
        let mut forced = 0;
        let mut limited = 0;
        let started = tokio::time::Instant::now();
        while started.elapsed() < Duration::from_secs(6) {
            let Some(token) = get_token().await else { continue };
            match report(token).await {
                (202, v) if v["refreshing"] == true => forced += 1,
                (202, _) => {}
                (429, v) => { limited += 1; assert_eq!(v["error"]["code"], "rate_limited"); }
                other => panic!("{other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(forced, 3, "the tenant's budget of forced refreshes");
        assert!(limited > 0, "then 429");
        let calls = r.calls("api_authorizer_token").len() - before;
        assert!(calls <= 3 + 2, "{calls} refreshes reached WeChat in 6 s (3 forced, the rest scheduled)");
        r.stop().await;
    };

    sessions_are_written_only_when_they_change_and_end_at_their_lifetime => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        users(&r).await;
        // Random well-formed cookies write nothing.
        for _ in 0..100 {
            let cookie = format!("wxhub_session={}", session_id());
            let res = plain_client().post(r.app.url("/ui/me")).header("cookie", cookie).send().await.unwrap();
            assert_eq!(res.status(), 200);
        }
        assert_eq!(raw_count(db, "sessions").await, 0);
        let op = signed_in(&r, "op@acme.test").await;
        assert_eq!(raw_count(db, "sessions").await, 1);
        let (status, me) = ui(&op, &r, "me", &[]).await;
        assert_eq!((status, me["email"].as_str()), (200, Some("op@acme.test")));
        // An active session's idle expiry slides (at most one write every few minutes).
        let row = raw_strings(db, "SELECT data FROM sessions").await;
        let mut data: serde_json::Value = serde_json::from_str(&row[0]).unwrap();
        let expires = raw_strings(db, "SELECT CAST(expires_at AS TEXT) FROM sessions").await[0].parse::<i64>().unwrap();
        data["touched_at"] = json!(0);
        raw_strings(db, &format!("UPDATE sessions SET data = '{data}', expires_at = {} RETURNING id_hash", expires - 3_600_000)).await;
        let (status, _) = ui(&op, &r, "me", &[]).await;
        assert_eq!(status, 200);
        let slid = raw_strings(db, "SELECT CAST(expires_at AS TEXT) FROM sessions").await[0].parse::<i64>().unwrap();
        assert!(slid > expires - 3_600_000, "the idle expiry moved on with activity");
        // Past its absolute lifetime (7 days by default) the session ends, however active.
        data["signed_in_at"] = json!(wxhub::now_ms() - 8 * 86_400_000);
        raw_strings(db, &format!("UPDATE sessions SET data = '{data}' RETURNING id_hash")).await;
        let (_, me) = ui(&op, &r, "me", &[]).await;
        assert_eq!(me, serde_json::Value::Null);
        assert_eq!(raw_count(db, "sessions").await, 0);
        // Signed out in one tab: a request of the other tab that loaded the session earlier does
        // not bring it back when it saves.
        let op = signed_in(&r, "op@acme.test").await;
        let hash = raw_strings(db, "SELECT id_hash FROM sessions").await.remove(0);
        let data = raw_strings(db, "SELECT data FROM sessions").await.remove(0);
        let (status, _) = ui(&op, &r, "logout", &[]).await;
        assert!(status < 400);
        assert!(!r.app.store.session_update(&hash, None, &data, wxhub::now_ms() + 60_000).await.unwrap());
        assert_eq!(raw_count(db, "sessions").await, 0);
        r.stop().await;
    };

    parallel_sign_in_guesses_never_pass_the_threshold => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        users(&r).await;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let url = r.app.url("/ui/login");
            set.spawn(async move {
                plain_client().post(url).form(&[("email", "op@acme.test"), ("password", "a wrong guess")]).send().await.unwrap().status().as_u16()
            });
        }
        let mut checked = 0;
        while let Some(status) = set.join_next().await {
            match status.unwrap() {
                401 => checked += 1,
                429 => {}
                other => panic!("{other}"),
            }
        }
        assert!(checked <= 5, "{checked} of 40 parallel guesses reached the password check");
        // A NUL byte in the typed name is neither a 500 nor a stored key.
        let res = plain_client().post(r.app.url("/ui/login")).form(&[("email", "a\u{0}b@x.test"), ("password", "x")]).send().await.unwrap();
        assert!([401, 429].contains(&res.status().as_u16()), "{}", res.status());
        r.stop().await;
    };

    metrics_are_private_unless_a_token_is_given => async |db: &TestDb| {
        let app = spawn_app(db).await;
        assert_eq!(app.client.get(app.url("/metrics")).send().await.unwrap().status(), 404);
        let private = app.app.as_ref().unwrap().metrics_addr().unwrap();
        let text = app.client.get(format!("http://{private}/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(text.contains("wxhub_cached_tokens"), "{text}");
        app.stop().await;
        let app = spawn_app_with(db, |s| {
            s.metrics_listen = None;
            s.metrics_token = Some(SecretString::from("scrape-me-0123456789"));
        }).await;
        assert!(app.app.as_ref().unwrap().metrics_addr().is_none());
        let get = |auth: Option<&'static str>| {
            let mut req = app.client.get(app.url("/metrics"));
            if let Some(a) = auth { req = req.header("authorization", a); }
            async move { req.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(get(None).await, 401);
        assert_eq!(get(Some("Bearer wrong")).await, 401);
        assert_eq!(get(Some("Bearer scrape-me-012345678")).await, 401);
        assert_eq!(get(Some("Bearer scrape-me-0123456789")).await, 200);
        app.stop().await;
    };

    the_console_leaks_nothing_across_tenants => async |db: &TestDb| {
        let r = shared_rig(db, lifetimes(), |_| {}).await;
        users(&r).await;
        r.component_token().await;
        let viewer = signed_in(&r, "viewer@acme.test").await;
        // A tenant checks the shared component: WeChat answers, the count of every tenant's
        // accounts is not shown.
        let (status, steps) = ui(&viewer, &r, "check-component", &[("id", &r.component.0.to_string())]).await;
        assert_eq!(status, 200, "{steps}");
        let text = steps.to_string();
        assert!(text.contains("WeChat answered") && !text.contains("authorized accounts"), "{text}");
        // Adding a user whose email belongs to another tenant tells neither that nor whose it is.
        let op = signed_in(&r, "op@acme.test").await;
        let (status, err) = ui(&op, &r, "create-user", &[("form[email]", "op@globex.test"), ("form[role]", "tenant-viewer"), ("form[password]", "a long enough password")]).await;
        assert_eq!(status, 422, "{err}");
        let text = err.to_string();
        assert!(!text.contains("exist") && !text.contains("globex"), "{text}");
        let (_, own) = ui(&op, &r, "create-user", &[("form[email]", "viewer@acme.test"), ("form[role]", "tenant-viewer"), ("form[password]", "a long enough password")]).await;
        assert!(own.to_string().contains("already in your team"), "{own}");
        let tenant_log = r.app.store.tenant_audit(r.tenant, 100).await.unwrap();
        assert!(!tenant_log.iter().any(|e| e.summary.contains("globex") || e.kind == "user.create_refused"));
        r.stop().await;
    };
}

/// Every kind of abuse at once against a server on SQLite, while its tokens refresh every few
/// seconds: forged pushes, guessed codes on a withdrawn link, random session cookies, sign-in
/// guesses. The tables an attacker can grow stay bounded, WeChat is never asked to exchange a
/// code, and no refresh fails inside wxhub or loses its lease to the noise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_load_on_sqlite_leaves_refreshes_and_tables_alone() {
    let db = TestDb::new(common::Backend::Sqlite).await.unwrap();
    let r = rig(&db, lifetimes(), |_| {}).await;
    users(&r).await;
    for appid in [OA, MP] {
        r.sim.authorize(COMPONENT, appid, &[1]).unwrap();
    }
    assert!(
        wait_for(Duration::from_secs(20), || async {
            r.cached_authorizer_token(OA).await.is_some()
                && r.cached_authorizer_token(MP).await.is_some()
        })
        .await
    );
    let withdrawn = link(&r, true).await;
    let engine = r.engine().clone();
    let refreshed_before = engine.metrics.refresh_outcome_count("refreshed");
    let counts = |db: &TestDb| {
        let db_url = db.url.clone();
        async move {
            let store = wxhub::store::Store::connect(&db_url, 2).await.unwrap();
            let out = store.growth_counts().await.unwrap();
            store.close().await;
            out
        }
    };
    let before = counts(&db).await;
    let exchanges = r.calls("api_query_auth").len();
    let started = std::time::Instant::now();

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let base = r.app.base.clone();
    let forged_body = wxhub::wechat::xml::build_envelope(COMPONENT, "AAAAforgedciphertextAAAA");
    let mut tasks = tokio::task::JoinSet::new();
    // 20,000 forged pushes, 32 at a time.
    for worker in 0..32 {
        let (http, base, body) = (http.clone(), base.clone(), forged_body.clone());
        tasks.spawn(async move {
            let mut statuses = std::collections::HashMap::<u16, usize>::new();
            for i in 0..625 {
                let url = format!("{base}/wechat/{COMPONENT}/notify?timestamp=1&nonce={worker}-{i}&msg_signature={:040}", i);
                let s = http.post(url).body(body.clone()).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                *statuses.entry(s).or_default() += 1;
            }
            ("push", statuses)
        });
    }
    // 1,000 guessed codes on a withdrawn link's done page.
    for worker in 0..4 {
        let (http, base, link) = (http.clone(), base.clone(), withdrawn.clone());
        tasks.spawn(async move {
            let mut statuses = std::collections::HashMap::<u16, usize>::new();
            for i in 0..250 {
                let url =
                    format!("{base}/authorize/{link}/done?auth_code=queryauthcode@@@{worker}x{i}");
                let s = http
                    .get(url)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                *statuses.entry(s).or_default() += 1;
            }
            ("done", statuses)
        });
    }
    // 10,000 random session cookies.
    for _ in 0..8 {
        let (http, base) = (http.clone(), base.clone());
        tasks.spawn(async move {
            let mut statuses = std::collections::HashMap::<u16, usize>::new();
            for _ in 0..1_250 {
                let cookie = format!("wxhub_session={}", session_id());
                let s = http
                    .post(format!("{base}/ui/me"))
                    .header("cookie", cookie)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                *statuses.entry(s).or_default() += 1;
            }
            ("cookie", statuses)
        });
    }
    // 1,000 sign-in guesses.
    for worker in 0..4 {
        let (http, base) = (http.clone(), base.clone());
        tasks.spawn(async move {
            let mut statuses = std::collections::HashMap::<u16, usize>::new();
            for i in 0..250 {
                let email = if i % 2 == 0 {
                    "op@acme.test".to_owned()
                } else {
                    format!("guess{worker}-{i}@acme.test")
                };
                let s = http
                    .post(format!("{base}/ui/login"))
                    .form(&[("email", email.as_str()), ("password", "not the password")])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                *statuses.entry(s).or_default() += 1;
            }
            ("login", statuses)
        });
    }
    // Meanwhile, every token the engine serves is one WeChat accepts.
    let mut samples = 0;
    while !tasks.is_empty() {
        tokio::select! {
            done = tasks.join_next() => {
                let (what, statuses) = done.unwrap().unwrap();
                eprintln!("abuse {what}: {statuses:?} after {:?}", started.elapsed());
                assert!(!statuses.contains_key(&0) && !statuses.contains_key(&500), "{what}: {statuses:?}");
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                for appid in [OA, MP] {
                    if let Some(token) = r.cached_authorizer_token(appid).await {
                        assert!(r.token_is_valid_at_wechat(&token), "served a token WeChat refuses");
                        samples += 1;
                    }
                }
            }
        }
    }
    let elapsed = started.elapsed();
    let after = counts(&db).await;
    eprintln!("abuse load took {elapsed:?}; rows before {before:?}, after {after:?}; {samples} token samples");
    let grew = |table: &str| {
        let at = |c: &[(&str, i64)]| {
            c.iter()
                .find(|(t, _)| *t == table)
                .map(|(_, n)| *n)
                .unwrap_or(0)
        };
        at(&after) - at(&before)
    };
    assert!(
        grew("audit_events") <= 60,
        "audit rows grew by {}",
        grew("audit_events")
    );
    assert_eq!(grew("jobs"), 0, "no job from any of it");
    assert_eq!(grew("sessions"), 0, "no session from random cookies");
    assert!(
        grew("login_throttle") <= 510,
        "one throttle row per typed name at most"
    );
    assert_eq!(
        r.calls("api_query_auth").len(),
        exchanges,
        "no code reached WeChat"
    );
    let refreshed = engine.metrics.refresh_outcome_count("refreshed") - refreshed_before;
    assert!(refreshed >= 2, "tokens kept refreshing ({refreshed})");
    assert_eq!(
        engine.metrics.refresh_outcome_count("internal"),
        0,
        "no refresh failed inside wxhub"
    );
    assert_eq!(
        engine.metrics.refresh_outcome_count("lease_lost"),
        0,
        "no refresh lost its lease"
    );
    r.stop().await;
}
