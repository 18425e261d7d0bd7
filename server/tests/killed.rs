//! Real `server serve` processes killed at the worst moments (issue 6): right after WeChat answered
//! an exchange, inside the transaction that records it, right after WeChat rotated a refresh
//! token, and with SIGKILL at random moments while WeChat hands out a new refresh token on every
//! refresh. After each restart, every authorization the simulator holds is in the database with
//! the simulator's current refresh token, and none is missing or marked lost.

mod common;

use std::time::Duration;

use common::process::{free_port, spawn_instance, Instance};
use common::{store, wait_for, TestDb};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuthorizerStatus, ComponentId, TenantId};
use wxhub::simulator::{ComponentSeed, Lifetimes, Seed, SimSettings, Simulator};
use wxhub::store::Store;

const COMPONENT: &str = "wx7e57c0de00000003";
const ACCOUNTS: usize = 6;

struct Setup {
    store: Store,
    sim: Simulator,
    tenant: TenantId,
    component: ComponentId,
    port: u16,
}

impl Setup {
    fn start(&self, db: &TestDb, failpoints: Option<&str>) -> Instance {
        let listen = format!("127.0.0.1:{}", self.port);
        let mut env = vec![("WXHUB_LISTEN", listen.as_str())];
        if let Some(spec) = failpoints {
            env.push(("WXHUB_FAILPOINTS", spec));
        }
        spawn_instance(db, &self.sim.base_url(), &env)
    }

    async fn status(&self, appid: &str) -> Option<AuthorizerStatus> {
        self.store
            .authorizer(self.tenant, appid)
            .await
            .unwrap()
            .map(|a| a.status)
    }

    /// Every authorization the simulator holds is ours, with its current refresh token.
    async fn nothing_lost(&self) -> Result<(), String> {
        let held: Vec<(String, String)> = self.sim.with_state(|s, _| {
            s.components[COMPONENT]
                .authorizations
                .values()
                .filter(|a| !a.revoked)
                .map(|a| (a.authorizer_appid.clone(), a.refresh_token.clone()))
                .collect()
        });
        for (appid, refresh) in held {
            let status = self.status(&appid).await;
            if status != Some(AuthorizerStatus::Authorized) {
                return Err(format!("{appid} is {status:?}"));
            }
            let ours = self
                .store
                .refresh_token(self.component, &appid)
                .await
                .unwrap()
                .map(|t| t.expose_secret().to_owned());
            if ours.as_deref() != Some(refresh.as_str()) {
                return Err(format!(
                    "{appid}: we hold another refresh token than WeChat's"
                ));
            }
        }
        Ok(())
    }
}

async fn setup(db: &TestDb) -> Setup {
    let store = store(db).await;
    let admin = Admin {
        store: store.clone(),
        actor: Actor::Cli,
    };
    let tenant = admin.create_tenant("acme", "Acme").await.unwrap();
    let seed = ComponentSeed::generate(COMPONENT, "Crash test", None);
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
    let sim = Simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SimSettings {
            lifetimes: Lifetimes {
                authorizer_token: 6,
                component_token: 600,
                token_overlap: 1,
                refresh_token_grace: 1,
                ..Lifetimes::default()
            },
            ticket_interval: Duration::from_secs(3600),
            rotate_refresh_tokens: true,
            ..Default::default()
        },
        Seed {
            components: vec![],
            accounts: Seed::bulk_accounts(ACCOUNTS),
        },
    )
    .await
    .unwrap();
    let port = free_port();
    sim.with_state(|s, _| {
        s.add_component(ComponentSeed {
            notify_url: Some(format!("http://127.0.0.1:{port}/wechat/{COMPONENT}/notify")),
            ..seed
        })
    })
    .unwrap();
    Setup {
        store,
        sim,
        tenant: tenant.id,
        component: component.id,
        port,
    }
}

fn appid(i: usize) -> String {
    format!("wx{i:016}")
}

async fn component_token_issued(s: &Setup) {
    assert!(
        wait_for(Duration::from_secs(20), || async {
            s.sim
                .calls()
                .iter()
                .any(|c| c.api == "api_component_token" && c.errcode == 0)
        })
        .await,
        "a component token"
    );
}

on_both_databases! {
    killed_at_the_worst_moments_nothing_is_lost => async |db: &TestDb| {
        let s = setup(db).await;

        // 1. Dies right after WeChat answered the exchange: the code is spent, nothing stored.
        let mut instance = s.start(db, Some("exchange_answered=abort"));
        // The ticket arrives at once; the first push of it may find the instance still starting.
        s.sim.push_ticket_now(COMPONENT);
        component_token_issued(&s).await;
        s.sim.authorize(COMPONENT, &appid(0), &[1]).unwrap();
        assert!(instance.wait_for_exit(Duration::from_secs(20)).is_some(), "the fail point ended the process");
        assert_eq!(s.status(&appid(0)).await, None, "nothing was stored");
        let instance = s.start(db, None);
        assert!(wait_for(Duration::from_secs(30), || async { s.status(&appid(0)).await == Some(AuthorizerStatus::Authorized) }).await,
            "recovered after the restart");
        assert_eq!(s.sim.calls().iter().filter(|c| c.api == "api_query_auth").count(), 1, "the spent code was not sent again");
        instance.kill();

        // 2. Dies inside the transaction that records the account.
        let mut instance = s.start(db, Some("record_authorization=abort"));
        s.sim.authorize(COMPONENT, &appid(1), &[1]).unwrap();
        assert!(instance.wait_for_exit(Duration::from_secs(20)).is_some());
        assert_eq!(s.status(&appid(1)).await, None, "the transaction never committed");
        let instance = s.start(db, None);
        assert!(wait_for(Duration::from_secs(30), || async { s.status(&appid(1)).await == Some(AuthorizerStatus::Authorized) }).await,
            "finished from the answer kept on the job");
        instance.kill();

        // 3. Dies right after WeChat rotated a refresh token, before storing it.
        let mut instance = s.start(db, Some("refresh_answered=abort"));
        assert!(instance.wait_for_exit(Duration::from_secs(20)).is_some(), "a refresh came due and the process died");
        let mut instance = s.start(db, None);
        for i in 2..ACCOUNTS {
            s.sim.authorize(COMPONENT, &appid(i), &[1]).unwrap();
        }
        assert!(wait_for(Duration::from_secs(30), || async { s.nothing_lost().await.is_ok() }).await,
            "{:?}", s.nothing_lost().await);

        // 4. SIGKILL at random moments while every refresh rotates the refresh token.
        let started = tokio::time::Instant::now();
        let mut kills = 0;
        while started.elapsed() < Duration::from_secs(15) {
            let pause = rand::thread_rng().gen_range(500..2_500);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            instance.kill();
            kills += 1;
            instance = s.start(db, None);
        }
        // Let the last instance catch up with what the kills interrupted, then stop it properly.
        tokio::time::sleep(Duration::from_secs(8)).await;
        assert!(instance.stop().success());
        let result = s.nothing_lost().await;
        assert!(result.is_ok(), "after {kills} kills: {result:?}");
        let refreshes = s.sim.calls().iter().filter(|c| c.api == "api_authorizer_token" && c.errcode == 0).count();
        assert!(refreshes >= ACCOUNTS * 2, "refreshes went on across the kills ({refreshes})");
        let lost = s.store.platform_audit(10_000).await.unwrap().into_iter().filter(|e| e.kind == "authorization.lost").count();
        assert_eq!(lost, 0, "no account was ever declared lost");
        eprintln!("{kills} kills, {refreshes} refreshes, nothing lost");
        s.sim.stop().await;
        s.store.close().await;
    };
}
