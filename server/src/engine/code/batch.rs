//! Batches: one template committed (and, when asked, submitted for audit) to many of a tenant's
//! mini programs. The batch, its items and one job per item are written in one transaction; each
//! job commits, reads the quota and submits, and keeps its outcome on the item.

use serde_json::{json, Value};

use super::{
    check_account, describe, invalid, label, CodeActor, CodeError, CommitRequest, MAX_BATCH,
};
use crate::domain::{Actor, AuditKind, NewAuditEvent, Outcome, TenantId};
use crate::engine::jobs::JobError;
use crate::engine::Engine;
use crate::store::{ClaimedJob, NewCodeBatch, CODE_BATCH_ITEM};

/// The job kind of a batch item (for the job dispatcher).
pub const BATCH_ITEM: &str = CODE_BATCH_ITEM;

impl Engine {
    /// Starts a batch over `appids` (each checked to be the tenant's mini program of
    /// `component`): one job per app, in the given order.
    pub async fn code_start_batch(
        &self,
        tenant: TenantId,
        component: crate::domain::ComponentId,
        who: &CodeActor,
        commit: &CommitRequest,
        submit: bool,
        appids: &[String],
    ) -> Result<i64, CodeError> {
        commit.check()?;
        if appids.is_empty() || appids.len() > MAX_BATCH {
            return Err(invalid(
                "appids",
                format!("choose 1 to {MAX_BATCH} mini programs"),
                format!("请选择 1 到 {MAX_BATCH} 个小程序"),
            ));
        }
        let mut unique: Vec<String> = Vec::new();
        for appid in appids {
            let account = self
                .store
                .authorizer(tenant, appid)
                .await?
                .filter(|a| a.component_id == component)
                .ok_or_else(|| {
                    invalid(
                        "appids",
                        format!("{appid} is not a mini program of this component"),
                        format!("{appid} 不是该第三方平台的小程序"),
                    )
                })?;
            check_account(&account)
                .map_err(|e| invalid("appids", format!("{appid}: {e}"), format!("{appid}：{e}")))?;
            if !unique.contains(appid) {
                unique.push(appid.clone());
            }
        }
        let actor = label(&who.actor);
        let ext = if commit.ext_json.trim().is_empty() {
            "{}"
        } else {
            commit.ext_json.trim()
        };
        let new = NewCodeBatch {
            tenant,
            component,
            template_id: commit.template_id,
            user_version: commit.user_version.trim(),
            user_desc: &commit.user_desc,
            ext_json: ext,
            submit,
            started_by: &actor,
            appids: &unique,
        };
        let audit = NewAuditEvent::new(
            who.actor.clone(),
            AuditKind::CodeBatchStarted,
            Outcome::Ok,
            format!(
                "{actor} started a batch: template {} as version {} to {} mini program(s){}",
                commit.template_id,
                commit.user_version.trim(),
                unique.len(),
                if submit { ", submitted for audit" } else { "" }
            ),
            crate::now_ms(),
        )
        .tenant(Some(tenant))
        .component(component)
        .ip(who.ip)
        .detail(
            json!({ "template_id": commit.template_id, "count": unique.len(), "submit": submit }),
        );
        let id = self
            .store
            .create_code_batch(&new, &audit, crate::now_ms())
            .await?;
        self.wake_jobs.notify_one();
        Ok(id)
    }

    /// One item of a batch: commit, then (when asked and the quota has room) submit. The item's
    /// row says what happened; a WeChat refusal is the item's outcome, not the job's failure.
    pub(in crate::engine) async fn code_batch_item(
        &self,
        job: &ClaimedJob,
    ) -> Result<(), JobError> {
        let tenant = job
            .tenant_id
            .ok_or_else(|| JobError::Fatal("a batch item without a tenant".into()))?;
        let batch_id = job
            .payload
            .get("batch_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| JobError::Fatal("no batch_id".into()))?;
        let appid = job
            .payload
            .get("authorizer_appid")
            .and_then(Value::as_str)
            .ok_or_else(|| JobError::Fatal("no authorizer_appid".into()))?;
        let batch = self
            .store
            .code_batch(tenant, batch_id)
            .await?
            .ok_or_else(|| JobError::Fatal(format!("batch {batch_id} is gone")))?;
        let items = self.store.code_batch_items(tenant, batch_id).await?;
        let Some(item) = items.iter().find(|i| i.authorizer_appid == appid) else {
            return Err(JobError::Fatal("the item is gone".into()));
        };
        let done = |status: &str| matches!(status, "submitted" | "failed" | "skipped");
        if done(item.status.as_str()) || (item.status == "committed" && batch.submit == 0) {
            return Ok(());
        }
        let now = crate::now_ms;
        let set = |status: &'static str, auditid: Option<i64>, error: Option<String>| {
            let error = error.map(|e| e.chars().take(300).collect::<String>());
            async move {
                self.store
                    .set_code_batch_item(
                        tenant,
                        batch_id,
                        appid,
                        status,
                        auditid,
                        error.as_deref(),
                        now(),
                    )
                    .await
            }
        };
        let account = match self.store.authorizer(tenant, appid).await? {
            Some(a) => a,
            None => {
                set(
                    "failed",
                    None,
                    Some("the mini program is no longer the tenant's".into()),
                )
                .await?;
                return Ok(());
            }
        };
        let who = CodeActor {
            actor: Actor::System,
            ip: None,
        };
        let retryable = |e: &CodeError| match e {
            CodeError::NoToken | CodeError::NoComponentToken | CodeError::Store(_) => true,
            CodeError::Wechat(w) => {
                w.errcode().is_none() || matches!(w.errcode(), Some(-1 | 45009))
            }
            _ => false,
        };
        if item.status == "pending" {
            let commit = CommitRequest {
                template_id: batch.template_id,
                ext_json: batch.ext_json.clone(),
                user_version: batch.user_version.clone(),
                user_desc: batch.user_desc.clone(),
            };
            match self.code_commit(&account, &who, &commit).await {
                Ok(()) => set("committed", None, None).await?,
                Err(e) if retryable(&e) => return Err(JobError::Retry(e.to_string(), 10_000)),
                Err(e) => {
                    set("failed", None, Some(describe(&e))).await?;
                    return Ok(());
                }
            }
            if batch.submit == 0 {
                return Ok(());
            }
        }
        // The quota is the component's: read it right before, so the last ones are skipped
        // rather than refused one by one.
        match self.code_quota(&account).await {
            Ok(q) if q.rest <= 0 => {
                set(
                    "skipped",
                    None,
                    Some(format!("the audit quota is used up ({} a month)", q.limit)),
                )
                .await?;
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if retryable(&e) => return Err(JobError::Retry(e.to_string(), 10_000)),
            Err(e) => {
                set("failed", None, Some(describe(&e))).await?;
                return Ok(());
            }
        }
        match self.code_submit(&account, &who, &Value::Null).await {
            Ok(auditid) => set("submitted", Some(auditid), None).await?,
            Err(CodeError::Wechat(w)) if w.errcode() == Some(85085) => {
                set("skipped", None, Some("the audit quota is used up".into())).await?
            }
            Err(e) if retryable(&e) => return Err(JobError::Retry(e.to_string(), 10_000)),
            Err(e) => set("failed", None, Some(describe(&e))).await?,
        }
        Ok(())
    }
}
