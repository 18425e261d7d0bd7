//! The storage contract: every behaviour the services rely on, run against SQLite always and
//! against PostgreSQL when `WXHUB_TEST_POSTGRES_URL` is set.

mod common;

use app::model::ApiScope;
use common::{keyring, raw_count, raw_strings, store, Backend, TestDb};
use secrecy::{ExposeSecret, SecretString};
use wxhub::domain::AuditKind;
use wxhub::domain::*;
use wxhub::secrets::Keyring;
use wxhub::startup::open_store;
use wxhub::store::{GatewayCallRecord, NewApiKey, Store, StoreError, ThrottlePolicy};

const NOW: i64 = 1_800_000_000_000;

fn cli_event(kind: AuditKind) -> NewAuditEvent {
    NewAuditEvent::new(Actor::Cli, kind, Outcome::Ok, kind.as_str(), NOW)
}

async fn tenant(store: &Store, slug: &str) -> Tenant {
    store
        .create_tenant(
            slug,
            &format!("{slug} Ltd"),
            cli_event(AuditKind::TenantCreated),
            NOW,
        )
        .await
        .expect("tenant")
}

fn new_user(email: &str, role: Role, tenant: Option<TenantId>) -> NewUser {
    NewUser {
        email: email.into(),
        display_name: String::new(),
        password_hash: "$argon2id$fake".into(),
        role,
        tenant_id: tenant,
    }
}

fn component(appid: &str, owner: ComponentOwner) -> NewComponent {
    NewComponent {
        appid: appid.into(),
        owner,
        name: String::new(),
        secrets: ComponentSecrets {
            message_token: SecretString::from("componenttoken"),
            appsecret: SecretString::from("0123456789abcdef0123456789abcdef"),
            encoding_aes_key: SecretString::from("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
            previous_encoding_aes_key: None,
        },
    }
}

on_both_databases! {
    migrations_apply_once_and_report_current => async |db: &TestDb| {
        let raw = Store::connect(&db.url, 4).await.unwrap();
        let before = raw.schema_status().await.unwrap();
        assert!(before.applied.is_empty() && !before.is_current(), "{before:?}");
        raw.migrate().await.unwrap();
        raw.migrate().await.unwrap();
        let after = raw.schema_status().await.unwrap();
        assert!(after.is_current(), "{after:?}");
        assert_eq!(after.applied, after.expected);
        raw.ping().await.unwrap();
        for table in ["tenants", "users", "components", "credentials", "authorizers", "authorizer_history",
                      "authorization_links", "pre_auth_codes", "jobs", "received_pushes", "audit_events",
                      "api_keys", "sessions", "login_throttle", "alerts", "meta", "authorizer_permissions"] {
            assert!(raw.table_exists(table).await.unwrap(), "table {table} missing");
        }
        assert!(!raw.table_exists("no_such_table").await.unwrap());
    };

    tenants_are_unique_by_slug_and_audited_with_their_creation => async |db: &TestDb| {
        let s = store(db).await;
        let t = tenant(&s, "acme").await;
        assert_eq!(s.tenant_by_slug("acme").await.unwrap(), Some(t.clone()));
        assert_eq!(s.tenant(t.id).await.unwrap(), Some(t.clone()));
        assert_eq!(s.tenant_by_slug("nope").await.unwrap(), None);
        let dup = s.create_tenant("acme", "Again", cli_event(AuditKind::TenantCreated), NOW).await.unwrap_err();
        assert!(dup.is_conflict_on("slug"), "{dup:?}");
        // The failed insert rolled back its audit event with it.
        let events = s.tenant_audit(t.id, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "tenant.created");
        assert_eq!(raw_count(db, "audit_events").await, 1);
        assert_eq!(s.list_tenants().await.unwrap().len(), 1);
    };

    users_obey_role_rules_and_unique_email => async |db: &TestDb| {
        let s = store(db).await;
        let t = tenant(&s, "acme").await;
        let admin = s.create_user(&new_user("root@x.io", Role::PlatformAdmin, None), cli_event(AuditKind::UserCreated), NOW).await.unwrap();
        assert_eq!(admin.tenant_id, None);
        let op = s.create_user(&new_user("op@acme.io", Role::TenantAdmin, Some(t.id)), cli_event(AuditKind::UserCreated), NOW).await.unwrap();
        assert_eq!(op.tenant_id, Some(t.id));
        assert_eq!(op.status, UserStatus::Active);
        let (found, hash) = s.user_for_login("op@acme.io").await.unwrap().unwrap();
        assert_eq!(found, op);
        assert_eq!(hash, "$argon2id$fake");
        // The schema refuses a tenant role without a tenant and a platform role with one.
        for bad in [new_user("a@x.io", Role::TenantViewer, None), new_user("b@x.io", Role::PlatformAuditor, Some(t.id))] {
            let e = s.create_user(&bad, cli_event(AuditKind::UserCreated), NOW).await.unwrap_err();
            assert!(matches!(e, StoreError::Constraint(_)), "{e:?}");
        }
        let e = s.create_user(&new_user("op@acme.io", Role::TenantViewer, Some(t.id)), cli_event(AuditKind::UserCreated), NOW).await.unwrap_err();
        assert!(e.is_conflict_on("email"), "{e:?}");
        let e = s.create_user(&new_user("c@x.io", Role::TenantViewer, Some(TenantId(9999))), cli_event(AuditKind::UserCreated), NOW).await.unwrap_err();
        assert!(matches!(e, StoreError::MissingReference), "{e:?}");
        assert_eq!(raw_count(db, "users").await, 2, "failed creates left nothing behind");
        s.record_login(op.id, NOW + 5).await.unwrap();
        assert_eq!(s.user(op.id).await.unwrap().unwrap().last_login_at, Some(NOW + 5));
    };

    component_secrets_are_sealed_at_rest_and_open_only_with_the_key => async |db: &TestDb| {
        let s = store(db).await;
        let t = tenant(&s, "acme").await;
        let c = s.create_component(&component("wx3c0d9b0e1a2f4c5d", ComponentOwner::Tenant(t.id)), cli_event(AuditKind::ComponentCreated), NOW).await.unwrap();
        assert_eq!(c.owner, ComponentOwner::Tenant(t.id));
        let raw = raw_strings(db, "SELECT message_token_sealed || '|' || appsecret_sealed || '|' || encoding_aes_key_sealed FROM components").await;
        assert_eq!(raw.len(), 1);
        for plaintext in ["componenttoken", "0123456789abcdef0123456789abcdef", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"] {
            assert!(!raw[0].contains(plaintext), "plaintext {plaintext} stored");
        }
        assert!(raw[0].starts_with(&format!("v1.{}.", keyring(1).current_key_id())), "sealed values name their key");
        let secrets = s.component_secrets(&c).await.unwrap();
        assert_eq!(secrets.appsecret.expose_secret(), "0123456789abcdef0123456789abcdef");
        assert_eq!(secrets.message_token.expose_secret(), "componenttoken");
        assert!(secrets.previous_encoding_aes_key.is_none());
        // Without a keyring, or with another key, the secrets stay shut.
        let keyless = Store::connect(&db.url, 2).await.unwrap();
        assert!(matches!(keyless.component_secrets(&c).await, Err(StoreError::NoKeyring)));
        let other = Store::connect(&db.url, 2).await.unwrap().with_keyring(keyring(2));
        assert!(matches!(other.component_secrets(&c).await, Err(StoreError::Secret(_))));
        let e = s.create_component(&component("wx3c0d9b0e1a2f4c5d", ComponentOwner::Platform), cli_event(AuditKind::ComponentCreated), NOW).await.unwrap_err();
        assert!(e.is_conflict_on("appid"), "{e:?}");
        assert_eq!(s.component_by_appid("wx3c0d9b0e1a2f4c5d").await.unwrap(), Some(c));
    };

    the_key_canary_refuses_a_different_key_before_any_write => async |db: &TestDb| {
        let settings = db.settings();
        let s = open_store(&settings, Some(keyring(1))).await.unwrap();
        assert!(s.verify_key_canary(&keyring(1)).await.unwrap());
        s.close().await;
        let err = open_store(&settings, Some(keyring(2))).await.unwrap_err().to_string();
        assert!(err.contains(keyring(1).current_key_id()) && err.contains(keyring(2).current_key_id()), "{err}");
        // Rotation: the old key listed as previous opens the canary.
        let rotated = Keyring::new(wxhub::secrets::MasterKey::from_bytes(&[2; 32]), vec![wxhub::secrets::MasterKey::from_bytes(&[1; 32])]);
        let s = open_store(&settings, Some(rotated)).await.unwrap();
        s.close().await;
        // A fresh database has no canary and does not get one without a key.
        let fresh = TestDb::new(db.backend).await.unwrap();
        let s = open_store(&fresh.settings(), None).await.unwrap();
        assert!(!s.verify_key_canary(&keyring(3)).await.unwrap());
        fresh.cleanup().await;
    };

    api_keys_are_found_by_hash_and_revoked_only_by_their_tenant => async |db: &TestDb| {
        let s = store(db).await;
        let a = tenant(&s, "alpha").await;
        let b = tenant(&s, "beta").await;
        let key = s.create_api_key(&NewApiKey { tenant_id: a.id, name: "erp", prefix: "wxh_abcdefgh", key_hash: "hash-a", scopes: &ApiScope::ALL, created_by: None }, cli_event(AuditKind::ApiKeyCreated), NOW).await.unwrap();
        assert_eq!(s.api_key_by_hash("hash-a").await.unwrap().unwrap().tenant_id, a.id);
        assert_eq!(s.api_key_by_hash("hash-x").await.unwrap(), None);
        assert_eq!(s.api_key_by_hash("hash-a").await.unwrap().unwrap().scopes, ApiScope::ALL.to_vec());
        let narrow = [ApiScope::WechatCall];
        assert!(!s.set_api_key_scopes(b.id, key.id, &narrow, cli_event(AuditKind::ApiKeyScopesChanged)).await.unwrap(), "another tenant cannot narrow it");
        assert!(s.set_api_key_scopes(a.id, key.id, &narrow, cli_event(AuditKind::ApiKeyScopesChanged)).await.unwrap());
        assert_eq!(s.api_key_by_hash("hash-a").await.unwrap().unwrap().scopes, vec![ApiScope::WechatCall]);
        assert!(!s.revoke_api_key(b.id, key.id, cli_event(AuditKind::ApiKeyRevoked), NOW).await.unwrap(), "another tenant cannot revoke it");
        assert_eq!(s.api_key_by_hash("hash-a").await.unwrap().unwrap().revoked_at, None);
        assert!(s.revoke_api_key(a.id, key.id, cli_event(AuditKind::ApiKeyRevoked), NOW + 1).await.unwrap());
        assert!(!s.revoke_api_key(a.id, key.id, cli_event(AuditKind::ApiKeyRevoked), NOW + 2).await.unwrap(), "already revoked");
        assert_eq!(s.api_key_by_hash("hash-a").await.unwrap().unwrap().revoked_at, Some(NOW + 1));
        assert!(!s.set_api_key_scopes(a.id, key.id, &ApiScope::ALL, cli_event(AuditKind::ApiKeyScopesChanged)).await.unwrap(), "a revoked key keeps its scopes");
        let dup = s.create_api_key(&NewApiKey { tenant_id: b.id, name: "dup", prefix: "p", key_hash: "hash-a", scopes: &ApiScope::ALL, created_by: None }, cli_event(AuditKind::ApiKeyCreated), NOW).await.unwrap_err();
        assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");
    };

    gateway_calls_keep_the_newest_hundred_per_account_and_tenant => async |db: &TestDb| {
        let s = store(db).await;
        let a = tenant(&s, "alpha").await;
        let b = tenant(&s, "beta").await;
        let call = |t: TenantId, target: &str, i: i64| GatewayCallRecord {
            tenant: t, target: target.to_owned(), target_kind: "authorizer", api_key: None,
            method: "GET".into(), path: format!("cgi-bin/user/info/{i}"), status: Some(200), errcode: Some(0),
            outcome: "0".into(), retried: false, duration_ms: i, called_at: NOW + i,
        };
        s.record_gateway_calls(&[call(b.id, "wx_shared", 0)]).await.unwrap();
        for batch in 0..13 {
            let calls: Vec<_> = (0..10).map(|i| call(a.id, "wx_shared", batch * 10 + i)).chain([call(a.id, "wx_other", batch)]).collect();
            s.record_gateway_calls(&calls).await.unwrap();
        }
        let kept = s.gateway_calls(a.id, "wx_shared").await.unwrap();
        assert_eq!(kept.len(), 100);
        assert_eq!(kept[0].duration_ms, 129, "newest first");
        assert_eq!(kept[99].duration_ms, 30, "the oldest thirty pruned");
        assert_eq!(s.gateway_calls(a.id, "wx_other").await.unwrap().len(), 13);
        assert_eq!(s.gateway_calls(b.id, "wx_shared").await.unwrap().len(), 1, "another tenant's calls to the same account are theirs");
        assert_eq!(raw_count(db, "gateway_calls").await, 114);
        s.record_gateway_calls(&[]).await.unwrap();
    };

    sessions_expire_and_disabled_users_lose_theirs => async |db: &TestDb| {
        let s = store(db).await;
        let t = tenant(&s, "acme").await;
        let u = s.create_user(&new_user("op@acme.io", Role::TenantViewer, Some(t.id)), cli_event(AuditKind::UserCreated), NOW).await.unwrap();
        assert!(s.session_insert("h1", Some(u.id.0), "{\"user_id\":1}", NOW + 1000).await.unwrap());
        assert!(!s.session_insert("h1", None, "{}", NOW + 1000).await.unwrap(), "insert never overwrites");
        assert_eq!(s.session_load("h1", NOW).await.unwrap().unwrap().data, "{\"user_id\":1}");
        assert!(s.session_load("h1", NOW + 1000).await.unwrap().is_none(), "expired at its expiry");
        assert!(s.session_update("h1", Some(u.id.0), "{\"v\":2}", NOW + 5000).await.unwrap());
        assert_eq!(s.session_load("h1", NOW + 1000).await.unwrap().unwrap().data, "{\"v\":2}");
        // An update never creates: a deleted (signed-out) session stays deleted.
        assert!(!s.session_update("h2", None, "{}", NOW + 10).await.unwrap());
        assert!(s.session_load("h2", NOW).await.unwrap().is_none());
        assert!(s.session_insert("h2", None, "{}", NOW + 10).await.unwrap());
        assert_eq!(s.sessions_delete_expired(NOW + 100).await.unwrap(), 1);
        assert_eq!(s.sessions_count_for_user(u.id.0).await.unwrap(), 1);
        let other = tenant(&s, "other").await;
        assert!(!s.set_tenant_user_status(other.id, u.id, UserStatus::Disabled, cli_event(AuditKind::UserDisabled), NOW).await.unwrap());
        assert_eq!(s.sessions_count_for_user(u.id.0).await.unwrap(), 1, "another tenant cannot touch the user");
        assert!(s.set_tenant_user_status(t.id, u.id, UserStatus::Disabled, cli_event(AuditKind::UserDisabled), NOW).await.unwrap());
        assert_eq!(s.sessions_count_for_user(u.id.0).await.unwrap(), 0);
        assert_eq!(s.user(u.id).await.unwrap().unwrap().status, UserStatus::Disabled);
        s.session_delete("h1").await.unwrap();
    };

    throttle_locks_after_the_threshold_and_doubles => async |db: &TestDb| {
        let s = store(db).await;
        let p = ThrottlePolicy { threshold: 3, window_ms: 60_000, base_lock_ms: 1_000, max_lock_ms: 3_000 };
        let reserve = |at: i64| { let s = s.clone(); async move { s.throttle_reserve(&[("account:a", p)], at).await.unwrap() } };
        // Each attempt is counted before it is checked; the third sets the lock for the ones after.
        assert_eq!(reserve(NOW).await, None);
        assert_eq!(reserve(NOW + 1).await, None);
        assert_eq!(s.throttle_locked_until(&["account:a"], NOW + 2).await.unwrap(), None);
        assert_eq!(reserve(NOW + 2).await, None, "the third attempt itself goes ahead");
        assert_eq!(s.throttle_locked_until(&["account:a", "ip:1.2.3.4"], NOW + 3).await.unwrap(), Some(NOW + 1_002));
        assert_eq!(reserve(NOW + 3).await, Some(NOW + 1_002), "locked: refused, and not counted");
        assert_eq!(reserve(NOW + 1_002).await, None, "the lock ran out: the fourth is counted");
        assert_eq!(s.throttle_locked_until(&["account:a"], NOW + 1_003).await.unwrap(), Some(NOW + 1_002 + 2_000), "doubled");
        assert_eq!(reserve(NOW + 3_002).await, None);
        assert_eq!(s.throttle_locked_until(&["account:a"], NOW + 3_003).await.unwrap(), Some(NOW + 3_002 + 3_000), "capped");
        // A success hands its reservation back, lifting a lock the count no longer justifies.
        s.throttle_release("account:a", &p).await.unwrap();
        assert_eq!(s.throttle_locked_until(&["account:a"], NOW + 3_003).await.unwrap(), Some(NOW + 6_002), "4 of 3: still locked");
        s.throttle_release("account:a", &p).await.unwrap();
        s.throttle_release("account:a", &p).await.unwrap();
        assert_eq!(s.throttle_locked_until(&["account:a"], NOW + 3_003).await.unwrap(), None, "2 of 3: lifted");
        // After the window, counting starts over.
        assert_eq!(reserve(NOW + 120_000).await, None);
        let count = raw_strings(db, "SELECT CAST(failures AS TEXT) FROM login_throttle").await;
        assert_eq!(count, vec!["1".to_owned()]);
        // Two keys are reserved together: one locked key refuses both, counting neither.
        let two = [("account:b", p), ("ip:9.9.9.9", ThrottlePolicy { threshold: 1, ..p })];
        assert_eq!(s.throttle_reserve(&two, NOW).await.unwrap(), None);
        assert_eq!(s.throttle_reserve(&two, NOW + 1).await.unwrap(), Some(NOW + 1_000));
        s.throttle_clear("account:a").await.unwrap();
        assert_eq!(raw_count(db, "login_throttle").await, 2);
    };

    parallel_guesses_never_pass_the_threshold => async |db: &TestDb| {
        let s = store(db).await;
        let p = ThrottlePolicy { threshold: 5, window_ms: 60_000, base_lock_ms: 60_000, max_lock_ms: 60_000 };
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move { s.throttle_reserve(&[("account:victim", p)], NOW).await }));
        }
        let mut passed = 0;
        for t in tasks {
            if t.await.unwrap().unwrap().is_none() {
                passed += 1;
            }
        }
        assert_eq!(passed, 5, "exactly the threshold's worth of guesses reach the password check");
    };

    tenant_calls_never_see_another_tenants_rows => async |db: &TestDb| {
        let s = store(db).await;
        let a = tenant(&s, "alpha").await;
        let b = tenant(&s, "beta").await;
        s.create_user(&new_user("a@alpha.io", Role::TenantAdmin, Some(a.id)), cli_event(AuditKind::UserCreated), NOW).await.unwrap();
        s.create_user(&new_user("b@beta.io", Role::TenantAdmin, Some(b.id)), cli_event(AuditKind::UserCreated), NOW).await.unwrap();
        s.create_user(&new_user("root@x.io", Role::PlatformAdmin, None), cli_event(AuditKind::UserCreated), NOW).await.unwrap();
        s.create_component(&component("wxaaaaaaaaaaaaaaa1", ComponentOwner::Tenant(a.id)), cli_event(AuditKind::ComponentCreated), NOW).await.unwrap();
        s.create_component(&component("wxbbbbbbbbbbbbbbb1", ComponentOwner::Tenant(b.id)), cli_event(AuditKind::ComponentCreated), NOW).await.unwrap();
        s.create_component(&component("wxsssssssssssssss1", ComponentOwner::Platform), cli_event(AuditKind::ComponentCreated), NOW).await.unwrap();
        for (t, name) in [(a.id, "ka"), (b.id, "kb")] {
            s.create_api_key(&NewApiKey { tenant_id: t, name, prefix: name, key_hash: name, scopes: &ApiScope::ALL, created_by: None }, cli_event(AuditKind::ApiKeyCreated), NOW).await.unwrap();
        }
        for (t, other, own_email, own_key, own_component) in [(a.id, b.id, "a@alpha.io", "ka", "wxaaaaaaaaaaaaaaa1"), (b.id, a.id, "b@beta.io", "kb", "wxbbbbbbbbbbbbbbb1")] {
            let users = s.list_tenant_users(t).await.unwrap();
            assert_eq!(users.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(), vec![own_email]);
            let keys = s.list_api_keys(t).await.unwrap();
            assert_eq!(keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), vec![own_key]);
            let comps: Vec<String> = s.list_components_for_tenant(t).await.unwrap().into_iter().map(|c| c.appid).collect();
            assert_eq!(comps, vec![own_component.to_owned(), "wxsssssssssssssss1".to_owned()], "own + shared only");
            let events = s.tenant_audit(t, 100).await.unwrap();
            assert!(!events.is_empty());
            assert!(events.iter().all(|e| e.tenant_id == Some(t)), "audit leaked {:?}", events.iter().find(|e| e.tenant_id == Some(other)));
        }
        assert_eq!(s.list_all_components().await.unwrap().len(), 3);
        assert!(s.platform_audit(100).await.unwrap().len() >= 8);
    };

    concurrent_writers_queue_instead_of_failing => async |db: &TestDb| {
        let s = store(db).await;
        let mut tasks = Vec::new();
        for i in 0..64 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.session_insert(&format!("h{i}"), None, "{}", NOW + 10_000).await?;
                s.append_audit(&cli_event(AuditKind::PushReceived)).await?;
                s.throttle_reserve(&[("account:shared", ThrottlePolicy { threshold: 1000, window_ms: 60_000, base_lock_ms: 1, max_lock_ms: 1 })], NOW).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(raw_count(db, "sessions").await, 64);
        assert_eq!(raw_count(db, "audit_events").await, 64);
        let failures = raw_strings(db, "SELECT CAST(failures AS TEXT) FROM login_throttle").await;
        assert_eq!(failures, vec!["64".to_owned()], "no lost update under concurrency");
    };
}

/// The two migration files must describe the same tables and columns.
#[tokio::test]
async fn sqlite_and_postgres_schemas_have_the_same_tables_and_columns() {
    let Some(pg) = TestDb::new(Backend::Postgres).await else {
        eprintln!("skipped: WXHUB_TEST_POSTGRES_URL is not set");
        return;
    };
    let lite = TestDb::new(Backend::Sqlite).await.unwrap();
    store(&pg).await.close().await;
    store(&lite).await.close().await;
    let mut pg_cols = raw_strings(&pg, "SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'").await;
    let mut lite_cols = raw_strings(&lite, "SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT IN ('_sqlx_migrations', 'sqlite_sequence')").await;
    pg_cols.sort();
    lite_cols.sort();
    assert!(pg_cols.len() > 100, "{}", pg_cols.len());
    assert_eq!(pg_cols, lite_cols);
    pg.cleanup().await;
}

#[test]
fn migration_directories_hold_the_same_versions() {
    let names = |dir: &str| {
        let mut v: Vec<String> = std::fs::read_dir(format!(
            "{}/../migrations/{dir}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
    assert!(!names("sqlite").is_empty());
}
