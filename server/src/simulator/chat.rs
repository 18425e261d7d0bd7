//! Users talking to authorized accounts, as WeChat would relay them: a user's text or event is
//! encrypted with the component's key and posted to the component's message URL
//! (`…/message/{appid}`, derived from its notify URL as wxhub's console says to configure it), and
//! the answer (`success`, empty, or an encrypted passive reply) is opened and kept. Tests and the
//! demo drive it through `POST /sim/control/user-messages`; people through the phone-like page at
//! `/sim/chat/{appid}`, which also shows what the platform sent through the customer-service API.
//!
//! The page shows the account's live custom menu as WeChat's bottom bar, and a tap on an item does
//! what it does on a phone ([`tap`]): an event to the message URL (`CLICK`, `VIEW`,
//! `view_miniprogram`, …), or WeChat answering a backend-only item itself, or, once a platform holds
//! message management, nothing at all. Tests tap through `POST /sim/control/menu-tap`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::menus::{find_by_name, find_by_path, tap_action, TapAction};
use super::SimControl;
use crate::wechat::crypto::MsgCrypt;
use crate::wechat::xml::{build_envelope, cdata, parse_account_message, parse_envelope};

/// How many chat lines the simulator keeps.
const KEEP: usize = 2_000;

/// One line of a conversation.
#[derive(Debug, Clone, Serialize)]
pub struct ChatLine {
    pub authorizer_appid: String,
    /// `user` (sent to the account), `account` (its passive reply, or WeChat answering a
    /// backend-made menu item for it) or `wechat` (a note from WeChat: nothing answered).
    pub from: &'static str,
    pub from_user: String,
    /// `text`, `event`, or the reply's message type.
    pub kind: String,
    pub content: String,
    pub at: i64,
}

/// What a user sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserMessage {
    pub authorizer_appid: String,
    /// A text message's content...
    pub content: Option<String>,
    /// ...or an event (`subscribe`, `CLICK`, …) with its optional key.
    pub event: Option<String>,
    pub event_key: Option<String>,
    /// The user's openid; one per account by default.
    pub from_user: Option<String>,
}

/// What came back.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub status: u16,
    /// `success`, `empty`, `reply`, or `error`.
    pub answer: &'static str,
    pub reply_type: Option<String>,
    pub reply: Option<String>,
    pub latency_ms: u64,
}

#[derive(Default)]
pub(super) struct Chat {
    lines: VecDeque<ChatLine>,
}

impl SimControl {
    fn chat_lines(&self) -> std::sync::MutexGuard<'_, Chat> {
        self.chat.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember(&self, line: ChatLine) {
        let mut chat = self.chat_lines();
        chat.lines.push_back(line);
        if chat.lines.len() > KEEP {
            chat.lines.pop_front();
        }
    }

    /// The conversation lines of one account, oldest first.
    pub fn conversation(&self, appid: &str) -> Vec<ChatLine> {
        self.chat_lines()
            .lines
            .iter()
            .filter(|l| l.authorizer_appid == appid)
            .cloned()
            .collect()
    }
}

fn escape_text(text: &str) -> String {
    cdata(text)
}

/// The message URL of the component `appid` is authorized to, and the account's original id.
fn target_for(shared: &SimControl, appid: &str) -> Result<(Target, String), String> {
    let (component_appid, token, aes, notify, user_name) = shared.with_state(|s, _| {
        let component = s
            .components
            .values()
            .find(|c| c.authorizations.get(appid).is_some_and(|a| !a.revoked))
            .ok_or_else(|| format!("{appid} is authorized to no component"))?;
        let user_name = s
            .accounts
            .get(appid)
            .map(|a| a.user_name.clone())
            .unwrap_or_default();
        Ok::<_, String>((
            component.seed.appid.clone(),
            component.seed.token.clone(),
            component.seed.encoding_aes_key.clone(),
            component.seed.notify_url.clone(),
            user_name,
        ))
    })?;
    let notify = notify.ok_or("the component has no notify URL, so no message URL either")?;
    let base = notify
        .strip_suffix("/notify")
        .ok_or("the notify URL does not end in /notify; cannot derive the message URL")?;
    let target = Target {
        component_appid,
        token,
        aes,
        base: base.to_owned(),
        authorizer_appid: appid.to_owned(),
    };
    Ok((target, user_name))
}

/// Sends an event WeChat itself raises for an account (`weapp_audit_success`, …) with its fields.
pub async fn push_event(
    shared: &Arc<SimControl>,
    appid: &str,
    event: &str,
    fields: &[(&str, String)],
) -> Result<Answer, String> {
    let (target, user_name) = target_for(shared, appid)?;
    let create_time = shared.now() / 1000;
    let extra: String = fields
        .iter()
        .map(|(k, v)| format!("<{k}>{}</{k}>", escape_text(v)))
        .collect();
    let from = "o_wechat_system";
    let xml = format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{from}</FromUserName><CreateTime>{create_time}</CreateTime>\
         <MsgType><![CDATA[event]]></MsgType><Event>{}</Event>{extra}</xml>",
        escape_text(&user_name),
        escape_text(event),
    );
    post_to_platform(&target, &xml, from, create_time)
        .await
        .map(|(answer, _)| answer)
}

/// Sends a user's message to the account's platform and reads the answer.
pub async fn send(shared: &Arc<SimControl>, m: &UserMessage) -> Result<Answer, String> {
    let now = shared.now();
    let (target, user_name) = target_for(shared, &m.authorizer_appid)?;
    let from_user = m
        .from_user
        .clone()
        .unwrap_or_else(|| default_user(&m.authorizer_appid));
    let create_time = now / 1000;
    let (xml, kind, shown) = match (&m.content, &m.event) {
        (Some(text), None) if !text.trim().is_empty() && text.chars().count() <= 2000 => (
            format!(
                "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime>\
                 <MsgType><![CDATA[text]]></MsgType><Content>{}</Content><MsgId>{}</MsgId></xml>",
                escape_text(&user_name),
                escape_text(&from_user),
                escape_text(text),
                rand::random::<u64>() >> 2
            ),
            "text".to_owned(),
            text.clone(),
        ),
        (None, Some(event))
            if !event.is_empty()
                && event.len() <= 64
                && event.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            let key = m
                .event_key
                .as_deref()
                .map(|k| format!("<EventKey>{}</EventKey>", escape_text(k)))
                .unwrap_or_default();
            (
                format!(
                    "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime>\
                     <MsgType><![CDATA[event]]></MsgType><Event>{}</Event>{key}</xml>",
                    escape_text(&user_name),
                    escape_text(&from_user),
                    escape_text(event)
                ),
                "event".to_owned(),
                format!("{event}{}", m.event_key.as_deref().map(|k| format!(" {k}")).unwrap_or_default()),
            )
        }
        _ => {
            return Err(
                "send either content (1 to 2000 characters) or an event (letters, digits, _)".into(),
            )
        }
    };
    shared.remember(ChatLine {
        authorizer_appid: m.authorizer_appid.clone(),
        from: "user",
        from_user: from_user.clone(),
        kind,
        content: shown,
        at: now,
    });
    let (answer, reply) = post_to_platform(&target, &xml, &from_user, create_time).await?;
    if let Some((kind, content)) = reply {
        shared.remember(ChatLine {
            authorizer_appid: m.authorizer_appid.clone(),
            from: "account",
            from_user,
            kind,
            content,
            at: shared.now(),
        });
    }
    Ok(answer)
}

/// The openid of the user who writes to an account unless told otherwise.
fn default_user(appid: &str) -> String {
    let tail: Vec<char> = appid.chars().rev().take(4).collect();
    format!("o_sim_user_{}", tail.iter().rev().collect::<String>())
}

/// Which menu item a tap is on.
#[derive(Debug, Clone, Copy)]
pub enum TapTarget<'a> {
    /// The first item with this exact name (top-level items first, then sub-items).
    Name(&'a str),
    /// `"2"` is the third top-level item, `"1.0"` the first sub-item of the second.
    Path(&'a str),
}

/// What a tap did.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum TapResult {
    /// An event went to the platform: its answer, as for a message.
    Event {
        #[serde(flatten)]
        answer: Answer,
        event: String,
        event_key: String,
    },
    /// WeChat answered (`answer` = `wechat`) or nothing did (`unanswered`).
    Local {
        answer: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
        content: String,
    },
}

/// Why a tap did not happen.
#[derive(Debug, Clone)]
pub enum TapError {
    /// No such account, no menu, or no such item.
    NotFound(String),
    /// The item is a parent: it only opens its sub-items.
    Parent(String),
    /// The event could not be sent (the account is authorized to no component, …).
    Send(String),
}

/// A user taps an item of the account's live menu (the API menu if any, else the backend menu).
pub async fn tap(
    shared: &Arc<SimControl>,
    appid: &str,
    target: TapTarget<'_>,
    from_user: Option<String>,
) -> Result<TapResult, TapError> {
    let (name, action) = {
        let state = shared.state();
        if !state.accounts.contains_key(appid) {
            return Err(TapError::NotFound(format!("no account {appid}")));
        }
        let (_, items) = state
            .live_menu(appid)
            .ok_or_else(|| TapError::NotFound(format!("{appid} has no menu")))?;
        let item = match target {
            TapTarget::Name(name) => find_by_name(&items, name),
            TapTarget::Path(path) => find_by_path(&items, path),
        }
        .ok_or_else(|| TapError::NotFound("no such item in the account's menu".into()))?;
        (
            item.name.clone(),
            tap_action(item, state.messages_taken_over(appid)),
        )
    };
    let user = from_user.unwrap_or_else(|| default_user(appid));
    let line = |from, kind: &str, content: &str| ChatLine {
        authorizer_appid: appid.to_owned(),
        from,
        from_user: user.clone(),
        kind: kind.to_owned(),
        content: content.to_owned(),
        at: shared.now(),
    };
    match action {
        TapAction::Parent => Err(TapError::Parent(format!(
            "“{name}” opens its sub-items; tap one of them"
        ))),
        TapAction::Event { event, key } => {
            let m = UserMessage {
                authorizer_appid: appid.to_owned(),
                content: None,
                event: Some(event.clone()),
                event_key: Some(key.clone()),
                from_user: Some(user.clone()),
            };
            let answer = send(shared, &m).await.map_err(TapError::Send)?;
            Ok(TapResult::Event {
                answer,
                event,
                event_key: key,
            })
        }
        TapAction::Wechat { kind, content } => {
            shared.remember(line("account", kind, &content));
            Ok(TapResult::Local {
                answer: "wechat",
                kind,
                content,
            })
        }
        TapAction::Unanswered { content } => {
            shared.remember(line("wechat", "menu", &content));
            Ok(TapResult::Local {
                answer: "unanswered",
                kind: "menu",
                content,
            })
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MenuTapRequest {
    authorizer_appid: String,
    name: String,
    #[serde(default)]
    from_user: Option<String>,
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `POST /sim/control/menu-tap` `{"authorizer_appid", "name", "from_user"?}`.
pub(super) async fn control_menu_tap(State(sim): State<Arc<SimControl>>, body: Bytes) -> Response {
    let r: MenuTapRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json_error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
    };
    match tap(
        &sim,
        &r.authorizer_appid,
        TapTarget::Name(&r.name),
        r.from_user,
    )
    .await
    {
        Ok(result) => Json(result).into_response(),
        Err(TapError::NotFound(e)) => json_error(StatusCode::NOT_FOUND, &e),
        Err(TapError::Parent(e)) => json_error(StatusCode::UNPROCESSABLE_ENTITY, &e),
        Err(TapError::Send(e)) => json_error(StatusCode::BAD_REQUEST, &e),
    }
}

#[derive(Deserialize)]
pub(super) struct MenuForm {
    item: String,
}

/// `POST /sim/chat/{appid}/menu` from the page's menu bar (`item` is the item's path): tap, then
/// show the page again.
pub(super) async fn page_menu_tap(
    State(sim): State<Arc<SimControl>>,
    Path(appid): Path<String>,
    axum::Form(form): axum::Form<MenuForm>,
) -> Response {
    let problem = match tap(&sim, &appid, TapTarget::Path(&form.item), None).await {
        Ok(_) => None,
        Err(TapError::NotFound(p) | TapError::Parent(p) | TapError::Send(p)) => Some(p),
    };
    back_to_chat(&appid, problem)
}

fn back_to_chat(appid: &str, problem: Option<String>) -> Response {
    let appid = percent_encoding::utf8_percent_encode(appid, percent_encoding::NON_ALPHANUMERIC);
    let target = match problem {
        None => format!("/sim/chat/{appid}"),
        Some(p) => format!(
            "/sim/chat/{appid}?problem={}",
            percent_encoding::utf8_percent_encode(&p, percent_encoding::NON_ALPHANUMERIC)
        ),
    };
    Redirect::to(&target).into_response()
}

/// Where a message goes: a component's message URL for one account.
struct Target {
    component_appid: String,
    token: String,
    aes: String,
    /// The component's callback base (its notify URL without `/notify`).
    base: String,
    authorizer_appid: String,
}

/// Encrypts `xml`, posts it to the target's message URL as WeChat does, and opens the answer;
/// a passive reply comes back as `(msg_type, content)` too.
async fn post_to_platform(
    t: &Target,
    xml: &str,
    from_user: &str,
    create_time: i64,
) -> Result<(Answer, Option<(String, String)>), String> {
    let crypto = MsgCrypt::new(&t.token, &t.aes, &t.component_appid).map_err(|e| e.to_string())?;
    let nonce = format!("{:010}", rand::random::<u32>());
    let sealed = crypto.encrypt(xml, &create_time.to_string(), &nonce);
    let url = format!(
        "{}/message/{}?signature=sim&timestamp={create_time}&nonce={nonce}&openid={from_user}&encrypt_type=aes&msg_signature={}",
        t.base, t.authorizer_appid, sealed.msg_signature
    );
    let started = std::time::Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.without_url().to_string())?;
    let response = client
        .post(&url)
        .body(build_envelope(&t.component_appid, &sealed.encrypt))
        .send()
        .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let answer = |status, answer, reply_type, reply| Answer {
        status,
        answer,
        reply_type,
        reply,
        latency_ms,
    };
    let (status, body) = match response {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => {
            return Ok((
                answer(0, "error", None, Some(e.without_url().to_string())),
                None,
            ))
        }
    };
    let trimmed = body.trim();
    if status != 200 {
        return Ok((
            answer(
                status,
                "error",
                None,
                Some(trimmed.chars().take(200).collect()),
            ),
            None,
        ));
    }
    if trimmed.is_empty() {
        return Ok((answer(status, "empty", None, None), None));
    }
    if trimmed == "success" {
        return Ok((answer(status, "success", None, None), None));
    }
    let opened = parse_envelope(trimmed.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|env| crypto.decrypt(&env.encrypt).map_err(|e| e.to_string()))
        .and_then(|plain| {
            parse_account_message(plain.message.as_bytes()).map_err(|e| e.to_string())
        });
    Ok(match opened {
        Ok(reply) => {
            let content = reply
                .content()
                .map(str::to_owned)
                .or_else(|| reply.root.child("Articles").map(|_| "(news)".to_owned()))
                .unwrap_or_else(|| format!("({})", reply.msg_type));
            (
                answer(
                    status,
                    "reply",
                    Some(reply.msg_type.clone()),
                    Some(content.clone()),
                ),
                Some((reply.msg_type, content)),
            )
        }
        Err(e) => (
            answer(
                status,
                "error",
                None,
                Some(format!("a reply that does not open: {e}")),
            ),
            None,
        ),
    })
}

/// WeChat's release-test Official Account (PROTOCOL.md §12.1) and its original id.
const RELEASE_TEST_ACCOUNT: (&str, &str) = ("wx570bc396a51b8ff8", "gh_3c884a361561");

/// One step of a release check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckStep {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// The result of a release check (全网发布) run against a component.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseCheck {
    pub component_appid: String,
    pub passed: bool,
    pub steps: Vec<CheckStep>,
    pub at: i64,
}

/// Runs WeChat's full-network release test against a component, as WeChat does (PROTOCOL.md
/// §12.2): a text message expecting `TESTCOMPONENT_MSG_TYPE_TEXT_callback`, an event expecting
/// `LOCATIONfrom_callback`, and the customer-service step (the test account is authorized, its code
/// sent as `QUERY_AUTH_CODE:<code>`; the answer must be empty and `<code>_from_api` must arrive
/// through the customer-service API within 5 s). The result is kept for the overview page.
pub async fn release_check(
    shared: &Arc<SimControl>,
    component_appid: &str,
) -> Result<ReleaseCheck, String> {
    let (appid, gh) = RELEASE_TEST_ACCOUNT;
    let (token, aes, notify) = shared.with_state(|s, _| {
        let c = s
            .components
            .get(component_appid)
            .ok_or_else(|| format!("no component {component_appid}"))?;
        let found = (
            c.seed.token.clone(),
            c.seed.encoding_aes_key.clone(),
            c.seed.notify_url.clone(),
        );
        if !s.accounts.contains_key(appid) {
            s.add_account(super::state::AccountSeed {
                appid: appid.into(),
                kind: app::permissions::AccountKind::OfficialAccount,
                nick_name: "全网发布测试公众号".into(),
                user_name: gh.into(),
                principal_name: String::new(),
                alias: String::new(),
                service_type: 2,
                verify_type: 0,
                menu: None,
            });
        }
        Ok::<_, String>(found)
    })?;
    let base = notify
        .as_deref()
        .and_then(|n| n.strip_suffix("/notify"))
        .ok_or("the component has no notify URL ending in /notify")?
        .to_owned();
    let target = Target {
        component_appid: component_appid.to_owned(),
        token,
        aes,
        base,
        authorizer_appid: appid.to_owned(),
    };
    let user = "o_release_test_user";
    let now_s = || shared.now() / 1000;
    let mut steps = Vec::new();

    let xml = format!(
        "<xml><ToUserName><![CDATA[{gh}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{}</CreateTime>\
         <MsgType><![CDATA[text]]></MsgType><Content><![CDATA[TESTCOMPONENT_MSG_TYPE_TEXT]]></Content><MsgId>{}</MsgId></xml>",
        now_s(),
        rand::random::<u64>() >> 2
    );
    let (answer, reply) = post_to_platform(&target, &xml, user, now_s()).await?;
    let got = reply.map(|(_, c)| c);
    steps.push(CheckStep {
        name: "text",
        passed: got.as_deref() == Some("TESTCOMPONENT_MSG_TYPE_TEXT_callback"),
        detail: format!(
            "answer {} {:?} in {} ms",
            answer.answer,
            got.unwrap_or_default(),
            answer.latency_ms
        ),
    });

    let xml = format!(
        "<xml><ToUserName><![CDATA[{gh}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{}</CreateTime>\
         <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[LOCATION]]></Event><Latitude>23.1</Latitude><Longitude>113.3</Longitude><Precision>119</Precision></xml>",
        now_s()
    );
    let (answer, reply) = post_to_platform(&target, &xml, user, now_s()).await?;
    let got = reply.map(|(_, c)| c);
    steps.push(CheckStep {
        name: "event",
        passed: got.as_deref() == Some("LOCATIONfrom_callback"),
        detail: format!(
            "answer {} {:?} in {} ms",
            answer.answer,
            got.unwrap_or_default(),
            answer.latency_ms
        ),
    });

    let customer_service = match shared.authorize(component_appid, appid, &[1]) {
        Err(e) => CheckStep {
            name: "customer_service",
            passed: false,
            detail: format!("could not authorize the test account: {e}"),
        },
        Ok((code, _)) => {
            let expected = format!("{code}_from_api");
            let xml = format!(
                "<xml><ToUserName><![CDATA[{gh}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{}</CreateTime>\
                 <MsgType><![CDATA[text]]></MsgType><Content><![CDATA[QUERY_AUTH_CODE:{code}]]></Content><MsgId>{}</MsgId></xml>",
                now_s(),
                rand::random::<u64>() >> 2
            );
            let started = std::time::Instant::now();
            let (answer, _) = post_to_platform(&target, &xml, user, now_s()).await?;
            let sent = || {
                shared.with_state(|s, _| {
                    s.sent_messages.iter().any(|m| {
                        m.authorizer_appid == appid && m.touser == user && m.content == expected
                    })
                })
            };
            while !sent() && started.elapsed() < Duration::from_secs(5) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let arrived = sent();
            CheckStep {
                name: "customer_service",
                passed: answer.answer == "empty" && arrived,
                detail: if arrived {
                    format!(
                        "answer {}; {expected} arrived after {} ms",
                        answer.answer,
                        started.elapsed().as_millis()
                    )
                } else {
                    format!(
                        "answer {}; {expected} did not arrive within 5 s",
                        answer.answer
                    )
                },
            }
        }
    };
    steps.push(customer_service);
    let check = ReleaseCheck {
        component_appid: component_appid.to_owned(),
        passed: steps.iter().all(|s| s.passed),
        steps,
        at: shared.now(),
    };
    shared
        .release_checks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(component_appid.to_owned(), check.clone());
    Ok(check)
}

/// The last release check of each component.
pub fn last_release_checks(shared: &SimControl) -> Vec<ReleaseCheck> {
    shared
        .release_checks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .cloned()
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseCheckRequest {
    component_appid: String,
}

/// `POST /sim/control/release-check` `{"component_appid"}`.
pub(super) async fn control_release_check(
    State(sim): State<Arc<SimControl>>,
    body: Bytes,
) -> Response {
    let r: ReleaseCheckRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": e.to_string() })),
            )
                .into_response()
        }
    };
    match release_check(&sim, &r.component_appid).await {
        Ok(check) => Json(check).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    }
}

/// `POST /sim/release-check/{component}` from the overview page: run, then show the page again.
pub(super) async fn page_release_check(
    State(sim): State<Arc<SimControl>>,
    Path(component): Path<String>,
) -> Response {
    let _ = release_check(&sim, &component).await;
    Redirect::to("/sim").into_response()
}

/// What the demo's users say, in turn.
const CHATTER: [&str; 6] = [
    "你好，请问今天营业吗？",
    "Do you deliver to Pudong?",
    "我想查询一下订单",
    "有什么新品推荐吗？",
    "How do I join the membership?",
    "谢谢！",
];

/// One round of the demo's background chatter: each authorized account (not WeChat's test
/// accounts) gets one message from one of its users. Returns how many were sent.
pub async fn chatter_once(shared: &Arc<SimControl>, round: usize) -> usize {
    let accounts: Vec<String> = shared.with_state(|s, _| {
        s.components
            .values()
            .filter(|c| c.seed.notify_url.is_some())
            .flat_map(|c| c.authorizations.values())
            .filter(|a| !a.revoked && a.authorizer_appid != RELEASE_TEST_ACCOUNT.0)
            .map(|a| a.authorizer_appid.clone())
            .collect()
    });
    let mut sent = 0;
    for (i, appid) in accounts.into_iter().enumerate() {
        let m = UserMessage {
            authorizer_appid: appid,
            content: Some(CHATTER[(round + i) % CHATTER.len()].to_owned()),
            event: None,
            event_key: None,
            from_user: Some(format!("o_demo_user_{}", (round + i) % 3)),
        };
        if let Ok(answer) = send(shared, &m).await {
            if answer.answer != "error" {
                sent += 1;
            }
        }
    }
    sent
}

/// The demo's users writing now and then (`SimSettings::chatter`), so the console's message and
/// delivery views have something to show without anyone typing.
pub(super) async fn chatter(
    shared: Arc<SimControl>,
    every: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut round = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        chatter_once(&shared, round).await;
        round += 1;
    }
}

/// `POST /sim/control/user-messages`.
pub(super) async fn control_send(State(sim): State<Arc<SimControl>>, body: Bytes) -> Response {
    let m: UserMessage = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": e.to_string() })),
            )
                .into_response()
        }
    };
    match send(&sim, &m).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    }
}

/// `GET /sim/control/user-messages/{appid}`: the account's conversation, with what the platform
/// sent through the customer-service API.
pub(super) async fn control_conversation(
    State(sim): State<Arc<SimControl>>,
    Path(appid): Path<String>,
) -> Json<serde_json::Value> {
    let custom: Vec<serde_json::Value> = sim.with_state(|s, _| {
        s.sent_messages
            .iter()
            .filter(|m| m.authorizer_appid == appid)
            .map(|m| json!({ "touser": m.touser, "content": m.content, "at": m.at }))
            .collect()
    });
    Json(json!({ "lines": sim.conversation(&appid), "customer_service": custom }))
}

#[derive(Deserialize)]
pub(super) struct ChatForm {
    content: String,
}

/// `POST /sim/chat/{appid}` from the page: send, then show the page again.
pub(super) async fn page_send(
    State(sim): State<Arc<SimControl>>,
    Path(appid): Path<String>,
    axum::Form(form): axum::Form<ChatForm>,
) -> Response {
    let m = UserMessage {
        authorizer_appid: appid.clone(),
        content: Some(form.content),
        event: None,
        event_key: None,
        from_user: None,
    };
    let problem = send(&sim, &m).await.err();
    back_to_chat(&appid, problem)
}

/// The account's live menu as WeChat's bottom bar: one form, a button per item (its path as the
/// value), and a parent as a `<details>` that opens its sub-items above the bar, so it works
/// without JavaScript. Every item, top-level or sub, has `data-test="menu-item"` and its name in
/// `data-name`.
fn menu_bar(sim: &SimControl, appid: &str) -> String {
    use super::pages::esc;
    let Some((source, items)) = sim.state().live_menu(appid) else {
        return String::new();
    };
    let leaf = |path: String, item: &super::menus::MenuItem, level: &str| {
        format!(
            "<button type=\"submit\" name=\"item\" value=\"{path}\" data-test=\"menu-item\" data-level=\"{level}\" data-name=\"{name}\" data-type=\"{kind}\" title=\"{name}\">{name}</button>",
            name = esc(&item.name),
            kind = esc(&item.kind),
        )
    };
    let mut bar = String::new();
    for (i, item) in items.iter().enumerate() {
        if item.children.is_empty() {
            bar.push_str(&leaf(i.to_string(), item, "top"));
        } else {
            let subs: String = item
                .children
                .iter()
                .enumerate()
                .map(|(j, sub)| leaf(format!("{i}.{j}"), sub, "sub"))
                .collect();
            bar.push_str(&format!(
                "<details name=\"sim-menu\" class=\"menu-parent\"><summary data-test=\"menu-item\" data-level=\"top\" data-name=\"{name}\" title=\"{name}\">≡ {name}</summary><div class=\"submenu\" data-test=\"submenu\" data-parent=\"{name}\">{subs}</div></details>",
                name = esc(&item.name),
            ));
        }
    }
    format!(
        "<form method=\"post\" action=\"/sim/chat/{}/menu\" class=\"menubar\" data-test=\"menu\" data-source=\"{}\">{bar}</form>",
        esc(appid),
        source.as_str()
    )
}

/// A phone-like page: the account's conversation, newest at the bottom, and a box to send from.
pub(super) fn chat_body(sim: &SimControl, appid: &str, problem: Option<&str>) -> String {
    let name = sim.with_state(|s, _| {
        s.accounts
            .get(appid)
            .map_or_else(|| appid.to_owned(), |a| a.nick_name.clone())
    });
    let mut lines: Vec<(i64, String)> = sim
        .conversation(appid)
        .into_iter()
        .map(|l| {
            let class = match l.from {
                "user" => "bubble me",
                "wechat" => "note",
                _ => "bubble them",
            };
            (
                l.at,
                format!(
                    "<div class=\"{class}\" data-from=\"{}\"><span class=\"muted small\">{}</span><br>{}</div>",
                    l.from,
                    super::pages::esc(&l.kind),
                    super::pages::esc(&l.content)
                ),
            )
        })
        .collect();
    sim.with_state(|s, _| {
        for m in s.sent_messages.iter().filter(|m| m.authorizer_appid == appid) {
            lines.push((
                m.at,
                format!(
                    "<div class=\"bubble them\" data-from=\"customer-service\"><span class=\"muted small\">customer service · 客服消息</span><br>{}</div>",
                    super::pages::esc(&m.content)
                ),
            ));
        }
    });
    lines.sort_by_key(|(at, _)| *at);
    let bubbles: String = lines.into_iter().map(|(_, l)| l).collect();
    format!(
        "<div class=\"card phone\"><h1>{} <span class=\"muted small\">{}</span></h1>\
         <div class=\"chat\" data-test=\"chat\">{}</div>{}\
         <form method=\"post\" action=\"/sim/chat/{}\" class=\"chat-form\"><input name=\"content\" id=\"chat-content\" maxlength=\"2000\" placeholder=\"Message · 发消息\" required>\
         <button type=\"submit\" id=\"chat-send\">Send · 发送</button></form>{}\
         <p class=\"muted small\">Sent to the platform's message URL as WeChat would; passive replies and customer-service messages appear here. Menu taps are sent as WeChat sends them. <a href=\"/sim\">Back</a></p></div>",
        super::pages::esc(&name),
        super::pages::esc(appid),
        if bubbles.is_empty() { "<p class=\"muted\">No messages yet.</p>".to_owned() } else { bubbles },
        problem
            .map(|p| format!("<p class=\"error\" role=\"alert\">{}</p>", super::pages::esc(p)))
            .unwrap_or_default(),
        super::pages::esc(appid),
        menu_bar(sim, appid),
    )
}
