//! Load on the authorization-event URL: ack latency at a fixed push rate, and the highest rate
//! sustained.
//!
//! ```text
//! cargo bench -p server --bench notify_load                 # SQLite in a temp dir
//! WXHUB_BENCH_POSTGRES_URL=postgres://… cargo bench -p server --bench notify_load
//! WXHUB_BENCH_RATE=500 WXHUB_BENCH_SECONDS=30 WXHUB_BENCH_CONCURRENCY=64 (defaults)
//! ```
//!
//! The server runs in this process on its own 2-thread runtime (as `server serve` would); the
//! load generator runs on another thread with keep-alive connections. Every push is a distinct,
//! correctly signed and encrypted `component_verify_ticket`, so each one is verified, decrypted,
//! parsed, de-duplicated, stored with its ticket and audited: the full path, nothing cached. The
//! fixed-rate phase is open-loop (latency is measured from each push's scheduled send time, so a
//! stall is not hidden), the capacity phase closed-loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use wxhub::admin::Admin;
use wxhub::config::{DatabaseUrl, Overrides, Settings};
use wxhub::domain::Actor;
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::startup::{open_store, Application};
use wxhub::wechat::crypto::MsgCrypt;
use wxhub::wechat::xml::build_envelope;

const COMPONENT: &str = "wx0be4c40000000001";
const TOKEN: &str = "benchtoken";
const AES: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

struct Push {
    url: String,
    body: String,
}

/// Distinct signed pushes, prepared up front so the generator does no crypto.
fn pushes(base: &str, n: usize, offset: usize) -> Vec<Push> {
    let crypto = MsgCrypt::new(TOKEN, AES, COMPONENT).expect("static key");
    // Now, as WeChat would stamp them: pushes outside the replay window are refused. Equal times
    // still store every ticket (the newest or as new wins).
    let now_s = wxhub::now_ms() / 1000;
    (0..n)
        .map(|i| {
            let seq = offset + i;
            let xml = format!(
                "<xml><AppId><![CDATA[{COMPONENT}]]></AppId><CreateTime>{}</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@bench{seq:010}]]></ComponentVerifyTicket></xml>",
                now_s
            );
            let nonce = format!("{seq}");
            let sealed = crypto.encrypt(&xml, "1700000000", &nonce);
            Push {
                url: format!(
                    "{base}/wechat/{COMPONENT}/notify?signature=x&timestamp=1700000000&nonce={nonce}&encrypt_type=aes&msg_signature={}",
                    sealed.msg_signature
                ),
                body: build_envelope(COMPONENT, &sealed.encrypt),
            }
        })
        .collect()
}

async fn send(client: &reqwest::Client, push: &Push) -> bool {
    match client.post(&push.url).body(push.body.clone()).send().await {
        Ok(r) => r.status().is_success(),
        Err(_) => false,
    }
}

fn main() {
    // `cargo bench` passes --bench; this harness takes its knobs from the environment.
    let rate = env_u64("WXHUB_BENCH_RATE", 500);
    let seconds = env_u64("WXHUB_BENCH_SECONDS", 30);
    let concurrency = env_u64("WXHUB_BENCH_CONCURRENCY", 64) as usize;
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = std::env::var("WXHUB_BENCH_POSTGRES_URL").ok();

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let (app, base, backend) = server_rt.block_on(async {
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
        // Nothing answers here: the engine's token attempts fail fast and stay out of the way.
        settings.wechat_api_base = "http://127.0.0.1:9".parse().expect("url");
        let keyring = Keyring::new(MasterKey::from_bytes(&[7; 32]), vec![]);
        let store = open_store(&settings, Some(keyring)).await.expect("store");
        let admin = Admin {
            store: store.clone(),
            actor: Actor::Cli,
        };
        if store
            .component_by_appid(COMPONENT)
            .await
            .expect("lookup")
            .is_none()
        {
            admin.create_tenant("bench", "Bench").await.expect("tenant");
            admin
                .create_component(
                    COMPONENT,
                    TOKEN,
                    Some("bench"),
                    &SecretString::from("0123456789abcdef0123456789abcdef".to_owned()),
                    &SecretString::from(AES.to_owned()),
                )
                .await
                .expect("component");
        }
        let backend = store.dialect().name;
        let app = Application::build_with_store(settings, store)
            .await
            .expect("app");
        let base = format!("http://{}", app.local_addr());
        (app, base, backend)
    });
    let app = Arc::new(std::sync::Mutex::new(Some(app)));

    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("load runtime");
    let total = (rate * seconds) as usize;
    let capacity_pushes = 40_000usize;
    eprintln!("preparing {} signed pushes…", total + capacity_pushes + 200);
    let warmup = pushes(&base, 200, 0);
    let fixed = Arc::new(pushes(&base, total, 200));
    let capacity = Arc::new(pushes(&base, capacity_pushes, 200 + total));

    load_rt.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        for p in &warmup {
            assert!(send(&client, p).await, "warm-up push refused");
        }

        // Phase 1: open loop at `rate`.
        let start = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let mut handles = Vec::with_capacity(total);
        for i in 0..total {
            let due = start + interval * i as u32;
            tokio::time::sleep_until(due.into()).await;
            let client = client.clone();
            let fixed = fixed.clone();
            handles.push(tokio::spawn(async move {
                let ok = send(&client, &fixed[i]).await;
                (ok, due.elapsed())
            }));
        }
        let mut latencies = Vec::with_capacity(total);
        let mut failures = 0;
        for h in handles {
            let (ok, latency) = h.await.expect("task");
            if !ok {
                failures += 1;
            }
            latencies.push(latency);
        }
        let wall = start.elapsed();
        latencies.sort();
        println!(
            "[{backend}] fixed rate {rate}/s for {seconds}s: {total} pushes in {:.1}s, {failures} failed; ack latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            wall.as_secs_f64(),
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.90).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );

        // Phase 2: closed loop with `concurrency` connections, as fast as the server acks.
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let client = client.clone();
            let capacity = capacity.clone();
            let next = next.clone();
            workers.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut failed = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= capacity.len() || start.elapsed() > Duration::from_secs(20) {
                        return (lat, failed);
                    }
                    let t = Instant::now();
                    if !send(&client, &capacity[i]).await {
                        failed += 1;
                    }
                    lat.push(t.elapsed());
                }
            }));
        }
        let mut lat = Vec::new();
        let mut failed = 0;
        for w in workers {
            let (l, f) = w.await.expect("worker");
            lat.extend(l);
            failed += f;
        }
        let wall = start.elapsed();
        lat.sort();
        println!(
            "[{backend}] capacity with {concurrency} connections: {} pushes in {:.1}s = {:.0} pushes/s, {failed} failed; p50 {:.2} ms, p99 {:.2} ms",
            lat.len(),
            wall.as_secs_f64(),
            lat.len() as f64 / wall.as_secs_f64(),
            percentile(&lat, 0.50).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
        );
    });

    server_rt.block_on(async move {
        let app = app.lock().expect("app").take().expect("app");
        let stored = app
            .store()
            .push_count(wxhub::domain::ComponentId(1))
            .await
            .unwrap_or(-1);
        println!("[{backend}] pushes stored: {stored}");
        let _ = app.stop().await;
    });
}
