//! Server render time of the console's accounts page for a tenant with many accounts: the whole
//! HTML a browser gets for `GET /accounts` (session check, the filtered and paginated query, and the
//! Leptos render of 50 rows), measured from a client on loopback, one request at a time.
//!
//! ```text
//! cargo bench -p server --bench accounts_page    # WXHUB_BENCH_AUTHORIZERS=10000 WXHUB_BENCH_REQUESTS=300
//! ```

mod support;

use std::time::{Duration, Instant};

use secrecy::SecretString;
use wxhub::admin::Admin;
use wxhub::auth::PasswordHasher;
use wxhub::domain::Actor;
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::startup::Application;

const COMPONENT: &str = "wx0be4c40000000004";
const PASSWORD: &str = "correct horse battery";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    wxhub::return_large_allocations_to_the_os();
    let n = support::env_usize("WXHUB_BENCH_AUTHORIZERS", 10_000);
    let requests = support::env_usize("WXHUB_BENCH_REQUESTS", 300);
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = support::settings(dir.path(), None);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let app = Application::build(settings, Keyring::new(MasterKey::from_bytes(&[6; 32]), vec![]))
            .await
            .expect("app");
        let store = app.store().clone();
        let admin = Admin { store: store.clone(), actor: Actor::Cli };
        let tenant = admin.create_tenant("bench", "Bench").await.expect("tenant");
        admin
            .create_user(&PasswordHasher::new(2), "op@bench.test", "tenant-admin", Some("bench"), &SecretString::from(PASSWORD))
            .await
            .expect("user");
        let component = admin
            .create_component(
                COMPONENT,
                "benchtoken",
                Some("bench"),
                &SecretString::from("0123456789abcdef0123456789abcdef".to_owned()),
                &SecretString::from("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".to_owned()),
            )
            .await
            .expect("component");
        let seeded = Instant::now();
        support::seed_accounts(&store, tenant.id, component.id, n).await;
        eprintln!("seeded {n} accounts in {:.1} s", seeded.elapsed().as_secs_f64());
        let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
        let base = format!("http://{}", app.local_addr());
        let login = client
            .post(format!("{base}/ui/login"))
            .form(&[("email", "op@bench.test"), ("password", PASSWORD)])
            .send()
            .await
            .expect("login");
        assert!(login.status().is_success(), "sign-in failed: {}", login.status());
        for (label, path) in [
            ("first page", "/accounts"),
            ("page 150 (rows 7,451–7,500)", "/accounts?page=150"),
            ("search \"00000000000012\" + permission 15", "/accounts?q=00000000000012&permission=15"),
        ] {
            let url = format!("{base}{path}");
            // Warm up: connections, SQLite's page cache.
            for _ in 0..10 {
                client.get(&url).send().await.expect("get").bytes().await.expect("body");
            }
            let mut times = Vec::with_capacity(requests);
            let mut bytes = 0;
            for _ in 0..requests {
                let t = Instant::now();
                let res = client.get(&url).send().await.expect("get");
                assert_eq!(res.status(), 200);
                let body = res.bytes().await.expect("body");
                times.push(t.elapsed());
                bytes = body.len();
                assert!(body.windows(9).any(|w| w == b"data-appi"), "the rows are in the HTML");
            }
            times.sort();
            println!(
                "{n} accounts, {label}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms ({requests} requests, {} KB of HTML)",
                percentile(&times, 0.5),
                percentile(&times, 0.9),
                percentile(&times, 0.99),
                bytes / 1024
            );
        }
        let _ = app.stop().await;
    });
}
