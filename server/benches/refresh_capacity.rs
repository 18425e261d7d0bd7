//! Refresh capacity of one instance: many authorizers with short-lived tokens against a simulator
//! that answers slowly, measured as "was every token served one WeChat accepts?".
//!
//! ```text
//! cargo bench -p server --bench refresh_capacity
//! WXHUB_BENCH_AUTHORIZERS=20000 WXHUB_BENCH_LIFETIME=120 WXHUB_BENCH_LATENCY_MS=50
//! WXHUB_BENCH_MINUTES=10 WXHUB_BENCH_POSTGRES_URL=postgres://… (defaults: SQLite)
//! ```
//!
//! Phase 1, cold start: every authorizer's token has already expired when the server starts;
//! reported is the time until all of them are fresh. Phase 2, steady state: for the given
//! minutes, 200 random authorizers are sampled every 50 ms and the token the engine would serve
//! is checked against the simulator (exists, and is accepted by "WeChat" at that moment).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use wxhub::admin::Admin;
use wxhub::config::{DatabaseUrl, Overrides, Settings};
use wxhub::domain::{Actor, AuditKind, NewAuditEvent, Outcome};
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::simulator::{ComponentSeed, Lifetimes, Seed, SimSettings, Simulator};
use wxhub::startup::{open_store, Application};
use wxhub::store::{IssuedCredential, NewAuthorization};

const COMPONENT: &str = "wx0be4c40000000002";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let n = env_u64("WXHUB_BENCH_AUTHORIZERS", 20_000) as usize;
    let lifetime = env_u64("WXHUB_BENCH_LIFETIME", 120) as i64;
    let latency = env_u64("WXHUB_BENCH_LATENCY_MS", 50);
    let minutes = env_u64("WXHUB_BENCH_MINUTES", 10);
    let per_component = env_u64("WXHUB_BENCH_PER_COMPONENT", 64) as usize;
    let pg = std::env::var("WXHUB_BENCH_POSTGRES_URL").ok();
    let dir = tempfile::tempdir().expect("temp dir");

    // The simulator gets its own thread, as WeChat is another machine.
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("sim runtime");
    let seed = ComponentSeed::generate(COMPONENT, "Capacity", None);
    let accounts = Seed::bulk_accounts(n);
    let appids: Vec<String> = accounts.iter().map(|a| a.appid.clone()).collect();
    let sim = sim_rt.block_on(async {
        Simulator::start(
            "127.0.0.1:0".parse().expect("addr"),
            SimSettings {
                lifetimes: Lifetimes {
                    authorizer_token: lifetime,
                    ..Lifetimes::default()
                },
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
    let sim = Arc::new(sim);
    let ticket = sim.push_ticket_now(COMPONENT).expect("ticket");
    for appid in &appids {
        sim.authorize(COMPONENT, appid, &[1]).expect("authorize");
    }

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let t0 = Instant::now();
    let (app, component_id, backend) = server_rt.block_on(async {
        let mut settings = Settings::load_from(
            None,
            &Overrides {
                listen: Some("127.0.0.1:0".into()),
                ..Default::default()
            },
            Vec::<(String, String)>::new(),
        )
        .expect("settings");
        settings.database_url = match &pg {
            Some(url) => DatabaseUrl::parse(url).expect("postgres url"),
            None => DatabaseUrl::sqlite_file(&dir.path().join("bench.db")),
        };
        settings.database_url_configured = true;
        settings.data_dir = dir.path().to_owned();
        let base: url::Url = sim.base_url().parse().expect("url");
        settings.wechat_api_base = base.clone();
        settings.refresh_concurrency = per_component.max(64);
        settings.refresh_concurrency_per_component = per_component;
        let keyring = Keyring::new(MasterKey::from_bytes(&[9; 32]), vec![]);
        let store = open_store(&settings, Some(keyring)).await.expect("store");
        let admin = Admin {
            store: store.clone(),
            actor: Actor::Cli,
        };
        let tenant = admin
            .create_tenant("cap", "Capacity")
            .await
            .expect("tenant");
        let component = admin
            .create_component(
                COMPONENT,
                &seed.token,
                Some("cap"),
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
        // Every account authorized, every access token already expired: a cold start.
        let expired = SecretString::from("expired".to_owned());
        for appid in &appids {
            let refresh = sim
                .with_state(|s, _| s.refresh_token(COMPONENT, appid))
                .expect("refresh token");
            let refresh = SecretString::from(refresh);
            let audit = NewAuditEvent::new(
                Actor::System,
                AuditKind::AuthorizerAuthorized,
                Outcome::Ok,
                "seeded",
                now,
            );
            store
                .record_authorization(
                    &NewAuthorization {
                        tenant: Some(tenant.id),
                        component: component.id,
                        appid,
                        func_ids: &[1],
                        link: None,
                        source: "bench",
                        access: Some(IssuedCredential {
                            value: &expired,
                            issued_at: now - lifetime * 1000,
                            expires_at: now - 1_000,
                            refresh_at: now - 1_000,
                        }),
                        refresh: Some(&refresh),
                        event_at: now,
                    },
                    &audit,
                    now,
                )
                .await
                .expect("seed");
        }
        let backend = store.dialect().name;
        eprintln!(
            "[{backend}] seeded {n} authorizers in {:.1}s",
            t0.elapsed().as_secs_f64()
        );
        sim.set_latency(Duration::from_millis(latency));
        let app = Application::build_with_store(settings, store)
            .await
            .expect("app");
        (app, component.id, backend)
    });

    let engine = app.engine().clone();
    let fresh = |now: i64| {
        appids
            .iter()
            .filter(|a| {
                server_rt
                    .block_on(engine.authorizer_token(component_id, a, now))
                    .expect("store")
                    .is_some()
            })
            .count()
    };
    let start = Instant::now();
    let cold = loop {
        let now = wxhub::now_ms();
        let ready = fresh(now);
        if ready == n {
            break start.elapsed();
        }
        if start.elapsed().as_secs().is_multiple_of(10) && start.elapsed().subsec_millis() < 200 {
            let calls = sim.calls();
            let ok = calls
                .iter()
                .filter(|c| c.api == "api_authorizer_token" && c.errcode == 0)
                .count();
            let bad = calls.iter().filter(|c| c.errcode != 0).count();
            let components = calls
                .iter()
                .filter(|c| c.api == "api_component_token")
                .count();
            eprintln!("  {:>4.0}s: {ready}/{n} fresh; {ok} refreshes, {bad} WeChat errors, {components} component-token calls", start.elapsed().as_secs_f64());
        }
        if start.elapsed() > Duration::from_secs(600) {
            println!("[{backend}] cold start: only {ready}/{n} fresh after 600 s");
            break start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    println!(
        "[{backend}] cold start: all {n} tokens (expired at start) fresh after {:.1} s (simulator latency {latency} ms, lifetime {lifetime} s, per-component concurrency {per_component})",
        cold.as_secs_f64()
    );

    let mut samples = 0u64;
    let mut missing = 0u64;
    let mut refused = 0u64;
    let end = Instant::now() + Duration::from_secs(minutes * 60);
    let calls_before = sim
        .calls()
        .iter()
        .filter(|c| c.api == "api_authorizer_token")
        .count();
    let mut rng = rand::thread_rng();
    let mut peak_rss = rss_mb();
    while Instant::now() < end {
        let now = wxhub::now_ms();
        for _ in 0..200 {
            let appid = &appids[rng.gen_range(0..n)];
            samples += 1;
            match server_rt
                .block_on(engine.authorizer_token(component_id, appid, now))
                .expect("store")
            {
                None => missing += 1,
                Some(t) => {
                    let ok = sim.with_state(|s, sim_now| {
                        s.authorizer_token_valid(t.value.expose_secret(), sim_now)
                    });
                    if !ok {
                        refused += 1;
                    }
                }
            }
        }
        peak_rss = peak_rss.max(rss_mb());
        std::thread::sleep(Duration::from_millis(50));
    }
    let calls: Vec<_> = sim
        .calls()
        .into_iter()
        .filter(|c| c.api == "api_authorizer_token")
        .collect();
    let failed = calls
        .iter()
        .skip(calls_before)
        .filter(|c| c.errcode != 0)
        .count();
    println!(
        "[{backend}] steady state {minutes} min: {samples} samples, {missing} with no token, {refused} tokens WeChat refused; {} refreshes ({failed} failed) = {:.0}/s; process RSS peak {:.0} MB (server + simulator + sampler)",
        calls.len() - calls_before,
        (calls.len() - calls_before) as f64 / (minutes * 60) as f64,
        peak_rss,
    );
    server_rt.block_on(async move {
        let _ = app.stop().await;
    });
    if let Ok(sim) = Arc::try_unwrap(sim) {
        sim_rt.block_on(sim.stop());
    }
}
