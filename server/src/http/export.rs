//! `GET /platform/audit.csv?…` — the audit log as CSV, with the same filters as the audit page
//! (the page links here with its own query). A plain download, so it runs behind the session like
//! the pages; the platform service checks the role.

use app::dto::AuditQuery;
use app::error::AppError;
use app::services::{ClientIp, RequestCtx};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::AppState;

pub async fn audit_csv(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    ip: Option<Extension<ClientIp>>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "the filters in the address are malformed",
        )
            .into_response();
    };
    let ctx = RequestCtx {
        session,
        client_ip: ip.map(|Extension(ip)| ip.0),
    };
    match state.services.platform.audit_csv(&ctx, query).await {
        Ok(csv) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"wxhub-audit.csv\"",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            // A byte-order mark, so spreadsheet programs read the Chinese text as UTF-8.
            format!("\u{feff}{csv}"),
        )
            .into_response(),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = match &e {
                AppError::Invalid { .. } => e.to_string(),
                AppError::Unauthenticated => "sign in first".to_owned(),
                AppError::Forbidden => "only platform staff may export the audit log".to_owned(),
                _ => "the export failed; it has been logged".to_owned(),
            };
            (status, message).into_response()
        }
    }
}
