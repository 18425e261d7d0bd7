//! Nothing WeChat hands us is lost (issue 6): an exchange or a refresh that fails half-way, a
//! refresh token WeChat rotated behind a lost answer, a worker that lost its lease, pushes that
//! arrive late or out of order. Each test breaks the product at one of those moments (fail points,
//! simulator faults) and checks that every authorization the simulator holds ends up in the
//! database with the simulator's current refresh token, and none is marked lost.

mod common;

use std::time::Duration;

use common::rig::{rig, shared_rig, Rig, COMPONENT, MP, OA};
use common::{wait_for, TestDb};
use wxhub::domain::{AuthorizerStatus, CredentialKind};
use wxhub::simulator::{Fault, FaultSpec, Lifetimes};
use wxhub::store::failpoints::{FailAction, FailPoint};

fn lifetimes() -> Lifetimes {
    Lifetimes {
        component_token: 120,
        authorizer_token: 6,
        token_overlap: 1,
        refresh_token_grace: 1,
        ..Lifetimes::default()
    }
}

async fn status(r: &Rig, appid: &str) -> Option<AuthorizerStatus> {
    r.authorizer_status(appid).await
}

async fn audit_kinds(r: &Rig) -> Vec<String> {
    r.app
        .store
        .platform_audit(5_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// Waits until the account is authorized, holds WeChat's current refresh token and has a token.
async fn settled(r: &Rig, appid: &str, within: Duration) -> bool {
    wait_for(within, || async {
        let (ours, theirs) = r.refresh_tokens(appid).await;
        status(r, appid).await == Some(AuthorizerStatus::Authorized)
            && ours.is_some()
            && ours == theirs
            && r.cached_authorizer_token(appid).await.is_some()
    })
    .await
}

on_both_databases! {
    an_exchange_whose_recording_fails_is_finished_from_the_kept_answer => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        r.component_token().await;
        // The database refuses the account twice; the code is spent on the first attempt.
        r.app.store.fail_points().arm(FailPoint::RecordAuthorization, FailAction::Error, Some(2));
        r.sim.authorize(COMPONENT, OA, &[1, 15]).unwrap();
        assert!(settled(&r, OA, Duration::from_secs(30)).await, "the account was recorded in the end");
        assert_eq!(r.calls("api_query_auth").len(), 1, "the one-shot code was sent to WeChat once");
        assert!(!audit_kinds(&r).await.iter().any(|k| k == "authorization.recovered"), "the kept answer sufficed");
        r.stop().await;
    };

    a_spent_code_whose_answer_was_lost_is_recovered_from_authorizer_info => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        r.component_token().await;
        // WeChat answers the exchange, and the answer is lost before anything is stored (as if the
        // process had died there). The retry must not send the spent code again.
        r.app.store.fail_points().arm(FailPoint::ExchangeAnswered, FailAction::Error, Some(1));
        r.sim.authorize(COMPONENT, OA, &[1, 2, 15]).unwrap();
        assert!(settled(&r, OA, Duration::from_secs(30)).await, "recovered, with a token");
        assert_eq!(r.calls("api_query_auth").len(), 1, "the spent code was not sent again");
        assert!(audit_kinds(&r).await.iter().any(|k| k == "authorization.recovered"));
        let account = r.app.store.authorizer(r.tenant, OA).await.unwrap().unwrap();
        assert_eq!(account.func_ids, vec![1, 2, 15], "permissions recovered too");
        r.stop().await;
    };

    a_refresh_whose_write_back_fails_keeps_the_new_refresh_token => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        r.sim.with_state(|s, _| s.rotate_refresh_tokens = true);
        r.sim.authorize(COMPONENT, OA, &[1]).unwrap();
        assert!(settled(&r, OA, Duration::from_secs(30)).await);
        let engine = r.engine().clone();
        // The next write-back fails; WeChat has already rotated the refresh token by then.
        r.app.store.fail_points().arm(FailPoint::CompleteRefresh, FailAction::Error, Some(1));
        assert!(wait_for(Duration::from_secs(20), || async { engine.metrics.refresh_outcome_count("internal") >= 1 }).await);
        let (ours, theirs) = r.refresh_tokens(OA).await;
        assert_eq!(ours, theirs, "the rotated refresh token was stored although the write-back failed");
        // And it keeps working across further lifetimes, never needing WeChat's help.
        tokio::time::sleep(Duration::from_secs(12)).await;
        assert!(settled(&r, OA, Duration::from_secs(10)).await);
        assert!(!audit_kinds(&r).await.iter().any(|k| k == "refresh_token.recovered" || k == "authorization.lost"));
        r.stop().await;
    };

    lost_refresh_answers_are_recovered_without_reauthorization => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        r.sim.with_state(|s, _| s.rotate_refresh_tokens = true);
        r.sim.authorize(COMPONENT, OA, &[1]).unwrap();
        r.sim.authorize(COMPONENT, MP, &[17]).unwrap();
        assert!(settled(&r, OA, Duration::from_secs(30)).await && settled(&r, MP, Duration::from_secs(30)).await);
        // Two refresh answers vanish after WeChat rotated the tokens: ours are stale, and past
        // their 1-second grace WeChat answers 61023.
        r.app.store.fail_points().arm(FailPoint::RefreshAnswered, FailAction::Error, Some(2));
        let engine = r.engine().clone();
        assert!(wait_for(Duration::from_secs(20), || async { engine.metrics.refresh_outcome_count("internal") >= 2 }).await);
        assert!(wait_for(Duration::from_secs(30), || async {
            audit_kinds(&r).await.iter().filter(|k| *k == "refresh_token.recovered").count() >= 2
        }).await, "both were recovered");
        assert!(settled(&r, OA, Duration::from_secs(20)).await && settled(&r, MP, Duration::from_secs(20)).await);
        assert!(r.calls("api_get_authorizer_list").is_empty(), "recovered per account, no list scan");
        assert!(!audit_kinds(&r).await.iter().any(|k| k == "authorization.lost"));
        r.stop().await;
    };

    a_missing_refresh_token_is_recovered_not_declared_lost => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        r.sim.authorize(COMPONENT, OA, &[1]).unwrap();
        assert!(settled(&r, OA, Duration::from_secs(30)).await);
        common::raw_strings(db, "DELETE FROM credentials WHERE kind = 'authorizer_refresh_token' RETURNING subject").await;
        assert_eq!(r.refresh_tokens(OA).await.0, None);
        assert!(settled(&r, OA, Duration::from_secs(30)).await, "the refresh token came back from WeChat");
        assert!(audit_kinds(&r).await.iter().any(|k| k == "refresh_token.recovered"));
        r.stop().await;
    };

    when_authorizer_info_fails_one_list_scan_serves_every_account => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        r.sim.with_state(|s, _| s.rotate_refresh_tokens = true);
        for appid in [OA, MP] {
            r.sim.authorize(COMPONENT, appid, &[1]).unwrap();
        }
        assert!(settled(&r, OA, Duration::from_secs(30)).await && settled(&r, MP, Duration::from_secs(30)).await);
        r.sim.inject_fault(FaultSpec { component: None, api: Some("api_get_authorizer_info".into()), fault: Fault::Http(503), times: None, percent: None }).unwrap();
        r.app.store.fail_points().arm(FailPoint::RefreshAnswered, FailAction::Error, Some(2));
        assert!(wait_for(Duration::from_secs(40), || async {
            audit_kinds(&r).await.iter().filter(|k| *k == "refresh_token.recovered").count() >= 2
        }).await, "both recovered from the list");
        let scans = r.calls("api_get_authorizer_list").len();
        assert!((1..=2).contains(&scans), "{scans} list scans for two accounts recovering together");
        r.sim.clear_faults();
        assert!(settled(&r, OA, Duration::from_secs(20)).await && settled(&r, MP, Duration::from_secs(20)).await);
        r.stop().await;
    };

    permissions_changed_in_wechat_keep_a_shared_components_account_with_its_tenant => async |db: &TestDb| {
        let r = shared_rig(db, lifetimes(), |_| {}).await;
        let location = r.authorize(OA, &[1, 2]).await;
        assert_eq!(r.app.client.get(&location).send().await.unwrap().status(), 200);
        assert_eq!(status(&r, OA).await, Some(AuthorizerStatus::Authorized));
        // The owner changes the permissions in WeChat's own pages: `updateauthorized` with no
        // pre_auth_code of ours.
        r.sim.authorize(COMPONENT, OA, &[1, 2, 15]).unwrap();
        assert!(wait_for(Duration::from_secs(20), || async {
            r.app.store.authorizer(r.tenant, OA).await.unwrap().is_some_and(|a| a.func_ids == vec![1, 2, 15])
        }).await, "the new permission sets were recorded for the same tenant");
        assert!(settled(&r, OA, Duration::from_secs(20)).await, "with the new refresh token");
        r.stop().await;
    };

    late_and_replayed_pushes_never_undo_a_newer_authorization => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        r.sim.authorize(COMPONENT, OA, &[1]).unwrap();
        assert!(settled(&r, OA, Duration::from_secs(30)).await);
        // Revoked, then authorized again a few seconds later.
        r.sim.revoke(COMPONENT, OA);
        assert!(wait_for(Duration::from_secs(10), || async { status(&r, OA).await == Some(AuthorizerStatus::Revoked) }).await);
        let revoked_at = wxhub::now_ms() / 1000;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        r.sim.authorize(COMPONENT, OA, &[1, 15]).unwrap();
        assert!(settled(&r, OA, Duration::from_secs(30)).await);
        // A late retry of the revocation (its de-duplication row long pruned) changes nothing.
        common::raw_strings(db, "DELETE FROM received_pushes WHERE info_type = 'unauthorized' RETURNING info_type").await;
        let unauthorized = |at: i64| format!("<xml><AppId><![CDATA[{COMPONENT}]]></AppId><CreateTime>{at}</CreateTime><InfoType><![CDATA[unauthorized]]></InfoType><AuthorizerAppid><![CDATA[{OA}]]></AuthorizerAppid></xml>");
        assert_eq!(r.push(&unauthorized(revoked_at)).await, (200, "success".into()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(status(&r, OA).await, Some(AuthorizerStatus::Authorized), "the older revocation was not applied");
        assert!(r.cached_authorizer_token(OA).await.is_some(), "and its token is still served");
        // One older than the replay window is refused outright, with nothing stored.
        let pushes = r.app.store.push_count(r.component).await.unwrap();
        let (code, body) = r.push(&unauthorized(wxhub::now_ms() / 1000 - 7_200)).await;
        assert_eq!((code, body.as_str()), (400, "out_of_window"));
        let (code, _) = r.push(&unauthorized(wxhub::now_ms() / 1000 + 7_200)).await;
        assert_eq!(code, 400, "nor can a signer pin an account's newest event in the future");
        assert_eq!(r.app.store.push_count(r.component).await.unwrap(), pushes);
        // A revocation newer than the authorization is applied, as it should be.
        assert_eq!(r.push(&unauthorized(wxhub::now_ms() / 1000 + 2)).await.0, 200);
        assert!(wait_for(Duration::from_secs(5), || async { status(&r, OA).await == Some(AuthorizerStatus::Revoked) }).await);
        r.stop().await;
    };

    a_broken_component_holds_its_authorizers_instead_of_cycling_them => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        for appid in [OA, MP] {
            r.sim.authorize(COMPONENT, appid, &[1]).unwrap();
        }
        assert!(settled(&r, OA, Duration::from_secs(30)).await && settled(&r, MP, Duration::from_secs(30)).await);
        // The component token goes bad and cannot be replaced (WeChat refuses the secret).
        r.sim.inject_fault(FaultSpec { component: None, api: Some("api_component_token".into()), fault: Fault::Errcode(40125), times: None, percent: None }).unwrap();
        // Written as a change (a newer version, now), so the cache drops the token it holds too.
        let now = wxhub::now_ms();
        common::raw_strings(db, &format!("UPDATE credentials SET value_sealed = NULL, expires_at = NULL, refresh_at = 1, version = version + 1, updated_at = {now} WHERE kind = 'component_access_token' RETURNING kind")).await;
        r.engine().cache.sync(&r.app.store).await.unwrap();
        assert!(r.engine().component_token(r.component, 0).is_none(), "the cache dropped the component token");
        let engine = r.engine().clone();
        // Both authorizers come due within a lifetime or two (one may still refresh with the
        // component token this instance held in memory); then each is claimed once and held.
        let held = |appid: &'static str| {
            let r = &r;
            async move {
                r.app.store.credential_health(r.component, CredentialKind::AuthorizerAccessToken, appid).await.unwrap()
                    .is_some_and(|h| h.held_until(wxhub::now_ms() + 5_000).is_some())
            }
        };
        assert!(wait_for(Duration::from_secs(90), || async { held(OA).await && held(MP).await }).await, "held until the component has a token");
        // Held, they are not claimed again and again (every 2 s per account before).
        let before = engine.metrics.refresh_outcome_count("no_component_token");
        tokio::time::sleep(Duration::from_secs(10)).await;
        let cycles = engine.metrics.refresh_outcome_count("no_component_token") - before;
        assert!(cycles <= 2, "{cycles} claims found no component token in 10 s while held");
        // A working component token releases them at once.
        r.sim.clear_faults();
        assert!(settled(&r, OA, Duration::from_secs(30)).await && settled(&r, MP, Duration::from_secs(30)).await);
        r.stop().await;
    };
}
