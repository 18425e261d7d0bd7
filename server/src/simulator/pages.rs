//! The simulator's pages: a stand-in for WeChat's authorization confirmation (where the real one
//! shows a QR code to scan, this one lets a person or a Playwright test pick an account and the
//! permission sets), an overview of what the simulator knows, and the styles of the phone-like chat
//! page (whose body, with the menu bar, `chat` renders).
//!
//! Plain server-rendered HTML: WeChat's page is not part of the product, and the fake should not
//! depend on the product's UI stack.

use std::sync::Arc;

use app::permissions::{permission_set, AccountKind};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

use super::SimControl;

/// The permission sets the stand-in page offers, by account kind.
const OFFERED_OA: &[i64] = &[1, 2, 3, 4, 7, 11, 15];
const OFFERED_MP: &[i64] = &[17, 18, 19, 30, 31];

pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC',sans-serif;margin:0;background:#ededed;color:#191919}\
main{max-width:560px;margin:0 auto;padding:24px 16px}\
.card{background:#fff;border-radius:12px;padding:20px;margin-bottom:16px;box-shadow:0 1px 2px rgba(0,0,0,.06)}\
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;color:#555;margin:0 0 12px;font-weight:600}\
.muted{color:#888;font-size:13px}label.row{display:flex;gap:12px;align-items:center;padding:10px 0;border-top:1px solid #f0f0f0}\
label.row:first-of-type{border-top:0}.badge{font-size:12px;background:#f0f0f0;border-radius:4px;padding:1px 6px;color:#555}\
button{width:100%;padding:12px;border:0;border-radius:8px;background:#07c160;color:#fff;font-size:16px;font-weight:600;cursor:pointer}\
.error{background:#fff0f0;color:#c0392b;border:1px solid #f5c6c6;border-radius:8px;padding:12px}\
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-bottom:1px solid #eee;padding:6px;text-align:left;vertical-align:top}\
a.cancel{display:block;text-align:center;margin-top:12px;color:#576b95}\
.chat{display:flex;flex-direction:column;gap:8px;margin:12px 0;padding:12px;background:#f5f5f5;border-radius:8px;min-height:120px}\
.bubble{max-width:80%;padding:8px 12px;border-radius:8px;white-space:pre-wrap;word-break:break-word}\
.bubble.me{align-self:flex-end;background:#95ec69}.bubble.them{align-self:flex-start;background:#fff}\
.small{font-size:12px}.chat-form{display:flex;gap:8px}.chat-form input{flex:1;padding:10px;border:1px solid #ddd;border-radius:8px;font-size:15px}\
.chat-form button{width:auto;padding:10px 16px}\
.note{align-self:center;max-width:90%;font-size:12px;color:#888;background:#e8e8e8;border-radius:6px;padding:4px 8px;text-align:center}\
.menubar{display:flex;margin-top:8px;border-top:1px solid #ddd;background:#f7f7f7}\
.menubar>button,.menubar>details{flex:1;min-width:0;border-left:1px solid #ddd}.menubar>:first-child{border-left:0}\
.menubar button,.menubar summary{display:block;width:100%;background:transparent;color:#191919;font-size:14px;font-weight:400;border-radius:0;padding:12px 4px;text-align:center;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;cursor:pointer;list-style:none}\
.menubar summary::-webkit-details-marker{display:none}.menu-parent{position:relative}\
.submenu{position:absolute;bottom:100%;left:4px;right:4px;background:#fff;border:1px solid #ddd;border-radius:6px;box-shadow:0 2px 8px rgba(0,0,0,.12)}\
.submenu button{border-top:1px solid #eee}.submenu button:first-child{border-top:0}";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><main>{body}<p class=\"muted\">wxhub WeChat simulator · 模拟微信</p></main></body></html>",
        esc(title)
    ))
}

fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        page(
            "授权失败 Authorization failed",
            &format!(
                "<div class=\"card\"><h1>无法授权 · Cannot authorize</h1><p class=\"error\" id=\"sim-error\">{}</p></div>",
                esc(message)
            ),
        ),
    )
        .into_response()
}

fn kind_label(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::OfficialAccount => "公众号 Official Account",
        AccountKind::MiniProgram => "小程序 Mini Program",
    }
}

fn offered(kind: AccountKind) -> &'static [i64] {
    match kind {
        AccountKind::OfficialAccount => OFFERED_OA,
        AccountKind::MiniProgram => OFFERED_MP,
    }
}

/// GET `componentloginpage` / `bindcomponent`: WeChat's confirmation, simulated.
pub(super) async fn confirm_page(State(sim): State<Arc<SimControl>>, uri: Uri) -> Response {
    let q: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("").trim();
    let (component_appid, pre_auth_code, redirect_uri) = (
        get("component_appid"),
        get("pre_auth_code"),
        get("redirect_uri"),
    );
    if component_appid.is_empty() || pre_auth_code.is_empty() || redirect_uri.is_empty() {
        return error_page(
            StatusCode::BAD_REQUEST,
            "缺少参数 component_appid、pre_auth_code 或 redirect_uri。 Missing component_appid, pre_auth_code or redirect_uri.",
        );
    }
    if !redirect_ok(redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri 无效。 The redirect_uri is not an http(s) URL.",
        );
    }
    let auth_type = match get("auth_type") {
        "" | "3" => None,
        "1" => Some(AccountKind::OfficialAccount),
        "2" => Some(AccountKind::MiniProgram),
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "auth_type 无效。 Invalid auth_type.",
            )
        }
    };
    let biz_appid = Some(get("biz_appid")).filter(|s| !s.is_empty());
    let now = sim.now();
    let state = sim.state();
    let Some(component) = state.components.get(component_appid) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "第三方平台不存在。 Unknown third-party platform.",
        );
    };
    if let Err(e) = state.check_pre_auth_code(component_appid, pre_auth_code, now) {
        return error_page(StatusCode::BAD_REQUEST, e);
    }
    // biz_appid wins over auth_type, as on WeChat.
    let accounts: Vec<_> = state
        .accounts
        .values()
        .filter(|a| match biz_appid {
            Some(b) => a.appid == b,
            None => auth_type.is_none_or(|k| a.kind == k),
        })
        .collect();
    if accounts.is_empty() {
        return error_page(
            StatusCode::OK,
            "没有可授权的帐号。 No account you manage can authorize this platform.",
        );
    }
    let mut rows = String::new();
    for (i, a) in accounts.iter().enumerate() {
        let status = match component.authorizations.get(&a.appid) {
            Some(x) if !x.revoked => " <span class=\"badge\">已授权 authorized</span>",
            _ => "",
        };
        rows.push_str(&format!(
            "<label class=\"row\"><input type=\"radio\" name=\"authorizer_appid\" value=\"{appid}\" data-account=\"{appid}\"{checked} required><span><strong>{name}</strong>{status}<br><span class=\"muted\">{kind} · {appid}</span></span></label>",
            appid = esc(&a.appid),
            checked = if i == 0 { " checked" } else { "" },
            name = esc(&a.nick_name),
            kind = kind_label(a.kind),
        ));
    }
    let mut kinds: Vec<AccountKind> = accounts.iter().map(|a| a.kind).collect();
    kinds.dedup();
    let mut sets = String::new();
    for kind in [AccountKind::OfficialAccount, AccountKind::MiniProgram] {
        if !kinds.contains(&kind) {
            continue;
        }
        sets.push_str(&format!("<h2>{}</h2>", kind_label(kind)));
        for id in offered(kind) {
            let (zh, en) = permission_set(*id).map_or(("", ""), |p| (p.zh, p.en));
            sets.push_str(&format!(
                "<label class=\"row\"><input type=\"checkbox\" name=\"func\" value=\"{id}\" data-func=\"{id}\" checked><span>{zh} <span class=\"muted\">{en} · {id}</span></span></label>"
            ));
        }
    }
    let name = if component.seed.name.is_empty() {
        component.seed.appid.clone()
    } else {
        component.seed.name.clone()
    };
    let body = format!(
        "<div class=\"card\"><h1>授权确认 · Confirm authorization</h1><p class=\"muted\">第三方平台 <strong>{name}</strong> 请求获得帐号的以下权限。<br>The platform <strong>{name}</strong> asks for the permissions below.</p></div>\
         <form method=\"post\" action=\"/sim/confirm\">\
         <input type=\"hidden\" name=\"component_appid\" value=\"{appid}\"><input type=\"hidden\" name=\"pre_auth_code\" value=\"{code}\"><input type=\"hidden\" name=\"redirect_uri\" value=\"{redirect}\">\
         <div class=\"card\"><h2>选择帐号 · Choose the account</h2>{rows}</div>\
         <div class=\"card\">{sets}</div>\
         <button type=\"submit\" id=\"confirm\">确认授权 · Authorize</button></form>\
         <a class=\"cancel\" href=\"{redirect}\">取消 · Cancel</a>",
        name = esc(&name),
        appid = esc(component_appid),
        code = esc(pre_auth_code),
        redirect = esc(redirect_uri),
    );
    page("授权确认 Confirm authorization", &body).into_response()
}

fn redirect_ok(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// POST `/sim/confirm`: the owner clicked "authorize". Redirects to `redirect_uri` with
/// `auth_code` and `expires_in`, while the `authorized` push goes out.
pub(super) async fn confirm_submit(State(sim): State<Arc<SimControl>>, body: Bytes) -> Response {
    let mut component_appid = String::new();
    let mut pre_auth_code = String::new();
    let mut redirect_uri = String::new();
    let mut authorizer_appid = String::new();
    let mut funcs: Vec<i64> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "component_appid" => component_appid = v.into_owned(),
            "pre_auth_code" => pre_auth_code = v.into_owned(),
            "redirect_uri" => redirect_uri = v.into_owned(),
            "authorizer_appid" => authorizer_appid = v.into_owned(),
            "func" => match v.parse() {
                Ok(id) => funcs.push(id),
                Err(_) => {
                    return error_page(
                        StatusCode::BAD_REQUEST,
                        "权限集无效。 Invalid permission set.",
                    )
                }
            },
            _ => {}
        }
    }
    if !redirect_ok(&redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri 无效。 The redirect_uri is not an http(s) URL.",
        );
    }
    let result = sim.with_state(|s, now| {
        let kind = s
            .accounts
            .get(&authorizer_appid)
            .map(|a| a.kind)
            .ok_or("请选择帐号。 Choose an account.")?;
        // Only the sets that exist for this kind of account are granted.
        let granted: Vec<i64> = funcs
            .iter()
            .copied()
            .filter(|id| offered(kind).contains(id))
            .collect();
        if granted.is_empty() {
            return Err("请至少选择一项权限。 Choose at least one permission set.");
        }
        s.confirm_authorization(
            &component_appid,
            Some(&pre_auth_code),
            &authorizer_appid,
            &granted,
            now,
        )
    });
    match result {
        Ok((code, expires_in)) => {
            let separator = if redirect_uri.contains('?') { '&' } else { '?' };
            let (base, fragment) = match redirect_uri.split_once('#') {
                Some((b, f)) => (b.to_owned(), format!("#{f}")),
                None => (redirect_uri.clone(), String::new()),
            };
            let location = format!(
                "{base}{separator}auth_code={}&expires_in={expires_in}{fragment}",
                crate::wechat::links::encode_uri_component(&code)
            );
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        Err(e) => error_page(StatusCode::BAD_REQUEST, e),
    }
}

/// GET `/sim`: what the simulator knows, for people watching the demo.
pub(super) async fn overview(State(sim): State<Arc<SimControl>>) -> Response {
    let calls = sim.calls();
    let pushes = sim.pushes();
    let state = sim.state();
    let mut body = String::from("<div class=\"card\"><h1>WeChat simulator · 模拟微信</h1><p class=\"muted\">Serves WeChat's API paths, pushes tickets and authorization events, and stands in for the confirmation page. Control API under /sim/control.</p></div>");
    for c in state.components.values() {
        body.push_str(&format!(
            "<div class=\"card\"><h2>{} · {}</h2><p class=\"muted\">notify URL: {}<br>latest ticket: {}</p><table><tr><th>account</th><th>permission sets</th><th>status</th></tr>",
            esc(&c.seed.name),
            esc(&c.seed.appid),
            esc(c.seed.notify_url.as_deref().unwrap_or("none")),
            if c.latest_ticket().is_some() { "issued" } else { "none yet" },
        ));
        let last = super::chat::last_release_checks(&sim)
            .into_iter()
            .find(|r| r.component_appid == c.seed.appid);
        body.push_str(&format!(
            "<form method=\"post\" action=\"/sim/release-check/{}\"><button type=\"submit\" data-test=\"release-check\">Run the release check · 全网发布检测</button></form>{}",
            esc(&c.seed.appid),
            last.map(|r| format!(
                "<p data-test=\"release-result\" class=\"{}\">Release check: <strong>{}</strong> · {}</p>",
                if r.passed { "muted" } else { "error" },
                if r.passed { "passed · 通过" } else { "failed · 未通过" },
                r.steps.iter().map(|s| format!("{} {} ({})", if s.passed { "✔" } else { "✘" }, s.name, esc(&s.detail))).collect::<Vec<_>>().join(" · ")
            )).unwrap_or_default()
        ));
        for a in c.authorizations.values() {
            let name = state
                .accounts
                .get(&a.authorizer_appid)
                .map_or(a.authorizer_appid.as_str(), |x| x.nick_name.as_str());
            body.push_str(&format!(
                "<tr><td>{}<br><span class=\"muted\">{}</span>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                esc(&a.authorizer_appid),
                if a.revoked {
                    String::new()
                } else {
                    format!(
                        "<br><a href=\"/sim/chat/{}\" data-test=\"chat-link\">Chat · 聊天</a>",
                        esc(&a.authorizer_appid)
                    )
                },
                a.func_ids
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                if a.revoked { "revoked" } else { "authorized" }
            ));
        }
        body.push_str("</table></div>");
    }
    // Mini programs under audit: decide them here, as WeChat's reviewers would.
    let auditing: Vec<(String, super::code::Audit)> = state
        .code
        .apps
        .iter()
        .filter_map(|(appid, app)| {
            app.audits
                .last()
                .filter(|a| {
                    matches!(
                        a.status,
                        super::code::AuditStatus::Auditing | super::code::AuditStatus::Delayed
                    )
                })
                .map(|a| (appid.clone(), a.clone()))
        })
        .collect();
    body.push_str("<div class=\"card\" data-test=\"audits\"><h2>Code audits · 代码审核</h2>");
    if auditing.is_empty() {
        body.push_str(
            "<p class=\"muted\">No mini program is under audit. · 暂无审核中的小程序。</p>",
        );
    }
    for (appid, a) in &auditing {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/sim/audits\" data-appid=\"{appid}\"><p><strong>{appid}</strong> · version {} · audit {} · {}</p>\
             <input type=\"hidden\" name=\"authorizer_appid\" value=\"{appid}\"><input name=\"reason\" placeholder=\"reason · 原因\" maxlength=\"200\">\
             <button name=\"outcome\" value=\"pass\">Pass · 通过</button> <button name=\"outcome\" value=\"fail\">Reject · 驳回</button> \
             <button name=\"outcome\" value=\"delay\">Delay · 延后</button></form>",
            esc(&a.version.user_version),
            a.auditid,
            if a.status == super::code::AuditStatus::Delayed { "delayed · 延后中" } else { "auditing · 审核中" },
            appid = esc(appid),
        ));
    }
    body.push_str("</div>");
    body.push_str("<div class=\"card\"><h2>Recent pushes</h2><table><tr><th>type</th><th>account</th><th>outcome</th></tr>");
    for p in pushes.iter().rev().take(20) {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.info_type),
            esc(p.authorizer_appid.as_deref().unwrap_or("")),
            esc(&p.outcome)
        ));
    }
    body.push_str("</table></div><div class=\"card\"><h2>Recent API calls</h2><table><tr><th>api</th><th>outcome</th></tr>");
    for c in calls.iter().rev().take(30) {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}{}</td></tr>",
            esc(&c.api),
            esc(&c.outcome),
            if c.injected { " (injected)" } else { "" }
        ));
    }
    body.push_str("</table></div>");
    page("WeChat simulator", &body).into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct ChatQuery {
    problem: Option<String>,
}

/// `GET /sim/chat/{appid}`: a user's phone talking to the account.
pub(super) async fn chat_page(
    State(sim): State<Arc<SimControl>>,
    axum::extract::Path(appid): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<ChatQuery>,
) -> Response {
    page(
        "Chat · 聊天",
        &super::chat::chat_body(&sim, &appid, q.problem.as_deref()),
    )
    .into_response()
}
