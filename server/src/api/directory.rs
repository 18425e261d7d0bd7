//! The API's state ([`TenantApi`]): the key cache, the engine that holds the tokens, and a
//! short-lived directory of accounts (tenant, appid → component, status), so that serving a token
//! costs no database read. The directory is never the last word on ownership: every token the
//! engine holds names its tenant, and a mismatch goes back to the database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

use crate::domain::{AuthorizerId, AuthorizerStatus, ComponentId, TenantId};
use crate::engine::Engine;
use crate::store::Store;

use super::error::store_error;
use super::error::ApiError;
use super::keys::{ApiCaller, ApiKeys};
use crate::unpoison;

/// How long an account's component and status are trusted without reading them again. Long
/// enough to keep reads off the database under load; a revocation does not wait for it (the
/// token leaves the engine's cache at once, and a missing token forces a fresh read).
const DIRECTORY_TTL: Duration = Duration::from_secs(30);
/// A token is served only with at least this much life left; a caller needs time to use it.
const MIN_TOKEN_LIFE_MS: i64 = 5_000;

/// An account's current access token, as `GET …/access-token` answers it.
#[derive(serde::Serialize)]
pub(super) struct AccessToken {
    pub(super) authorizer_appid: String,
    pub(super) access_token: String,
    pub(super) expires_at: String,
    pub(super) expires_in: i64,
}

#[derive(Clone, Copy)]
pub(super) struct AccountEntry {
    pub(super) component: ComponentId,
    pub(super) authorizer: AuthorizerId,
    pub(super) status: AuthorizerStatus,
    pub(super) checked_at: Instant,
}

/// The API's state: the keys, a directory of accounts, and the engine that holds the tokens.
pub struct TenantApi {
    pub(super) store: Store,
    pub(super) engine: Arc<Engine>,
    pub keys: Arc<ApiKeys>,
    pub(super) public_base: url::Url,
    pub(super) directory: Arc<RwLock<Directory>>,
    /// The gateway's recent calls, for the console.
    pub call_log: Arc<super::call_log::CallLog>,
    /// The gateway's path label values in `/metrics`, bounded.
    pub(super) path_labels: super::gateway::BoundedLabels,
}

type Directory = HashMap<(TenantId, String), AccountEntry>;

impl std::fmt::Debug for TenantApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantApi").finish_non_exhaustive()
    }
}

impl TenantApi {
    pub fn new(
        store: Store,
        engine: Arc<Engine>,
        keys: Arc<ApiKeys>,
        public_base: url::Url,
    ) -> Arc<Self> {
        let call_log = Arc::new(super::call_log::CallLog::new(
            store.clone(),
            engine.metrics.gateway_calls_unlogged.clone(),
        ));
        Arc::new(Self {
            store,
            engine,
            keys,
            public_base,
            directory: Arc::new(RwLock::new(HashMap::new())),
            call_log,
            path_labels: super::gateway::BoundedLabels::new(super::gateway::MAX_PATH_LABELS),
        })
    }

    /// The tenant's account `appid` (`fresh` forces a read). Not found covers "another
    /// tenant's".
    ///
    /// An entry checked within [`DIRECTORY_TTL`] is used as is. An older one is still answered at
    /// once while a background read replaces it (stale-while-revalidate): the busiest endpoint
    /// never waits on the database for an account it has seen. A revoked account is caught
    /// sooner anyway: its token leaves the engine's cache, and a missing token forces a read.
    pub(super) async fn account(
        &self,
        tenant: TenantId,
        appid: &str,
        fresh: bool,
    ) -> Result<AccountEntry, ApiError> {
        let key = (tenant, appid.to_owned());
        if !fresh {
            let known = unpoison(self.directory.read()).get(&key).copied();
            if let Some(entry) = known {
                if entry.checked_at.elapsed() >= DIRECTORY_TTL {
                    self.revalidate(key);
                }
                return Ok(entry);
            }
        }
        let found = self
            .store
            .authorizer(tenant, appid)
            .await
            .map_err(store_error("reading an account"))?;
        match Self::remember(&self.directory, key, found) {
            Some(entry) => Ok(entry),
            None => Err(ApiError::NotFound),
        }
    }

    /// Re-reads a stale directory entry in the background (once: the entry counts as checked
    /// from now, so requests meanwhile do not start more reads).
    pub(super) fn revalidate(&self, key: (TenantId, String)) {
        if let Some(e) = unpoison(self.directory.write()).get_mut(&key) {
            if e.checked_at.elapsed() < DIRECTORY_TTL {
                return;
            }
            e.checked_at = Instant::now();
        }
        let store = self.store.clone();
        let directory = self.directory.clone();
        tokio::spawn(async move {
            match store.authorizer(key.0, &key.1).await {
                Ok(found) => {
                    Self::remember(&directory, key, found);
                }
                Err(e) => {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not re-read an account for the API")
                }
            }
        });
    }

    /// Records what storage said about an account; `None` when it does not exist.
    pub(super) fn remember(
        directory: &RwLock<Directory>,
        key: (TenantId, String),
        found: Option<crate::domain::Authorizer>,
    ) -> Option<AccountEntry> {
        let mut directory = unpoison(directory.write());
        let Some(a) = found else {
            directory.remove(&key);
            return None;
        };
        let entry = AccountEntry {
            component: a.component_id,
            authorizer: a.id,
            status: a.status,
            checked_at: Instant::now(),
        };
        if directory.len() > 200_000 {
            directory.retain(|_, e| e.checked_at.elapsed() < DIRECTORY_TTL);
        }
        directory.insert(key, entry);
        Some(entry)
    }

    /// Refuses accounts that cannot have a token.
    pub(super) fn usable(entry: &AccountEntry) -> Result<(), ApiError> {
        match entry.status {
            AuthorizerStatus::Authorized => Ok(()),
            AuthorizerStatus::Revoked => Err(ApiError::Revoked(
                "the account revoked its authorization".into(),
            )),
            AuthorizerStatus::NeedsReauth => Err(ApiError::Revoked(
                "WeChat no longer accepts this account's refresh token; its owner must authorize again".into(),
            )),
            AuthorizerStatus::Pending => Err(ApiError::NotReady {
                message: "the authorization is still being completed".into(),
                retry_after_s: 2,
            }),
        }
    }

    /// The account, if it can have a token now. A refusal is never made from the directory alone:
    /// the account may have been revoked or authorized again since, so its status is read first.
    pub(super) async fn usable_account(
        &self,
        tenant: TenantId,
        appid: &str,
    ) -> Result<AccountEntry, ApiError> {
        let entry = self.account(tenant, appid, false).await?;
        if entry.status == AuthorizerStatus::Authorized {
            return Ok(entry);
        }
        let entry = self.account(tenant, appid, true).await?;
        Self::usable(&entry)?;
        Ok(entry)
    }

    /// Whether a token the engine holds may go to `caller`: it names the caller's tenant, or the
    /// database (read now, not the directory) says the account is the caller's.
    pub(super) async fn owned(
        &self,
        caller: &ApiCaller,
        appid: &str,
        token_tenant: Option<TenantId>,
    ) -> Result<AccountEntry, ApiError> {
        let entry = self
            .account(caller.tenant, appid, token_tenant != Some(caller.tenant))
            .await?;
        Ok(entry)
    }

    pub(super) async fn access_token(
        &self,
        caller: &ApiCaller,
        appid: &str,
    ) -> Result<AccessToken, ApiError> {
        Ok(self.served_token(caller, appid).await?.0)
    }

    /// The account's token for `caller`, with the directory entry it was checked against (the
    /// gateway needs its component to report a refused token).
    pub(super) async fn served_token(
        &self,
        caller: &ApiCaller,
        appid: &str,
    ) -> Result<(AccessToken, AccountEntry), ApiError> {
        let now = crate::now_ms();
        let mut entry = self.usable_account(caller.tenant, appid).await?;
        for attempt in 0..2 {
            if let Some(token) = self
                .engine
                .authorizer_token(entry.component, appid, now + MIN_TOKEN_LIFE_MS)
                .await
                .map_err(store_error("reading an access token"))?
            {
                if token.tenant != Some(caller.tenant) {
                    // Moved to another tenant (or the cache has not heard yet that it moved here).
                    let checked = self.owned(caller, appid, token.tenant).await?;
                    Self::usable(&checked)?;
                    if checked.component != entry.component {
                        entry = checked;
                        continue;
                    }
                }
                let served = AccessToken {
                    authorizer_appid: appid.to_owned(),
                    access_token: token.value.expose_secret().to_owned(),
                    expires_at: crate::rfc3339(token.expires_at),
                    expires_in: (token.expires_at - now) / 1000,
                };
                return Ok((served, entry));
            }
            // No token in memory: the account may have just been revoked; read its status once.
            if attempt == 0 {
                entry = self.account(caller.tenant, appid, true).await?;
                Self::usable(&entry)?;
            }
        }
        Err(ApiError::NotReady {
            message: "no valid access token yet; the engine is refreshing it".into(),
            retry_after_s: 2,
        })
    }
}
