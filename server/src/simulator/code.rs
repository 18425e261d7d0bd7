//! Mini-program code management as WeChat plays it for a third-party platform: the component's
//! template library (drafts uploaded from the developer tools, templates made from them), and for
//! each mini program its server and webview domains, the committed (trial) version, the audit, the
//! released version and the one before it, and the component's monthly audit quota.
//!
//! The audit is asynchronous, as WeChat's is: `submit_audit` answers an `auditid` at once, and the
//! result is decided later by [`AuditRules`] (pass, fail with a reason and screenshots, delay, or
//! hold until a test decides with `POST /sim/control/audits`). A decided audit is pushed to the
//! component's message URL as the `weapp_audit_success` / `weapp_audit_fail` / `weapp_audit_delay`
//! event ([`audit_clock`]). Speeding an audit up brings its decision forward.
//!
//! Rules, with WeChat's errcodes: the account must be a mini program (86000) that granted set 18
//! (61007); `commit` needs a template of the component (85014) and an `ext_json` that is a JSON
//! object in a string (85013); `get_qrcode`, `get_page` and `submit_audit` need a commit (86001 /
//! 85086); one audit at a time (85009); the quota is enforced (85085); the item list's pages and
//! categories must be the app's (85007 / 85008); `release` needs a passed audit not yet released
//! (85020); `revertcoderelease` needs a previous release (87012); undo needs an audit in progress
//! (85019) and at most [`UNDO_PER_DAY`] a day (87013); `speedupaudit` needs the audit in progress
//! (85012) and a speed-up left (85085 again, as WeChat answers a used-up speed-up quota).
//! Template-library calls take the component token as `access_token`; a draft or template that does
//! not exist is 85064, a full library 85065. The domain rules: https (wss for sockets) and at most
//! [`MAX_DOMAINS`] per kind (85017); webview domains https, at most 100 (89029), unchanged → 89019.
//!
//! The trial QR code is a real QR code (of `https://sim.weixin.qq.com/trial/{appid}?path=…`),
//! drawn as PNG. WeChat answers JPEG; wxhub treats the body as an image either way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use app::permissions::AccountKind;

use super::state::{SimState, WxErr};
use super::SimControl;
use crate::wechat::xml::{build_push, PushField};

/// Mini-program development and data analysis (PROTOCOL.md §8.2).
pub const CODE_PERMISSION: i64 = 18;
/// Server domains per kind (request, socket, upload, download) at most.
pub const MAX_DOMAINS: usize = 200;
/// Templates one component may hold.
pub const MAX_TEMPLATES: usize = 200;
/// Audit undos per account and day.
pub const UNDO_PER_DAY: u32 = 5;
/// The audit quota a component starts a month with, and its speed-ups.
pub const DEFAULT_QUOTA: i64 = 20;
pub const DEFAULT_SPEEDUPS: i64 = 5;

/// What happens to a submitted audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Pass,
    Fail,
    /// WeChat says it needs longer (`weapp_audit_delay`); the audit then stays in progress.
    Delay,
    /// Nothing happens until `POST /sim/control/audits` decides.
    Hold,
}

/// How audits are decided (`PUT /sim/control/audit-rules`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRules {
    pub outcome: AuditOutcome,
    /// How long after the submission (on the simulator's clock) the audit is decided.
    #[serde(default)]
    pub after_ms: i64,
    /// The reason a failed or delayed audit gives.
    #[serde(default = "default_reason")]
    pub reason: String,
}

fn default_reason() -> String {
    "小程序页面内容与所选服务类目不符 / The page content does not match the chosen category".into()
}

impl Default for AuditRules {
    fn default() -> Self {
        Self {
            outcome: AuditOutcome::Pass,
            after_ms: 3_000,
            reason: default_reason(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    pub draft_id: i64,
    pub user_version: String,
    pub user_desc: String,
    pub create_time: i64,
    pub developer: String,
    pub source_miniprogram_appid: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Template {
    pub template_id: i64,
    pub template_type: i64,
    pub user_version: String,
    pub user_desc: String,
    pub create_time: i64,
    pub developer: String,
    pub source_miniprogram_appid: String,
}

/// One component's template library and audit quota.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Library {
    pub drafts: Vec<Draft>,
    pub templates: Vec<Template>,
    next_id: i64,
    pub quota_limit: i64,
    pub quota_used: i64,
    pub speedup_limit: i64,
    pub speedup_used: i64,
}

impl Default for Library {
    fn default() -> Self {
        Self {
            drafts: Vec::new(),
            templates: Vec::new(),
            next_id: 1,
            quota_limit: DEFAULT_QUOTA,
            quota_used: 0,
            speedup_limit: DEFAULT_SPEEDUPS,
            speedup_used: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    pub template_id: i64,
    pub user_version: String,
    pub user_desc: String,
    pub ext_json: Value,
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    Auditing,
    Delayed,
    Passed,
    Rejected,
    Withdrawn,
    Released,
}

impl AuditStatus {
    /// `get_auditstatus`'s number: 0 passed, 1 rejected, 2 auditing, 3 withdrawn, 4 delayed.
    fn code(self) -> i64 {
        match self {
            AuditStatus::Passed | AuditStatus::Released => 0,
            AuditStatus::Rejected => 1,
            AuditStatus::Auditing => 2,
            AuditStatus::Withdrawn => 3,
            AuditStatus::Delayed => 4,
        }
    }

    fn in_progress(self) -> bool {
        matches!(self, AuditStatus::Auditing | AuditStatus::Delayed)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Audit {
    pub auditid: i64,
    pub status: AuditStatus,
    pub version: Commit,
    pub item_list: Value,
    pub submitted_at: i64,
    /// When [`AuditRules`] decide it (none: held, or decided).
    pub decide_at: Option<i64>,
    pub outcome: AuditOutcome,
    pub reason: String,
    pub screenshot: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Release {
    pub user_version: String,
    pub user_desc: String,
    pub at: i64,
}

/// One mini program's code, as WeChat holds it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AppCode {
    pub requestdomain: Vec<String>,
    pub wsrequestdomain: Vec<String>,
    pub uploaddomain: Vec<String>,
    pub downloaddomain: Vec<String>,
    pub webviewdomain: Vec<String>,
    pub commit: Option<Commit>,
    pub audits: Vec<Audit>,
    pub release: Option<Release>,
    pub previous_release: Option<Release>,
    /// (day number, undos that day).
    undos: (i64, u32),
}

impl AppCode {
    fn current_audit(&mut self) -> Option<&mut Audit> {
        self.audits.last_mut()
    }
}

/// An audit result to push (collected under the lock, sent after).
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub authorizer_appid: String,
    pub event: &'static str,
    pub fields: Vec<(&'static str, String)>,
}

/// A pushed audit event, kept for the control API.
#[derive(Debug, Clone, Serialize)]
pub struct SentAuditEvent {
    pub authorizer_appid: String,
    pub event: String,
    pub answer: String,
    pub at: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CodeState {
    pub libraries: BTreeMap<String, Library>,
    pub apps: BTreeMap<String, AppCode>,
    pub rules: AuditRules,
    next_auditid: i64,
    /// Fast registrations, oldest first.
    pub fast: Vec<FastRegistration>,
    #[serde(skip)]
    pub due: Vec<AuditEvent>,
}

const DOMAIN_KINDS: [&str; 4] = [
    "requestdomain",
    "wsrequestdomain",
    "uploaddomain",
    "downloaddomain",
];

fn strings(body: &Value, name: &str) -> Result<Option<Vec<String>>, WxErr> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| s.trim().to_ascii_lowercase())
                    .ok_or(WxErr(47001))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(WxErr(47001)),
    }
}

fn text<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str).map(str::trim)
}

fn int(body: &Value, name: &str) -> Option<i64> {
    body.get(name).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    })
}

fn valid_domain(kind: &str, d: &str) -> bool {
    let scheme = if kind == "wsrequestdomain" {
        "wss://"
    } else {
        "https://"
    };
    d.strip_prefix(scheme).is_some_and(|host| {
        !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':')
    })
}

/// Adds, deletes, sets or reads a list by `action` (WeChat's shared rule for both domain APIs).
fn apply(list: &mut Vec<String>, action: &str, given: Option<Vec<String>>) {
    let Some(given) = given else { return };
    match action {
        "add" => {
            for d in given {
                if !list.contains(&d) {
                    list.push(d);
                }
            }
        }
        "delete" => list.retain(|d| !given.contains(d)),
        "set" => {
            let mut unique = Vec::new();
            for d in given {
                if !unique.contains(&d) {
                    unique.push(d);
                }
            }
            *list = unique;
        }
        _ => {}
    }
}

/// Categories every simulated mini program has (`get_category`).
fn categories() -> Value {
    json!([
        {"first_class": "工具", "second_class": "效率", "first_id": 287, "second_id": 612},
        {"first_class": "生活服务", "second_class": "综合生活服务平台", "first_id": 150, "second_id": 627}
    ])
}

/// The pages a template's code holds: the `ext_json`'s `pages` when given, else the defaults.
fn pages(commit: &Commit) -> Vec<String> {
    commit
        .ext_json
        .get("pages")
        .and_then(Value::as_array)
        .map(|p| {
            p.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            vec![
                "pages/index/index".to_owned(),
                "pages/detail/detail".to_owned(),
            ]
        })
}

impl SimState {
    /// The mini program behind an authorizer token that may manage code.
    fn code_app(&self, token: Option<&str>, now: i64) -> Result<(String, String), WxErr> {
        let (component, appid) = self.check_authorizer_token(token, now)?;
        if self
            .accounts
            .get(&appid)
            .is_none_or(|a| a.kind != AccountKind::MiniProgram)
        {
            return Err(WxErr(86000));
        }
        let granted = self
            .components
            .get(&component)
            .and_then(|c| c.authorizations.get(&appid))
            .is_some_and(|a| a.func_ids.contains(&CODE_PERMISSION));
        if !granted {
            return Err(WxErr(61007));
        }
        Ok((component, appid))
    }

    pub fn api_modify_domain(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (_, appid) = self.code_app(token, now)?;
        let action = text(body, "action").unwrap_or("");
        if !matches!(action, "add" | "delete" | "set" | "get") {
            return Err(WxErr(47001));
        }
        let app = self.code.apps.entry(appid).or_default();
        if action != "get" {
            let mut next = app.clone();
            for kind in DOMAIN_KINDS {
                let given = strings(body, kind)?;
                if let Some(list) = &given {
                    if action != "delete" && list.iter().any(|d| !valid_domain(kind, d)) {
                        return Err(WxErr(85017));
                    }
                }
                let target = match kind {
                    "requestdomain" => &mut next.requestdomain,
                    "wsrequestdomain" => &mut next.wsrequestdomain,
                    "uploaddomain" => &mut next.uploaddomain,
                    _ => &mut next.downloaddomain,
                };
                apply(target, action, given);
                if target.len() > MAX_DOMAINS {
                    return Err(WxErr(85017));
                }
            }
            *app = next;
        }
        Ok(json!({
            "errcode": 0, "errmsg": "ok",
            "requestdomain": app.requestdomain,
            "wsrequestdomain": app.wsrequestdomain,
            "uploaddomain": app.uploaddomain,
            "downloaddomain": app.downloaddomain,
            "udpdomain": [], "tcpdomain": [],
        }))
    }

    pub fn api_setwebviewdomain(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (_, appid) = self.code_app(token, now)?;
        let action = text(body, "action").unwrap_or("");
        if !matches!(action, "add" | "delete" | "set" | "get") {
            return Err(WxErr(47001));
        }
        let app = self.code.apps.entry(appid).or_default();
        if action != "get" {
            let given = strings(body, "webviewdomain")?;
            if let Some(list) = &given {
                if action != "delete" && list.iter().any(|d| !valid_domain("webview", d)) {
                    return Err(WxErr(89021));
                }
            }
            let mut next = app.webviewdomain.clone();
            apply(&mut next, action, given);
            if next.len() > 100 {
                return Err(WxErr(89029));
            }
            if next == app.webviewdomain && action == "set" {
                return Err(WxErr(89019));
            }
            app.webviewdomain = next;
        }
        Ok(json!({ "errcode": 0, "errmsg": "ok", "webviewdomain": app.webviewdomain }))
    }

    pub fn api_commit(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (component, appid) = self.code_app(token, now)?;
        let template_id = int(body, "template_id").ok_or(WxErr(85014))?;
        let known = self
            .code
            .libraries
            .get(&component)
            .is_some_and(|l| l.templates.iter().any(|t| t.template_id == template_id));
        if !known {
            return Err(WxErr(85014));
        }
        let ext_json = match body.get("ext_json") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(v) if v.is_object() => v,
                _ => return Err(WxErr(85013)),
            },
            Some(_) => return Err(WxErr(85013)),
        };
        let user_version = text(body, "user_version").unwrap_or("");
        if user_version.is_empty() || user_version.chars().count() > 64 {
            return Err(WxErr(85043));
        }
        let user_desc = text(body, "user_desc").unwrap_or("").to_owned();
        let app = self.code.apps.entry(appid).or_default();
        app.commit = Some(Commit {
            template_id,
            user_version: user_version.to_owned(),
            user_desc,
            ext_json,
            at: now,
        });
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    /// The trial version's QR code, as PNG bytes.
    pub fn api_get_qrcode(
        &mut self,
        token: Option<&str>,
        path: Option<&str>,
        now: i64,
    ) -> Result<Vec<u8>, WxErr> {
        let (_, appid) = self.code_app(token, now)?;
        let app = self.code.apps.get(&appid).ok_or(WxErr(86001))?;
        if app.commit.is_none() {
            return Err(WxErr(86001));
        }
        let text = format!(
            "https://sim.weixin.qq.com/trial/{appid}?path={}",
            path.unwrap_or("")
        );
        qr_png(&text).ok_or(WxErr(-1))
    }

    pub fn api_get_category(&mut self, token: Option<&str>, now: i64) -> Result<Value, WxErr> {
        self.code_app(token, now)?;
        Ok(json!({ "errcode": 0, "errmsg": "ok", "category_list": categories() }))
    }

    pub fn api_get_page(&mut self, token: Option<&str>, now: i64) -> Result<Value, WxErr> {
        let (_, appid) = self.code_app(token, now)?;
        let commit = self
            .code
            .apps
            .get(&appid)
            .and_then(|a| a.commit.as_ref())
            .ok_or(WxErr(86001))?;
        Ok(json!({ "errcode": 0, "errmsg": "ok", "page_list": pages(commit) }))
    }

    pub fn api_submit_audit(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (component, appid) = self.code_app(token, now)?;
        let commit = self
            .code
            .apps
            .get(&appid)
            .and_then(|a| a.commit.clone())
            .ok_or(WxErr(85086))?;
        let in_progress = self
            .code
            .apps
            .get(&appid)
            .and_then(|a| a.audits.last())
            .is_some_and(|a| a.status.in_progress());
        if in_progress {
            return Err(WxErr(85009));
        }
        let item_list = match body.get("item_list") {
            None | Some(Value::Null) => json!([]),
            Some(Value::Array(items)) if items.len() <= 5 => {
                let pages = pages(&commit);
                let cats = categories();
                for item in items {
                    if let Some(address) = item.get("address").and_then(Value::as_str) {
                        if !pages.iter().any(|p| p == address) {
                            return Err(WxErr(85007));
                        }
                    }
                    if let Some(first) = int(item, "first_id") {
                        let second = int(item, "second_id");
                        let known = cats.as_array().is_some_and(|c| {
                            c.iter().any(|c| {
                                c["first_id"] == first && second.is_none_or(|s| c["second_id"] == s)
                            })
                        });
                        if !known {
                            return Err(WxErr(85008));
                        }
                    }
                }
                Value::Array(items.clone())
            }
            Some(_) => return Err(WxErr(85010)),
        };
        let library = self.code.libraries.entry(component).or_default();
        if library.quota_used >= library.quota_limit {
            return Err(WxErr(85085));
        }
        library.quota_used += 1;
        self.code.next_auditid += 1;
        let auditid = 400_000_000 + self.code.next_auditid;
        let rules = self.code.rules.clone();
        let app = self.code.apps.entry(appid).or_default();
        app.audits.push(Audit {
            auditid,
            status: AuditStatus::Auditing,
            version: commit,
            item_list,
            submitted_at: now,
            decide_at: (rules.outcome != AuditOutcome::Hold).then_some(now + rules.after_ms),
            outcome: rules.outcome,
            reason: rules.reason,
            screenshot: String::new(),
        });
        Ok(json!({ "errcode": 0, "errmsg": "ok", "auditid": auditid }))
    }

    pub fn api_get_auditstatus(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (_, appid) = self.code_app(token, now)?;
        let auditid = int(body, "auditid").ok_or(WxErr(85012))?;
        let audit = self
            .code
            .apps
            .get(&appid)
            .and_then(|a| a.audits.iter().find(|a| a.auditid == auditid))
            .ok_or(WxErr(85012))?;
        Ok(audit_json(audit, false))
    }

    pub fn api_get_latest_auditstatus(
        &mut self,
        token: Option<&str>,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (_, appid) = self.code_app(token, now)?;
        let audit = self
            .code
            .apps
            .get(&appid)
            .and_then(|a| a.audits.last())
            .ok_or(WxErr(85012))?;
        Ok(audit_json(audit, true))
    }

    pub fn api_undocodeaudit(&mut self, token: Option<&str>, now: i64) -> Result<Value, WxErr> {
        let (_, appid) = self.code_app(token, now)?;
        let app = self.code.apps.entry(appid).or_default();
        let day = now / 86_400_000;
        let undos = if app.undos.0 == day { app.undos.1 } else { 0 };
        let audit = app
            .audits
            .last_mut()
            .filter(|a| a.status.in_progress())
            .ok_or(WxErr(85019))?;
        if undos >= UNDO_PER_DAY {
            return Err(WxErr(87013));
        }
        audit.status = AuditStatus::Withdrawn;
        audit.decide_at = None;
        app.undos = (day, undos + 1);
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    pub fn api_speedupaudit(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (component, appid) = self.code_app(token, now)?;
        let auditid = int(body, "auditid").ok_or(WxErr(85012))?;
        let in_progress = self
            .code
            .apps
            .get(&appid)
            .and_then(|a| a.audits.last())
            .is_some_and(|a| a.auditid == auditid && a.status.in_progress());
        if !in_progress {
            return Err(WxErr(85012));
        }
        let library = self.code.libraries.entry(component).or_default();
        if library.speedup_used >= library.speedup_limit {
            return Err(WxErr(85085));
        }
        library.speedup_used += 1;
        let after = self.code.rules.after_ms / 4;
        if let Some(audit) = self
            .code
            .apps
            .get_mut(&appid)
            .and_then(AppCode::current_audit)
        {
            audit.decide_at = audit.decide_at.map(|at| at.min(now + after));
        }
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    pub fn api_release(&mut self, token: Option<&str>, now: i64) -> Result<Value, WxErr> {
        let (_, appid) = self.code_app(token, now)?;
        let app = self.code.apps.entry(appid).or_default();
        let audit = app
            .audits
            .last_mut()
            .filter(|a| a.status == AuditStatus::Passed)
            .ok_or(WxErr(85020))?;
        audit.status = AuditStatus::Released;
        let release = Release {
            user_version: audit.version.user_version.clone(),
            user_desc: audit.version.user_desc.clone(),
            at: now,
        };
        app.previous_release = app.release.replace(release);
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    pub fn api_revertcoderelease(&mut self, token: Option<&str>, now: i64) -> Result<Value, WxErr> {
        let (_, appid) = self.code_app(token, now)?;
        let app = self.code.apps.entry(appid).or_default();
        let previous = app.previous_release.take().ok_or(WxErr(87012))?;
        app.release = Some(Release {
            at: now,
            ..previous
        });
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    pub fn api_queryquota(&mut self, token: Option<&str>, now: i64) -> Result<Value, WxErr> {
        let (component, _) = self.code_app(token, now)?;
        let l = self.code.libraries.entry(component).or_default();
        Ok(json!({
            "errcode": 0, "errmsg": "ok",
            "rest": (l.quota_limit - l.quota_used).max(0), "limit": l.quota_limit,
            "speedup_rest": (l.speedup_limit - l.speedup_used).max(0), "speedup_limit": l.speedup_limit,
        }))
    }

    /// The component behind a component token given as `access_token` (template-library calls).
    fn library_of(&mut self, token: Option<&str>, now: i64) -> Result<&mut Library, WxErr> {
        let component = self.component_of_token(token, now)?;
        Ok(self.code.libraries.entry(component).or_default())
    }

    pub fn api_gettemplatedraftlist(
        &mut self,
        token: Option<&str>,
        now: i64,
    ) -> Result<Value, WxErr> {
        let library = self.library_of(token, now)?;
        Ok(json!({ "errcode": 0, "errmsg": "ok", "draft_list": library.drafts }))
    }

    pub fn api_gettemplatelist(
        &mut self,
        token: Option<&str>,
        template_type: Option<&str>,
        now: i64,
    ) -> Result<Value, WxErr> {
        let library = self.library_of(token, now)?;
        let wanted: Option<i64> = template_type.and_then(|t| t.parse().ok());
        let list: Vec<&Template> = library
            .templates
            .iter()
            .filter(|t| wanted.is_none_or(|w| t.template_type == w))
            .collect();
        Ok(json!({ "errcode": 0, "errmsg": "ok", "template_list": list }))
    }

    pub fn api_addtotemplate(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let draft_id = int(body, "draft_id").ok_or(WxErr(85064))?;
        let template_type = int(body, "template_type").unwrap_or(0);
        if !matches!(template_type, 0 | 1) {
            return Err(WxErr(47001));
        }
        let library = self.library_of(token, now)?;
        let draft = library
            .drafts
            .iter()
            .find(|d| d.draft_id == draft_id)
            .cloned()
            .ok_or(WxErr(85064))?;
        if library.templates.len() >= MAX_TEMPLATES {
            return Err(WxErr(85065));
        }
        let template_id = library.next_id;
        library.next_id += 1;
        library.templates.push(Template {
            template_id,
            template_type,
            user_version: draft.user_version,
            user_desc: draft.user_desc,
            create_time: now / 1000,
            developer: draft.developer,
            source_miniprogram_appid: draft.source_miniprogram_appid,
        });
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    pub fn api_deletetemplate(
        &mut self,
        token: Option<&str>,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let template_id = int(body, "template_id").ok_or(WxErr(85064))?;
        let library = self.library_of(token, now)?;
        let before = library.templates.len();
        library.templates.retain(|t| t.template_id != template_id);
        if library.templates.len() == before {
            return Err(WxErr(85064));
        }
        Ok(json!({ "errcode": 0, "errmsg": "ok" }))
    }

    /// A draft uploaded from the developer tools (the control API stands for the upload).
    pub fn add_draft(
        &mut self,
        component_appid: &str,
        user_version: &str,
        user_desc: &str,
        now: i64,
    ) -> Result<i64, &'static str> {
        if !self.components.contains_key(component_appid) {
            return Err("no such component");
        }
        let library = self
            .code
            .libraries
            .entry(component_appid.to_owned())
            .or_default();
        let draft_id = library.next_id;
        library.next_id += 1;
        library.drafts.push(Draft {
            draft_id,
            user_version: user_version.to_owned(),
            user_desc: user_desc.to_owned(),
            create_time: now / 1000,
            developer: "sim-developer".into(),
            source_miniprogram_appid: "wxsimsource0000001".into(),
        });
        Ok(draft_id)
    }

    /// A draft made a template at once (tests and the demo): answers the template id.
    pub fn add_template(
        &mut self,
        component_appid: &str,
        user_version: &str,
        user_desc: &str,
        now: i64,
    ) -> Result<i64, &'static str> {
        let draft_id = self.add_draft(component_appid, user_version, user_desc, now)?;
        let library = self
            .code
            .libraries
            .get_mut(component_appid)
            .ok_or("no such component")?;
        let template_id = library.next_id;
        library.next_id += 1;
        library.drafts.retain(|d| d.draft_id != draft_id);
        library.templates.push(Template {
            template_id,
            template_type: 0,
            user_version: user_version.to_owned(),
            user_desc: user_desc.to_owned(),
            create_time: now / 1000,
            developer: "sim-developer".into(),
            source_miniprogram_appid: "wxsimsource0000001".into(),
        });
        Ok(template_id)
    }

    /// Sets a component's monthly audit quota (and resets what was used).
    pub fn set_quota(
        &mut self,
        component_appid: &str,
        limit: i64,
        speedup_limit: i64,
    ) -> Result<(), &'static str> {
        if !self.components.contains_key(component_appid) {
            return Err("no such component");
        }
        let library = self
            .code
            .libraries
            .entry(component_appid.to_owned())
            .or_default();
        library.quota_limit = limit;
        library.quota_used = 0;
        library.speedup_limit = speedup_limit;
        library.speedup_used = 0;
        Ok(())
    }

    /// Decides the app's audit in progress now (a test's or a person's decision).
    pub fn decide_audit(
        &mut self,
        appid: &str,
        outcome: AuditOutcome,
        reason: Option<&str>,
        now: i64,
    ) -> Result<i64, &'static str> {
        let audit = self
            .code
            .apps
            .get_mut(appid)
            .and_then(AppCode::current_audit)
            .filter(|a| a.status.in_progress())
            .ok_or("the mini program has no audit in progress")?;
        audit.outcome = outcome;
        if let Some(r) = reason {
            audit.reason = r.to_owned();
        }
        audit.decide_at = Some(now);
        let auditid = audit.auditid;
        self.decide_due(now);
        Ok(auditid)
    }

    /// Decides every audit whose time has come; the events to push go to `code.due`.
    pub fn decide_due(&mut self, now: i64) {
        let mut events = Vec::new();
        for (appid, app) in self.code.apps.iter_mut() {
            let Some(audit) = app.audits.last_mut() else {
                continue;
            };
            if !audit.status.in_progress() || audit.decide_at.is_none_or(|at| at > now) {
                continue;
            }
            audit.decide_at = None;
            let secs = (now / 1000).to_string();
            match audit.outcome {
                AuditOutcome::Pass => {
                    audit.status = AuditStatus::Passed;
                    events.push(AuditEvent {
                        authorizer_appid: appid.clone(),
                        event: "weapp_audit_success",
                        fields: vec![("SuccTime", secs)],
                    });
                }
                AuditOutcome::Fail => {
                    audit.status = AuditStatus::Rejected;
                    audit.screenshot =
                        format!("simmedia_{}|simmedia_{}b", audit.auditid, audit.auditid);
                    events.push(AuditEvent {
                        authorizer_appid: appid.clone(),
                        event: "weapp_audit_fail",
                        fields: vec![
                            ("Reason", audit.reason.clone()),
                            ("FailTime", secs),
                            ("ScreenShot", audit.screenshot.clone()),
                        ],
                    });
                }
                AuditOutcome::Delay => {
                    audit.status = AuditStatus::Delayed;
                    events.push(AuditEvent {
                        authorizer_appid: appid.clone(),
                        event: "weapp_audit_delay",
                        fields: vec![("Reason", audit.reason.clone()), ("DelayTime", secs)],
                    });
                }
                AuditOutcome::Hold => {}
            }
        }
        self.code.due.extend(events);
    }
}

fn audit_json(audit: &Audit, latest: bool) -> Value {
    let mut v = json!({
        "errcode": 0, "errmsg": "ok",
        "status": audit.status.code(),
        "reason": if audit.status == AuditStatus::Rejected || audit.status == AuditStatus::Delayed { audit.reason.as_str() } else { "" },
        "ScreenShot": audit.screenshot,
    });
    if latest {
        v["auditid"] = json!(audit.auditid);
        v["user_version"] = json!(audit.version.user_version);
        v["user_desc"] = json!(audit.version.user_desc);
        v["submit_audit_time"] = json!(audit.submitted_at / 1000);
    } else {
        v["screenshot"] = json!(audit.screenshot);
    }
    v
}

/// A QR code of `text` as a grey-scale PNG (4 px per module, a 4-module quiet zone).
fn qr_png(text: &str) -> Option<Vec<u8>> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let modules = code.width();
    let scale = 4;
    let size = (modules + 8) * scale;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; size * size];
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (mx, my) = (i % modules + 4, i / modules + 4);
            for dy in 0..scale {
                for dx in 0..scale {
                    pixels[(my * scale + dy) * size + mx * scale + dx] = 0;
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, size as u32, size as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&pixels).ok()?;
    }
    Some(out)
}

/// Decides due audits every 200 ms and pushes their events to the message URL (three tries, as
/// WeChat retries).
pub(super) async fn audit_clock(shared: Arc<SimControl>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        push_due(&shared).await;
    }
}

/// Sends whatever audit events are due now.
pub async fn push_due(shared: &Arc<SimControl>) {
    let due = shared.tick_code();
    for event in due {
        let mut answer = String::from("not sent");
        for _ in 0..3 {
            match super::chat::push_event(
                shared,
                &event.authorizer_appid,
                event.event,
                &event.fields,
            )
            .await
            {
                Ok(a) if a.status == 200 => {
                    answer = a.answer.to_owned();
                    break;
                }
                Ok(a) => answer = format!("HTTP {}", a.status),
                Err(e) => answer = e,
            }
        }
        shared.record_audit_event(SentAuditEvent {
            authorizer_appid: event.authorizer_appid,
            event: event.event.to_owned(),
            answer,
            at: shared.now(),
        });
    }
}

/// A fast registration WeChat is working on (`fastregisterweapp` / `fastregisterpersonalweapp`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FastRegistration {
    pub component_appid: String,
    /// `enterprise` or `personal`.
    pub kind: String,
    /// The enterprise's name, or the person's (`idname`).
    pub name: String,
    /// The legal person's WeChat id, or the person's (`wxuser`).
    pub wechat: String,
    pub legal_persona_name: String,
    pub code: String,
    pub code_type: i64,
    pub component_phone: String,
    pub taskid: String,
    /// 0 done; otherwise the task's state as WeChat reports it.
    pub status: i64,
    pub decide_at: Option<i64>,
    pub appid: Option<String>,
}

/// How long WeChat takes to finish a fast registration (the legal person confirms on the phone).
pub const FAST_REGISTER_AFTER_MS: i64 = 3_000;
/// The status of a registration the legal person has not confirmed yet (WeChat: 89251 "待法人人脸
/// 核身校验").
pub const FAST_REGISTER_WAITING: i64 = 89251;
/// A legal person whose name holds this never confirms: the task fails with 100003 ("已下发的模板
/// 消息法人并未确认且已超时（24h）").
pub const FAST_REGISTER_FAILS: &str = "拒绝";

impl SimState {
    pub fn api_fastregister(
        &mut self,
        token: Option<&str>,
        action: Option<&str>,
        personal: bool,
        body: &Value,
        now: i64,
    ) -> Result<Value, WxErr> {
        let component = self.component_of_token(token, now)?;
        let field = |k: &str| text(body, k).unwrap_or("").to_owned();
        match (personal, action.unwrap_or("")) {
            (false, "create") => {
                let (name, code, wechat, legal) = (
                    field("name"),
                    field("code"),
                    field("legal_persona_wechat"),
                    field("legal_persona_name"),
                );
                if [&name, &code, &wechat, &legal].iter().any(|v| v.is_empty()) {
                    return Err(WxErr(89253));
                }
                let code_type = int(body, "code_type").unwrap_or(0);
                if !(1..=3).contains(&code_type) {
                    return Err(WxErr(89248));
                }
                if self.code.fast.iter().any(|f| {
                    f.component_appid == component
                        && f.name == name
                        && f.status != 0
                        && f.decide_at.is_some()
                }) {
                    return Err(WxErr(89249));
                }
                self.code.fast.push(FastRegistration {
                    component_appid: component,
                    kind: "enterprise".into(),
                    name,
                    wechat,
                    legal_persona_name: legal,
                    code,
                    code_type,
                    component_phone: field("component_phone"),
                    taskid: String::new(),
                    status: FAST_REGISTER_WAITING,
                    decide_at: Some(now + FAST_REGISTER_AFTER_MS),
                    appid: None,
                });
                Ok(json!({ "errcode": 0, "errmsg": "OK" }))
            }
            (false, "search") => {
                let (name, wechat, legal) = (
                    field("name"),
                    field("legal_persona_wechat"),
                    field("legal_persona_name"),
                );
                let task = self
                    .code
                    .fast
                    .iter()
                    .rev()
                    .find(|f| {
                        f.component_appid == component
                            && f.kind == "enterprise"
                            && f.name == name
                            && f.wechat == wechat
                            && f.legal_persona_name == legal
                    })
                    .ok_or(WxErr(89250))?;
                // A task still waiting is answered with its state as the errcode.
                if task.status == FAST_REGISTER_WAITING {
                    return Err(WxErr(FAST_REGISTER_WAITING));
                }
                Ok(
                    json!({ "errcode": 0, "errmsg": "OK", "status": task.status, "appid": task.appid }),
                )
            }
            (true, "create") => {
                let (idname, wxuser) = (field("idname"), field("wxuser"));
                if idname.is_empty() || wxuser.is_empty() {
                    return Err(WxErr(89253));
                }
                let taskid = format!("simtask{}", now);
                let authorize_url = format!("https://sim.weixin.qq.com/fastregister/{taskid}");
                self.code.fast.push(FastRegistration {
                    component_appid: component,
                    kind: "personal".into(),
                    name: idname,
                    wechat: wxuser,
                    legal_persona_name: String::new(),
                    code: String::new(),
                    code_type: 0,
                    component_phone: field("component_phone"),
                    taskid: taskid.clone(),
                    status: FAST_REGISTER_WAITING,
                    decide_at: Some(now + FAST_REGISTER_AFTER_MS),
                    appid: None,
                });
                Ok(
                    json!({ "errcode": 0, "errmsg": "OK", "taskid": taskid, "authorize_url": authorize_url, "status": 0 }),
                )
            }
            (true, "query") => {
                let taskid = field("taskid");
                let task = self
                    .code
                    .fast
                    .iter()
                    .find(|f| {
                        f.component_appid == component && f.kind == "personal" && f.taskid == taskid
                    })
                    .ok_or(WxErr(89250))?;
                Ok(
                    json!({ "errcode": 0, "errmsg": "OK", "taskid": task.taskid, "status": task.status, "appid": task.appid }),
                )
            }
            _ => Err(WxErr(47001)),
        }
    }

    /// Finishes the fast registrations whose time has come: a new mini program authorized to the
    /// component, and `notify_third_fasteregister` pushed with its authorization code (or the
    /// failure, with no code).
    pub fn finish_fast_registrations(&mut self, now: i64) {
        let due: Vec<usize> = self
            .code
            .fast
            .iter()
            .enumerate()
            .filter(|(_, f)| f.decide_at.is_some_and(|at| at <= now))
            .map(|(i, _)| i)
            .collect();
        for i in due {
            let task = self.code.fast[i].clone();
            self.code.fast[i].decide_at = None;
            let fails = task.legal_persona_name.contains(FAST_REGISTER_FAILS)
                || task.name.contains(FAST_REGISTER_FAILS);
            let (status, msg, appid, code) = if fails {
                (
                    100003_i64,
                    "legal person did not confirm within 24h",
                    None,
                    None,
                )
            } else {
                let appid = format!("wx{:016x}", rand::random::<u64>());
                self.add_account(super::state::AccountSeed {
                    appid: appid.clone(),
                    kind: AccountKind::MiniProgram,
                    nick_name: String::new(),
                    user_name: format!("gh_{}", &appid[2..14]),
                    principal_name: task.name.clone(),
                    alias: String::new(),
                    service_type: 0,
                    verify_type: 0,
                    menu: None,
                });
                match self.grant(
                    &task.component_appid,
                    &appid,
                    &[17, 18, 19, 25, 30, 31],
                    now,
                ) {
                    Some(code) => (0, "OK", Some(appid), Some(code)),
                    None => continue,
                }
            };
            self.code.fast[i].status = status;
            self.code.fast[i].appid = appid.clone();
            let created = now / 1000;
            let mut xml = build_push(&[
                ("AppId", PushField::Text(&task.component_appid)),
                ("CreateTime", PushField::Number(created)),
                ("InfoType", PushField::Text("notify_third_fasteregister")),
                ("appid", PushField::Text(appid.as_deref().unwrap_or(""))),
                ("status", PushField::Number(status)),
                ("auth_code", PushField::Text(code.as_deref().unwrap_or(""))),
                ("msg", PushField::Text(msg)),
            ]);
            let info = if task.kind == "personal" {
                build_push(&[
                    ("idname", PushField::Text(&task.name)),
                    ("wxuser", PushField::Text(&task.wechat)),
                    ("component_phone", PushField::Text(&task.component_phone)),
                ])
            } else {
                build_push(&[
                    ("name", PushField::Text(&task.name)),
                    ("code", PushField::Text(&task.code)),
                    ("code_type", PushField::Number(task.code_type)),
                    ("legal_persona_wechat", PushField::Text(&task.wechat)),
                    (
                        "legal_persona_name",
                        PushField::Text(&task.legal_persona_name),
                    ),
                    ("component_phone", PushField::Text(&task.component_phone)),
                ])
            };
            let info = info
                .replacen("<xml>", "<info>", 1)
                .replace("</xml>", "</info>");
            xml.truncate(xml.len() - "</xml>".len());
            xml.push_str(&info);
            xml.push_str("</xml>");
            self.outbox.push(super::state::PendingPush {
                component_appid: task.component_appid.clone(),
                info_type: "notify_third_fasteregister".into(),
                authorizer_appid: appid,
                xml,
            });
        }
    }
}
