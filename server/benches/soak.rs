//! The soak at full size (issue 16): N release `server serve` processes on one PostgreSQL, the
//! simulator with faults, M accounts, load on the tenant API, the notify URL and the message URL,
//! a SIGKILL every K seconds. See `support/soak.rs` for what is checked and how.
//!
//! ```text
//! WXHUB_BENCH_POSTGRES_URL=$(.ci/postgres) cargo bench -p server --bench soak
//! # sizes (defaults = the full run):
//! WXHUB_SOAK_INSTANCES=3 WXHUB_SOAK_ACCOUNTS=1000000 WXHUB_SOAK_MINUTES=30 WXHUB_SOAK_KILL_EVERY=60
//! WXHUB_SOAK_LIFETIME=2400   # seconds: 1,000,000 / (0.8 × 2,400) ≈ 520 refreshes/s
//! WXHUB_SOAK_API_RATE=300 WXHUB_SOAK_MESSAGE_RATE=50 WXHUB_SOAK_FAULTS=1
//! ```
//!
//! `WXHUB_BENCH_POSTGRES_URL` names a server (its database is only used to create a fresh one
//! named `wxhub_soak_<random>`, dropped at the end unless the run failed). Exits non-zero when a
//! promise broke.

#[path = "support/soak.rs"]
mod soak;
mod support;

use std::time::Duration;

use soak::{run, SoakConfig};
use sqlx::Connection;
use support::env_usize;

fn main() {
    let Ok(admin_url) = std::env::var("WXHUB_BENCH_POSTGRES_URL") else {
        eprintln!("the soak needs PostgreSQL: WXHUB_BENCH_POSTGRES_URL=$(.ci/postgres) cargo bench -p server --bench soak");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let name = format!("wxhub_soak_{:08x}", rand::random::<u32>());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to WXHUB_BENCH_POSTGRES_URL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create the soak database");
        let mut url = url::Url::parse(&admin_url).expect("a URL");
        url.set_path(&format!("/{name}"));
        let logs = std::env::temp_dir().join(&name);
        let minutes = env_usize("WXHUB_SOAK_MINUTES", 30) as u64;
        let config = SoakConfig {
            database_url: url.to_string(),
            instances: env_usize("WXHUB_SOAK_INSTANCES", 3),
            accounts: env_usize("WXHUB_SOAK_ACCOUNTS", 1_000_000),
            components: env_usize("WXHUB_SOAK_COMPONENTS", 50),
            tenants: env_usize("WXHUB_SOAK_TENANTS", 20),
            duration: Duration::from_secs(minutes * 60),
            kill_every: Some(Duration::from_secs(env_usize("WXHUB_SOAK_KILL_EVERY", 60) as u64)),
            restart_after: Duration::from_secs(5),
            lifetime_s: env_usize("WXHUB_SOAK_LIFETIME", 2_400) as i64,
            faults: env_usize("WXHUB_SOAK_FAULTS", 1) == 1,
            api_rate: env_usize("WXHUB_SOAK_API_RATE", 300) as u64,
            message_rate: env_usize("WXHUB_SOAK_MESSAGE_RATE", 50) as u64,
            ticket_rate: 2,
            final_sweep: env_usize("WXHUB_SOAK_SWEEP", 20_000),
            seed_concurrency: 32,
            database_max_connections: env_usize("WXHUB_SOAK_DB_CONNECTIONS", 10) as u32,
            log_dir: logs.clone(),
            progress_every: Duration::from_secs(60),
        };
        eprintln!(
            "soak: {} instances, {} accounts, {} components, {} tenants, {:?}, a kill every {:?}, tokens living {} s, faults {}",
            config.instances,
            config.accounts,
            config.components,
            config.tenants,
            config.duration,
            config.kill_every,
            config.lifetime_s,
            config.faults
        );
        let report = run(config).await;
        println!("{report}");
        let failures = report.failures();
        if failures.is_empty() {
            let _ = std::fs::remove_dir_all(&logs);
            let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        } else {
            eprintln!(
                "the soak broke its promises (database {name}, logs in {}):\n{}",
                logs.display(),
                failures.join("\n")
            );
            std::process::exit(1);
        }
    });
}
