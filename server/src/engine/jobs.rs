//! The job worker: exchanging authorization codes (from a push or a redirect, whichever queued it
//! first), then fetching the account's profile and menu.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{backoff_ms, refresh_point, ComponentEntry, Engine, EngineError};
use crate::domain::{Actor, AuditKind, LinkId, NewAuditEvent, Outcome, TenantId};
use crate::secrets::fingerprint;
use crate::store::failpoints::FailPoint;
use crate::store::{
    AuthorizerProfileUpdate, ClaimedJob, IssuedCredential, JobOutcome, NewAuthorization, NewJob,
};

/// WeChat's answer about an authorization, as kept (sealed) on the job row.
// No Debug: it holds tokens.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct ExchangeAnswer {
    authorizer_appid: String,
    access_token: Option<String>,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
    func_ids: Vec<i64>,
    /// When the request that produced it was sent (ms): lifetimes count from here.
    requested_at: i64,
    /// From `api_get_authorizer_info` after the code was found spent, not from the exchange.
    recovered: bool,
}

impl ExchangeAnswer {
    fn from_info(info: crate::wechat::api::AuthorizationInfo, requested_at: i64) -> Self {
        Self {
            authorizer_appid: info.authorizer_appid,
            access_token: info.access_token.map(|t| t.into_inner()),
            expires_in: info.expires_in,
            refresh_token: info.refresh_token.map(|t| t.into_inner()),
            func_ids: info.func_info.iter().map(|f| f.id).collect(),
            requested_at,
            recovered: false,
        }
    }
}
use crate::wechat::api::WechatError;
use crate::wechat::errcode::ErrcodeClass;

pub const EXCHANGE_CODE: &str = "exchange_code";
pub const FETCH_INFO: &str = "fetch_info";
pub const FETCH_MENU: &str = "fetch_menu";
/// The alert staff see for an account kept unassigned; assigning the account resolves it.
pub const UNASSIGNED_ALERT: &str = "unassigned_authorization";
/// The full-network release test's customer-service step (PROTOCOL.md §12.2, step 3).
pub const RELEASE_TEST_REPLY: &str = "release_test_reply";

const JOB_CONCURRENCY: usize = 8;

pub(super) enum JobError {
    /// Try again after this many ms (or give up after the last attempt).
    Retry(String, i64),
    /// Will not work however often it is tried.
    Fatal(String),
}

impl From<EngineError> for JobError {
    fn from(e: EngineError) -> Self {
        JobError::Retry(format!("internal: {}", crate::report::Chain(&e)), 5_000)
    }
}

impl From<crate::store::StoreError> for JobError {
    fn from(e: crate::store::StoreError) -> Self {
        JobError::Retry(format!("storage: {}", crate::report::Chain(&e)), 5_000)
    }
}

/// The de-duplication key of an authorization code's exchange: the push and the redirect for the
/// same code produce the same key, so only one exchange is ever queued.
pub fn exchange_key(component: crate::domain::ComponentId, code: &str) -> String {
    format!("exchange:{}:{}", component.0, fingerprint(code))
}

impl Engine {
    pub(super) async fn job_loop(
        self: Arc<Self>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) {
        let slots = Arc::new(Semaphore::new(JOB_CONCURRENCY));
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let available = slots.available_permits().max(1);
            let now = crate::now_ms();
            let lease_until = now + self.settings.lease.as_millis() as i64;
            let jobs = match self
                .store
                .claim_due_jobs(&self.settings.instance, now, lease_until, available as i64)
                .await
            {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not claim jobs");
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                if !self
                    .idle(&self.wake_jobs, &shutdown, self.settings.idle_poll)
                    .await
                {
                    return;
                }
                continue;
            }
            for job in jobs {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let me = self.clone();
                tracker.spawn(async move {
                    me.run_job(job).await;
                    drop(permit);
                });
            }
        }
    }

    #[tracing::instrument(name = "job", skip_all, fields(job = job.id.0, kind = %job.kind, attempt = job.attempts))]
    async fn run_job(&self, job: ClaimedJob) {
        let result = match job.kind.as_str() {
            EXCHANGE_CODE => self.exchange_code(&job).await,
            FETCH_INFO => self.fetch_info(&job).await,
            FETCH_MENU => self.fetch_menu(&job).await,
            RELEASE_TEST_REPLY => self.release_test_reply(&job).await,
            super::imports::IMPORT_PAGE => self.import_page(&job).await,
            super::code::BATCH_ITEM => self.code_batch_item(&job).await,
            other => Err(JobError::Fatal(format!("unknown job kind {other}"))),
        };
        let now = crate::now_ms();
        let finished = match &result {
            Ok(()) => self.store.finish_job(&job, JobOutcome::Done, now).await,
            Err(JobError::Fatal(e)) => {
                tracing::warn!(kind = %job.kind, error = %e, "job failed for good");
                self.store.finish_job(&job, JobOutcome::Dead(e), now).await
            }
            Err(JobError::Retry(e, _)) if job.attempts >= job.max_attempts => {
                tracing::warn!(kind = %job.kind, error = %e, attempts = job.attempts, "job gave up");
                self.store.finish_job(&job, JobOutcome::Dead(e), now).await
            }
            Err(JobError::Retry(e, after)) => {
                tracing::info!(kind = %job.kind, error = %e, "job will be retried");
                self.store
                    .finish_job(&job, JobOutcome::Retry(e, now + after), now)
                    .await
            }
        };
        if let Err(e) = finished {
            tracing::warn!(error = %crate::report::Chain(&e), "could not record a job's outcome");
        }
        self.job_finished.notify_waiters();
    }

    /// Maps a WeChat failure to a retry decision; a refused component token is refreshed first.
    pub(super) async fn wechat_job_error(&self, job: &ClaimedJob, err: WechatError) -> JobError {
        let now = crate::now_ms();
        match err.class() {
            ErrcodeClass::TokenInvalid => {
                if let (Some(component), Some(token)) = (
                    job.component_id,
                    job.component_id.and_then(|c| self.component_token(c, 0)),
                ) {
                    let _ = self
                        .store
                        .refresh_now_if_current(
                            component,
                            crate::domain::CredentialKind::ComponentAccessToken,
                            "",
                            &token.fingerprint(),
                            now,
                            None,
                        )
                        .await;
                    self.wake_refresh.notify_one();
                }
                JobError::Retry(err.to_string(), 2_000)
            }
            ErrcodeClass::Throttled => {
                JobError::Retry(err.to_string(), backoff_ms(job.attempts).max(5_000))
            }
            ErrcodeClass::Other if err.errcode().is_none() => {
                JobError::Retry(err.to_string(), backoff_ms(job.attempts))
            }
            _ => JobError::Fatal(err.to_string()),
        }
    }

    /// Turns an authorization code into a stored account. WeChat's answer is kept on the job row
    /// before anything else can fail; a retry starts from it. A code that an earlier attempt spent
    /// without keeping the answer, or that someone else spent, is recovered from
    /// `api_get_authorizer_info` (which carries the refresh token), so the account is never lost.
    async fn exchange_code(&self, job: &ClaimedJob) -> Result<(), JobError> {
        let entry = self.job_component(job).await?;
        let component_id = entry.component.id;
        let answer = match self.store.open_job_result(job)? {
            Some(saved) => serde_json::from_str::<ExchangeAnswer>(saved.expose_secret())
                .map_err(|_| JobError::Fatal("the stored answer is unreadable".into()))?,
            None => self.obtain_answer(job, &entry).await?,
        };
        let now = crate::now_ms();
        // Whose account is it? The link the code came through, else the pre_auth_code's link, else
        // the tenant that already holds the account (the owner changed its permissions in WeChat's
        // own pages), else the component's owner. A shared component's new account with none of
        // these cannot be attributed and is held for staff.
        let payload_link = job
            .payload
            .get("link_id")
            .and_then(Value::as_i64)
            .map(LinkId);
        let mut tenant: Option<TenantId> = job.tenant_id;
        let mut link = payload_link;
        if tenant.is_none() || link.is_none() {
            if let Some(fp) = job.payload.get("pre_auth_code_fp").and_then(Value::as_str) {
                if let Some((l, t)) = self.store.link_of_pre_auth_code(component_id, fp).await? {
                    tenant = tenant.or(Some(t));
                    link = link.or(Some(l));
                }
            }
        }
        if tenant.is_none() {
            tenant = self
                .store
                .authorizer_of_component(component_id, &answer.authorizer_appid)
                .await?
                .and_then(|a| a.tenant_id);
        }
        // A shared component's account that nothing attributes (a 全网发布 test account, a
        // fast-registered mini program, an authorization made outside wxhub's links) is kept
        // unassigned, with its tokens refreshed, until platform staff assign it.
        let tenant = tenant.or(entry.component.owner.tenant_id());
        let access_value = answer.access_token.clone().map(SecretString::from);
        let refresh_value = answer.refresh_token.clone().map(SecretString::from);
        let lifetime = answer.expires_in.unwrap_or(7200);
        // A token from an answer kept across a crash may be near its end: then the engine fetches
        // a fresh one instead.
        let access = access_value
            .as_ref()
            .map(|value| IssuedCredential {
                value,
                issued_at: answer.requested_at,
                expires_at: answer.requested_at + lifetime * 1000,
                refresh_at: refresh_point(answer.requested_at, lifetime).max(now),
            })
            .filter(|a| a.expires_at - now > (lifetime * 1000 / 2).min(60_000));
        let source = job
            .payload
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("push");
        let actor = if source == "redirect" {
            Actor::Anonymous
        } else {
            Actor::Wechat
        };
        // WeChat's time for the event where the push gave it; a redirect arrives moments after the
        // owner confirmed, so the job's creation stands in for it, in whole seconds like WeChat's
        // CreateTime (events within one second apply in the order they arrive).
        let event_at = job
            .payload
            .get("event_at")
            .and_then(Value::as_i64)
            .unwrap_or(job.created_at - job.created_at.rem_euclid(1000));
        let func_ids = &answer.func_ids;
        let audit = NewAuditEvent::new(
            actor.clone(),
            AuditKind::AuthorizerAuthorized,
            Outcome::Ok,
            format!(
                "{} authorized {} with permission sets {:?}{}",
                answer.authorizer_appid,
                entry.component.appid,
                func_ids,
                if answer.recovered {
                    " (recovered from api_get_authorizer_info)"
                } else {
                    ""
                }
            ),
            now,
        )
        .tenant(tenant)
        .component(component_id)
        .authorizer(&answer.authorizer_appid)
        .detail(json!({
            "permissions": func_ids,
            "source": source,
            "link_id": link.map(|l| l.0),
            "recovered": answer.recovered,
        }));
        let recorded = self
            .store
            .record_authorization(
                &NewAuthorization {
                    tenant,
                    component: component_id,
                    appid: &answer.authorizer_appid,
                    func_ids,
                    link,
                    source,
                    access,
                    refresh: refresh_value.as_ref(),
                    event_at,
                },
                &audit,
                now,
            )
            .await?;
        if recorded.change == "superseded" {
            let audit = NewAuditEvent::new(
                actor,
                AuditKind::AuthorizationSuperseded,
                Outcome::Ok,
                format!(
                    "an authorization of {} was not applied: a later change (a revocation or a newer authorization) was applied already",
                    answer.authorizer_appid
                ),
                now,
            )
            .tenant(tenant)
            .component(component_id)
            .authorizer(&answer.authorizer_appid)
            .detail(json!({ "event_at": event_at, "source": source }));
            self.store.append_audit(&audit).await?;
            return Ok(());
        }
        tracing::info!(authorizer = %answer.authorizer_appid, change = recorded.change, "authorization recorded");
        self.rollups
            .count(crate::rollups::Counted::Authorization, tenant, "", now);
        // Before the job ends, with an id from the job's key: a retry after a crash here queues the
        // same event, which is written once.
        let info_type = job
            .payload
            .get("info_type")
            .and_then(Value::as_str)
            .filter(|t| *t == "updateauthorized")
            .unwrap_or("authorized");
        match tenant {
            Some(tenant) => {
                self.authorization_event(
                    tenant,
                    &entry.component.appid,
                    &answer.authorizer_appid,
                    info_type,
                    job.dedupe_key
                        .as_deref()
                        .unwrap_or(&answer.authorizer_appid),
                    json!({
                        "change": recorded.change,
                        "permissions": func_ids,
                        "added": recorded.added,
                        "removed": recorded.removed,
                        "source": source,
                    }),
                )
                .await?;
            }
            // No tenant's webhooks to tell: staff are told instead, once per account until it is
            // assigned (assigning resolves the alert).
            None => {
                self.store
                    .raise_alert(
                        None,
                        Some(component_id),
                        Some(recorded.id),
                        UNASSIGNED_ALERT,
                        &format!(
                            "{} authorized the shared component {} without a tenant's link; it is kept unassigned until staff assign it",
                            answer.authorizer_appid, entry.component.appid
                        ),
                        now,
                    )
                    .await?;
            }
        }
        // WeChat accepts a pre_auth_code once; the link page must not offer it again.
        if let Some(fp) = job.payload.get("pre_auth_code_fp").and_then(Value::as_str) {
            self.store
                .mark_pre_auth_code_used(component_id, fp, now)
                .await?;
        }
        self.cache.sync(&self.store).await?;
        // The profile now, so the owner's done page can name the account; a job if WeChat is slow.
        let profiled = match tokio::time::timeout(
            Duration::from_secs(3),
            self.update_profile(&entry, &answer.authorizer_appid),
        )
        .await
        {
            Ok(Ok(Ok(()))) => true,
            Ok(Ok(Err(err))) => {
                tracing::info!(error = %err, "the profile will be fetched later");
                false
            }
            Ok(Err(_)) | Err(_) => false,
        };
        let follow_ups: &[&str] = if profiled {
            &[FETCH_MENU]
        } else {
            &[FETCH_INFO, FETCH_MENU]
        };
        for &kind in follow_ups {
            let key = format!(
                "{kind}:{}:{}:{now}",
                component_id.0, answer.authorizer_appid
            );
            let follow_up = NewJob {
                kind,
                tenant,
                component: Some(component_id),
                payload: json!({ "authorizer_appid": answer.authorizer_appid }),
                secret: None,
                dedupe_key: &key,
                run_at: now,
                max_attempts: 8,
            };
            self.store.enqueue_job(&follow_up, now).await?;
        }
        self.wake_jobs.notify_one();
        Ok(())
    }

    /// WeChat's answer for a job that has none stored: the exchange itself, or a recovery when the
    /// code is spent already.
    async fn obtain_answer(
        &self,
        job: &ClaimedJob,
        entry: &ComponentEntry,
    ) -> Result<ExchangeAnswer, JobError> {
        let component_id = entry.component.id;
        let now = crate::now_ms();
        let Some(component_token) = self.component_token(component_id, now + 5_000) else {
            return Err(JobError::Retry("no component token yet".into(), 2_000));
        };
        let named = job
            .payload
            .get("authorizer_appid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if job.wechat_called_at.is_some() {
            // An earlier attempt sent the code and did not keep the answer (it died, or storage
            // failed): the code is spent. Never send it again.
            return self
                .recover_authorization(job, entry, &component_token, named)
                .await;
        }
        let code = self
            .store
            .open_job_secret(job)?
            .ok_or_else(|| JobError::Fatal("the job lost its authorization code".into()))?;
        self.store.mark_job_called_wechat(job, now).await?;
        let requested_at = crate::now_ms();
        match self
            .client
            .query_auth(
                component_token.value.expose_secret(),
                &entry.component.appid,
                code.expose_secret(),
            )
            .await
        {
            Ok(info) => {
                self.store
                    .fail_points()
                    .check(FailPoint::ExchangeAnswered)?;
                let answer = ExchangeAnswer::from_info(info, requested_at);
                self.keep_answer(job, &answer).await;
                Ok(answer)
            }
            // Spent by someone else (another system on the same component): WeChat still knows
            // the account, and the push named it.
            Err(err) if err.errcode() == Some(61009) && named.is_some() => {
                self.recover_authorization(job, entry, &component_token, named)
                    .await
            }
            Err(err) => {
                let decision = self.wechat_job_error(job, err.clone()).await;
                if let JobError::Fatal(_) = decision {
                    let audit = NewAuditEvent::new(
                        Actor::System,
                        AuditKind::ExchangeFailed,
                        Outcome::Failed,
                        format!(
                            "could not exchange an authorization code: {}",
                            err.describe()
                        ),
                        now,
                    )
                    .tenant(job.tenant_id)
                    .component(component_id)
                    .detail(
                        json!({ "errcode": err.errcode(), "source": job.payload.get("source") }),
                    );
                    let _ = self.store.append_audit(&audit).await;
                }
                Err(decision)
            }
        }
    }

    /// The authorization behind a spent code, from `api_get_authorizer_info`: the account's current
    /// refresh token and permission sets. Only the push names the account; a redirect's job waits
    /// for it (the push adds the appid to this job when it arrives).
    async fn recover_authorization(
        &self,
        job: &ClaimedJob,
        entry: &ComponentEntry,
        component_token: &super::CachedToken,
        named: Option<String>,
    ) -> Result<ExchangeAnswer, JobError> {
        let Some(appid) = named else {
            return Err(JobError::Retry(
                "the code was spent and its answer lost; waiting for WeChat's push to name the account".into(),
                15_000,
            ));
        };
        let requested_at = crate::now_ms();
        let details = match self
            .client
            .get_authorizer_info(
                component_token.value.expose_secret(),
                &entry.component.appid,
                &appid,
            )
            .await
        {
            Ok(d) => d,
            Err(err) => return Err(self.wechat_job_error(job, err).await),
        };
        let authorization = details.authorization;
        if authorization.authorizer_appid != appid {
            return Err(JobError::Fatal(format!(
                "api_get_authorizer_info answered for {} instead of {appid}",
                authorization.authorizer_appid
            )));
        }
        let Some(refresh) = authorization.refresh_token else {
            return Err(JobError::Fatal(format!(
                "WeChat holds no refresh token for {appid}; its owner must authorize again"
            )));
        };
        let answer = ExchangeAnswer {
            authorizer_appid: appid,
            access_token: None,
            expires_in: None,
            refresh_token: Some(refresh.into_inner()),
            func_ids: authorization.func_info.iter().map(|f| f.id).collect(),
            requested_at,
            recovered: true,
        };
        self.keep_answer(job, &answer).await;
        let audit = NewAuditEvent::new(
            Actor::System,
            AuditKind::AuthorizationRecovered,
            Outcome::Ok,
            format!(
                "the authorization code of {} was already spent; its refresh token was recovered from api_get_authorizer_info",
                answer.authorizer_appid
            ),
            crate::now_ms(),
        )
        .tenant(job.tenant_id)
        .component(entry.component.id)
        .authorizer(&answer.authorizer_appid);
        self.store.append_audit(&audit).await?;
        Ok(answer)
    }

    /// Stores WeChat's answer on the job row, trying a few times: it is the only copy of a refresh
    /// token until the account is recorded. If storage stays down, the answer still goes on to be
    /// recorded from memory, and a later attempt recovers it from WeChat.
    async fn keep_answer(&self, job: &ClaimedJob, answer: &ExchangeAnswer) {
        let Ok(text) = serde_json::to_string(answer) else {
            return;
        };
        let text = SecretString::from(text);
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=5 {
            match self.store.save_job_result(job, &text).await {
                Ok(()) => return,
                Err(e) if attempt == 5 => {
                    tracing::error!(error = %crate::report::Chain(&e), authorizer = %answer.authorizer_appid, "could not keep WeChat's answer to an exchange");
                }
                Err(e) => {
                    tracing::warn!(error = %crate::report::Chain(&e), attempt, "keeping WeChat's answer to an exchange failed; trying again");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }

    /// The release test's `QUERY_AUTH_CODE:<code>`: exchange the code for the test account's
    /// token and send `<code>_from_api` to the sender through the customer-service API, within
    /// the test's 5 seconds. When the `authorized` push for the same code was exchanged first
    /// (the code is then spent, 61009), the token that exchange stored is used.
    async fn release_test_reply(&self, job: &ClaimedJob) -> Result<(), JobError> {
        let entry = self.job_component(job).await?;
        let component_id = entry.component.id;
        let appid = Self::job_appid(job)?;
        let touser = job
            .payload
            .get("touser")
            .and_then(Value::as_str)
            .ok_or_else(|| JobError::Fatal("job has no touser".into()))?
            .to_owned();
        let code = self
            .store
            .open_job_secret(job)?
            .ok_or_else(|| JobError::Fatal("job has no code".into()))?;
        let now = crate::now_ms();
        let Some(component_token) = self.component_token(component_id, now + 5_000) else {
            return Err(JobError::Retry("no component token yet".into(), 500));
        };
        let access_token = match self
            .client
            .query_auth(
                component_token.value.expose_secret(),
                &entry.component.appid,
                code.expose_secret(),
            )
            .await
        {
            Ok(info) => info
                .access_token
                .map(|t| t.into_inner())
                .ok_or_else(|| JobError::Fatal("api_query_auth gave no access token".into()))?,
            Err(err) if err.errcode() == Some(61009) => {
                match self
                    .authorizer_token(component_id, &appid, now + 5_000)
                    .await
                    .map_err(|e| JobError::Retry(e.to_string(), 2_000))?
                {
                    Some(t) => t.value.expose_secret().to_owned(),
                    None => return Err(JobError::Retry(
                        "the code was spent by the push's exchange; its token is not stored yet"
                            .into(),
                        500,
                    )),
                }
            }
            Err(err) => return Err(self.wechat_job_error(job, err).await),
        };
        let content = format!("{}_from_api", code.expose_secret());
        match self
            .client
            .send_custom_text(&access_token, &touser, &content)
            .await
        {
            Ok(()) => Ok(()),
            Err(err) => Err(self.wechat_job_error(job, err).await),
        }
    }

    /// Queues a fresh fetch of an account's menu (the console's "refresh" button).
    pub async fn queue_menu_fetch(
        &self,
        tenant: TenantId,
        component: crate::domain::ComponentId,
        appid: &str,
    ) -> Result<(), EngineError> {
        let now = crate::now_ms();
        // One pending fetch per account at a time: pressing the button twice queues one.
        let key = format!(
            "{FETCH_MENU}:{}:{appid}:manual:{}",
            component.0,
            now / 10_000
        );
        let job = NewJob {
            kind: FETCH_MENU,
            tenant: Some(tenant),
            component: Some(component),
            payload: json!({ "authorizer_appid": appid }),
            secret: None,
            dedupe_key: &key,
            run_at: now,
            max_attempts: 4,
        };
        self.store.enqueue_job(&job, now).await?;
        self.wake_jobs.notify_one();
        Ok(())
    }

    /// The component a job works for, as the engine holds it.
    pub(super) async fn job_component(
        &self,
        job: &ClaimedJob,
    ) -> Result<Arc<ComponentEntry>, JobError> {
        let component_id = job
            .component_id
            .ok_or_else(|| JobError::Fatal("job has no component".into()))?;
        self.component_by_id(component_id)
            .await?
            .ok_or_else(|| JobError::Fatal("the component is gone".into()))
    }

    fn job_appid(job: &ClaimedJob) -> Result<String, JobError> {
        job.payload
            .get("authorizer_appid")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| JobError::Fatal("job has no authorizer_appid".into()))
    }

    async fn fetch_info(&self, job: &ClaimedJob) -> Result<(), JobError> {
        let entry = self.job_component(job).await?;
        let appid = Self::job_appid(job)?;
        match self.update_profile(&entry, &appid).await? {
            Ok(()) => Ok(()),
            Err(err) => Err(self.wechat_job_error(job, err).await),
        }
    }

    /// Fetches and stores the account's profile (`api_get_authorizer_info`). The outer error is
    /// ours (storage, no token yet); the inner one is WeChat's, for the caller to judge.
    /// Keeps what `api_get_authorizer_info` said about an account's profile.
    pub(super) async fn store_profile(
        &self,
        component_id: crate::domain::ComponentId,
        appid: &str,
        details: &crate::wechat::api::AuthorizerDetails,
        now: i64,
    ) -> Result<(), crate::store::StoreError> {
        let p = &details.profile;
        let info_json = p.raw.to_string();
        self.store
            .update_authorizer_profile(
                component_id,
                appid,
                &AuthorizerProfileUpdate {
                    account_kind: if p.is_mini_program {
                        "mini_program"
                    } else {
                        "official_account"
                    },
                    nick_name: &p.nick_name,
                    head_img: p.head_img.as_deref().unwrap_or(""),
                    user_name: p.user_name.as_deref().unwrap_or(""),
                    principal_name: p.principal_name.as_deref().unwrap_or(""),
                    alias: p.alias.as_deref().unwrap_or(""),
                    qrcode_url: p.qrcode_url.as_deref().unwrap_or(""),
                    service_type: p.service_type,
                    verify_type: p.verify_type,
                    account_status: p.account_status,
                    info_json: &info_json,
                },
                now,
            )
            .await
    }

    async fn update_profile(
        &self,
        entry: &ComponentEntry,
        appid: &str,
    ) -> Result<Result<(), WechatError>, JobError> {
        let component_id = entry.component.id;
        let now = crate::now_ms();
        let Some(component_token) = self.component_token(component_id, now + 5_000) else {
            return Err(JobError::Retry("no component token yet".into(), 2_000));
        };
        let details = match self
            .client
            .get_authorizer_info(
                component_token.value.expose_secret(),
                &entry.component.appid,
                appid,
            )
            .await
        {
            Ok(d) => d,
            Err(err) => return Ok(Err(err)),
        };
        self.store_profile(component_id, appid, &details, now)
            .await?;
        Ok(Ok(()))
    }

    async fn fetch_menu(&self, job: &ClaimedJob) -> Result<(), JobError> {
        let component_id = job
            .component_id
            .ok_or_else(|| JobError::Fatal("job has no component".into()))?;
        let appid = Self::job_appid(job)?;
        let now = crate::now_ms();
        let Some(token) = self
            .authorizer_token(component_id, &appid, now + 5_000)
            .await
            .map_err(|e| JobError::Retry(e.to_string(), 2_000))?
        else {
            return Err(JobError::Retry("no authorizer token yet".into(), 2_000));
        };
        let menu = match self
            .client
            .get_current_selfmenu_info(token.value.expose_secret())
            .await
        {
            Ok(menu) => {
                // Kept as a version too: the original on authorization, a new version when it
                // changed. menu/get adds the API view and the conditional menus.
                let menu_get = match self.client.menu_get(token.value.expose_secret()).await {
                    Ok(v) => v,
                    Err(WechatError::Api {
                        code: 48001 | 61007,
                        ..
                    }) => None,
                    Err(err) => return Err(self.wechat_job_error(job, err).await),
                };
                if let Some(tenant) = job.tenant_id {
                    let account = crate::ops::menu_snapshots::MenuAccount {
                        tenant,
                        component: component_id,
                        appid: appid.clone(),
                    };
                    let recorded = crate::ops::menu_snapshots::record_fetched(
                        &self.store,
                        &account,
                        &menu.raw,
                        menu_get.as_ref(),
                        "wxhub",
                        "read from WeChat",
                    )
                    .await;
                    match recorded {
                        Ok(_) => {}
                        Err(crate::ops::menu_snapshots::RecordError::Store(e)) => {
                            return Err(e.into())
                        }
                        Err(e) => {
                            tracing::warn!(error = %crate::report::Chain(&e), "a menu could not be kept as a version");
                        }
                    }
                }
                menu.raw
            }
            // No permission for menus (a mini program, or set 15 not granted): that is the answer.
            Err(
                err @ WechatError::Api {
                    code: 48001 | 61007,
                    ..
                },
            ) => json!({
                "unavailable": err.errcode(),
                "meaning_en": err.meaning().map(|m| m.en),
                "meaning_zh": err.meaning().map(|m| m.zh),
            }),
            Err(err) => return Err(self.wechat_job_error(job, err).await),
        };
        self.store
            .update_authorizer_menu(component_id, &appid, &menu.to_string(), now)
            .await?;
        Ok(())
    }

    /// Waits (bounded) until the exchange queued under `key` has finished; for the redirect page.
    /// Woken when a job finishes on this instance; a job another instance finishes is seen by a
    /// slow re-read.
    pub async fn wait_for_exchange(
        &self,
        key: &str,
        deadline: Duration,
    ) -> Option<crate::store::JobState> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let finished = self.job_finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            let state = self.store.job_state(key).await.ok().flatten();
            if let Some(s) = &state {
                if s.status == "done" || s.status == "dead" {
                    return state;
                }
            }
            if tokio::time::Instant::now() >= until {
                return state;
            }
            let _ = tokio::time::timeout_at(
                until.min(tokio::time::Instant::now() + Duration::from_millis(500)),
                finished,
            )
            .await;
        }
    }
}
