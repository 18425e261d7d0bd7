//! Throughput and latency of the tenant API's access-token endpoint, the call tenants make on
//! every request of their own: 64 keep-alive connections from `wrk` (the load generator runs on
//! the same 2 cores as the server), spread over the seeded accounts, every answer a token.
//!
//! Two runs: as fast as `wrk` can go (throughput, and latency at saturation), then, with `oha`, a
//! fixed 20,000 requests/s with latency corrected for coordinated omission (latency at the target
//! rate, which is what the target is about).
//!
//! ```text
//! apt-get install wrk; cargo install oha --locked
//! cargo bench -p server --bench api_tokens
//! WXHUB_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/wxhub_bench cargo bench -p server --bench api_tokens
//! # knobs: WXHUB_BENCH_AUTHORIZERS=1000 WXHUB_BENCH_SECONDS=20 WXHUB_BENCH_CONNECTIONS=64
//! #        WXHUB_BENCH_WRK_THREADS=2 WXHUB_BENCH_RATE=20000 (0: skip the fixed-rate run)
//! ```

mod support;

use std::io::Write as _;
use std::process::Command;

use secrecy::ExposeSecret;
use wxhub::admin::Admin;
use wxhub::domain::Actor;
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::startup::Application;

const COMPONENT: &str = "wx0be4c40000000005";

fn main() {
    let n = support::env_usize("WXHUB_BENCH_AUTHORIZERS", 1_000);
    let seconds = support::env_usize("WXHUB_BENCH_SECONDS", 20);
    let connections = support::env_usize("WXHUB_BENCH_CONNECTIONS", 64);
    let pg = std::env::var("WXHUB_BENCH_POSTGRES_URL").ok();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = support::settings(dir.path(), pg.as_deref());
    // The benchmark is one key hammering the endpoint; a real key's budget is much smaller.
    settings.api_rate_per_second = 1_000_000;
    settings.api_rate_burst = 1_000_000;
    settings.log = "warn".into();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (app, key) = rt.block_on(async {
        let app = Application::build(
            settings,
            Keyring::new(MasterKey::from_bytes(&[8; 32]), vec![]),
        )
        .await
        .expect("app");
        let store = app.store().clone();
        let admin = Admin {
            store: store.clone(),
            actor: Actor::Cli,
        };
        let tenant = admin
            .create_tenant("bench", "Bench")
            .await
            .expect("tenant (use an empty database)");
        let component = admin
            .create_component(
                COMPONENT,
                "benchtoken",
                Some("bench"),
                &secrecy::SecretString::from("0123456789abcdef0123456789abcdef".to_owned()),
                &secrecy::SecretString::from(
                    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".to_owned(),
                ),
            )
            .await
            .expect("component");
        support::seed_accounts(&store, tenant.id, component.id, n).await;
        let (_, minted) = admin.create_api_key("bench", "load").await.expect("key");
        // The cache holds what callers ask for: ask for every account once, as a warm instance
        // would have, so the load measures the cached path.
        for i in 0..n {
            let token = app
                .engine()
                .authorizer_token(component.id, &support::appid(i), wxhub::now_ms())
                .await
                .expect("store");
            assert!(token.is_some(), "account {i} has a token");
        }
        (app, minted.key.expose_secret().to_owned())
    });
    let base = format!("http://{}", app.local_addr());
    // Check one answer by hand before loading.
    let check = rt.block_on(async {
        reqwest::Client::new()
            .get(format!(
                "{base}/api/v1/authorizers/{}/access-token",
                support::appid(7)
            ))
            .bearer_auth(&key)
            .send()
            .await
            .expect("request")
            .json::<serde_json::Value>()
            .await
            .expect("json")
    });
    assert_eq!(check["access_token"], support::token_of(7), "{check}");

    let script = dir.path().join("tokens.lua");
    let mut f = std::fs::File::create(&script).expect("script");
    write!(
        f,
        r#"
local n = {n}
local i = 0
wrk.headers["Authorization"] = "Bearer {key}"
request = function()
  i = (i + 1) % n
  return wrk.format("GET", string.format("/api/v1/authorizers/wx%016d/access-token", i))
end
local bad = 0
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("non-200: %d\n", summary.errors.status))
end
"#
    )
    .expect("write script");
    drop(f);
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    println!(
        "{backend}, {n} accounts, {connections} connections, {seconds} s, wrk -t{}:",
        support::env_usize("WXHUB_BENCH_WRK_THREADS", 2)
    );
    let out = Command::new("wrk")
        .args([
            &format!("-t{}", support::env_usize("WXHUB_BENCH_WRK_THREADS", 2)),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(format!("{base}/"))
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    // The key must not reach the log of a benchmark run either.
    println!("{}", text.replace(&key, "<key>"));
    assert!(text.contains("non-200: 0"), "every answer was a token");

    let rate = support::env_usize("WXHUB_BENCH_RATE", 20_000);
    if rate > 0 && n >= 1000 {
        // Appids wx + 16 digits; the regex draws from the first 1,000 seeded accounts.
        let urls = format!("{base}/api/v1/authorizers/wx0000000000000[0-9]{{3}}/access-token");
        println!("{backend}, fixed {rate} requests/s, {connections} connections, {seconds} s, oha (latency corrected):");
        let out = Command::new("oha")
            .args(["--no-tui", "--latency-correction"])
            .args([
                "-z",
                &format!("{seconds}s"),
                "-c",
                &connections.to_string(),
                "-q",
                &rate.to_string(),
            ])
            .args([
                "-H",
                &format!("Authorization: Bearer {key}"),
                "--rand-regex-url",
                &urls,
            ])
            .output();
        match out {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stdout).replace(&key, "<key>");
                // The summary, the percentiles and the count per status (not the histogram).
                let keep = |l: &&str| {
                    l.trim_start().starts_with('[')
                        || [
                            "Success rate",
                            "Requests/sec",
                            "Slowest",
                            "Average",
                            "50.00%",
                            "90.00%",
                            "99.00%",
                            "99.90%",
                        ]
                        .iter()
                        .any(|k| l.contains(k))
                };
                println!(
                    "{}",
                    text.lines().filter(keep).collect::<Vec<_>>().join("\n")
                );
            }
            Err(e) => println!("oha not run ({e}); cargo install oha --locked"),
        }
    }
    rt.block_on(async {
        let _ = app.stop().await;
    });
}
