//! Tenants: creating one (platform admins in the console, and the CLI), suspending and reactivating
//! one (platform admins).

use serde_json::json;

use super::OpError;
use crate::domain::{Actor, AuditKind, NewAuditEvent, Outcome, Tenant, TenantId, TenantStatus};
use crate::store::Store;

/// Creates a tenant, audited as `tenant.created` with `{slug, name}` whoever asked.
pub async fn create(
    store: &Store,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    slug: &str,
    name: &str,
    now: i64,
) -> Result<Tenant, OpError> {
    let form = app::dto::NewTenantForm {
        slug: slug.to_owned(),
        name: name.to_owned(),
    };
    let (slug, name) = app::validate::tenant_form(&form)
        .map_err(|(field, en, zh)| OpError::invalid(field, en, zh))?;
    let audit = NewAuditEvent::new(
        actor.clone(),
        AuditKind::TenantCreated,
        Outcome::Ok,
        format!("{} created the tenant {slug} ({name})", super::named(actor)),
        now,
    )
    .ip(ip)
    .detail(json!({ "slug": slug, "name": name }));
    store
        .create_tenant(&slug, &name, audit, now)
        .await
        .map_err(|e| {
            if e.is_conflict_on("slug") {
                OpError::Conflict {
                    field: "slug",
                    en: format!("a tenant with slug {slug:?} already exists"),
                    zh: "该标识已被使用".into(),
                }
            } else {
                e.into()
            }
        })
}

/// Suspends or reactivates a tenant, audited as `tenant.suspended` / `tenant.reactivated` with
/// `{slug}` whoever asked. Setting the status it already has changes nothing and is not an error.
/// The caller drops the tenant's keys from its own memory; other instances refuse them within the
/// key cache's lifetime.
pub async fn set_suspended(
    store: &Store,
    actor: &Actor,
    ip: Option<std::net::IpAddr>,
    id: TenantId,
    suspended: bool,
    now: i64,
) -> Result<Tenant, OpError> {
    let tenant = store.tenant(id).await?.ok_or(OpError::NotFound)?;
    let (status, kind, verb) = if suspended {
        (
            TenantStatus::Suspended,
            AuditKind::TenantSuspended,
            "suspended",
        )
    } else {
        (
            TenantStatus::Active,
            AuditKind::TenantReactivated,
            "reactivated",
        )
    };
    let audit = NewAuditEvent::new(
        actor.clone(),
        kind,
        Outcome::Ok,
        format!("{} {verb} the tenant {}", super::named(actor), tenant.slug),
        now,
    )
    .tenant(Some(tenant.id))
    .ip(ip)
    .detail(json!({ "slug": tenant.slug }));
    store
        .set_tenant_status(tenant.id, status, &audit, now)
        .await?;
    Ok(Tenant { status, ..tenant })
}
