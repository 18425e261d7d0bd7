//! Refreshing credentials: the claim loop, one refresh per credential kind, and what each kind of
//! failure does (see the `engine` module docs).

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{
    backoff_ms, metrics::labels, refresh_point, unpoison, CacheKey, CachedToken, Engine,
    EngineError,
};
use crate::domain::{Actor, AuditKind, ComponentId, CredentialKind, NewAuditEvent, Outcome};
use crate::store::{ClaimedCredential, IssuedCredential, LossOutcome};
use crate::wechat::api::WechatError;
use crate::wechat::errcode::ErrcodeClass;

/// Why a refresh did not happen.
enum RefreshError {
    /// Not a failure: something it depends on is not there yet; try again after this many ms.
    NotReady(&'static str, i64),
    /// The component has no token to refresh authorizers with: every authorizer of it waits.
    NoComponentToken,
    Wechat(WechatError),
    /// WeChat refused the account's refresh token (61023 that no recovery cured) or says the
    /// account is not authorized (61003). `refused` is the fingerprint of the refresh token that
    /// was tried (`None`: none was stored), which fences the verdict.
    Lost {
        err: WechatError,
        refused: Option<String>,
    },
    Internal(EngineError),
    LeaseLost,
}

impl From<EngineError> for RefreshError {
    fn from(e: EngineError) -> Self {
        RefreshError::Internal(e)
    }
}

impl From<crate::store::StoreError> for RefreshError {
    fn from(e: crate::store::StoreError) -> Self {
        RefreshError::Internal(e.into())
    }
}

/// What a refresh produced, to store and cache.
struct Fresh {
    value: SecretString,
    lifetime_s: i64,
    refresh_token: Option<SecretString>,
    /// When the call that produced it was sent: lifetimes count from here (WeChat's clock starts
    /// before we hear the answer), and it orders refresh tokens (a later one wins).
    requested_at: i64,
}

/// How long "system busy" (-1, timeouts, 5xx) and "over quota" (45009) hold a component.
const BUSY_PAUSE_MS: i64 = 30_000;
/// How long a component without a token holds its authorizers (a fresh component token releases
/// them at once).
const NO_COMPONENT_TOKEN_PAUSE_MS: i64 = 60_000;
/// How long one scan of a component's authorizer list serves every account recovering from it.
const LIST_SCAN_TTL: Duration = Duration::from_secs(60);
const QUOTA_PAUSE_MS: i64 = 300_000;
/// A component token this close to expiry is not used to refresh authorizers.
const COMPONENT_TOKEN_MARGIN_MS: i64 = 10_000;

impl Engine {
    pub(super) async fn refresh_loop(
        self: Arc<Self>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let available = self.global.available_permits();
            if available == 0 {
                // Wait for one refresh to finish before claiming more.
                match self.global.clone().acquire_owned().await {
                    Ok(permit) => drop(permit),
                    Err(_) => return,
                }
                continue;
            }
            let now = crate::now_ms();
            let lease_until = now + self.settings.lease.as_millis() as i64;
            let limit = available.min(256) as i64;
            let owner = &self.settings.instance;
            let claimed = async {
                let mut claims = self
                    .store
                    .claim_due_credentials(
                        owner,
                        now,
                        lease_until,
                        limit.min(16),
                        Some(CredentialKind::ComponentAccessToken),
                    )
                    .await?;
                let rest = limit - claims.len() as i64;
                if rest > 0 {
                    claims.extend(
                        self.store
                            .claim_due_credentials(owner, now, lease_until, rest, None)
                            .await?,
                    );
                }
                Ok::<_, crate::store::StoreError>(claims)
            }
            .await;
            let claims = match claimed {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not claim due credentials");
                    if !self
                        .idle(&self.wake_refresh, &shutdown, Duration::from_secs(1))
                        .await
                    {
                        return;
                    }
                    continue;
                }
            };
            if claims.is_empty() {
                if !self
                    .idle(&self.wake_refresh, &shutdown, self.settings.idle_poll)
                    .await
                {
                    return;
                }
                continue;
            }
            for claim in claims {
                let Ok(global) = self.global.clone().acquire_owned().await else {
                    return;
                };
                let Ok(local) = self
                    .component_semaphore(claim.component_id)
                    .acquire_owned()
                    .await
                else {
                    return;
                };
                let me = self.clone();
                tracker.spawn(async move {
                    me.refresh_one(claim).await;
                    drop((global, local));
                });
            }
        }
    }

    #[tracing::instrument(name = "refresh", skip_all, fields(kind = claim.kind.as_str(), subject = %claim.subject, component = claim.component_id.0))]
    pub(super) async fn refresh_one(&self, claim: ClaimedCredential) {
        let result = match claim.kind {
            CredentialKind::ComponentAccessToken => self.fetch_component_token(&claim).await,
            CredentialKind::AuthorizerAccessToken => {
                self.fetch_authorizer_token(&claim, true).await
            }
            CredentialKind::JsapiTicket => self.fetch_jsapi_ticket(&claim).await,
            // Tickets and refresh tokens are never "refreshed" by us; a row like that is stopped.
            CredentialKind::ComponentVerifyTicket | CredentialKind::AuthorizerRefreshToken => {
                Err(RefreshError::NotReady("not refreshable", 24 * 3_600_000))
            }
        };
        let result = match result {
            Ok(fresh) => match self
                .store
                .fail_points()
                .check(crate::store::failpoints::FailPoint::RefreshAnswered)
            {
                Ok(()) => Ok(fresh),
                Err(e) => Err(RefreshError::Internal(e.into())),
            },
            Err(e) => Err(e),
        };
        let now = crate::now_ms();
        let outcome = match result {
            Ok(fresh) => {
                self.note_busy(claim.component_id, false);
                self.store_fresh(&claim, fresh, now).await
            }
            Err(e) => Err(e),
        };
        let outcome_label = match &outcome {
            Ok(()) => "refreshed",
            Err(RefreshError::NotReady(..)) => "postponed",
            Err(RefreshError::NoComponentToken) => "no_component_token",
            Err(RefreshError::Wechat(_)) => "failed",
            Err(RefreshError::Lost { .. }) => "authorization_lost",
            Err(RefreshError::Internal(_)) => "internal",
            Err(RefreshError::LeaseLost) => "lease_lost",
        };
        self.metrics
            .refresh_outcomes
            .get_or_create(&labels(&[("outcome", outcome_label)]))
            .inc();
        match outcome {
            Ok(()) => {
                self.metrics
                    .refreshes
                    .get_or_create(&labels(&[("kind", claim.kind.as_str())]))
                    .inc();
                self.rollups.count(
                    crate::rollups::Counted::Refresh,
                    claim.tenant_id,
                    "",
                    crate::now_ms(),
                );
                if claim.kind == CredentialKind::ComponentAccessToken {
                    // Authorizers held for want of a component token may go now, whichever
                    // instance held them (one row: component tokens are few).
                    match self
                        .store
                        .resume_component_authorizers(claim.component_id, now)
                        .await
                    {
                        Ok(false) => {}
                        Ok(true) => self.wake_refresh.notify_one(),
                        Err(e) => {
                            tracing::warn!(error = %crate::report::Chain(&e), "could not resume a component's authorizers")
                        }
                    }
                }
            }
            Err(RefreshError::NotReady(why, retry_ms)) => {
                tracing::debug!(kind = claim.kind.as_str(), subject = %claim.subject, why, "refresh postponed");
                if let Err(e) = self.store.release_credential(&claim, now + retry_ms).await {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not release a credential");
                }
            }
            Err(RefreshError::NoComponentToken) => {
                // One claim finds out for the whole component: its authorizers wait for the
                // component token instead of being claimed and released one by one.
                let until = now + NO_COMPONENT_TOKEN_PAUSE_MS;
                tracing::debug!(
                    component = claim.component_id.0,
                    "no component token; holding its authorizers"
                );
                // The hold is one write to the component's row; the claimed credential goes back
                // due, under the hold (or, when the hold could not be written, held by itself).
                let release_at = match self
                    .store
                    .pause_component_authorizers(claim.component_id, until)
                    .await
                {
                    Ok(_) => now,
                    Err(e) => {
                        tracing::warn!(error = %crate::report::Chain(&e), "could not hold a component's authorizers");
                        until
                    }
                };
                if let Err(e) = self.store.release_credential(&claim, release_at).await {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not release a credential");
                }
            }
            Err(RefreshError::Wechat(err)) => self.refresh_failed(&claim, err, now).await,
            Err(RefreshError::Lost { err, refused }) => {
                self.authorization_lost(&claim, &err, refused.as_deref(), now)
                    .await
            }
            Err(RefreshError::Internal(e)) => {
                tracing::error!(error = %crate::report::Chain(&e), kind = claim.kind.as_str(), subject = %claim.subject, "refresh failed inside wxhub");
                let next = now + backoff_ms(claim.failure_count + 1);
                if let Err(e) = self
                    .store
                    .fail_refresh(&claim, "internal error", None, next, None, now)
                    .await
                {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not record a failed refresh");
                }
            }
            Err(RefreshError::LeaseLost) => {
                tracing::info!(kind = claim.kind.as_str(), subject = %claim.subject, "lease lost before write-back; another worker owns it now");
            }
        }
    }

    async fn fetch_component_token(
        &self,
        claim: &ClaimedCredential,
    ) -> Result<Fresh, RefreshError> {
        let Some(entry) = self.component_by_id(claim.component_id).await? else {
            return Err(RefreshError::NotReady("component is gone", 3_600_000));
        };
        if !entry.component.active {
            return Err(RefreshError::NotReady("component is disabled", 600_000));
        }
        let Some((ticket, _issued_at)) = self.store.latest_ticket(claim.component_id).await? else {
            return Err(RefreshError::NotReady("no ticket yet", 30_000));
        };
        let requested_at = crate::now_ms();
        let token = self
            .client
            .component_token(
                &entry.component.appid,
                entry.secrets.appsecret.expose_secret(),
                ticket.expose_secret(),
            )
            .await
            .map_err(RefreshError::Wechat)?;
        Ok(Fresh {
            value: SecretString::from(token.component_access_token.into_inner()),
            lifetime_s: token.expires_in,
            refresh_token: None,
            requested_at,
        })
    }

    fn usable_component_token(
        &self,
        component: ComponentId,
        now: i64,
    ) -> Result<CachedToken, RefreshError> {
        self.component_token(component, now + COMPONENT_TOKEN_MARGIN_MS)
            .ok_or(RefreshError::NoComponentToken)
    }

    async fn fetch_authorizer_token(
        &self,
        claim: &ClaimedCredential,
        may_recover: bool,
    ) -> Result<Fresh, RefreshError> {
        let now = crate::now_ms();
        let Some(entry) = self.component_by_id(claim.component_id).await? else {
            return Err(RefreshError::NotReady("component is gone", 3_600_000));
        };
        let component_token = self.usable_component_token(claim.component_id, now)?;
        let stored = self
            .store
            .refresh_token(claim.component_id, &claim.subject)
            .await?;
        let Some(refresh) = stored else {
            // Nothing to refresh with: WeChat still knows the account's refresh token.
            let missing = WechatError::Api {
                code: 61023,
                errmsg: "no refresh token stored".into(),
            };
            if may_recover
                && self
                    .recover_refresh_token(claim, &entry.component.appid, &component_token, None)
                    .await?
                    == Recovery::Recovered
            {
                return Box::pin(self.fetch_authorizer_token(claim, false)).await;
            }
            return Err(RefreshError::Lost {
                err: missing,
                refused: None,
            });
        };
        let refused = crate::secrets::fingerprint(refresh.expose_secret());
        let requested_at = crate::now_ms();
        let result = self
            .client
            .authorizer_token(
                component_token.value.expose_secret(),
                &entry.component.appid,
                &claim.subject,
                refresh.expose_secret(),
            )
            .await;
        match result {
            Ok(token) => {
                let returned = token
                    .authorizer_refresh_token
                    .map(|r| SecretString::from(r.into_inner()))
                    .filter(|r| r.expose_secret() != refresh.expose_secret());
                Ok(Fresh {
                    value: SecretString::from(token.authorizer_access_token.into_inner()),
                    lifetime_s: token.expires_in,
                    refresh_token: returned,
                    requested_at,
                })
            }
            Err(err) if may_recover && err.errcode() == Some(61023) => {
                match self
                    .recover_refresh_token(
                        claim,
                        &entry.component.appid,
                        &component_token,
                        Some(&refresh),
                    )
                    .await?
                {
                    Recovery::Recovered => {
                        Box::pin(self.fetch_authorizer_token(claim, false)).await
                    }
                    // WeChat refused the refresh token it still lists as the account's current
                    // one: its own hiccup, not a lost authorization. Try again later, as for any
                    // failure; declaring it lost would make the owner authorize again for nothing.
                    Recovery::OursIsCurrent => Err(RefreshError::Wechat(err)),
                    Recovery::NotFound => Err(RefreshError::Lost {
                        err,
                        refused: Some(refused),
                    }),
                }
            }
            // The retry after a recovery used the refresh token WeChat itself just handed us as
            // current, and WeChat refused it: the same hiccup as above, not a lost authorization
            // (the million-account soak met it twice: a lost answer, the recovery, then one of the
            // 1 % of injected 61023s). The next claim asks WeChat again from the start.
            Err(err) if !may_recover && err.errcode() == Some(61023) => {
                Err(RefreshError::Wechat(err))
            }
            Err(err) if err.class() == ErrcodeClass::AuthorizationLost => Err(RefreshError::Lost {
                err,
                refused: Some(refused),
            }),
            Err(err) => Err(RefreshError::Wechat(err)),
        }
    }

    /// WeChat refused (or we lack) the account's refresh token: asks WeChat for the current one,
    /// first with `api_get_authorizer_info` for this account, then from one scan of the component's
    /// authorizer list shared by every account recovering at the same time (a mass 61023 costs one
    /// scan, not one per account). A token that differs from ours replaces it. Returns whether one
    /// was recovered. The lease is extended first: recovery takes extra calls.
    async fn recover_refresh_token(
        &self,
        claim: &ClaimedCredential,
        component_appid: &str,
        component_token: &CachedToken,
        ours: Option<&SecretString>,
    ) -> Result<Recovery, RefreshError> {
        let lease_ms = self.settings.lease.as_millis() as i64;
        if !self
            .store
            .extend_lease(claim, crate::now_ms() + lease_ms)
            .await?
        {
            return Err(RefreshError::LeaseLost);
        }
        let differs =
            |theirs: &str| !theirs.is_empty() && ours.is_none_or(|o| o.expose_secret() != theirs);
        let requested_at = crate::now_ms();
        let mut found: Option<(String, &'static str)> = match self
            .client
            .get_authorizer_info(
                component_token.value.expose_secret(),
                component_appid,
                &claim.subject,
            )
            .await
        {
            Ok(details) => {
                let theirs = details.authorization.refresh_token.map(|t| t.into_inner());
                if ours.is_some() && theirs.as_deref().is_some_and(|t| !differs(t)) {
                    return Ok(Recovery::OursIsCurrent);
                }
                theirs
                    .filter(|t| differs(t))
                    .map(|t| (t, "api_get_authorizer_info"))
            }
            // 61003: WeChat says the account is not authorized; no list will say otherwise.
            Err(err) if err.class() == ErrcodeClass::AuthorizationLost => {
                return Ok(Recovery::NotFound)
            }
            Err(err) => {
                tracing::info!(subject = %claim.subject, error = %err, "api_get_authorizer_info failed during recovery; scanning the list");
                None
            }
        };
        if found.is_none() {
            let scan = self
                .authorizer_list_scan(claim.component_id, component_appid, component_token)
                .await
                .map_err(RefreshError::Wechat)?;
            let listed = scan.get(&claim.subject);
            if ours.is_some() && listed.is_some_and(|t| !differs(t)) {
                return Ok(Recovery::OursIsCurrent);
            }
            found = listed
                .filter(|t| differs(t))
                .map(|t| (t.clone(), "api_get_authorizer_list"));
        }
        let Some((theirs, source)) = found else {
            return Ok(Recovery::NotFound);
        };
        let now = crate::now_ms();
        let audit = NewAuditEvent::new(
            Actor::System,
            AuditKind::RefreshTokenRecovered,
            Outcome::Ok,
            format!(
                "recovered the refresh token of {} from {source}{}",
                claim.subject,
                if ours.is_some() {
                    " after 61023"
                } else {
                    " (none was stored)"
                }
            ),
            now,
        )
        .tenant(claim.tenant_id)
        .component(claim.component_id)
        .authorizer(&claim.subject)
        .detail(serde_json::json!({ "source": source }));
        self.store
            .save_refresh_token(
                claim.component_id,
                claim.authorizer_id,
                claim.tenant_id,
                &claim.subject,
                &SecretString::from(theirs),
                requested_at,
                Some(&audit),
            )
            .await?;
        Ok(Recovery::Recovered)
    }

    /// Drops the scans past their [`LIST_SCAN_TTL`] (they are never read again, and a million
    /// accounts' worth is 150 MB an instance: the soak saw it grow as component after component
    /// recovered). A scan in use is left to its user.
    pub(super) fn forget_stale_list_scans(&self) {
        unpoison(self.list_scans.lock()).retain(|_, slot| {
            let in_use = Arc::strong_count(slot) > 1;
            match slot.try_lock() {
                Ok(mut held) => {
                    if held
                        .as_ref()
                        .is_some_and(|(at, _)| at.elapsed() >= LIST_SCAN_TTL)
                    {
                        *held = None;
                    }
                    // An empty slot someone is about to fill stays, so they share it.
                    held.is_some() || in_use
                }
                Err(_) => true,
            }
        });
    }

    /// Every authorizer of a component and its refresh token, from `api_get_authorizer_list`,
    /// scanned at most once per [`LIST_SCAN_TTL`] per component however many accounts ask at once.
    async fn authorizer_list_scan(
        &self,
        component: ComponentId,
        component_appid: &str,
        component_token: &CachedToken,
    ) -> Result<Arc<std::collections::HashMap<String, String>>, WechatError> {
        self.forget_stale_list_scans();
        let slot = unpoison(self.list_scans.lock())
            .entry(component)
            .or_default()
            .clone();
        let mut held = slot.lock().await;
        if let Some((at, scan)) = held.as_ref() {
            if at.elapsed() < LIST_SCAN_TTL {
                return Ok(scan.clone());
            }
        }
        let mut scan = std::collections::HashMap::new();
        let mut offset = 0u32;
        loop {
            let page = self
                .client
                .get_authorizer_list(
                    component_token.value.expose_secret(),
                    component_appid,
                    offset,
                    500,
                )
                .await?;
            let fetched = page.list.len() as u32;
            for item in page.list {
                if let Some(token) = item.refresh_token {
                    scan.insert(item.authorizer_appid, token.into_inner());
                }
            }
            offset += fetched;
            if fetched == 0 || i64::from(offset) >= page.total_count {
                break;
            }
        }
        let scan = Arc::new(scan);
        *held = Some((tokio::time::Instant::now(), scan.clone()));
        Ok(scan)
    }

    async fn fetch_jsapi_ticket(&self, claim: &ClaimedCredential) -> Result<Fresh, RefreshError> {
        let now = crate::now_ms();
        let Some(token) = self
            .authorizer_token(
                claim.component_id,
                &claim.subject,
                now + COMPONENT_TOKEN_MARGIN_MS,
            )
            .await
            .map_err(|e| RefreshError::Internal(e.into()))?
        else {
            return Err(RefreshError::NotReady("no authorizer token yet", 2_000));
        };
        let requested_at = crate::now_ms();
        let ticket = self
            .client
            .get_jsapi_ticket(token.value.expose_secret())
            .await
            .map_err(RefreshError::Wechat)?;
        Ok(Fresh {
            value: SecretString::from(ticket.ticket.into_inner()),
            lifetime_s: ticket.expires_in,
            refresh_token: None,
            requested_at,
        })
    }

    async fn store_fresh(
        &self,
        claim: &ClaimedCredential,
        fresh: Fresh,
        now: i64,
    ) -> Result<(), RefreshError> {
        // Counting the lifetime from the request keeps our expiry earlier than WeChat's, never
        // later (a slow answer would otherwise make us serve a token WeChat already refuses).
        let requested_at = fresh.requested_at;
        let expires_at = requested_at + fresh.lifetime_s.max(1) * 1000;
        let refresh_at = refresh_point(requested_at, fresh.lifetime_s).max(now);
        let audit = NewAuditEvent::new(
            Actor::System,
            AuditKind::TokenRefreshed,
            Outcome::Ok,
            format!(
                "{} refreshed{}",
                claim.kind.as_str(),
                subject_suffix(&claim.subject)
            ),
            now,
        )
        .tenant(claim.tenant_id)
        .component(claim.component_id)
        .detail(serde_json::json!({
            "kind": claim.kind.as_str(),
            "expires_at": expires_at,
            "refresh_at": refresh_at,
            "refresh_token_changed": fresh.refresh_token.is_some(),
            "instance": self.settings.instance,
        }));
        let audit = if claim.subject.is_empty() {
            audit
        } else {
            audit.authorizer(&claim.subject)
        };
        let written = self
            .store
            .complete_refresh(
                claim,
                IssuedCredential {
                    value: &fresh.value,
                    issued_at: requested_at,
                    expires_at,
                    refresh_at,
                },
                fresh.refresh_token.as_ref(),
                &audit,
                now,
            )
            .await;
        let version = match written {
            Ok(Some(version)) => version,
            Ok(None) => return Err(RefreshError::LeaseLost),
            Err(e) => {
                if let Some(refresh) = &fresh.refresh_token {
                    self.keep_refresh_token(claim, refresh, requested_at).await;
                }
                return Err(e.into());
            }
        };
        self.cache.put(
            CacheKey {
                component: claim.component_id,
                kind: claim.kind,
                subject: claim.subject.clone(),
            },
            CachedToken {
                value: fresh.value,
                expires_at,
                refresh_at: Some(refresh_at),
                tenant: claim.tenant_id,
                version,
            },
        );
        Ok(())
    }

    async fn refresh_failed(&self, claim: &ClaimedCredential, err: WechatError, now: i64) {
        let label = err.label();
        self.rollups.count(
            crate::rollups::Counted::RefreshFailure,
            claim.tenant_id,
            &label,
            now,
        );
        self.metrics
            .failures
            .get_or_create(&labels(&[
                ("kind", claim.kind.as_str()),
                ("errcode", &label),
            ]))
            .inc();
        let class = err.class();
        let mut next = now + backoff_ms(claim.failure_count + 1);
        let quota = err.errcode() == Some(45009);
        let busy =
            class == ErrcodeClass::Throttled && (quota || self.note_busy(claim.component_id, true));
        match class {
            // A used-up quota stops the component at once; "system busy" only when it is most of
            // what the component hears (a lone -1 backs off this credential alone: pausing a
            // component of 20,000 accounts for one hiccup would stall them all, and rewrite
            // every one of their rows).
            ErrcodeClass::Throttled if busy => {
                let pause = if quota { QUOTA_PAUSE_MS } else { BUSY_PAUSE_MS };
                // Never wait out a pause past the token's expiry: as expiry nears, try more often
                // (a third of the time left, at least a second); once it has expired, back off.
                let pause = match claim.expires_at.map(|e| e - now) {
                    Some(left) if left > 0 => pause.min((left / 3).max(1_000)),
                    Some(_) => pause.min(backoff_ms(claim.failure_count + 1).max(1_000)),
                    None => pause,
                };
                next = now + pause;
                if let Err(e) = self
                    .store
                    .pause_component_refreshes(claim.component_id, next)
                    .await
                {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not pause a component's refreshes");
                }
            }
            ErrcodeClass::TokenInvalid if claim.kind != CredentialKind::ComponentAccessToken => {
                // The component token we used was refused: refresh it (once: only if it is still
                // the one we used), and come back shortly.
                let used = if claim.kind == CredentialKind::JsapiTicket {
                    self.authorizer_token(claim.component_id, &claim.subject, 0)
                        .await
                        .ok()
                        .flatten()
                        .map(|t| {
                            (
                                CredentialKind::AuthorizerAccessToken,
                                claim.subject.as_str(),
                                t,
                            )
                        })
                } else {
                    self.cache
                        .get(
                            claim.component_id,
                            CredentialKind::ComponentAccessToken,
                            "",
                            0,
                        )
                        .map(|t| (CredentialKind::ComponentAccessToken, "", t))
                };
                if let Some((kind, subject, token)) = used {
                    match self
                        .store
                        .refresh_now_if_current(
                            claim.component_id,
                            kind,
                            subject,
                            &token.fingerprint(),
                            now,
                            None,
                        )
                        .await
                    {
                        Ok(true) => self.wake_refresh.notify_one(),
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(error = %crate::report::Chain(&e), "could not force a refresh")
                        }
                    }
                }
                next = now + 2_000;
            }
            ErrcodeClass::TicketProblem => {
                // A new ticket makes the token due again at once (`store_ticket`).
                next = now + 60_000;
            }
            _ => {}
        }
        let audit = NewAuditEvent::new(
            Actor::System,
            AuditKind::TokenRefreshFailed,
            Outcome::Failed,
            format!(
                "{} refresh failed{}: {}",
                claim.kind.as_str(),
                subject_suffix(&claim.subject),
                err.describe()
            ),
            now,
        )
        .tenant(claim.tenant_id)
        .component(claim.component_id)
        .detail(serde_json::json!({
            "kind": claim.kind.as_str(),
            "error": label,
            "errcode": err.errcode(),
            "meaning_en": err.meaning().map(|m| m.en),
            "meaning_zh": err.meaning().map(|m| m.zh),
            "failures": claim.failure_count + 1,
            "next_attempt_at": next,
            "token_expires_at": claim.expires_at,
        }));
        let audit = if claim.subject.is_empty() {
            audit
        } else {
            audit.authorizer(&claim.subject)
        };
        tracing::warn!(kind = claim.kind.as_str(), subject = %claim.subject, error = %err, "refresh failed");
        if let Err(e) = self
            .store
            .fail_refresh(
                claim,
                &err.to_string(),
                err.errcode(),
                next,
                Some(&audit),
                now,
            )
            .await
        {
            tracing::warn!(error = %crate::report::Chain(&e), "could not record a failed refresh");
        }
    }

    /// The write-back of a refresh failed, and WeChat had handed us a new refresh token with it:
    /// stores that token on its own, trying for a while. Whatever happens to the access token, the
    /// refresh token must not be lost (if it is anyway, recovery asks WeChat for it later).
    async fn keep_refresh_token(
        &self,
        claim: &ClaimedCredential,
        refresh: &SecretString,
        requested_at: i64,
    ) {
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=6 {
            match self
                .store
                .save_refresh_token(
                    claim.component_id,
                    claim.authorizer_id,
                    claim.tenant_id,
                    &claim.subject,
                    refresh,
                    requested_at,
                    None,
                )
                .await
            {
                Ok(_) => return,
                Err(e) if attempt == 6 => {
                    tracing::error!(error = %crate::report::Chain(&e), subject = %claim.subject, "a new refresh token could not be stored; it will be recovered from WeChat");
                }
                Err(e) => {
                    tracing::warn!(error = %crate::report::Chain(&e), attempt, "storing a new refresh token failed; trying again");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }

    /// 61023 that no recovery cured, or 61003: the account must authorize again. Fenced by the
    /// lease and by the refresh token that was refused (see `Store::lose_authorization`).
    async fn authorization_lost(
        &self,
        claim: &ClaimedCredential,
        err: &WechatError,
        refused: Option<&str>,
        now: i64,
    ) {
        let audit = NewAuditEvent::new(
            Actor::System,
            AuditKind::AuthorizationLost,
            Outcome::Failed,
            format!(
                "{} needs to authorize again: {}",
                claim.subject,
                err.describe()
            ),
            now,
        )
        .tenant(claim.tenant_id)
        .component(claim.component_id)
        .authorizer(&claim.subject)
        .detail(serde_json::json!({ "errcode": err.errcode() }));
        match self
            .store
            .lose_authorization(claim, refused, &err.to_string(), err.errcode(), &audit, now)
            .await
        {
            Ok(LossOutcome::Marked(tenant)) => {
                let message = format!(
                    "{} must authorize again ({})",
                    claim.subject,
                    err.describe()
                );
                if let Err(e) = self
                    .store
                    .raise_alert(
                        tenant,
                        Some(claim.component_id),
                        claim.authorizer_id,
                        "reauthorization_needed",
                        &message,
                        now,
                    )
                    .await
                {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not raise an alert");
                }
            }
            Ok(LossOutcome::RefreshTokenChanged) => {
                tracing::info!(subject = %claim.subject, "a new refresh token arrived meanwhile; refreshing again with it");
                self.wake_refresh.notify_one();
            }
            Ok(LossOutcome::LeaseLost) => {
                tracing::info!(subject = %claim.subject, "lease lost before an account could be marked lost; another worker owns it now");
            }
            Ok(LossOutcome::NotAuthorized) => {}
            Err(e) => {
                tracing::warn!(error = %crate::report::Chain(&e), "could not mark an authorization as lost")
            }
        }
    }

    /// Ticket health: no ticket for `ticket_stale_after` → ask WeChat to restart pushing (at most
    /// once per that period per component) and raise an alert; a fresh ticket resolves it.
    pub(super) async fn check_tickets(&self) -> Result<(), EngineError> {
        let now = crate::now_ms();
        let stale_ms = self.settings.ticket_stale_after.as_millis() as i64;
        for component in self.store.list_all_components().await? {
            if !component.active {
                continue;
            }
            let latest = self
                .store
                .latest_ticket(component.id)
                .await?
                .map(|(_, at)| at);
            if let Some(at) = latest {
                self.note_ticket(&component.appid, at);
            }
            // A component that never had a ticket counts from its creation: WeChat pushes every
            // ten minutes, so a new component is waiting, not stale.
            let fresh = latest.unwrap_or(component.created_at) > now - stale_ms;
            if fresh {
                self.store
                    .resolve_alerts(component.id, "ticket_stale", now)
                    .await?;
                continue;
            }
            {
                let mut asked = unpoison(self.start_push_requested.lock());
                if asked
                    .get(&component.id)
                    .is_some_and(|at| now - at < stale_ms)
                {
                    continue;
                }
                asked.insert(component.id, now);
            }
            let Some(entry) = self.component_by_id(component.id).await? else {
                continue;
            };
            let result = self
                .client
                .start_push_ticket(&component.appid, entry.secrets.appsecret.expose_secret())
                .await;
            let age = latest
                .map(|at| format!("{} minutes", (now - at) / 60_000))
                .unwrap_or_else(|| "ever".into());
            let message =
                format!("no component_verify_ticket for {age}; asked WeChat to restart pushing");
            let (outcome, summary) = match &result {
                Ok(msg) => (Outcome::Ok, format!("{message} ({msg})")),
                Err(e) => (Outcome::Failed, format!("{message}, which failed: {e}")),
            };
            let audit = NewAuditEvent::new(
                Actor::System,
                AuditKind::TicketPushRestartRequested,
                outcome,
                summary.clone(),
                now,
            )
            .tenant(component.owner.tenant_id())
            .component(component.id);
            self.store.append_audit(&audit).await?;
            self.store
                .raise_alert(
                    component.owner.tenant_id(),
                    Some(component.id),
                    None,
                    "ticket_stale",
                    &summary,
                    now,
                )
                .await?;
        }
        Ok(())
    }
}

fn subject_suffix(subject: &str) -> String {
    if subject.is_empty() {
        String::new()
    } else {
        format!(" for {subject}")
    }
}

/// What asking WeChat for an account's current refresh token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// Another token than ours, now stored.
    Recovered,
    /// WeChat lists the token we hold as the current one.
    OursIsCurrent,
    /// WeChat has none for the account (or no other than ours could be found).
    NotFound,
}

/// The last [`BusyWindow::SIZE`] refresh answers of one component: whether each was "busy".
#[derive(Debug, Default)]
pub(super) struct BusyWindow {
    answers: std::collections::VecDeque<bool>,
}

impl BusyWindow {
    const SIZE: usize = 20;
    /// This many busy answers among the last `SIZE` pause the component.
    const PAUSE_AT: usize = 5;

    /// Records an answer; returns whether the component should pause.
    fn record(&mut self, busy: bool) -> bool {
        self.answers.push_back(busy);
        if self.answers.len() > Self::SIZE {
            self.answers.pop_front();
        }
        let paused = self.answers.iter().filter(|b| **b).count() >= Self::PAUSE_AT;
        if paused {
            // Start counting afresh once the pause is decided.
            self.answers.clear();
        }
        paused
    }
}

impl Engine {
    /// Records whether WeChat answered a refresh of `component` "busy"; returns whether so many
    /// recent answers were that the component should pause.
    fn note_busy(&self, component: ComponentId, busy: bool) -> bool {
        let mut windows = unpoison(self.busy_answers.lock());
        if !busy && !windows.contains_key(&component) {
            return false;
        }
        windows.entry(component).or_default().record(busy)
    }
}

#[cfg(test)]
mod busy_tests {
    use super::BusyWindow;

    #[test]
    fn a_lone_busy_answer_does_not_pause_but_a_run_of_them_does() {
        let mut w = BusyWindow::default();
        for _ in 0..100 {
            // One in twenty is busy: WeChat's background noise.
            for i in 0..20 {
                assert!(!w.record(i == 7));
            }
        }
        // One busy answer is still among the last twenty: four more in a row make five, and the
        // component pauses; then the count starts afresh.
        let decided: Vec<bool> = (0..6).map(|_| w.record(true)).collect();
        assert_eq!(decided, [false, false, false, true, false, false]);
    }
}
