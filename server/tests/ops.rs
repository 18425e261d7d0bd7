//! Each operation exists once (issue 12): whichever edge calls it (the console, the tenant API, the
//! CLI), the same rules apply and the same audit event is written, but for its actor.

mod common;

use common::rig::{rig, signed_in, ui};
use common::TestDb;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use wxhub::admin::Admin;
use wxhub::domain::Actor;
use wxhub::simulator::Lifetimes;

on_both_databases! {
    a_link_made_in_the_console_and_one_made_by_the_api_are_audited_alike => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_user(&wxhub::auth::PasswordHasher::new(2), "op@acme.test", "tenant-admin", Some("acme"), &SecretString::from("correct horse battery")).await.unwrap();
        let (_, key) = admin.create_api_key("acme", "orders service").await.unwrap();
        let op = signed_in(&r, "op@acme.test").await;
        let component = r.component.0.to_string();
        let (status, view) = ui(&op, &r, "create-link", &[
            ("form[component_id]", component.as_str()), ("form[auth_type]", "2"),
            ("form[biz_appid]", "wx5a1c0ffee0000003"), ("form[note]", "  spring campaign "),
            ("form[expires_in_hours]", ""),
        ]).await;
        assert_eq!(status, 200, "{view}");
        let res = reqwest::Client::new().post(r.app.url("/api/v1/authorization-links"))
            .bearer_auth(key.key.expose_secret())
            .json(&json!({ "component_appid": wxhub_component(), "auth_type": 2, "biz_appid": "wx5a1c0ffee0000003", "note": "  spring campaign " }))
            .send().await.unwrap();
        assert_eq!(res.status(), 201);
        let events: Vec<_> = r.app.store.tenant_audit(r.tenant, 100).await.unwrap()
            .into_iter().filter(|e| e.kind == "link.created").collect();
        assert_eq!(events.len(), 2);
        let detail = |i: usize| serde_json::from_str::<Value>(&events[i].detail).unwrap();
        assert_eq!(detail(0), detail(1), "the same detail from both edges");
        assert_eq!(detail(0)["note"], "spring campaign");
        assert_eq!(events[0].component_id, events[1].component_id);
        let actors: Vec<&str> = events.iter().map(|e| e.actor_kind.as_str()).collect();
        assert!(actors.contains(&"user") && actors.contains(&"api_key"), "{actors:?}");
        // The same rule refuses the same garbage on both edges, naming the field.
        let (status, err) = ui(&op, &r, "create-link", &[("form[component_id]", component.as_str()), ("form[note]", "a\u{7}b")]).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("note")), "{err}");
        let res = reqwest::Client::new().post(r.app.url("/api/v1/authorization-links"))
            .bearer_auth(key.key.expose_secret()).json(&json!({ "note": "a\u{7}b" })).send().await.unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["field"], "note", "{body}");
        r.stop().await;
    };
}

on_both_databases! {
    a_tenant_made_in_the_console_and_one_made_by_the_cli_are_audited_alike => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_user(&wxhub::auth::PasswordHasher::new(2), "root@wxhub.test", "platform-admin", None, &SecretString::from("correct horse battery")).await.unwrap();
        let root = signed_in(&r, "root@wxhub.test").await;
        // The CLI's command runs `Admin::create_tenant`, which is the same operation.
        admin.create_tenant("globex", "Globex Corp").await.unwrap();
        let (status, view) = ui(&root, &r, "create-tenant", &[("form[slug]", "initech"), ("form[name]", "Initech Corp")]).await;
        assert_eq!(status, 200, "{view}");
        let events: Vec<_> = r.app.store.platform_audit(100).await.unwrap()
            .into_iter().filter(|e| e.kind == "tenant.created").collect();
        let details: Vec<Value> = events.iter().map(|e| serde_json::from_str(&e.detail).unwrap()).collect();
        for (slug, name) in [("globex", "Globex Corp"), ("initech", "Initech Corp")] {
            assert!(details.contains(&json!({ "slug": slug, "name": name })), "{details:?}");
        }
        // Taken slugs are refused alike: a field error in the console, a conflict for the CLI.
        let (status, err) = ui(&root, &r, "create-tenant", &[("form[slug]", "globex"), ("form[name]", "Again")]).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("slug")), "{err}");
        assert!(matches!(admin.create_tenant("initech", "Again").await, Err(wxhub::admin::AdminError::Conflict(_))));
        r.stop().await;
    };
}

on_both_databases! {
    an_api_key_made_in_the_console_and_one_made_by_the_cli_are_audited_alike => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_user(&wxhub::auth::PasswordHasher::new(2), "op@acme.test", "tenant-admin", Some("acme"), &SecretString::from("correct horse battery")).await.unwrap();
        let op = signed_in(&r, "op@acme.test").await;
        admin.create_api_key("acme", "from the cli").await.unwrap();
        let (status, created) = ui(&op, &r, "create-api-key", &[("name", "from the console")]).await;
        assert_eq!(status, 200, "{created}");
        let events: Vec<_> = r.app.store.tenant_audit(r.tenant, 100).await.unwrap()
            .into_iter().filter(|e| e.kind == "api_key.created").collect();
        assert_eq!(events.len(), 2);
        let keys = |i: usize| {
            let v: Value = serde_json::from_str(&events[i].detail).unwrap();
            let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(0), keys(1));
        assert_eq!(keys(0), vec!["api_key_id", "name", "prefix"]);
        assert!(events.iter().all(|e| e.summary.contains("created the API key")), "{events:?}");
        // The same name rule on both edges.
        let (status, err) = ui(&op, &r, "create-api-key", &[("name", "")]).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("name")), "{err}");
        assert!(matches!(admin.create_api_key("acme", "").await, Err(wxhub::admin::AdminError::Invalid { field: "name", .. })));
        r.stop().await;
    };
}

on_both_databases! {
    a_user_added_by_a_tenant_admin_by_staff_and_by_the_cli_is_audited_alike => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let hasher = wxhub::auth::PasswordHasher::new(2);
        let pw = SecretString::from("correct horse battery");
        admin.create_user(&hasher, "op@acme.test", "tenant-admin", Some("acme"), &pw).await.unwrap();
        admin.create_user(&hasher, "root@wxhub.test", "platform-admin", None, &pw).await.unwrap();
        let op = signed_in(&r, "op@acme.test").await;
        let root = signed_in(&r, "root@wxhub.test").await;
        let (status, v) = ui(&op, &r, "create-user", &[("form[email]", "a@acme.test"), ("form[role]", "tenant-viewer"), ("form[password]", "a long enough password")]).await;
        assert_eq!(status, 200, "{v}");
        let (status, v) = ui(&root, &r, "create-any-user", &[("form[email]", "b@acme.test"), ("form[role]", "tenant-viewer"), ("form[tenant]", "acme"), ("form[password]", "a long enough password")]).await;
        assert_eq!(status, 200, "{v}");
        let events: Vec<_> = r.app.store.tenant_audit(r.tenant, 100).await.unwrap()
            .into_iter().filter(|e| e.kind == "user.created").collect();
        let detail = |email: &str| {
            let e = events.iter()
                .find(|e| serde_json::from_str::<Value>(&e.detail).unwrap()["email"] == email)
                .unwrap_or_else(|| panic!("{email}: {events:?}"));
            let v: Value = serde_json::from_str(&e.detail).unwrap();
            (v["email"].clone(), v["role"].clone(), v["user_id"].is_number(), e.summary.clone())
        };
        for email in ["op@acme.test", "a@acme.test", "b@acme.test"] {
            let (e, role, has_id, summary) = detail(email);
            assert_eq!((e.as_str(), role.as_str(), has_id), (Some(email), Some(if email.starts_with("op") { "tenant-admin" } else { "tenant-viewer" }), true));
            assert!(summary.contains(&format!("added {email} as")), "{summary}");
        }
        // One rule for a taken email on every edge.
        let (status, err) = ui(&root, &r, "create-any-user", &[("form[email]", "a@acme.test"), ("form[role]", "tenant-viewer"), ("form[tenant]", "acme"), ("form[password]", "a long enough password")]).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("email")), "{err}");
        assert!(matches!(admin.create_user(&hasher, "b@acme.test", "tenant-viewer", Some("acme"), &pw).await, Err(wxhub::admin::AdminError::Conflict(_))));
        r.stop().await;
    };
}

on_both_databases! {
    a_component_registered_in_the_console_and_one_by_the_cli_are_audited_alike => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_user(&wxhub::auth::PasswordHasher::new(2), "op@acme.test", "tenant-admin", Some("acme"), &SecretString::from("correct horse battery")).await.unwrap();
        let op = signed_in(&r, "op@acme.test").await;
        let secret = SecretString::from("0123456789abcdef0123456789abcdef".to_owned());
        let aes = SecretString::from("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".to_owned());
        admin.create_component("wx0000000000c11001", "clitoken", Some("acme"), &secret, &aes).await.unwrap();
        let (status, v) = ui(&op, &r, "save-component", &[
            ("form[id]", ""), ("form[appid]", "wx0000000000c11002"), ("form[name]", ""), ("form[token]", "consoletoken"),
            ("form[appsecret]", "0123456789abcdef0123456789abcdef"), ("form[encoding_aes_key]", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
        ]).await;
        assert_eq!(status, 200, "{v}");
        let details: Vec<Value> = r.app.store.tenant_audit(r.tenant, 100).await.unwrap().into_iter()
            .filter(|e| e.kind == "component.created").map(|e| serde_json::from_str(&e.detail).unwrap()).collect();
        for appid in ["wx0000000000c11001", "wx0000000000c11002"] {
            assert!(details.contains(&json!({ "appid": appid, "shared": false })), "{details:?}");
        }
        // A taken appid and a bad secret are refused alike on both edges.
        assert!(matches!(admin.create_component("wx0000000000c11002", "clitoken2", Some("acme"), &secret, &aes).await, Err(wxhub::admin::AdminError::Conflict(_))));
        let short = SecretString::from("short".to_owned());
        assert!(matches!(admin.create_component("wx0000000000c11003", "clitoken3", Some("acme"), &short, &aes).await, Err(wxhub::admin::AdminError::Invalid { field: "appsecret", .. })));
        let (status, err) = ui(&op, &r, "save-component", &[
            ("form[id]", ""), ("form[appid]", "wx0000000000c11001"), ("form[name]", ""), ("form[token]", "consoletoken2"),
            ("form[appsecret]", "0123456789abcdef0123456789abcdef"), ("form[encoding_aes_key]", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
        ]).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("appid")), "{err}");
        r.stop().await;
    };
}

fn wxhub_component() -> &'static str {
    common::rig::COMPONENT
}
