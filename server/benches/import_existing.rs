//! Importing a component's existing authorizations (issue 15): N accounts already authorized in
//! the simulator, which answers every call after a set latency, imported by a real `server serve`
//! process (this crate's binary) from `api_get_authorizer_list`. Reported: the time until the
//! import is done (every account listed, profiled and stored with its refresh token), the time
//! until every imported account also has a live access token, and the server process's peak
//! resident memory (VmHWM), which the simulator (in this process) does not add to.
//!
//! ```text
//! cargo bench -p server --bench import_existing
//! WXHUB_BENCH_AUTHORIZERS=10000 WXHUB_BENCH_LATENCY_MS=50 WXHUB_BENCH_POSTGRES_URL=postgres://…
//! ```

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use wxhub::admin::Admin;
use wxhub::domain::Actor;
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::simulator::{ComponentSeed, Lifetimes, Seed, SimSettings, Simulator};
use wxhub::startup::open_store;

const COMPONENT: &str = "wx0be4c40000000015";

/// (VmRSS, VmHWM) of a process, in MiB.
fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn main() {
    let n = support::env_usize("WXHUB_BENCH_AUTHORIZERS", 10_000);
    let latency = support::env_usize("WXHUB_BENCH_LATENCY_MS", 50) as u64;
    let pg = std::env::var("WXHUB_BENCH_POSTGRES_URL").ok();
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let port = free_port();
    let mut seed = ComponentSeed::generate(COMPONENT, "Import bench", None);
    seed.notify_url = Some(format!("http://127.0.0.1:{port}/wechat/{COMPONENT}/notify"));
    let sim = rt.block_on(async {
        Simulator::start(
            "127.0.0.1:0".parse().expect("addr"),
            SimSettings {
                lifetimes: Lifetimes::default(),
                ticket_interval: Duration::from_secs(86_400),
                ..Default::default()
            },
            Seed {
                components: vec![seed.clone()],
                accounts: vec![],
            },
        )
        .await
        .expect("simulator")
    });
    sim.with_state(|s, now| s.seed_existing_authorizations(COMPONENT, n, &[1, 2, 3, 4, 15], now))
        .expect("seed");

    let settings = support::settings(dir.path(), pg.as_deref());
    let database_url = match &pg {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let admin = rt.block_on(async {
        let keyring = Keyring::new(MasterKey::from_bytes(&[9; 32]), vec![]);
        let store = open_store(&settings, Some(keyring)).await.expect("store");
        let admin = Admin {
            store,
            actor: Actor::Cli,
        };
        admin.create_tenant("imp", "Import").await.expect("tenant");
        admin
            .create_component(
                COMPONENT,
                &seed.token,
                Some("imp"),
                &SecretString::from(seed.secret.clone()),
                &SecretString::from(seed.encoding_aes_key.clone()),
            )
            .await
            .expect("component");
        admin
    });
    let backend = admin.store.dialect().name;

    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WXHUB_DATABASE_URL", &database_url)
        .env("WXHUB_DATA_DIR", dir.path())
        .env("WXHUB_MASTER_KEY", "09".repeat(32))
        .env("WXHUB_LISTEN", format!("127.0.0.1:{port}"))
        .env("WXHUB_METRICS_LISTEN", "127.0.0.1:0")
        .env("WXHUB_LOG", "warn")
        .env("WXHUB_WECHAT_API_BASE", sim.base_url())
        .env("WXHUB_WECHAT_MP_BASE", sim.base_url())
        .env("WXHUB_WECHAT_OPEN_BASE", sim.base_url())
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("server");
    let pid = child.id();
    // The ticket reaches the server once it listens; then it fetches a component token.
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    sim.push_ticket_now(COMPONENT);
    while !sim
        .calls()
        .iter()
        .any(|c| c.api == "api_component_token" && c.errcode == 0)
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no component token"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (rss_idle, _) = memory_mb(pid);
    sim.set_latency(Duration::from_millis(latency));

    let t0 = Instant::now();
    let (import, _) = rt
        .block_on(admin.start_import(COMPONENT))
        .expect("start the import");
    let mut peak = 0.0f64;
    let mut last_report = Instant::now();
    let imported_in = loop {
        let state = rt
            .block_on(admin.import_state(import.id))
            .expect("import state");
        peak = peak.max(memory_mb(pid).1);
        if state.status != "running" {
            assert_eq!(state.status, "done", "{state:?}");
            eprintln!(
                "[{backend}] import done: {} new, {} already held, {} failed of {:?}",
                state.imported, state.unchanged, state.failed, state.total
            );
            break t0.elapsed();
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "[{backend}] {} / {:?} read after {:.0}s",
                state.next_offset,
                state.total,
                t0.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Every imported account's first access token (fetched by the refresh engine at once).
    let deadline = Instant::now() + Duration::from_secs(1_800);
    while sim.with_state(|s, _| s.live_authorizer_tokens()) < n {
        assert!(Instant::now() < deadline, "not every account got a token");
        peak = peak.max(memory_mb(pid).1);
        std::thread::sleep(Duration::from_millis(200));
    }
    let tokens_in = t0.elapsed();
    let (rss_end, hwm) = memory_mb(pid);
    peak = peak.max(hwm);
    let _ = child.kill();
    let _ = child.wait();
    let calls = sim.calls();
    let count = |api: &str| calls.iter().filter(|c| c.api == api).count();
    println!(
        "import_existing [{backend}] {n} accounts at {latency} ms: imported in {:.1} s ({:.0} accounts/s), \
         all access tokens live after {:.1} s; server RSS idle {rss_idle:.0} MiB, at the end {rss_end:.0} MiB, \
         peak {peak:.0} MiB; WeChat calls: {} list pages, {} authorizer info, {} authorizer tokens",
        imported_in.as_secs_f64(),
        n as f64 / imported_in.as_secs_f64(),
        tokens_in.as_secs_f64(),
        count("api_get_authorizer_list"),
        count("api_get_authorizer_info"),
        count("api_authorizer_token"),
    );
}
