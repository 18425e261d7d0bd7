//! Load on the message URL with every message delivered to a webhook endpoint: ack latency at a
//! fixed message rate, the delivery lag from WeChat's POST to the sink's receipt, and the highest
//! rate sustained with every delivery made.
//!
//! ```text
//! cargo bench -p server --bench message_load                 # SQLite in a temp dir
//! WXHUB_BENCH_POSTGRES_URL=postgres://… cargo bench -p server --bench message_load
//! WXHUB_BENCH_RATE=500 WXHUB_BENCH_SECONDS=30 WXHUB_BENCH_CONCURRENCY=64 (defaults)
//! WXHUB_BENCH_PER_ENDPOINT=16 (the endpoint's in-flight bound; 16 is the default setting)
//! WXHUB_BENCH_SUSTAIN_RATE=2000 WXHUB_BENCH_SUSTAIN_SECONDS=20 (the last phase)
//! ```
//!
//! The server runs in this process on its own 2-thread runtime (as `server serve` would); the load
//! generator and the webhook sink share a third thread, so the sink is a separate program as far
//! as the server can tell (it reaches it over TCP on loopback). Every message is a distinct,
//! correctly signed and encrypted text message to an authorized account: each is verified,
//! decrypted, parsed, de-duplicated and stored with its delivery row in one transaction before
//! `success`, then claimed, signed, POSTed and recorded by the outbox worker. The fixed-rate phase
//! is open loop (latency from each message's scheduled send time); the capacity phase closed loop,
//! and it ends only when the sink has every message. The last phase is open loop again at the
//! sustained target (2,000/s): delivery must keep up as messages come, not only catch up after.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::percentile;

use secrecy::SecretString;
use wxhub::admin::Admin;
use wxhub::domain::{Actor, AuditKind, NewAuditEvent, Outcome};
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::simulator::sink::{RunningSink, Sink};
use wxhub::startup::{open_store, Application};
use wxhub::store::NewAuthorization;
use wxhub::wechat::crypto::MsgCrypt;
use wxhub::wechat::xml::build_envelope;

const COMPONENT: &str = "wx0be4c40000000002";
const ACCOUNT: &str = "wx0be4c400000000a1";
const TOKEN: &str = "benchtoken";
const AES: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

struct Message {
    url: String,
    body: String,
}

/// Distinct signed messages with MsgIds `first..first + n`, prepared up front.
fn messages(base: &str, first: u64, n: u64) -> Vec<Message> {
    let crypto = MsgCrypt::new(TOKEN, AES, COMPONENT).expect("static key");
    let now_s = wxhub::now_ms() / 1000;
    (first..first + n)
        .map(|id| {
            let xml = format!(
                "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[o_bench_user]]></FromUserName>\
                 <CreateTime>{now_s}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好 {id}]]></Content><MsgId>{id}</MsgId></xml>"
            );
            let nonce = format!("{id}");
            let sealed = crypto.encrypt(&xml, "1700000000", &nonce);
            Message {
                url: format!(
                    "{base}/wechat/{COMPONENT}/message/{ACCOUNT}?signature=x&timestamp=1700000000&nonce={nonce}&openid=o_bench_user&encrypt_type=aes&msg_signature={}",
                    sealed.msg_signature
                ),
                body: build_envelope(COMPONENT, &sealed.encrypt),
            }
        })
        .collect()
}

async fn send(client: &reqwest::Client, m: &Message) -> bool {
    match client.post(&m.url).body(m.body.clone()).send().await {
        Ok(r) => r.status().is_success(),
        Err(_) => false,
    }
}

/// When the sink received each message, by MsgId (Unix ms).
fn receipts(sink: &RunningSink) -> HashMap<u64, i64> {
    sink.sink
        .received(Some("bench"))
        .iter()
        .filter_map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
            let id = v["data"]["msg_id"].as_str()?.parse().ok()?;
            Some((id, r.received_at_ms))
        })
        .collect()
}

/// Waits until the sink has taken `count` deliveries in all (or `limit` passes); then checks that
/// every MsgId in `first..first + n` is among them (counting is cheap, reading every body is not).
async fn all_received(sink: &RunningSink, count: u64, first: u64, n: u64, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit && sink.sink.total() < count {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let got = receipts(sink);
    (first..first + n).all(|id| got.contains_key(&id))
}

/// Sends `msgs` (MsgIds `first..`) open loop at `rate`, then waits for their deliveries (the sink
/// had `before` already) and prints ack latency (from each message's scheduled send time) and
/// delivery lag (from the POST to the sink's receipt).
#[allow(clippy::too_many_arguments)]
async fn open_loop(
    client: &reqwest::Client,
    sink: &RunningSink,
    msgs: &Arc<Vec<Message>>,
    first: u64,
    rate: u64,
    before: u64,
    backend: &str,
    label: &str,
) {
    let total = msgs.len() as u64;
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut handles = Vec::with_capacity(total as usize);
    let mut sent_at = HashMap::with_capacity(total as usize);
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        sent_at.insert(first + i, wxhub::now_ms());
        let client = client.clone();
        let msgs = msgs.clone();
        handles.push(tokio::spawn(async move {
            let ok = send(&client, &msgs[i as usize]).await;
            (ok, due.elapsed())
        }));
    }
    let mut acks = Vec::with_capacity(total as usize);
    let mut failures = 0;
    for h in handles {
        let (ok, latency) = h.await.expect("task");
        if !ok {
            failures += 1;
        }
        acks.push(latency.as_secs_f64() * 1e3);
    }
    let wall = start.elapsed();
    let delivered =
        all_received(sink, before + total, first, total, Duration::from_secs(120)).await;
    let got = receipts(sink);
    let mut lags: Vec<f64> = sent_at
        .iter()
        .filter_map(|(id, at)| got.get(id).map(|r| (r - at) as f64))
        .collect();
    acks.sort_by(f64::total_cmp);
    lags.sort_by(f64::total_cmp);
    println!(
        "[{backend}] {label} {rate}/s: {total} messages in {:.1}s = {:.0}/s, {failures} failed; ack p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        percentile(&acks, 0.50),
        percentile(&acks, 0.90),
        percentile(&acks, 0.99),
        acks.last().copied().unwrap_or_default(),
    );
    println!(
        "[{backend}] {label} {rate}/s: delivery lag (POST sent → sink received), {} of {total} delivered{}: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lags.len(),
        if delivered { "" } else { " (NOT ALL)" },
        percentile(&lags, 0.50),
        percentile(&lags, 0.90),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or_default(),
    );
}

fn env_u64(name: &str, default: u64) -> u64 {
    support::env_usize(name, default as usize) as u64
}

fn main() {
    let rate = env_u64("WXHUB_BENCH_RATE", 500);
    let seconds = env_u64("WXHUB_BENCH_SECONDS", 30);
    let concurrency = env_u64("WXHUB_BENCH_CONCURRENCY", 64) as usize;
    let per_endpoint = env_u64("WXHUB_BENCH_PER_ENDPOINT", 16) as usize;
    let sustain_rate = env_u64("WXHUB_BENCH_SUSTAIN_RATE", 2_000);
    let sustain_seconds = env_u64("WXHUB_BENCH_SUSTAIN_SECONDS", 20);
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = std::env::var("WXHUB_BENCH_POSTGRES_URL").ok();

    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("load runtime");
    let sink = load_rt
        .block_on(Sink::start_keeping(
            "127.0.0.1:0".parse().expect("addr"),
            1_000_000,
        ))
        .expect("sink");
    let sink = Arc::new(sink);

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let hook_url = sink.url("bench");
    let (app, base, backend, secret) = server_rt.block_on(async {
        let mut settings = support::settings(dir.path(), pg.as_deref());
        settings.webhook_allow_private_networks = true;
        settings.webhook_concurrency_per_endpoint = per_endpoint;
        let keyring = Keyring::new(MasterKey::from_bytes(&[7; 32]), vec![]);
        let store = open_store(&settings, Some(keyring)).await.expect("store");
        let admin = Admin {
            store: store.clone(),
            actor: Actor::Cli,
        };
        let tenant = admin.create_tenant("bench", "Bench").await.expect("tenant");
        let component = admin
            .create_component(
                COMPONENT,
                TOKEN,
                Some("bench"),
                &SecretString::from("0123456789abcdef0123456789abcdef".to_owned()),
                &SecretString::from(AES.to_owned()),
            )
            .await
            .expect("component");
        let now = wxhub::now_ms();
        let refresh = SecretString::from("bench-refresh".to_owned());
        store
            .record_authorization(
                &NewAuthorization {
                    tenant: Some(tenant.id),
                    component: component.id,
                    appid: ACCOUNT,
                    func_ids: &[1],
                    link: None,
                    source: "bench",
                    access: None,
                    refresh: Some(&refresh),
                    event_at: now,
                },
                &NewAuditEvent::new(
                    Actor::Cli,
                    AuditKind::AuthorizerAuthorized,
                    Outcome::Ok,
                    "bench",
                    now,
                ),
                now,
            )
            .await
            .expect("account");
        let who = wxhub::ops::TenantActor {
            actor: Actor::Cli,
            tenant: tenant.id,
            ip: None,
        };
        let request = wxhub::ops::webhooks::EndpointRequest {
            url: hook_url,
            ..Default::default()
        };
        let (_, secret) = wxhub::ops::webhooks::create(&store, &who, &request, true, now)
            .await
            .expect("endpoint");
        let backend = store.dialect().name;
        let app = Application::build_with_store(settings, store)
            .await
            .expect("app");
        let base = format!("http://{}", app.local_addr());
        (app, base, backend, secret)
    });
    sink.sink.set_secret("bench", secret);

    let total = rate * seconds;
    let capacity_n = 40_000u64;
    eprintln!(
        "preparing {} signed messages…",
        total + capacity_n + 200 + sustain_rate * sustain_seconds
    );
    let warmup = messages(&base, 1, 200);
    let fixed = Arc::new(messages(&base, 1_000, total));
    let capacity_first = 1_000 + total;
    let capacity = Arc::new(messages(&base, capacity_first, capacity_n));
    let sustained_first = capacity_first + capacity_n;
    let sustained = Arc::new(messages(
        &base,
        sustained_first,
        sustain_rate * sustain_seconds,
    ));

    load_rt.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        for m in &warmup {
            assert!(send(&client, m).await, "warm-up message refused");
        }
        assert!(all_received(&sink, 200, 1, 200, Duration::from_secs(30)).await, "warm-up delivered");

        // Phase 1: open loop at `rate`; ack latency, then delivery lag per message.
        open_loop(&client, &sink, &fixed, 1_000, rate, 200, backend, "fixed rate").await;

        // Phase 2: closed loop for 20 s, then until every one of those messages is delivered.
        let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let start = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let client = client.clone();
            let capacity = capacity.clone();
            let next = next.clone();
            workers.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                let mut failed = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= capacity.len() as u64 || start.elapsed() > Duration::from_secs(20) {
                        return (sent, failed);
                    }
                    if send(&client, &capacity[i as usize]).await {
                        sent.push(capacity_first + i);
                    } else {
                        failed += 1;
                    }
                }
            }));
        }
        let mut sent = Vec::new();
        let mut failed = 0;
        for w in workers {
            let (s, f) = w.await.expect("worker");
            sent.extend(s);
            failed += f;
        }
        let acked_in = start.elapsed();
        let n = sent.len() as u64;
        let expected = 200 + total + n;
        let deadline = Instant::now() + Duration::from_secs(300);
        while sink.sink.total() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let done_in = start.elapsed();
        let got = receipts(&sink);
        let all = sent.iter().all(|id| got.contains_key(id));
        println!(
            "[{backend}] capacity with {concurrency} connections: {n} messages acked in {:.1}s = {:.0}/s ({failed} failed); all delivered{} in {:.1}s = {:.0} messages/s end to end (per-endpoint bound {per_endpoint})",
            acked_in.as_secs_f64(),
            n as f64 / acked_in.as_secs_f64(),
            if all { "" } else { " NOT" },
            done_in.as_secs_f64(),
            n as f64 / done_in.as_secs_f64(),
        );
        // Phase 3: open loop at the sustained target, the way WeChat would send it: does delivery
        // keep up (lag stays bounded), not only catch up after a burst?
        let before = sink.sink.total();
        open_loop(&client, &sink, &sustained, sustained_first, sustain_rate, before, backend, "sustained").await;
        let unverified = sink
            .sink
            .received(Some("bench"))
            .iter()
            .filter(|r| r.verified != Some(true))
            .count();
        println!("[{backend}] deliveries received: {} ({unverified} without a valid signature)", sink.sink.total());
    });

    server_rt.block_on(async move {
        let _ = app.stop().await;
    });
}
