//! Platform staff's pages: tenants, users of every tenant, every authorization, the audit log and
//! each account's timeline. The only code that reads across tenants; every method checks the
//! role before it touches storage. Admins may change tenants and users; auditors read everything
//! and change nothing (each change method refuses them before anything else).

use std::collections::HashMap;

use app::dto::{
    AccountTimeline, AssignAccountForm, AuditPage, AuditQuery, AuditRowView, AuthorizationPage,
    AuthorizationQuery, AuthorizationRowView, FilterChoice, NewStaffUserForm, NewTenantForm,
    StaffUserView, TenantView,
};
use app::error::AppError;
use app::model::{Role, SessionUser};
use app::services::{AuthService, PlatformService, RequestCtx};
use async_trait::async_trait;

use super::accounts::{kind_label, permission_change, status_dto};
use super::team::user_view;
use super::{bilingual, store_error, user_actor, Console};
use crate::domain::{
    AuditEvent, AuditKind, ComponentId, NewAuditEvent, Outcome, TenantId, TenantStatus, UserId,
};
use crate::store::{AssignRefusal, AuditFilter, AuthorizationFilter, TenantSummary};

pub const AUTHORIZATIONS_PER_PAGE: i64 = 50;
pub const AUDIT_PER_PAGE: i64 = 100;
/// The most rows one CSV export holds; a bigger export is cut here (and says so in its last line).
pub const CSV_MAX_ROWS: i64 = 100_000;

fn tenant_view(s: TenantSummary) -> TenantView {
    TenantView {
        id: s.tenant.id.0,
        slug: s.tenant.slug,
        name: s.tenant.name,
        suspended: s.tenant.status == TenantStatus::Suspended,
        created_at: s.tenant.created_at,
        users: s.users,
        accounts: s.accounts,
        api_keys: s.api_keys,
    }
}

/// A filter value that names nothing is an error naming the field (a typo must not silently show
/// everything).
fn unknown(field: &'static str, en: &str, zh: &str) -> AppError {
    AppError::invalid_bilingual(field, en, zh)
}

/// Names for the ids an audit page shows: tenants by slug, components by appid.
struct Directory {
    tenants: HashMap<TenantId, (String, String)>,
    components: HashMap<ComponentId, (String, String)>,
}

impl Directory {
    fn tenant_choices(&self) -> Vec<FilterChoice> {
        let mut v: Vec<FilterChoice> = self.tenants.values().cloned().collect();
        v.sort();
        v
    }
    fn component_choices(&self) -> Vec<FilterChoice> {
        let mut v: Vec<FilterChoice> = self
            .components
            .values()
            .map(|(appid, name)| {
                let label = if name.is_empty() {
                    appid.clone()
                } else {
                    format!("{name} ({appid})")
                };
                (appid.clone(), label)
            })
            .collect();
        v.sort();
        v
    }
    fn tenant_by_slug(&self, slug: &str) -> Option<TenantId> {
        self.tenants
            .iter()
            .find(|(_, (s, _))| s == slug)
            .map(|(id, _)| *id)
    }
    fn component_by_appid(&self, appid: &str) -> Option<ComponentId> {
        self.components
            .iter()
            .find(|(_, (a, _))| a == appid)
            .map(|(id, _)| *id)
    }
    fn row(&self, e: AuditEvent) -> AuditRowView {
        AuditRowView {
            id: e.id,
            occurred_at: e.occurred_at,
            tenant_slug: e
                .tenant_id
                .and_then(|t| self.tenants.get(&t).map(|(slug, _)| slug.clone())),
            component_appid: e
                .component_id
                .and_then(|c| self.components.get(&c).map(|(appid, _)| appid.clone())),
            authorizer_appid: e.authorizer_appid,
            actor: if e.actor_label.is_empty() {
                e.actor_kind.clone()
            } else {
                e.actor_label
            },
            actor_kind: e.actor_kind,
            kind: e.kind,
            outcome: e.outcome,
            summary: e.summary,
            ip: e.ip,
        }
    }
}

/// One CSV field: quoted when it holds a separator, a quote or a line break; a leading `=`, `+`,
/// `-` or `@` is defused so a spreadsheet does not run it as a formula.
fn csv_field(out: &mut String, value: &str) {
    let defuse = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = defuse || value.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
        if defuse {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

impl Console {
    /// The signed-in platform staff member (admin or auditor), or why not.
    pub(super) async fn staff(&self, ctx: &RequestCtx) -> Result<SessionUser, AppError> {
        let user = self
            .accounts
            .current_user(ctx)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if !user.role.is_platform() {
            return Err(AppError::Forbidden);
        }
        Ok(user)
    }

    /// The signed-in platform admin: auditors stop here.
    pub(super) async fn platform_admin(&self, ctx: &RequestCtx) -> Result<SessionUser, AppError> {
        let user = self.staff(ctx).await?;
        if user.role != Role::PlatformAdmin {
            return Err(AppError::Forbidden);
        }
        Ok(user)
    }

    async fn directory(&self) -> Result<Directory, AppError> {
        let err = store_error("the directory could not be read");
        let tenants = self
            .store
            .list_tenants()
            .await
            .map_err(&err)?
            .into_iter()
            .map(|t| (t.id, (t.slug, t.name)))
            .collect();
        let components = self
            .store
            .list_all_components()
            .await
            .map_err(&err)?
            .into_iter()
            .map(|c| (c.id, (c.appid, c.name)))
            .collect();
        Ok(Directory {
            tenants,
            components,
        })
    }

    /// The audit filter a query describes, judged by the shared rules.
    fn audit_filter(dir: &Directory, q: &AuditQuery) -> Result<AuditFilter, AppError> {
        let text = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        };
        let tenant = match text(&q.tenant) {
            None => None,
            Some(slug) => Some(
                dir.tenant_by_slug(&slug)
                    .ok_or_else(|| unknown("tenant", "no tenant has this slug", "没有这个租户"))?,
            ),
        };
        let component = match text(&q.component) {
            None => None,
            Some(appid) => Some(dir.component_by_appid(&appid).ok_or_else(|| {
                unknown(
                    "component",
                    "no component has this appid",
                    "没有这个第三方平台",
                )
            })?),
        };
        let account = match text(&q.account) {
            None => None,
            Some(a) => Some(app::validate::appid("account", &a).map_err(|en| {
                AppError::invalid_bilingual("account", en, "appid 应为 wx 加 16 位小写字母或数字")
            })?),
        };
        let kind = match text(&q.kind) {
            None => None,
            Some(k)
                if k.len() <= 64
                    && k.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_') =>
            {
                Some(k)
            }
            Some(_) => {
                return Err(AppError::invalid_bilingual(
                    "kind",
                    "an event kind like token.refreshed, or a family like token.",
                    "事件类型形如 token.refreshed，或以点结尾表示一类",
                ))
            }
        };
        let actor = match text(&q.actor) {
            None => None,
            Some(a) if a.chars().count() <= 200 && !a.chars().any(char::is_control) => Some(a),
            Some(_) => {
                return Err(AppError::invalid_bilingual(
                    "actor",
                    "at most 200 characters, without control characters",
                    "最多 200 个字符，且不能包含控制字符",
                ))
            }
        };
        let outcome = match text(&q.outcome).as_deref() {
            None => None,
            Some(o @ ("ok" | "failed" | "denied")) => Some(o.to_owned()),
            Some(_) => {
                return Err(AppError::invalid_bilingual(
                    "outcome",
                    "ok, failed or denied",
                    "结果应为 ok、failed 或 denied",
                ))
            }
        };
        let day = |field: &'static str, v: Result<Option<i64>, String>| {
            v.map_err(|en| AppError::invalid_bilingual(field, en, "日期格式应为 YYYY-MM-DD"))
        };
        let from = day("from", app::validate::day_start_ms(&q.from))?;
        let to = day("to", app::validate::day_end_ms(&q.to))?;
        Ok(AuditFilter {
            tenant,
            component,
            authorizer_appid: account,
            kind,
            actor,
            outcome,
            from,
            to,
        })
    }

    fn audit_cursor(q: &AuditQuery) -> Result<Option<i64>, AppError> {
        match q.before.trim() {
            "" => Ok(None),
            b => b
                .parse::<i64>()
                .ok()
                .filter(|b| *b > 0)
                .map(Some)
                .ok_or_else(|| {
                    AppError::invalid_bilingual(
                        "before",
                        "a page cursor is an event id",
                        "分页参数无效",
                    )
                }),
        }
    }
}

#[async_trait]
impl PlatformService for Console {
    async fn overview(
        &self,
        ctx: &RequestCtx,
        range: Option<String>,
    ) -> Result<app::dto::PlatformOverview, AppError> {
        self.staff(ctx).await?;
        let range = match range.as_deref() {
            None | Some("") => app::dto::ChartRange::default(),
            Some(r) => app::dto::ChartRange::parse(r)
                .ok_or_else(|| unknown("range", "Unknown chart range.", "未知的图表范围。"))?,
        };
        self.platform_overview_for_staff(range).await
    }

    async fn all_deliveries(
        &self,
        ctx: &RequestCtx,
        status: Option<String>,
    ) -> Result<Vec<app::dto::WebhookDeliveryView>, AppError> {
        self.staff(ctx).await?;
        let dir = self.directory().await?;
        super::webhooks::all_deliveries(self, &dir.tenants, status).await
    }

    async fn tenants(&self, ctx: &RequestCtx) -> Result<Vec<TenantView>, AppError> {
        self.staff(ctx).await?;
        Ok(self
            .store
            .tenant_summaries()
            .await
            .map_err(store_error("tenants could not be read"))?
            .into_iter()
            .map(tenant_view)
            .collect())
    }

    async fn create_tenant(
        &self,
        ctx: &RequestCtx,
        form: NewTenantForm,
    ) -> Result<TenantView, AppError> {
        let me = self.platform_admin(ctx).await?;
        let tenant = crate::ops::tenants::create(
            &self.store,
            &user_actor(&me),
            ctx.client_ip,
            &form.slug,
            &form.name,
            crate::now_ms(),
        )
        .await
        .map_err(super::op_error("a tenant could not be created"))?;
        Ok(tenant_view(TenantSummary {
            tenant,
            users: 0,
            accounts: 0,
            api_keys: 0,
        }))
    }

    async fn set_tenant_suspended(
        &self,
        ctx: &RequestCtx,
        id: i64,
        suspended: bool,
    ) -> Result<(), AppError> {
        let me = self.platform_admin(ctx).await?;
        let tenant = crate::ops::tenants::set_suspended(
            &self.store,
            &user_actor(&me),
            ctx.client_ip,
            TenantId(id),
            suspended,
            crate::now_ms(),
        )
        .await
        .map_err(super::op_error("a tenant could not be changed"))?;
        if suspended {
            self.api_keys.forget_tenant(tenant.id);
        }
        Ok(())
    }

    async fn all_users(&self, ctx: &RequestCtx) -> Result<Vec<StaffUserView>, AppError> {
        let me = self.staff(ctx).await?;
        let dir = self.directory().await?;
        Ok(self
            .store
            .list_all_users()
            .await
            .map_err(store_error("users could not be read"))?
            .into_iter()
            .map(|u| StaffUserView {
                tenant: u.tenant_id.and_then(|t| dir.tenants.get(&t).cloned()),
                user: user_view(u, me.id),
            })
            .collect())
    }

    async fn create_any_user(
        &self,
        ctx: &RequestCtx,
        form: NewStaffUserForm,
    ) -> Result<StaffUserView, AppError> {
        let me = self.platform_admin(ctx).await?;
        let (email, role, tenant_slug) =
            app::validate::staff_user_form(&form).map_err(bilingual)?;
        let err = store_error("a user could not be created");
        let tenant = match &tenant_slug {
            None => None,
            Some(slug) => Some(
                self.store
                    .tenant_by_slug(slug)
                    .await
                    .map_err(&err)?
                    .ok_or_else(|| unknown("tenant", "no tenant has this slug", "没有这个租户"))?,
            ),
        };
        let manager = crate::ops::users::Manager::Platform {
            actor: user_actor(&me),
            ip: ctx.client_ip,
        };
        let password = secrecy::SecretString::from(form.password);
        let new = crate::ops::users::NewMember {
            email: &email,
            role,
            tenant: tenant.as_ref().map(|t| t.id),
            password: &password,
        };
        let user =
            crate::ops::users::create(&self.store, &self.hasher, &manager, new, crate::now_ms())
                .await
                .map_err(super::op_error("a user could not be created"))?;
        Ok(StaffUserView {
            tenant: tenant.map(|t| (t.slug, t.name)),
            user: user_view(user, me.id),
        })
    }

    async fn set_any_user_active(
        &self,
        ctx: &RequestCtx,
        id: i64,
        active: bool,
    ) -> Result<(), AppError> {
        let me = self.platform_admin(ctx).await?;
        let manager = crate::ops::users::Manager::Platform {
            actor: user_actor(&me),
            ip: ctx.client_ip,
        };
        crate::ops::users::set_active(&self.store, &manager, UserId(id), active, crate::now_ms())
            .await
            .map_err(super::op_error("a user could not be changed"))?;
        Ok(())
    }

    async fn authorizations(
        &self,
        ctx: &RequestCtx,
        q: AuthorizationQuery,
    ) -> Result<AuthorizationPage, AppError> {
        let me = self.staff(ctx).await?;
        let dir = self.directory().await?;
        let unassigned = q.tenant.trim() == app::dto::UNASSIGNED_TENANT;
        let audit_like = AuditQuery {
            tenant: if unassigned {
                String::new()
            } else {
                q.tenant.clone()
            },
            component: q.component.clone(),
            from: q.from.clone(),
            to: q.to.clone(),
            ..Default::default()
        };
        let base = Self::audit_filter(&dir, &audit_like)?;
        let status = match q.status.trim() {
            "" => None,
            s => Some(
                app::dto::AccountStatus::parse(s)
                    .ok_or_else(|| {
                        AppError::invalid_bilingual("status", "not a status", "状态无效")
                    })?
                    .as_str()
                    .to_owned(),
            ),
        };
        let permission = match q.permission.trim() {
            "" => None,
            p => Some(
                p.parse::<i64>()
                    .ok()
                    .filter(|p| (1..=10_000).contains(p))
                    .ok_or_else(|| {
                        AppError::invalid_bilingual(
                            "permission",
                            "a permission set id",
                            "权限集编号无效",
                        )
                    })?,
            ),
        };
        let page = match q.page.trim() {
            "" => 1,
            p => p
                .parse::<i64>()
                .ok()
                .filter(|p| (1..=100_000).contains(p))
                .ok_or_else(|| AppError::invalid_bilingual("page", "a page number", "页码无效"))?,
        };
        let filter = AuthorizationFilter {
            tenant: base.tenant,
            unassigned,
            component: base.component,
            status,
            permission,
            from: base.from,
            to: base.to,
        };
        let (rows, total) = self
            .store
            .platform_authorizations(
                &filter,
                (page - 1) * AUTHORIZATIONS_PER_PAGE,
                AUTHORIZATIONS_PER_PAGE,
            )
            .await
            .map_err(store_error("authorizations could not be read"))?;
        Ok(AuthorizationPage {
            rows: rows
                .into_iter()
                .map(|r| AuthorizationRowView {
                    kind: kind_label(&r.authorizer),
                    status: status_dto(r.authorizer.status),
                    tenant_slug: r.tenant_slug,
                    tenant_name: r.tenant_name,
                    component_appid: r.component_appid,
                    appid: r.authorizer.appid,
                    name: r.authorizer.nick_name,
                    permissions: r.authorizer.func_ids,
                    authorized_at: r.authorizer.authorized_at,
                    revoked_at: r.authorizer.revoked_at,
                })
                .collect(),
            total,
            unassigned: self
                .store
                .count_unassigned_authorizers()
                .await
                .map_err(store_error("unassigned accounts could not be counted"))?,
            can_assign: me.role == Role::PlatformAdmin,
            page,
            per_page: AUTHORIZATIONS_PER_PAGE,
            tenants: dir.tenant_choices(),
            components: dir.component_choices(),
        })
    }

    async fn assign_account(
        &self,
        ctx: &RequestCtx,
        form: AssignAccountForm,
    ) -> Result<(), AppError> {
        let me = self.platform_admin(ctx).await?;
        let dir = self.directory().await?;
        let component = dir
            .component_by_appid(form.component_appid.trim())
            .ok_or_else(|| {
                unknown(
                    "component_appid",
                    "no component has this appid",
                    "没有这个第三方平台",
                )
            })?;
        let appid = crate::domain::AppId::parse("appid", form.appid.trim()).map_err(|_| {
            AppError::invalid_bilingual(
                "appid",
                "not an appid",
                "appid 应为 wx 加 16 位小写字母或数字",
            )
        })?;
        let slug = form.tenant.trim();
        let tenant = dir
            .tenant_by_slug(slug)
            .ok_or_else(|| unknown("tenant", "choose a tenant", "请选择租户"))?;
        let assigned = self
            .engine
            .assign_account(
                &user_actor(&me),
                ctx.client_ip,
                component,
                appid.as_ref(),
                tenant,
                slug,
            )
            .await
            .map_err(|e| crate::auth::service::internal("an account could not be assigned", e))?;
        match assigned {
            Ok(_) => Ok(()),
            Err(AssignRefusal::Unknown) => Err(AppError::NotFound),
            Err(AssignRefusal::AlreadyAssigned) => Err(AppError::invalid_bilingual(
                "appid",
                "the account belongs to a tenant already",
                "该账号已归属某个租户",
            )),
        }
    }

    async fn audit(&self, ctx: &RequestCtx, q: AuditQuery) -> Result<AuditPage, AppError> {
        self.staff(ctx).await?;
        let dir = self.directory().await?;
        let filter = Self::audit_filter(&dir, &q)?;
        let before = Self::audit_cursor(&q)?;
        // One more than a page tells whether an older page exists.
        let mut events = self
            .store
            .search_audit(&filter, before, AUDIT_PER_PAGE + 1)
            .await
            .map_err(store_error("the audit log could not be read"))?;
        let more = events.len() as i64 > AUDIT_PER_PAGE;
        events.truncate(AUDIT_PER_PAGE as usize);
        let next_before = more.then(|| events.last().map(|e| e.id)).flatten();
        Ok(AuditPage {
            events: events.into_iter().map(|e| dir.row(e)).collect(),
            next_before,
            per_page: AUDIT_PER_PAGE,
            tenants: dir.tenant_choices(),
            components: dir.component_choices(),
        })
    }

    async fn audit_csv(&self, ctx: &RequestCtx, q: AuditQuery) -> Result<String, AppError> {
        let me = self.staff(ctx).await?;
        let dir = self.directory().await?;
        let filter = Self::audit_filter(&dir, &q)?;
        let mut before = Self::audit_cursor(&q)?;
        let mut out = String::from(
            "id,occurred_at,tenant,component,account,actor_kind,actor,kind,outcome,summary,ip\n",
        );
        let mut rows = 0i64;
        let mut cut = false;
        loop {
            let batch = self
                .store
                .search_audit(&filter, before, 5_000)
                .await
                .map_err(store_error("the audit log could not be read"))?;
            let Some(last) = batch.last() else { break };
            before = Some(last.id);
            let n = batch.len();
            for e in batch {
                if rows == CSV_MAX_ROWS {
                    cut = true;
                    break;
                }
                let r = dir.row(e);
                let fields = [
                    r.id.to_string(),
                    crate::rfc3339(r.occurred_at),
                    r.tenant_slug.unwrap_or_default(),
                    r.component_appid.unwrap_or_default(),
                    r.authorizer_appid.unwrap_or_default(),
                    r.actor_kind,
                    r.actor,
                    r.kind,
                    r.outcome,
                    r.summary,
                    r.ip.unwrap_or_default(),
                ];
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    csv_field(&mut out, f);
                }
                out.push('\n');
                rows += 1;
            }
            if cut || n < 5_000 {
                break;
            }
        }
        if cut {
            out.push_str(&format!(
                "# cut at {CSV_MAX_ROWS} rows; narrow the filters or export older events with before={}\n",
                before.unwrap_or_default()
            ));
        }
        // Exports are themselves audited: who took what out of the platform.
        let audit = NewAuditEvent::new(
            user_actor(&me),
            AuditKind::AuditExported,
            Outcome::Ok,
            format!("{} exported {rows} audit events as CSV", me.email),
            crate::now_ms(),
        )
        .ip(ctx.client_ip)
        .detail(serde_json::json!({ "filters": q, "rows": rows }));
        self.store
            .append_audit(&audit)
            .await
            .map_err(store_error("the export could not be audited"))?;
        Ok(out)
    }

    async fn timeline(
        &self,
        ctx: &RequestCtx,
        component_appid: &str,
        appid: &str,
    ) -> Result<AccountTimeline, AppError> {
        self.staff(ctx).await?;
        let appid = crate::domain::AppId::parse("appid", appid).map_err(|_| AppError::NotFound)?;
        let component_appid = crate::domain::AppId::parse("component", component_appid)
            .map_err(|_| AppError::NotFound)?;
        let err = store_error("an account's history could not be read");
        let dir = self.directory().await?;
        let component = dir
            .component_by_appid(&component_appid)
            .ok_or(AppError::NotFound)?;
        let a = self
            .store
            .authorizer_of_component(component, &appid)
            .await
            .map_err(&err)?
            .ok_or(AppError::NotFound)?;
        let history = self
            .store
            .authorizer_history_across_tenants(a.id)
            .await
            .map_err(&err)?
            .into_iter()
            .map(permission_change)
            .collect();
        let events = self
            .store
            .account_timeline(component, &appid, 5_000)
            .await
            .map_err(&err)?
            .into_iter()
            .map(|e| dir.row(e))
            .collect();
        let (tenant_slug, tenant_name) = a
            .tenant_id
            .and_then(|t| dir.tenants.get(&t).cloned())
            .unwrap_or_default();
        Ok(AccountTimeline {
            status: status_dto(a.status),
            name: a.nick_name,
            permissions: a.func_ids,
            appid: appid.into(),
            component_appid: component_appid.into(),
            tenant_slug,
            tenant_name,
            history,
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        let field = |v: &str| {
            let mut s = String::new();
            csv_field(&mut s, v);
            s
        };
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-1+1"), "\"'-1+1\"");
        assert_eq!(field("小鹿咖啡"), "小鹿咖啡");
    }
}
