//! Starting an import of a component's existing authorizations (the console's components page and
//! `server component import`). Starting only writes: the import row, its audit event and the job
//! for the first page. Whichever wxhub instance's job worker claims the page reads it from WeChat
//! (see `engine::imports`), so the CLI can start an import that the running server carries out.

use serde_json::json;

use super::OpError;
use crate::domain::{Actor, AuditKind, Component, NewAuditEvent, Outcome};
use crate::engine::IMPORT_PAGE;
use crate::store::{AuthorizerImport, NewJob, Store};

/// Starts an import of `component`'s authorizations, or returns the one running already (an
/// import is safe to repeat, never to run twice at once). `true` when this call started it.
pub async fn start(
    store: &Store,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    component: &Component,
    now: i64,
) -> Result<(AuthorizerImport, bool), OpError> {
    if !component.active {
        return Err(OpError::Invalid {
            field: "component",
            en: "the component is disabled".into(),
            zh: "该第三方平台已停用".into(),
        });
    }
    let audit = NewAuditEvent::new(
        actor.clone(),
        AuditKind::AuthorizersImportStarted,
        Outcome::Ok,
        format!(
            "{} started importing {}'s existing authorizations",
            super::named(actor),
            component.appid
        ),
        now,
    )
    .tenant(component.owner.tenant_id())
    .component(component.id)
    .ip(ip);
    let (import, started) = store
        .start_authorizer_import(component.id, &actor.label(), &audit, now)
        .await?;
    if started {
        queue_page(store, &import, 0, now).await?;
    }
    Ok((import, started))
}

/// The job that reads the page at `offset` (once per page: `key`, from [`page_key`], names it).
/// It is due from when the import began: jobs are claimed oldest first, so the next page goes
/// ahead of the menu fetches the previous page queued, instead of waiting behind a hundred of them.
pub(crate) fn page_job<'a>(
    import: &AuthorizerImport,
    offset: i64,
    key: &'a str,
    now: i64,
) -> NewJob<'a> {
    NewJob {
        kind: IMPORT_PAGE,
        tenant: None,
        component: Some(crate::domain::ComponentId(import.component_id)),
        payload: json!({ "import_id": import.id, "offset": offset }),
        secret: None,
        dedupe_key: key,
        run_at: import.started_at.min(now),
        max_attempts: 20,
    }
}

pub(crate) fn page_key(import: &AuthorizerImport, offset: i64) -> String {
    format!("{IMPORT_PAGE}:{}:{offset}", import.id)
}

/// Queues the job for the first page.
async fn queue_page(
    store: &Store,
    import: &AuthorizerImport,
    offset: i64,
    now: i64,
) -> Result<(), crate::store::StoreError> {
    let key = page_key(import, offset);
    store
        .enqueue_job(&page_job(import, offset, &key, now), now)
        .await?;
    Ok(())
}
