//! A faithful fake of WeChat's side of a third-party platform, for the demo, the tests and the
//! benchmarks (DESIGN.md, "The WeChat simulator").
//!
//! It serves WeChat's own paths and JSON on one address, so the product reaches it only through
//! `WXHUB_WECHAT_*_BASE`: the component APIs under `/cgi-bin/component/…`, the authorizer APIs,
//! and a stand-in for the confirmation page at `componentloginpage` / `wxaopen/safe/bindcomponent`.
//! It enforces WeChat's rules with WeChat's errcodes (`state`), pushes encrypted tickets and
//! authorization events to each component's notify URL (`push`), and takes orders from tests
//! through a control API under `/sim/control` (faults, latency, lifetimes, clock, revocations,
//! call and push logs). `/sim` is an overview page for people. Custom menus (made in the account's
//! backend or with the menu APIs) and taps on them from a user's phone are in `menus` and `chat`.
//!
//! The clock is the real clock plus an offset that tests can advance, so "this token expires in
//! two hours" is tested without waiting and without sleeps.

pub mod chat;
pub mod code;
mod http;
pub mod menus;
mod pages;
mod persist;
mod push;
pub mod sink;
pub mod smtp;
pub mod sns;
pub mod state;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use app::permissions::AccountKind;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use state::{AccountSeed, ComponentSeed, Lifetimes, RefreshTokenCheck, SimState};

/// How the simulator behaves, apart from what it knows (the [`Seed`]).
#[derive(Debug, Clone)]
pub struct SimSettings {
    pub lifetimes: Lifetimes,
    /// How often each component gets a `component_verify_ticket` (WeChat: about 10 minutes).
    pub ticket_interval: Duration,
    /// How long WeChat waits for the notify URL to answer.
    pub push_timeout: Duration,
    /// Attempts for an authorization-event push that fails (tickets are sent once).
    pub push_attempts: u32,
    /// How long a `timeout` fault holds the request before answering.
    pub hang: Duration,
    /// Where WeChat's memory (authorizations, tokens, codes, tickets) is kept across restarts;
    /// none keeps it in memory only. Components and accounts still come from the seed.
    pub state_file: Option<std::path::PathBuf>,
    /// Issue a new refresh token on every refresh (see `SimState::rotate_refresh_tokens`).
    pub rotate_refresh_tokens: bool,
    /// Every this long, each authorized account gets a message from one of its users (the demo);
    /// none: users only write when asked.
    pub chatter: Option<Duration>,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            lifetimes: Lifetimes::default(),
            ticket_interval: Duration::from_secs(600),
            push_timeout: Duration::from_secs(5),
            push_attempts: 3,
            hang: Duration::from_secs(30),
            state_file: None,
            rotate_refresh_tokens: false,
            chatter: None,
        }
    }
}

/// What the simulator knows at start: components and the accounts that can authorize them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub components: Vec<ComponentSeed>,
    #[serde(default)]
    pub accounts: Vec<AccountSeed>,
}

fn random_alnum(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

impl ComponentSeed {
    /// A component with freshly generated secret, Token and EncodingAESKey.
    pub fn generate(appid: &str, name: &str, notify_url: Option<String>) -> Self {
        Self {
            appid: appid.to_owned(),
            name: name.to_owned(),
            secret: random_alnum(32).to_lowercase(),
            token: random_alnum(24),
            encoding_aes_key: random_alnum(43),
            notify_url,
        }
    }
}

impl Seed {
    /// The accounts the demo offers on the confirmation page: two Official Accounts (the service
    /// account with a backend-made menu of every item type, the subscription account with none)
    /// and two Mini Programs.
    pub fn demo_accounts() -> Vec<AccountSeed> {
        // Every type a backend-made menu can have (PROTOCOL.md §12a), within WeChat's limits.
        let menu = json!({ "button": [
            { "type": "view", "name": "点单 Order", "url": "https://coffee.example.com/order" },
            { "name": "会员 Members", "sub_button": { "list": [
                { "type": "click", "name": "积分 Points", "key": "POINTS" },
                { "type": "view", "name": "门店 Stores", "url": "https://coffee.example.com/stores" },
                { "type": "miniprogram", "name": "小程序 Mini Shop", "url": "https://coffee.example.com/shop",
                  "appid": "wx5a1c0ffee0000003", "pagepath": "pages/index/index" },
                { "type": "news", "name": "新品 New", "value": "NEWS_MEDIA_ID_SPRING", "news_info": { "list": [{
                    "title": "春季新品 Spring specials",
                    "author": "华夏咖啡",
                    "digest": "Cherry blossom latte is back.",
                    "show_cover": 1,
                    "cover_url": "https://coffee.example.com/img/spring.jpg",
                    "content_url": "https://coffee.example.com/news/spring",
                    "source_url": "https://coffee.example.com/spring",
                }]}},
            ]}},
            { "name": "更多 More", "sub_button": { "list": [
                { "type": "text", "name": "联系 Contact", "value": "客服电话 400-000-0000" },
                { "type": "img", "name": "价目表 Prices", "value": "IMG_MEDIA_ID_PRICES" },
                { "type": "voice", "name": "问候 Greeting", "value": "VOICE_MEDIA_ID_HELLO" },
                { "type": "video", "name": "视频 Our story", "value": "https://coffee.example.com/video/story.mp4" },
            ]}},
        ]});
        vec![
            AccountSeed {
                appid: "wx5a1c0ffee0000001".into(),
                kind: AccountKind::OfficialAccount,
                nick_name: "华夏咖啡 Huaxia Coffee".into(),
                user_name: "gh_5a1c0ffee001".into(),
                principal_name: "华夏咖啡有限公司".into(),
                alias: "huaxiacoffee".into(),
                service_type: 2,
                verify_type: 0,
                menu: Some(menu),
            },
            AccountSeed {
                appid: "wx5a1c0ffee0000002".into(),
                kind: AccountKind::OfficialAccount,
                nick_name: "城市早报 City Morning".into(),
                user_name: "gh_5a1c0ffee002".into(),
                principal_name: "城市早报社".into(),
                alias: String::new(),
                service_type: 0,
                verify_type: -1,
                menu: None,
            },
            AccountSeed {
                appid: "wx5a1c0ffee0000003".into(),
                kind: AccountKind::MiniProgram,
                nick_name: "小鹿便利店 Fawn Mart".into(),
                user_name: "gh_5a1c0ffee003".into(),
                principal_name: "小鹿零售有限公司".into(),
                alias: String::new(),
                service_type: 0,
                verify_type: 0,
                menu: None,
            },
            AccountSeed {
                appid: "wx5a1c0ffee0000004".into(),
                kind: AccountKind::MiniProgram,
                nick_name: "青橙健身 Orange Fit".into(),
                user_name: "gh_5a1c0ffee004".into(),
                principal_name: "青橙健身管理有限公司".into(),
                alias: String::new(),
                service_type: 0,
                verify_type: -1,
                menu: None,
            },
        ]
    }

    /// Generated accounts for load tests: `n` Official Accounts `wx` + 16 digits.
    pub fn bulk_accounts(n: usize) -> Vec<AccountSeed> {
        (0..n)
            .map(|i| AccountSeed {
                appid: format!("wx{i:016}"),
                kind: AccountKind::OfficialAccount,
                nick_name: format!("Account {i}"),
                user_name: format!("gh_{i:012}"),
                principal_name: format!("Company {i}"),
                alias: String::new(),
                service_type: 2,
                verify_type: 0,
                menu: None,
            })
            .collect()
    }
}

/// What a fault does to the calls it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Answer HTTP 200 with this errcode (e.g. -1, 45009, 40001).
    Errcode(i64),
    /// Answer with this HTTP status.
    Http(u16),
    /// Hold the request (the client should time out), then answer -1.
    Timeout,
    /// Answer normally, this many ms late.
    LatencyMs(u64),
    /// Answer normally, late by a long-tailed amount: half the calls within `median_ms`, one in a
    /// hundred past `p99_ms` (log-normal).
    LongTail { median_ms: u64, p99_ms: u64 },
    /// Close the connection without an answer; nothing is done.
    Reset,
    /// WeChat does the work (a new token is issued, a refresh token rotated, a code spent) but
    /// the answer never arrives: the connection is closed mid-answer.
    LostAnswer,
}

impl Fault {
    /// How late a latency fault makes this call, in ms (0 for the others).
    pub fn delay_ms(self) -> u64 {
        match self {
            Fault::LatencyMs(ms) => ms,
            Fault::LongTail { median_ms, p99_ms } => {
                // ln(delay) ~ N(ln median, sigma) with the 99th percentile at p99: z(0.99) = 2.326.
                let median = median_ms.max(1) as f64;
                let sigma = ((p99_ms.max(median_ms).max(1) as f64) / median).ln() / 2.326;
                let u1: f64 = rand::thread_rng().gen_range(f64::EPSILON..1.0);
                let u2: f64 = rand::thread_rng().gen_range(0.0..1.0);
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                (median * (sigma * z).exp()).min(600_000.0) as u64
            }
            _ => 0,
        }
    }
}

/// A fault rule: which calls (`api`, or all), what happens, for how many (`times`) or which share
/// (`percent`) of them. With neither, it applies until cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(default)]
    pub api: Option<String>,
    /// Only calls for this component: its appid in the body, or its (or one of its authorizers')
    /// token in the query.
    #[serde(default)]
    pub component: Option<String>,
    pub fault: Fault,
    #[serde(default)]
    pub times: Option<u32>,
    #[serde(default)]
    pub percent: Option<u8>,
}

impl FaultSpec {
    pub fn validate(&self) -> Result<(), String> {
        match self.fault {
            Fault::Errcode(0) => return Err("errcode 0 is success, not a fault".into()),
            Fault::Http(s) if !(400..=599).contains(&s) => {
                return Err("http faults must be a 4xx or 5xx status".into())
            }
            Fault::LatencyMs(ms) if ms > 120_000 => {
                return Err("latency_ms must be at most 120000".into())
            }
            Fault::LongTail { median_ms, p99_ms }
                if median_ms == 0 || p99_ms < median_ms || p99_ms > 120_000 =>
            {
                return Err("long_tail needs 0 < median_ms <= p99_ms <= 120000".into())
            }
            _ => {}
        }
        if self.times == Some(0) {
            return Err("times must be at least 1".into());
        }
        if let Some(p) = self.percent {
            if !(1..=100).contains(&p) {
                return Err("percent must be between 1 and 100".into());
            }
        }
        if let Some(api) = &self.api {
            if !http::API_NAMES.contains(&api.as_str()) {
                return Err(format!("unknown api {api:?}"));
            }
        }
        Ok(())
    }
}

/// One call to a WeChat API, as the simulator saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallRecord {
    pub seq: u64,
    pub at: i64,
    pub api: String,
    pub component_appid: Option<String>,
    pub authorizer_appid: Option<String>,
    /// 0 for success, the errcode otherwise.
    pub errcode: i64,
    /// `ok`, `errcode N`, `http N` or `timeout`.
    pub outcome: String,
    pub injected: bool,
}

/// One push the simulator sent (or dropped).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PushRecord {
    pub seq: u64,
    pub at: i64,
    pub component_appid: String,
    pub info_type: String,
    pub authorizer_appid: Option<String>,
    /// `delivered`, `dropped`, `no notify url`, or what went wrong.
    pub outcome: String,
    pub attempts: u32,
}

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PushDrops {
    /// Drop the next N pushes.
    #[serde(default)]
    pub next: u32,
    /// Drop this share of pushes, until set back to 0.
    #[serde(default)]
    pub percent: u8,
}

const KEPT_CALLS: usize = 50_000;
const KEPT_PUSHES: usize = 10_000;

#[derive(Default)]
struct Logs {
    calls: VecDeque<CallRecord>,
    pushes: VecDeque<PushRecord>,
    audit_events: VecDeque<code::SentAuditEvent>,
}

struct Faults {
    rules: Vec<FaultSpec>,
    drops: PushDrops,
}

/// The simulator's shared core: its model, faults and logs, and the control operations the HTTP
/// control API and in-process tests both use.
pub struct SimControl {
    state: Mutex<SimState>,
    faults: Mutex<Faults>,
    logs: Mutex<Logs>,
    chat: Mutex<chat::Chat>,
    /// The last release check (全网发布) of each component.
    release_checks: Mutex<std::collections::HashMap<String, chat::ReleaseCheck>>,
    clock_offset_ms: AtomicI64,
    latency_ms: AtomicU64,
    faults_fired: AtomicU64,
    seq: AtomicU64,
    settings: SimSettings,
    push_tx: tokio::sync::mpsc::UnboundedSender<state::PendingPush>,
    /// Pushes queued but not yet delivered, dropped or given up on.
    pushes_in_flight: AtomicI64,
    /// The model changed since the state file was last written.
    dirty: std::sync::atomic::AtomicBool,
}

/// Poisoning only follows a panic in another handler; the data is still consistent enough for a
/// simulator, so carry on rather than take every later request down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SimControl {
    fn now(&self) -> i64 {
        crate::now_ms() + self.clock_offset_ms.load(Ordering::Relaxed)
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        lock(&self.state)
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn record_call(&self, mut record: CallRecord) {
        record.seq = self.next_seq();
        let mut logs = lock(&self.logs);
        logs.calls.push_back(record);
        while logs.calls.len() > KEPT_CALLS {
            logs.calls.pop_front();
        }
    }

    fn record_push(&self, mut record: PushRecord) {
        record.seq = self.next_seq();
        let mut logs = lock(&self.logs);
        logs.pushes.push_back(record);
        while logs.pushes.len() > KEPT_PUSHES {
            logs.pushes.pop_front();
        }
    }

    /// The first rule matching `api`, consumed if it counts down.
    fn take_fault(&self, api: &str, component: impl FnOnce() -> Option<String>) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        if faults.rules.is_empty() {
            return None;
        }
        // The component is looked up only when a rule names one.
        let mut component = Some(component);
        let mut known: Option<Option<String>> = None;
        let mut matches = |r: &FaultSpec| {
            if r.api.as_deref().is_some_and(|a| a != api) {
                return false;
            }
            match &r.component {
                None => true,
                Some(wanted) => {
                    let got = known.get_or_insert_with(|| component.take().and_then(|f| f()));
                    got.as_deref() == Some(wanted.as_str())
                }
            }
        };
        // Each matching rule rolls its own percentage, in order: several kinds of fault on one
        // API each hit their share.
        let mut rng = rand::thread_rng();
        let index = (0..faults.rules.len()).find(|&i| {
            let rule = &faults.rules[i];
            matches(rule) && rule.percent.is_none_or(|p| rng.gen_range(0..100u8) < p)
        })?;
        let rule = &mut faults.rules[index];
        let fault = rule.fault;
        if let Some(times) = rule.times.as_mut() {
            *times -= 1;
            if *times == 0 {
                faults.rules.remove(index);
            }
        }
        self.faults_fired.fetch_add(1, Ordering::Relaxed);
        Some(fault)
    }

    /// How many faults fired since the simulator started.
    pub fn faults_fired(&self) -> u64 {
        self.faults_fired.load(Ordering::Relaxed)
    }

    fn take_drop(&self) -> bool {
        let mut faults = lock(&self.faults);
        if faults.drops.next > 0 {
            faults.drops.next -= 1;
            return true;
        }
        faults.drops.percent > 0 && rand::thread_rng().gen_range(0..100u8) < faults.drops.percent
    }

    /// The simulator's clock (real time plus any advance), in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now()
    }

    /// Moves the simulator's clock forward: tokens, tickets and codes age without waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.clock_offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }

    /// Runs `f` with the model locked (tests read and change WeChat's state directly). Pushes the
    /// change queues are sent afterwards.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut SimState, i64) -> R) -> R {
        let now = self.now();
        let mut state = self.state();
        let result = f(&mut state, now);
        self.flush_outbox(&mut state);
        result
    }

    pub fn set_lifetimes(&self, lifetimes: Lifetimes) {
        self.state().lifetimes = lifetimes;
    }

    pub fn lifetimes(&self) -> Lifetimes {
        self.state().lifetimes
    }

    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn inject_fault(&self, spec: FaultSpec) -> Result<(), String> {
        spec.validate()?;
        lock(&self.faults).rules.push(spec);
        Ok(())
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).rules.clear();
    }

    pub fn drop_pushes(&self, drops: PushDrops) {
        lock(&self.faults).drops = drops;
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        lock(&self.logs).calls.iter().cloned().collect()
    }

    pub fn pushes(&self) -> Vec<PushRecord> {
        lock(&self.logs).pushes.iter().cloned().collect()
    }

    fn record_audit_event(&self, event: code::SentAuditEvent) {
        let mut logs = lock(&self.logs);
        logs.audit_events.push_back(event);
        while logs.audit_events.len() > KEPT_PUSHES {
            logs.audit_events.pop_front();
        }
    }

    /// The audit results pushed to message URLs, oldest first.
    pub fn audit_events(&self) -> Vec<code::SentAuditEvent> {
        lock(&self.logs).audit_events.iter().cloned().collect()
    }

    /// Pushes a fresh ticket to `component_appid` now; returns it.
    pub fn push_ticket_now(&self, component_appid: &str) -> Option<String> {
        self.with_state(|s, now| s.issue_ticket(component_appid, now))
    }

    /// Authorizes directly, as if the owner had confirmed (no pre_auth_code): returns the
    /// authorization code; the `authorized` push goes out as usual.
    pub fn authorize(
        &self,
        component_appid: &str,
        authorizer_appid: &str,
        func_ids: &[i64],
    ) -> Result<(String, i64), &'static str> {
        self.with_state(|s, now| {
            s.confirm_authorization(component_appid, None, authorizer_appid, func_ids, now)
        })
    }

    /// The owner cancels the authorization: `unauthorized` is pushed.
    pub fn revoke(&self, component_appid: &str, authorizer_appid: &str) -> bool {
        self.with_state(|s, now| s.revoke(component_appid, authorizer_appid, now))
    }

    pub fn faults(&self) -> Vec<FaultSpec> {
        lock(&self.faults).rules.clone()
    }

    pub fn clear_calls(&self) {
        lock(&self.logs).calls.clear();
    }

    /// Decides due audits and finishes due fast registrations; answers the audit events to push
    /// (the registrations' pushes are sent from the outbox). Nothing due changes nothing.
    fn tick_code(&self) -> Vec<code::AuditEvent> {
        let now = self.now();
        let mut state = self.state();
        state.decide_due(now);
        state.finish_fast_registrations(now);
        let due = std::mem::take(&mut state.code.due);
        if !due.is_empty() || !state.outbox.is_empty() {
            self.flush_outbox(&mut state);
        }
        due
    }

    /// Sends whatever the rules queued, in order (and notes that the model may have changed).
    fn flush_outbox(&self, state: &mut SimState) {
        self.dirty.store(true, Ordering::Relaxed);
        for push in state.outbox.drain(..) {
            self.pushes_in_flight.fetch_add(1, Ordering::SeqCst);
            // The receiver lives as long as the simulator; after stop, pushes have nowhere to go.
            if self.push_tx.send(push).is_err() {
                self.pushes_in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

impl std::ops::Deref for Simulator {
    type Target = SimControl;
    fn deref(&self) -> &SimControl {
        &self.shared
    }
}

/// A running simulator. Dropping it does not stop it; call [`Simulator::stop`].
pub struct Simulator {
    shared: Arc<SimControl>,
    addr: SocketAddr,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("could not listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid seed: {0}")]
    Seed(String),
}

impl Simulator {
    /// Binds `listen` (port 0 picks one), loads the seed and starts serving and pushing.
    pub async fn start(
        listen: SocketAddr,
        settings: SimSettings,
        seed: Seed,
    ) -> Result<Self, SimError> {
        let mut state = SimState::new(settings.lifetimes);
        state.rotate_refresh_tokens = settings.rotate_refresh_tokens;
        for component in seed.components {
            state.add_component(component).map_err(SimError::Seed)?;
        }
        for account in seed.accounts {
            state.add_account(account);
        }
        if let Some(path) = &settings.state_file {
            if let Some(saved) = persist::load(path).map_err(SimError::Seed)? {
                state.restore(saved);
            }
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| SimError::Listen {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Listen {
            addr: listen,
            source,
        })?;
        let (push_tx, push_rx) = tokio::sync::mpsc::unbounded_channel();
        let shared = Arc::new(SimControl {
            state: Mutex::new(state),
            faults: Mutex::new(Faults {
                rules: Vec::new(),
                drops: PushDrops::default(),
            }),
            logs: Mutex::new(Logs::default()),
            chat: Mutex::new(chat::Chat::default()),
            release_checks: Mutex::new(std::collections::HashMap::new()),
            clock_offset_ms: AtomicI64::new(0),
            latency_ms: AtomicU64::new(0),
            faults_fired: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            settings,
            push_tx,
            pushes_in_flight: AtomicI64::new(0),
            dirty: std::sync::atomic::AtomicBool::new(false),
        });
        let shutdown = CancellationToken::new();
        let router = http::router(shared.clone());
        let serve_stop = shutdown.clone();
        let server = tokio::spawn(async move {
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async move { serve_stop.cancelled().await })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "the simulator's listener failed");
            }
        });
        let pusher = tokio::spawn(push::deliver(shared.clone(), push_rx, shutdown.clone()));
        let tickets = tokio::spawn(push::ticket_schedule(shared.clone(), shutdown.clone()));
        let audits = tokio::spawn(code::audit_clock(shared.clone(), shutdown.clone()));
        let mut tasks = vec![server, pusher, tickets, audits];
        if let Some(every) = shared.settings.chatter {
            tasks.push(tokio::spawn(chat::chatter(
                shared.clone(),
                every,
                shutdown.clone(),
            )));
        }
        if let Some(path) = shared.settings.state_file.clone() {
            tasks.push(tokio::spawn(persist::save_loop(
                shared.clone(),
                path,
                shutdown.clone(),
            )));
        }
        tracing::info!(%addr, "WeChat simulator listening");
        Ok(Self {
            shared,
            addr,
            shutdown,
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the value for all three `WXHUB_WECHAT_*_BASE` settings.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the pusher has dealt with everything queued so far (tests).
    pub async fn settle_pushes(&self, deadline: Duration) -> bool {
        let start = tokio::time::Instant::now();
        loop {
            if self.shared.pushes_in_flight.load(Ordering::SeqCst) <= 0 {
                return true;
            }
            if start.elapsed() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn control(&self) -> &Arc<SimControl> {
        &self.shared
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
