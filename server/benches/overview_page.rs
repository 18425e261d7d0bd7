//! The platform overview (issue 17) at scale: 1,000,000 accounts across 200 tenants and 30 days
//! of hourly counts for every series and tenant, read by a signed-in platform admin from a client
//! on loopback, one request at a time. Measures the overview's data (`/ui/platform-overview`,
//! 24 h and 30 d), the whole server-rendered page (`GET /`), the first view (which pays the
//! grouped count over every account) and one evaluation of the alert rules (every 30 s).
//!
//! ```text
//! WXHUB_BENCH_POSTGRES_URL=$(.ci/postgres) cargo bench -p server --bench overview_page
//! cargo bench -p server --bench overview_page          # SQLite
//! #   WXHUB_BENCH_ACCOUNTS=1000000 WXHUB_BENCH_TENANTS=200 WXHUB_BENCH_REQUESTS=300
//! ```
//!
//! Accounts and counts are written with one set-based INSERT each (not through the engine), so the
//! seeding takes seconds; what is measured reads exactly what production reads.

mod support;

use std::time::Instant;

use secrecy::SecretString;
use support::{env_usize, percentile};
use wxhub::admin::Admin;
use wxhub::auth::PasswordHasher;
use wxhub::domain::Actor;
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::startup::Application;

const COMPONENT: &str = "wx0be4c40000000017";
const PASSWORD: &str = "correct horse battery";
const HOUR_MS: i64 = 3_600_000;

/// The seeding SQL: accounts spread over the tenants (1 in 200 unassigned, 2 % revoked, 0.5 %
/// needing re-authorization), and 30 days of counts for the platform row and every tenant.
fn seed_sql(
    postgres: bool,
    accounts: usize,
    tenants: usize,
    component: i64,
    now: i64,
) -> Vec<String> {
    let first_hour = (now / HOUR_MS - 30 * 24) * HOUR_MS;
    let series = "('refreshes', ''), ('refresh_failures', '-1'), ('refresh_failures', '40001'), ('refresh_failures', '61023'), \
                  ('authorizations', ''), ('revocations', ''), ('messages', ''), ('deliveries', 'delivered'), \
                  ('deliveries', 'retry'), ('deliveries', 'dead'), ('api_calls', '')";
    let (numbers, hex) = if postgres {
        (
            format!("SELECT g AS n FROM generate_series(0, {}) g", accounts - 1),
            "'wx' || lpad(to_hex(n), 16, '0')",
        )
    } else {
        (
            format!("WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {}) SELECT n FROM g", accounts - 1),
            "printf('wx%016x', n)",
        )
    };
    let hours = if postgres {
        "SELECT h FROM generate_series(0, 719) h".to_owned()
    } else {
        "WITH RECURSIVE hs(h) AS (SELECT 0 UNION ALL SELECT h + 1 FROM hs WHERE h < 719) SELECT h FROM hs".to_owned()
    };
    let rows = if postgres {
        format!("SELECT t FROM generate_series(0, {tenants}) t")
    } else {
        format!("WITH RECURSIVE ts(t) AS (SELECT 0 UNION ALL SELECT t + 1 FROM ts WHERE t < {tenants}) SELECT t FROM ts")
    };
    vec![
        format!(
            "INSERT INTO authorizers (tenant_id, component_id, appid, account_kind, status, authorized_at, created_at, updated_at) \
             SELECT CASE WHEN n % 200 = 7 THEN NULL ELSE 1 + n % {tenants} END, {component}, {hex}, \
                    CASE WHEN n % 3 = 0 THEN 'mini_program' ELSE 'official_account' END, \
                    CASE WHEN n % 50 = 1 THEN 'revoked' WHEN n % 200 = 3 THEN 'needs_reauth' ELSE 'authorized' END, \
                    {now} - n, {now} - n, {now} - n \
             FROM ({numbers}) numbers"
        ),
        format!(
            "INSERT INTO hourly_counts (metric, detail, tenant_id, hour_start, count) \
             WITH s(metric, detail) AS (VALUES {series}) \
             SELECT s.metric, s.detail, r.t, {first_hour} + CAST(h.h AS BIGINT) * {HOUR_MS}, 1 + (h.h * 7 + r.t) % 50 \
             FROM s, ({hours}) h, ({rows}) r"
        ),
    ]
}

async fn time<F, Fut>(label: &str, n: usize, mut request: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    for _ in 0..10 {
        request().await;
    }
    let mut samples = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let started = Instant::now();
        bytes = request().await;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "{label:<44} p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms   ({bytes} bytes)",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

fn main() {
    let accounts = env_usize("WXHUB_BENCH_ACCOUNTS", 1_000_000).max(1);
    let tenants = env_usize("WXHUB_BENCH_TENANTS", 200).max(1);
    let requests = env_usize("WXHUB_BENCH_REQUESTS", 300).max(1);
    let postgres = std::env::var("WXHUB_BENCH_POSTGRES_URL").ok();
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = support::settings(dir.path(), postgres.as_deref());
    let database = settings.database_url.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let app = Application::build(settings, Keyring::new(MasterKey::from_bytes(&[7; 32]), vec![]))
            .await
            .expect("app");
        let store = app.store().clone();
        let admin = Admin { store: store.clone(), actor: Actor::Cli };
        for t in 0..tenants {
            admin.create_tenant(&format!("t{t:04}"), &format!("Tenant {t}")).await.expect("tenant");
        }
        admin
            .create_user(&PasswordHasher::new(2), "boss@bench.test", "platform-admin", None, &SecretString::from(PASSWORD))
            .await
            .expect("user");
        let component = admin
            .create_component(
                COMPONENT,
                "benchtoken",
                None,
                &SecretString::from("0123456789abcdef0123456789abcdef".to_owned()),
                &SecretString::from("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".to_owned()),
            )
            .await
            .expect("component");
        let seeded = Instant::now();
        let now = wxhub::now_ms();
        for sql in seed_sql(postgres.is_some(), accounts, tenants, component.id.0, now) {
            match &postgres {
                Some(url) => {
                    let pool = sqlx::PgPool::connect(url).await.expect("postgres");
                    sqlx::query(&sql).execute(&pool).await.expect("seed");
                    sqlx::query("ANALYZE").execute(&pool).await.expect("analyze");
                    pool.close().await;
                }
                None => {
                    let pool = sqlx::SqlitePool::connect(database.expose()).await.expect("sqlite");
                    sqlx::query(&sql).execute(&pool).await.expect("seed");
                    sqlx::query("ANALYZE").execute(&pool).await.expect("analyze");
                    pool.close().await;
                }
            }
        }
        println!(
            "{} · {accounts} accounts, {tenants} tenants, 30 days of hourly counts · seeded in {:.1} s",
            if postgres.is_some() { "PostgreSQL" } else { "SQLite" },
            seeded.elapsed().as_secs_f64()
        );
        let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
        let base = format!("http://{}", app.local_addr());
        let login = client
            .post(format!("{base}/ui/login"))
            .form(&[("email", "boss@bench.test"), ("password", PASSWORD)])
            .send()
            .await
            .expect("login");
        assert!(login.status().is_success(), "sign-in failed: {}", login.status());
        let overview = |range: &'static str| {
            let (client, url) = (client.clone(), format!("{base}/ui/platform-overview"));
            move || {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    let res = client.post(&url).form(&[("range", range)]).send().await.expect("overview");
                    assert!(res.status().is_success(), "overview: {}", res.status());
                    res.bytes().await.expect("body").len()
                }
            }
        };
        // The rules' view of this state (every tenant's refresh failures above the rate, one
        // tenant's accounts needing re-authorization) is part of what the overview shows.
        app.engine().alerting.evaluate(wxhub::now_ms()).await.expect("evaluate");
        let firing = store.alert_states(wxhub::store::PLATFORM_AUDIENCE).await.expect("states").len();
        println!("{:<44} {firing}", "alert conditions firing for the platform");
        let first = Instant::now();
        overview("24h")().await;
        println!("{:<44} {:>7.1} ms  (the grouped count over every account)", "first view after start", first.elapsed().as_secs_f64() * 1000.0);
        time("overview data, 24 h (/ui/platform-overview)", requests, overview("24h")).await;
        time("overview data, 30 d", requests, overview("30d")).await;
        let page = {
            let (client, url) = (client.clone(), format!("{base}/"));
            move || {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    let res = client.get(&url).send().await.expect("page");
                    assert!(res.status().is_success(), "page: {}", res.status());
                    res.bytes().await.expect("body").len()
                }
            }
        };
        time("whole page, server-rendered (GET /)", requests, page).await;
        // The counts' refresh runs behind a viewer's back; its cost is the grouped read.
        let mut reads = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            store.account_status_by_tenant().await.expect("counts");
            reads.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        reads.sort_by(f64::total_cmp);
        println!("{:<44} p50 {:>7.1} ms   (every 30 s, in the background)", "accounts by status, grouped read", percentile(&reads, 0.5));
        let mut evaluations = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            app.engine().alerting.evaluate(wxhub::now_ms()).await.expect("evaluate");
            evaluations.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        evaluations.sort_by(f64::total_cmp);
        println!("{:<44} p50 {:>7.1} ms   max {:>7.1} ms   (every 30 s per instance)", "alert rules, one evaluation", percentile(&evaluations, 0.5), evaluations[evaluations.len() - 1]);
        app.stop().await.expect("stop");
    });
}
