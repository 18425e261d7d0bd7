//! WeChat's push XML: the encrypted envelope and the decrypted component pushes (PROTOCOL.md §2.7,
//! §3).
//!
//! The parser is a small quick-xml event loop into an [`XmlElement`] tree with hard limits (size,
//! depth, element count) and no entity expansion: a DOCTYPE is refused outright and only the five
//! predefined entities and character references are resolved. WeChat writes strings both as CDATA
//! and as plain text, so both read the same. The typed layer ([`ComponentPush`]) knows the
//! authorization InfoTypes; the mini-program registration and verification ones are recognised and
//! passed through; anything else is kept whole as `Unknown` so that a new InfoType from WeChat is
//! stored, not rejected.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::Serialize;

/// Limits on an XML document from outside. WeChat's pushes are a few hundred bytes and two levels
/// deep; these leave room for mini-program notices with nested `info` blocks.
#[derive(Debug, Clone, Copy)]
pub struct XmlLimits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_elements: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024,
            max_depth: 8,
            max_elements: 512,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the XML document is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the XML document is nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("the XML document has more than {0} elements")]
    TooManyElements(usize),
    #[error("DOCTYPE declarations are not accepted")]
    Doctype,
    #[error("the entity &{0}; is not accepted")]
    Entity(String),
    #[error("the XML is malformed: {0}")]
    Malformed(String),
    #[error("the root element must be <xml>")]
    WrongRoot,
    #[error("the element <{0}> is missing or empty")]
    Missing(&'static str),
    #[error("the element <{0}> is not a number")]
    NotANumber(&'static str),
}

/// One element: its name, its text (CDATA and text concatenated), and its child elements in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XmlElement {
    pub name: String,
    pub text: String,
    pub children: Vec<XmlElement>,
}

impl XmlElement {
    /// Every element's name and text, in document order (for telling documents apart).
    pub fn flatten_into(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        out.push('>');
        out.push_str(self.text.trim());
        for c in &self.children {
            c.flatten_into(out);
        }
    }

    pub fn child(&self, name: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The trimmed text of a direct child, if present and not empty.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }
}

/// Parses a document into its root element, enforcing `limits`.
pub fn parse_document(bytes: &[u8], limits: XmlLimits) -> Result<XmlElement, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge(limits.max_bytes));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::Malformed("not UTF-8".into()))?;
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    let mut elements = 0usize;
    let malformed = |e: quick_xml::Error| XmlError::Malformed(e.to_string());
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(XmlError::Malformed("content after the root element".into()));
            }
            Event::Start(start) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                stack.push(XmlElement {
                    name: element_name(start.name().as_ref())?,
                    text: String::new(),
                    children: Vec::new(),
                });
            }
            Event::Empty(start) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                let element = XmlElement {
                    name: element_name(start.name().as_ref())?,
                    text: String::new(),
                    children: Vec::new(),
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => {
                let decoded = t.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&decoded),
                    None if decoded.trim().is_empty() => {}
                    None => return Err(XmlError::Malformed("text outside the root".into())),
                }
            }
            Event::CData(c) => {
                let decoded = c.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&decoded),
                    None => return Err(XmlError::Malformed("CDATA outside the root".into())),
                }
            }
            Event::GeneralRef(r) => {
                let resolved = resolve_reference(&r)?;
                match stack.last_mut() {
                    Some(current) => current.text.push(resolved),
                    None => return Err(XmlError::Malformed("reference outside the root".into())),
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unexpected end of document".into()));
    }
    root.ok_or_else(|| XmlError::Malformed("no root element".into()))
}

fn element_name(raw: &[u8]) -> Result<String, XmlError> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| XmlError::Malformed("element name is not UTF-8".into()))
}

fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<char, XmlError> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(XmlError::Malformed("invalid character reference".into())),
        };
    }
    let name = r.decode().map_err(|e| XmlError::Malformed(e.to_string()))?;
    match name.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(XmlError::Entity(other.chars().take(32).collect())),
    }
}

fn parse_root(bytes: &[u8], limits: XmlLimits) -> Result<XmlElement, XmlError> {
    let root = parse_document(bytes, limits)?;
    if root.name != "xml" {
        return Err(XmlError::WrongRoot);
    }
    Ok(root)
}

/// The outer XML of an encrypted push: only `Encrypt` matters; `AppId` (authorization events) or
/// `ToUserName` (account messages) say who it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub app_id: Option<String>,
    pub to_user_name: Option<String>,
    pub encrypt: String,
}

pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, XmlError> {
    let root = parse_root(bytes, XmlLimits::default())?;
    let encrypt = root
        .child_text("Encrypt")
        .ok_or(XmlError::Missing("Encrypt"))?
        .to_owned();
    Ok(Envelope {
        app_id: root.child_text("AppId").map(str::to_owned),
        to_user_name: root.child_text("ToUserName").map(str::to_owned),
        encrypt,
    })
}

/// The inbound envelope of §2.7, as WeChat sends it to the authorization-event URL.
pub fn build_envelope(app_id: &str, encrypt: &str) -> String {
    format!(
        "<xml><AppId>{}</AppId><Encrypt>{}</Encrypt></xml>",
        cdata(app_id),
        cdata(encrypt)
    )
}

/// InfoTypes the product recognises but does not act on yet: mini-program fast registration and
/// verification notices (PROTOCOL.md §3.3). They are stored and acknowledged like any push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PassedThroughInfoType {
    FastRegister,
    FastRegisterBetaApp,
    FastVerifyBetaApp,
    NicknameAudit,
    IcpFilingVerifyResult,
    ApplyIcpFilingResult,
    WxaAuth,
    WxaWxverify,
    WxaAuthAndIcp,
}

impl PassedThroughInfoType {
    pub fn parse(info_type: &str) -> Option<Self> {
        Some(match info_type {
            "notify_third_fasteregister" => Self::FastRegister,
            "notify_third_fastregisterbetaapp" => Self::FastRegisterBetaApp,
            "notify_third_fastverifybetaapp" => Self::FastVerifyBetaApp,
            "wxa_nickname_audit" => Self::NicknameAudit,
            "notify_icpfiling_verify_result" => Self::IcpFilingVerifyResult,
            "notify_apply_icpfiling_result" => Self::ApplyIcpFilingResult,
            "notify_3rd_wxa_auth" => Self::WxaAuth,
            "notify_3rd_wxa_wxverify" => Self::WxaWxverify,
            "notify_3rd_wxa_auth_and_icp" => Self::WxaAuthAndIcp,
            _ => return None,
        })
    }
}

/// `authorized` and `updateauthorized` carry the same fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationChange {
    pub authorizer_appid: String,
    pub authorization_code: String,
    /// Absolute Unix seconds in every sample seen (PROTOCOL.md §3.2), kept as sent.
    pub authorization_code_expired_time: Option<i64>,
    pub pre_auth_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PushKind {
    VerifyTicket { ticket: String },
    Authorized(AuthorizationChange),
    UpdateAuthorized(AuthorizationChange),
    Unauthorized { authorizer_appid: String },
    PassedThrough { info_type: PassedThroughInfoType },
    Unknown,
}

/// One decrypted push to the authorization-event URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentPush {
    pub app_id: String,
    pub create_time: i64,
    pub info_type: String,
    pub kind: PushKind,
    /// The whole document, for the pass-through and unknown kinds and for the audit trail.
    pub root: XmlElement,
}

impl ComponentPush {
    /// A stable key for de-duplicating WeChat's retries of the same push.
    pub fn dedupe_key(&self) -> String {
        let subject = match &self.kind {
            PushKind::VerifyTicket { ticket } => ticket.as_str(),
            PushKind::Authorized(c) | PushKind::UpdateAuthorized(c) => {
                c.authorization_code.as_str()
            }
            PushKind::Unauthorized { authorizer_appid } => authorizer_appid.as_str(),
            // Two notices of one kind in one second (two fast registrations finishing together)
            // are two pushes: their whole content tells them apart, and a retry is the same.
            PushKind::PassedThrough { .. } | PushKind::Unknown => {
                let mut content = String::new();
                self.root.flatten_into(&mut content);
                return format!("{}:{}:{content}", self.info_type, self.create_time);
            }
        };
        format!("{}:{}:{}", self.info_type, self.create_time, subject)
    }
}

/// Parses the decrypted XML of a push to the authorization-event URL.
pub fn parse_component_push(bytes: &[u8]) -> Result<ComponentPush, XmlError> {
    let root = parse_root(bytes, XmlLimits::default())?;
    let app_id = required(&root, "AppId")?.to_owned();
    let info_type = required(&root, "InfoType")?.to_owned();
    let create_time = number(&root, "CreateTime")?.ok_or(XmlError::Missing("CreateTime"))?;
    let kind = match info_type.as_str() {
        "component_verify_ticket" => PushKind::VerifyTicket {
            ticket: required(&root, "ComponentVerifyTicket")?.to_owned(),
        },
        "authorized" => PushKind::Authorized(authorization_change(&root)?),
        "updateauthorized" => PushKind::UpdateAuthorized(authorization_change(&root)?),
        "unauthorized" => PushKind::Unauthorized {
            authorizer_appid: required(&root, "AuthorizerAppid")?.to_owned(),
        },
        other => match PassedThroughInfoType::parse(other) {
            Some(info_type) => PushKind::PassedThrough { info_type },
            None => PushKind::Unknown,
        },
    };
    Ok(ComponentPush {
        app_id,
        create_time,
        info_type,
        kind,
        root,
    })
}

/// The user-message types WeChat documents for Official Accounts (and mini-program customer
/// service, which sends `text`, `image`, `miniprogrampage` and events).
pub const MESSAGE_TYPES: &[&str] = &[
    "text",
    "image",
    "voice",
    "video",
    "shortvideo",
    "location",
    "link",
    "file",
    "miniprogrampage",
    "event",
];

/// One decrypted message or event posted to the message URL for an authorized account. Every
/// field is kept (`root`): the types WeChat adds later, and the fields of events not named here,
/// travel on untouched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountMessage {
    /// The account's original id (`gh_…`).
    pub to_user: String,
    /// The user's openid.
    pub from_user: String,
    pub create_time: i64,
    /// `text`, `image`, …, or `event`; anything else is kept as it came.
    pub msg_type: String,
    /// For `event`: `subscribe`, `CLICK`, … as WeChat wrote it.
    pub event: Option<String>,
    pub msg_id: Option<String>,
    pub root: XmlElement,
}

impl AccountMessage {
    /// WeChat retries a message three times: a user message is named by its MsgId, an event by
    /// who sent it, when, and which event.
    pub fn dedupe_key(&self) -> String {
        match &self.msg_id {
            Some(id) => format!("msg:{id}"),
            None => format!(
                "event:{}:{}:{}",
                self.from_user,
                self.create_time,
                self.event.as_deref().unwrap_or("")
            ),
        }
    }

    /// A text message's content.
    pub fn content(&self) -> Option<&str> {
        (self.msg_type == "text")
            .then(|| self.root.child_text("Content"))
            .flatten()
    }
}

/// Parses the decrypted XML of a message or event for an authorized account.
pub fn parse_account_message(bytes: &[u8]) -> Result<AccountMessage, XmlError> {
    let root = parse_root(bytes, XmlLimits::default())?;
    let msg_type = required(&root, "MsgType")?.to_owned();
    let event = if msg_type == "event" {
        Some(required(&root, "Event")?.to_owned())
    } else {
        None
    };
    Ok(AccountMessage {
        to_user: required(&root, "ToUserName")?.to_owned(),
        from_user: required(&root, "FromUserName")?.to_owned(),
        create_time: number(&root, "CreateTime")?.ok_or(XmlError::Missing("CreateTime"))?,
        msg_id: root
            .child_text("MsgId")
            .or_else(|| root.child_text("MsgID"))
            .map(str::to_owned),
        msg_type,
        event,
        root,
    })
}

/// A passive text reply (§4): the addresses swapped, in plain XML, to be encrypted.
pub fn text_reply(to_user: &str, from_user: &str, create_time: i64, content: &str) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime><MsgType>{}</MsgType><Content>{}</Content></xml>",
        cdata(to_user),
        cdata(from_user),
        cdata("text"),
        cdata(content)
    )
}

fn authorization_change(root: &XmlElement) -> Result<AuthorizationChange, XmlError> {
    Ok(AuthorizationChange {
        authorizer_appid: required(root, "AuthorizerAppid")?.to_owned(),
        authorization_code: required(root, "AuthorizationCode")?.to_owned(),
        authorization_code_expired_time: number(root, "AuthorizationCodeExpiredTime")?,
        pre_auth_code: root.child_text("PreAuthCode").map(str::to_owned),
    })
}

fn required<'a>(root: &'a XmlElement, name: &'static str) -> Result<&'a str, XmlError> {
    root.child_text(name).ok_or(XmlError::Missing(name))
}

fn number(root: &XmlElement, name: &'static str) -> Result<Option<i64>, XmlError> {
    match root.child_text(name) {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| XmlError::NotANumber(name)),
    }
}

/// Wraps text in CDATA, splitting any `]]>` inside so the result always parses back to `text`.
pub fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

/// Builds a push document the way WeChat writes them: strings in CDATA, numbers bare.
pub fn build_push(fields: &[(&str, PushField<'_>)]) -> String {
    let mut out = String::from("<xml>");
    for (name, value) in fields {
        out.push('<');
        out.push_str(name);
        out.push('>');
        match value {
            PushField::Text(t) => out.push_str(&cdata(t)),
            PushField::Number(n) => out.push_str(&n.to_string()),
        }
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    out.push_str("</xml>");
    out
}

#[derive(Debug, Clone, Copy)]
pub enum PushField<'a> {
    Text(&'a str),
    Number(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICKET_CDATA: &str = "<xml><AppId><![CDATA[wx3c0d9b0e1a2f4c5d]]></AppId><CreateTime>1413192605</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@example]]></ComponentVerifyTicket></xml>";

    #[test]
    fn two_notices_of_one_kind_in_one_second_are_two_pushes_and_a_retry_is_one() {
        let doc = |appid: &str| {
            format!("<xml><AppId>wxc</AppId><CreateTime>1700000000</CreateTime><InfoType>notify_third_fasteregister</InfoType><appid>{appid}</appid><status>0</status><auth_code>c-{appid}</auth_code><info><name>n</name></info></xml>")
        };
        let a = parse_component_push(doc("wx1").as_bytes()).unwrap();
        let b = parse_component_push(doc("wx2").as_bytes()).unwrap();
        let a_again = parse_component_push(doc("wx1").as_bytes()).unwrap();
        assert_ne!(a.dedupe_key(), b.dedupe_key());
        assert_eq!(a.dedupe_key(), a_again.dedupe_key());
    }

    #[test]
    fn ticket_in_cdata_and_plain_text_read_the_same() {
        let a = parse_component_push(TICKET_CDATA.as_bytes()).unwrap();
        let plain = "<xml>\n  <AppId>wx3c0d9b0e1a2f4c5d</AppId>\n  <CreateTime>1413192605</CreateTime>\n  <InfoType>component_verify_ticket</InfoType>\n  <ComponentVerifyTicket>ticket@@@example</ComponentVerifyTicket>\n</xml>";
        let b = parse_component_push(plain.as_bytes()).unwrap();
        assert_eq!(a.kind, b.kind);
        assert_eq!(
            a.kind,
            PushKind::VerifyTicket {
                ticket: "ticket@@@example".into()
            }
        );
        assert_eq!(a.app_id, "wx3c0d9b0e1a2f4c5d");
        assert_eq!(a.create_time, 1413192605);
        assert_eq!(a.dedupe_key(), b.dedupe_key());
    }

    #[test]
    fn authorization_events() {
        let xml = build_push(&[
            ("AppId", PushField::Text("wxcomp")),
            ("CreateTime", PushField::Number(1700000000)),
            ("InfoType", PushField::Text("authorized")),
            ("AuthorizerAppid", PushField::Text("wxauth")),
            ("AuthorizationCode", PushField::Text("queryauthcode@@@x")),
            (
                "AuthorizationCodeExpiredTime",
                PushField::Number(1700003600),
            ),
            ("PreAuthCode", PushField::Text("preauthcode@@@y")),
        ]);
        let p = parse_component_push(xml.as_bytes()).unwrap();
        assert_eq!(
            p.kind,
            PushKind::Authorized(AuthorizationChange {
                authorizer_appid: "wxauth".into(),
                authorization_code: "queryauthcode@@@x".into(),
                authorization_code_expired_time: Some(1700003600),
                pre_auth_code: Some("preauthcode@@@y".into()),
            })
        );
        let update = xml.replace("[authorized]", "[updateauthorized]");
        assert!(matches!(
            parse_component_push(update.as_bytes()).unwrap().kind,
            PushKind::UpdateAuthorized(_)
        ));
        let un = "<xml><AppId>wxcomp</AppId><CreateTime>1</CreateTime><InfoType>unauthorized</InfoType><AuthorizerAppid>wxauth</AuthorizerAppid></xml>";
        assert_eq!(
            parse_component_push(un.as_bytes()).unwrap().kind,
            PushKind::Unauthorized {
                authorizer_appid: "wxauth".into()
            }
        );
        let missing = "<xml><AppId>wxcomp</AppId><CreateTime>1</CreateTime><InfoType>authorized</InfoType><AuthorizerAppid>wxauth</AuthorizerAppid></xml>";
        assert_eq!(
            parse_component_push(missing.as_bytes()),
            Err(XmlError::Missing("AuthorizationCode"))
        );
    }

    #[test]
    fn registration_notices_pass_through_and_unknown_is_kept() {
        let reg = "<xml><AppId><![CDATA[wxcomp]]></AppId><CreateTime>1535442403</CreateTime><InfoType><![CDATA[notify_third_fasteregister]]></InfoType><appid>wxnew</appid><status>0</status><auth_code>queryauthcode@@@z</auth_code><msg>OK</msg><info><name><![CDATA[公司]]></name><code><![CDATA[123]]></code></info></xml>";
        let p = parse_component_push(reg.as_bytes()).unwrap();
        assert_eq!(
            p.kind,
            PushKind::PassedThrough {
                info_type: PassedThroughInfoType::FastRegister
            }
        );
        assert_eq!(
            p.root.child("info").unwrap().child_text("name"),
            Some("公司")
        );
        let unknown = "<xml><AppId>wxcomp</AppId><CreateTime>1</CreateTime><InfoType>brand_new_thing</InfoType><Foo a=\"1\">bar &amp; baz &#x4e2d;</Foo></xml>";
        let p = parse_component_push(unknown.as_bytes()).unwrap();
        assert_eq!(p.kind, PushKind::Unknown);
        assert_eq!(p.info_type, "brand_new_thing");
        assert_eq!(p.root.child_text("Foo"), Some("bar & baz 中"));
    }

    #[test]
    fn hostile_documents_are_refused() {
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><xml><AppId>&lol2;</AppId></xml>";
        assert_eq!(
            parse_document(bomb.as_bytes(), XmlLimits::default()),
            Err(XmlError::Doctype)
        );
        let undeclared = "<xml><AppId>&lol;</AppId></xml>";
        assert_eq!(
            parse_document(undeclared.as_bytes(), XmlLimits::default()),
            Err(XmlError::Entity("lol".into()))
        );
        let deep = format!("{}{}", "<a>".repeat(20), "</a>".repeat(20));
        assert_eq!(
            parse_document(deep.as_bytes(), XmlLimits::default()),
            Err(XmlError::TooDeep(8))
        );
        let wide = format!("<xml>{}</xml>", "<a/>".repeat(600));
        assert_eq!(
            parse_document(wide.as_bytes(), XmlLimits::default()),
            Err(XmlError::TooManyElements(512))
        );
        let big = format!("<xml><a>{}</a></xml>", "x".repeat(70_000));
        assert_eq!(
            parse_document(big.as_bytes(), XmlLimits::default()),
            Err(XmlError::TooLarge(65536))
        );
        for bad in [
            "",
            "<xml>",
            "<xml></yml>",
            "<xml/><xml/>",
            "hello",
            "<xml>\u{0}</xml",
            "<a></a>",
        ] {
            assert!(
                parse_component_push(bad.as_bytes()).is_err(),
                "{bad:?} parsed"
            );
        }
        assert_eq!(
            parse_component_push(&[0xff, 0xfe]),
            Err(XmlError::Malformed("not UTF-8".into()))
        );
        let not_number = TICKET_CDATA.replace("1413192605", "soon");
        assert_eq!(
            parse_component_push(not_number.as_bytes()),
            Err(XmlError::NotANumber("CreateTime"))
        );
    }

    #[test]
    fn envelope_and_cdata_roundtrip() {
        let env = build_envelope("wxcomp", "abc+/=");
        let parsed = parse_envelope(env.as_bytes()).unwrap();
        assert_eq!(parsed.encrypt, "abc+/=");
        assert_eq!(parsed.app_id.as_deref(), Some("wxcomp"));
        let tricky = "a]]>b<c>&d";
        let doc = format!("<xml><x>{}</x></xml>", cdata(tricky));
        let root = parse_document(doc.as_bytes(), XmlLimits::default()).unwrap();
        assert_eq!(root.child("x").unwrap().text, tricky);
        assert_eq!(
            parse_envelope(b"<xml><AppId>wx</AppId></xml>"),
            Err(XmlError::Missing("Encrypt"))
        );
    }
}
