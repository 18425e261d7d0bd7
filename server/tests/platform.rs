//! Platform staff through the server functions and the CSV route: who may read and change what,
//! the filters and their garbage, keyset pages, suspension taking effect at once, shared
//! components.

mod common;

use std::time::Duration;

use common::rig::{rig, signed_in, ui, Rig, COMPONENT, OA};
use common::{wait_for, TestDb};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuditKind, NewAuditEvent, Outcome};
use wxhub::simulator::Lifetimes;

const PASSWORD: &str = "correct horse battery";

async fn people(
    r: &Rig,
) -> (
    reqwest::Client,
    reqwest::Client,
    reqwest::Client,
    reqwest::Client,
) {
    let admin = Admin {
        store: r.app.store.clone(),
        actor: Actor::Cli,
    };
    let hasher = wxhub::auth::PasswordHasher::new(2);
    let pw = SecretString::from(PASSWORD);
    admin.create_tenant("globex", "Globex").await.unwrap();
    admin
        .create_user(&hasher, "root@platform.test", "platform-admin", None, &pw)
        .await
        .unwrap();
    admin
        .create_user(&hasher, "eyes@platform.test", "platform-auditor", None, &pw)
        .await
        .unwrap();
    admin
        .create_user(&hasher, "op@acme.test", "tenant-admin", Some("acme"), &pw)
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
    (
        signed_in(r, "root@platform.test").await,
        signed_in(r, "eyes@platform.test").await,
        signed_in(r, "op@acme.test").await,
        signed_in(r, "op@globex.test").await,
    )
}

/// How many rows a table has (to prove a refused change changed nothing).
async fn count(db: &TestDb, table: &str) -> i64 {
    common::raw_strings(db, &format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}")).await[0]
        .parse()
        .unwrap()
}

async fn csv(client: &reqwest::Client, r: &Rig, query: &str) -> (u16, String) {
    let res = client
        .get(r.app.url(&format!("/platform/audit.csv{query}")))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

on_both_databases! {
    staff_read_everything_admins_change_and_nobody_else_gets_in => async |db: &TestDb| {
        let r = rig(db, Lifetimes::default(), |_| {}).await;
        let location = r.authorize(OA, &[1, 2]).await;
        assert_eq!(r.app.client.get(&location).send().await.unwrap().status(), 200);
        let (root, eyes, acme, globex) = people(&r).await;
        let anonymous = reqwest::Client::new();
        let globex_id = r.app.store.tenant_by_slug("globex").await.unwrap().unwrap().id.0.to_string();
        let timeline = [("component", COMPONENT), ("appid", OA)];

        // Reads: staff yes; tenant users and strangers no.
        let reads: [(&str, &[(&str, &str)]); 6] = [
            ("tenants", &[]),
            ("all-deliveries", &[]),
            ("all-users", &[]),
            ("authorizations", &[("query[page]", "")]),
            ("audit", &[("query[kind]", "")]),
            ("timeline", &timeline),
        ];
        for (endpoint, form) in reads {
            assert_eq!(ui(&root, &r, endpoint, form).await.0, 200, "{endpoint}");
            assert_eq!(ui(&eyes, &r, endpoint, form).await.0, 200, "{endpoint}");
            assert_eq!(ui(&acme, &r, endpoint, form).await.0, 403, "{endpoint}");
            assert_eq!(ui(&anonymous, &r, endpoint, form).await.0, 401, "{endpoint}");
        }

        // Changes: the auditor and tenant admins are refused, and nothing changes.
        let (tenants, users, events) = (count(db, "tenants").await, count(db, "users").await, count(db, "audit_events").await);
        let writes: [(&str, Vec<(&str, &str)>); 4] = [
            ("create-tenant", vec![("form[slug]", "initech"), ("form[name]", "Initech")]),
            ("set-tenant-suspended", vec![("id", &globex_id), ("suspended", "true")]),
            ("create-any-user", vec![("form[email]", "x@y.test"), ("form[role]", "platform-admin"), ("form[password]", PASSWORD)]),
            ("set-any-user-active", vec![("id", "1"), ("active", "false")]),
        ];
        for (endpoint, form) in &writes {
            assert_eq!(ui(&eyes, &r, endpoint, form).await.0, 403, "auditor: {endpoint}");
            assert_eq!(ui(&acme, &r, endpoint, form).await.0, 403, "tenant admin: {endpoint}");
            assert_eq!(ui(&anonymous, &r, endpoint, form).await.0, 401, "anonymous: {endpoint}");
        }
        assert_eq!((count(db, "tenants").await, count(db, "users").await, count(db, "audit_events").await), (tenants, users, events));

        // The admin's garbage is refused by field.
        for (form, field) in [
            (vec![("form[slug]", "Not A Slug"), ("form[name]", "X")], "slug"),
            (vec![("form[slug]", "acme"), ("form[name]", "Again")], "slug"),
            (vec![("form[slug]", "okslug"), ("form[name]", "\u{0}")], "name"),
        ] {
            let (s, v) = ui(&root, &r, "create-tenant", &form).await;
            assert_eq!((s, v["Invalid"]["field"].as_str()), (422, Some(field)), "{v}");
        }
        for (form, field) in [
            (vec![("form[email]", "a@b.test"), ("form[role]", "tenant-admin"), ("form[tenant]", "nope"), ("form[password]", PASSWORD)], "tenant"),
            (vec![("form[email]", "a@b.test"), ("form[role]", "platform-admin"), ("form[tenant]", "acme"), ("form[password]", PASSWORD)], "tenant"),
            (vec![("form[email]", "op@acme.test"), ("form[role]", "tenant-admin"), ("form[tenant]", "acme"), ("form[password]", PASSWORD)], "email"),
            (vec![("form[email]", "a@b.test"), ("form[role]", "god"), ("form[password]", PASSWORD)], "role"),
        ] {
            let (s, v) = ui(&root, &r, "create-any-user", &form).await;
            assert_eq!((s, v["Invalid"]["field"].as_str()), (422, Some(field)), "{v}");
        }
        assert_eq!(ui(&root, &r, "set-tenant-suspended", &[("id", "999999"), ("suspended", "true")]).await.0, 404);
        assert_eq!(ui(&root, &r, "set-tenant-suspended", &[("id", "x"), ("suspended", "maybe")]).await.0, 422);
        assert_eq!((count(db, "tenants").await, count(db, "users").await), (tenants, users));

        // Suspending Globex signs its users out and stops its API keys at once; reactivating
        // lets the key work again.
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let (_, key) = admin.create_api_key("globex", "globex system").await.unwrap();
        let key = key.key.expose_secret().to_owned();
        let api = |key: String| {
            let url = r.app.url("/api/v1/authorizers");
            async move { reqwest::Client::new().get(url).bearer_auth(key).send().await.unwrap().status().as_u16() }
        };
        assert_eq!(api(key.clone()).await, 200);
        assert_eq!(ui(&globex, &r, "me", &[]).await.1["email"], "op@globex.test");
        assert_eq!(ui(&root, &r, "set-tenant-suspended", &[("id", &globex_id), ("suspended", "true")]).await.0, 200);
        assert_eq!(api(key.clone()).await, 401);
        assert_eq!(ui(&globex, &r, "me", &[]).await.1, Value::Null, "signed out");
        assert_eq!(ui(&root, &r, "tenants", &[]).await.1.as_array().unwrap().iter().find(|t| t["slug"] == "globex").unwrap()["suspended"], true);
        assert_eq!(ui(&root, &r, "set-tenant-suspended", &[("id", &globex_id), ("suspended", "false")]).await.0, 200);
        assert_eq!(api(key.clone()).await, 200);

        // The admin adds staff and tenant users anywhere, and disables them.
        let (s, v) = ui(&root, &r, "create-any-user", &[("form[email]", "new@globex.test"), ("form[role]", "tenant-viewer"), ("form[tenant]", "globex"), ("form[password]", PASSWORD)]).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["tenant"][0], "globex");
        let new_id = v["user"]["id"].as_i64().unwrap().to_string();
        assert_eq!(ui(&root, &r, "set-any-user-active", &[("id", &new_id), ("active", "false")]).await.0, 200);
        let users = ui(&eyes, &r, "all-users", &[]).await.1;
        let new_user = users.as_array().unwrap().iter().find(|u| u["user"]["email"] == "new@globex.test").unwrap().clone();
        assert_eq!(new_user["user"]["active"], false);
        let me = ui(&root, &r, "me", &[]).await.1["id"].as_i64().unwrap().to_string();
        assert_eq!(ui(&root, &r, "set-any-user-active", &[("id", &me), ("active", "false")]).await.0, 422, "no locking yourself out");

        // Every authorization, filtered; garbage filters are named.
        let page = ui(&eyes, &r, "authorizations", &[("query[tenant]", "acme"), ("query[permission]", "2")]).await.1;
        assert_eq!(page["total"], 1);
        assert_eq!(page["rows"][0]["appid"], OA);
        assert_eq!(page["rows"][0]["tenant_slug"], "acme");
        assert_eq!(ui(&eyes, &r, "authorizations", &[("query[tenant]", "globex")]).await.1["total"], 0);
        assert_eq!(ui(&eyes, &r, "authorizations", &[("query[permission]", "3")]).await.1["total"], 0);
        assert_eq!(ui(&eyes, &r, "authorizations", &[("query[from]", "2999-01-01")]).await.1["total"], 0);
        for (k, v, field) in [("query[tenant]", "nope", "tenant"), ("query[component]", "wx0000000000000000", "component"), ("query[status]", "sleeping", "status"),
                              ("query[permission]", "-1", "permission"), ("query[page]", "0", "page"), ("query[from]", "2026-02-30", "from"), ("query[to]", "\u{0}", "to")] {
            let (s, body) = ui(&eyes, &r, "authorizations", &[(k, v)]).await;
            assert_eq!((s, body["Invalid"]["field"].as_str()), (422, Some(field)), "{k}={v:?}: {body}");
        }

        // The audit log: filters, garbage, and keyset pages that never overlap.
        for i in 0..130 {
            let e = NewAuditEvent::new(Actor::System, AuditKind::TicketPushRestartRequested, Outcome::Ok, format!("filler {i}"), wxhub::now_ms()).tenant(Some(r.tenant));
            r.app.store.append_audit(&e).await.unwrap();
        }
        let first = ui(&eyes, &r, "audit", &[("query[kind]", "ticket.push_restart_requested")]).await.1;
        assert_eq!(first["events"].as_array().unwrap().len(), 100);
        let before = first["next_before"].as_i64().expect("an older page");
        let second = ui(&eyes, &r, "audit", &[("query[kind]", "ticket.push_restart_requested"), ("query[before]", &before.to_string())]).await.1;
        assert_eq!(second["events"].as_array().unwrap().len(), 30);
        assert_eq!(second["next_before"], Value::Null);
        let ids: std::collections::HashSet<i64> = first["events"].as_array().unwrap().iter().chain(second["events"].as_array().unwrap()).map(|e| e["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), 130);
        let tenant_events = ui(&eyes, &r, "audit", &[("query[kind]", "tenant."), ("query[tenant]", "globex"), ("query[actor]", "ROOT@platform")]).await.1;
        let kinds: Vec<&str> = tenant_events["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, vec!["tenant.reactivated", "tenant.suspended"]);
        let account = ui(&eyes, &r, "audit", &[("query[account]", OA), ("query[component]", COMPONENT)]).await.1;
        assert!(account["events"].as_array().unwrap().iter().all(|e| e["authorizer_appid"] == OA));
        assert!(account["events"].as_array().unwrap().iter().any(|e| e["kind"] == "authorizer.authorized"));
        for (k, v, field) in [("query[kind]", "DROP TABLE", "kind"), ("query[outcome]", "maybe", "outcome"), ("query[account]", "wx%", "account"),
                              ("query[before]", "-5", "before"), ("query[from]", "13/13/2026", "from"), ("query[actor]", "\u{7}", "actor")] {
            let (s, body) = ui(&eyes, &r, "audit", &[(k, v)]).await;
            assert_eq!((s, body["Invalid"]["field"].as_str()), (422, Some(field)), "{k}={v:?}: {body}");
        }

        // The timeline: authorized, then every event about the account.
        let t = ui(&eyes, &r, "timeline", &timeline).await.1;
        assert_eq!(t["tenant_slug"], "acme");
        assert_eq!(t["history"][0]["change"], "authorized");
        assert!(t["events"].as_array().unwrap().iter().any(|e| e["kind"] == "authorizer.authorized"));
        assert_eq!(ui(&eyes, &r, "timeline", &[("component", COMPONENT), ("appid", "wx00000000000000ff")]).await.0, 404);
        assert_eq!(ui(&eyes, &r, "timeline", &[("component", "nope"), ("appid", OA)]).await.0, 404);

        // CSV: the filtered view, for staff only; the export is itself audited.
        let (s, text) = csv(&eyes, &r, "?kind=tenant.&tenant=globex").await;
        assert_eq!(s, 200);
        let text = text.trim_start_matches('\u{feff}');
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "id,occurred_at,tenant,component,account,actor_kind,actor,kind,outcome,summary,ip");
        assert_eq!(lines.len(), 1 + 3, "{text}"); // created by the CLI, suspended, reactivated
        assert!(lines[1..].iter().all(|l| l.contains(",globex,") && l.contains(",tenant.")), "{text}");
        let (s, text) = csv(&eyes, &r, "?kind=ticket.push_restart_requested").await;
        assert_eq!((s, text.lines().count()), (200, 131));
        assert_eq!(csv(&acme, &r, "").await.0, 403);
        assert_eq!(csv(&anonymous, &r, "").await.0, 401);
        let (s, text) = csv(&eyes, &r, "?from=garbage").await;
        assert_eq!((s, text.as_str()), (422, "from: a date as YYYY-MM-DD"));
        let (s, text) = csv(&eyes, &r, "?tenant=acme&tenant=globex").await;
        assert_eq!((s, text.as_str()), (422, "the filters in the address are malformed"));
        assert!(wait_for(Duration::from_secs(2), || async {
            r.app.store.search_audit(&wxhub::store::AuditFilter { kind: Some("audit.exported".into()), ..Default::default() }, None, 10).await.unwrap().len() == 2
        }).await, "each successful export is audited");

        // Shared components: the admin adds one, every tenant may use it, none may edit it.
        let shared = [("form[appid]", "wx5ba4ed0000000001"), ("form[name]", "Shared One"), ("form[token]", "sharedtoken"),
                      ("form[appsecret]", "0123456789abcdef0123456789abcdef"), ("form[encoding_aes_key]", &"k".repeat(43))];
        assert_eq!(ui(&eyes, &r, "save-component", &shared).await.0, 403);
        let (s, v) = ui(&root, &r, "save-component", &shared).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["shared"], true);
        let shared_id = v["id"].as_i64().unwrap().to_string();
        let staff_list = ui(&eyes, &r, "components", &[]).await.1;
        assert_eq!(staff_list.as_array().unwrap().len(), 1, "staff see the shared components only: {staff_list}");
        let acme_list = ui(&acme, &r, "components", &[]).await.1;
        assert!(acme_list.as_array().unwrap().iter().any(|c| c["appid"] == "wx5ba4ed0000000001" && c["shared"] == true));
        let rename = [("form[id]", shared_id.as_str()), ("form[appid]", "wx5ba4ed0000000001"), ("form[name]", "Mine now")];
        assert_eq!(ui(&acme, &r, "save-component", &rename).await.0, 403);
        assert_eq!(ui(&root, &r, "save-component", &rename).await.0, 200);
        let acme_component = r.component.0.to_string();
        let steal = [("form[id]", acme_component.as_str()), ("form[appid]", COMPONENT), ("form[name]", "Taken")];
        assert_eq!(ui(&root, &r, "save-component", &steal).await.0, 404, "a tenant's own component is not the platform's to edit");
        r.stop().await;
    };
}
