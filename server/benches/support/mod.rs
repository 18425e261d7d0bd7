//! What several benchmarks share: settings for a throwaway server, and seeding many authorized
//! accounts with live tokens straight into storage (as if each had authorized through a link).
#![allow(dead_code)]

use std::path::Path;

use secrecy::SecretString;
use wxhub::config::{DatabaseUrl, Overrides, Settings};
use wxhub::domain::{Actor, AuditKind, ComponentId, NewAuditEvent, Outcome, TenantId};
use wxhub::store::{IssuedCredential, NewAuthorization, Store};

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0–1) of sorted samples, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[(((sorted.len() as f64 - 1.0) * p).round() as usize).min(sorted.len() - 1)]
}

/// Settings for a server on a free port of loopback, on SQLite under `dir` or on the PostgreSQL
/// database `postgres_url`, with WeChat pointed at a closed port (token attempts fail fast).
pub fn settings(dir: &Path, postgres_url: Option<&str>) -> Settings {
    let mut settings = Settings::load_from(
        None,
        &Overrides {
            listen: Some("127.0.0.1:0".into()),
            ..Default::default()
        },
        Vec::<(String, String)>::new(),
    )
    .expect("settings");
    settings.database_url = match postgres_url {
        Some(url) => DatabaseUrl::parse(url).expect("postgres url"),
        None => DatabaseUrl::sqlite_file(&dir.join("bench.db")),
    };
    settings.database_url_configured = true;
    settings.data_dir = dir.to_owned();
    settings.wechat_api_base = "http://127.0.0.1:9".parse().expect("url");
    settings
}

/// The appid of the `i`-th seeded account.
pub fn appid(i: usize) -> String {
    format!("wx{i:016}")
}

/// `n` authorized accounts of `tenant` on `component`, each with an access token valid for two
/// hours (the value of account `i` is `token_of(i)`) and a refresh token.
pub async fn seed_accounts(store: &Store, tenant: TenantId, component: ComponentId, n: usize) {
    let now = wxhub::now_ms();
    let refresh = SecretString::from(format!("refreshtoken@@@{}", "R".repeat(45)));
    for i in 0..n {
        let appid = appid(i);
        let access = SecretString::from(token_of(i));
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
                    tenant: Some(tenant),
                    component,
                    appid: &appid,
                    func_ids: &[1, 2, 3, 15],
                    link: None,
                    source: "bench",
                    access: Some(IssuedCredential {
                        value: &access,
                        issued_at: now,
                        expires_at: now + 7_200_000,
                        refresh_at: now + 6_000_000,
                    }),
                    refresh: Some(&refresh),
                    event_at: now,
                },
                &audit,
                // Every row is written "now" (a millisecond apart, for a stable order): the token
                // cache follows rows changed since its cursor, and would never see a row dated
                // in the past.
                now + i as i64,
            )
            .await
            .expect("seed");
    }
}

/// The access token seeded for account `i` (WeChat's are about 110 characters).
pub fn token_of(i: usize) -> String {
    format!("{:0>110}", format!("TOKEN{i}"))
}
