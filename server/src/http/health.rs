//! `/healthz`: the process is up. `/readyz`: the database answers and every migration is applied.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::{AppState, HttpError};

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, HttpError> {
    if let Err(e) = state.store.ping().await {
        tracing::warn!(error = %crate::report::Chain(&e), "readiness: database unreachable");
        return Err(HttpError::Unavailable("database unreachable".into()));
    }
    let schema = state
        .store
        .schema_status()
        .await
        .map_err(|e| HttpError::Internal(Box::new(e)))?;
    if !schema.is_current() {
        return Err(HttpError::Unavailable(format!(
            "migrations pending: applied {:?}, expected {:?}",
            schema.applied, schema.expected
        )));
    }
    Ok(Json(json!({
        "status": "ready",
        "database": state.store.dialect().name,
        "schema_version": schema.applied.last(),
    })))
}
