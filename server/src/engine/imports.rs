//! Accounts that reach wxhub outside a tenant's authorization link: imported from WeChat's list of
//! a component's authorizations, or kept unassigned and then given to a tenant by platform staff.
//!
//! An import reads `api_get_authorizer_list` one page per job, so a page is short next to a job's
//! lease and a restart resumes at the first page not recorded (the import row keeps the offset).
//! Each account on a page is fetched (`api_get_authorizer_info`: permission sets and profile) and
//! recorded like an exchanged authorization without an access token, so the refresh engine fetches
//! one at once and keeps it fresh from then on. An account wxhub already holds as authorized is left
//! alone: its refresh token came from an exchange or a refresh and is at least as new as the
//! list's. Accounts of a tenant's own component go to that tenant; a shared component's stay
//! unassigned (unless wxhub knew them already).

use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::jobs::JobError;
use super::{ComponentEntry, Engine, EngineError};
use crate::domain::{
    Actor, AppId, AuditKind, AuthorizerId, AuthorizerStatus, ComponentId, NewAuditEvent, Outcome,
    TenantId,
};
use crate::store::{
    AssignRefusal, AuthorizerImport, ClaimedJob, ImportPageCounts, NewAuthorization,
};
use crate::wechat::api::AuthorizerListItem;
use crate::wechat::errcode::ErrcodeClass;

/// The job kind that reads and records one page of an import.
pub const IMPORT_PAGE: &str = "import_authorizers";
/// Accounts per page (WeChat allows up to 500): at 8 `api_get_authorizer_info` calls in flight a
/// page takes about 13 WeChat round trips, far inside a job's lease even when WeChat is slow.
pub const IMPORT_PAGE_SIZE: u32 = 100;
const IMPORT_CONCURRENCY: usize = 16;

/// What importing one account did.
enum Imported {
    New,
    Updated,
    Unchanged,
    Failed,
}

impl Engine {
    /// Starts an import of `component`'s existing authorizations, or returns the one running.
    /// `true` when this call started it (see `ops::imports`); this instance's worker is woken.
    pub async fn start_import(
        &self,
        component: &crate::domain::Component,
        actor: &Actor,
        ip: Option<std::net::IpAddr>,
    ) -> Result<(AuthorizerImport, bool), crate::ops::OpError> {
        let started =
            crate::ops::imports::start(&self.store, actor, ip, component, crate::now_ms()).await?;
        self.wake_jobs.notify_one();
        Ok(started)
    }

    /// One page of an import (the `import_authorizers` job). A failure on the job's last attempt
    /// ends the import as failed, so an import never stays "running" with no job behind it.
    pub(super) async fn import_page(&self, job: &ClaimedJob) -> Result<(), JobError> {
        let (Some(id), Some(offset)) = (
            job.payload.get("import_id").and_then(Value::as_i64),
            job.payload.get("offset").and_then(Value::as_i64),
        ) else {
            return Err(JobError::Fatal("the job names no import page".into()));
        };
        let Some(import) = self.store.authorizer_import(id).await? else {
            return Err(JobError::Fatal("the import is gone".into()));
        };
        // Ended, or this page was recorded by an earlier run (a lease that ran out mid-page).
        if import.status != "running" || import.next_offset != offset {
            return Ok(());
        }
        // Every page was recorded but the process died before marking the import done.
        if import.total.is_some_and(|total| offset >= total) {
            let entry = self.job_component(job).await?;
            return self.mark_import_done(id, &entry).await;
        }
        let result = self.import_page_from(job, &import).await;
        let now = crate::now_ms();
        match &result {
            Err(JobError::Retry(e, _)) if job.attempts < job.max_attempts => {
                let _ = self.store.note_import_error(id, e, now).await;
            }
            Err(JobError::Retry(e, _)) | Err(JobError::Fatal(e)) => {
                let audit = NewAuditEvent::new(
                    Actor::System,
                    AuditKind::AuthorizersImportFinished,
                    Outcome::Failed,
                    format!("an import of authorizations failed: {e}"),
                    now,
                )
                .component(ComponentId(import.component_id))
                .detail(json!({ "import_id": id, "next_offset": import.next_offset }));
                let _ = self
                    .store
                    .finish_authorizer_import(id, "failed", Some(e), &audit, now)
                    .await;
            }
            Ok(()) => {}
        }
        result
    }

    async fn import_page_from(
        &self,
        job: &ClaimedJob,
        import: &AuthorizerImport,
    ) -> Result<(), JobError> {
        let offset = import.next_offset;
        let entry = self.job_component(job).await?;
        let started = tokio::time::Instant::now();
        let now = crate::now_ms();
        let Some(token) = self.component_token(entry.component.id, now + 5_000) else {
            return Err(JobError::Retry("no component token yet".into(), 2_000));
        };
        let page = match self
            .client
            .get_authorizer_list(
                token.value.expose_secret(),
                &entry.component.appid,
                u32::try_from(offset).unwrap_or(u32::MAX),
                IMPORT_PAGE_SIZE,
            )
            .await
        {
            Ok(page) => page,
            Err(err) => return Err(self.wechat_job_error(job, err).await),
        };
        let total = page.total_count.max(0);
        let listed = page.list.len() as i64;
        let owner = entry.component.owner.tenant_id();
        // Accounts are taken in the list's order and no new one is started once half the lease
        // is spent: the page then records how far it got, and the next job goes on from there,
        // so a slow WeChat shortens pages instead of outliving the lease.
        let budget = self.settings.lease / 2;
        let results: Vec<Result<Imported, JobError>> = futures_util::stream::iter(page.list)
            .take_while(|_| std::future::ready(started.elapsed() < budget))
            .map(|item| self.import_account(&entry, token.value.expose_secret(), owner, item))
            .buffered(IMPORT_CONCURRENCY)
            .collect()
            .await;
        let mut counts = ImportPageCounts::default();
        let mut done = 0i64;
        for result in results {
            match result {
                Ok(Imported::New) => counts.imported += 1,
                Ok(Imported::Updated) => counts.updated += 1,
                Ok(Imported::Unchanged) => counts.unchanged += 1,
                Ok(Imported::Failed) => counts.failed += 1,
                // What went before is recorded; the rest of the page is retried.
                Err(e) if done > 0 => {
                    self.record_page(import, &entry, offset + done, total, counts, false)
                        .await?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
            done += 1;
        }
        let finished = listed == 0 || (done == listed && offset + done >= total);
        self.record_page(import, &entry, offset + done, total, counts, finished)
            .await?;
        Ok(())
    }

    /// Records how far a page got, then ends the import or queues the next page.
    async fn record_page(
        &self,
        import: &AuthorizerImport,
        entry: &ComponentEntry,
        next: i64,
        total: i64,
        counts: ImportPageCounts,
        finished: bool,
    ) -> Result<(), JobError> {
        let id = import.id;
        let now = crate::now_ms();
        let key = crate::ops::imports::page_key(import, next);
        // Queued even for the last page: should this process die before the import is marked
        // done below, that job finds the import complete and marks it (it reads nothing more).
        let next_page = Some(crate::ops::imports::page_job(import, next, &key, now));
        if !self
            .store
            .record_import_page(
                id,
                import.next_offset,
                next,
                total,
                counts,
                next_page.as_ref(),
                now,
            )
            .await?
        {
            return Ok(());
        }
        if next_page.is_some() {
            self.wake_jobs.notify_one();
        }
        self.cache.sync(&self.store).await?;
        if finished {
            self.mark_import_done(id, entry).await?;
        }
        Ok(())
    }

    /// Ends a complete import with its audit event (counts as recorded).
    async fn mark_import_done(&self, id: i64, entry: &ComponentEntry) -> Result<(), JobError> {
        let now = crate::now_ms();
        let Some(done) = self.store.authorizer_import(id).await? else {
            return Ok(());
        };
        let audit = NewAuditEvent::new(
            Actor::System,
            AuditKind::AuthorizersImportFinished,
            Outcome::Ok,
            format!(
                "the import of {}'s authorizations finished: {} new, {} authorized again, {} already held, {} failed",
                entry.component.appid, done.imported, done.updated, done.unchanged, done.failed
            ),
            now,
        )
        .tenant(entry.component.owner.tenant_id())
        .component(entry.component.id)
        .detail(json!({
            "import_id": id,
            "total": done.total,
            "imported": done.imported,
            "updated": done.updated,
            "unchanged": done.unchanged,
            "failed": done.failed,
        }));
        self.store
            .finish_authorizer_import(id, "done", None, &audit, now)
            .await?;
        Ok(())
    }

    /// Imports one account of the list. `Err` only for what should retry the whole page (WeChat
    /// throttling or unreachable, storage down); an account WeChat refuses is counted as failed.
    async fn import_account(
        &self,
        entry: &ComponentEntry,
        component_token: &str,
        owner: Option<TenantId>,
        item: AuthorizerListItem,
    ) -> Result<Imported, JobError> {
        let component = entry.component.id;
        let Ok(appid) = AppId::parse("authorizer_appid", &item.authorizer_appid) else {
            tracing::warn!("api_get_authorizer_list named an account that is not an appid");
            return Ok(Imported::Failed);
        };
        let appid: String = appid.into();
        let existing = self
            .store
            .authorizer_of_component(component, &appid)
            .await?;
        if existing
            .as_ref()
            .is_some_and(|a| a.status == AuthorizerStatus::Authorized)
        {
            return Ok(Imported::Unchanged);
        }
        let Some(refresh) = item
            .refresh_token
            .map(|t| t.into_inner())
            .filter(|t| !t.is_empty())
        else {
            // Its authorization code was never exchanged; only a new authorization helps.
            return Ok(Imported::Failed);
        };
        let details = match self
            .client
            .get_authorizer_info(component_token, &entry.component.appid, &appid)
            .await
        {
            Ok(d) => d,
            Err(err) => {
                return match err.class() {
                    ErrcodeClass::TokenInvalid | ErrcodeClass::Throttled => {
                        Err(JobError::Retry(err.describe(), 5_000))
                    }
                    ErrcodeClass::Other if err.errcode().is_none() => {
                        Err(JobError::Retry(err.describe(), 5_000))
                    }
                    _ => {
                        tracing::info!(authorizer = %appid, error = %err.describe(), "an account could not be imported");
                        Ok(Imported::Failed)
                    }
                };
            }
        };
        let now = crate::now_ms();
        let tenant = existing.as_ref().and_then(|a| a.tenant_id).or(owner);
        let event_at = item
            .auth_time
            .and_then(|s| s.checked_mul(1000))
            .filter(|at| *at > 0 && *at <= now)
            .unwrap_or(now);
        let func_ids: Vec<i64> = details
            .authorization
            .func_info
            .iter()
            .map(|f| f.id)
            .collect();
        let audit = NewAuditEvent::new(
            Actor::System,
            AuditKind::AuthorizerAuthorized,
            Outcome::Ok,
            format!(
                "{appid} was imported from {}'s authorizer list with permission sets {func_ids:?}{}",
                entry.component.appid,
                if tenant.is_none() { " (unassigned)" } else { "" }
            ),
            now,
        )
        .tenant(tenant)
        .component(component)
        .authorizer(&appid)
        .detail(json!({ "permissions": func_ids, "source": "import" }));
        let refresh = SecretString::from(refresh);
        let recorded = self
            .store
            .record_authorization(
                &NewAuthorization {
                    tenant,
                    component,
                    appid: &appid,
                    func_ids: &func_ids,
                    link: None,
                    source: "import",
                    access: None,
                    refresh: Some(&refresh),
                    event_at,
                },
                &audit,
                now,
            )
            .await?;
        if recorded.change == "superseded" {
            return Ok(Imported::Unchanged);
        }
        self.store_profile(component, &appid, &details, now).await?;
        if let Some(tenant) = tenant {
            self.authorization_event(
                tenant,
                &entry.component.appid,
                &appid,
                "authorized",
                &format!("import:{}:{appid}:{event_at}", component.0),
                json!({
                    "change": recorded.change,
                    "permissions": func_ids,
                    "added": recorded.added,
                    "removed": recorded.removed,
                    "source": "import",
                }),
            )
            .await?;
            self.queue_menu_fetch(tenant, component, &appid).await?;
        }
        Ok(if existing.is_some() {
            Imported::Updated
        } else {
            Imported::New
        })
    }

    /// Gives an unassigned account to `tenant` (platform staff, audited). The tenant's webhooks
    /// hear of it as an authorization, its menu is read for the tenant's history, and every
    /// instance's cache follows at its next sync.
    pub async fn assign_account(
        &self,
        actor: &Actor,
        ip: Option<std::net::IpAddr>,
        component: ComponentId,
        appid: &str,
        tenant: TenantId,
        tenant_slug: &str,
    ) -> Result<Result<AuthorizerId, AssignRefusal>, EngineError> {
        let now = crate::now_ms();
        let entry = self
            .component_by_id(component)
            .await?
            .ok_or_else(|| EngineError::UnknownComponent)?;
        let audit = NewAuditEvent::new(
            actor.clone(),
            AuditKind::AuthorizerAssigned,
            Outcome::Ok,
            format!(
                "{} assigned {appid} (on {}) to tenant {tenant_slug}",
                actor.label(),
                entry.component.appid
            ),
            now,
        )
        .tenant(Some(tenant))
        .component(component)
        .authorizer(appid)
        .ip(ip)
        .detail(json!({ "tenant": tenant_slug }));
        let id = match self
            .store
            .assign_authorizer(component, appid, tenant, &audit, now)
            .await?
        {
            Ok(id) => id,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let account = self.store.authorizer_of_component(component, appid).await?;
        self.authorization_event(
            tenant,
            &entry.component.appid,
            appid,
            "authorized",
            &format!("assigned:{}:{appid}:{now}", component.0),
            json!({
                "change": "assigned",
                "permissions": account.map(|a| a.func_ids).unwrap_or_default(),
                "source": "assigned",
            }),
        )
        .await?;
        self.queue_menu_fetch(tenant, component, appid).await?;
        self.cache.sync(&self.store).await?;
        Ok(Ok(id))
    }
}
