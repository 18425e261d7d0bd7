//! Several `server` processes on one PostgreSQL database share the refresh work: no credential is
//! refreshed twice in a lifetime, and when one process is killed with SIGKILL the others take its
//! work over without losing a refresh token. (PostgreSQL only: SQLite is one process by design.)

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::{spawn_instance, Instance};
use common::{wait_for, Backend, TestDb};
use secrecy::SecretString;
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuthorizerStatus};
use wxhub::simulator::{ComponentSeed, Lifetimes, Seed, SimSettings, Simulator};

const COMPONENT: &str = "wx7e57c0de00000002";
const ACCOUNTS: usize = 24;
const LIFETIME_S: i64 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_refreshes_and_survive_a_kill() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        eprintln!("skipped: WXHUB_TEST_POSTGRES_URL is not set");
        return;
    };
    let store = common::store(&db).await;
    let admin = Admin {
        store: store.clone(),
        actor: Actor::Cli,
    };
    let tenant = admin.create_tenant("acme", "Acme").await.unwrap();
    let seed = ComponentSeed::generate(COMPONENT, "Shared work", None);
    let component = admin
        .create_component(
            COMPONENT,
            &seed.token,
            Some("acme"),
            &SecretString::from(seed.secret.clone()),
            &SecretString::from(seed.encoding_aes_key.clone()),
        )
        .await
        .unwrap();
    let lifetimes = Lifetimes {
        authorizer_token: LIFETIME_S,
        component_token: 60,
        token_overlap: 1,
        refresh_token_grace: 1,
        ..Lifetimes::default()
    };
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimSettings {
            lifetimes,
            ticket_interval: Duration::from_secs(3600),
            ..Default::default()
        },
        Seed {
            components: vec![],
            accounts: Seed::bulk_accounts(ACCOUNTS),
        },
    )
    .await
    .unwrap();
    let wechat = sim.base_url();
    let mut instances: Vec<Instance> = (0..3).map(|_| spawn_instance(&db, &wechat, &[])).collect();
    // WeChat pushes to one address (the first instance, which is never killed).
    let notify = format!("http://{}/wechat/{COMPONENT}/notify", instances[0].addr);
    sim.with_state(|s, _| {
        s.add_component(ComponentSeed {
            notify_url: Some(notify),
            ..seed.clone()
        })
    })
    .unwrap();
    let appids: Vec<String> = Seed::bulk_accounts(ACCOUNTS)
        .into_iter()
        .map(|a| a.appid)
        .collect();
    // Wait for a component token before authorizing, like a real platform would.
    assert!(
        wait_for(Duration::from_secs(20), || async {
            sim.calls()
                .iter()
                .any(|c| c.api == "api_component_token" && c.errcode == 0)
        })
        .await
    );
    for appid in &appids {
        sim.authorize(COMPONENT, appid, &[1]).unwrap();
    }
    assert!(
        wait_for(Duration::from_secs(30), || async {
            store
                .list_authorizers(tenant.id)
                .await
                .unwrap()
                .iter()
                .filter(|a| a.status == AuthorizerStatus::Authorized)
                .count()
                == ACCOUNTS
        })
        .await,
        "every account was exchanged"
    );

    // Run three lifetimes with all instances, then kill one mid-flight and run three more.
    tokio::time::sleep(Duration::from_secs(3 * LIFETIME_S as u64)).await;
    let killed_at = sim.now_ms();
    let victim = instances.pop().unwrap();
    let mut victim_child = victim.child;
    victim_child.kill().unwrap(); // SIGKILL: no goodbye, leases left behind
    victim_child.wait().unwrap();
    tokio::time::sleep(Duration::from_secs(3 * LIFETIME_S as u64)).await;
    let end = sim.now_ms();

    let calls: Vec<_> = sim
        .calls()
        .into_iter()
        .filter(|c| c.api == "api_authorizer_token" && c.errcode == 0)
        .collect();
    for appid in &appids {
        let times: Vec<i64> = calls
            .iter()
            .filter(|c| c.authorizer_appid.as_deref() == Some(appid))
            .map(|c| c.at)
            .collect();
        // Before the kill: never two refreshes within one lifetime's refresh window.
        for pair in times.windows(2).filter(|p| p[1] < killed_at) {
            assert!(
                pair[1] - pair[0] >= (LIFETIME_S * 1000) / 2,
                "{appid} refreshed twice within {} ms",
                pair[1] - pair[0]
            );
        }
        // After it: the work went on (a lease left by the dead instance expires and is taken).
        assert!(
            times.iter().any(|t| *t > killed_at + 10_000 && *t <= end),
            "{appid} stopped being refreshed after the kill"
        );
        // No refresh token lost: ours is WeChat's current one, and the account is still fine.
        let want = sim
            .with_state(|s, _| s.refresh_token(COMPONENT, appid))
            .unwrap();
        use secrecy::ExposeSecret;
        let have = store
            .refresh_token(component.id, appid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(have.expose_secret(), want, "{appid}'s refresh token");
    }
    let statuses = store.list_authorizers(tenant.id).await.unwrap();
    assert!(statuses
        .iter()
        .all(|a| a.status == AuthorizerStatus::Authorized));
    // The work was shared: refresh audit events name more than one instance.
    let audit = store.tenant_audit(tenant.id, 5000).await.unwrap();
    let mut instances_seen: Vec<String> = audit
        .iter()
        .filter(|e| e.kind == "token.refreshed")
        .filter_map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.detail).ok()?["instance"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    instances_seen.sort();
    instances_seen.dedup();
    assert!(instances_seen.len() >= 2, "refreshes by {instances_seen:?}");

    for mut i in instances {
        let _ = Command::new("kill")
            .args(["-TERM", &i.child.id().to_string()])
            .status();
        let _ = i.child.wait();
        drop(i.log);
    }
    sim.stop().await;
    store.close().await;
    db.cleanup().await;
}
