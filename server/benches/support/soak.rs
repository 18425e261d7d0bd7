//! The soak (issue 16): N real `server serve` processes on one PostgreSQL behind a small TCP
//! balancer, the simulator as WeChat (in this process, faults on), M accounts spread over many
//! components and tenants, steady load on the tenant API, the notify URL and the message URL,
//! and SIGKILL of a random instance every K seconds (restarted on the same port). At the end it
//! checks what must never happen: a double refresh, an expired token served, a lost refresh token,
//! a lost message.
//!
//! Shared by `benches/soak.rs` (the full run, release build) and `tests/soak.rs` (the 3-minute
//! version in CI, debug build): both run [`run`] with their own [`SoakConfig`].
//!
//! How each count is made:
//! - **double refreshes**: the simulator counts a refresh of an account whose previous token was
//!   younger than half a lifetime *and already in service* (used at WeChat, or served by the tenant
//!   API). A retry of a token nobody ever saw (its answer was lost, or the instance that asked was
//!   killed before storing it) is an *early* refresh, reported apart.
//! - **expired served**: every token the tenant API returns is checked by the simulator at that
//!   moment; at the end every account's token is asked for once more and checked the same way.
//! - **lost refresh tokens**: at the end, every account the simulator still has authorized is
//!   compared with the refresh token in the database (current, or the previous one still in its
//!   grace period).
//! - **lost messages**: every message the balancer answered `success` for (WeChat's retries
//!   included) must be in the database by its MsgId.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use wxhub::admin::Admin;
use wxhub::config::{DatabaseUrl, Overrides, Settings};
use wxhub::domain::{Actor, AuditKind, ComponentId, NewAuditEvent, Outcome, TenantId};
use wxhub::secrets::{Keyring, MasterKey};
use wxhub::simulator::{ComponentSeed, Fault, FaultSpec, Lifetimes, Seed, SimSettings, Simulator};
use wxhub::startup::open_store;
use wxhub::store::{IssuedCredential, NewAuthorization, Store};
use wxhub::wechat::crypto::MsgCrypt;
use wxhub::wechat::xml::build_envelope;

/// The master key every instance and the harness use (hex of 32 bytes of 7).
const MASTER_KEY_HEX: &str = "0707070707070707070707070707070707070707070707070707070707070707";

#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// The PostgreSQL database to use (it is migrated and seeded; use an empty one).
    pub database_url: String,
    pub instances: usize,
    pub accounts: usize,
    pub components: usize,
    pub tenants: usize,
    /// Load and kills run this long after seeding.
    pub duration: Duration,
    /// A random instance is killed this often (none: no kills).
    pub kill_every: Option<Duration>,
    /// A killed instance comes back after this long.
    pub restart_after: Duration,
    /// The authorizer token's lifetime in seconds (compressed: refreshes/s ≈ accounts / (0.8 ×
    /// lifetime)).
    pub lifetime_s: i64,
    /// Inject faults into WeChat's answers (a few percent of each kind).
    pub faults: bool,
    /// Tenant API calls per second (each answer checked by the simulator).
    pub api_rate: u64,
    /// Messages per second to the message URL.
    pub message_rate: u64,
    /// Extra `component_verify_ticket` pushes per second (besides the simulator's own schedule).
    pub ticket_rate: u64,
    /// How many accounts the closing sweep asks the tenant API for (all when ≥ accounts).
    pub final_sweep: usize,
    /// Rows written at once while seeding.
    pub seed_concurrency: usize,
    /// Connections each instance may open to PostgreSQL.
    pub database_max_connections: u32,
    /// Where instances write their logs.
    pub log_dir: PathBuf,
    /// Print progress every this long.
    pub progress_every: Duration,
}

/// What a soak measured; [`SoakReport::failures`] names what broke a promise.
#[derive(Debug, Default, Clone)]
pub struct SoakReport {
    pub seed_seconds: f64,
    pub run_seconds: f64,
    pub refreshes: u64,
    pub double_refreshes: u64,
    pub early_refreshes: u64,
    pub early_after_lost_answer: u64,
    pub served_checked: u64,
    pub expired_served: u64,
    pub expired_examples: Vec<String>,
    pub double_examples: Vec<String>,
    pub refresh_tokens_checked: u64,
    pub lost_refresh_tokens: u64,
    pub lost_examples: Vec<String>,
    pub accounts_not_authorized: u64,
    pub not_authorized_examples: Vec<String>,
    pub api_ok: u64,
    pub api_failed: u64,
    pub api_failures: Vec<(String, u64)>,
    pub api_latency_p50_ms: f64,
    pub api_latency_p99_ms: f64,
    pub messages_acked: u64,
    pub messages_unacked: u64,
    pub messages_lost: u64,
    pub tickets_pushed: u64,
    pub kills: usize,
    /// Seconds from each kill until every credential the dead instance had leased was refreshed
    /// by another instance.
    pub takeover_s: Vec<f64>,
    pub takeover_unfinished: usize,
    pub max_rss_mb: Vec<f64>,
    pub max_pg_connections: i64,
    pub cpu_seconds: f64,
    pub faults_injected: u64,
}

impl SoakReport {
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.double_refreshes > 0 {
            out.push(format!(
                "{} double refreshes: {:?}",
                self.double_refreshes, self.double_examples
            ));
        }
        if self.expired_served > 0 {
            out.push(format!(
                "{} expired tokens served: {:#?}",
                self.expired_served, self.expired_examples
            ));
        }
        if self.lost_refresh_tokens > 0 {
            out.push(format!(
                "{} lost refresh tokens: {:#?}",
                self.lost_refresh_tokens, self.lost_examples
            ));
        }
        if self.accounts_not_authorized > 0 {
            out.push(format!(
                "{} accounts no longer authorized in the database: {:#?}",
                self.accounts_not_authorized, self.not_authorized_examples
            ));
        }
        if self.messages_lost > 0 {
            out.push(format!(
                "{} acknowledged messages not stored",
                self.messages_lost
            ));
        }
        if self.refreshes == 0 {
            out.push("no refreshes at all".into());
        }
        if self.served_checked == 0 {
            out.push("the tenant API served nothing".into());
        }
        out
    }

    pub fn cpu_per_1000_refreshes(&self) -> f64 {
        if self.refreshes == 0 {
            return 0.0;
        }
        self.cpu_seconds / (self.refreshes as f64 / 1000.0)
    }
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut takeover = self.takeover_s.clone();
        takeover.sort_by(f64::total_cmp);
        writeln!(
            f,
            "seeded in {:.0} s, ran {:.0} s",
            self.seed_seconds, self.run_seconds
        )?;
        writeln!(
            f,
            "refreshes {} ({:.0}/s) | double {} | early (retries of unused tokens) {} (after a lost answer {}) | faults injected {}",
            self.refreshes,
            self.refreshes as f64 / self.run_seconds.max(1.0),
            self.double_refreshes,
            self.early_refreshes,
            self.early_after_lost_answer,
            self.faults_injected
        )?;
        writeln!(
            f,
            "tenant API: {} ok, {} failed {:?}, p50 {:.1} ms, p99 {:.1} ms | tokens checked {} | expired served {}",
            self.api_ok,
            self.api_failed,
            self.api_failures,
            self.api_latency_p50_ms,
            self.api_latency_p99_ms,
            self.served_checked,
            self.expired_served
        )?;
        writeln!(
            f,
            "refresh tokens checked {} | lost {} | accounts not authorized {}",
            self.refresh_tokens_checked, self.lost_refresh_tokens, self.accounts_not_authorized
        )?;
        writeln!(
            f,
            "messages acked {} | never acked {} | lost {} | extra tickets pushed {}",
            self.messages_acked, self.messages_unacked, self.messages_lost, self.tickets_pushed
        )?;
        writeln!(
            f,
            "kills {} | lease takeover s: {:?} (unfinished {}) | max RSS MB per instance {:?} | max PostgreSQL connections {} | CPU {:.1} s = {:.2} s per 1,000 refreshes",
            self.kills,
            takeover.iter().map(|s| (s * 10.0).round() / 10.0).collect::<Vec<_>>(),
            self.takeover_unfinished,
            self.max_rss_mb.iter().map(|m| m.round()).collect::<Vec<_>>(),
            self.max_pg_connections,
            self.cpu_seconds,
            self.cpu_per_1000_refreshes()
        )
    }
}

struct Plan {
    components: Vec<PlannedComponent>,
    /// Per tenant: its API key.
    keys: Vec<String>,
}

struct PlannedComponent {
    appid: String,
    id: ComponentId,
    seed: ComponentSeed,
    crypto: MsgCrypt,
}

fn component_appid(i: usize) -> String {
    format!("wx50a4c0{i:010}")
}

/// The `j`-th account's appid (18 characters, like WeChat's).
pub fn account_appid(j: usize) -> String {
    format!("wx5a{j:014x}")
}

/// Account `j`'s component and tenant.
fn placement(cfg: &SoakConfig, j: usize) -> (usize, usize) {
    let component = j % cfg.components;
    (component, component_tenant(cfg, component, j))
}

/// Every fifth component is the platform's shared one (its accounts belong to many tenants);
/// the others are one tenant's own.
fn component_tenant(cfg: &SoakConfig, component: usize, j: usize) -> usize {
    if component % 5 == 4 {
        (j / cfg.components) % cfg.tenants
    } else {
        component % cfg.tenants
    }
}

fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn keyring() -> Keyring {
    let key = MasterKey::parse(MASTER_KEY_HEX).expect("static key");
    Keyring::new(key, vec![])
}

fn harness_settings(database_url: &str) -> Settings {
    let mut settings =
        Settings::load_from(None, &Overrides::default(), Vec::<(String, String)>::new())
            .expect("settings");
    settings.database_url = DatabaseUrl::parse(database_url).expect("postgres url");
    settings.database_url_configured = true;
    settings.database_max_connections = 32;
    settings
}

/// A running `server serve` in one slot.
struct Slot {
    port: u16,
    child: Option<Child>,
    /// `lease_owner` of the running process: `host-pid-…`.
    pid: Option<u32>,
    max_rss_mb: f64,
    /// CPU ticks of the current process at the last sample.
    last_ticks: u64,
}

/// A failing soak (a panic anywhere) must not leave its instances running: they would hold
/// their ports and the database for whatever runs next.
impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn spawn(cfg: &SoakConfig, sim_base: &str, port: u16, generation: usize) -> Child {
    let log = std::fs::File::create(
        cfg.log_dir
            .join(format!("instance-{port}-{generation}.log")),
    )
    .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WXHUB_DATABASE_URL", &cfg.database_url)
        .env(
            "WXHUB_DATABASE_MAX_CONNECTIONS",
            cfg.database_max_connections.to_string(),
        )
        .env("WXHUB_MASTER_KEY", MASTER_KEY_HEX)
        .env("WXHUB_LISTEN", format!("127.0.0.1:{port}"))
        .env("WXHUB_METRICS_LISTEN", "127.0.0.1:0")
        .env("WXHUB_LOG_FORMAT", "json")
        .env(
            "WXHUB_LOG",
            std::env::var("WXHUB_SOAK_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env("WXHUB_WECHAT_API_BASE", sim_base)
        .env("WXHUB_WECHAT_MP_BASE", sim_base)
        .env("WXHUB_WECHAT_OPEN_BASE", sim_base)
        .env("WXHUB_WECHAT_TIMEOUT_SECONDS", "2")
        .env("WXHUB_API_RATE_PER_SECOND", "1000000")
        .env("WXHUB_API_RATE_BURST", "1000000")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn server")
}

async fn wait_ready(client: &reqwest::Client, port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            if r.status().is_success() {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn proc_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// utime + stime of a process, in clock ticks.
fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields after it are fixed.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_second() -> f64 {
    100.0
}

/// The balancer: one address for WeChat's pushes and the tenants' calls, spreading connections
/// over the live instances (a connection to a dead one is refused, and the next is tried).
struct Balancer {
    ports: Vec<u16>,
    next: AtomicUsize,
}

async fn balance(
    listener: tokio::net::TcpListener,
    balancer: Arc<Balancer>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(Ok((mut inbound, _))) =
            tokio::time::timeout(Duration::from_millis(200), listener.accept()).await
        else {
            continue;
        };
        let balancer = balancer.clone();
        tokio::spawn(async move {
            let n = balancer.ports.len();
            let first = balancer.next.fetch_add(1, Ordering::Relaxed);
            for k in 0..n {
                let port = balancer.ports[(first + k) % n];
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    return;
                }
            }
        });
    }
}

async fn seed(cfg: &SoakConfig, store: &Store, sim: &Simulator, front: &str) -> Plan {
    let admin = Admin {
        store: store.clone(),
        actor: Actor::Cli,
    };
    let mut tenants: Vec<TenantId> = Vec::new();
    let mut keys = Vec::new();
    for t in 0..cfg.tenants {
        let slug = format!("soak{t}");
        let tenant = admin
            .create_tenant(&slug, &format!("Soak {t}"))
            .await
            .expect("tenant");
        tenants.push(tenant.id);
        let (_, minted) = admin.create_api_key(&slug, "soak").await.expect("key");
        keys.push(minted.key.expose_secret().to_owned());
    }
    let mut components = Vec::new();
    for i in 0..cfg.components {
        let appid = component_appid(i);
        let seed = ComponentSeed::generate(
            &appid,
            &format!("Soak {i}"),
            Some(format!("{front}/wechat/{appid}/notify")),
        );
        let owner = (i % 5 != 4).then(|| format!("soak{}", i % cfg.tenants));
        let component = admin
            .create_component(
                &appid,
                &seed.token,
                owner.as_deref(),
                &SecretString::from(seed.secret.clone()),
                &SecretString::from(seed.encoding_aes_key.clone()),
            )
            .await
            .expect("component");
        let crypto = MsgCrypt::new(&seed.token, &seed.encoding_aes_key, &appid).expect("crypto");
        sim.with_state(|s, _| s.add_component(seed.clone()))
            .expect("sim component");
        components.push(PlannedComponent {
            appid,
            id: component.id,
            seed,
            crypto,
        });
    }
    let lifetime_ms = cfg.lifetime_s * 1000;
    let started = Instant::now();
    let done = AtomicUsize::new(0);
    let sim_batch: Mutex<Vec<(usize, String, String, i64)>> = Mutex::new(Vec::new());
    let flush = |batch: Vec<(usize, String, String, i64)>| {
        sim.with_state(|s, _| {
            for (j, refresh, access, issued_at) in &batch {
                let (c, _) = placement(cfg, *j);
                s.seed_authorization(
                    &components[c].appid,
                    &account_appid(*j),
                    refresh,
                    access,
                    *issued_at,
                );
            }
        });
    };
    futures_util::stream::iter(0..cfg.accounts)
        .for_each_concurrent(cfg.seed_concurrency, |j| {
            let components = &components;
            let tenants = &tenants;
            let sim_batch = &sim_batch;
            let done = &done;
            let flush = &flush;
            async move {
                let (c, t) = placement(cfg, j);
                let now = wxhub::now_ms();
                // Spread over a lifetime as the cluster will find them, so refreshes are steady
                // from the start: an account seeded early ages while the rest are seeded (15
                // minutes at a million), so it is issued that much later in the spread, never
                // already due or expired when the cluster starts.
                let seeded = done.load(Ordering::Relaxed).max(1);
                let rate_per_ms = if seeded < 1_000 {
                    1.0
                } else {
                    seeded as f64 / (started.elapsed().as_millis().max(1) as f64)
                };
                let left_ms = ((cfg.accounts - j) as f64 / rate_per_ms) as i64;
                let spread = (lifetime_ms * 3 / 4 - left_ms).max(1);
                let issued_at = now - rand::thread_rng().gen_range(0..spread);
                let access = SecretString::from(random_token(107));
                let refresh = SecretString::from(format!("refreshtoken@@@{}", random_token(43)));
                let appid = account_appid(j);
                let audit = NewAuditEvent::new(
                    Actor::System,
                    AuditKind::AuthorizerAuthorized,
                    Outcome::Ok,
                    "seeded by the soak",
                    now,
                );
                store
                    .record_authorization(
                        &NewAuthorization {
                            tenant: Some(tenants[t]),
                            component: components[c].id,
                            appid: &appid,
                            func_ids: &[1, 2, 3, 15],
                            link: None,
                            source: "soak",
                            access: Some(IssuedCredential {
                                value: &access,
                                issued_at,
                                expires_at: issued_at + lifetime_ms,
                                refresh_at: wxhub::engine::refresh_point(issued_at, cfg.lifetime_s),
                            }),
                            refresh: Some(&refresh),
                            event_at: now,
                        },
                        &audit,
                        now,
                    )
                    .await
                    .expect("seed an account");
                let full = {
                    let mut batch = sim_batch.lock().unwrap();
                    batch.push((
                        j,
                        refresh.expose_secret().to_owned(),
                        access.expose_secret().to_owned(),
                        issued_at,
                    ));
                    (batch.len() >= 1_000).then(|| std::mem::take(&mut *batch))
                };
                if let Some(batch) = full {
                    flush(batch);
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(50_000) {
                    eprintln!(
                        "soak: seeded {n} accounts in {:.0} s",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        })
        .await;
    flush(std::mem::take(&mut *sim_batch.lock().unwrap()));
    Plan { components, keys }
}

fn inject_faults(sim: &Simulator) {
    let spec = |api: &str, fault: Fault, percent: u8| FaultSpec {
        component: None,
        api: Some(api.into()),
        fault,
        times: None,
        percent: Some(percent),
    };
    // Per refresh: about 6 % meet an error of some kind and a fifth are late, each rule rolling
    // on its own.
    for s in [
        spec(
            "api_authorizer_token",
            Fault::LongTail {
                median_ms: 30,
                p99_ms: 1_500,
            },
            20,
        ),
        spec("api_authorizer_token", Fault::Timeout, 1),
        spec("api_authorizer_token", Fault::Http(502), 1),
        spec("api_authorizer_token", Fault::Errcode(-1), 1),
        spec("api_authorizer_token", Fault::Reset, 1),
        spec("api_authorizer_token", Fault::LostAnswer, 1),
        spec("api_authorizer_token", Fault::Errcode(61023), 1),
        spec("api_component_token", Fault::Errcode(-1), 5),
        spec("api_component_token", Fault::LatencyMs(300), 20),
        spec("api_get_authorizer_info", Fault::Errcode(-1), 5),
    ] {
        sim.inject_fault(s).expect("fault spec");
    }
    // A used-up quota stops a component's refreshes for minutes (as it should): it happens to
    // two components once each, not at random, or every component would sit paused.
    sim.inject_fault(FaultSpec {
        times: Some(2),
        percent: None,
        ..spec("api_authorizer_token", Fault::Errcode(45009), 100)
    })
    .expect("fault spec");
}

struct Load {
    api_ok: AtomicU64,
    api_failed: AtomicU64,
    api_failures: Mutex<std::collections::BTreeMap<String, u64>>,
    api_latency_us: Mutex<Vec<u64>>,
    acked: Mutex<Vec<u64>>,
    unacked: AtomicU64,
    tickets: AtomicU64,
    next_msg_id: AtomicU64,
}

/// One tenant API call for account `j`: the token served is reported to the simulator.
async fn ask_token(
    client: &reqwest::Client,
    front: &str,
    cfg: &SoakConfig,
    plan: &Plan,
    sim: &Simulator,
    load: &Load,
    j: usize,
) {
    let (_, t) = placement(cfg, j);
    let started = Instant::now();
    let answer = client
        .get(format!(
            "{front}/api/v1/authorizers/{}/access-token",
            account_appid(j)
        ))
        .bearer_auth(&plan.keys[t])
        .send()
        .await;
    let (body, why) = match answer {
        Ok(r) if r.status().is_success() => (
            r.json::<serde_json::Value>().await.ok(),
            "bad json".to_owned(),
        ),
        Ok(r) => {
            let status = r.status().as_u16();
            let code = r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|b| b["error"]["code"].as_str().map(str::to_owned))
                .unwrap_or_default();
            (None, format!("{status} {code}"))
        }
        Err(e) if e.is_timeout() => (None, "timeout".to_owned()),
        Err(_) => (None, "connection".to_owned()),
    };
    match body.as_ref().and_then(|b| b["access_token"].as_str()) {
        Some(token) => {
            sim.with_state(|s, now| s.served(token, now));
            load.api_ok.fetch_add(1, Ordering::Relaxed);
            load.api_latency_us
                .lock()
                .unwrap()
                .push(started.elapsed().as_micros() as u64);
        }
        None => {
            load.api_failed.fetch_add(1, Ordering::Relaxed);
            *load.api_failures.lock().unwrap().entry(why).or_default() += 1;
        }
    }
}

/// One user message to account `j`, sent as WeChat does: up to three tries, five seconds each.
async fn send_message(
    client: &reqwest::Client,
    front: &str,
    cfg: &SoakConfig,
    plan: &Plan,
    load: &Load,
    j: usize,
) {
    let (c, _) = placement(cfg, j);
    let component = &plan.components[c];
    let msg_id = load.next_msg_id.fetch_add(1, Ordering::Relaxed);
    let now_s = wxhub::now_ms() / 1000;
    let xml = format!(
        "<xml><ToUserName><![CDATA[gh_soak]]></ToUserName><FromUserName><![CDATA[o_soak_user]]></FromUserName>\
         <CreateTime>{now_s}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[soak {msg_id}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    );
    let nonce = msg_id.to_string();
    let sealed = component.crypto.encrypt(&xml, &now_s.to_string(), &nonce);
    let url = format!(
        "{front}/wechat/{}/message/{}?signature=x&timestamp={now_s}&nonce={nonce}&openid=o_soak_user&encrypt_type=aes&msg_signature={}",
        component.appid,
        account_appid(j),
        sealed.msg_signature
    );
    let body = build_envelope(&component.appid, &sealed.encrypt);
    for _ in 0..3 {
        let sent = client
            .post(&url)
            .timeout(Duration::from_secs(5))
            .body(body.clone())
            .send()
            .await;
        if matches!(&sent, Ok(r) if r.status().is_success()) {
            load.acked.lock().unwrap().push(msg_id);
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    load.unacked.fetch_add(1, Ordering::Relaxed);
}

/// Runs `f` `rate` times a second (open loop) until `until`.
async fn at_rate<F, Fut>(rate: u64, until: Instant, f: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    if rate == 0 {
        return;
    }
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut i = 0usize;
    while Instant::now() < until {
        tokio::time::sleep_until((start + interval * i as u32).into()).await;
        tasks.spawn(f(i));
        i += 1;
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// The harness's own questions to PostgreSQL (not the product's: they read its tables as an
/// outside checker would).
struct Probe(sqlx::PgPool);

impl Probe {
    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.0)
            .await
            .unwrap_or(-1)
    }

    /// The credentials a process holds leases on (`lease_owner` is `host-pid-random`).
    async fn leased_by_pid(&self, pid: u32) -> Vec<i64> {
        sqlx::query_scalar::<_, i64>(
            "SELECT id FROM credentials WHERE lease_owner LIKE $1 AND lease_expires_at IS NOT NULL",
        )
        .bind(format!("%-{pid}-%"))
        .fetch_all(&self.0)
        .await
        .unwrap_or_default()
    }

    /// How many of `ids` were not written since `at` (Unix ms).
    async fn not_written_since(&self, ids: &[i64], at: i64) -> i64 {
        if ids.is_empty() {
            return 0;
        }
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM credentials WHERE id = ANY($1) AND updated_at <= $2 AND value_sealed IS NOT NULL",
        )
        .bind(ids)
        .bind(at)
        .fetch_one(&self.0)
        .await
        .unwrap_or(i64::MAX)
    }

    /// What happened to an account, from the audit log and its row: for failure reports.
    async fn story(&self, appid: &str) -> String {
        let status: String = sqlx::query_scalar("SELECT status FROM authorizers WHERE appid = $1")
            .bind(appid)
            .fetch_optional(&self.0)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let events: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT occurred_at, kind, outcome, summary FROM audit_events WHERE authorizer_appid = $1 \
             AND kind <> 'token.refreshed' ORDER BY id DESC LIMIT 6",
        )
        .bind(appid)
        .fetch_all(&self.0)
        .await
        .unwrap_or_default();
        let events: Vec<String> = events
            .into_iter()
            .rev()
            .map(|(at, kind, outcome, summary)| {
                format!("{} {kind} {outcome}: {summary}", at % 1_000_000)
            })
            .collect();
        format!("{appid} {status}: {}", events.join(" | "))
    }

    async fn not_authorized(&self, limit: i64) -> Vec<String> {
        sqlx::query_scalar::<_, String>(
            "SELECT appid FROM authorizers WHERE status <> 'authorized' ORDER BY appid LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.0)
        .await
        .unwrap_or_default()
    }

    /// Accounts whose token could not be served now (under 5 s left), by why: `overdue` (its
    /// refresh time passed and nobody has done it), `failing` (its last attempt failed), `held`
    /// (its next attempt is set in the future: a paused component, a backoff).
    async fn unservable(&self) -> (i64, i64, i64) {
        let now = wxhub::now_ms();
        sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT count(*) FILTER (WHERE failure_count = 0 AND refresh_at <= $1), \
                    count(*) FILTER (WHERE failure_count > 0), \
                    count(*) FILTER (WHERE failure_count = 0 AND refresh_at > $1) \
             FROM credentials WHERE kind = 'authorizer_access_token' AND value_sealed IS NOT NULL \
             AND expires_at < $2",
        )
        .bind(now)
        .bind(now + 5_000)
        .fetch_one(&self.0)
        .await
        .unwrap_or((-1, -1, -1))
    }

    async fn message_ids(&self) -> Vec<String> {
        sqlx::query_scalar::<_, String>("SELECT msg_id FROM messages WHERE msg_id IS NOT NULL")
            .fetch_all(&self.0)
            .await
            .unwrap_or_default()
    }
}

/// Runs the whole soak and reports.
pub async fn run(cfg: SoakConfig) -> SoakReport {
    let mut report = SoakReport::default();
    std::fs::create_dir_all(&cfg.log_dir).expect("log dir");
    let store = open_store(&harness_settings(&cfg.database_url), Some(keyring()))
        .await
        .expect("store");
    let probe = Probe(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&cfg.database_url)
            .await
            .expect("probe connection"),
    );
    let front_port = free_port();
    let front = format!("http://127.0.0.1:{front_port}");
    let sim = Simulator::start(
        "127.0.0.1:0".parse().expect("addr"),
        SimSettings {
            lifetimes: Lifetimes {
                authorizer_token: cfg.lifetime_s,
                component_token: 600,
                // WeChat keeps a replaced token (and refresh token) working 5 minutes. That is not
                // compressed with the lifetime: it is what covers wxhub's retries (seconds apart,
                // in real time) after an answer was lost. Capped at half the compressed lifetime.
                token_overlap: (cfg.lifetime_s / 2).min(300),
                refresh_token_grace: (cfg.lifetime_s / 2).min(300),
                ..Lifetimes::default()
            },
            ticket_interval: Duration::from_secs(60),
            rotate_refresh_tokens: true,
            ..Default::default()
        },
        Seed::default(),
    )
    .await
    .expect("simulator");
    let sim = Arc::new(sim);
    let t0 = Instant::now();
    let plan = Arc::new(seed(&cfg, &store, &sim, &front).await);
    report.seed_seconds = t0.elapsed().as_secs_f64();
    eprintln!(
        "soak: seeded {} accounts, {} components, {} tenants in {:.0} s",
        cfg.accounts, cfg.components, cfg.tenants, report.seed_seconds
    );

    let stop_balancer = Arc::new(AtomicBool::new(false));
    let ports: Vec<u16> = (0..cfg.instances).map(|_| free_port()).collect();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", front_port))
        .await
        .expect("balancer");
    tokio::spawn(balance(
        listener,
        Arc::new(Balancer {
            ports: ports.clone(),
            next: AtomicUsize::new(0),
        }),
        stop_balancer.clone(),
    ));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let sim_base = sim.base_url();
    let mut slots: Vec<Slot> = ports
        .iter()
        .enumerate()
        .map(|(i, &port)| {
            let child = spawn(&cfg, &sim_base, port, i);
            Slot {
                port,
                pid: Some(child.id()),
                child: Some(child),
                max_rss_mb: 0.0,
                last_ticks: 0,
            }
        })
        .collect();
    for slot in &slots {
        if !wait_ready(&client, slot.port, Duration::from_secs(120)).await {
            let logs: Vec<String> = std::fs::read_dir(&cfg.log_dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .map(|l| l.lines().rev().take(5).collect::<Vec<_>>().join("\n"))
                .collect();
            panic!("instance on {} did not become ready: {logs:?}", slot.port);
        }
    }
    for c in &plan.components {
        sim.push_ticket_now(&c.appid);
    }
    if cfg.faults {
        inject_faults(&sim);
    }
    eprintln!(
        "soak: {} instances ready, load on for {:?}",
        cfg.instances, cfg.duration
    );

    let run_started = Instant::now();
    let until = run_started + cfg.duration;
    let load = Arc::new(Load {
        api_ok: AtomicU64::new(0),
        api_failed: AtomicU64::new(0),
        api_failures: Mutex::new(Default::default()),
        api_latency_us: Mutex::new(Vec::new()),
        acked: Mutex::new(Vec::new()),
        unacked: AtomicU64::new(0),
        tickets: AtomicU64::new(0),
        next_msg_id: AtomicU64::new(1_000_000),
    });
    let cfg = Arc::new(cfg);
    let api = {
        let (client, front, cfg, plan, sim, load) = (
            client.clone(),
            front.clone(),
            cfg.clone(),
            plan.clone(),
            sim.clone(),
            load.clone(),
        );
        tokio::spawn(async move {
            let (c2, f2, cfg2, p2, s2, l2) = (client, front, cfg.clone(), plan, sim, load);
            at_rate(cfg.api_rate, until, move |_| {
                let (client, front, cfg, plan, sim, load) = (
                    c2.clone(),
                    f2.clone(),
                    cfg2.clone(),
                    p2.clone(),
                    s2.clone(),
                    l2.clone(),
                );
                async move {
                    let j = rand::thread_rng().gen_range(0..cfg.accounts);
                    ask_token(&client, &front, &cfg, &plan, &sim, &load, j).await;
                }
            })
            .await
        })
    };
    let messages = {
        let (client, front, cfg, plan, load) = (
            client.clone(),
            front.clone(),
            cfg.clone(),
            plan.clone(),
            load.clone(),
        );
        tokio::spawn(async move {
            let (c2, f2, cfg2, p2, l2) = (client, front, cfg.clone(), plan, load);
            at_rate(cfg.message_rate, until, move |_| {
                let (client, front, cfg, plan, load) =
                    (c2.clone(), f2.clone(), cfg2.clone(), p2.clone(), l2.clone());
                async move {
                    let j = rand::thread_rng().gen_range(0..cfg.accounts);
                    send_message(&client, &front, &cfg, &plan, &load, j).await;
                }
            })
            .await
        })
    };
    let tickets = {
        let (cfg, plan, sim, load) = (cfg.clone(), plan.clone(), sim.clone(), load.clone());
        tokio::spawn(async move {
            let (cfg2, p2, s2, l2) = (cfg.clone(), plan, sim, load);
            at_rate(cfg.ticket_rate, until, move |i| {
                let c = &p2.components[i % cfg2.components];
                s2.push_ticket_now(&c.appid);
                l2.tickets.fetch_add(1, Ordering::Relaxed);
                async {}
            })
            .await
        })
    };

    // The kills, the takeovers and the samplers run here.
    let mut rng_slot = 0usize;
    let mut next_kill = cfg.kill_every.map(|k| run_started + k);
    let mut next_sample = Instant::now();
    let mut next_progress = Instant::now() + cfg.progress_every;
    let mut pending_restarts: Vec<(usize, Instant)> = Vec::new();
    let mut takeovers: Vec<(Instant, Vec<i64>, i64)> = Vec::new();
    let mut generation = cfg.instances;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = Instant::now();
        if next_kill.is_some_and(|k| now >= k) {
            next_kill = cfg.kill_every.map(|k| now + k);
            rng_slot = (rng_slot + rand::thread_rng().gen_range(1..=cfg.instances)) % cfg.instances;
            let slot = &mut slots[rng_slot];
            if let (Some(mut child), Some(pid)) = (slot.child.take(), slot.pid.take()) {
                if let Some(ticks) = proc_cpu_ticks(pid) {
                    report.cpu_seconds +=
                        ticks.saturating_sub(slot.last_ticks) as f64 / clock_ticks_per_second();
                }
                slot.last_ticks = 0;
                let _ = child.kill();
                let _ = child.wait();
                let killed_at = wxhub::now_ms();
                let leased = probe.leased_by_pid(pid).await;
                eprintln!(
                    "soak: killed the instance on {} (pid {pid}) holding {} leases",
                    slot.port,
                    leased.len()
                );
                report.kills += 1;
                takeovers.push((now, leased, killed_at));
                pending_restarts.push((rng_slot, now + cfg.restart_after));
            }
        }
        let mut still = Vec::new();
        for (i, at) in pending_restarts.drain(..) {
            if now >= at {
                generation += 1;
                let child = spawn(&cfg, &sim_base, slots[i].port, generation);
                slots[i].pid = Some(child.id());
                slots[i].child = Some(child);
            } else {
                still.push((i, at));
            }
        }
        pending_restarts = still;
        // A takeover is done when every credential the dead instance held was written since.
        let mut open = Vec::new();
        for (at, ids, killed_at) in takeovers.drain(..) {
            let left = probe.not_written_since(&ids, killed_at).await;
            if left == 0 {
                report.takeover_s.push(at.elapsed().as_secs_f64());
            } else if at.elapsed() > Duration::from_secs(120) {
                report.takeover_unfinished += 1;
            } else {
                open.push((at, ids, killed_at));
            }
        }
        takeovers = open;
        if now >= next_sample {
            next_sample = now + Duration::from_secs(2);
            for slot in &mut slots {
                if let Some(pid) = slot.pid {
                    if let Some(rss) = proc_rss_mb(pid) {
                        slot.max_rss_mb = slot.max_rss_mb.max(rss);
                    }
                    if let Some(ticks) = proc_cpu_ticks(pid) {
                        report.cpu_seconds +=
                            ticks.saturating_sub(slot.last_ticks) as f64 / clock_ticks_per_second();
                        slot.last_ticks = ticks;
                    }
                }
            }
            report.max_pg_connections = report.max_pg_connections.max(
                probe
                    .count(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()",
                    )
                    .await,
            );
        }
        if now >= next_progress {
            next_progress = now + cfg.progress_every;
            let r = sim.with_state(|s, _| s.refresh_report.clone());
            let (overdue, failing, held) = probe.unservable().await;
            eprintln!(
                "soak: {:>4.0} s | refreshes {} double {} early {} | served {} expired {} | api ok {} failed {} | messages {} | RSS {:?} | unservable: overdue {overdue} failing {failing} held {held}",
                run_started.elapsed().as_secs_f64(),
                r.refreshes,
                r.double_refreshes,
                r.early_refreshes,
                r.served_checked,
                r.expired_served,
                load.api_ok.load(Ordering::Relaxed),
                load.api_failed.load(Ordering::Relaxed),
                load.acked.lock().unwrap().len(),
                slots.iter().map(|s| s.max_rss_mb.round()).collect::<Vec<_>>()
            );
        }
    }
    let _ = tokio::join!(api, messages, tickets);
    report.run_seconds = run_started.elapsed().as_secs_f64();
    // Bring back whatever is down, let the faults go, and let the cluster settle one sync.
    sim.clear_faults();
    for (i, _) in pending_restarts.drain(..) {
        generation += 1;
        let child = spawn(&cfg, &sim_base, slots[i].port, generation);
        slots[i].pid = Some(child.id());
        slots[i].child = Some(child);
    }
    for slot in &slots {
        assert!(wait_ready(&client, slot.port, Duration::from_secs(120)).await);
    }
    for (at, ids, killed_at) in takeovers.drain(..) {
        let deadline = at + Duration::from_secs(120);
        loop {
            let left = probe.not_written_since(&ids, killed_at).await;
            if left == 0 {
                report.takeover_s.push(at.elapsed().as_secs_f64());
                break;
            }
            if Instant::now() > deadline {
                report.takeover_unfinished += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // The closing sweep: every account's token, once more, through the tenant API.
    let sweep = cfg.final_sweep.min(cfg.accounts);
    let step = (cfg.accounts / sweep.max(1)).max(1);
    futures_util::stream::iter((0..cfg.accounts).step_by(step).take(sweep))
        .for_each_concurrent(32, |j| {
            let (client, front, cfg, plan, sim, load) = (&client, &front, &cfg, &plan, &sim, &load);
            async move { ask_token(client, front, cfg, plan, sim, load, j).await }
        })
        .await;

    for slot in &mut slots {
        if let (Some(child), Some(pid)) = (slot.child.as_mut(), slot.pid) {
            if let Some(ticks) = proc_cpu_ticks(pid) {
                report.cpu_seconds +=
                    ticks.saturating_sub(slot.last_ticks) as f64 / clock_ticks_per_second();
            }
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let _ = child.wait();
        }
        report.max_rss_mb.push(slot.max_rss_mb);
    }
    stop_balancer.store(true, Ordering::Relaxed);

    let r = sim.with_state(|s, _| s.refresh_report.clone());
    report.refreshes = r.refreshes;
    report.double_refreshes = r.double_refreshes;
    report.early_refreshes = r.early_refreshes;
    report.early_after_lost_answer = r.early_after_lost_answer;
    report.served_checked = r.served_checked;
    report.expired_served = r.expired_served;
    let calls = sim.calls();
    let sim_story = |appid: &str| {
        calls
            .iter()
            .filter(|c| c.authorizer_appid.as_deref() == Some(appid))
            .map(|c| format!("{} {} {}", c.at % 1_000_000, c.api, c.outcome))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    report.expired_examples = r
        .expired
        .iter()
        .take(5)
        .map(|e| {
            let appid = e.authorizer_appid.as_deref().unwrap_or("?");
            format!("{e:?}\n      WeChat saw: {}", sim_story(appid))
        })
        .collect();
    report.double_examples = r.doubles.iter().take(5).map(|d| format!("{d:?}")).collect();
    report.faults_injected = sim.faults_fired();
    report.api_ok = load.api_ok.load(Ordering::Relaxed);
    report.api_failed = load.api_failed.load(Ordering::Relaxed);
    report.api_failures = load
        .api_failures
        .lock()
        .unwrap()
        .clone()
        .into_iter()
        .collect();
    let mut lat: Vec<u64> = std::mem::take(&mut *load.api_latency_us.lock().unwrap());
    lat.sort_unstable();
    let pick = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round().max(0.0) as usize)
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    report.api_latency_p50_ms = pick(0.5);
    report.api_latency_p99_ms = pick(0.99);
    report.tickets_pushed = load.tickets.load(Ordering::Relaxed);
    report.messages_unacked = load.unacked.load(Ordering::Relaxed);

    // Refresh tokens: ours against WeChat's, for every account WeChat still has authorized.
    let live = sim.with_state(|s, _| s.live_authorizations());
    let ids: std::collections::HashMap<&str, ComponentId> = plan
        .components
        .iter()
        .map(|c| (c.appid.as_str(), c.id))
        .collect();
    let held: Vec<(String, String, Option<String>)> = futures_util::stream::iter(live)
        .map(|(component, appid)| {
            let store = &store;
            let id = ids.get(component.as_str()).copied();
            async move {
                let ours = match id {
                    Some(id) => store
                        .refresh_token(id, &appid)
                        .await
                        .ok()
                        .flatten()
                        .map(|t| t.expose_secret().to_owned()),
                    None => None,
                };
                (component, appid, ours)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut check = wxhub::simulator::RefreshTokenCheck::default();
    sim.with_state(|s, now| {
        s.lost_refresh_tokens(
            held.iter()
                .map(|(c, a, o)| (c.as_str(), a.as_str(), o.as_deref())),
            now,
            &mut check,
        )
    });
    report.refresh_tokens_checked = check.checked;
    report.lost_refresh_tokens = check.lost;
    for (_, appid) in check.examples.iter().take(3) {
        report.lost_examples.push(format!(
            "{}\n      WeChat saw: {}",
            probe.story(appid).await,
            sim_story(appid)
        ));
    }
    report.accounts_not_authorized = probe
        .count("SELECT count(*) FROM authorizers WHERE status <> 'authorized'")
        .await
        .max(0) as u64;
    for appid in probe.not_authorized(3).await {
        report
            .not_authorized_examples
            .push(probe.story(&appid).await);
    }

    // Messages: every acknowledged MsgId is stored.
    let acked: Vec<u64> = std::mem::take(&mut *load.acked.lock().unwrap());
    report.messages_acked = acked.len() as u64;
    let stored: HashSet<String> = probe.message_ids().await.into_iter().collect();
    report.messages_lost = acked
        .iter()
        .filter(|id| !stored.contains(&id.to_string()))
        .count() as u64;
    store.close().await;
    probe.0.close().await;
    if let Ok(sim) = Arc::try_unwrap(sim) {
        sim.stop().await
    }
    report
}
