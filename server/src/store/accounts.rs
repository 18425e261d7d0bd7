//! The console's view of a tenant's accounts: a filtered, paginated list with each account's token
//! health, counts by status, and the dashboard's aggregates.
//!
//! The list is one query with an optional condition per filter, built here with numbered
//! placeholders so the same text runs on both databases; the token health comes from a join on the
//! account's access-token credential (by its unique key, so each row is an index lookup) rather
//! than one query per row, and `authorizers (tenant_id, authorized_at)` lets a page be read in
//! order without sorting the whole tenant.

use super::{read, Store, StoreError};
use crate::domain::{Authorizer, TenantId};

/// What the accounts page filters by. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFilter {
    /// Matched against name, appid, original id, alias and principal, ignoring case.
    pub search: String,
    pub status: Option<String>,
    /// `service`, `subscription` or `mini_program`.
    pub kind: Option<String>,
    pub permission: Option<i64>,
}

/// The access token's state beside an account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenState {
    pub expires_at: Option<i64>,
    pub refreshed_at: Option<i64>,
    pub failure_count: i64,
    pub last_error_code: Option<i64>,
    pub last_error_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct AccountListRow {
    pub authorizer: Authorizer,
    pub token: TokenState,
}

pub(super) enum Bind {
    Int(i64),
    Text(String),
}

/// `%` and `_` typed by a user are literal characters, not wildcards.
pub(super) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// An authorizer row with its access token's state (the accounts list's join).
#[derive(sqlx::FromRow)]
struct AccountJoinRow {
    #[sqlx(flatten)]
    authorizer: super::authorizers::AuthorizerRow,
    token_expires_at: Option<i64>,
    token_refreshed_at: Option<i64>,
    token_failures: i64,
    token_error_code: Option<i64>,
    token_error_at: Option<i64>,
}

impl AccountJoinRow {
    fn into_row(self) -> Result<AccountListRow, StoreError> {
        Ok(AccountListRow {
            authorizer: Authorizer::try_from(self.authorizer)?,
            token: TokenState {
                expires_at: self.token_expires_at,
                refreshed_at: self.token_refreshed_at,
                failure_count: self.token_failures,
                last_error_code: self.token_error_code,
                last_error_at: self.token_error_at,
            },
        })
    }
}

impl Store {
    /// One page of the tenant's accounts matching `filter`, newest authorization first, and how
    /// many match in all.
    pub async fn search_accounts(
        &self,
        tenant: TenantId,
        filter: &AccountFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AccountListRow>, i64), StoreError> {
        let mut conditions = vec!["a.tenant_id = $1".to_owned()];
        let mut binds = vec![Bind::Int(tenant.0)];
        let like = self.dialect().like_nocase;
        let search = filter.search.trim();
        if !search.is_empty() {
            binds.push(Bind::Text(like_pattern(search)));
            let n = binds.len();
            conditions.push(format!(
                "(a.nick_name {like} ${n} ESCAPE '\\' OR a.appid {like} ${n} ESCAPE '\\' OR a.user_name {like} ${n} ESCAPE '\\' \
                 OR a.alias {like} ${n} ESCAPE '\\' OR a.principal_name {like} ${n} ESCAPE '\\')"
            ));
        }
        if let Some(status) = &filter.status {
            binds.push(Bind::Text(status.clone()));
            conditions.push(format!("a.status = ${}", binds.len()));
        }
        match filter.kind.as_deref() {
            Some("mini_program") => conditions.push("a.account_kind = 'mini_program'".into()),
            Some("service") => conditions
                .push("a.account_kind = 'official_account' AND a.service_type = 2".into()),
            Some("subscription") => conditions.push(
                "a.account_kind = 'official_account' AND (a.service_type IS NULL OR a.service_type <> 2)"
                    .into(),
            ),
            _ => {}
        }
        if let Some(permission) = filter.permission {
            binds.push(Bind::Int(permission));
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM authorizer_permissions p WHERE p.authorizer_id = a.id AND p.tenant_id = a.tenant_id AND p.permission_id = ${})",
                binds.len()
            ));
        }
        let filter_sql = conditions.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) FROM authorizers a WHERE {filter_sql}");
        let page_sql = format!(
            "SELECT a.id, a.tenant_id, a.component_id, a.appid, a.account_kind, a.nick_name, a.head_img, a.user_name, \
             a.principal_name, a.alias, a.qrcode_url, a.service_type, a.verify_type, a.account_status, a.func_info, \
             NULL AS menu_json, a.menu_fetched_at, a.info_fetched_at, a.status, a.link_id, a.authorized_at, a.revoked_at, \
             a.updated_at, c.expires_at AS token_expires_at, c.last_refreshed_at AS token_refreshed_at, \
             COALESCE(c.failure_count, 0) AS token_failures, c.last_error_code AS token_error_code, \
             c.last_error_at AS token_error_at \
             FROM authorizers a LEFT JOIN credentials c ON c.component_id = a.component_id AND c.kind = 'authorizer_access_token' AND c.subject = a.appid \
             WHERE {filter_sql} ORDER BY a.authorized_at DESC, a.id DESC LIMIT ${} OFFSET ${}",
            binds.len() + 1,
            binds.len() + 2
        );
        let total: i64 = read!(self, |pool| {
            let mut q = sqlx::query_scalar(&count_sql);
            for b in &binds {
                q = match b {
                    Bind::Int(v) => q.bind(*v),
                    Bind::Text(v) => q.bind(v.as_str()),
                };
            }
            q.fetch_one(pool).await
        })?;
        let rows: Vec<AccountJoinRow> = read!(self, |pool| {
            let mut q = sqlx::query_as(&page_sql);
            for b in &binds {
                q = match b {
                    Bind::Int(v) => q.bind(*v),
                    Bind::Text(v) => q.bind(v.as_str()),
                };
            }
            q.bind(limit).bind(offset).fetch_all(pool).await
        })?;
        let rows = rows
            .into_iter()
            .map(AccountJoinRow::into_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, total))
    }

    /// How many of the tenant's accounts are in each status.
    pub async fn account_status_counts(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = read!(self, |pool| {
            sqlx::query_as(
            "SELECT status, COUNT(*) FROM authorizers WHERE tenant_id = $1 GROUP BY status ORDER BY status",
        )
        .bind(tenant.0)
        .fetch_all(pool)
        .await
        })?;
        Ok(rows)
    }

    /// Failed refreshes of the tenant's credentials since `since` (from the audit log).
    pub async fn refresh_failures_since(
        &self,
        tenant: TenantId,
        since: i64,
    ) -> Result<i64, StoreError> {
        let n: i64 = read!(self, |pool| {
            sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1 AND kind = 'token.refresh_failed' AND occurred_at >= $2",
        )
        .bind(tenant.0)
        .bind(since)
        .fetch_one(pool)
        .await
        })?;
        Ok(n)
    }

    /// The tenant's events about one account, newest first.
    pub async fn account_audit(
        &self,
        tenant: TenantId,
        appid: &str,
        limit: i64,
    ) -> Result<Vec<crate::domain::AuditEvent>, StoreError> {
        self.tenant_audit_filtered(tenant, Some(appid), None, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn wildcards_typed_by_a_user_are_literal() {
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
        assert_eq!(like_pattern("小鹿"), "%小鹿%");
    }
}
