//! Users: adding one. Tenant admins add members of their own tenant in the console; platform admins
//! (the console's staff pages) and the CLI add anyone. The same rules, the same audit event.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{OpError, TenantActor};
use crate::auth::PasswordHasher;
use crate::domain::{Actor, NewAuditEvent, NewUser, Outcome, Role, TenantId, User};
use crate::store::Store;

/// Who adds the user.
#[derive(Debug, Clone)]
pub enum Adder {
    /// A tenant admin, for their own tenant (tenant roles only).
    TenantAdmin(TenantActor),
    /// Platform staff or the CLI, for any tenant or the platform.
    Platform {
        actor: Actor,
        ip: Option<std::net::IpAddr>,
    },
}

/// A user to add. `tenant` is ignored for a tenant admin (theirs is used).
pub struct NewMember<'a> {
    pub email: &'a str,
    pub role: Role,
    pub tenant: Option<TenantId>,
    pub password: &'a SecretString,
}

/// Adds a user, audited as `user.created` (the store adds the user's id, email and role as its
/// detail) whoever asked. A taken
/// email is a conflict, except that a tenant admin is not told whether it is taken elsewhere (the
/// attempt is audited for staff only).
pub async fn create(
    store: &Store,
    hasher: &PasswordHasher,
    adder: &Adder,
    new: NewMember<'_>,
    now: i64,
) -> Result<User, OpError> {
    let email = app::validate::email(new.email)
        .map_err(|en| OpError::invalid("email", en, "请输入有效的邮箱地址"))?;
    let (actor, ip, tenant) = match adder {
        Adder::TenantAdmin(who) => {
            if new.role.is_platform() {
                return Err(OpError::invalid(
                    "role",
                    "choose admin or viewer",
                    "请选择管理员或只读成员",
                ));
            }
            (&who.actor, who.ip, Some(who.tenant))
        }
        Adder::Platform { actor, ip } => match (new.role.is_platform(), new.tenant) {
            (true, Some(_)) => {
                return Err(OpError::invalid(
                    "tenant",
                    format!("a {} belongs to no tenant", new.role),
                    "平台人员不属于任何租户",
                ))
            }
            (false, None) => {
                return Err(OpError::invalid(
                    "tenant",
                    format!("a {} needs a tenant", new.role),
                    "租户角色需要选择租户",
                ))
            }
            (_, tenant) => (actor, *ip, tenant),
        },
    };
    app::validate::new_password(new.password.expose_secret()).map_err(|en| {
        OpError::invalid(
            "password",
            en,
            format!(
                "密码至少 {} 个字符，不能包含换行",
                app::validate::PASSWORD_MIN_CHARS
            ),
        )
    })?;
    if let Some((existing, _)) = store.user_for_login(&email).await? {
        return Err(match adder {
            Adder::TenantAdmin(who) if existing.tenant_id == Some(who.tenant) => {
                OpError::Conflict {
                    field: "email",
                    en: "this person is already in your team".into(),
                    zh: "该成员已在你的团队中".into(),
                }
            }
            Adder::TenantAdmin(who) => {
                // Someone else's user: the answer must not tell whose, or even that it exists
                // there; staff see the attempt (not the tenant's own log).
                let audit = NewAuditEvent::new(
                    who.actor.clone(),
                    "user.create_refused",
                    Outcome::Denied,
                    format!(
                        "{} tried to add an email that is in use outside the tenant",
                        super::named(&who.actor)
                    ),
                    now,
                )
                .ip(who.ip)
                .detail(json!({ "email": email, "tenant_id": who.tenant.0 }));
                store.append_audit(&audit).await?;
                OpError::invalid(
                    "email",
                    "this email cannot be used for a new user here; ask the person for another address, or ask platform staff",
                    "该邮箱无法在此添加新用户；请换一个邮箱，或联系平台管理员",
                )
            }
            Adder::Platform { .. } => OpError::Conflict {
                field: "email",
                en: format!("a user with email {email} already exists"),
                zh: "该邮箱已被使用".into(),
            },
        });
    }
    let password_hash = hasher
        .hash(new.password)
        .await
        .map_err(|e| OpError::Other(Box::new(e)))?;
    let audit = NewAuditEvent::new(
        actor.clone(),
        "user.created",
        Outcome::Ok,
        format!("{} added {email} as {}", super::named(actor), new.role),
        now,
    )
    .tenant(tenant)
    .ip(ip);
    store
        .create_user(
            &NewUser {
                email: email.clone(),
                display_name: String::new(),
                password_hash,
                role: new.role,
                tenant_id: tenant,
            },
            audit,
            now,
        )
        .await
        .map_err(|e| {
            if e.is_conflict_on("email") {
                OpError::Conflict {
                    field: "email",
                    en: format!("a user with email {email} already exists"),
                    zh: "该邮箱已被使用".into(),
                }
            } else {
                e.into()
            }
        })
}
