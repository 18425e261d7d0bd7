//! Users: adding one, enabling or disabling one, changing a tenant member's role. Tenant admins
//! manage members of their own tenant in the console; platform admins (the console's staff pages)
//! and the CLI manage anyone. The same rules, the same audit event, whoever asks.
//!
//! No one disables themselves or changes their own role: a tenant (or the platform) must not lock
//! itself out by one click. The CLI, which acts as no user, is how a locked-out platform gets its
//! first admin back.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{OpError, TenantActor};
use crate::auth::PasswordHasher;
use crate::domain::{
    Actor, AuditKind, NewAuditEvent, NewUser, Outcome, Role, TenantId, User, UserId, UserStatus,
};
use crate::store::Store;

/// Who manages users.
#[derive(Debug, Clone)]
pub enum Manager {
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
    manager: &Manager,
    new: NewMember<'_>,
    now: i64,
) -> Result<User, OpError> {
    let email = app::validate::email(new.email)
        .map_err(|en| OpError::invalid("email", en, "请输入有效的邮箱地址"))?;
    let (actor, ip, tenant) = match manager {
        Manager::TenantAdmin(who) => {
            if new.role.is_platform() {
                return Err(OpError::invalid(
                    "role",
                    "choose admin or viewer",
                    "请选择管理员或只读成员",
                ));
            }
            (&who.actor, who.ip, Some(who.tenant))
        }
        Manager::Platform { actor, ip } => match (new.role.is_platform(), new.tenant) {
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
        return Err(match manager {
            Manager::TenantAdmin(who) if existing.tenant_id == Some(who.tenant) => {
                OpError::Conflict {
                    field: "email",
                    en: "this person is already in your team".into(),
                    zh: "该成员已在你的团队中".into(),
                }
            }
            Manager::TenantAdmin(who) => {
                // Someone else's user: the answer must not tell whose, or even that it exists
                // there; staff see the attempt (not the tenant's own log).
                let audit = NewAuditEvent::new(
                    who.actor.clone(),
                    AuditKind::UserCreateRefused,
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
            Manager::Platform { .. } => OpError::Conflict {
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
        AuditKind::UserCreated,
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

impl Manager {
    fn actor(&self) -> (&Actor, Option<std::net::IpAddr>) {
        match self {
            Manager::TenantAdmin(who) => (&who.actor, who.ip),
            Manager::Platform { actor, ip } => (actor, *ip),
        }
    }

    fn is(&self, user: UserId) -> bool {
        matches!(self.actor().0, Actor::User { id, .. } if *id == user)
    }

    /// The user, if this manager may manage them: a tenant admin only their own tenant's (another
    /// tenant's user is not found, not forbidden: the answer must not say it exists).
    async fn target(&self, store: &Store, id: UserId) -> Result<User, OpError> {
        let user = store.user(id).await?.ok_or(OpError::NotFound)?;
        match self {
            Manager::TenantAdmin(who) if user.tenant_id != Some(who.tenant) => {
                Err(OpError::NotFound)
            }
            _ => Ok(user),
        }
    }
}

/// Enables or disables a user, audited as `user.enabled` / `user.disabled` with `{user_id,
/// email}` under the user's tenant, whoever asked. Disabling ends the user's sessions in the same
/// transaction. Setting the status a user already has is not an error (and is audited again).
pub async fn set_active(
    store: &Store,
    manager: &Manager,
    id: UserId,
    active: bool,
    now: i64,
) -> Result<User, OpError> {
    if !active && manager.is(id) {
        return Err(OpError::invalid(
            "user",
            "you cannot disable yourself",
            "不能停用自己的账号",
        ));
    }
    let user = manager.target(store, id).await?;
    let (actor, ip) = manager.actor();
    let (status, kind, verb) = if active {
        (UserStatus::Active, AuditKind::UserEnabled, "enabled")
    } else {
        (UserStatus::Disabled, AuditKind::UserDisabled, "disabled")
    };
    let audit = NewAuditEvent::new(
        actor.clone(),
        kind,
        Outcome::Ok,
        format!("{} {verb} {}", super::named(actor), user.email),
        now,
    )
    .tenant(user.tenant_id)
    .ip(ip)
    .detail(json!({ "user_id": id.0, "email": user.email }));
    let found = match manager {
        Manager::TenantAdmin(who) => {
            store
                .set_tenant_user_status(who.tenant, id, status, audit, now)
                .await?
        }
        Manager::Platform { .. } => store.set_any_user_status(id, status, audit, now).await?,
    };
    if !found {
        return Err(OpError::NotFound);
    }
    Ok(User { status, ..user })
}

/// Makes a tenant member an admin or a viewer, audited as `user.role_changed` with `{user_id,
/// email, role}` under the user's tenant, whoever asked. Platform roles are not given this way
/// (a platform user is added as one), and platform users are not changed this way.
pub async fn set_role(
    store: &Store,
    manager: &Manager,
    id: UserId,
    role: Role,
    now: i64,
) -> Result<User, OpError> {
    if role.is_platform() {
        return Err(OpError::invalid(
            "role",
            "choose admin or viewer",
            "请选择管理员或只读成员",
        ));
    }
    if manager.is(id) {
        return Err(OpError::invalid(
            "user",
            "you cannot change your own role",
            "不能修改自己的角色",
        ));
    }
    let user = manager.target(store, id).await?;
    let Some(tenant) = user.tenant_id else {
        return Err(OpError::invalid(
            "user",
            "platform staff have no tenant role",
            "平台人员没有租户角色",
        ));
    };
    let (actor, ip) = manager.actor();
    let audit = NewAuditEvent::new(
        actor.clone(),
        AuditKind::UserRoleChanged,
        Outcome::Ok,
        format!("{} made {} a {role}", super::named(actor), user.email),
        now,
    )
    .tenant(Some(tenant))
    .ip(ip)
    .detail(json!({ "user_id": id.0, "email": user.email, "role": role.as_str() }));
    if !store
        .set_tenant_user_role(tenant, id, role, audit, now)
        .await?
    {
        return Err(OpError::NotFound);
    }
    Ok(User { role, ..user })
}
