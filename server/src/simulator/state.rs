//! The simulator's model of WeChat: who holds which ticket, token and code, and WeChat's rules for
//! each, as plain functions over [`SimState`] and a clock value. No I/O happens here; pushes the
//! rules cause are queued in `outbox` and sent by the caller after the lock is released.

use std::collections::{BTreeMap, HashMap, VecDeque};

use app::permissions::AccountKind;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::menus::AccountMenus;
use crate::wechat::crypto::MsgCrypt;
use crate::wechat::xml::{build_push, PushField};

/// How long things live, in seconds. Defaults are WeChat's; tests compress them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lifetimes {
    pub component_token: i64,
    pub authorizer_token: i64,
    pub jsapi_ticket: i64,
    pub pre_auth_code: i64,
    pub auth_code: i64,
    pub ticket: i64,
    /// How long a superseded component or authorizer token keeps working.
    pub token_overlap: i64,
    /// How long a replaced refresh token keeps working.
    pub refresh_token_grace: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            component_token: 7200,
            authorizer_token: 7200,
            jsapi_ticket: 7200,
            pre_auth_code: 600,
            auth_code: 600,
            ticket: 12 * 3600,
            token_overlap: 300,
            refresh_token_grace: 300,
        }
    }
}

/// A component (third-party platform) as WeChat knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSeed {
    pub appid: String,
    #[serde(default)]
    pub name: String,
    pub secret: String,
    pub token: String,
    pub encoding_aes_key: String,
    /// Where authorization events and tickets are pushed; none means nothing is pushed.
    #[serde(default)]
    pub notify_url: Option<String>,
}

/// An Official Account or Mini Program that can authorize components.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSeed {
    pub appid: String,
    pub kind: AccountKind,
    pub nick_name: String,
    pub user_name: String,
    #[serde(default)]
    pub principal_name: String,
    #[serde(default)]
    pub alias: String,
    /// OA: 0 subscription, 2 service; MP: 0 normal.
    #[serde(default)]
    pub service_type: i64,
    /// -1 unverified, 0 WeChat-verified.
    #[serde(default)]
    pub verify_type: i64,
    #[serde(default)]
    pub menu: Option<Value>,
}

/// A WeChat error as the handlers answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WxErr(pub i64);

/// The errmsg WeChat sends with each code (PROTOCOL.md §10), before the ` rid: …` suffix.
pub fn errmsg(code: i64) -> &'static str {
    match code {
        -1 => "system error",
        40001 => "invalid credential, access_token is invalid or not latest",
        40003 => "invalid openid",
        40013 => "invalid appid",
        40015 => "invalid menu type",
        40016 => "invalid button size",
        40017 => "invalid button type",
        40018 => "invalid button name size",
        40019 => "invalid button key size",
        40020 => "invalid button url size",
        40021 => "invalid menu version",
        40022 => "invalid sub menu level",
        40023 => "invalid sub button size",
        40024 => "invalid sub button type",
        40025 => "invalid sub button name size",
        40026 => "invalid sub button key size",
        40027 => "invalid sub button url size",
        40054 => "invalid sub button url domain",
        40055 => "invalid button url domain",
        40097 => "invalid args",
        40125 => "invalid appsecret",
        41001 => "access_token missing",
        41002 => "appid missing",
        41004 => "appsecret missing",
        41007 => "missing submenu data",
        42001 => "access_token expired",
        45009 => "reach max api daily quota limit",
        46003 => "menu no exist",
        47001 => "data format error",
        48001 => "api unauthorized",
        48006 => "forbid to clear quota because of reaching the limit",
        61003 => "component is not authorized by this account",
        40029 => "invalid code",
        40030 => "invalid refresh_token",
        40163 => "code been used",
        41008 => "missing code",
        61005 => "component ticket is expired",
        61006 => "component ticket is invalid",
        61009 => "code is invalid",
        61010 => "code is expired",
        61011 => "invalid component",
        61012 => "invalid option name",
        61013 => "invalid option value",
        61023 => "refresh_token is invalid",
        65301 => "no such conditional menu",
        61007 => "api is unauthorized to component",
        85007 => "page path error",
        85008 => "category error",
        85009 => "there is already an audit in progress",
        85010 => "item list error",
        85012 => "invalid audit id",
        85013 => "invalid ext_json",
        85014 => "invalid template id",
        85017 => "no domain to modify, or a domain is not valid",
        85019 => "no audit version",
        85020 => "the audit status does not allow a release",
        85043 => "invalid user_version",
        85064 => "template or draft not found",
        85065 => "the template library is full",
        85085 => "the audit quota is used up",
        85086 => "commit code before submitting it for audit",
        86000 => "the account is not a mini program managed by a third party",
        86001 => "no code committed by the third party",
        87012 => "this version cannot be reverted",
        87013 => "audit undo limit reached",
        89019 => "webview domains unchanged",
        89248 => "invalid enterprise code type",
        89249 => "a task for this enterprise is already running",
        89250 => "no such task",
        89251 => "waiting for the legal person's face verification",
        89253 => "missing parameter",
        89021 => "the webview domain is not one of the platform's",
        89029 => "too many webview domains",
        65303 => "there is no default menu, create one first",
        65304 => "match rule empty",
        65305 => "conditional menu count limit",
        _ => "error",
    }
}

pub fn error_body(code: i64) -> Value {
    let rid: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(8)
        .map(|b| (b as char).to_ascii_lowercase())
        .collect();
    json!({ "errcode": code, "errmsg": format!("{} rid: {rid}", errmsg(code)) })
}

fn random(prefix: &str, len: usize) -> String {
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{body}")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IssuedToken {
    owner: String,
    authorizer: Option<String>,
    expires_at: i64,
    superseded_at: Option<i64>,
    /// 0 in files written before it was kept.
    #[serde(default)]
    issued_at: i64,
    /// Seen in use since it was issued: a call to WeChat with it, or the tenant API serving it.
    #[serde(default)]
    in_service: bool,
    /// Its answer was lost on the way (an injected fault): nobody can have it.
    #[serde(default)]
    lost: bool,
}

/// A refresh of an account whose previous token was less than half a lifetime old and already in
/// service: two servers refreshing at once, or a refresh that forgot the token it had (issue 16's
/// "double refresh"). A token nobody used yet (its answer was lost, or the process that asked
/// died before storing it) may be refreshed again: that is a retry, counted as an early refresh.
#[derive(Debug, Clone, Serialize)]
pub struct DoubleRefresh {
    pub component_appid: String,
    pub authorizer_appid: String,
    pub at: i64,
    pub previous_issued_at: i64,
}

/// What the simulator counts of authorizer-token refreshes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RefreshReport {
    pub refreshes: u64,
    pub double_refreshes: u64,
    /// Refreshes of an account whose previous token was younger than half a lifetime but never
    /// used (its answer was lost, or its asker died): retries, not doubles.
    pub early_refreshes: u64,
    /// Of those, the ones whose previous answer the simulator itself lost (a `lost_answer` fault).
    pub early_after_lost_answer: u64,
    /// Tokens the tenant API handed out (as reported with `served`) ...
    pub served_checked: u64,
    /// ... and of those, the ones WeChat no longer accepted at that moment.
    pub expired_served: u64,
    /// The newest double refreshes (at most 1,000).
    pub doubles: Vec<DoubleRefresh>,
    /// The newest expired tokens served (at most 1,000).
    pub expired: Vec<ExpiredServed>,
}

/// A token the tenant API served that WeChat refused at that moment.
#[derive(Debug, Clone, Serialize)]
pub struct ExpiredServed {
    pub authorizer_appid: Option<String>,
    pub at: i64,
    /// `40001` (superseded past the overlap, or unknown) or `42001` (expired).
    pub errcode: i64,
}

/// What `lost_refresh_tokens` found: accounts WeChat still has authorized whose refresh token the
/// platform does not hold (neither the current one nor one still in its grace period).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RefreshTokenCheck {
    pub checked: u64,
    pub lost: u64,
    /// The first lost ones (at most 100): component appid, authorizer appid.
    pub examples: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PreAuth {
    component: String,
    expires_at: i64,
    used: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AuthCode {
    component: String,
    authorizer: String,
    expires_at: i64,
    used: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Authorization {
    pub authorizer_appid: String,
    #[serde(skip)]
    pub refresh_token: String,
    #[serde(skip)]
    previous_refresh: Option<(String, i64)>,
    pub func_ids: Vec<i64>,
    pub auth_time: i64,
    pub revoked: bool,
}

#[derive(Debug)]
pub struct ComponentState {
    pub seed: ComponentSeed,
    pub crypto: MsgCrypt,
    /// Newest last; old ones are kept (bounded) so an expired ticket reads as expired, not unknown.
    tickets: VecDeque<(String, i64)>,
    pub authorizations: BTreeMap<String, Authorization>,
    pub push_enabled: bool,
    pub quota_resets: u32,
    options: HashMap<(String, String), String>,
}

impl ComponentState {
    pub fn latest_ticket(&self) -> Option<&str> {
        self.tickets.back().map(|(t, _)| t.as_str())
    }
}

/// A push the rules decided on, to be encrypted and sent after the lock is released.
#[derive(Debug, Clone)]
pub struct PendingPush {
    pub component_appid: String,
    pub info_type: String,
    pub authorizer_appid: Option<String>,
    pub xml: String,
}

/// A customer-service message an account sent (inspected by tests).
#[derive(Debug, Clone, Serialize)]
pub struct SentMessage {
    pub authorizer_appid: String,
    pub touser: String,
    pub content: String,
    pub at: i64,
}

/// A file uploaded with `media/upload`.
#[derive(Debug, Clone)]
pub struct UploadedMedia {
    pub authorizer_appid: String,
    pub kind: String,
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub at: i64,
}

#[derive(Debug)]
pub struct SimState {
    pub lifetimes: Lifetimes,
    pub components: BTreeMap<String, ComponentState>,
    pub accounts: BTreeMap<String, AccountSeed>,
    component_tokens: HashMap<String, IssuedToken>,
    authorizer_tokens: HashMap<String, IssuedToken>,
    current_authorizer_token: HashMap<(String, String), String>,
    current_component_token: HashMap<String, String>,
    pre_auth_codes: HashMap<String, PreAuth>,
    auth_codes: HashMap<String, AuthCode>,
    jsapi_tickets: HashMap<String, i64>,
    pub sent_messages: Vec<SentMessage>,
    /// Temporary media uploaded with `media/upload`, by media id.
    pub media: HashMap<String, UploadedMedia>,
    /// Menus made with the API, by account (the backend menu is `AccountSeed::menu`).
    pub menus: BTreeMap<String, AccountMenus>,
    /// Codes of users logging in to mini programs (`js_code`) and of web OAuth, and the OAuth
    /// refresh tokens they led to.
    pub sns: super::sns::SnsState,
    /// Mini-program code: template libraries, versions, audits, releases, quotas.
    pub code: super::code::CodeState,
    /// Refreshes counted, and the double ones.
    pub refresh_report: RefreshReport,
    template_messages: i64,
    pub outbox: Vec<PendingPush>,
    pending_restore: HashMap<String, SavedComponent>,
    /// Every `api_authorizer_token` answers with a new refresh token (the old one keeps working
    /// for `refresh_token_grace`). WeChat normally returns the same one; this is the harshest case
    /// for a platform that might drop a refresh token on the floor.
    pub rotate_refresh_tokens: bool,
}

const KEPT_TICKETS: usize = 256;

/// An authorization as saved to the state file (with its refresh tokens, which the control view
/// leaves out).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedAuthorization {
    authorizer_appid: String,
    refresh_token: String,
    previous_refresh: Option<(String, i64)>,
    func_ids: Vec<i64>,
    auth_time: i64,
    revoked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedComponent {
    appid: String,
    tickets: Vec<(String, i64)>,
    authorizations: Vec<SavedAuthorization>,
    push_enabled: bool,
    quota_resets: u32,
}

/// What survives a restart of a simulator with a state file: WeChat does not forget who
/// authorized what, or which tokens and codes it issued, when wxhub's demo restarts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedState {
    components: Vec<SavedComponent>,
    accounts: Vec<AccountSeed>,
    component_tokens: HashMap<String, IssuedToken>,
    authorizer_tokens: HashMap<String, IssuedToken>,
    current_authorizer_token: Vec<(String, String, String)>,
    current_component_token: HashMap<String, String>,
    pre_auth_codes: HashMap<String, PreAuth>,
    auth_codes: HashMap<String, AuthCode>,
    /// Absent from files written before menus were simulated.
    #[serde(default)]
    menus: BTreeMap<String, AccountMenus>,
    /// Absent from files written before code management was simulated.
    #[serde(default)]
    code: super::code::CodeState,
}

fn apply_saved(state: &mut ComponentState, c: SavedComponent) {
    state.tickets = c.tickets.into_iter().collect();
    state.push_enabled = c.push_enabled;
    state.quota_resets = c.quota_resets;
    state.authorizations = c
        .authorizations
        .into_iter()
        .map(|a| {
            (
                a.authorizer_appid.clone(),
                Authorization {
                    authorizer_appid: a.authorizer_appid,
                    refresh_token: a.refresh_token,
                    previous_refresh: a.previous_refresh,
                    func_ids: a.func_ids,
                    auth_time: a.auth_time,
                    revoked: a.revoked,
                },
            )
        })
        .collect();
}

impl SimState {
    pub fn save(&self) -> SavedState {
        SavedState {
            components: self
                .components
                .values()
                .map(|c| SavedComponent {
                    appid: c.seed.appid.clone(),
                    tickets: c.tickets.iter().cloned().collect(),
                    authorizations: c
                        .authorizations
                        .values()
                        .map(|a| SavedAuthorization {
                            authorizer_appid: a.authorizer_appid.clone(),
                            refresh_token: a.refresh_token.clone(),
                            previous_refresh: a.previous_refresh.clone(),
                            func_ids: a.func_ids.clone(),
                            auth_time: a.auth_time,
                            revoked: a.revoked,
                        })
                        .collect(),
                    push_enabled: c.push_enabled,
                    quota_resets: c.quota_resets,
                })
                .chain(self.pending_restore.values().cloned())
                .collect(),
            accounts: self.accounts.values().cloned().collect(),
            component_tokens: self.component_tokens.clone(),
            authorizer_tokens: self.authorizer_tokens.clone(),
            current_authorizer_token: self
                .current_authorizer_token
                .iter()
                .map(|((c, a), t)| (c.clone(), a.clone(), t.clone()))
                .collect(),
            current_component_token: self.current_component_token.clone(),
            pre_auth_codes: self.pre_auth_codes.clone(),
            auth_codes: self.auth_codes.clone(),
            menus: self.menus.clone(),
            code: self.code.clone(),
        }
    }

    /// Restores saved state. Components are matched by appid; their secrets come from the seed
    /// (a saved component the seed no longer has is dropped with its tokens' meaning).
    pub fn restore(&mut self, saved: SavedState) {
        for a in saved.accounts {
            self.accounts.entry(a.appid.clone()).or_insert(a);
        }
        for c in saved.components {
            match self.components.get_mut(&c.appid) {
                Some(state) => apply_saved(state, c),
                // Registered later (the demo adds its component once wxhub is listening).
                None => {
                    self.pending_restore.insert(c.appid.clone(), c);
                }
            }
        }
        self.component_tokens = saved.component_tokens;
        self.authorizer_tokens = saved.authorizer_tokens;
        self.current_authorizer_token = saved
            .current_authorizer_token
            .into_iter()
            .map(|(c, a, t)| ((c, a), t))
            .collect();
        self.current_component_token = saved.current_component_token;
        self.pre_auth_codes = saved.pre_auth_codes;
        self.auth_codes = saved.auth_codes;
        for (appid, menus) in saved.menus {
            if menus.backend_deleted {
                if let Some(account) = self.accounts.get_mut(&appid) {
                    account.menu = None;
                }
            }
            self.menus.insert(appid, menus);
        }
        self.code = saved.code;
    }

    pub fn new(lifetimes: Lifetimes) -> Self {
        Self {
            lifetimes,
            components: BTreeMap::new(),
            accounts: BTreeMap::new(),
            component_tokens: HashMap::new(),
            authorizer_tokens: HashMap::new(),
            current_authorizer_token: HashMap::new(),
            current_component_token: HashMap::new(),
            pre_auth_codes: HashMap::new(),
            auth_codes: HashMap::new(),
            jsapi_tickets: HashMap::new(),
            sent_messages: Vec::new(),
            media: HashMap::new(),
            menus: BTreeMap::new(),
            sns: Default::default(),
            code: Default::default(),
            refresh_report: Default::default(),
            template_messages: 0,
            outbox: Vec::new(),
            pending_restore: HashMap::new(),
            rotate_refresh_tokens: false,
        }
    }

    pub fn add_component(&mut self, seed: ComponentSeed) -> Result<(), String> {
        let crypto = MsgCrypt::new(&seed.token, &seed.encoding_aes_key, &seed.appid)
            .map_err(|e| format!("component {}: {e}", seed.appid))?;
        let existing = self.components.remove(&seed.appid);
        let (tickets, authorizations) = existing
            .map(|c| (c.tickets, c.authorizations))
            .unwrap_or_default();
        let appid = seed.appid.clone();
        let mut state = ComponentState {
            seed,
            crypto,
            tickets,
            authorizations,
            push_enabled: true,
            quota_resets: 0,
            options: HashMap::new(),
        };
        if let Some(saved) = self.pending_restore.remove(&appid) {
            apply_saved(&mut state, saved);
        }
        self.components.insert(appid, state);
        Ok(())
    }

    /// Adds or replaces an account; a new backend menu is live again even after `menu/delete`.
    pub fn add_account(&mut self, seed: AccountSeed) {
        if let Some(menus) = self.menus.get_mut(&seed.appid) {
            menus.backend_deleted = false;
        }
        self.accounts.insert(seed.appid.clone(), seed);
    }

    /// Accounts that authorized `component_appid` before wxhub ran it: `count` made-up accounts
    /// (appids `wxe…`, every fifth a mini program), authorized over the past hours with
    /// `func_ids`, with refresh tokens and nothing pushed (WeChat pushed their events long ago, to
    /// whoever ran the platform then). They are what `api_get_authorizer_list` gives an import.
    /// Returns their appids.
    pub fn seed_existing_authorizations(
        &mut self,
        component_appid: &str,
        count: usize,
        func_ids: &[i64],
        now: i64,
    ) -> Result<Vec<String>, String> {
        if !self.components.contains_key(component_appid) {
            return Err(format!("no component {component_appid}"));
        }
        let mut made = Vec::with_capacity(count);
        let mut n: u64 = 0;
        while made.len() < count {
            n += 1;
            let appid = format!("wxe{n:015x}");
            let taken = self.accounts.contains_key(&appid)
                || self
                    .components
                    .get(component_appid)
                    .is_some_and(|c| c.authorizations.contains_key(&appid));
            if taken {
                continue;
            }
            let mini = made.len() % 5 == 4;
            self.accounts.insert(
                appid.clone(),
                AccountSeed {
                    appid: appid.clone(),
                    kind: if mini {
                        AccountKind::MiniProgram
                    } else {
                        AccountKind::OfficialAccount
                    },
                    nick_name: format!(
                        "Existing {} {n}",
                        if mini { "mini program" } else { "account" }
                    ),
                    user_name: format!("gh_e{n:011x}"),
                    principal_name: "Existing Ltd".into(),
                    alias: String::new(),
                    service_type: if mini { 0 } else { 2 },
                    verify_type: 0,
                    menu: None,
                },
            );
            let auth_time = now / 1000 - 3600 * (made.len() as i64 + 1);
            if let Some(component) = self.components.get_mut(component_appid) {
                component.authorizations.insert(
                    appid.clone(),
                    Authorization {
                        authorizer_appid: appid.clone(),
                        refresh_token: random("refreshtoken@@@", 43),
                        previous_refresh: None,
                        func_ids: func_ids.to_vec(),
                        auth_time,
                        revoked: false,
                    },
                );
            }
            made.push(appid);
        }
        Ok(made)
    }

    /// How many of `component_appid`'s authorizations [`Self::seed_existing_authorizations`] made.
    pub fn existing_authorizations(&self, component_appid: &str) -> usize {
        self.components.get(component_appid).map_or(0, |c| {
            c.authorizations
                .keys()
                .filter(|a| a.starts_with("wxe"))
                .count()
        })
    }

    /// Mints a ticket and queues its push; returns the ticket.
    pub fn issue_ticket(&mut self, component_appid: &str, now: i64) -> Option<String> {
        let component = self.components.get_mut(component_appid)?;
        let ticket = random("ticket@@@", 60);
        component.tickets.push_back((ticket.clone(), now));
        while component.tickets.len() > KEPT_TICKETS {
            component.tickets.pop_front();
        }
        let xml = build_push(&[
            ("AppId", PushField::Text(component_appid)),
            ("CreateTime", PushField::Number(now / 1000)),
            ("InfoType", PushField::Text("component_verify_ticket")),
            ("ComponentVerifyTicket", PushField::Text(&ticket)),
        ]);
        self.outbox.push(PendingPush {
            component_appid: component_appid.to_owned(),
            info_type: "component_verify_ticket".into(),
            authorizer_appid: None,
            xml,
        });
        Some(ticket)
    }

    /// Forgets tokens and codes that can no longer be used, so long runs stay bounded.
    pub fn prune(&mut self, now: i64) {
        let overlap = self.lifetimes.token_overlap * 1000;
        let alive = |t: &IssuedToken| {
            now < t.expires_at && t.superseded_at.is_none_or(|s| now < s + overlap)
        };
        // Keep dead tokens a while longer so that late use reads as "expired", not "unknown".
        let keep = |t: &IssuedToken| alive(t) || now < t.expires_at + 3_600_000;
        self.component_tokens.retain(|_, t| keep(t));
        self.authorizer_tokens.retain(|_, t| keep(t));
        self.pre_auth_codes
            .retain(|_, p| now < p.expires_at + 3_600_000);
        self.auth_codes
            .retain(|_, c| now < c.expires_at + 3_600_000);
        self.jsapi_tickets.retain(|_, e| now < *e);
    }

    fn component_for_body<'a>(&self, body: &'a Value) -> Result<&'a str, WxErr> {
        let appid = text(body, "component_appid").ok_or(WxErr(41002))?;
        if self.components.contains_key(appid) {
            Ok(appid)
        } else if self.accounts.contains_key(appid) {
            Err(WxErr(61011))
        } else {
            Err(WxErr(40013))
        }
    }

    /// Checks a component token from the query and that it belongs to the body's component.
    fn check_component_token(
        &self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<String, WxErr> {
        let token = token.filter(|t| !t.is_empty()).ok_or(WxErr(41001))?;
        let issued = self.component_tokens.get(token).ok_or(WxErr(40001))?;
        self.check_alive(issued, now)?;
        let appid = self.component_for_body(body)?;
        if appid != issued.owner {
            return Err(WxErr(40013));
        }
        Ok(appid.to_owned())
    }

    fn check_alive(&self, issued: &IssuedToken, now: i64) -> Result<(), WxErr> {
        if now >= issued.expires_at {
            return Err(WxErr(42001));
        }
        if let Some(at) = issued.superseded_at {
            if now >= at + self.lifetimes.token_overlap * 1000 {
                return Err(WxErr(40001));
            }
        }
        Ok(())
    }

    /// Checks a component token given with the component's appid in the query (the `sns/…` calls).
    pub(super) fn check_component_token_for(
        &self,
        token: Option<&str>,
        component_appid: Option<&str>,
        now: i64,
    ) -> Result<String, WxErr> {
        let body = serde_json::json!({ "component_appid": component_appid.unwrap_or("") });
        if component_appid.is_none_or(str::is_empty) {
            return Err(WxErr(41002));
        }
        self.check_component_token(token, &body, now)
    }

    /// The component a component token belongs to (template-library calls take it as
    /// `access_token`, with no appid beside it).
    pub(super) fn component_of_token(
        &self,
        token: Option<&str>,
        now: i64,
    ) -> Result<String, WxErr> {
        let token = token.filter(|t| !t.is_empty()).ok_or(WxErr(41001))?;
        let issued = self.component_tokens.get(token).ok_or(WxErr(40001))?;
        self.check_alive(issued, now)?;
        if issued.authorizer.is_some() {
            return Err(WxErr(40001));
        }
        Ok(issued.owner.clone())
    }

    /// How many authorizer tokens were ever issued (tests of lost answers).
    pub fn authorizer_token_count(&self) -> usize {
        self.authorizer_tokens.len()
    }

    /// The component a token (its own or one of its authorizers') belongs to, valid or not.
    pub(super) fn owner_of_token(&self, token: &str) -> Option<String> {
        self.component_tokens
            .get(token)
            .or_else(|| self.authorizer_tokens.get(token))
            .map(|t| t.owner.clone())
    }

    /// Checks an authorizer token; returns (component appid, authorizer appid).
    pub(super) fn check_authorizer_token(
        &self,
        token: Option<&str>,
        now: i64,
    ) -> Result<(String, String), WxErr> {
        let token = token.filter(|t| !t.is_empty()).ok_or(WxErr(41001))?;
        let issued = self.authorizer_tokens.get(token).ok_or(WxErr(40001))?;
        self.check_alive(issued, now)?;
        let authorizer = issued.authorizer.clone().ok_or(WxErr(40001))?;
        let live = self
            .components
            .get(&issued.owner)
            .and_then(|c| c.authorizations.get(&authorizer))
            .is_some_and(|a| !a.revoked);
        if !live {
            return Err(WxErr(40001));
        }
        Ok((issued.owner.clone(), authorizer))
    }

    pub fn api_component_token(&mut self, body: &Value, now: i64) -> Result<Value, WxErr> {
        let appid = self.component_for_body(body)?.to_owned();
        let secret = text(body, "component_appsecret").ok_or(WxErr(41004))?;
        let component = self.components.get(&appid).ok_or(WxErr(40013))?;
        if secret != component.seed.secret {
            return Err(WxErr(40125));
        }
        let ticket = text(body, "component_verify_ticket").ok_or(WxErr(61006))?;
        let issued_at = component
            .tickets
            .iter()
            .rev()
            .find(|(t, _)| t == ticket)
            .map(|(_, at)| *at)
            .ok_or(WxErr(61006))?;
        if now >= issued_at + self.lifetimes.ticket * 1000 {
            return Err(WxErr(61005));
        }
        let token = random("", 86);
        let expires_in = self.lifetimes.component_token;
        if let Some(previous) = self
            .current_component_token
            .insert(appid.clone(), token.clone())
        {
            if let Some(p) = self.component_tokens.get_mut(&previous) {
                p.superseded_at.get_or_insert(now);
            }
        }
        self.component_tokens.insert(
            token.clone(),
            IssuedToken {
                owner: appid,
                authorizer: None,
                expires_at: now + expires_in * 1000,
                superseded_at: None,
                issued_at: now,
                in_service: false,
                lost: false,
            },
        );
        Ok(json!({ "component_access_token": token, "expires_in": expires_in }))
    }

    pub fn api_start_push_ticket(&mut self, body: &Value, now: i64) -> Result<Value, WxErr> {
        let appid = text(body, "component_appid").ok_or(WxErr(41002))?;
        let component = self.components.get_mut(appid).ok_or(WxErr(40013))?;
        let secret = text(body, "component_secret").ok_or(WxErr(41004))?;
        if secret != component.seed.secret {
            return Err(WxErr(40125));
        }
        let was_running = component.push_enabled;
        component.push_enabled = true;
        let appid = appid.to_owned();
        self.issue_ticket(&appid, now);
        let msg = if was_running {
            "in a normal state"
        } else {
            "ok"
        };
        Ok(json!({ "errcode": 0, "errmsg": msg }))
    }

    pub fn api_create_preauthcode(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let appid = self.check_component_token(token, body, now)?;
        let (code, expires_in) = self.mint_pre_auth_code(&appid, now);
        Ok(json!({ "pre_auth_code": code, "expires_in": expires_in }))
    }

    /// A fresh pre_auth_code for `component_appid` (the control API mints them without a token).
    pub fn mint_pre_auth_code(&mut self, component_appid: &str, now: i64) -> (String, i64) {
        let code = random("preauthcode@@@", 48);
        let expires_in = self.lifetimes.pre_auth_code;
        self.pre_auth_codes.insert(
            code.clone(),
            PreAuth {
                component: component_appid.to_owned(),
                expires_at: now + expires_in * 1000,
                used: false,
            },
        );
        (code, expires_in)
    }

    /// Is this pre_auth_code usable for `component` right now? Used by the confirmation page.
    pub fn check_pre_auth_code(
        &self,
        component: &str,
        code: &str,
        now: i64,
    ) -> Result<(), &'static str> {
        match self.pre_auth_codes.get(code) {
            None => Err("The pre_auth_code is invalid. / 预授权码无效。"),
            Some(p) if p.component != component => {
                Err("The pre_auth_code belongs to another platform. / 预授权码与第三方平台不匹配。")
            }
            Some(p) if p.used => {
                Err("The pre_auth_code has already been used. / 预授权码已被使用。")
            }
            Some(p) if now >= p.expires_at => {
                Err("The pre_auth_code has expired. / 预授权码已过期。")
            }
            Some(_) => Ok(()),
        }
    }

    /// The owner confirmed on the stand-in page (or a test authorized directly): records the
    /// authorization (a new refresh token each time), mints the authorization code, and queues
    /// the `authorized` or `updateauthorized` push. Returns (auth_code, expires_in).
    /// Authorizes `authorizer_appid` to the component with no push (the caller pushes what
    /// WeChat sends in its case, e.g. a fast registration's notice); answers the authorization
    /// code, or `None` for an unknown component.
    pub(super) fn grant(
        &mut self,
        component_appid: &str,
        authorizer_appid: &str,
        func_ids: &[i64],
        now: i64,
    ) -> Option<String> {
        let component = self.components.get_mut(component_appid)?;
        component.authorizations.insert(
            authorizer_appid.to_owned(),
            Authorization {
                authorizer_appid: authorizer_appid.to_owned(),
                refresh_token: random("refreshtoken@@@", 43),
                previous_refresh: None,
                func_ids: func_ids.to_vec(),
                auth_time: now / 1000,
                revoked: false,
            },
        );
        let code = random("queryauthcode@@@", 48);
        self.auth_codes.insert(
            code.clone(),
            AuthCode {
                component: component_appid.to_owned(),
                authorizer: authorizer_appid.to_owned(),
                expires_at: now + self.lifetimes.auth_code * 1000,
                used: false,
            },
        );
        Some(code)
    }

    pub fn confirm_authorization(
        &mut self,
        component_appid: &str,
        pre_auth_code: Option<&str>,
        authorizer_appid: &str,
        func_ids: &[i64],
        now: i64,
    ) -> Result<(String, i64), &'static str> {
        if let Some(code) = pre_auth_code {
            self.check_pre_auth_code(component_appid, code, now)?;
        }
        if !self.accounts.contains_key(authorizer_appid) {
            return Err("Unknown account. / 未知帐号。");
        }
        let grace = self.lifetimes.refresh_token_grace * 1000;
        let component = self
            .components
            .get_mut(component_appid)
            .ok_or("Unknown third-party platform. / 未知第三方平台。")?;
        if let Some(code) = pre_auth_code {
            if let Some(p) = self.pre_auth_codes.get_mut(code) {
                p.used = true;
            }
        }
        let refresh_token = random("refreshtoken@@@", 43);
        let info_type = match component.authorizations.get_mut(authorizer_appid) {
            Some(existing) if !existing.revoked => {
                let old = std::mem::replace(&mut existing.refresh_token, refresh_token);
                existing.previous_refresh = Some((old, now + grace));
                existing.func_ids = func_ids.to_vec();
                existing.auth_time = now / 1000;
                "updateauthorized"
            }
            _ => {
                component.authorizations.insert(
                    authorizer_appid.to_owned(),
                    Authorization {
                        authorizer_appid: authorizer_appid.to_owned(),
                        refresh_token,
                        previous_refresh: None,
                        func_ids: func_ids.to_vec(),
                        auth_time: now / 1000,
                        revoked: false,
                    },
                );
                "authorized"
            }
        };
        let code = random("queryauthcode@@@", 48);
        let expires_in = self.lifetimes.auth_code;
        let expires_at = now + expires_in * 1000;
        self.auth_codes.insert(
            code.clone(),
            AuthCode {
                component: component_appid.to_owned(),
                authorizer: authorizer_appid.to_owned(),
                expires_at,
                used: false,
            },
        );
        let mut fields = vec![
            ("AppId", PushField::Text(component_appid)),
            ("CreateTime", PushField::Number(now / 1000)),
            ("InfoType", PushField::Text(info_type)),
            ("AuthorizerAppid", PushField::Text(authorizer_appid)),
            ("AuthorizationCode", PushField::Text(&code)),
            (
                "AuthorizationCodeExpiredTime",
                PushField::Number(expires_at / 1000),
            ),
        ];
        if let Some(p) = pre_auth_code {
            fields.push(("PreAuthCode", PushField::Text(p)));
        }
        let xml = build_push(&fields);
        self.outbox.push(PendingPush {
            component_appid: component_appid.to_owned(),
            info_type: info_type.to_owned(),
            authorizer_appid: Some(authorizer_appid.to_owned()),
            xml,
        });
        Ok((code, expires_in))
    }

    /// The owner cancelled the authorization in WeChat: tokens stop working, the refresh token is
    /// dead, and `unauthorized` is pushed.
    pub fn revoke(&mut self, component_appid: &str, authorizer_appid: &str, now: i64) -> bool {
        let Some(component) = self.components.get_mut(component_appid) else {
            return false;
        };
        let Some(auth) = component.authorizations.get_mut(authorizer_appid) else {
            return false;
        };
        if auth.revoked {
            return false;
        }
        auth.revoked = true;
        auth.previous_refresh = None;
        self.authorizer_tokens.retain(|_, t| {
            !(t.owner == component_appid && t.authorizer.as_deref() == Some(authorizer_appid))
        });
        self.current_authorizer_token
            .remove(&(component_appid.to_owned(), authorizer_appid.to_owned()));
        let xml = build_push(&[
            ("AppId", PushField::Text(component_appid)),
            ("CreateTime", PushField::Number(now / 1000)),
            ("InfoType", PushField::Text("unauthorized")),
            ("AuthorizerAppid", PushField::Text(authorizer_appid)),
        ]);
        self.outbox.push(PendingPush {
            component_appid: component_appid.to_owned(),
            info_type: "unauthorized".into(),
            authorizer_appid: Some(authorizer_appid.to_owned()),
            xml,
        });
        true
    }

    fn mint_authorizer_token(
        &mut self,
        component: &str,
        authorizer: &str,
        now: i64,
        refresh: bool,
    ) -> (String, i64) {
        let token = random("", 107);
        let expires_in = self.lifetimes.authorizer_token;
        let key = (component.to_owned(), authorizer.to_owned());
        if refresh {
            self.refresh_report.refreshes += 1;
        }
        if let Some(previous) = self.current_authorizer_token.insert(key, token.clone()) {
            if let Some(p) = self.authorizer_tokens.get_mut(&previous) {
                p.superseded_at.get_or_insert(now);
                let lifetime = p.expires_at - p.issued_at;
                let early = refresh && p.issued_at > 0 && now - p.issued_at < lifetime / 2;
                if early && !p.in_service {
                    self.refresh_report.early_refreshes += 1;
                    if p.lost {
                        self.refresh_report.early_after_lost_answer += 1;
                    }
                } else if early {
                    let report = &mut self.refresh_report;
                    report.double_refreshes += 1;
                    if report.doubles.len() >= 1_000 {
                        report.doubles.remove(0);
                    }
                    report.doubles.push(DoubleRefresh {
                        component_appid: component.to_owned(),
                        authorizer_appid: authorizer.to_owned(),
                        at: now,
                        previous_issued_at: p.issued_at,
                    });
                }
            }
        }
        self.authorizer_tokens.insert(
            token.clone(),
            IssuedToken {
                owner: component.to_owned(),
                authorizer: Some(authorizer.to_owned()),
                expires_at: now + expires_in * 1000,
                superseded_at: None,
                issued_at: now,
                in_service: false,
                lost: false,
            },
        );
        (token, expires_in)
    }

    fn func_info(ids: &[i64]) -> Value {
        Value::Array(
            ids.iter()
                .map(|id| json!({ "funcscope_category": { "id": id } }))
                .collect(),
        )
    }

    pub fn api_query_auth(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let component = self.check_component_token(token, body, now)?;
        let code = text(body, "authorization_code").ok_or(WxErr(61009))?;
        let entry = self.auth_codes.get_mut(code).ok_or(WxErr(61009))?;
        if entry.component != component || entry.used {
            return Err(WxErr(61009));
        }
        if now >= entry.expires_at {
            return Err(WxErr(61010));
        }
        entry.used = true;
        let authorizer = entry.authorizer.clone();
        let auth = self
            .components
            .get(&component)
            .and_then(|c| c.authorizations.get(&authorizer))
            .filter(|a| !a.revoked)
            .ok_or(WxErr(61009))?;
        let refresh = auth.refresh_token.clone();
        let funcs = Self::func_info(&auth.func_ids);
        let (access, expires_in) = self.mint_authorizer_token(&component, &authorizer, now, false);
        Ok(json!({ "authorization_info": {
            "authorizer_appid": authorizer,
            "authorizer_access_token": access,
            "expires_in": expires_in,
            "authorizer_refresh_token": refresh,
            "func_info": funcs,
        }}))
    }

    pub fn api_authorizer_token(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let component = self.check_component_token(token, body, now)?;
        let authorizer = text(body, "authorizer_appid")
            .ok_or(WxErr(41002))?
            .to_owned();
        let presented = text(body, "authorizer_refresh_token").ok_or(WxErr(61023))?;
        let auth = self
            .components
            .get(&component)
            .and_then(|c| c.authorizations.get(&authorizer))
            .ok_or(WxErr(61003))?;
        if auth.revoked {
            return Err(WxErr(61003));
        }
        let current = presented == auth.refresh_token;
        let in_grace = auth
            .previous_refresh
            .as_ref()
            .is_some_and(|(old, until)| presented == old && now < *until);
        if !current && !in_grace {
            return Err(WxErr(61023));
        }
        let refresh = if self.rotate_refresh_tokens {
            let grace = self.lifetimes.refresh_token_grace * 1000;
            let fresh = random("refreshtoken@@@", 43);
            let auth = self
                .components
                .get_mut(&component)
                .and_then(|c| c.authorizations.get_mut(&authorizer))
                .ok_or(WxErr(61003))?;
            let old = std::mem::replace(&mut auth.refresh_token, fresh.clone());
            auth.previous_refresh = Some((old, now + grace));
            fresh
        } else {
            auth.refresh_token.clone()
        };
        let (access, expires_in) = self.mint_authorizer_token(&component, &authorizer, now, true);
        Ok(json!({
            "authorizer_access_token": access,
            "expires_in": expires_in,
            "authorizer_refresh_token": refresh,
        }))
    }

    pub fn api_get_authorizer_info(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let component = self.check_component_token(token, body, now)?;
        let authorizer = text(body, "authorizer_appid").ok_or(WxErr(41002))?;
        let auth = self
            .components
            .get(&component)
            .and_then(|c| c.authorizations.get(authorizer))
            .filter(|a| !a.revoked)
            .ok_or(WxErr(61003))?;
        let account = self.accounts.get(authorizer).ok_or(WxErr(61003))?;
        let mut info = json!({
            "nick_name": account.nick_name,
            "head_img": format!("https://wx.qlogo.cn/sim/{}/0", account.appid),
            "service_type_info": { "id": account.service_type },
            "verify_type_info": { "id": account.verify_type },
            "user_name": account.user_name,
            "principal_name": account.principal_name,
            "alias": account.alias,
            "qrcode_url": format!("https://mmbiz.qpic.cn/sim/{}/qrcode", account.appid),
            "business_info": { "open_store": 0, "open_scan": 0, "open_pay": 0, "open_card": 0, "open_shake": 0 },
            "account_status": 1,
            "basic_config": { "is_phone_configured": true, "is_email_configured": true },
        });
        if account.kind == AccountKind::MiniProgram {
            if let Some(map) = info.as_object_mut() {
                map.insert(
                    "signature".into(),
                    json!(format!("{} mini program", account.nick_name)),
                );
                map.insert(
                    "MiniProgramInfo".into(),
                    json!({
                        "network": { "RequestDomain": ["https://api.example.com"], "WsRequestDomain": [], "UploadDomain": [], "DownloadDomain": [] },
                        "categories": [{ "first": "工具", "second": "效率" }],
                        "visit_status": 0,
                    }),
                );
                map.insert("register_type".into(), json!(0));
            }
        }
        Ok(json!({
            "authorizer_info": info,
            "authorization_info": {
                "authorizer_appid": authorizer,
                "authorizer_refresh_token": auth.refresh_token,
                "func_info": Self::func_info(&auth.func_ids),
            }
        }))
    }

    pub fn api_get_authorizer_list(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let component = self.check_component_token(token, body, now)?;
        let offset = body
            .get("offset")
            .and_then(Value::as_u64)
            .ok_or(WxErr(47001))? as usize;
        let count = body
            .get("count")
            .and_then(Value::as_u64)
            .ok_or(WxErr(47001))?;
        if count == 0 || count > 500 {
            return Err(WxErr(40097));
        }
        let live: Vec<&Authorization> = self
            .components
            .get(&component)
            .map(|c| c.authorizations.values().filter(|a| !a.revoked).collect())
            .unwrap_or_default();
        let list: Vec<Value> = live
            .iter()
            .skip(offset)
            .take(count as usize)
            .map(|a| {
                json!({
                    "authorizer_appid": a.authorizer_appid,
                    "refresh_token": a.refresh_token,
                    "auth_time": a.auth_time,
                })
            })
            .collect();
        Ok(json!({ "total_count": live.len(), "list": list }))
    }

    pub fn api_authorizer_option(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
        set: bool,
    ) -> Result<Value, WxErr> {
        let component = self.check_component_token(token, body, now)?;
        let authorizer = text(body, "authorizer_appid")
            .ok_or(WxErr(41002))?
            .to_owned();
        let name = text(body, "option_name").ok_or(WxErr(61012))?.to_owned();
        let allowed: &[&str] = match name.as_str() {
            "location_report" => &["0", "1", "2"],
            "voice_recognize" | "customer_service" => &["0", "1"],
            _ => return Err(WxErr(61012)),
        };
        let state = self.components.get_mut(&component).ok_or(WxErr(40013))?;
        if state
            .authorizations
            .get(&authorizer)
            .is_none_or(|a| a.revoked)
        {
            return Err(WxErr(61003));
        }
        let key = (authorizer.clone(), name.clone());
        if set {
            let value = match body.get("option_value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(WxErr(61013)),
            };
            if !allowed.contains(&value.as_str()) {
                return Err(WxErr(61013));
            }
            state.options.insert(key, value);
            Ok(json!({ "errcode": 0, "errmsg": "ok" }))
        } else {
            let value = state
                .options
                .get(&key)
                .cloned()
                .unwrap_or_else(|| "0".into());
            Ok(
                json!({ "authorizer_appid": authorizer, "option_name": name, "option_value": value }),
            )
        }
    }

    /// Legacy component quota reset (component token) and the token-less v2.
    pub fn api_clear_quota(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
        v2: bool,
    ) -> Result<Value, WxErr> {
        let component = if v2 {
            let appid = self.component_for_body(body)?.to_owned();
            let secret = text(body, "appsecret").ok_or(WxErr(41004))?;
            let c = self.components.get(&appid).ok_or(WxErr(40013))?;
            if secret != c.seed.secret {
                return Err(WxErr(40125));
            }
            if let Some(authorizer) = text(body, "appid") {
                if c.authorizations.get(authorizer).is_none_or(|a| a.revoked) {
                    return Err(WxErr(61003));
                }
            }
            appid
        } else {
            self.check_component_token(token, body, now)?
        };
        let c = self.components.get_mut(&component).ok_or(WxErr(40013))?;
        if c.quota_resets >= 10 {
            return Err(WxErr(48006));
        }
        c.quota_resets += 1;
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    pub(super) fn granted(&self, component: &str, authorizer: &str, any_of: &[i64]) -> bool {
        self.components
            .get(component)
            .and_then(|c| c.authorizations.get(authorizer))
            .is_some_and(|a| a.func_ids.iter().any(|id| any_of.contains(id)))
    }

    pub fn api_getticket(
        &mut self,
        token: Option<&str>,
        kind: Option<&str>,
        now: i64,
    ) -> Result<Value, WxErr> {
        self.check_authorizer_token(token, now)?;
        if !matches!(kind, Some("jsapi") | Some("wx_card")) {
            return Err(WxErr(40097));
        }
        let ticket = random("", 86);
        let expires_in = self.lifetimes.jsapi_ticket;
        self.jsapi_tickets
            .insert(ticket.clone(), now + expires_in * 1000);
        Ok(json!({ "errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": expires_in }))
    }

    pub fn api_custom_send(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (component, authorizer) = self.check_authorizer_token(token, now)?;
        if !self.granted(&component, &authorizer, &[1, 19]) {
            return Err(WxErr(48001));
        }
        let touser = text(body, "touser").ok_or(WxErr(40003))?.to_owned();
        if text(body, "msgtype") != Some("text") {
            return Err(WxErr(47001));
        }
        let content = body
            .get("text")
            .and_then(|t| t.get("content"))
            .and_then(Value::as_str)
            .ok_or(WxErr(47001))?
            .to_owned();
        self.sent_messages.push(SentMessage {
            authorizer_appid: authorizer,
            touser,
            content,
            at: now,
        });
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    /// `user/info`: a follower of the account (every openid is one, in the simulator).
    pub fn api_user_info(
        &mut self,
        token: Option<&str>,
        openid: Option<&str>,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (_, authorizer) = self.check_authorizer_token(token, now)?;
        let openid = openid.filter(|o| !o.is_empty()).ok_or(WxErr(40003))?;
        Ok(json!({
            "subscribe": 1,
            "openid": openid,
            "language": "zh_CN",
            "subscribe_time": now / 1000,
            "remark": "",
            "groupid": 0,
            "tagid_list": [],
            "subscribe_scene": "ADD_SCENE_QR_CODE",
            "qr_scene": 0,
            "qr_scene_str": "",
            "unionid": format!("u_{authorizer}_{openid}"),
        }))
    }

    /// `message/template/send`: needs a recipient and a template.
    pub fn api_template_send(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (_, authorizer) = self.check_authorizer_token(token, now)?;
        let touser = text(body, "touser").ok_or(WxErr(40003))?.to_owned();
        let template_id = text(body, "template_id").ok_or(WxErr(40037))?.to_owned();
        self.template_messages += 1;
        self.sent_messages.push(SentMessage {
            authorizer_appid: authorizer,
            touser,
            content: format!("template {template_id}"),
            at: now,
        });
        Ok(json!({ "errcode": 0, "errmsg": "ok", "msgid": 1_000_000 + self.template_messages }))
    }

    /// `media/upload`: keeps the file and answers its media id.
    pub fn api_media_upload(
        &mut self,
        token: Option<&str>,
        kind: Option<&str>,
        file: Option<(String, String, Vec<u8>)>,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (_, authorizer) = self.check_authorizer_token(token, now)?;
        let kind = kind
            .filter(|k| matches!(*k, "image" | "voice" | "video" | "thumb"))
            .ok_or(WxErr(40004))?
            .to_owned();
        let (filename, content_type, bytes) = file.ok_or(WxErr(41005))?;
        if bytes.is_empty() {
            return Err(WxErr(44001));
        }
        let limit = match kind.as_str() {
            "image" | "video" => 10 * 1024 * 1024,
            "voice" => 2 * 1024 * 1024,
            _ => 64 * 1024,
        };
        if bytes.len() > limit {
            return Err(WxErr(40006));
        }
        let media_id = format!("sim_media_{}_{}", self.media.len() + 1, now);
        self.media.insert(
            media_id.clone(),
            UploadedMedia {
                authorizer_appid: authorizer,
                kind: kind.clone(),
                filename,
                content_type,
                bytes,
                at: now,
            },
        );
        Ok(json!({ "type": kind, "media_id": media_id, "created_at": now / 1000 }))
    }

    /// `media/get`: an uploaded file of the same account, as bytes and content type.
    pub fn api_media_get(
        &self,
        token: Option<&str>,
        media_id: Option<&str>,
        now: i64,
    ) -> Result<(String, String, Vec<u8>), WxErr> {
        let (_, authorizer) = self.check_authorizer_token(token, now)?;
        let media = media_id
            .and_then(|id| self.media.get(id))
            .filter(|m| m.authorizer_appid == authorizer)
            .ok_or(WxErr(40007))?;
        Ok((
            media.content_type.clone(),
            media.filename.clone(),
            media.bytes.clone(),
        ))
    }

    /// The live (not revoked) authorization of an account, for tests and the overview page.
    pub fn authorization(&self, component: &str, authorizer: &str) -> Option<&Authorization> {
        self.components
            .get(component)?
            .authorizations
            .get(authorizer)
    }

    /// The current refresh token (tests use it to prove a product never lost one).
    pub fn refresh_token(&self, component: &str, authorizer: &str) -> Option<String> {
        self.authorization(component, authorizer)
            .filter(|a| !a.revoked)
            .map(|a| a.refresh_token.clone())
    }

    /// Is this authorizer token accepted right now?
    pub fn authorizer_token_valid(&self, token: &str, now: i64) -> bool {
        self.check_authorizer_token(Some(token), now).is_ok()
    }

    pub fn live_authorizer_tokens(&self) -> usize {
        self.current_authorizer_token.len()
    }

    /// A call to WeChat was made with `token` (an account's): it is in service.
    pub(super) fn note_token_used(&mut self, token: &str) {
        if let Some(t) = self.authorizer_tokens.get_mut(token) {
            t.in_service = true;
        }
    }

    /// The answer carrying `token` was lost on the way (an injected fault).
    pub(super) fn note_token_lost(&mut self, token: &str) {
        if let Some(t) = self.authorizer_tokens.get_mut(token) {
            t.lost = true;
        }
    }

    /// The tenant API served `token` at `now` (reported by a load generator watching its
    /// answers): counts it, marks it in service, and counts it as expired served if WeChat would
    /// refuse it now. Returns whether WeChat accepts it.
    pub fn served(&mut self, token: &str, now: i64) -> bool {
        self.refresh_report.served_checked += 1;
        let refused = match self.check_authorizer_token(Some(token), now) {
            Ok(_) => None,
            Err(WxErr(code)) => Some(code),
        };
        let authorizer = self.authorizer_tokens.get_mut(token).and_then(|t| {
            t.in_service = true;
            t.authorizer.clone()
        });
        let Some(errcode) = refused else {
            return true;
        };
        let report = &mut self.refresh_report;
        report.expired_served += 1;
        if report.expired.len() < 1_000 {
            report.expired.push(ExpiredServed {
                authorizer_appid: authorizer,
                at: now,
                errcode,
            });
        }
        false
    }

    /// Adds an authorization as if it had been made `issued_at` ago through a link and refreshed
    /// since: its refresh token, and a live access token issued at `issued_at` (a soak test seeds
    /// many accounts at once this way, with their tokens spread over a lifetime). Returns false
    /// when the component is not simulated.
    pub fn seed_authorization(
        &mut self,
        component: &str,
        authorizer: &str,
        refresh_token: &str,
        access_token: &str,
        issued_at: i64,
    ) -> bool {
        let Some(c) = self.components.get_mut(component) else {
            return false;
        };
        self.accounts
            .entry(authorizer.to_owned())
            .or_insert_with(|| AccountSeed {
                appid: authorizer.to_owned(),
                kind: AccountKind::OfficialAccount,
                nick_name: format!("Account {authorizer}"),
                user_name: format!("gh_{}", &authorizer[authorizer.len().saturating_sub(12)..]),
                principal_name: String::new(),
                alias: String::new(),
                service_type: 2,
                verify_type: 0,
                menu: None,
            });
        c.authorizations.insert(
            authorizer.to_owned(),
            Authorization {
                authorizer_appid: authorizer.to_owned(),
                refresh_token: refresh_token.to_owned(),
                previous_refresh: None,
                func_ids: vec![1, 2, 3, 15],
                auth_time: issued_at / 1000,
                revoked: false,
            },
        );
        let key = (component.to_owned(), authorizer.to_owned());
        if let Some(old) = self
            .current_authorizer_token
            .insert(key, access_token.to_owned())
        {
            self.authorizer_tokens.remove(&old);
        }
        self.authorizer_tokens.insert(
            access_token.to_owned(),
            IssuedToken {
                owner: component.to_owned(),
                authorizer: Some(authorizer.to_owned()),
                expires_at: issued_at + self.lifetimes.authorizer_token * 1000,
                superseded_at: None,
                issued_at,
                in_service: false,
                lost: false,
            },
        );
        true
    }

    /// Compares the refresh tokens a platform holds with WeChat's: `held` gives, per account it
    /// should hold, the refresh token it has (None: it has none). An account WeChat has authorized
    /// and not revoked is lost when the platform's token is neither the current one nor one still
    /// in its grace period. Accounts WeChat does not have are not counted.
    pub fn lost_refresh_tokens<'a>(
        &self,
        held: impl IntoIterator<Item = (&'a str, &'a str, Option<&'a str>)>,
        now: i64,
        report: &mut RefreshTokenCheck,
    ) {
        for (component, authorizer, ours) in held {
            let Some(auth) = self
                .components
                .get(component)
                .and_then(|c| c.authorizations.get(authorizer))
                .filter(|a| !a.revoked)
            else {
                continue;
            };
            report.checked += 1;
            let current = ours == Some(auth.refresh_token.as_str());
            let in_grace = auth
                .previous_refresh
                .as_ref()
                .is_some_and(|(old, until)| ours == Some(old.as_str()) && now < *until);
            if !current && !in_grace {
                report.lost += 1;
                if report.examples.len() < 100 {
                    report
                        .examples
                        .push((component.to_owned(), authorizer.to_owned()));
                }
            }
        }
    }

    /// Every authorization WeChat holds and has not revoked: component appid, authorizer appid.
    pub fn live_authorizations(&self) -> Vec<(String, String)> {
        self.components
            .iter()
            .flat_map(|(c, state)| {
                state
                    .authorizations
                    .values()
                    .filter(|a| !a.revoked)
                    .map(move |a| (c.clone(), a.authorizer_appid.clone()))
            })
            .collect()
    }
}

fn text<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}
