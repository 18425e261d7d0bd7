//! A webhook receiver for the demo, the tests and the benchmarks: it takes deliveries at
//! `POST /hooks/{name}`, checks their Standard Webhooks signature when it knows the secret, keeps
//! the newest ones in memory, and shows them at `/` for people. Tests script its answers (a status,
//! a hang, a passive reply) to play a failing or slow tenant.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

/// How many deliveries the sink remembers by default.
const KEEP: usize = 10_000;

/// What the sink answers to the next delivery.
#[derive(Debug, Clone)]
pub enum SinkAnswer {
    Status(u16),
    /// Waits this long before answering 200 (a slow tenant, or a timeout).
    Hang(Duration),
    /// 200 with this JSON body (a reply-mode answer), after this long.
    Json(serde_json::Value, Duration),
}

/// One delivery as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub hook: String,
    pub webhook_id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
    /// Whether the signature verified (`None`: the sink does not know this hook's secret).
    pub verified: Option<bool>,
    pub received_at_ms: i64,
}

#[derive(Default)]
struct SinkState {
    received: VecDeque<Received>,
    script: HashMap<String, VecDeque<SinkAnswer>>,
    secrets: HashMap<String, SecretString>,
    /// Hooks that answer a text message with a passive reply (the demo's reply-mode endpoint).
    echo: std::collections::HashSet<String>,
    total: u64,
    keep: usize,
}

#[derive(Clone)]
pub struct Sink {
    state: Arc<Mutex<SinkState>>,
}

/// A running sink.
pub struct RunningSink {
    pub sink: Sink,
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl RunningSink {
    /// The URL of hook `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/hooks/{name}", self.addr)
    }

    /// The webhook URL of a WeCom group robot with `key`; what it receives is hook `wecom:{key}`.
    pub fn wecom_url(&self, key: &str) -> String {
        format!("http://{}/cgi-bin/webhook/send?key={key}", self.addr)
    }
}

impl Drop for RunningSink {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Sink {
    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves the sink on `listen` until dropped, remembering the newest 10,000 deliveries.
    pub async fn start(listen: SocketAddr) -> std::io::Result<RunningSink> {
        Self::start_keeping(listen, KEEP).await
    }

    /// The same, remembering the newest `keep` deliveries (benchmarks keep them all).
    pub async fn start_keeping(listen: SocketAddr, keep: usize) -> std::io::Result<RunningSink> {
        let sink = Sink {
            state: Arc::new(Mutex::new(SinkState {
                keep,
                ..Default::default()
            })),
        };
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let router = Router::new()
            .route("/", get(page))
            .route("/hooks/{name}", post(receive))
            .route("/cgi-bin/webhook/send", post(wecom_robot))
            .with_state(sink.clone());
        let cancelled = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move { cancelled.cancelled().await })
                .await;
        });
        Ok(RunningSink { sink, addr, stop })
    }

    /// The secret to verify hook `name`'s deliveries with.
    pub fn set_secret(&self, name: &str, secret: SecretString) {
        self.lock().secrets.insert(name.to_owned(), secret);
    }

    /// Makes hook `name` answer each text message with a passive reply quoting it (a reply-mode
    /// endpoint's answer; async endpoints' answers are ignored by wxhub).
    pub fn set_echo(&self, name: &str) {
        self.lock().echo.insert(name.to_owned());
    }

    /// Queues answers for hook `name`'s next deliveries (then 200 again).
    pub fn script(&self, name: &str, answers: impl IntoIterator<Item = SinkAnswer>) {
        self.lock()
            .script
            .entry(name.to_owned())
            .or_default()
            .extend(answers);
    }

    /// What hook `name` received, oldest first (every hook for `None`).
    pub fn received(&self, name: Option<&str>) -> Vec<Received> {
        self.lock()
            .received
            .iter()
            .filter(|r| name.is_none_or(|n| r.hook == n))
            .cloned()
            .collect()
    }

    /// Deliveries received since the start.
    pub fn total(&self) -> u64 {
        self.lock().total
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn receive(
    State(sink): State<Sink>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = crate::now_ms();
    let webhook_id = header(&headers, "webhook-id");
    let timestamp = header(&headers, "webhook-timestamp").parse().unwrap_or(0);
    let signature = header(&headers, "webhook-signature");
    let answer = {
        let mut state = sink.lock();
        let verified = state.secrets.get(&name).map(|secret| {
            crate::webhooks::signing::verify(
                secret,
                &webhook_id,
                timestamp,
                &body,
                &signature,
                now / 1000,
                300,
            )
        });
        state.received.push_back(Received {
            hook: name.clone(),
            webhook_id,
            timestamp,
            signature,
            body: String::from_utf8_lossy(&body).into_owned(),
            verified,
            received_at_ms: now,
        });
        state.total += 1;
        if state.received.len() > state.keep {
            state.received.pop_front();
        }
        let scripted = state.script.get_mut(&name).and_then(VecDeque::pop_front);
        scripted.or_else(|| {
            state
                .echo
                .contains(&name)
                .then(|| echo_reply(&body))
                .flatten()
        })
    };
    match answer {
        None => (StatusCode::OK, "ok").into_response(),
        Some(SinkAnswer::Status(code)) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "scripted answer",
        )
            .into_response(),
        Some(SinkAnswer::Hang(d)) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "late").into_response()
        }
        Some(SinkAnswer::Json(v, d)) => {
            tokio::time::sleep(d).await;
            axum::Json(v).into_response()
        }
    }
}

/// A WeCom group robot (企业微信群机器人): `POST /cgi-bin/webhook/send?key=…` with a markdown or
/// text message, answered `{"errcode":0,"errmsg":"ok"}` as the robot does (HTTP 200 even when
/// refusing). Kept as hook `wecom:{key}`; scripted answers for that hook replace the answer.
async fn wecom_robot(
    State(sink): State<Sink>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    body: Bytes,
) -> Response {
    let key = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let refusal = |code: i64, msg: &str| {
        axum::Json(serde_json::json!({ "errcode": code, "errmsg": msg })).into_response()
    };
    if key.is_empty() {
        return refusal(93000, "invalid webhook url, hint: key is missing");
    }
    let message: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let content = message.as_ref().and_then(|m| match m["msgtype"].as_str() {
        Some("markdown") => m["markdown"]["content"].as_str(),
        Some("text") => m["text"]["content"].as_str(),
        _ => None,
    });
    let Some(content) = content else {
        return refusal(40008, "invalid message type");
    };
    if content.len() > 4096 {
        return refusal(40058, "markdown.content exceed max length 4096");
    }
    let hook = format!("wecom:{key}");
    let scripted = {
        let mut state = sink.lock();
        state.received.push_back(Received {
            hook: hook.clone(),
            webhook_id: String::new(),
            timestamp: 0,
            signature: String::new(),
            body: String::from_utf8_lossy(&body).into_owned(),
            verified: None,
            received_at_ms: crate::now_ms(),
        });
        state.total += 1;
        if state.received.len() > state.keep {
            state.received.pop_front();
        }
        state.script.get_mut(&hook).and_then(VecDeque::pop_front)
    };
    match scripted {
        None => refusal(0, "ok"),
        Some(SinkAnswer::Status(code)) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "scripted answer",
        )
            .into_response(),
        Some(SinkAnswer::Hang(d)) => {
            tokio::time::sleep(d).await;
            refusal(0, "ok")
        }
        Some(SinkAnswer::Json(v, d)) => {
            tokio::time::sleep(d).await;
            axum::Json(v).into_response()
        }
    }
}

/// `{"reply": {"type": "text", "content": "…"}}` quoting a text message, or nothing for other events.
fn echo_reply(body: &[u8]) -> Option<SinkAnswer> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    (v["type"] == "wechat.message.text").then_some(())?;
    let text = v["data"]["fields"]["Content"].as_str()?;
    Some(SinkAnswer::Json(
        serde_json::json!({ "reply": { "type": "text", "content": format!("Demo sink received: {text} · 已收到") } }),
        Duration::ZERO,
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn page(State(sink): State<Sink>) -> Html<String> {
    let received = sink.received(None);
    let rows: String = received
        .iter()
        .rev()
        .take(100)
        .map(|r| {
            let kind = serde_json::from_str::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| {
                    v["type"]
                        .as_str()
                        .or_else(|| v["msgtype"].as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            let verified = match r.verified {
                Some(true) => "✔ signature verified",
                Some(false) => "✘ bad signature",
                None => "(secret unknown)",
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{verified}</td><td><pre>{}</pre></td></tr>",
                crate::rfc3339(r.received_at_ms),
                escape(&r.hook),
                escape(&r.webhook_id),
                escape(&kind),
                escape(&r.body.chars().take(600).collect::<String>())
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html><head><meta charset=utf-8><title>wxhub demo webhook sink</title>\
         <meta http-equiv=refresh content=5><style>body{{font-family:system-ui;margin:2rem}}table{{border-collapse:collapse}}\
         td{{border-top:1px solid #ddd;padding:.4rem;vertical-align:top;font-size:.85rem}}pre{{white-space:pre-wrap;max-width:48rem;margin:0}}</style></head>\
         <body><h1>Webhook sink</h1><p>Tenant webhooks arrive at <code>/hooks/{{name}}</code>, WeCom robot messages at <code>/cgi-bin/webhook/send?key=…</code> (shown as hook <code>wecom:…</code>). {} deliveries received. The newest 100, newest first; this page reloads every 5 s.</p>\
         <table><tr><th>received</th><th>hook</th><th>webhook-id</th><th>type</th><th>signature</th><th>body</th></tr>{rows}</table></body></html>",
        sink.total()
    ))
}
