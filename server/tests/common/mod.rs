//! Shared test harness: fresh databases of both kinds, a store on them, and the real application
//! on port 0 (`spawn_app`). PostgreSQL tests run when `WXHUB_TEST_POSTGRES_URL` points at a server
//! that lets us create databases; `.ci/run` sets it and `WXHUB_REQUIRE_POSTGRES=1`, which turns a
//! missing server into a failure instead of a skip.
#![allow(dead_code)]

pub mod process;
pub mod rig;

use std::time::{Duration, Instant};

use sqlx::Connection as _;
use wxhub::config::{DatabaseUrl, Overrides, Settings};
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::startup::{open_store, Application};
use wxhub::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test. SQLite files live in a temp dir; PostgreSQL databases are
/// dropped by `cleanup` (a test that panics leaves one behind on a throwaway CI server).
pub struct TestDb {
    pub backend: Backend,
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    pg_admin_url: Option<String>,
    pg_name: Option<String>,
}

pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("WXHUB_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("WXHUB_REQUIRE_POSTGRES").ok().as_deref() != Some("1"),
                "WXHUB_REQUIRE_POSTGRES=1 but WXHUB_TEST_POSTGRES_URL is not set"
            );
            None
        }
    }
}

impl TestDb {
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = DatabaseUrl::sqlite_file(&dir.path().join("test.db"));
                Some(TestDb {
                    backend,
                    url,
                    _dir: Some(dir),
                    pg_admin_url: None,
                    pg_name: None,
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url()?;
                let name = format!("wxhub_t_{}", random_suffix());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to WXHUB_TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                let mut url = url::Url::parse(&admin).expect("WXHUB_TEST_POSTGRES_URL is a URL");
                url.set_path(&format!("/{name}"));
                let url = DatabaseUrl::parse(url.as_str()).expect("valid url");
                Some(TestDb {
                    backend,
                    url,
                    _dir: None,
                    pg_admin_url: Some(admin),
                    pg_name: Some(name),
                })
            }
        }
    }

    pub fn settings(&self) -> Settings {
        let mut s = Settings::load_from(
            None,
            &Overrides {
                listen: Some("127.0.0.1:0".into()),
                ..Default::default()
            },
            Vec::<(String, String)>::new(),
        )
        .expect("default settings");
        s.database_url = self.url.clone();
        s.database_url_configured = true;
        s.shutdown_grace_seconds = 5;
        // Many servers run at once in the tests: the private metrics listener takes any port.
        s.metrics_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        if let Some(dir) = &self._dir {
            s.data_dir = dir.path().to_owned();
        }
        s
    }

    pub async fn cleanup(self) {
        if let (Some(admin), Some(name)) = (self.pg_admin_url, self.pg_name) {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
}

pub fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| char::from(b'a' + rng.gen_range(0..26)))
        .collect()
}

pub fn keyring(seed: u8) -> Keyring {
    Keyring::new(MasterKey::from_bytes(&[seed; 32]), vec![])
}

/// A migrated store with keyring 1.
pub async fn store(db: &TestDb) -> Store {
    open_store(&db.settings(), Some(keyring(1)))
        .await
        .expect("open store")
}

/// Runs `test` once per available backend.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident => $body:expr;)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = $crate::common::TestDb::new($crate::common::Backend::Sqlite).await.expect("sqlite");
                    ($body)(&db).await;
                    db.cleanup().await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(db) = $crate::common::TestDb::new($crate::common::Backend::Postgres).await else {
                        eprintln!("skipped: WXHUB_TEST_POSTGRES_URL is not set");
                        return;
                    };
                    ($body)(&db).await;
                    db.cleanup().await;
                }
            }
        )*
    };
}

/// The real application on port 0 and an HTTP client with a cookie jar.
pub struct TestApp {
    pub app: Option<Application>,
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
}

pub async fn spawn_app(db: &TestDb) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

pub async fn spawn_app_with(db: &TestDb, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    // Logs go to the test's captured output, shown when a test fails.
    wxhub::telemetry::init(wxhub::config::LogFormat::Human, "warn,wxhub=info");
    let mut settings = db.settings();
    tweak(&mut settings);
    let app = Application::build(settings, keyring(1))
        .await
        .expect("application starts");
    let base = format!("http://{}", app.local_addr());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let store = app.store().clone();
    TestApp {
        app: Some(app),
        base,
        client,
        store,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("clean stop");
        }
    }
}

/// Polls `check` until it returns true or `deadline` passes.
pub async fn wait_for<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check().await
}

/// Runs a query returning one text column straight against the database, bypassing the store.
pub async fn raw_strings(db: &TestDb, sql: &str) -> Vec<String> {
    match db.backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(db.url.expose())
                .await
                .expect("raw sqlite");
            let rows = sqlx::query_scalar(sql)
                .fetch_all(&pool)
                .await
                .expect("raw query");
            pool.close().await;
            rows
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db.url.expose())
                .await
                .expect("raw postgres");
            let rows = sqlx::query_scalar(sql)
                .fetch_all(&pool)
                .await
                .expect("raw query");
            pool.close().await;
            rows
        }
    }
}

/// Counts rows straight from the database.
pub async fn raw_count(db: &TestDb, table: &str) -> i64 {
    let rows = raw_strings(db, &format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}")).await;
    rows[0].parse().expect("a count")
}

/// The number of the newest migration: the schema version a fresh database reaches.
#[allow(dead_code)]
pub fn newest_migration() -> i64 {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite"))
        .expect("the migrations directory")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .split('_')
                .next()?
                .parse::<i64>()
                .ok()
        })
        .max()
        .expect("at least one migration")
}
