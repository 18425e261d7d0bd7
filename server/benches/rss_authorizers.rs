//! Memory of a server holding many authorizers: seeds a SQLite database with N authorized accounts
//! (each with a live access token and a refresh token), then starts the server in a fresh child
//! process (this binary, re-executed) and reports its resident memory once every token is cached.
//!
//! ```text
//! cargo bench -p server --bench rss_authorizers   # WXHUB_BENCH_AUTHORIZERS=100000 WXHUB_BENCH_WATCH=6
//! ```

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use wxhub::admin::Admin;
use wxhub::config::{DatabaseUrl, Settings};
use wxhub::domain::Actor;
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::startup::{open_store, Application};

const COMPONENT: &str = "wx0be4c40000000003";

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

/// The bench's settings with the database at `db` (a SQLite file).
fn settings(db: &std::path::Path) -> Settings {
    let mut settings = support::settings(db.parent().unwrap_or(db), None);
    settings.database_url = DatabaseUrl::sqlite_file(db);
    settings
}

fn keyring() -> Keyring {
    Keyring::new(MasterKey::from_bytes(&[5; 32]), vec![])
}

fn child(db: &str, n: usize) {
    wxhub::return_large_allocations_to_the_os();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let before = rss_mb();
        let start = Instant::now();
        let app = Application::build(settings(std::path::Path::new(db)), keyring()).await.expect("app");
        // The cache holds what callers asked for: ask for every account once (up to the cache's
        // capacity, `WXHUB_TOKEN_CACHE_CAPACITY`, the least recently used leave).
        let component = app
            .store()
            .component_by_appid(COMPONENT)
            .await
            .expect("store")
            .expect("the component")
            .id;
        for i in 0..n {
            let _ = app
                .engine()
                .authorizer_token(component, &support::appid(i), wxhub::now_ms())
                .await
                .expect("store");
        }
        let loaded = app.engine().cache.len();
        let load_time = start.elapsed();
        let after_load = rss_mb();
        // Let the workers run (claims, cache syncs, the ticket health check) and read again.
        let mut readings = Vec::new();
        let watch: usize = std::env::var("WXHUB_BENCH_WATCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(6);
        for _ in 0..watch {
            tokio::time::sleep(Duration::from_secs(5)).await;
            readings.push(format!("{:.1}", rss_mb()));
        }
        println!(
            "{n} authorizers: {loaded} tokens cached in {:.1} s; RSS {:.1} MB before start, {after_load:.1} MB after loading, then every 5 s: {} MB",
            load_time.as_secs_f64(),
            before,
            readings.join(", ")
        );
        let _ = app.stop().await;
    });
}

fn main() {
    let n: usize = std::env::var("WXHUB_BENCH_AUTHORIZERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    if let Ok(db) = std::env::var("WXHUB_RSS_CHILD_DB") {
        return child(&db, n);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("rss.db");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let t0 = Instant::now();
    rt.block_on(async {
        let store = open_store(&settings(&db), Some(keyring()))
            .await
            .expect("store");
        let admin = Admin {
            store: store.clone(),
            actor: Actor::Cli,
        };
        let tenant = admin.create_tenant("rss", "Memory").await.expect("tenant");
        let component = admin
            .create_component(
                COMPONENT,
                "rsstoken",
                Some("rss"),
                &SecretString::from("0123456789abcdef0123456789abcdef".to_owned()),
                &SecretString::from("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".to_owned()),
            )
            .await
            .expect("component");
        support::seed_accounts(&store, tenant.id, component.id, n).await;
        store.close().await;
    });
    eprintln!(
        "seeded {n} authorizers in {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    let exe = std::env::current_exe().expect("exe");
    let status = Command::new(exe)
        .env("WXHUB_RSS_CHILD_DB", &db)
        .env("WXHUB_BENCH_AUTHORIZERS", n.to_string())
        .status()
        .expect("child");
    assert!(status.success());
}
