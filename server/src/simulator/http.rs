//! The simulator's HTTP surface: WeChat's API paths (dispatched by path, as WeChat's gateway does),
//! the confirmation pages, the overview page and the control API.
//!
//! Every API call goes the same way: added latency, then an injected fault if a rule matches, then
//! the rule in `state` under the lock, then the call is logged and any pushes it caused are queued.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::state::{error_body, AccountSeed, ComponentSeed, Lifetimes, WxErr};
use super::{pages, CallRecord, Fault, FaultSpec, PushDrops, SimControl};

type Sim = State<Arc<SimControl>>;

/// The API names used in the call log and in fault rules.
pub(crate) const API_NAMES: &[&str] = &[
    "api_component_token",
    "api_start_push_ticket",
    "api_create_preauthcode",
    "api_query_auth",
    "api_authorizer_token",
    "api_get_authorizer_info",
    "api_get_authorizer_list",
    "api_get_authorizer_option",
    "api_set_authorizer_option",
    "component_clear_quota",
    "component_clear_quota_v2",
    "get_current_selfmenu_info",
    "menu/create",
    "menu/get",
    "menu/delete",
    "menu/addconditional",
    "menu/delconditional",
    "getticket",
    "custom_send",
    "template_send",
    "user_info",
    "media_upload",
    "media_get",
    "jscode2session",
    "oauth2_access_token",
    "oauth2_refresh_token",
    "fastregisterweapp",
    "fastregisterpersonalweapp",
    "modify_domain",
    "setwebviewdomain",
    "commit",
    "get_qrcode",
    "get_category",
    "get_page",
    "submit_audit",
    "get_auditstatus",
    "get_latest_auditstatus",
    "undocodeaudit",
    "speedupaudit",
    "release",
    "revertcoderelease",
    "queryquota",
    "gettemplatedraftlist",
    "gettemplatelist",
    "addtotemplate",
    "deletetemplate",
];

fn api_for(path: &str) -> Option<&'static str> {
    Some(match path {
        "/cgi-bin/component/api_component_token" => "api_component_token",
        "/cgi-bin/component/api_start_push_ticket" => "api_start_push_ticket",
        "/cgi-bin/component/api_create_preauthcode" => "api_create_preauthcode",
        "/cgi-bin/component/api_query_auth" => "api_query_auth",
        "/cgi-bin/component/api_authorizer_token" => "api_authorizer_token",
        "/cgi-bin/component/api_get_authorizer_info" => "api_get_authorizer_info",
        "/cgi-bin/component/api_get_authorizer_list" => "api_get_authorizer_list",
        "/cgi-bin/component/api_get_authorizer_option" => "api_get_authorizer_option",
        "/cgi-bin/component/api_set_authorizer_option" => "api_set_authorizer_option",
        "/cgi-bin/component/clear_quota" => "component_clear_quota",
        "/cgi-bin/component/clear_quota/v2" => "component_clear_quota_v2",
        "/cgi-bin/get_current_selfmenu_info" => "get_current_selfmenu_info",
        "/cgi-bin/menu/create" => "menu/create",
        "/cgi-bin/menu/get" => "menu/get",
        "/cgi-bin/menu/delete" => "menu/delete",
        "/cgi-bin/menu/addconditional" => "menu/addconditional",
        "/cgi-bin/menu/delconditional" => "menu/delconditional",
        "/cgi-bin/ticket/getticket" => "getticket",
        "/cgi-bin/message/custom/send" => "custom_send",
        "/cgi-bin/message/template/send" => "template_send",
        "/cgi-bin/user/info" => "user_info",
        "/sns/component/jscode2session" => "jscode2session",
        "/sns/oauth2/component/access_token" => "oauth2_access_token",
        "/sns/oauth2/component/refresh_token" => "oauth2_refresh_token",
        "/cgi-bin/component/fastregisterweapp" => "fastregisterweapp",
        "/wxa/component/fastregisterpersonalweapp" => "fastregisterpersonalweapp",
        "/wxa/modify_domain" => "modify_domain",
        "/wxa/setwebviewdomain" => "setwebviewdomain",
        "/wxa/commit" => "commit",
        "/wxa/get_qrcode" => "get_qrcode",
        "/wxa/get_category" => "get_category",
        "/wxa/get_page" => "get_page",
        "/wxa/submit_audit" => "submit_audit",
        "/wxa/get_auditstatus" => "get_auditstatus",
        "/wxa/get_latest_auditstatus" => "get_latest_auditstatus",
        "/wxa/undocodeaudit" => "undocodeaudit",
        "/wxa/speedupaudit" => "speedupaudit",
        "/wxa/release" => "release",
        "/wxa/revertcoderelease" => "revertcoderelease",
        "/wxa/queryquota" => "queryquota",
        "/wxa/gettemplatedraftlist" => "gettemplatedraftlist",
        "/wxa/gettemplatelist" => "gettemplatelist",
        "/wxa/addtotemplate" => "addtotemplate",
        "/wxa/deletetemplate" => "deletetemplate",
        _ => return None,
    })
}

pub(super) fn router(sim: Arc<SimControl>) -> Router {
    Router::new()
        .route("/cgi-bin/componentloginpage", get(pages::confirm_page))
        .route("/wxaopen/safe/bindcomponent", get(pages::confirm_page))
        .route("/safe/bindcomponent", get(pages::confirm_page))
        .route("/sim/confirm", post(pages::confirm_submit))
        .route("/sim", get(pages::overview))
        .route("/sim/control/state", get(control_state))
        .route(
            "/sim/control/lifetimes",
            get(get_lifetimes).put(put_lifetimes),
        )
        .route("/sim/control/clock", post(advance_clock))
        .route("/sim/control/latency", put(put_latency))
        .route(
            "/sim/control/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/sim/control/push-drops", put(put_push_drops))
        .route("/sim/control/refresh-rotation", put(put_refresh_rotation))
        .route("/sim/control/tickets", post(push_ticket))
        .route("/sim/control/pre-auth-codes", post(mint_pre_auth_code))
        .route("/sim/control/sns-codes", post(mint_sns_code))
        .route("/sim/control/authorizations", post(authorize))
        .route("/sim/control/revocations", post(revoke))
        .route("/sim/control/accounts", post(add_accounts))
        .route(
            "/sim/control/existing-authorizations",
            post(seed_existing_authorizations),
        )
        .route("/sim/control/components", post(add_component))
        .route("/sim/control/calls", get(list_calls).delete(clear_calls))
        .route("/sim/control/pushes", get(list_pushes))
        .route("/sim/control/messages", get(list_messages))
        .route(
            "/sim/control/release-check",
            post(super::chat::control_release_check),
        )
        .route(
            "/sim/release-check/{component}",
            post(super::chat::page_release_check),
        )
        .route(
            "/sim/control/user-messages",
            post(super::chat::control_send),
        )
        .route(
            "/sim/control/user-messages/{appid}",
            get(super::chat::control_conversation),
        )
        .route(
            "/sim/chat/{appid}",
            get(pages::chat_page).post(super::chat::page_send),
        )
        .route("/sim/chat/{appid}/menu", post(super::chat::page_menu_tap))
        .route("/sim/control/menu-tap", post(super::chat::control_menu_tap))
        .route("/sim/control/menus/{appid}", get(control_menus))
        .route(
            "/sim/control/audit-rules",
            get(get_audit_rules).put(put_audit_rules),
        )
        .route(
            "/sim/control/audits",
            post(decide_audit).get(list_audit_events),
        )
        .route("/sim/control/audit-quota", put(put_audit_quota))
        .route("/sim/control/refresh-report", get(refresh_report))
        .route("/sim/control/served", post(served))
        .route(
            "/sim/control/refresh-tokens/check",
            post(check_refresh_tokens),
        )
        .route("/sim/audits", post(page_decide_audit))
        .route("/sim/control/template-drafts", post(add_template_draft))
        .route("/sim/control/code/{appid}", get(control_code))
        .fallback(api)
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .merge(
            Router::new()
                .route("/cgi-bin/media/upload", post(media_upload))
                .route("/cgi-bin/media/get", get(media_get))
                .layer(DefaultBodyLimit::max(MEDIA_BODY_LIMIT)),
        )
        .with_state(sim)
}

/// Uploads are larger than the JSON APIs' bodies (WeChat takes a 10 MB image).
const MEDIA_BODY_LIMIT: usize = 12 * 1024 * 1024;

/// `media/upload?type=`: a multipart form with the file in the `media` field.
async fn media_upload(
    State(sim): Sim,
    uri: Uri,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let query = query_map(&uri);
    let mut file = None;
    let mut malformed = multipart.is_err();
    if let Ok(mut form) = multipart {
        loop {
            match form.next_field().await {
                Ok(Some(field)) if field.name() == Some("media") => {
                    let filename = field.file_name().unwrap_or("file").to_owned();
                    let content_type = field
                        .content_type()
                        .unwrap_or("application/octet-stream")
                        .to_owned();
                    match field.bytes().await {
                        Ok(bytes) => file = Some((filename, content_type, bytes.to_vec())),
                        Err(_) => malformed = true,
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    malformed = true;
                    break;
                }
            }
        }
    }
    let mut record = CallRecord {
        seq: 0,
        at: sim.now(),
        api: "media_upload".into(),
        component_appid: None,
        authorizer_appid: None,
        errcode: 0,
        outcome: "ok".into(),
        injected: false,
    };
    // A fault is applied once the upload was read, as WeChat reads it before checking the token.
    let fault = sim.take_fault("media_upload", || None);
    let result = if let Some(Fault::Errcode(code)) = fault {
        record.injected = true;
        Err(WxErr(code))
    } else if malformed {
        Err(WxErr(41005))
    } else {
        let now = sim.now();
        let mut state = sim.state();
        state.api_media_upload(
            query.get("access_token").map(String::as_str),
            query.get("type").map(String::as_str),
            file,
            now,
        )
    };
    let body = result.unwrap_or_else(|WxErr(code)| {
        record.errcode = code;
        record.outcome = format!("errcode {code}");
        error_body(code)
    });
    sim.record_call(record);
    Json(body).into_response()
}

/// `media/get?media_id=`: the file as uploaded, or WeChat's JSON error.
async fn media_get(State(sim): Sim, uri: Uri) -> Response {
    let query = query_map(&uri);
    let now = sim.now();
    let found = sim.state().api_media_get(
        query.get("access_token").map(String::as_str),
        query.get("media_id").map(String::as_str),
        now,
    );
    let mut record = CallRecord {
        seq: 0,
        at: now,
        api: "media_get".into(),
        component_appid: None,
        authorizer_appid: None,
        errcode: 0,
        outcome: "ok".into(),
        injected: false,
    };
    let response = match found {
        Ok((content_type, filename, bytes)) => {
            let mut r = bytes.into_response();
            if let Ok(v) = content_type.parse() {
                r.headers_mut().insert(axum::http::header::CONTENT_TYPE, v);
            }
            if let Ok(v) = format!("attachment; filename=\"{filename}\"").parse() {
                r.headers_mut()
                    .insert(axum::http::header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(WxErr(code)) => {
            record.errcode = code;
            record.outcome = format!("errcode {code}");
            Json(error_body(code)).into_response()
        }
    };
    sim.record_call(record);
    response
}

fn query_map(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn api(State(sim): Sim, method: Method, uri: Uri, body: Bytes) -> Response {
    let Some(name) = api_for(uri.path()) else {
        return (StatusCode::NOT_FOUND, "no such WeChat API in the simulator").into_response();
    };
    let query = query_map(&uri);
    let latency = sim.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    // Logged appids come from the body when it parses; a malformed body is 47001 below.
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut record = CallRecord {
        seq: 0,
        at: sim.now(),
        api: name.to_owned(),
        component_appid: field("component_appid"),
        authorizer_appid: field("authorizer_appid"),
        errcode: 0,
        outcome: "ok".into(),
        injected: false,
    };
    let token_in_query = query
        .get("component_access_token")
        .or_else(|| query.get("access_token"))
        .cloned();
    let fault = sim.take_fault(name, || {
        record.component_appid.clone().or_else(|| {
            token_in_query
                .as_deref()
                .and_then(|t| sim.state().owner_of_token(t))
        })
    });
    let mut lost_answer = false;
    let fault = match fault {
        Some(late @ (Fault::LatencyMs(_) | Fault::LongTail { .. })) => {
            let ms = late.delay_ms();
            record.injected = true;
            record.outcome = format!("ok, {ms} ms late");
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        Some(Fault::LostAnswer) => {
            lost_answer = true;
            None
        }
        other => other,
    };
    if let Some(fault) = fault {
        record.injected = true;
        let response = match fault {
            Fault::Reset => {
                record.outcome = "connection reset".into();
                sim.record_call(record);
                return reset_response();
            }
            // Taken out above.
            Fault::LatencyMs(_) | Fault::LongTail { .. } | Fault::LostAnswer => {
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
            Fault::Errcode(code) => {
                record.errcode = code;
                record.outcome = format!("errcode {code}");
                Json(error_body(code)).into_response()
            }
            Fault::Http(status) => {
                record.outcome = format!("http {status}");
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                (status, "simulated upstream failure").into_response()
            }
            Fault::Timeout => {
                record.outcome = "timeout".into();
                sim.record_call(record);
                tokio::time::sleep(sim.settings.hang).await;
                return Json(error_body(-1)).into_response();
            }
        };
        sim.record_call(record);
        return response;
    }

    let token = query
        .get("component_access_token")
        .or_else(|| query.get("access_token"))
        .map(String::as_str);
    if name == "get_qrcode" {
        // An image, or WeChat's JSON error.
        let result = sim.with_state(|s, now| {
            s.api_get_qrcode(token, query.get("path").map(String::as_str), now)
        });
        return match result {
            Ok(png) => {
                sim.record_call(record);
                ([(axum::http::header::CONTENT_TYPE, "image/png")], png).into_response()
            }
            Err(WxErr(code)) => {
                record.errcode = code;
                record.outcome = format!("errcode {code}");
                sim.record_call(record);
                Json(error_body(code)).into_response()
            }
        };
    }
    // Reads and deletions take no body, whatever the method.
    let bodiless = method == Method::GET || matches!(name, "menu/get" | "menu/delete");
    let body_value = if bodiless {
        Ok(Value::Null)
    } else {
        match parsed {
            Some(v) if v.is_object() => Ok(v),
            _ => Err(WxErr(47001)),
        }
    };
    let result = body_value.and_then(|body| {
        let now = sim.now();
        let mut state = sim.state();
        let result = match name {
            "api_component_token" => state.api_component_token(&body, now),
            "api_start_push_ticket" => state.api_start_push_ticket(&body, now),
            "api_create_preauthcode" => state.api_create_preauthcode(token, &body, now),
            "api_query_auth" => state.api_query_auth(token, &body, now),
            "api_authorizer_token" => state.api_authorizer_token(token, &body, now),
            "api_get_authorizer_info" => state.api_get_authorizer_info(token, &body, now),
            "api_get_authorizer_list" => state.api_get_authorizer_list(token, &body, now),
            "api_get_authorizer_option" => state.api_authorizer_option(token, &body, now, false),
            "api_set_authorizer_option" => state.api_authorizer_option(token, &body, now, true),
            "component_clear_quota" => state.api_clear_quota(token, &body, now, false),
            "component_clear_quota_v2" => state.api_clear_quota(token, &body, now, true),
            "get_current_selfmenu_info" => state.api_selfmenu(token, now),
            "menu/create" => state.api_menu_create(token, &body, now),
            "menu/get" => state.api_menu_get(token, now),
            "menu/delete" => state.api_menu_delete(token, now),
            "menu/addconditional" => state.api_menu_addconditional(token, &body, now),
            "menu/delconditional" => state.api_menu_delconditional(token, &body, now),
            "getticket" => state.api_getticket(token, query.get("type").map(String::as_str), now),
            "custom_send" => state.api_custom_send(token, &body, now),
            "template_send" => state.api_template_send(token, &body, now),
            "user_info" => state.api_user_info(token, query.get("openid").map(String::as_str), now),
            "jscode2session" => state.api_jscode2session(token, &query, now),
            "oauth2_access_token" => state.api_oauth_access_token(token, &query, now),
            "oauth2_refresh_token" => state.api_oauth_refresh_token(token, &query, now),
            "modify_domain" => state.api_modify_domain(token, &body, now),
            "setwebviewdomain" => state.api_setwebviewdomain(token, &body, now),
            "commit" => state.api_commit(token, &body, now),
            "get_category" => state.api_get_category(token, now),
            "get_page" => state.api_get_page(token, now),
            "submit_audit" => state.api_submit_audit(token, &body, now),
            "get_auditstatus" => state.api_get_auditstatus(token, &body, now),
            "get_latest_auditstatus" => state.api_get_latest_auditstatus(token, now),
            "undocodeaudit" => state.api_undocodeaudit(token, now),
            "speedupaudit" => state.api_speedupaudit(token, &body, now),
            "release" => state.api_release(token, now),
            "revertcoderelease" => state.api_revertcoderelease(token, now),
            "queryquota" => state.api_queryquota(token, now),
            "gettemplatedraftlist" => state.api_gettemplatedraftlist(token, now),
            "gettemplatelist" => state.api_gettemplatelist(
                token,
                query.get("template_type").map(String::as_str),
                now,
            ),
            "addtotemplate" => state.api_addtotemplate(token, &body, now),
            "deletetemplate" => state.api_deletetemplate(token, &body, now),
            "fastregisterweapp" => state.api_fastregister(
                token,
                query.get("action").map(String::as_str),
                false,
                &body,
                now,
            ),
            "fastregisterpersonalweapp" => state.api_fastregister(
                token,
                query.get("action").map(String::as_str),
                true,
                &body,
                now,
            ),
            _ => Err(WxErr(47001)),
        };
        if let (Ok(_), Some(token)) = (&result, token) {
            state.note_token_used(token);
        }
        sim.flush_outbox(&mut state);
        result
    });
    let response = match result {
        Ok(value) => value,
        Err(WxErr(code)) => {
            record.errcode = code;
            record.outcome = format!("errcode {code}");
            error_body(code)
        }
    };
    if lost_answer {
        // WeChat did it; the answer never arrives.
        if let Some(token) = response
            .get("authorizer_access_token")
            .and_then(Value::as_str)
        {
            sim.state().note_token_lost(token);
        }
        record.injected = true;
        record.outcome = format!("answer lost ({})", record.outcome);
        sim.record_call(record);
        return reset_response();
    }
    sim.record_call(record);
    Json(response).into_response()
}

/// A connection closed before the answer: the body fails at once, so the client sees the
/// connection end mid-response.
fn reset_response() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        ))
    });
    Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(failing))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

/// Control requests are JSON; a bad one is a 400 naming the problem.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| Box::new(bad_request(&e.to_string())))
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

async fn control_state(State(sim): Sim) -> Json<Value> {
    let state = sim.state();
    let components: Vec<Value> = state
        .components
        .values()
        .map(|c| {
            json!({
                "appid": c.seed.appid,
                "name": c.seed.name,
                "notify_url": c.seed.notify_url,
                "push_enabled": c.push_enabled,
                "latest_ticket": c.latest_ticket(),
                "authorizations": c.authorizations.values().collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({
        "now": sim.now(),
        "lifetimes": state.lifetimes,
        "latency_ms": sim.latency_ms.load(Ordering::Relaxed),
        "components": components,
        "accounts": state.accounts.len(),
        "live_authorizer_tokens": state.live_authorizer_tokens(),
    }))
}

async fn get_lifetimes(State(sim): Sim) -> Json<Lifetimes> {
    Json(sim.lifetimes())
}

async fn put_lifetimes(State(sim): Sim, body: Bytes) -> Response {
    // Unnamed fields keep their current value.
    let current = serde_json::to_value(sim.lifetimes()).unwrap_or(Value::Null);
    let patch: Value = match parse(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let (Value::Object(mut merged), Value::Object(patch)) = (current, patch) else {
        return bad_request("expected a JSON object");
    };
    merged.extend(patch);
    let lifetimes: Lifetimes = match serde_json::from_value(Value::Object(merged)) {
        Ok(l) => l,
        Err(e) => return bad_request(&e.to_string()),
    };
    let all = [
        lifetimes.component_token,
        lifetimes.authorizer_token,
        lifetimes.jsapi_ticket,
        lifetimes.pre_auth_code,
        lifetimes.auth_code,
        lifetimes.ticket,
    ];
    if all.iter().any(|&s| s < 1)
        || lifetimes.token_overlap < 0
        || lifetimes.refresh_token_grace < 0
    {
        return bad_request("lifetimes must be at least 1 second (overlap and grace at least 0)");
    }
    sim.set_lifetimes(lifetimes);
    Json(lifetimes).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockAdvance {
    seconds: u64,
}

async fn advance_clock(State(sim): Sim, body: Bytes) -> Response {
    match parse::<ClockAdvance>(&body) {
        Ok(a) => {
            sim.advance_clock(Duration::from_secs(a.seconds));
            Json(json!({ "now": sim.now() })).into_response()
        }
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Latency {
    ms: u64,
}

async fn put_latency(State(sim): Sim, body: Bytes) -> Response {
    match parse::<Latency>(&body) {
        Ok(l) if l.ms <= 60_000 => {
            sim.set_latency(Duration::from_millis(l.ms));
            Json(json!({ "ms": l.ms })).into_response()
        }
        Ok(_) => bad_request("latency is capped at 60000 ms"),
        Err(r) => *r,
    }
}

async fn list_faults(State(sim): Sim) -> Json<Vec<FaultSpec>> {
    Json(sim.faults())
}

async fn add_fault(State(sim): Sim, body: Bytes) -> Response {
    let spec: FaultSpec = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match sim.inject_fault(spec.clone()) {
        Ok(()) => (StatusCode::CREATED, Json(spec)).into_response(),
        Err(e) => bad_request(&e),
    }
}

async fn clear_faults(State(sim): Sim) -> StatusCode {
    sim.clear_faults();
    StatusCode::NO_CONTENT
}

async fn put_push_drops(State(sim): Sim, body: Bytes) -> Response {
    match parse::<PushDrops>(&body) {
        Ok(d) if d.percent <= 100 => {
            sim.drop_pushes(d);
            Json(d).into_response()
        }
        Ok(_) => bad_request("percent must be between 0 and 100"),
        Err(r) => *r,
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Rotation {
    enabled: bool,
}

/// `{"enabled": true}`: every refresh answers with a new refresh token.
async fn put_refresh_rotation(State(sim): Sim, body: Bytes) -> Response {
    match parse::<Rotation>(&body) {
        Ok(r) => {
            sim.with_state(|s, _| s.rotate_refresh_tokens = r.enabled);
            Json(r).into_response()
        }
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentRef {
    component_appid: String,
}

async fn push_ticket(State(sim): Sim, body: Bytes) -> Response {
    let r: ComponentRef = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    match sim.push_ticket_now(&r.component_appid) {
        Some(_) => StatusCode::ACCEPTED.into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown component" })),
        )
            .into_response(),
    }
}

async fn mint_pre_auth_code(State(sim): Sim, body: Bytes) -> Response {
    let r: ComponentRef = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let minted = sim.with_state(|s, now| {
        s.components
            .contains_key(&r.component_appid)
            .then(|| s.mint_pre_auth_code(&r.component_appid, now))
    });
    match minted {
        Some((code, expires_in)) => (
            StatusCode::CREATED,
            Json(json!({ "pre_auth_code": code, "expires_in": expires_in })),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown component" })),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnsCodeRequest {
    component_appid: String,
    authorizer_appid: String,
    /// `js_code` (a mini program's wx.login) or `oauth` (web OAuth for an Official Account).
    kind: String,
    #[serde(default)]
    openid: Option<String>,
}

/// A user's login code, as if they had just opened the mini program (or the OAuth page).
async fn mint_sns_code(State(sim): Sim, body: Bytes) -> Response {
    let r: SnsCodeRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let kind = match r.kind.as_str() {
        "js_code" => super::sns::CodeKind::JsCode,
        "oauth" => super::sns::CodeKind::OAuth,
        _ => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "error": "kind is js_code or oauth" })),
            )
                .into_response()
        }
    };
    let minted = sim.with_state(|s, now| {
        s.mint_sns_code(
            &r.component_appid,
            &r.authorizer_appid,
            kind,
            r.openid.as_deref(),
            now,
        )
    });
    match minted {
        Ok(code) => (StatusCode::CREATED, Json(json!({ "code": code }))).into_response(),
        Err(why) => (StatusCode::NOT_FOUND, Json(json!({ "error": why }))).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeRequest {
    component_appid: String,
    authorizer_appid: String,
    func_ids: Vec<i64>,
}

async fn authorize(State(sim): Sim, body: Bytes) -> Response {
    let r: AuthorizeRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    match sim.authorize(&r.component_appid, &r.authorizer_appid, &r.func_ids) {
        Ok((auth_code, expires_in)) => (
            StatusCode::CREATED,
            Json(json!({ "auth_code": auth_code, "expires_in": expires_in })),
        )
            .into_response(),
        Err(e) => bad_request(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    component_appid: String,
    authorizer_appid: String,
}

async fn revoke(State(sim): Sim, body: Bytes) -> Response {
    let r: RevokeRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    if sim.revoke(&r.component_appid, &r.authorizer_appid) {
        StatusCode::ACCEPTED.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no live authorization between these two" })),
        )
            .into_response()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExistingAuthorizationsRequest {
    component_appid: String,
    count: usize,
    #[serde(default = "default_existing_func_ids")]
    func_ids: Vec<i64>,
}

fn default_existing_func_ids() -> Vec<i64> {
    vec![1, 2, 3, 4, 15]
}

/// The most one request makes: enough for the import benchmark, bounded for memory.
const EXISTING_AUTHORIZATIONS_MAX: usize = 50_000;

async fn seed_existing_authorizations(State(sim): Sim, body: Bytes) -> Response {
    let r: ExistingAuthorizationsRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    if r.count == 0 || r.count > EXISTING_AUTHORIZATIONS_MAX {
        return bad_request(&format!("count must be 1 to {EXISTING_AUTHORIZATIONS_MAX}"));
    }
    if r.func_ids.is_empty() || r.func_ids.iter().any(|f| !(1..=1000).contains(f)) {
        return bad_request("func_ids must be permission set ids (1 to 1000)");
    }
    match sim.with_state(|s, now| {
        s.seed_existing_authorizations(&r.component_appid, r.count, &r.func_ids, now)
    }) {
        Ok(appids) => (
            StatusCode::CREATED,
            Json(json!({ "added": appids.len(), "first": appids.first(), "last": appids.last() })),
        )
            .into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({ "error": e }))).into_response(),
    }
}

async fn add_accounts(State(sim): Sim, body: Bytes) -> Response {
    let accounts: Vec<AccountSeed> = match parse(&body) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if let Some(bad) = accounts
        .iter()
        .find(|a| app::validate::appid("appid", &a.appid).is_err())
    {
        return bad_request(&format!("{:?} is not an appid", bad.appid));
    }
    let n = accounts.len();
    sim.with_state(|s, _| accounts.into_iter().for_each(|a| s.add_account(a)));
    (StatusCode::CREATED, Json(json!({ "added": n }))).into_response()
}

async fn add_component(State(sim): Sim, body: Bytes) -> Response {
    let seed: ComponentSeed = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if app::validate::appid("appid", &seed.appid).is_err() {
        return bad_request("appid must be wx followed by 16 lower-case letters or digits");
    }
    match sim.with_state(|s, _| s.add_component(seed)) {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => bad_request(&e),
    }
}

#[derive(Deserialize)]
struct CallFilter {
    api: Option<String>,
    since: Option<u64>,
}

async fn list_calls(State(sim): Sim, Query(filter): Query<CallFilter>) -> Json<Vec<CallRecord>> {
    let calls = sim
        .calls()
        .into_iter()
        .filter(|c| filter.api.as_deref().is_none_or(|a| c.api == a))
        .filter(|c| filter.since.is_none_or(|s| c.seq > s))
        .collect();
    Json(calls)
}

async fn clear_calls(State(sim): Sim) -> StatusCode {
    sim.clear_calls();
    StatusCode::NO_CONTENT
}

async fn list_pushes(State(sim): Sim) -> Json<Vec<super::PushRecord>> {
    Json(sim.pushes())
}

/// `GET /sim/control/menus/{appid}`: `{"backend", "api", "conditional"}`.
async fn control_menus(
    State(sim): Sim,
    axum::extract::Path(appid): axum::extract::Path<String>,
) -> Response {
    let view = sim.state().menu_view(&appid);
    match view {
        Some(view) => Json(view).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown account" })),
        )
            .into_response(),
    }
}

async fn list_messages(State(sim): Sim) -> Json<Value> {
    let messages = sim.with_state(|s, _| s.sent_messages.clone());
    Json(json!(messages))
}

async fn get_audit_rules(State(sim): Sim) -> Json<super::code::AuditRules> {
    Json(sim.with_state(|s, _| s.code.rules.clone()))
}

async fn put_audit_rules(State(sim): Sim, body: Bytes) -> Response {
    let rules: super::code::AuditRules = match parse(&body) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if !(0..=86_400_000).contains(&rules.after_ms) || rules.reason.chars().count() > 500 {
        return bad_request("after_ms must be 0 to 86400000 and reason at most 500 characters");
    }
    sim.with_state(|s, _| s.code.rules = rules.clone());
    Json(rules).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditDecision {
    authorizer_appid: String,
    outcome: super::code::AuditOutcome,
    reason: Option<String>,
}

/// Decides an audit in progress now and pushes its event before answering.
async fn decide_audit(State(sim): Sim, body: Bytes) -> Response {
    let d: AuditDecision = match parse(&body) {
        Ok(d) => d,
        Err(e) => return *e,
    };
    if d.outcome == super::code::AuditOutcome::Hold {
        return bad_request("decide pass, fail or delay");
    }
    let decided = sim.with_state(|s, now| {
        s.decide_audit(&d.authorizer_appid, d.outcome, d.reason.as_deref(), now)
    });
    match decided {
        Ok(auditid) => {
            super::code::push_due(&sim).await;
            let event = sim
                .audit_events()
                .into_iter()
                .rev()
                .find(|e| e.authorizer_appid == d.authorizer_appid);
            Json(json!({ "auditid": auditid, "pushed": event })).into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({ "error": e }))).into_response(),
    }
}

async fn list_audit_events(State(sim): Sim) -> Json<Vec<super::code::SentAuditEvent>> {
    Json(sim.audit_events())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaSetting {
    component_appid: String,
    limit: i64,
    #[serde(default = "default_speedups")]
    speedup_limit: i64,
}

fn default_speedups() -> i64 {
    super::code::DEFAULT_SPEEDUPS
}

async fn put_audit_quota(State(sim): Sim, body: Bytes) -> Response {
    let q: QuotaSetting = match parse(&body) {
        Ok(q) => q,
        Err(e) => return *e,
    };
    if !(0..=10_000).contains(&q.limit) || !(0..=10_000).contains(&q.speedup_limit) {
        return bad_request("limit and speedup_limit must be 0 to 10000");
    }
    match sim.with_state(|s, _| s.set_quota(&q.component_appid, q.limit, q.speedup_limit)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({ "error": e }))).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDraft {
    component_appid: String,
    user_version: String,
    #[serde(default)]
    user_desc: String,
}

/// A draft appears in the component's draft box, as after an upload from the developer tools.
async fn add_template_draft(State(sim): Sim, body: Bytes) -> Response {
    let d: NewDraft = match parse(&body) {
        Ok(d) => d,
        Err(e) => return *e,
    };
    if d.user_version.trim().is_empty()
        || d.user_version.chars().count() > 64
        || d.user_desc.chars().count() > 500
    {
        return bad_request("user_version must be 1 to 64 characters and user_desc at most 500");
    }
    match sim.with_state(|s, now| {
        s.add_draft(&d.component_appid, d.user_version.trim(), &d.user_desc, now)
    }) {
        Ok(draft_id) => Json(json!({ "draft_id": draft_id })).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({ "error": e }))).into_response(),
    }
}

/// What WeChat holds of one mini program's code (domains, commit, audits, releases).
async fn control_code(State(sim): Sim, Path(appid): Path<String>) -> Response {
    match sim.with_state(|s, _| s.code.apps.get(&appid).cloned()) {
        Some(app) => Json(app).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no code for this account" })),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct PageDecision {
    authorizer_appid: String,
    outcome: String,
    #[serde(default)]
    reason: String,
}

/// The overview page's audit buttons: decide, push, and back to the page.
async fn page_decide_audit(State(sim): Sim, axum::Form(d): axum::Form<PageDecision>) -> Response {
    let outcome = match d.outcome.as_str() {
        "pass" => super::code::AuditOutcome::Pass,
        "fail" => super::code::AuditOutcome::Fail,
        "delay" => super::code::AuditOutcome::Delay,
        _ => return bad_request("decide pass, fail or delay"),
    };
    let reason = d.reason.trim();
    let reason = (!reason.is_empty()).then(|| reason.chars().take(200).collect::<String>());
    let decided = sim
        .with_state(|s, now| s.decide_audit(&d.authorizer_appid, outcome, reason.as_deref(), now));
    if decided.is_ok() {
        super::code::push_due(&sim).await;
    }
    axum::response::Redirect::to("/sim").into_response()
}

/// Refreshes counted, and the double ones (two refreshes of one account within half a lifetime).
async fn refresh_report(State(sim): Sim) -> Json<super::state::RefreshReport> {
    Json(sim.state().refresh_report.clone())
}

/// Tokens a tenant API served, as a load generator saw them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Served {
    tokens: Vec<String>,
}

/// A load generator reports the access tokens the tenant API gave it; each is checked against
/// what WeChat accepts now and counted in the refresh report (`expired_served`).
async fn served(State(sim): Sim, body: Bytes) -> Response {
    let served: Served = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if served.tokens.len() > 10_000 {
        return bad_request("at most 10,000 tokens at once");
    }
    let now = sim.now();
    let mut state = sim.state();
    let refused = served
        .tokens
        .iter()
        .filter(|t| !state.served(t, now))
        .count();
    Json(json!({ "checked": served.tokens.len(), "refused": refused })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeldRefreshToken {
    component_appid: String,
    authorizer_appid: String,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeldRefreshTokens {
    held: Vec<HeldRefreshToken>,
}

/// The platform's refresh tokens, compared with WeChat's: which accounts it lost.
async fn check_refresh_tokens(State(sim): Sim, body: Bytes) -> Response {
    let held: HeldRefreshTokens = match parse(&body) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    if held.held.len() > 100_000 {
        return bad_request("at most 100,000 accounts at once");
    }
    let now = sim.now();
    let mut report = super::state::RefreshTokenCheck::default();
    sim.state().lost_refresh_tokens(
        held.held.iter().map(|h| {
            (
                h.component_appid.as_str(),
                h.authorizer_appid.as_str(),
                h.refresh_token.as_deref(),
            )
        }),
        now,
        &mut report,
    );
    Json(report).into_response()
}
