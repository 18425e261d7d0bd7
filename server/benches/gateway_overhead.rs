//! What the WeChat gateway adds to a call: the same `user/info` call made straight to the
//! simulator with the account's token, and through `/api/v1/authorizers/{appid}/wechat/…` with an
//! API key, each open loop at a fixed rate.
//!
//! ```text
//! cargo bench -p server --bench gateway_overhead
//! WXHUB_BENCH_RATE=2000 WXHUB_BENCH_SECONDS=20 (defaults; SQLite in a temp dir)
//! ```
//!
//! The simulator runs on its own thread (WeChat is another machine), the server on its own
//! 2-thread runtime (as `server serve` would), the load generator on a third; all on loopback.
//! The direct phase runs first, then the gateway phase, then the direct phase again, so that a
//! drift of the machine shows as a difference between the two direct runs. Latency is from each
//! call's scheduled send time.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::percentile;

use secrecy::{ExposeSecret, SecretString};
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuditKind, NewAuditEvent, Outcome};
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::simulator::{ComponentSeed, Seed, SimSettings, Simulator};
use wxhub::startup::{open_store, Application};
use wxhub::store::NewAuthorization;

const COMPONENT: &str = "wx0be4c40000000003";

/// Sends `rate` GETs a second for `seconds`, open loop; the latencies (ms) sorted, and failures.
async fn open_loop(
    client: &reqwest::Client,
    url: Arc<String>,
    bearer: Option<Arc<String>>,
    rate: u64,
    seconds: u64,
) -> (Vec<f64>, usize) {
    let total = rate * seconds;
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut handles = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (client, url, bearer) = (client.clone(), url.clone(), bearer.clone());
        handles.push(tokio::spawn(async move {
            let mut req = client.get(url.as_str());
            if let Some(b) = bearer {
                req = req.bearer_auth(b.as_str());
            }
            let ok = match req.send().await {
                Ok(r) => {
                    r.status().is_success()
                        && r.bytes().await.is_ok_and(|b| {
                            serde_json::from_slice::<serde_json::Value>(&b)
                                .is_ok_and(|v| v["subscribe"] == 1)
                        })
                }
                Err(_) => false,
            };
            (ok, due.elapsed().as_secs_f64() * 1e3)
        }));
    }
    let mut latencies = Vec::with_capacity(total as usize);
    let mut failed = 0;
    for h in handles {
        let (ok, ms) = h.await.expect("task");
        failed += usize::from(!ok);
        latencies.push(ms);
    }
    latencies.sort_by(f64::total_cmp);
    (latencies, failed)
}

fn env_u64(name: &str, default: u64) -> u64 {
    support::env_usize(name, default as usize) as u64
}

fn main() {
    let rate = env_u64("WXHUB_BENCH_RATE", 2_000);
    let seconds = env_u64("WXHUB_BENCH_SECONDS", 20);
    let dir = tempfile::tempdir().expect("temp dir");

    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("sim runtime");
    let seed = ComponentSeed::generate(COMPONENT, "Gateway", None);
    let accounts = Seed::bulk_accounts(1);
    let appid = accounts[0].appid.clone();
    let sim = sim_rt.block_on(async {
        Simulator::start(
            "127.0.0.1:0".parse().expect("addr"),
            SimSettings {
                ticket_interval: Duration::from_secs(86_400),
                ..Default::default()
            },
            Seed {
                components: vec![seed.clone()],
                accounts,
            },
        )
        .await
        .expect("simulator")
    });
    let ticket = sim.push_ticket_now(COMPONENT).expect("ticket");
    sim.authorize(COMPONENT, &appid, &[1]).expect("authorize");

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let (app, key) = server_rt.block_on(async {
        let mut settings = support::settings(dir.path(), None);
        settings.wechat_api_base = sim.base_url().parse().expect("url");
        // The benchmark's one key makes every call; the per-key budget is not what is measured.
        settings.api_rate_per_second = 1_000_000;
        settings.api_rate_burst = 1_000_000;
        let keyring = Keyring::new(MasterKey::from_bytes(&[5; 32]), vec![]);
        let store = open_store(&settings, Some(keyring)).await.expect("store");
        let admin = Admin {
            store: store.clone(),
            actor: Actor::Cli,
        };
        let tenant = admin.create_tenant("gw", "Gateway").await.expect("tenant");
        let component = admin
            .create_component(
                COMPONENT,
                &seed.token,
                Some("gw"),
                &SecretString::from(seed.secret.clone()),
                &SecretString::from(seed.encoding_aes_key.clone()),
            )
            .await
            .expect("component");
        let now = wxhub::now_ms();
        store
            .store_ticket(
                component.id,
                &SecretString::from(ticket.clone()),
                now,
                12 * 3_600_000,
                now,
            )
            .await
            .expect("ticket");
        let refresh = sim
            .with_state(|s, _| s.refresh_token(COMPONENT, &appid))
            .expect("refresh token");
        store
            .record_authorization(
                &NewAuthorization {
                    tenant: Some(tenant.id),
                    component: component.id,
                    appid: &appid,
                    func_ids: &[1],
                    link: None,
                    source: "bench",
                    access: None,
                    refresh: Some(&SecretString::from(refresh)),
                    event_at: now,
                },
                &NewAuditEvent::new(
                    Actor::Cli,
                    AuditKind::AuthorizerAuthorized,
                    Outcome::Ok,
                    "bench",
                    now,
                ),
                now,
            )
            .await
            .expect("account");
        let (_, key) = admin.create_api_key("gw", "bench").await.expect("key");
        let app = Application::build_with_store(settings, store)
            .await
            .expect("app");
        (app, key.key.expose_secret().to_owned())
    });
    let base = format!("http://{}", app.local_addr());

    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("load runtime");
    load_rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        // The account's token, as a tenant's system would fetch it (the engine refreshes it first).
        let deadline = Instant::now() + Duration::from_secs(30);
        let token = loop {
            let r = client
                .get(format!("{base}/api/v1/authorizers/{appid}/access-token"))
                .bearer_auth(&key)
                .send()
                .await
                .expect("access-token");
            if r.status().is_success() {
                let v: serde_json::Value = r.json().await.expect("json");
                break v["access_token"].as_str().expect("token").to_owned();
            }
            assert!(Instant::now() < deadline, "no token within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let direct = Arc::new(format!("{}/cgi-bin/user/info?openid=o_bench&lang=zh_CN&access_token={token}", sim.base_url().trim_end_matches('/')));
        let gateway = Arc::new(format!("{base}/api/v1/authorizers/{appid}/wechat/cgi-bin/user/info?openid=o_bench&lang=zh_CN"));
        let key = Arc::new(key);
        // Warm both paths' connection pools.
        let _ = open_loop(&client, direct.clone(), None, 200, 1).await;
        let _ = open_loop(&client, gateway.clone(), Some(key.clone()), 200, 1).await;
        let report = |label: &str, (lat, failed): (Vec<f64>, usize)| {
            println!(
                "{label:<10} {rate}/s for {seconds}s: {} calls, {failed} failed; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                lat.len(),
                percentile(&lat, 0.5),
                percentile(&lat, 0.9),
                percentile(&lat, 0.99),
                lat.last().copied().unwrap_or_default()
            );
            (percentile(&lat, 0.5), percentile(&lat, 0.99))
        };
        let d1 = report("direct", open_loop(&client, direct.clone(), None, rate, seconds).await);
        let g = report("gateway", open_loop(&client, gateway.clone(), Some(key.clone()), rate, seconds).await);
        let d2 = report("direct", open_loop(&client, direct.clone(), None, rate, seconds).await);
        let direct_p50 = (d1.0 + d2.0) / 2.0;
        let direct_p99 = (d1.1 + d2.1) / 2.0;
        println!(
            "added by the gateway: p50 {:+.2} ms, p99 {:+.2} ms (against the mean of the two direct runs)",
            g.0 - direct_p50,
            g.1 - direct_p99
        );
    });
    server_rt.block_on(async move {
        let _ = app.stop().await;
    });
    drop(sim_rt);
}
