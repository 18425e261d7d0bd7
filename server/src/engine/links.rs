//! Opening an authorization link: the pre_auth_code behind a link page. A code that was minted for
//! the link, is unused and has a few minutes left is reused; otherwise one is minted with the
//! component's current token and recorded against the link (which is how the `authorized` push is
//! attributed to the link's tenant).

use crate::domain::{AuthorizationLink, LinkPublicId};
use secrecy::{ExposeSecret, SecretString};

use super::{Engine, EngineError};

/// A reused code must stay valid at least this long, so the owner has time to scan it.
const REUSE_MIN_REMAINING_MS: i64 = 3 * 60_000;

// Made once per page view and consumed at once; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum LinkOpening {
    Ready {
        link: AuthorizationLink,
        component_appid: String,
        platform_name: String,
        pre_auth_code: SecretString,
        expires_at: i64,
    },
    Unknown,
    Expired,
    Revoked,
    /// No code can be had right now (no component token yet, WeChat refused or unreachable).
    Unavailable,
}

impl Engine {
    pub async fn open_link(
        &self,
        public_id: &LinkPublicId,
        now: i64,
    ) -> Result<LinkOpening, EngineError> {
        let Some(link) = self.store.link_by_public_id(public_id.as_str()).await? else {
            return Ok(LinkOpening::Unknown);
        };
        if link.revoked_at.is_some() {
            return Ok(LinkOpening::Revoked);
        }
        if link.expires_at.is_some_and(|at| at <= now) {
            return Ok(LinkOpening::Expired);
        }
        let Some(entry) = self.component_by_id(link.component_id).await? else {
            return Ok(LinkOpening::Unavailable);
        };
        if !entry.component.active {
            return Ok(LinkOpening::Unavailable);
        }
        let component_appid = entry.component.appid.clone();
        let platform_name = if entry.component.name.is_empty() {
            component_appid.clone()
        } else {
            entry.component.name.clone()
        };
        if let Some((code, expires_at)) = self
            .store
            .reusable_pre_auth_code(link.id, now + REUSE_MIN_REMAINING_MS)
            .await?
        {
            return Ok(LinkOpening::Ready {
                link,
                component_appid,
                platform_name,
                pre_auth_code: code,
                expires_at,
            });
        }
        let Some(token) = self.component_token(link.component_id, now) else {
            tracing::warn!(component = %component_appid, "a link page was opened but the component has no token yet");
            return Ok(LinkOpening::Unavailable);
        };
        let minted = match self
            .client
            .create_preauthcode(token.value.expose_secret(), &component_appid)
            .await
        {
            Ok(minted) => minted,
            Err(e) => {
                tracing::warn!(component = %component_appid, error = %crate::report::Chain(&e), "api_create_preauthcode failed");
                return Ok(LinkOpening::Unavailable);
            }
        };
        let code = SecretString::from(minted.pre_auth_code.expose().to_owned());
        // WeChat says 600–1800 s; a nonsense lifetime is clamped rather than trusted.
        let lifetime_ms = minted.expires_in.clamp(20, 3600) * 1000;
        let expires_at = now + lifetime_ms;
        self.store
            .record_pre_auth_code(&link, &code, expires_at, now)
            .await?;
        Ok(LinkOpening::Ready {
            link,
            component_appid,
            platform_name,
            pre_auth_code: code,
            expires_at,
        })
    }
}
