//! Authorization links as the console and the public page see them: listing with how many accounts
//! each produced, revoking, the pre_auth_code a page can reuse, and what landed through a link.
//!
//! Pre-auth codes are reused while they have time left and were not used, so a page rendered many
//! times (a refresh, a crawler) does not spend WeChat quota on a new code each time.

use secrecy::SecretString;

use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{AuthorizationLink, Authorizer, ComponentId, LinkId, NewAuditEvent, TenantId};

/// A link with what it has produced so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    pub link: AuthorizationLink,
    pub component_appid: String,
    pub component_name: String,
    pub component_shared: bool,
    pub authorizations: i64,
    pub last_authorized_at: Option<i64>,
}

type LinkRow = (
    i64,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    String,
    Option<i64>,
    i64,
    Option<i64>,
);

const LINK_SELECT: &str = "SELECT l.id, l.public_id, l.tenant_id, l.component_id, l.auth_type, l.biz_appid, l.note, l.created_at, \
     l.expires_at, l.revoked_at, c.appid, c.name, c.owner_tenant_id, \
     (SELECT COUNT(*) FROM authorizers a WHERE a.link_id = l.id), \
     (SELECT MAX(a.authorized_at) FROM authorizers a WHERE a.link_id = l.id) \
     FROM authorization_links l JOIN components c ON c.id = l.component_id";

fn link_record(r: LinkRow) -> LinkRecord {
    LinkRecord {
        link: AuthorizationLink {
            id: LinkId(r.0),
            public_id: r.1,
            tenant_id: TenantId(r.2),
            component_id: ComponentId(r.3),
            auth_type: u8::try_from(r.4).unwrap_or(3),
            biz_appid: r.5,
            note: r.6,
            created_at: r.7,
            expires_at: r.8,
            revoked_at: r.9,
        },
        component_appid: r.10,
        component_name: r.11,
        component_shared: r.12.is_none(),
        authorizations: r.13,
        last_authorized_at: r.14,
    }
}

impl Store {
    /// The tenant's links, newest first.
    pub async fn list_links(
        &self,
        tenant: TenantId,
        limit: i64,
    ) -> Result<Vec<LinkRecord>, StoreError> {
        let sql = format!(
            "{LINK_SELECT} WHERE l.tenant_id = $1 ORDER BY l.created_at DESC, l.id DESC LIMIT $2"
        );
        let rows: Vec<LinkRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(link_record).collect())
    }

    /// One of the tenant's links.
    pub async fn link(
        &self,
        tenant: TenantId,
        id: LinkId,
    ) -> Result<Option<LinkRecord>, StoreError> {
        let sql = format!("{LINK_SELECT} WHERE l.tenant_id = $1 AND l.id = $2");
        let row: Option<LinkRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(link_record))
    }

    /// A link by its public id (the public pages; no tenant is known there).
    pub async fn link_by_public_id(
        &self,
        public_id: &str,
    ) -> Result<Option<AuthorizationLink>, StoreError> {
        // Ids come from URLs: anything that cannot be one (NUL bytes, which PostgreSQL refuses in
        // text, slashes, overlong strings) is simply not found.
        let plausible = (1..=64).contains(&public_id.len())
            && public_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plausible {
            return Ok(None);
        }
        let sql = format!("{LINK_SELECT} WHERE l.public_id = $1");
        let row: Option<LinkRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(public_id)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(|r| link_record(r).link))
    }

    /// Revokes one of the tenant's links; `false` when it is not the tenant's or was already
    /// revoked (nothing changes then, and nothing is audited).
    pub async fn revoke_link(
        &self,
        tenant: TenantId,
        id: LinkId,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        let changed = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE authorization_links SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                bind_audit!(sqlx::query(super::audit::INSERT), audit)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<bool, sqlx::Error>(n == 1)
        })?;
        Ok(changed)
    }

    /// The newest unused pre_auth_code of a link that is still valid at `valid_until`. A code
    /// issued before the link's latest authorization counts as used even when only the redirect
    /// (which does not name the code) has been seen so far.
    pub async fn reusable_pre_auth_code(
        &self,
        link: LinkId,
        valid_until: i64,
    ) -> Result<Option<(SecretString, i64)>, StoreError> {
        let row: Option<(String, i64)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT code_sealed, expires_at FROM pre_auth_codes \
                 WHERE link_id = $1 AND used_at IS NULL AND expires_at > $2 \
                 AND issued_at > COALESCE((SELECT MAX(authorized_at) FROM authorizers WHERE link_id = $1), 0) \
                 ORDER BY expires_at DESC LIMIT 1",
            )
            .bind(link.0)
            .bind(valid_until)
            .fetch_optional(pool)
            .await
        })?;
        let Some((sealed, expires_at)) = row else {
            return Ok(None);
        };
        let code = self
            .keyring()?
            .open_str(&format!("pre_auth_code:{}", link.0), &sealed)
            .map_err(|_| StoreError::Corrupt("a sealed pre_auth_code".into()))?;
        Ok(Some((code, expires_at)))
    }

    /// Marks the pre_auth_code with this fingerprint used (an authorization named it), so no page
    /// offers it again.
    pub async fn mark_pre_auth_code_used(
        &self,
        component: ComponentId,
        code_fingerprint: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        write!(self, |pool| {
            sqlx::query(
            "UPDATE pre_auth_codes SET used_at = $1 WHERE component_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(component.0)
        .bind(code_fingerprint)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The account most recently authorized (or re-authorized) through a link at or after `since`:
    /// what the open link page announces.
    pub async fn latest_authorization_through_link(
        &self,
        link: LinkId,
        since: i64,
    ) -> Result<Option<Authorizer>, StoreError> {
        let found: Option<(i64, String)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT component_id, appid FROM authorizers WHERE link_id = $1 AND authorized_at >= $2 AND status = 'authorized' \
                 ORDER BY authorized_at DESC, id DESC LIMIT 1",
            )
            .bind(link.0)
            .bind(since)
            .fetch_optional(pool)
            .await
        })?;
        match found {
            Some((component, appid)) => {
                self.authorizer_of_component(ComponentId(component), &appid)
                    .await
            }
            None => Ok(None),
        }
    }
}
