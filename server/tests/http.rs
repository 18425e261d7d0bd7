//! The real server on port 0, over HTTP: health, sign-in, sessions, throttling, origin checks,
//! restart survival and graceful shutdown.

mod common;

use std::time::Duration;

use common::{spawn_app, spawn_app_with, wait_for, TestApp, TestDb};
use reqwest::header::{HeaderMap, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use secrecy::SecretString;
use wxhub::admin::Admin;
use wxhub::auth::PasswordHasher;
use wxhub::domain::Actor;

const PASSWORD: &str = "correct horse battery";

async fn seed_users(app: &TestApp) {
    let admin = Admin {
        store: app.store.clone(),
        actor: Actor::Cli,
    };
    let hasher = PasswordHasher::new(2);
    let pw = SecretString::from(PASSWORD);
    admin.create_tenant("acme", "Acme Ltd").await.unwrap();
    admin
        .create_user(&hasher, "root@wxhub.test", "platform-admin", None, &pw)
        .await
        .unwrap();
    admin
        .create_user(&hasher, "op@acme.test", "tenant-admin", Some("acme"), &pw)
        .await
        .unwrap();
}

async fn login(
    client: &reqwest::Client,
    app: &TestApp,
    email: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/ui/login"))
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("login request")
}

async fn me(client: &reqwest::Client, app: &TestApp) -> serde_json::Value {
    let res = client
        .post(app.url("/ui/me"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("wxhub_session="))
        .map(str::to_owned)
}

async fn logins(store: &wxhub::store::Store) -> usize {
    store
        .platform_audit(200)
        .await
        .map(|e| e.iter().filter(|e| e.kind == "user.login").count())
        .unwrap_or(0)
}

fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

on_both_databases! {
    health_and_readiness => async |db: &TestDb| {
        let app = spawn_app(db).await;
        let res = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.text().await.unwrap(), "ok");
        let res = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["schema_version"], common::newest_migration());
        assert!(session_cookie(&app.client.get(app.url("/healthz")).send().await.unwrap().headers().clone()).is_none());
        // Every answer names its request; a proxy's id is kept, garbage is replaced.
        let id_of = |res: reqwest::Response| res.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
        let fresh = id_of(app.client.get(app.url("/healthz")).send().await.unwrap()).expect("an id");
        let next = id_of(app.client.get(app.url("/healthz")).send().await.unwrap()).expect("an id");
        let shape = |id: &str| id.split_once('-').is_some_and(|(p, n)| p.len() == 12 && !n.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
        assert!(shape(&fresh) && shape(&next) && fresh != next, "this instance's prefix and a counter: {fresh}, {next}");
        assert_eq!(fresh.split_once('-').map(|p| p.0), next.split_once('-').map(|p| p.0));
        let kept = id_of(app.client.get(app.url("/readyz")).header("x-request-id", "edge-42.a_b").send().await.unwrap());
        assert_eq!(kept.as_deref(), Some("edge-42.a_b"));
        for garbage in ["a b", &"x".repeat(65), "<script>", "é"] {
            let res = app.client.get(app.url("/healthz")).header("x-request-id", garbage).send().await.unwrap();
            let id = id_of(res).unwrap();
            assert!(id != garbage && shape(&id), "{garbage:?} became {id:?}");
        }
        app.stop().await;
    };

    signed_out_visitors_are_sent_to_the_login_page => async |db: &TestDb| {
        let app = spawn_app(db).await;
        let res = app.client.get(app.url("/")).header("accept", "text/html").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND, "{:?}", res.text().await);
        let res = app.client.get(app.url("/accounts")).header("accept", "text/html").send().await.unwrap();
        assert_eq!(res.headers()[LOCATION], "/login");
        let page = app.client.get(app.url("/login")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("<form") && html.contains("name=\"password\""), "login form is server-rendered");
        let missing = app.client.get(app.url("/no/such/page")).send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        app.stop().await;
    };

    sign_in_sets_a_safe_cookie_and_rotates_the_session => async |db: &TestDb| {
        let app = spawn_app(db).await;
        seed_users(&app).await;
        assert_eq!(me(&app.client, &app).await, serde_json::Value::Null);

        let res = login(&app.client, &app, " OP@acme.test ", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK);
        let first = session_cookie(res.headers()).expect("session cookie set at sign-in");
        assert!(first.contains("HttpOnly"), "{first}");
        assert!(first.contains("SameSite=Lax"), "{first}");
        assert!(!first.contains("Secure"), "plain http public URL: {first}");
        let user: serde_json::Value = res.json().await.unwrap();
        assert_eq!(user["email"], "op@acme.test");
        assert_eq!(user["role"], "tenant-admin");
        assert_eq!(user["tenant"]["slug"], "acme");
        assert_eq!(me(&app.client, &app).await["email"], "op@acme.test");

        // Signing in again on the same browser gives a new id and kills the old one.
        let res = login(&app.client, &app, "op@acme.test", PASSWORD).await;
        let second = session_cookie(res.headers()).unwrap();
        let id = |c: &str| c.split(';').next().unwrap().to_owned();
        assert_ne!(id(&first), id(&second), "session id rotated");
        let stale = reqwest::Client::new()
            .post(app.url("/ui/me"))
            .header("cookie", id(&first))
            .header("content-type", "application/x-www-form-urlencoded")
            .send().await.unwrap();
        assert_eq!(stale.text().await.unwrap(), "null", "the pre-rotation id is dead");

        // The signed-in console renders for the user.
        let html = app.client.get(app.url("/")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("op@acme.test") && html.contains("Acme Ltd"), "console shows the user");

        // Sign out ends it for good.
        let res = app.client.post(app.url("/ui/logout")).header("content-type", "application/x-www-form-urlencoded").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(me(&app.client, &app).await, serde_json::Value::Null);
        let kinds: Vec<String> = app.store.platform_audit(20).await.unwrap().into_iter().map(|e| format!("{}:{}", e.kind, e.outcome)).collect();
        assert!(kinds.contains(&"user.login:ok".to_owned()) && kinds.contains(&"user.logout:ok".to_owned()), "{kinds:?}");
        app.stop().await;
    };

    every_failure_gets_the_same_answer => async |db: &TestDb| {
        let app = spawn_app(db).await;
        seed_users(&app).await;
        let mut bodies = Vec::new();
        for (email, password) in [
            ("op@acme.test", "wrong password!"),
            ("nobody@acme.test", PASSWORD),
            ("not-an-email", PASSWORD),
            ("op@acme.test", ""),
            ("op@acme.test", &"x".repeat(5000)),
            ("", ""),
        ] {
            let res = login(&fresh_client(), &app, email, password).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{email:?}");
            assert!(session_cookie(res.headers()).is_none());
            bodies.push(res.text().await.unwrap());
        }
        assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:?}");
        assert!(bodies[0].contains("InvalidCredentials"), "{}", bodies[0]);
        // Garbage bodies are rejected, not crashed on.
        for body in ["", "email=a", "%%%", "password=x&password=y"] {
            let res = fresh_client().post(app.url("/ui/login")).header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
            assert!(res.status().is_client_error(), "{body:?} -> {}", res.status());
        }
        let huge = fresh_client().post(app.url("/ui/login")).header("content-type", "application/x-www-form-urlencoded").body(format!("email=a&password={}", "x".repeat(200_000))).send().await.unwrap();
        assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // A failed sign-in is audited with its real reason, which the user never sees.
        let events = app.store.platform_audit(50).await.unwrap();
        assert!(events.iter().any(|e| e.kind == "user.login" && e.outcome == "failed" && e.detail.contains("wrong password")));
        assert!(events.iter().any(|e| e.detail.contains("unknown account")));
        app.stop().await;
    };

    plain_form_posts_redirect_with_the_error_in_the_url => async |db: &TestDb| {
        let app = spawn_app(db).await;
        seed_users(&app).await;
        let client = fresh_client();
        let res = client.post(app.url("/ui/login")).header("accept", "text/html").header("referer", app.url("/login"))
            .form(&[("email", "op@acme.test"), ("password", "nope nope nope")]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        assert_eq!(res.headers()[LOCATION], "/login?error=invalid");
        let html = client.get(app.url("/login?error=invalid")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Invalid email or password."), "error shown without JavaScript");
        let res = client.post(app.url("/ui/login")).header("accept", "text/html").form(&[("email", "op@acme.test"), ("password", PASSWORD)]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        assert_eq!(res.headers()[LOCATION], "/");
        assert!(session_cookie(res.headers()).is_some());
        app.stop().await;
    };

    repeated_failures_are_throttled_per_account_and_per_address => async |db: &TestDb| {
        let app = spawn_app(db).await;
        seed_users(&app).await;
        for _ in 0..5 {
            assert_eq!(login(&fresh_client(), &app, "op@acme.test", "wrong password!").await.status(), StatusCode::UNAUTHORIZED);
        }
        // Now even the right password waits.
        let res = login(&fresh_client(), &app, "op@acme.test", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(res.text().await.unwrap().contains("Throttled"));
        // Unknown accounts are throttled the same way, so the lock reveals nothing.
        for _ in 0..5 {
            login(&fresh_client(), &app, "ghost@acme.test", "wrong password!").await;
        }
        assert_eq!(login(&fresh_client(), &app, "ghost@acme.test", "wrong password!").await.status(), StatusCode::TOO_MANY_REQUESTS);
        // Another account from the same address still works, until the address itself hits its limit.
        assert_eq!(login(&fresh_client(), &app, "root@wxhub.test", PASSWORD).await.status(), StatusCode::OK);
        for i in 0..20 {
            login(&fresh_client(), &app, &format!("spray{i}@acme.test"), "wrong password!").await;
        }
        assert_eq!(login(&fresh_client(), &app, "root@wxhub.test", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
        // Throttled attempts are audited, once per address and minute: the rest are counted and
        // summed up in one row when the minute ends (an attacker cannot flood the audit log).
        let denied = app.store.platform_audit(200).await.unwrap().into_iter().filter(|e| e.outcome == "denied").count();
        assert_eq!(denied, 1, "throttled attempts are audited, sampled ({denied})");
        app.stop().await;
    };

    cross_origin_writes_are_refused => async |db: &TestDb| {
        let app = spawn_app(db).await;
        seed_users(&app).await;
        let res = fresh_client().post(app.url("/ui/login")).header(ORIGIN, "https://evil.example")
            .form(&[("email", "op@acme.test"), ("password", PASSWORD)]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(app.store.platform_audit(50).await.unwrap().iter().all(|e| e.kind != "user.login"), "the request never reached sign-in");
        let same = fresh_client().post(app.url("/ui/login")).header(ORIGIN, &app.base)
            .form(&[("email", "op@acme.test"), ("password", PASSWORD)]).send().await.unwrap();
        assert_eq!(same.status(), StatusCode::OK);
        app.stop().await;
    };

    https_public_url_makes_cookies_secure_and_pins_the_origin => async |db: &TestDb| {
        let app = spawn_app_with(db, |s| s.public_url = Some(url::Url::parse("https://wx.example.com").unwrap())).await;
        seed_users(&app).await;
        let res = login(&fresh_client(), &app, "op@acme.test", PASSWORD).await;
        let cookie = session_cookie(res.headers()).unwrap();
        assert!(cookie.contains("Secure"), "{cookie}");
        let res = fresh_client().post(app.url("/ui/login")).header(ORIGIN, &app.base)
            .form(&[("email", "op@acme.test"), ("password", PASSWORD)]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "only the public origin may post");
        app.stop().await;
    };

    sessions_survive_a_restart_and_work_across_instances => async |db: &TestDb| {
        let app = spawn_app(db).await;
        seed_users(&app).await;
        let client = fresh_client();
        let signed_in = login(&client, &app, "root@wxhub.test", PASSWORD).await;
        assert_eq!(signed_in.status(), StatusCode::OK);
        let cookie_header = signed_in.headers().get(SET_COOKIE).map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned()).unwrap();
        // A request that changes nothing in the session writes nothing, and sets no cookie.
        let res = client.post(app.url("/ui/me")).header("content-type", "application/x-www-form-urlencoded").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get(SET_COOKIE).is_none());
        // A second instance on the same database already knows the session.
        let other = spawn_app(db).await;
        let via_other = reqwest::Client::new().post(other.url("/ui/me")).header("cookie", &cookie_header)
            .header("content-type", "application/x-www-form-urlencoded").send().await.unwrap();
        assert_eq!(via_other.json::<serde_json::Value>().await.unwrap()["email"], "root@wxhub.test");
        other.stop().await;
        app.stop().await;
        let restarted = spawn_app(db).await;
        let after = reqwest::Client::new().post(restarted.url("/ui/me")).header("cookie", &cookie_header)
            .header("content-type", "application/x-www-form-urlencoded").send().await.unwrap();
        assert_eq!(after.json::<serde_json::Value>().await.unwrap()["email"], "root@wxhub.test");
        restarted.stop().await;
    };

    garbage_or_corrupted_sessions_mean_signed_out_not_an_error => async |db: &TestDb| {
        let app = spawn_app(db).await;
        seed_users(&app).await;
        for cookie in ["wxhub_session=garbage", "wxhub_session=", "wxhub_session=%%%%", &format!("wxhub_session={}", "A".repeat(5000))] {
            let res = reqwest::Client::new().post(app.url("/ui/me")).header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded").send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{cookie}");
            assert_eq!(res.text().await.unwrap(), "null");
        }
        // A record whose data no longer decodes (say, written by a future version) is treated as
        // signed out, and the page still renders.
        let client = fresh_client();
        assert_eq!(login(&client, &app, "op@acme.test", PASSWORD).await.status(), StatusCode::OK);
        app.store.sessions_delete_expired(i64::MAX).await.unwrap();
        assert_eq!(me(&client, &app).await, serde_json::Value::Null);
        assert_eq!(login(&client, &app, "op@acme.test", PASSWORD).await.status(), StatusCode::OK);
        let hash = common::raw_strings(db, "SELECT id_hash FROM sessions").await;
        assert_eq!(hash.len(), 1);
        assert!(app.store.session_update(&hash[0], None, "{not json", i64::MAX / 2).await.unwrap());
        assert_eq!(me(&client, &app).await, serde_json::Value::Null, "signed out, not an error");
        assert_eq!(common::raw_count(db, "sessions").await, 0, "the unreadable record is gone");
        let page = client.get(app.url("/login")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(login(&client, &app, "op@acme.test", PASSWORD).await.status(), StatusCode::OK, "and can sign in again");
        app.stop().await;
    };

    forwarded_for_is_used_only_when_trusted => async |db: &TestDb| {
        let app = spawn_app_with(db, |s| s.trust_forwarded_for = true).await;
        seed_users(&app).await;
        let from = |ip: &'static str| {
            let app_url = app.url("/ui/login");
            async move {
                fresh_client().post(app_url).header("x-forwarded-for", ip)
                    .form(&[("email", format!("x{}@acme.test", super::common::random_suffix())), ("password", "wrong password!".into())])
                    .send().await.unwrap().status()
            }
        };
        for _ in 0..20 {
            assert_eq!(from("198.51.100.7, 10.0.0.1").await, StatusCode::UNAUTHORIZED);
        }
        // The right-most entry (the one our proxy added) is the client: 10.0.0.1 is now locked...
        assert_eq!(from("203.0.113.9, 10.0.0.1").await, StatusCode::TOO_MANY_REQUESTS);
        // ...and another address is not. Garbage falls back to the peer address.
        assert_eq!(from("10.0.0.2").await, StatusCode::UNAUTHORIZED);
        assert_eq!(from("not-an-ip").await, StatusCode::UNAUTHORIZED);
        let ips: Vec<String> = app.store.platform_audit(100).await.unwrap().into_iter().filter_map(|e| e.ip).collect();
        assert!(ips.contains(&"10.0.0.1".to_owned()) && ips.contains(&"127.0.0.1".to_owned()), "{ips:?}");
        app.stop().await;

        // Untrusted (the default): the header is ignored entirely.
        let app = spawn_app(db).await;
        let res = fresh_client().post(app.url("/ui/login")).header("x-forwarded-for", "10.9.9.9")
            .form(&[("email", "nobody@acme.test"), ("password", "wrong password!")]).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let ips: Vec<String> = app.store.platform_audit(100).await.unwrap().into_iter().filter_map(|e| e.ip).collect();
        assert!(!ips.contains(&"10.9.9.9".to_owned()), "{ips:?}");
        app.stop().await;
    };

    readiness_fails_when_the_database_is_gone => async |db: &TestDb| {
        let app = spawn_app(db).await;
        assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
        app.store.close().await;
        let res = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unavailable");
        assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK, "the process is still up");
        app.stop().await;
    };

    shutdown_drains_in_flight_requests => async |db: &TestDb| {
        // Each sign-in comes from its own address (behind a trusted proxy), so none is throttled:
        // every one is a failed sign-in with its own audit row.
        let app = spawn_app_with(db, |s| s.trust_forwarded_for = true).await;
        seed_users(&app).await;
        let mut requests = Vec::new();
        // Clients are built first so that the 24 sign-ins leave together. Sign-ins are slow
        // (argon2 on a bounded pool), so many are in flight at once.
        let clients: Vec<reqwest::Client> = (0..24).map(|_| fresh_client()).collect();
        for (i, client) in clients.into_iter().enumerate() {
            let url = app.url("/ui/login");
            requests.push(tokio::spawn(async move {
                let email = format!("user{i}@acme.test");
                let result = client.post(url).header("x-forwarded-for", format!("10.0.0.{i}"))
                    .form(&[("email", email.clone()), ("password", "wrong password!".into())]).send().await;
                (email, result.map(|r| r.status()))
            }));
        }
        let store = app.store.clone();
        let started = wait_for(Duration::from_secs(20), || {
            let store = store.clone();
            async move { logins(&store).await > 0 }
        }).await;
        assert!(started, "requests reached the server");
        let done_before_stop = logins(&app.store).await;
        let base = app.base.clone();
        let audit_store = app.store.clone();
        app.stop().await;
        let mut answered = Vec::new();
        for r in requests {
            let (email, result) = r.await.unwrap();
            if let Ok(status) = result {
                assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS, "{status}");
                answered.push(email);
            }
        }
        // The store is closed now; read the audit log through a fresh connection.
        let reopened = wxhub::store::Store::connect(&db.url, 2).await.unwrap();
        let _ = audit_store;
        let mut processed: Vec<String> = reopened.platform_audit(100).await.unwrap().into_iter()
            .filter(|e| e.kind == "user.login")
            .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.detail).ok()?.get("email")?.as_str().map(str::to_owned))
            .collect();
        processed.sort();
        answered.sort();
        // Every request the server started on was answered; none was cut off half-way.
        assert_eq!(processed, answered);
        assert!(answered.len() > done_before_stop, "requests finished during the drain ({done_before_stop} before, {} after)", answered.len());
        assert!(reqwest::get(format!("{base}/healthz")).await.is_err(), "no longer listening");
        reopened.close().await;
    };
}

/// A server function call with form fields: the status and the JSON answer.
async fn call(
    client: &reqwest::Client,
    app: &TestApp,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let res = client
        .post(app.url(&format!("/ui/{endpoint}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

on_both_databases! {
    api_keys_and_users_are_managed_by_tenant_admins_only_within_their_tenant => async |db: &TestDb| {
        let app = spawn_app(db).await;
        seed_users(&app).await;
        let admin = Admin { store: app.store.clone(), actor: Actor::Cli };
        let hasher = PasswordHasher::new(2);
        let pw = SecretString::from(PASSWORD);
        admin.create_tenant("globex", "Globex").await.unwrap();
        admin.create_user(&hasher, "op@globex.test", "tenant-admin", Some("globex"), &pw).await.unwrap();
        let op = fresh_client();
        assert_eq!(login(&op, &app, "op@acme.test", PASSWORD).await.status(), StatusCode::OK);
        let other = fresh_client();
        assert_eq!(login(&other, &app, "op@globex.test", PASSWORD).await.status(), StatusCode::OK);

        // API keys: garbage names are refused and nothing is stored; a key is shown once.
        for bad in ["", "   ", "tab\there"] {
            let (status, body) = call(&op, &app, "create-api-key", &[("name", bad), ("scopes", "tokens:read wechat:call links:write webhooks:manage")]).await;
            assert_eq!((status, body["Invalid"]["field"].as_str()), (422, Some("name")), "{bad:?}: {body}");
        }
        assert_eq!(call(&op, &app, "create-api-key", &[]).await.0, 422);
        for bad in ["", "   ", "tokens:write", "tokens:read admin", "*", "\u{0}"] {
            let (status, body) = call(&op, &app, "create-api-key", &[("name", "scoped"), ("scopes", bad)]).await;
            assert_eq!((status, body["Invalid"]["field"].as_str()), (422, Some("scopes")), "{bad:?}: {body}");
        }
        assert_eq!(common::raw_count(db, "api_keys").await, 0);
        let (status, created) = call(&op, &app, "create-api-key", &[("name", "billing"), ("scopes", "tokens:read wechat:call links:write webhooks:manage")]).await;
        assert_eq!(status, 200, "{created}");
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("wxh_") && secret.len() == 47);
        let (_, list) = call(&op, &app, "api-keys", &[]).await;
        assert_eq!(list[0]["name"], "billing");
        assert!(!list.to_string().contains(&secret), "the list never carries the key");
        assert!(!common::raw_strings(db, "SELECT key_hash FROM api_keys").await.contains(&secret));
        let id = created["key"]["id"].as_i64().unwrap().to_string();
        assert_eq!(created["key"]["scopes"], serde_json::json!(["tokens:read", "wechat:call", "links:write", "webhooks:manage"]));
        // Scopes are set per key; garbage changes nothing.
        for bad in ["", "everything", "wechat:call tokens"] {
            let (status, body) = call(&op, &app, "set-api-key-scopes", &[("id", &id), ("scopes", bad)]).await;
            assert_eq!((status, body["Invalid"]["field"].as_str()), (422, Some("scopes")), "{bad:?}: {body}");
        }
        assert_eq!(call(&op, &app, "set-api-key-scopes", &[("id", "x"), ("scopes", "wechat:call")]).await.0, 422);
        assert_eq!(call(&op, &app, "set-api-key-scopes", &[("id", &id), ("scopes", "wechat:call webhooks:manage")]).await.0, 200);
        assert_eq!(call(&op, &app, "api-keys", &[]).await.1[0]["scopes"], serde_json::json!(["wechat:call", "webhooks:manage"]));
        assert_eq!(call(&other, &app, "set-api-key-scopes", &[("id", &id), ("scopes", "tokens:read")]).await.0, 404);
        // Another tenant neither sees nor revokes it.
        assert_eq!(call(&other, &app, "api-keys", &[]).await.1, serde_json::json!([]));
        assert_eq!(call(&other, &app, "revoke-api-key", &[("id", &id)]).await.0, 404);
        assert_eq!(call(&op, &app, "revoke-api-key", &[("id", "x")]).await.0, 422);
        assert_eq!(call(&op, &app, "revoke-api-key", &[("id", &id)]).await.0, 200);
        assert!(call(&op, &app, "api-keys", &[]).await.1[0]["revoked_at"].is_i64());

        // Users: a tenant admin adds a viewer; the viewer signs in and can change nothing.
        for (form, field) in [
            (vec![("form[email]", "not-an-email"), ("form[role]", "tenant-viewer"), ("form[password]", PASSWORD)], "email"),
            (vec![("form[email]", "v@acme.test"), ("form[role]", "platform-admin"), ("form[password]", PASSWORD)], "role"),
            (vec![("form[email]", "v@acme.test"), ("form[role]", "tenant-viewer"), ("form[password]", "short")], "password"),
            (vec![("form[email]", "OP@acme.test"), ("form[role]", "tenant-viewer"), ("form[password]", PASSWORD)], "email"),
        ] {
            let (status, body) = call(&op, &app, "create-user", &form).await;
            assert_eq!((status, body["Invalid"]["field"].as_str()), (422, Some(field)), "{body}");
        }
        let before = common::raw_count(db, "users").await;
        let (status, viewer) = call(&op, &app, "create-user", &[("form[email]", "V@acme.test"), ("form[role]", "tenant-viewer"), ("form[password]", PASSWORD)]).await;
        assert_eq!((status, viewer["email"].as_str(), viewer["role"].as_str()), (200, Some("v@acme.test"), Some("tenant-viewer")), "{viewer}");
        assert_eq!(common::raw_count(db, "users").await, before + 1);
        let v = fresh_client();
        assert_eq!(login(&v, &app, "v@acme.test", PASSWORD).await.status(), StatusCode::OK);
        assert_eq!(call(&v, &app, "create-api-key", &[("name", "sneaky"), ("scopes", "tokens:read wechat:call links:write webhooks:manage")]).await.0, 403);
        assert_eq!(call(&v, &app, "set-api-key-scopes", &[("id", &id), ("scopes", "tokens:read")]).await.0, 403);
        assert_eq!(call(&v, &app, "create-user", &[("form[email]", "x@acme.test"), ("form[role]", "tenant-admin"), ("form[password]", PASSWORD)]).await.0, 403);
        assert_eq!(call(&v, &app, "users", &[]).await.0, 200, "viewers read");
        let vid = viewer["id"].as_i64().unwrap().to_string();
        let me_id = me(&op, &app).await["id"].as_i64().unwrap().to_string();
        assert_eq!(call(&v, &app, "set-user-active", &[("id", &me_id), ("active", "false")]).await.0, 403);
        // An admin cannot lock themselves out, nor reach another tenant's users.
        assert_eq!(call(&op, &app, "set-user-active", &[("id", &me_id), ("active", "false")]).await.0, 422);
        assert_eq!(call(&op, &app, "set-user-role", &[("id", &me_id), ("role", "tenant-viewer")]).await.0, 422);
        assert_eq!(call(&other, &app, "set-user-active", &[("id", &vid), ("active", "false")]).await.0, 404);
        assert_eq!(call(&op, &app, "set-user-role", &[("id", &vid), ("role", "platform-admin")]).await.0, 422);
        assert!(!call(&other, &app, "users", &[]).await.1.to_string().contains("acme.test"));
        // Promoted, the viewer may now act; disabled, their session ends at once.
        assert_eq!(call(&op, &app, "set-user-role", &[("id", &vid), ("role", "tenant-admin")]).await.0, 200);
        assert_eq!(call(&v, &app, "create-api-key", &[("name", "now allowed"), ("scopes", "tokens:read wechat:call links:write webhooks:manage")]).await.0, 200);
        assert_eq!(call(&op, &app, "set-user-active", &[("id", &vid), ("active", "false")]).await.0, 200);
        assert_eq!(call(&v, &app, "api-keys", &[]).await.0, 401);
        assert_eq!(login(&fresh_client(), &app, "v@acme.test", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
        let audit = common::raw_strings(db, "SELECT kind FROM audit_events WHERE actor_label = 'op@acme.test' ORDER BY id").await;
        assert_eq!(audit, ["user.login", "api_key.created", "api_key.scopes_changed", "api_key.revoked", "user.created", "user.role_changed", "user.disabled"], "{audit:?}");
        app.stop().await;
    };
}
