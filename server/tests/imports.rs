//! Importing a component's existing authorizations from `api_get_authorizer_list` (issue 15): the
//! accounts arrive with their refresh tokens, profiles and permission sets and are refreshed from
//! then on; a rerun duplicates nothing and never touches an account wxhub holds; a shared
//! component's imports stay unassigned; an import survives `kill -9`; who may start one, and
//! garbage at every edge.

mod common;

use std::time::Duration;

use common::process::{free_port, spawn_instance};
use common::rig::{rig, shared_rig, signed_in, ui, Rig, COMPONENT, OA};
use common::{store, wait_for, TestDb};
use secrecy::{ExposeSecret, SecretString};
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuthorizerStatus, Component};
use wxhub::simulator::{
    ComponentSeed, Fault, FaultSpec, Lifetimes, PushDrops, Seed, SimSettings, Simulator,
};
use wxhub::store::{AuthorizerImport, Store};

const PASSWORD: &str = "correct horse battery";

fn lifetimes() -> Lifetimes {
    Lifetimes {
        component_token: 600,
        authorizer_token: 600,
        ..Lifetimes::default()
    }
}

async fn component(r: &Rig) -> Component {
    r.app
        .store
        .component_by_id(r.component)
        .await
        .unwrap()
        .unwrap()
}

/// Waits for the import to end; returns it.
async fn finished(store: &Store, id: i64, within: Duration) -> AuthorizerImport {
    assert!(
        wait_for(within, || async {
            store
                .authorizer_import(id)
                .await
                .unwrap()
                .is_some_and(|i| i.status != "running")
        })
        .await,
        "import {id} did not end: {:?}",
        store.authorizer_import(id).await
    );
    store.authorizer_import(id).await.unwrap().unwrap()
}

fn seed_existing(sim: &Simulator, n: usize) -> Vec<String> {
    sim.with_state(|s, now| s.seed_existing_authorizations(COMPONENT, n, &[1, 2, 3, 4, 15], now))
        .unwrap()
}

/// Every account the simulator lists is held, authorized, with WeChat's refresh token.
async fn all_held(
    store: &Store,
    component: wxhub::domain::ComponentId,
    sim: &Simulator,
    component_appid: &str,
) -> Result<usize, String> {
    let held: Vec<(String, String)> = sim.with_state(|s, _| {
        s.components[component_appid]
            .authorizations
            .values()
            .filter(|a| !a.revoked)
            .map(|a| (a.authorizer_appid.clone(), a.refresh_token.clone()))
            .collect()
    });
    for (appid, refresh) in &held {
        let account = store
            .authorizer_of_component(component, appid)
            .await
            .unwrap();
        if account.as_ref().map(|a| a.status) != Some(AuthorizerStatus::Authorized) {
            return Err(format!("{appid} is {:?}", account.map(|a| a.status)));
        }
        let ours = store.refresh_token(component, appid).await.unwrap();
        if ours.as_ref().map(|t| t.expose_secret()) != Some(refresh.as_str()) {
            return Err(format!("{appid}: another refresh token than WeChat's"));
        }
    }
    Ok(held.len())
}

on_both_databases! {
    an_import_brings_existing_accounts_in_and_a_rerun_duplicates_and_overwrites_nothing => async |db: &TestDb| {
        let r = rig(db, lifetimes(), |_| {}).await;
        // One account wxhub holds already, through a link.
        let location = r.authorize(OA, &[1, 2]).await;
        assert_eq!(r.app.client.get(&location).send().await.unwrap().status(), 200);
        assert!(wait_for(Duration::from_secs(20), || async { r.cached_authorizer_token(OA).await.is_some() }).await);
        // WeChat re-issues OA's refresh token without telling us (its push is lost): the list now
        // holds another token than ours, and the import must not replace ours.
        r.sim.drop_pushes(PushDrops { next: 1, percent: 0 });
        r.sim.authorize(COMPONENT, OA, &[1, 2]).unwrap();
        let (ours_before, theirs) = r.refresh_tokens(OA).await;
        assert_ne!(ours_before, theirs, "the list's token differs from ours");
        let existing = seed_existing(&r.sim, 250);
        // WeChat refuses the profile of two accounts: they are counted as failed, the rest go on.
        r.sim.inject_fault(FaultSpec { component: None, api: Some("api_get_authorizer_info".into()), fault: Fault::Errcode(61003), times: Some(2), percent: None }).unwrap();

        let c = component(&r).await;
        let (import, started) = r.engine().start_import(&c, &Actor::Cli, None).await.unwrap();
        assert!(started);
        let done = finished(&r.app.store, import.id, Duration::from_secs(90)).await;
        assert_eq!(done.status, "done", "{done:?}");
        assert_eq!((done.total, done.next_offset), (Some(251), 251));
        assert_eq!((done.imported, done.updated, done.unchanged, done.failed), (248, 0, 1, 2), "{done:?}");
        assert_eq!(r.calls("api_get_authorizer_list").len(), 3, "three pages of 100");
        // The imported accounts are acme's, with their profile, permission sets and WeChat's token.
        let accounts = r.app.store.list_authorizers(r.tenant).await.unwrap();
        assert_eq!(accounts.len(), 249);
        let sample = accounts.iter().find(|a| a.appid == existing[10]).expect("imported");
        assert!(sample.nick_name.starts_with("Existing"), "{sample:?}");
        assert_eq!(sample.func_ids, vec![1, 2, 3, 4, 15]);
        assert_eq!(sample.account_kind, "official_account");
        let auth_time = r.sim.with_state(|s, _| s.components[COMPONENT].authorizations[&existing[10]].auth_time);
        assert_eq!(sample.authorized_at, auth_time * 1000, "authorized when WeChat says, not when imported");
        let (ours, theirs) = r.refresh_tokens(&existing[10]).await;
        assert!(ours.is_some() && ours == theirs);
        assert_eq!(r.refresh_tokens(OA).await.0, ours_before, "the held account kept its refresh token");
        // ...and their access tokens are fetched at once and served.
        assert!(wait_for(Duration::from_secs(60), || async {
            futures_util::future::join_all(accounts.iter().map(|a| r.cached_authorizer_token(&a.appid))).await.iter().filter(|t| t.is_some()).count() == 249
        }).await, "every imported account has an access token");
        let kinds: Vec<String> = r.app.store.platform_audit(5_000).await.unwrap().into_iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&"component.import_started".into()) && kinds.contains(&"component.import_finished".into()));

        // A rerun (WeChat slower now, so it is still running when asked again) picks up the two
        // that failed and duplicates nothing.
        r.sim.set_latency(Duration::from_millis(100));
        let (again, started) = r.engine().start_import(&c, &Actor::Cli, None).await.unwrap();
        assert!(started && again.id != import.id);
        let (same, started) = r.engine().start_import(&c, &Actor::Cli, None).await.unwrap();
        assert!(!started && same.id == again.id, "one import at a time per component");
        r.sim.set_latency(Duration::ZERO);
        let done = finished(&r.app.store, again.id, Duration::from_secs(90)).await;
        assert_eq!((done.imported, done.updated, done.unchanged, done.failed), (2, 0, 249, 0), "{done:?}");
        assert_eq!(r.app.store.list_authorizers(r.tenant).await.unwrap().len(), 251, "no duplicates");
        assert_eq!(r.refresh_tokens(OA).await.0, ours_before, "still ours");
        r.stop().await;
    };

    a_shared_components_imports_stay_unassigned_and_only_its_owner_may_import => async |db: &TestDb| {
        let r = shared_rig(db, lifetimes(), |_| {}).await;
        let admin = Admin { store: r.app.store.clone(), actor: Actor::Cli };
        let hasher = wxhub::auth::PasswordHasher::new(2);
        let pw = SecretString::from(PASSWORD);
        for (email, role, tenant) in [
            ("root@platform.test", "platform-admin", None),
            ("eyes@platform.test", "platform-auditor", None),
            ("op@acme.test", "tenant-admin", Some("acme")),
        ] {
            admin.create_user(&hasher, email, role, tenant, &pw).await.unwrap();
        }
        let (root, eyes, op) = (signed_in(&r, "root@platform.test").await, signed_in(&r, "eyes@platform.test").await, signed_in(&r, "op@acme.test").await);
        r.component_token().await;
        seed_existing(&r.sim, 30);
        let id = r.component.0.to_string();
        // A tenant sees the shared component but may not import from it; an auditor may not
        // either; garbage ids are refused. Nothing starts.
        for (who, client) in [("tenant", &op), ("auditor", &eyes)] {
            let (s, v) = ui(client, &r, "start-import", &[("component_id", &id)]).await;
            assert_eq!(s, 403, "{who}: {v}");
        }
        for bad in ["", "abc", "-1", "99999999999999999999999", "1e3"] {
            let (s, _) = ui(&root, &r, "start-import", &[("component_id", bad)]).await;
            assert!(s == 404 || s == 422 || s == 400, "{bad:?}: {s}");
        }
        assert!(r.app.store.authorizer_imports(r.component, 10).await.unwrap().is_empty());
        // Platform staff import it: the accounts are kept unassigned.
        let (s, v) = ui(&root, &r, "start-import", &[("component_id", &id)]).await;
        assert_eq!(s, 200, "{v}");
        let done = finished(&r.app.store, v["id"].as_i64().unwrap(), Duration::from_secs(60)).await;
        assert_eq!((done.status.as_str(), done.imported), ("done", 30));
        assert_eq!(r.app.store.count_unassigned_authorizers().await.unwrap(), 30);
        assert!(r.app.store.list_authorizers(r.tenant).await.unwrap().is_empty(), "no tenant sees them");
        // Everyone who sees the component sees the import's progress.
        let (s, v) = ui(&op, &r, "component-import", &[("component_id", &id)]).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("done")), "{v}");
        assert_eq!(v["imported"], 30);
        r.stop().await;
    };

    an_import_resumes_after_kill_9_where_its_last_page_ended => async |db: &TestDb| {
        const ACCOUNTS: usize = 1_000;
        let store = store(db).await;
        let admin = Admin { store: store.clone(), actor: Actor::Cli };
        admin.create_tenant("acme", "Acme").await.unwrap();
        let seed = ComponentSeed::generate(COMPONENT, "Import crash test", None);
        let c = admin
            .create_component(COMPONENT, &seed.token, Some("acme"), &SecretString::from(seed.secret.clone()), &SecretString::from(seed.encoding_aes_key.clone()))
            .await
            .unwrap();
        let sim = Simulator::start(
            "127.0.0.1:0".parse().unwrap(),
            SimSettings { lifetimes: lifetimes(), ticket_interval: Duration::from_secs(3600), ..Default::default() },
            Seed { components: vec![], accounts: vec![] },
        )
        .await
        .unwrap();
        let port = free_port();
        sim.with_state(|s, _| s.add_component(ComponentSeed { notify_url: Some(format!("http://127.0.0.1:{port}/wechat/{COMPONENT}/notify")), ..seed })).unwrap();
        seed_existing(&sim, ACCOUNTS);
        // Slow enough that the import is caught mid-way.
        sim.set_latency(Duration::from_millis(15));
        let listen = format!("127.0.0.1:{port}");
        let instance = spawn_instance(db, &sim.base_url(), &[("WXHUB_LISTEN", listen.as_str())]);
        sim.push_ticket_now(COMPONENT);
        // Started as `server component import` does: a row and a job, carried out by the server.
        let (import, started) = admin.start_import(COMPONENT).await.unwrap();
        assert!(started);
        assert!(wait_for(Duration::from_secs(60), || async {
            store.authorizer_import(import.id).await.unwrap().is_some_and(|i| i.next_offset >= 200)
        }).await, "two pages in");
        instance.kill();
        let at_kill = store.authorizer_import(import.id).await.unwrap().unwrap();
        assert_eq!(at_kill.status, "running");
        assert!(at_kill.next_offset < ACCOUNTS as i64, "caught mid-way: {at_kill:?}");
        let lists_before = sim.calls().iter().filter(|c| c.api == "api_get_authorizer_list").count();
        sim.set_latency(Duration::ZERO);
        let instance = spawn_instance(db, &sim.base_url(), &[("WXHUB_LISTEN", listen.as_str())]);
        let done = finished(&store, import.id, Duration::from_secs(120)).await;
        assert_eq!(done.status, "done", "{done:?}");
        assert_eq!((done.total, done.next_offset), (Some(ACCOUNTS as i64), ACCOUNTS as i64));
        // A page cut short by the kill is read again: its accounts stored before the kill count
        // as already held the second time.
        assert_eq!(done.imported + done.unchanged, ACCOUNTS as i64, "{done:?}");
        assert_eq!(done.failed, 0);
        let lists_after = sim.calls().iter().filter(|c| c.api == "api_get_authorizer_list").count() - lists_before;
        let pages_left = (ACCOUNTS as i64 - at_kill.next_offset + 99) / 100;
        assert!(lists_after as i64 <= pages_left + 1, "resumed at offset {}: {lists_after} pages read after the restart", at_kill.next_offset);
        assert_eq!(all_held(&store, c.id, &sim, COMPONENT).await, Ok(ACCOUNTS));
        instance.kill();
        sim.stop().await;
    };
}
