//! The webhook outbox across processes (issue 13): a `server` killed with SIGKILL while its
//! deliveries are in flight loses none of them (another process delivers them once their lease
//! ends), and two processes on one PostgreSQL database deliver every message exactly once between
//! them.

mod common;

use std::time::Duration;

use common::process::{spawn_instance, Instance};
use common::{wait_for, Backend, TestDb};
use secrecy::SecretString;
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuditKind, NewAuditEvent, Outcome};
use wxhub::simulator::sink::{RunningSink, Sink, SinkAnswer};
use wxhub::simulator::ComponentSeed;
use wxhub::store::{NewAuthorization, Store};

const COMPONENT: &str = "wx7e57c0de00000005";
const ACCOUNT: &str = "wx5a1c0ffee00000a1";
/// Nothing listens here: the instances' token work fails, which these tests do not need.
const NO_WECHAT: &str = "http://127.0.0.1:9";
const METRICS_TOKEN: &str = "outbox-test-metrics-token";

/// How many deliveries an instance made, from its own metrics.
async fn delivered_by(instance: &Instance) -> u64 {
    let text = reqwest::Client::new()
        .get(format!("http://{}/metrics", instance.addr))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with("wxhub_webhook_attempts_total{outcome=\"delivered\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

struct Setup {
    store: Store,
    seed: ComponentSeed,
    sink: RunningSink,
}

async fn setup(db: &TestDb) -> Setup {
    let store = common::store(db).await;
    let admin = Admin {
        store: store.clone(),
        actor: Actor::Cli,
    };
    let tenant = admin.create_tenant("acme", "Acme").await.unwrap();
    let seed = ComponentSeed::generate(COMPONENT, "Outbox", None);
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
    let now = wxhub::now_ms();
    let refresh = SecretString::from("refresh-1".to_owned());
    store
        .record_authorization(
            &NewAuthorization {
                tenant: Some(tenant.id),
                component: component.id,
                appid: ACCOUNT,
                func_ids: &[1],
                link: None,
                source: "test",
                access: None,
                refresh: Some(&refresh),
                event_at: now,
            },
            &NewAuditEvent::new(
                Actor::Cli,
                AuditKind::AuthorizerAuthorized,
                Outcome::Ok,
                "test",
                now,
            ),
            now,
        )
        .await
        .unwrap();
    let sink = Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let who = wxhub::ops::TenantActor {
        actor: Actor::Cli,
        tenant: tenant.id,
        ip: None,
    };
    let request = wxhub::ops::webhooks::EndpointRequest {
        url: sink.url("outbox"),
        ..Default::default()
    };
    let (_, secret) = wxhub::ops::webhooks::create(&store, &who, &request, true, now)
        .await
        .unwrap();
    sink.sink.set_secret("outbox", secret);
    Setup { store, seed, sink }
}

fn start(db: &TestDb) -> Instance {
    spawn_instance(
        db,
        NO_WECHAT,
        &[
            ("WXHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
            ("WXHUB_WEBHOOK_TIMEOUT_SECONDS", "2"),
            ("WXHUB_WEBHOOK_RETRY_BASE_MS", "100"),
            ("WXHUB_WEBHOOK_CONCURRENCY_PER_ENDPOINT", "4"),
            ("WXHUB_METRICS_TOKEN", METRICS_TOKEN),
        ],
    )
}

/// Posts message `n` to an instance's message URL as WeChat would; returns the HTTP status.
async fn post_message(seed: &ComponentSeed, instance: &Instance, n: u64) -> u16 {
    let crypto =
        wxhub::wechat::crypto::MsgCrypt::new(&seed.token, &seed.encoding_aes_key, COMPONENT)
            .unwrap();
    let now = wxhub::now_ms() / 1000;
    let xml = format!(
        "<xml><ToUserName>gh_outbox</ToUserName><FromUserName>o_user</FromUserName><CreateTime>{now}</CreateTime>\
         <MsgType>text</MsgType><Content>message {n}</Content><MsgId>{n}</MsgId></xml>"
    );
    let nonce = common::random_suffix();
    let sealed = crypto.encrypt(&xml, &now.to_string(), &nonce);
    let body = wxhub::wechat::xml::build_envelope(COMPONENT, &sealed.encrypt);
    let url = format!(
        "http://{}/wechat/{COMPONENT}/message/{ACCOUNT}?timestamp={now}&nonce={nonce}&encrypt_type=aes&msg_signature={}",
        instance.addr, sealed.msg_signature
    );
    reqwest::Client::new()
        .post(url)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The distinct message numbers the sink received, from the bodies' `fields.MsgId`.
fn received_ids(sink: &RunningSink) -> std::collections::BTreeSet<u64> {
    sink.sink
        .received(Some("outbox"))
        .iter()
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
        .filter_map(|v| v["data"]["msg_id"].as_str().and_then(|m| m.parse().ok()))
        .collect()
}

on_both_databases! {
    a_process_killed_with_deliveries_in_flight_loses_none => async |db: &TestDb| {
        let s = setup(db).await;
        // The sink holds the first four deliveries (the endpoint's in-flight bound, set to 4 here)
        // past the kill.
        s.sink.sink.script("outbox", std::iter::repeat_n(SinkAnswer::Hang(Duration::from_secs(30)), 4));
        let first = start(db);
        for n in 1..=20 {
            assert_eq!(post_message(&s.seed, &first, n).await, 200);
        }
        assert!(
            wait_for(Duration::from_secs(10), || async { s.sink.sink.total() >= 4 }).await,
            "four deliveries in flight"
        );
        first.kill();
        let second = start(db);
        assert!(
            wait_for(Duration::from_secs(40), || async { received_ids(&s.sink).len() == 20 }).await,
            "every message delivered after the kill: {:?}",
            received_ids(&s.sink)
        );
        assert!(
            wait_for(Duration::from_secs(10), || async {
                common::raw_count(db, "webhook_deliveries WHERE status = 'delivered'").await == 20
            })
            .await,
            "each of the 20 deliveries recorded as delivered"
        );
        assert!(s.sink.sink.received(Some("outbox")).iter().all(|r| r.verified == Some(true)));
        second.stop();
        s.store.close().await;
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_deliver_from_one_outbox_each_message_once() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        eprintln!("skipped: WXHUB_TEST_POSTGRES_URL is not set");
        return;
    };
    let s = setup(&db).await;
    let a = start(&db);
    let b = start(&db);
    const N: u64 = 200;
    for n in 1..=N {
        let target = if n % 2 == 0 { &a } else { &b };
        assert_eq!(post_message(&s.seed, target, n).await, 200);
    }
    assert!(
        wait_for(Duration::from_secs(30), || async {
            received_ids(&s.sink).len() as u64 == N
        })
        .await,
        "every message delivered: {} of {N}",
        received_ids(&s.sink).len()
    );
    // No failure happened, so nothing may have been sent twice: each claim was one process's.
    let received = s.sink.sink.received(Some("outbox"));
    assert_eq!(
        received.len() as u64,
        N,
        "each message exactly once between the two processes"
    );
    let ids: std::collections::BTreeSet<&str> =
        received.iter().map(|r| r.webhook_id.as_str()).collect();
    assert_eq!(ids.len() as u64, N);
    assert_eq!(
        common::raw_count(&db, "webhook_deliveries WHERE status = 'delivered'").await as u64,
        N
    );
    let (by_a, by_b) = (delivered_by(&a).await, delivered_by(&b).await);
    assert_eq!(by_a + by_b, N, "the processes' own counts add up");
    assert!(
        by_a > 0 && by_b > 0,
        "both processes delivered: {by_a} and {by_b}"
    );
    a.stop();
    b.stop();
    s.store.close().await;
    db.cleanup().await;
}
