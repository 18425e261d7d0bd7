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
        let (status, created) = ui(&op, &r, "create-api-key", &[("name", "from the console"), ("scopes", "tokens:read wechat:call links:write webhooks:manage")]).await;
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
        assert_eq!(keys(0), vec!["api_key_id", "name", "prefix", "scopes"]);
        assert!(events.iter().all(|e| e.summary.contains("created the API key")), "{events:?}");
        // The same name rule on both edges.
        let (status, err) = ui(&op, &r, "create-api-key", &[("name", ""), ("scopes", "tokens:read wechat:call links:write webhooks:manage")]).await;
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

on_both_databases! {
    a_user_disabled_enabled_and_re_roled_from_each_edge_is_audited_alike => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let hasher = wxhub::auth::PasswordHasher::new(2);
        let pw = SecretString::from("correct horse battery");
        let op = admin.create_user(&hasher, "op@acme.test", "tenant-admin", Some("acme"), &pw).await.unwrap();
        admin.create_user(&hasher, "root@wxhub.test", "platform-admin", None, &pw).await.unwrap();
        let member = admin.create_user(&hasher, "m@acme.test", "tenant-viewer", Some("acme"), &pw).await.unwrap();
        let op_browser = signed_in(&r, "op@acme.test").await;
        let root = signed_in(&r, "root@wxhub.test").await;
        let member_browser = signed_in(&r, "m@acme.test").await;
        let id = member.id.0.to_string();
        // Disabled by the tenant admin, enabled by staff, disabled by the CLI, enabled again.
        let (status, v) = ui(&op_browser, &r, "set-user-active", &[("id", id.as_str()), ("active", "false")]).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(ui(&member_browser, &r, "users", &[]).await.0, 401, "disabling ends the member's sessions");
        let (status, v) = ui(&root, &r, "set-any-user-active", &[("id", id.as_str()), ("active", "true")]).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(admin.set_user_active("m@acme.test", false).await.unwrap().status, wxhub::domain::UserStatus::Disabled);
        admin.set_user_active("m@acme.test", true).await.unwrap();
        // Made an admin in the console, a viewer again by the CLI.
        let (status, v) = ui(&op_browser, &r, "set-user-role", &[("id", id.as_str()), ("role", "tenant-admin")]).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(admin.set_user_role("m@acme.test", "tenant-viewer").await.unwrap().role, wxhub::domain::Role::TenantViewer);

        let events = r.app.store.tenant_audit(r.tenant, 100).await.unwrap();
        let of = |kind: &str| -> Vec<(String, Value, String)> {
            events.iter().filter(|e| e.kind == kind)
                .map(|e| (e.actor_kind.clone(), serde_json::from_str(&e.detail).unwrap(), e.summary.clone())).collect()
        };
        let status_changes: Vec<_> = of("user.disabled").into_iter().chain(of("user.enabled")).collect();
        assert_eq!(status_changes.len(), 4, "{status_changes:?}");
        for (_, detail, summary) in &status_changes {
            assert_eq!(detail, &json!({ "user_id": member.id.0, "email": "m@acme.test" }));
            assert!(summary.ends_with("abled m@acme.test"), "{summary}");
        }
        let mut actors: Vec<&str> = status_changes.iter().map(|(a, _, _)| a.as_str()).collect();
        actors.sort();
        assert_eq!(actors, vec!["cli", "cli", "user", "user"]);
        let roles = of("user.role_changed");
        assert_eq!(roles.len(), 2);
        let role_details: Vec<&Value> = roles.iter().map(|(_, d, _)| d).collect();
        assert!(role_details.contains(&&json!({ "user_id": member.id.0, "email": "m@acme.test", "role": "tenant-admin" })), "{role_details:?}");
        assert!(role_details.contains(&&json!({ "user_id": member.id.0, "email": "m@acme.test", "role": "tenant-viewer" })), "{role_details:?}");

        // The same rules on every edge: no one disables themselves; platform roles are not given
        // by a role change; another tenant's user is not found.
        let op_id = op.id.0.to_string();
        let (status, err) = ui(&op_browser, &r, "set-user-active", &[("id", op_id.as_str()), ("active", "false")]).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("user")), "{err}");
        let (status, err) = ui(&op_browser, &r, "set-user-role", &[("id", id.as_str()), ("role", "platform-admin")]).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("role")), "{err}");
        assert!(matches!(admin.set_user_role("m@acme.test", "platform-admin").await, Err(wxhub::admin::AdminError::Invalid { field: "role", .. })));
        assert!(matches!(admin.set_user_role("root@wxhub.test", "tenant-viewer").await, Err(wxhub::admin::AdminError::Invalid { field: "user", .. })));
        admin.create_tenant("globex", "Globex").await.unwrap();
        let outsider = admin.create_user(&hasher, "x@globex.test", "tenant-viewer", Some("globex"), &pw).await.unwrap();
        let (status, _) = ui(&op_browser, &r, "set-user-active", &[("id", outsider.id.0.to_string().as_str()), ("active", "false")]).await;
        assert_eq!(status, 404);
        assert!(matches!(admin.set_user_active("nobody@acme.test", false).await, Err(wxhub::admin::AdminError::NotFound(_))));
        assert!(matches!(admin.set_user_active("not an email", false).await, Err(wxhub::admin::AdminError::Invalid { field: "email", .. })));
        r.stop().await;
    };
}

on_both_databases! {
    an_api_key_revoked_in_the_console_and_one_by_the_cli_are_audited_alike => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        admin.create_user(&wxhub::auth::PasswordHasher::new(2), "op@acme.test", "tenant-admin", Some("acme"), &SecretString::from("correct horse battery")).await.unwrap();
        let op = signed_in(&r, "op@acme.test").await;
        let (console_key, console_secret) = admin.create_api_key("acme", "console one").await.unwrap();
        let (cli_key, cli_secret) = admin.create_api_key("acme", "cli one").await.unwrap();
        let calls = |secret: SecretString| {
            let url = r.app.url("/api/v1/authorizers");
            async move {
                reqwest::Client::new().get(url).bearer_auth(secret.expose_secret()).send().await.unwrap().status().as_u16()
            }
        };
        assert_eq!(calls(console_secret.key.clone()).await, 200);
        let (status, v) = ui(&op, &r, "revoke-api-key", &[("id", console_key.id.0.to_string().as_str())]).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(calls(console_secret.key.clone()).await, 401, "this instance forgets a key revoked here at once");
        // The CLI is another process: the database says revoked at once, instances within the TTL.
        let revoked = admin.revoke_api_key("acme", &format!("{}…", cli_key.prefix)).await.unwrap();
        assert!(revoked.revoked_at.is_some());
        assert!(common::wait_for(wxhub::api::keys::KEY_TTL * 3, || async { calls(cli_secret.key.clone()).await == 401 }).await);
        // Again: no error, no second event.
        admin.revoke_api_key("acme", &cli_key.prefix).await.unwrap();

        let events: Vec<_> = r.app.store.tenant_audit(r.tenant, 100).await.unwrap()
            .into_iter().filter(|e| e.kind == "api_key.revoked").collect();
        assert_eq!(events.len(), 2, "{events:?}");
        for (key, name) in [(&console_key, "console one"), (&cli_key, "cli one")] {
            let e = events.iter().find(|e| serde_json::from_str::<Value>(&e.detail).unwrap()["api_key_id"] == key.id.0).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&e.detail).unwrap(), json!({ "api_key_id": key.id.0, "name": name, "prefix": key.prefix }));
            assert!(e.summary.contains(&format!("revoked the API key {name:?}")), "{}", e.summary);
        }
        // Unknown keys, and another tenant's, are not found on both edges.
        assert!(matches!(admin.revoke_api_key("acme", "wxh_nothere").await, Err(wxhub::admin::AdminError::NotFound(_))));
        admin.create_tenant("globex", "Globex").await.unwrap();
        let (theirs, _) = admin.create_api_key("globex", "theirs").await.unwrap();
        assert_eq!(ui(&op, &r, "revoke-api-key", &[("id", theirs.id.0.to_string().as_str())]).await.0, 404);
        assert!(matches!(admin.revoke_api_key("acme", &theirs.prefix).await, Err(wxhub::admin::AdminError::NotFound(_))));
        assert_eq!(ui(&op, &r, "revoke-api-key", &[("id", "not a number")]).await.0, 422, "garbage ids are refused before anything is read");
        r.stop().await;
    };
}

on_both_databases! {
    a_component_update_names_the_replaced_secrets_and_keeps_the_rules => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let pw = SecretString::from("correct horse battery");
        let hasher = wxhub::auth::PasswordHasher::new(2);
        admin.create_user(&hasher, "op@acme.test", "tenant-admin", Some("acme"), &pw).await.unwrap();
        admin.create_user(&hasher, "root@wxhub.test", "platform-admin", None, &pw).await.unwrap();
        let op = signed_in(&r, "op@acme.test").await;
        let root = signed_in(&r, "root@wxhub.test").await;
        let secret = SecretString::from("0123456789abcdef0123456789abcdef".to_owned());
        let aes = SecretString::from("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".to_owned());
        let own = admin.create_component("wx0000000000c11001", "clitoken", Some("acme"), &secret, &aes).await.unwrap();
        let shared = admin.create_component("wx0000000000c11009", "sharedtoken", None, &secret, &aes).await.unwrap();
        let save = |id: String, appid: &'static str, name: &'static str, token: &'static str| {
            vec![("form[id]", id), ("form[appid]", appid.to_owned()), ("form[name]", name.to_owned()), ("form[token]", token.to_owned()),
                 ("form[appsecret]", String::new()), ("form[encoding_aes_key]", String::new())]
        };
        let as_refs = |v: &Vec<(&'static str, String)>| v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
        let call = |who, form: Vec<(&'static str, String)>| {
            let r = &r;
            async move {
                let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                ui(who, r, "save-component", &pairs).await
            }
        };
        let (status, v) = call(&op, as_refs(&save(own.id.0.to_string(), "wx0000000000c11001", "Ours", "newtoken"))).await;
        assert_eq!(status, 200, "{v}");
        let (status, v) = call(&root, as_refs(&save(shared.id.0.to_string(), "wx0000000000c11009", "Shared", ""))).await;
        assert_eq!(status, 200, "{v}");
        let events: Vec<_> = r.app.store.platform_audit(100).await.unwrap().into_iter().filter(|e| e.kind == "component.updated").collect();
        let details: Vec<Value> = events.iter().map(|e| serde_json::from_str(&e.detail).unwrap()).collect();
        assert!(details.contains(&json!({ "appid": "wx0000000000c11001", "name": "Ours", "replaced": ["token"] })), "{details:?}");
        assert!(details.contains(&json!({ "appid": "wx0000000000c11009", "name": "Shared", "replaced": [] })), "{details:?}");
        assert!(events.iter().all(|e| !e.detail.contains("newtoken") && !e.summary.contains("newtoken")), "no secret in the audit");
        // A tenant may not change a shared component, nor move a component to another appid.
        let (status, _) = call(&op, as_refs(&save(shared.id.0.to_string(), "wx0000000000c11009", "Mine now", ""))).await;
        assert_eq!(status, 403);
        let (status, err) = call(&op, as_refs(&save(own.id.0.to_string(), "wx0000000000c11002", "Moved", ""))).await;
        assert_eq!((status, err["Invalid"]["field"].as_str()), (422, Some("appid")), "{err}");
        let (status, _) = call(&op, as_refs(&save("999999".into(), "wx0000000000c11001", "Ghost", ""))).await;
        assert_eq!(status, 404);
        r.stop().await;
    };
}

fn wxhub_component() -> &'static str {
    common::rig::COMPONENT
}
