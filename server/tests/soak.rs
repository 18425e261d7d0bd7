//! The soak's short version (issue 16), run by `.ci/run` after the other tests: two real
//! `server serve` processes on PostgreSQL, 20,000 accounts whose tokens live 240 s (about 100
//! refreshes a second across the cluster), faults on, steady load on the tenant API, the notify
//! URL and the message URL, one SIGKILL. It fails on any double refresh, expired token served,
//! lost refresh token or lost message. The full run is `cargo bench -p server --bench soak`.
//!
//! Ignored by the ordinary run (it takes minutes and wants both cores):
//! `cargo nextest run -p server --test soak --run-ignored only`. Sizes can be changed with
//! `WXHUB_SOAK_ACCOUNTS`, `WXHUB_SOAK_SECONDS`, `WXHUB_SOAK_LIFETIME`.

mod common;

#[path = "../benches/support/soak.rs"]
mod soak;

use std::time::Duration;

use common::{Backend, TestDb};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long: .ci/run runs it on its own"]
async fn two_instances_under_faults_and_a_kill_lose_nothing() {
    let db = TestDb::new(Backend::Postgres)
        .await
        .expect("the soak needs PostgreSQL: set WXHUB_TEST_POSTGRES_URL");
    let logs = tempfile::tempdir().expect("log dir");
    let seconds = env_or("WXHUB_SOAK_SECONDS", 150);
    let config = soak::SoakConfig {
        database_url: db.url.expose().to_owned(),
        instances: 2,
        accounts: env_or("WXHUB_SOAK_ACCOUNTS", 20_000) as usize,
        components: 50,
        tenants: 20,
        duration: Duration::from_secs(seconds),
        kill_every: Some(Duration::from_secs(seconds * 3 / 5)),
        restart_after: Duration::from_secs(5),
        lifetime_s: env_or("WXHUB_SOAK_LIFETIME", 240) as i64,
        faults: env_or("WXHUB_SOAK_FAULTS", 1) == 1,
        api_rate: 100,
        message_rate: 20,
        ticket_rate: 2,
        final_sweep: 2_000,
        seed_concurrency: 16,
        database_max_connections: 10,
        log_dir: logs.path().to_owned(),
        progress_every: Duration::from_secs(15),
    };
    let report = soak::run(config).await;
    eprintln!("{report}");
    let failures = report.failures();
    if !failures.is_empty() {
        // Keep the instances' logs for whoever looks at the failure.
        let kept = logs.keep();
        panic!(
            "the soak broke its promises (logs in {}):\n{}",
            kept.display(),
            failures.join("\n")
        );
    }
    assert_eq!(report.kills, 1, "one instance was killed");
    assert_eq!(
        report.takeover_unfinished, 0,
        "the killed instance's leases were taken over"
    );
}
