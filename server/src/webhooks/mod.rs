//! Webhooks to the tenants' systems, as the wire sees them: what an event looks like
//! ([`message_payload`]), how it is signed ([`signing`], Standard Webhooks), where it may be sent
//! ([`guard`]), one attempt over HTTP ([`Sender`]), and what a reply-mode endpoint may answer
//! ([`reply`]). The outbox and its worker are the engine's (`engine::webhooks`); the endpoints'
//! rules are the operations' (`ops::webhooks`).

pub mod guard;
pub mod reply;
pub mod signing;

use std::time::{Duration, Instant};

use rand::RngCore;
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};

use crate::store::ClaimedDelivery;
use crate::wechat::xml::{AccountMessage, XmlElement};

/// The test event a tenant sends from the console.
pub const TEST_EVENT_TYPE: &str = "wxhub.test";
/// How much of an endpoint's answer is kept on the delivery row.
pub const EXCERPT_BYTES: usize = 1024;

/// A new event id (`webhook-id`): `msg_` and 24 random hex digits.
pub fn new_event_id() -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("msg_{}", hex::encode(bytes))
}

/// A name part of an event type: WeChat's word, lower-cased, limited to `[a-z0-9_]`.
fn type_word(word: &str) -> String {
    let cleaned: String = word
        .chars()
        .take(64)
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "unknown".into()
    } else {
        cleaned
    }
}

/// `wechat.message.text`, `wechat.event.subscribe`, … for a message or event.
pub fn message_event_type(message: &AccountMessage) -> String {
    match &message.event {
        Some(event) => format!("wechat.event.{}", type_word(event)),
        None => format!("wechat.message.{}", type_word(&message.msg_type)),
    }
}

/// `wechat.authorization.authorized` and its siblings.
pub fn authorization_event_type(info_type: &str) -> String {
    format!("wechat.authorization.{}", type_word(info_type))
}

/// Every XML field as JSON: text as a string, nested elements as objects, repeated names as
/// arrays.
pub fn xml_fields(root: &XmlElement) -> Value {
    let mut map = Map::new();
    for child in &root.children {
        let value = if child.children.is_empty() {
            Value::String(child.text.trim().to_owned())
        } else {
            xml_fields(child)
        };
        match map.get_mut(&child.name) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(child.name.clone(), value);
            }
        }
    }
    Value::Object(map)
}

/// The body of a message's delivery.
pub fn message_payload(
    event_type: &str,
    component_appid: &str,
    authorizer_appid: &str,
    message: &AccountMessage,
    xml: &str,
    now_ms: i64,
) -> Value {
    json!({
        "type": event_type,
        "timestamp": crate::rfc3339(now_ms),
        "data": {
            "component_appid": component_appid,
            "authorizer_appid": authorizer_appid,
            "from_user": message.from_user,
            "to_user": message.to_user,
            "create_time": message.create_time,
            "msg_id": message.msg_id,
            "msg_type": message.msg_type,
            "event": message.event,
            "fields": xml_fields(&message.root),
            "xml": xml,
        }
    })
}

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// Why it failed; `None` for a 2xx.
    pub error: Option<String>,
    pub excerpt: Option<String>,
    /// The body of a 2xx answer, when asked for (reply mode), up to [`reply::MAX_REPLY_BYTES`].
    pub body: Option<Vec<u8>>,
}

/// Sends deliveries: one HTTP client that checks every address it connects to, follows no
/// redirect and uses no proxy.
#[derive(Debug, Clone)]
pub struct Sender {
    http: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    pub fn new(allow_private: bool) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .dns_resolver(guard::GuardedResolver { allow_private }.shared())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(16)
            .user_agent(concat!("wxhub-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            allow_private,
        })
    }

    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// One signed POST of a delivery, within `timeout`.
    pub async fn attempt(
        &self,
        d: &ClaimedDelivery,
        timeout: Duration,
        want_body: bool,
    ) -> Attempt {
        let body = d.payload.expose_secret().as_bytes().to_vec();
        self.post_signed(&d.url, &d.secrets, &d.event_id, body, timeout, want_body)
            .await
    }

    /// One POST of a JSON body signed as Standard Webhooks (`webhook-id` is `id`, the same on
    /// every retry), within `timeout`.
    pub async fn post_signed(
        &self,
        url: &str,
        secrets: &[secrecy::SecretString],
        id: &str,
        body: Vec<u8>,
        timeout: Duration,
        want_body: bool,
    ) -> Attempt {
        let timestamp = crate::now_ms() / 1000;
        let signature = match signing::sign(secrets, id, timestamp, &body) {
            Ok(s) => s,
            Err(e) => {
                return Attempt {
                    status: None,
                    latency_ms: 0,
                    error: Some(e.to_string()),
                    excerpt: None,
                    body: None,
                }
            }
        };
        let headers = [
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        self.post_json(url, &headers, body, timeout, want_body)
            .await
    }

    /// One POST of a JSON body with `headers`, through the address guard, within `timeout`.
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
        want_body: bool,
    ) -> Attempt {
        let started = Instant::now();
        let elapsed = |started: Instant| started.elapsed().as_millis() as i64;
        let failed = |error: String, status: Option<u16>, excerpt: Option<String>| Attempt {
            status,
            latency_ms: elapsed(started),
            error: Some(error),
            excerpt,
            body: None,
        };
        if let Err(refused) = guard::check_url(url, self.allow_private) {
            return failed(refused.to_string(), None, None);
        }
        let mut request = self
            .http
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let sent = request.body(body).send().await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return failed(describe(&e), None, None),
        };
        let status = response.status().as_u16();
        let limit = if want_body {
            reply::MAX_REPLY_BYTES
        } else {
            EXCERPT_BYTES
        };
        let mut read = Vec::new();
        let mut read_error = None;
        loop {
            match tokio::time::timeout(timeout.saturating_sub(started.elapsed()), response.chunk())
                .await
            {
                Ok(Ok(Some(chunk))) => {
                    read.extend_from_slice(&chunk);
                    if read.len() >= limit {
                        read.truncate(limit);
                        break;
                    }
                }
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    read_error = Some(describe(&e));
                    break;
                }
                Err(_) => {
                    read_error = Some("timed out reading the answer".into());
                    break;
                }
            }
        }
        let excerpt = Some(excerpt_of(&read)).filter(|e| !e.is_empty());
        if !(200..300).contains(&status) {
            return failed(format!("answered HTTP {status}"), Some(status), excerpt);
        }
        Attempt {
            status: Some(status),
            latency_ms: elapsed(started),
            error: None,
            excerpt,
            body: (want_body && read_error.is_none()).then_some(read),
        }
    }
}

/// The start of an answer as text (at most [`EXCERPT_BYTES`], cut on a character boundary).
fn excerpt_of(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT_BYTES)]);
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect()
}

/// A transport failure in words an operator can act on, without the URL's query (it may hold a
/// token of the tenant's).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "answered with a redirect"
    } else if e.is_body() || e.is_decode() {
        "broke off its answer"
    } else {
        "failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_and_fields() {
        let xml = "<xml><ToUserName>gh_a</ToUserName><FromUserName>o_u</FromUserName><CreateTime>5</CreateTime>\
                   <MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><List><Item>1</Item><Item>2</Item></List></xml>";
        let m = crate::wechat::xml::parse_account_message(xml.as_bytes());
        let Ok(m) = m else { panic!("parses") };
        assert_eq!(message_event_type(&m), "wechat.event.templatesendjobfinish");
        let fields = xml_fields(&m.root);
        assert_eq!(fields["Event"], "TEMPLATESENDJOBFINISH");
        assert_eq!(fields["List"]["Item"], json!(["1", "2"]));
        assert_eq!(type_word("we<ird>.x"), "we_ird__x");
        assert_eq!(type_word(""), "unknown");
        assert_eq!(
            authorization_event_type("unauthorized"),
            "wechat.authorization.unauthorized"
        );
        assert!(new_event_id().starts_with("msg_"));
        assert_eq!(new_event_id().len(), 28);
    }
}
