//! The storage rules behind "nothing lost" (issue 6), on both databases: refresh tokens survive a
//! lost lease and only a later one replaces them, an account is marked lost only by the worker
//! holding its lease with the token WeChat refused, revocations apply in WeChat's order, forced
//! refreshes are rationed, refusals are audited once per window, and old rows are pruned.

mod common;

use std::sync::Arc;
use std::time::Duration;
use wxhub::domain::AuditKind;

use common::{raw_count, raw_strings, store, TestDb};
use secrecy::{ExposeSecret, SecretString};
use wxhub::domain::*;
use wxhub::store::{
    ClaimedCredential, Cutoffs, IncomingPush, IssuedCredential, LossOutcome, NewAuthorization,
    PushEffect, PushOutcome, Store,
};

const NOW: i64 = 1_800_000_000_000;
const APPID: &str = "wx5a1c0ffee0000001";

fn event(kind: AuditKind) -> NewAuditEvent {
    NewAuditEvent::new(Actor::System, kind, Outcome::Ok, kind.as_str(), NOW)
}

struct World {
    store: Store,
    tenant: TenantId,
    component: ComponentId,
}

async fn world(db: &TestDb) -> World {
    let store = store(db).await;
    let tenant = store
        .create_tenant("acme", "Acme", event(AuditKind::TenantCreated), NOW)
        .await
        .unwrap();
    let component = store
        .create_component(
            &NewComponent {
                appid: "wx7e57c0de00000001".into(),
                owner: ComponentOwner::Tenant(tenant.id),
                name: String::new(),
                secrets: ComponentSecrets {
                    message_token: SecretString::from("componenttoken"),
                    appsecret: SecretString::from("0123456789abcdef0123456789abcdef"),
                    encoding_aes_key: SecretString::from(
                        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
                    ),
                    previous_encoding_aes_key: None,
                },
            },
            event(AuditKind::ComponentCreated),
            NOW,
        )
        .await
        .unwrap();
    World {
        store,
        tenant: tenant.id,
        component: component.id,
    }
}

impl World {
    /// The account, authorized at `at` with `refresh`, its access token due at once.
    async fn authorize(&self, refresh: &str, at: i64) {
        let access = SecretString::from("access-1");
        let refresh = SecretString::from(refresh.to_owned());
        self.store
            .record_authorization(
                &NewAuthorization {
                    tenant: Some(self.tenant),
                    component: self.component,
                    appid: APPID,
                    func_ids: &[1],
                    link: None,
                    source: "test",
                    access: Some(IssuedCredential {
                        value: &access,
                        issued_at: at,
                        expires_at: at + 7_200_000,
                        refresh_at: at,
                    }),
                    refresh: Some(&refresh),
                    event_at: at,
                },
                &event(AuditKind::AuthorizerAuthorized),
                at,
            )
            .await
            .unwrap();
    }

    async fn claim(&self, owner: &str, at: i64) -> Option<ClaimedCredential> {
        self.store
            .claim_due_credentials(
                owner,
                at,
                at + 60_000,
                10,
                Some(CredentialKind::AuthorizerAccessToken),
            )
            .await
            .unwrap()
            .into_iter()
            .next()
    }

    async fn refresh_token(&self) -> Option<String> {
        self.store
            .refresh_token(self.component, APPID)
            .await
            .unwrap()
            .map(|t| t.expose_secret().to_owned())
    }

    async fn status(&self) -> AuthorizerStatus {
        self.store
            .authorizer(self.tenant, APPID)
            .await
            .unwrap()
            .unwrap()
            .status
    }

    async fn complete(
        &self,
        claim: &ClaimedCredential,
        refresh: &str,
        requested_at: i64,
    ) -> Option<i64> {
        let value = SecretString::from(format!("access-{requested_at}"));
        self.store
            .complete_refresh(
                claim,
                IssuedCredential {
                    value: &value,
                    issued_at: requested_at,
                    expires_at: requested_at + 7_200_000,
                    refresh_at: requested_at + 6_000_000,
                },
                Some(&SecretString::from(refresh.to_owned())),
                &event(AuditKind::TokenRefreshed),
                requested_at + 10,
            )
            .await
            .unwrap()
    }
}

fn print(token: &str) -> String {
    wxhub::secrets::fingerprint(token)
}

on_both_databases! {
    a_refresh_token_survives_a_lost_lease_and_only_a_later_one_replaces_it => async |db: &TestDb| {
        let w = world(db).await;
        w.authorize("refresh-0", NOW).await;
        let slow = w.claim("slow", NOW + 1_000).await.expect("due");
        // The slow worker's lease runs out and another takes the credential over.
        let fast = w.claim("fast", NOW + 62_000).await.expect("taken over");
        assert_eq!(w.complete(&fast, "refresh-2", NOW + 62_500).await.map(|_| ()), Some(()));
        assert_eq!(w.refresh_token().await.as_deref(), Some("refresh-2"));
        // The slow worker's answer arrives last; its request went out before the fast one's: the
        // access token is not written (lease lost), and its refresh token does not replace the
        // later one.
        assert_eq!(w.complete(&slow, "refresh-1", NOW + 1_500).await, None);
        assert_eq!(w.refresh_token().await.as_deref(), Some("refresh-2"));
        // Had the slow worker asked later, its refresh token would be kept though its lease is gone.
        let later = NOW + 6_100_000;
        let slower = w.claim("slower", later).await.expect("due again");
        let _ = w.claim("other", later + 61_000).await.expect("taken over");
        assert_eq!(w.complete(&slower, "refresh-3", later + 70_000).await, None, "lease lost");
        assert_eq!(w.refresh_token().await.as_deref(), Some("refresh-3"), "kept whatever happened to the lease");
        // A token saved on its own (a failed write-back's fallback) obeys the same order.
        let stale = SecretString::from("refresh-older");
        assert!(!w.store.save_refresh_token(w.component, None, Some(w.tenant), APPID, &stale, NOW, None).await.unwrap());
        let newer = SecretString::from("refresh-4");
        assert!(w.store.save_refresh_token(w.component, None, Some(w.tenant), APPID, &newer, NOW + 9_000_000, None).await.unwrap());
        assert_eq!(w.refresh_token().await.as_deref(), Some("refresh-4"));
    };

    an_account_is_marked_lost_only_by_its_lease_holder_with_the_refused_token => async |db: &TestDb| {
        let w = world(db).await;
        w.authorize("refresh-0", NOW).await;
        let audit = NewAuditEvent::new(Actor::System, AuditKind::AuthorizationLost, Outcome::Failed, "lost", NOW);
        // A worker whose lease was taken over changes nothing.
        let stale = w.claim("stale", NOW + 1_000).await.unwrap();
        let current = w.claim("current", NOW + 62_000).await.unwrap();
        let lost = w.store.lose_authorization(&stale, Some(&print("refresh-0")), "61023", Some(61023), &audit, NOW + 62_100).await.unwrap();
        assert_eq!(lost, LossOutcome::LeaseLost);
        assert_eq!(w.status().await, AuthorizerStatus::Authorized);
        // The account was authorized again meanwhile (a new refresh token): not lost, and due now.
        w.authorize("refresh-new", NOW + 62_200).await;
        let current = w.claim("current", NOW + 62_300).await.unwrap_or(current);
        let lost = w.store.lose_authorization(&current, Some(&print("refresh-0")), "61023", Some(61023), &audit, NOW + 62_400).await.unwrap();
        assert_eq!(lost, LossOutcome::RefreshTokenChanged);
        assert_eq!(w.status().await, AuthorizerStatus::Authorized);
        // The holder with the token WeChat refused: marked, once.
        let holder = w.claim("holder", NOW + 62_500).await.expect("released, so due at once");
        let lost = w.store.lose_authorization(&holder, Some(&print("refresh-new")), "61023", Some(61023), &audit, NOW + 62_600).await.unwrap();
        assert_eq!(lost, LossOutcome::Marked(Some(w.tenant)));
        assert_eq!(w.status().await, AuthorizerStatus::NeedsReauth);
        let health = w.store.credential_health(w.component, CredentialKind::AuthorizerAccessToken, APPID).await.unwrap().unwrap();
        assert_eq!((health.refresh_at, health.last_error_code), (None, Some(61023)), "no longer refreshed");
        assert_eq!(w.refresh_token().await.as_deref(), Some("refresh-new"), "the refresh token is kept");
        let history = w.store.authorizer_history(w.tenant, w.store.authorizer(w.tenant, APPID).await.unwrap().unwrap().id).await.unwrap();
        assert_eq!(history.last().unwrap().change, "needs_reauth");
    };

    revocations_and_authorizations_apply_in_wechats_order => async |db: &TestDb| {
        let w = world(db).await;
        w.authorize("refresh-0", NOW).await;
        let revoke = |create_s: i64, key: &'static str| {
            let store = w.store.clone();
            let component = w.component;
            async move {
                let payload = SecretString::from("<xml/>");
                store.accept_push(
                    &IncomingPush { component, tenant: None, info_type: "unauthorized", authorizer_appid: Some(APPID), dedupe_key: key, create_time: create_s, event_at: create_s * 1000, payload: &payload },
                    &PushEffect::Revoke { authorizer_appid: APPID },
                    None,
                    NOW,
                ).await.unwrap()
            }
        };
        // Older than the authorization: recorded, not applied.
        assert_eq!(revoke(NOW / 1000 - 5, "old").await, PushOutcome::Accepted);
        assert_eq!(w.status().await, AuthorizerStatus::Authorized);
        // Newer: applied.
        assert_eq!(revoke(NOW / 1000 + 5, "new").await, PushOutcome::Accepted);
        assert_eq!(w.status().await, AuthorizerStatus::Revoked);
        // An authorization from before that revocation, exchanged late, changes nothing.
        w.authorize("refresh-late", NOW + 2_000).await;
        assert_eq!(w.status().await, AuthorizerStatus::Revoked);
        assert_eq!(w.refresh_token().await.as_deref(), Some("refresh-0"), "nothing of it was stored");
        // One from after it is the owner coming back.
        w.authorize("refresh-back", NOW + 10_000).await;
        assert_eq!(w.status().await, AuthorizerStatus::Authorized);
        assert_eq!(w.refresh_token().await.as_deref(), Some("refresh-back"));
    };

    an_import_never_replaces_an_authorized_accounts_refresh_token_even_in_the_same_instant => async |db: &TestDb| {
        // The import read WeChat's list and found the account unheld; a real authorization landed
        // in the same millisecond before the import wrote. The held token stays.
        let w = world(db).await;
        w.authorize("refresh-from-the-push", NOW).await;
        let stale = SecretString::from("refresh-from-an-older-list".to_owned());
        let import = |at: i64| {
            let (store, stale) = (w.store.clone(), stale.clone());
            let (tenant, component) = (w.tenant, w.component);
            async move {
                store.record_authorization(
                    &NewAuthorization { tenant: Some(tenant), component, appid: APPID, func_ids: &[1, 18], link: None,
                        source: "import", access: None, refresh: Some(&stale), event_at: at },
                    &event(AuditKind::AuthorizerAuthorized), at,
                ).await.unwrap()
            }
        };
        assert_eq!(import(NOW).await.change, "superseded");
        assert_eq!(w.refresh_token().await.as_deref(), Some("refresh-from-the-push"));
        let funcs = raw_strings(db, &format!("SELECT func_info FROM authorizers WHERE appid = '{APPID}'")).await;
        assert_eq!(funcs, ["[1]"], "nothing of the import was written");
        // An account no longer authorized is the import's to take back.
        let payload = SecretString::from("<xml/>");
        let revoked = w.store.accept_push(
            &IncomingPush { component: w.component, tenant: None, info_type: "unauthorized", authorizer_appid: Some(APPID), dedupe_key: "gone",
                create_time: NOW / 1000 + 5, event_at: NOW + 5_000, payload: &payload },
            &PushEffect::Revoke { authorizer_appid: APPID }, None, NOW,
        ).await.unwrap();
        assert_eq!(revoked, PushOutcome::Accepted);
        assert_eq!(w.status().await, AuthorizerStatus::Revoked);
        assert_eq!(import(NOW + 10_000).await.change, "authorized");
        assert_eq!(w.status().await, AuthorizerStatus::Authorized);
        assert_eq!(w.refresh_token().await.as_deref(), Some("refresh-from-an-older-list"));
    };

    forced_refreshes_are_rationed_per_account => async |db: &TestDb| {
        let w = world(db).await;
        w.authorize("refresh-0", NOW).await;
        let claim = w.claim("w", NOW + 1).await.unwrap();
        w.complete(&claim, "refresh-0", NOW + 10).await.unwrap();
        let token = print(&format!("access-{}", NOW + 10));
        let force = |at: i64| {
            let store = w.store.clone();
            let component = w.component;
            let token = token.clone();
            async move {
                store.refresh_now_if_current(component, CredentialKind::AuthorizerAccessToken, APPID, &token, at, Some(at - 30_000)).await.unwrap()
            }
        };
        assert!(force(NOW + 1_000).await, "the first report forces a refresh");
        assert!(!force(NOW + 1_001).await, "a second one while it is due does nothing");
        // The refresh ran (the same token came back, say), and the tenant reports again at once.
        let claim = w.claim("w", NOW + 2_000).await.unwrap();
        w.complete(&claim, "refresh-0", NOW + 10).await.unwrap();
        assert!(!force(NOW + 5_000).await, "not again within the interval");
        assert!(force(NOW + 31_001).await, "again after it");
        assert!(!w.store.refresh_now_if_current(w.component, CredentialKind::AuthorizerAccessToken, APPID, "not-the-token", NOW + 90_000, None).await.unwrap());
    };

    refusals_are_written_once_per_window_then_summed_up => async |db: &TestDb| {
        let w = world(db).await;
        let log = Arc::new(wxhub::refusals::RefusalLog::new(w.store.clone(), Duration::from_millis(300)));
        let before = raw_count(db, "audit_events").await;
        let refusal = || NewAuditEvent::new(Actor::Anonymous, AuditKind::PushRejected, Outcome::Denied, "refused", NOW);
        for _ in 0..500 {
            log.record(refusal(), "wxattacker:bad_signature").await;
        }
        log.record(refusal(), "wxsomeoneelse:bad_signature").await;
        assert_eq!(raw_count(db, "audit_events").await, before + 2, "one row per source");
        log.flush(false).await;
        assert_eq!(raw_count(db, "audit_events").await, before + 2, "the window is still open");
        tokio::time::sleep(Duration::from_millis(350)).await;
        log.flush(false).await;
        assert_eq!(raw_count(db, "audit_events").await, before + 3, "one summary for the 499 counted");
        let summary = raw_strings(db, "SELECT detail FROM audit_events ORDER BY id DESC LIMIT 1").await;
        let detail: serde_json::Value = serde_json::from_str(&summary[0]).unwrap();
        assert_eq!(detail["suppressed"], 499);
        // Thousands of distinct sources share one slot beyond the cap.
        for i in 0..3_000 {
            log.record(refusal(), &format!("source-{i}")).await;
        }
        log.flush(true).await;
        assert!(raw_count(db, "audit_events").await <= before + 3 + 1024 + 2, "bounded by the source cap");
    };

    a_tenants_component_health_is_one_read_of_its_own_and_the_shared_ones => async |db: &TestDb| {
        let w = world(db).await;
        let secrets = || ComponentSecrets {
            message_token: SecretString::from("componenttoken"),
            appsecret: SecretString::from("0123456789abcdef0123456789abcdef"),
            encoding_aes_key: SecretString::from("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
            previous_encoding_aes_key: None,
        };
        let other = w.store.create_tenant("globex", "Globex", event(AuditKind::TenantCreated), NOW).await.unwrap();
        let theirs = w.store.create_component(&NewComponent { appid: "wx7e57c0de00000002".into(), owner: ComponentOwner::Tenant(other.id), name: String::new(), secrets: secrets() },
            event(AuditKind::ComponentCreated), NOW).await.unwrap();
        w.store.create_component(&NewComponent { appid: "wx7e57c0de00000003".into(), owner: ComponentOwner::Platform, name: "Shared".into(), secrets: secrets() },
            event(AuditKind::ComponentCreated), NOW).await.unwrap();
        w.store.store_ticket(w.component, &SecretString::from("ticket"), NOW - 60_000, 43_200_000, NOW).await.unwrap();
        w.store.store_ticket(theirs.id, &SecretString::from("ticket"), NOW - 1_000, 43_200_000, NOW).await.unwrap();
        let claims = w.store.claim_due_credentials("worker", NOW, NOW + 60_000, 10, Some(CredentialKind::ComponentAccessToken)).await.unwrap();
        let ours = claims.iter().find(|c| c.component_id == w.component).expect("our token is due after a ticket");
        assert!(w.store.fail_refresh(ours, "invalid appsecret", Some(40125), NOW + 1_000, None, NOW).await.unwrap());
        let payload = SecretString::from("<xml/>");
        w.store.accept_push(
            &IncomingPush { component: w.component, tenant: None, info_type: "component_verify_ticket", authorizer_appid: None, dedupe_key: "p1", create_time: (NOW - 5_000) / 1000, event_at: NOW - 5_000, payload: &payload },
            &PushEffect::None, None, NOW - 5_000,
        ).await.unwrap();

        let health = w.store.component_health_for_tenant(w.tenant).await.unwrap();
        let appids: Vec<&str> = health.iter().map(|h| h.component.appid.as_str()).collect();
        assert_eq!(appids, vec!["wx7e57c0de00000001", "wx7e57c0de00000003"], "its own and the shared one, never another tenant's");
        let own = &health[0];
        assert_eq!((own.ticket_issued_at, own.last_push_at), (Some(NOW - 60_000), Some(NOW - 5_000)));
        assert_eq!((own.token_failure_count, own.token_last_error.as_deref(), own.token_last_error_code, own.token_last_error_at),
                   (1, Some("invalid appsecret"), Some(40125), Some(NOW)));
        let shared = &health[1];
        assert_eq!((shared.ticket_issued_at, shared.token_expires_at, shared.token_failure_count, shared.last_push_at), (None, None, 0, None));
    };

    a_component_hold_is_one_row_that_every_claim_honours => async |db: &TestDb| {
        let w = world(db).await;
        w.authorize("refresh-1", NOW).await;
        w.store.store_ticket(w.component, &SecretString::from("ticket"), NOW - 1_000, 43_200_000, NOW).await.unwrap();
        let credentials = || async { raw_strings(db, "SELECT CAST(COALESCE(next_attempt_at, 0) AS TEXT) FROM credentials").await };
        let rows_before = credentials().await;
        let claim_all = |at: i64| {
            let w = &w;
            async move {
                let claims = w.store.claim_due_credentials("worker", at, at + 1, 10, None).await.unwrap();
                let mut kinds: Vec<&str> = claims.iter().map(|c| c.kind.as_str()).collect();
                kinds.sort_unstable();
                kinds
            }
        };
        // No component token: the authorizers wait, the component token itself may still go.
        assert!(w.store.pause_component_authorizers(w.component, NOW + 60_000).await.unwrap());
        assert!(!w.store.pause_component_authorizers(w.component, NOW + 30_000).await.unwrap(), "a shorter hold does not shorten it");
        assert_eq!(credentials().await, rows_before, "no credential row was written");
        let health = w.store.credential_health(w.component, CredentialKind::AuthorizerAccessToken, APPID).await.unwrap().unwrap();
        assert_eq!(health.held_until(NOW), Some(NOW + 60_000));
        assert_eq!(health.held_until(NOW + 60_000), None, "a hold ends by itself");
        assert_eq!(claim_all(NOW).await, vec!["component_access_token"]);
        // Busy: nothing of the component goes, until the hold ends.
        assert!(w.store.pause_component_refreshes(w.component, NOW + 90_000).await.unwrap());
        assert_eq!(claim_all(NOW + 61_000).await, Vec::<&str>::new(), "held while busy");
        // A component token lifts the authorizers' hold at once; the busy hold runs its course.
        assert!(w.store.resume_component_authorizers(w.component, NOW + 1_000).await.unwrap());
        assert!(!w.store.resume_component_authorizers(w.component, NOW + 1_000).await.unwrap(), "nothing left to lift");
        assert_eq!(claim_all(NOW + 89_000).await, Vec::<&str>::new());
        assert_eq!(claim_all(NOW + 200_000).await, vec!["authorizer_access_token", "component_access_token"]);
        // The backlog gauge counts them (up to its cap).
        assert_eq!(w.store.due_credentials(NOW + 200_000).await.unwrap(), 2);
    };

    a_tenant_reads_its_own_open_alerts_only => async |db: &TestDb| {
        let w = world(db).await;
        let other = w.store.create_tenant("globex", "Globex", event(AuditKind::TenantCreated), NOW).await.unwrap();
        w.store.raise_alert(Some(w.tenant), Some(w.component), None, "reauthorization_needed", "ours", NOW).await.unwrap();
        w.store.raise_alert(Some(other.id), None, None, "reauthorization_needed", "theirs", NOW).await.unwrap();
        w.store.raise_alert(None, Some(w.component), None, "ticket_stale", "platform's", NOW).await.unwrap();
        let ours: Vec<String> = w.store.open_alerts_for_tenant(w.tenant, 50).await.unwrap().into_iter().map(|a| a.message).collect();
        assert_eq!(ours, vec!["ours".to_owned()]);
        assert_eq!(w.store.open_alerts().await.unwrap().len(), 3);
    };

    old_rows_are_pruned_by_age_and_nothing_else => async |db: &TestDb| {
        let w = world(db).await;
        let day = 86_400_000;
        for at in [NOW - 30 * day, NOW - day] {
            w.store.append_audit(&NewAuditEvent::new(Actor::System, AuditKind::PushReceived, Outcome::Ok, "x", at)).await.unwrap();
        }
        let payload = SecretString::from("<xml/>");
        for (at, key) in [(NOW - 10 * day, "old-push"), (NOW - day, "new-push")] {
            w.store.accept_push(
                &IncomingPush { component: w.component, tenant: None, info_type: "x", authorizer_appid: None, dedupe_key: key, create_time: at / 1000, event_at: at, payload: &payload },
                &PushEffect::None, None, at,
            ).await.unwrap();
        }
        w.store.throttle_reserve(&[("ip:1.2.3.4", wxhub::store::ThrottlePolicy { threshold: 5, window_ms: 60_000, base_lock_ms: 1, max_lock_ms: 1 })], NOW - 2 * day).await.unwrap();
        w.store.throttle_reserve(&[("ip:5.6.7.8", wxhub::store::ThrottlePolicy { threshold: 5, window_ms: 60_000, base_lock_ms: 1, max_lock_ms: 1 })], NOW).await.unwrap();
        let xml = SecretString::from("<xml><MsgType>text</MsgType></xml>");
        for (at, key) in [(NOW - 8 * day, "old-message"), (NOW - day, "new-message")] {
            let m = wxhub::store::IncomingMessage {
                component: w.component, tenant: Some(w.tenant), authorizer_appid: APPID, dedupe_key: key, msg_type: "text",
                event: None, from_user: "openid", to_user: "gh_1", create_time: at / 1000, msg_id: Some(key), xml: &xml,
            };
            assert_eq!(w.store.accept_message(&m, &[], at).await.unwrap().0, PushOutcome::Accepted);
            assert_eq!(w.store.accept_message(&m, &[], at).await.unwrap().0, PushOutcome::Duplicate, "WeChat's retry is stored once");
        }
        assert!(w.store.session_insert("old", None, "{}", NOW - 1).await.unwrap());
        assert!(w.store.session_insert("live", None, "{}", NOW + day).await.unwrap());
        let before = raw_count(db, "audit_events").await;
        let cut = Cutoffs { audit_before: NOW - 7 * day, pushes_before: NOW - 7 * day, messages_before: NOW - 7 * day, jobs_before: NOW - 7 * day, throttle_before: NOW - day, now: NOW };
        let done = w.store.prune(&cut, 1).await.unwrap();
        assert_eq!((done.audit_events, done.received_pushes, done.messages, done.throttle_rows, done.sessions), (1, 1, 1, 1, 1));
        let kept = w.store.recent_messages(w.tenant, APPID, 10).await.unwrap();
        assert_eq!(kept.iter().map(|m| (m.msg_id.as_deref(), m.xml.as_str())).collect::<Vec<_>>(), vec![(Some("new-message"), "<xml><MsgType>text</MsgType></xml>")]);
        assert_eq!(raw_count(db, "audit_events").await, before - 1);
        assert_eq!(raw_strings(db, "SELECT dedupe_key FROM received_pushes").await, vec!["new-push".to_owned()]);
        assert_eq!(raw_strings(db, "SELECT key FROM login_throttle").await, vec!["ip:5.6.7.8".to_owned()]);
        assert_eq!(raw_strings(db, "SELECT id_hash FROM sessions").await, vec!["live".to_owned()]);
        let other = w.store.create_tenant("globex", "Globex", event(AuditKind::TenantCreated), NOW).await.unwrap();
        assert!(w.store.recent_messages(other.id, APPID, 10).await.unwrap().is_empty(), "another tenant reads none of them");
        assert_eq!(w.store.prune(&cut, 100).await.unwrap().total(), 0, "nothing left past its age");
    };
}
