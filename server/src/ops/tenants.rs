//! Tenants: creating one (platform admins in the console, and the CLI).

use crate::domain::AuditKind;
use serde_json::json;

use super::OpError;
use crate::domain::{Actor, NewAuditEvent, Outcome, Tenant};
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
