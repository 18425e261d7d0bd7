//! Notification channels: what each kind's configuration holds and how it is checked, what a
//! notice looks like on it, and one attempt at sending it.
//!
//! - **WeCom group robot** (企业微信群机器人): a POST of `{"msgtype":"markdown",...}` to the robot's
//!   webhook URL (`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`). The robot answers
//!   HTTP 200 with an `errcode`; anything but 0 is a failure (45009 is its rate limit, 20 a
//!   minute). Its markdown content is at most 4,096 bytes.
//! - **JSON webhook**: a POST signed as Standard Webhooks with a secret wxhub makes (shown once),
//!   exactly as the tenant webhooks of issue 8 are; `webhook-id` is the notification's, so a
//!   receiver can de-duplicate retries.
//! - **E-mail over SMTP** (lettre): plain, STARTTLS or implicit TLS, optional login. The host is
//!   resolved once and the connection pinned to an address the guard allows, so a name cannot
//!   re-point to the private network between the check and the connection.
//!
//! The whole configuration is sealed in the store (it holds the robot key, the signing secret,
//! the SMTP password); `summary` is what the console may show.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rules::Rule;
use crate::ops::OpError;
use crate::webhooks::{guard, signing, Sender};

/// The most bytes of markdown a WeCom robot takes.
pub const WECOM_MAX_BYTES: usize = 4096;
/// Recipients of one e-mail channel.
pub const MAX_RECIPIENTS: usize = 10;
const MAX_NAME: usize = 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// No TLS (a relay on the same network; tests).
    None,
    /// STARTTLS, required (port 587).
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
}

impl SmtpSecurity {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(SmtpSecurity::None),
            "starttls" => Some(SmtpSecurity::Starttls),
            "tls" => Some(SmtpSecurity::Tls),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::None => "none",
            SmtpSecurity::Starttls => "starttls",
            SmtpSecurity::Tls => "tls",
        }
    }
}

/// A channel's configuration, as sealed in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChannelConfig {
    WecomRobot {
        url: String,
    },
    Webhook {
        url: String,
        secret: String,
    },
    Email {
        host: String,
        port: u16,
        security: SmtpSecurity,
        username: Option<String>,
        password: Option<String>,
        from: String,
        to: Vec<String>,
    },
}

impl ChannelConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelConfig::WecomRobot { .. } => "wecom_robot",
            ChannelConfig::Webhook { .. } => "webhook",
            ChannelConfig::Email { .. } => "email",
        }
    }

    pub fn to_secret(&self) -> SecretString {
        SecretString::from(serde_json::to_string(self).unwrap_or_default())
    }

    pub fn from_secret(sealed_json: &SecretString) -> Result<Self, String> {
        serde_json::from_str(sealed_json.expose_secret())
            .map_err(|_| "the channel's stored configuration is unreadable".to_owned())
    }
}

/// What a person asks for in the console (every field text, as a form sends it).
#[derive(Debug, Clone, Default)]
pub struct ChannelRequest {
    pub kind: String,
    pub name: String,
    pub url: String,
    pub host: String,
    pub port: String,
    pub security: String,
    pub username: String,
    pub password: String,
    pub from: String,
    pub to: String,
}

/// A checked request: the configuration to seal, what may be shown, and the secret to show
/// once (a webhook's).
#[derive(Debug)]
pub struct CheckedChannel {
    pub name: String,
    pub config: ChannelConfig,
    pub summary: String,
    pub shown_once: Option<SecretString>,
}

fn invalid(field: &'static str, en: impl Into<String>, zh: impl Into<String>) -> OpError {
    OpError::invalid(field, en, zh)
}

fn one_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

/// Checks a request into a configuration (resolving names through the address guard).
pub async fn check(req: &ChannelRequest, allow_private: bool) -> Result<CheckedChannel, OpError> {
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME || !one_line(&name) {
        return Err(invalid(
            "name",
            "a channel needs a name of at most 80 characters, on one line",
            "渠道名称必填，最多 80 个字符，且只能一行",
        ));
    }
    match req.kind.trim() {
        "wecom_robot" => {
            let url = guard::check_url_resolving(&req.url, allow_private)
                .await
                .map_err(|e| invalid("url", e.to_string(), e.zh()))?;
            let key = url
                .query_pairs()
                .find(|(k, _)| k == "key")
                .map(|(_, v)| v.into_owned())
                .filter(|k| !k.trim().is_empty())
                .ok_or_else(|| {
                    invalid(
                        "url",
                        "a WeCom robot's webhook URL ends in ?key=… (copy it from the robot's settings)",
                        "企业微信机器人的 Webhook 地址应以 ?key=… 结尾（从机器人设置中复制）",
                    )
                })?;
            let tail: String = key
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Ok(CheckedChannel {
                name,
                summary: format!(
                    "{}{} · key …{tail}",
                    url.host_str().unwrap_or(""),
                    url.path()
                ),
                config: ChannelConfig::WecomRobot {
                    url: url.to_string(),
                },
                shown_once: None,
            })
        }
        "webhook" => {
            let url = guard::check_url_resolving(&req.url, allow_private)
                .await
                .map_err(|e| invalid("url", e.to_string(), e.zh()))?;
            let secret = signing::new_secret();
            let mut shown = url.clone();
            shown.set_query(None);
            Ok(CheckedChannel {
                name,
                summary: shown.to_string(),
                config: ChannelConfig::Webhook {
                    url: url.to_string(),
                    secret: secret.expose_secret().to_owned(),
                },
                shown_once: Some(secret),
            })
        }
        "email" => check_email(name, req, allow_private).await,
        _ => Err(invalid(
            "kind",
            "the kind must be wecom_robot, webhook or email",
            "渠道类型必须是 wecom_robot、webhook 或 email",
        )),
    }
}

fn mailbox(field: &'static str, text: &str) -> Result<lettre::message::Mailbox, OpError> {
    let text = text.trim();
    if text.len() > 254 || !one_line(text) {
        return Err(invalid(
            field,
            "not an e-mail address",
            "不是有效的电子邮件地址",
        ));
    }
    text.parse::<lettre::message::Mailbox>().map_err(|_| {
        invalid(
            field,
            format!("{text:?} is not an e-mail address"),
            "不是有效的电子邮件地址",
        )
    })
}

async fn check_email(
    name: String,
    req: &ChannelRequest,
    allow_private: bool,
) -> Result<CheckedChannel, OpError> {
    let host = req.host.trim().to_ascii_lowercase();
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    if !host_ok {
        return Err(invalid(
            "host",
            "the SMTP host must be a host name or an address",
            "SMTP 主机必须是主机名或 IP 地址",
        ));
    }
    let security = SmtpSecurity::parse(req.security.trim()).ok_or_else(|| {
        invalid(
            "security",
            "security must be none, starttls or tls",
            "加密方式必须是 none、starttls 或 tls",
        )
    })?;
    let port = match req.port.trim() {
        "" => match security {
            SmtpSecurity::None => 25,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
        },
        text => text.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            invalid(
                "port",
                "the port must be a number from 1 to 65535",
                "端口必须是 1 到 65535 之间的数字",
            )
        })?,
    };
    resolve_smtp(&host, port, allow_private).await?;
    let username = Some(req.username.trim().to_owned()).filter(|u| !u.is_empty());
    let password = Some(req.password.clone()).filter(|p| !p.is_empty());
    if username
        .as_deref()
        .is_some_and(|u| u.len() > 254 || !one_line(u))
        || password.as_deref().is_some_and(|p| p.len() > 1024)
    {
        return Err(invalid(
            "username",
            "the login is too long or spans lines",
            "用户名或密码过长，或包含换行",
        ));
    }
    if username.is_some() != password.is_some() {
        return Err(invalid(
            "password",
            "give both a user name and a password, or neither",
            "用户名和密码需同时填写或都不填",
        ));
    }
    if password.is_some() && security == SmtpSecurity::None {
        return Err(invalid(
            "security",
            "a password is only sent over STARTTLS or TLS",
            "密码只能通过 STARTTLS 或 TLS 发送",
        ));
    }
    let from = mailbox("from", &req.from)?;
    let mut to = Vec::new();
    for part in req
        .to
        .split([',', '\n', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let m = mailbox("to", part)?;
        if !to.contains(&m.to_string()) {
            to.push(m.to_string());
        }
    }
    if to.is_empty() || to.len() > MAX_RECIPIENTS {
        return Err(invalid(
            "to",
            "between 1 and 10 recipients",
            "收件人需 1 到 10 个",
        ));
    }
    Ok(CheckedChannel {
        name,
        summary: format!("{host}:{port} ({}) → {}", security.as_str(), to.join(", ")),
        config: ChannelConfig::Email {
            host,
            port,
            security,
            username,
            password,
            from: from.to_string(),
            to,
        },
        shown_once: None,
    })
}

/// The address to connect to for an SMTP host: the first it resolves to, refused when any is one
/// the guard forbids.
async fn resolve_smtp(host: &str, port: u16, allow_private: bool) -> Result<IpAddr, OpError> {
    let refused = || {
        invalid(
            "host",
            format!("{host} is on a private network, which channels may not reach"),
            format!("{host} 位于内网，通知渠道不能访问"),
        )
    };
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            if !allow_private && (host == "localhost" || host.ends_with(".localhost")) {
                return Err(refused());
            }
            tokio::net::lookup_host((host, port))
                .await
                .map(|a| a.collect())
                .unwrap_or_default()
        }
    };
    let Some(first) = addrs.first() else {
        return Err(invalid(
            "host",
            format!("{host} does not resolve"),
            format!("无法解析 {host}"),
        ));
    };
    if !allow_private && addrs.iter().any(|a| guard::is_forbidden(a.ip())) {
        return Err(refused());
    }
    Ok(first.ip())
}

/// What a notice says, read from a notification's stored facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `ntf_…`: the same on every attempt.
    pub id: String,
    /// firing, reminder, resolved or test.
    pub event: String,
    pub rule: Option<Rule>,
    pub message: String,
    pub message_zh: String,
    pub firing_since: i64,
    pub at: i64,
    /// The console, to look closer.
    pub link: Option<String>,
}

impl Notice {
    /// Reads a notification's content; `None` when it is not ours (never sent as garbage).
    pub fn from_content(id: i64, content: &str, link: Option<String>) -> Option<Notice> {
        let v: serde_json::Value = serde_json::from_str(content).ok()?;
        Some(Notice {
            id: format!("ntf_{id}"),
            event: v["event"].as_str()?.to_owned(),
            rule: v["rule"].as_str().and_then(Rule::parse),
            message: v["message"].as_str()?.to_owned(),
            message_zh: v["message_zh"].as_str().unwrap_or("").to_owned(),
            firing_since: v["firing_since"].as_i64().unwrap_or(0),
            at: v["at"].as_i64().unwrap_or(0),
            link,
        })
    }

    /// The test a person asks for from the console.
    pub fn test(link: Option<String>, now: i64) -> Notice {
        Notice {
            id: format!("ntf_test_{}", crate::webhooks::new_event_id()),
            event: "test".into(),
            rule: None,
            message: "A test notification from wxhub: this channel works.".into(),
            message_zh: "来自 wxhub 的测试通知：此渠道可用。".into(),
            firing_since: now,
            at: now,
            link,
        }
    }

    fn headline(&self) -> (String, &'static str) {
        let title = self.rule.map(Rule::title).unwrap_or("Test notification");
        let title_zh = self.rule.map(Rule::title_zh).unwrap_or("测试通知");
        let (word, word_zh) = match self.event.as_str() {
            "firing" => ("FIRING", "告警"),
            "reminder" => ("STILL FIRING", "持续告警"),
            "resolved" => ("RESOLVED", "已恢复"),
            _ => ("TEST", "测试"),
        };
        (format!("{word} · {title} / {word_zh} · {title_zh}"), word)
    }

    /// The WeCom robot's message (markdown, cut to its limit on a character boundary).
    pub fn wecom_markdown(&self) -> serde_json::Value {
        let (headline, word) = self.headline();
        let colour = match word {
            "RESOLVED" => "info",
            "TEST" => "comment",
            _ => "warning",
        };
        let mut text = format!(
            "### <font color=\"{colour}\">{headline}</font>\n> {}\n> {}\n",
            self.message, self.message_zh
        );
        if self.event != "test" {
            text.push_str(&format!(
                "\n<font color=\"comment\">since {} · {}</font>\n",
                crate::rfc3339(self.firing_since),
                self.id
            ));
        }
        if let Some(link) = &self.link {
            text.push_str(&format!("\n[Open wxhub / 打开 wxhub]({link})"));
        }
        json!({ "msgtype": "markdown", "markdown": { "content": cut(&text, WECOM_MAX_BYTES) } })
    }

    /// The generic webhook's body.
    pub fn webhook_body(&self) -> serde_json::Value {
        json!({
            "type": format!("wxhub.alert.{}", self.event),
            "id": self.id,
            "timestamp": crate::rfc3339(self.at),
            "data": {
                "rule": self.rule.map(Rule::as_str),
                "title": self.rule.map(Rule::title).unwrap_or("Test notification"),
                "title_zh": self.rule.map(Rule::title_zh).unwrap_or("测试通知"),
                "message": self.message,
                "message_zh": self.message_zh,
                "firing_since": crate::rfc3339(self.firing_since),
                "link": self.link,
            }
        })
    }

    /// The e-mail's subject and plain-text body.
    pub fn email(&self) -> (String, String) {
        let (headline, _) = self.headline();
        let mut body = format!("{}\n\n{}\n", self.message, self.message_zh);
        if self.event != "test" {
            body.push_str(&format!(
                "\nFiring since / 开始于: {}\nNotice / 通知编号: {}\n",
                crate::rfc3339(self.firing_since),
                self.id
            ));
        }
        if let Some(link) = &self.link {
            body.push_str(&format!("\n{link}\n"));
        }
        (format!("[wxhub] {headline}"), body)
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// One attempt at sending `notice` on a channel; the error in words an operator can act on.
pub async fn send(
    sender: &Sender,
    config: &ChannelConfig,
    notice: &Notice,
    timeout: Duration,
) -> Result<(), String> {
    match config {
        ChannelConfig::WecomRobot { url } => {
            let body = notice.wecom_markdown().to_string().into_bytes();
            let attempt = sender.post_json(url, &[], body, timeout, true).await;
            if let Some(error) = attempt.error {
                return Err(error);
            }
            let answer: serde_json::Value = attempt
                .body
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .ok_or("the robot's answer is not JSON")?;
            match answer["errcode"].as_i64() {
                Some(0) => Ok(()),
                Some(code) => Err(format!(
                    "the robot answered errcode {code}: {}",
                    answer["errmsg"]
                        .as_str()
                        .unwrap_or("")
                        .chars()
                        .take(200)
                        .collect::<String>()
                )),
                None => Err("the robot's answer has no errcode".into()),
            }
        }
        ChannelConfig::Webhook { url, secret } => {
            let body = notice.webhook_body().to_string().into_bytes();
            let secrets = [SecretString::from(secret.clone())];
            let attempt = sender
                .post_signed(url, &secrets, &notice.id, body, timeout, false)
                .await;
            attempt.error.map_or(Ok(()), Err)
        }
        ChannelConfig::Email {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
        } => {
            let ip = resolve_smtp(host, *port, sender.allow_private())
                .await
                .map_err(|e| e.to_string())?;
            send_email(
                ip,
                host,
                *port,
                *security,
                username.as_deref(),
                password.as_deref(),
                from,
                to,
                notice,
                timeout,
            )
            .await
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_email(
    ip: IpAddr,
    host: &str,
    port: u16,
    security: SmtpSecurity,
    username: Option<&str>,
    password: Option<&str>,
    from: &str,
    to: &[String],
    notice: &Notice,
    timeout: Duration,
) -> Result<(), String> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    let (subject, body) = notice.email();
    let mut message = Message::builder()
        .from(from.parse().map_err(|_| "the sender address is unusable")?)
        .subject(subject)
        .header(lettre::message::header::ContentType::TEXT_PLAIN);
    for r in to {
        message = message.to(r.parse().map_err(|_| "a recipient address is unusable")?);
    }
    let message = message
        .body(body)
        .map_err(|e| format!("the message could not be built: {e}"))?;
    let tls = match security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::Starttls | SmtpSecurity::Tls => {
            let params =
                TlsParameters::new(host.to_owned()).map_err(|e| format!("TLS for {host}: {e}"))?;
            if security == SmtpSecurity::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ip.to_string())
        .port(port)
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(u), Some(p)) = (username, password) {
        transport = transport.credentials(Credentials::new(u.to_owned(), p.to_owned()));
    }
    let sent = tokio::time::timeout(timeout, transport.build().send(message)).await;
    match sent {
        Err(_) => Err(format!("{host}:{port} timed out")),
        Ok(Err(e)) => Err(describe_smtp(&e, host, port)),
        Ok(Ok(_)) => Ok(()),
    }
}

/// An SMTP failure without anything the server echoed that might hold a secret.
fn describe_smtp(e: &lettre::transport::smtp::Error, host: &str, port: u16) -> String {
    if let Some(code) = e.status() {
        format!("{host}:{port} refused the message (SMTP {code})")
    } else if e.is_timeout() {
        format!("{host}:{port} timed out")
    } else if e.is_tls() {
        format!("{host}:{port}: TLS failed")
    } else {
        format!("{host}:{port}: could not connect or the connection broke")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: &str) -> ChannelRequest {
        ChannelRequest {
            kind: kind.into(),
            name: "ops".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn garbage_configurations_are_refused_field_by_field() {
        let cases: Vec<(ChannelRequest, &str)> = vec![
            (request("pager"), "kind"),
            (
                ChannelRequest {
                    name: "".into(),
                    ..request("webhook")
                },
                "name",
            ),
            (
                ChannelRequest {
                    name: "a\nb".into(),
                    ..request("webhook")
                },
                "name",
            ),
            (
                ChannelRequest {
                    name: "x".repeat(81),
                    ..request("webhook")
                },
                "name",
            ),
            (
                ChannelRequest {
                    url: "ftp://x".into(),
                    ..request("webhook")
                },
                "url",
            ),
            (
                ChannelRequest {
                    url: "http://10.0.0.1/hook".into(),
                    ..request("webhook")
                },
                "url",
            ),
            (
                ChannelRequest {
                    url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send".into(),
                    ..request("wecom_robot")
                },
                "url",
            ),
            (
                ChannelRequest {
                    url: "https://127.0.0.1/cgi-bin/webhook/send?key=k".into(),
                    ..request("wecom_robot")
                },
                "url",
            ),
            (
                ChannelRequest {
                    host: "".into(),
                    ..request("email")
                },
                "host",
            ),
            (
                ChannelRequest {
                    host: "smtp example".into(),
                    security: "tls".into(),
                    ..request("email")
                },
                "host",
            ),
            (
                ChannelRequest {
                    host: "127.0.0.1".into(),
                    security: "ssl".into(),
                    ..request("email")
                },
                "security",
            ),
            (
                ChannelRequest {
                    host: "127.0.0.1".into(),
                    security: "tls".into(),
                    port: "70000".into(),
                    ..request("email")
                },
                "port",
            ),
            (
                ChannelRequest {
                    host: "127.0.0.1".into(),
                    security: "tls".into(),
                    ..request("email")
                },
                "host",
            ),
            (
                ChannelRequest {
                    host: "localhost".into(),
                    security: "tls".into(),
                    ..request("email")
                },
                "host",
            ),
        ];
        for (req, field) in cases {
            match check(&req, false).await {
                Err(OpError::Invalid { field: f, .. }) => assert_eq!(f, field, "{req:?}"),
                other => panic!("{req:?}: {other:?}"),
            }
        }
        let email = |from: &str, to: &str, user: &str, pass: &str, security: &str| ChannelRequest {
            host: "127.0.0.1".into(),
            security: security.into(),
            from: from.into(),
            to: to.into(),
            username: user.into(),
            password: pass.into(),
            ..request("email")
        };
        let private_ok = [
            (email("not an address", "a@b.c", "", "", "tls"), "from"),
            (email("a@b.c", "", "", "", "tls"), "to"),
            (email("a@b.c", "x@y.z, nope", "", "", "tls"), "to"),
            (
                email(
                    "a@b.c",
                    &(0..11)
                        .map(|i| format!("u{i}@b.c"))
                        .collect::<Vec<_>>()
                        .join(","),
                    "",
                    "",
                    "tls",
                ),
                "to",
            ),
            (email("a@b.c", "x@y.z", "user", "", "tls"), "password"),
            (email("a@b.c", "x@y.z", "user", "pw", "none"), "security"),
        ];
        for (req, field) in private_ok {
            match check(&req, true).await {
                Err(OpError::Invalid { field: f, .. }) => assert_eq!(f, field, "{req:?}"),
                other => panic!("{req:?}: {other:?}"),
            }
        }
        let good = check(
            &email(
                "wxhub <alerts@example.com>",
                "a@example.com; b@example.com",
                "u",
                "p",
                "starttls",
            ),
            true,
        )
        .await
        .unwrap();
        assert_eq!(
            good.summary,
            "127.0.0.1:587 (starttls) → a@example.com, b@example.com"
        );
        assert!(!good.summary.contains('p') || !good.summary.contains("\"p\""));
    }

    #[tokio::test]
    async fn a_webhook_secret_is_made_once_and_a_robot_key_is_never_shown() {
        let hook = check(
            &ChannelRequest {
                url: "http://127.0.0.1:9/hooks/x?token=abc".into(),
                ..request("webhook")
            },
            true,
        )
        .await
        .unwrap();
        assert!(hook.shown_once.is_some());
        assert_eq!(hook.summary, "http://127.0.0.1:9/hooks/x");
        let robot = check(
            &ChannelRequest {
                url: "http://127.0.0.1:9/cgi-bin/webhook/send?key=0123456789abcdef".into(),
                ..request("wecom_robot")
            },
            true,
        )
        .await
        .unwrap();
        assert!(!robot.summary.contains("0123456789ab"), "{}", robot.summary);
        assert!(robot.summary.ends_with("…cdef"));
        let round = ChannelConfig::from_secret(&robot.config.to_secret()).unwrap();
        assert_eq!(round, robot.config);
        assert!(ChannelConfig::from_secret(&SecretString::from("{".to_owned())).is_err());
    }

    #[test]
    fn a_robot_message_stays_within_its_limit_on_a_character_boundary() {
        let notice = Notice {
            id: "ntf_1".into(),
            event: "firing".into(),
            rule: Some(Rule::DeadLetters),
            message: "死".repeat(3000),
            message_zh: "信".repeat(3000),
            firing_since: 0,
            at: 0,
            link: Some("https://wx.example.com/".into()),
        };
        let v = notice.wecom_markdown();
        let content = v["markdown"]["content"].as_str().unwrap();
        assert!(content.len() <= WECOM_MAX_BYTES);
        assert!(content.starts_with("### <font color=\"warning\">FIRING · Webhook dead letters"));
        assert_eq!(v["msgtype"], "markdown");
        assert_eq!(Notice::from_content(1, "not json", None), None);
        assert_eq!(Notice::from_content(1, "{\"event\": 5}", None), None);
        let body = notice.webhook_body();
        assert_eq!(body["type"], "wxhub.alert.firing");
        assert_eq!(body["data"]["rule"], "dead_letters");
    }
}
