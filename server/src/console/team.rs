//! The console's API keys and users: who and what may act for the tenant. Tenant admins change
//! them, viewers read them; an admin cannot disable or demote themselves (a tenant must not lock
//! itself out by accident). Every change is audited with the acting user.

use app::dto::{ApiKeyView, CreatedApiKey, NewUserForm, UserView};
use app::error::AppError;
use app::model::Role;
use app::services::RequestCtx;
use secrecy::{ExposeSecret, SecretString};

use super::{bilingual, store_error, Console};
use crate::domain::{ApiKey, ApiKeyId, User, UserId, UserStatus};

fn key_view(k: ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: k.id.0,
        name: k.name,
        prefix: k.prefix,
        scopes: k.scopes,
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        revoked_at: k.revoked_at,
    }
}

pub(super) fn user_view(u: User, me: i64) -> UserView {
    UserView {
        is_me: u.id.0 == me,
        id: u.id.0,
        email: u.email,
        role: u.role,
        active: u.status == UserStatus::Active,
        created_at: u.created_at,
        last_login_at: u.last_login_at,
    }
}

pub(super) async fn api_keys(
    console: &Console,
    ctx: &RequestCtx,
) -> Result<Vec<ApiKeyView>, AppError> {
    let (_, tenant) = console.tenant_user(ctx).await?;
    let mut keys = console
        .store
        .list_api_keys(tenant)
        .await
        .map_err(store_error("API keys could not be read"))?;
    keys.reverse();
    Ok(keys.into_iter().map(key_view).collect())
}

pub(super) async fn create_api_key(
    console: &Console,
    ctx: &RequestCtx,
    name: &str,
    scopes: &[String],
) -> Result<CreatedApiKey, AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    let (key, minted) =
        crate::ops::api_keys::create(&console.store, &who, name, scopes, crate::now_ms())
            .await
            .map_err(super::op_error("an API key could not be created"))?;
    Ok(CreatedApiKey {
        key: key_view(key),
        secret: minted.key.expose_secret().to_owned(),
    })
}

pub(super) async fn set_api_key_scopes(
    console: &Console,
    ctx: &RequestCtx,
    id: i64,
    scopes: &[String],
) -> Result<(), AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    let key = crate::ops::api_keys::KeyRef::Id(ApiKeyId(id));
    let changed =
        crate::ops::api_keys::set_scopes(&console.store, &who, key, scopes, crate::now_ms())
            .await
            .map_err(super::op_error("an API key's scopes could not be changed"))?;
    // This instance applies the new scopes at once; the others within the key TTL.
    console.api_keys.forget(changed.id);
    Ok(())
}

pub(super) async fn revoke_api_key(
    console: &Console,
    ctx: &RequestCtx,
    id: i64,
) -> Result<(), AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    let key = crate::ops::api_keys::KeyRef::Id(ApiKeyId(id));
    let revoked = crate::ops::api_keys::revoke(&console.store, &who, key, crate::now_ms())
        .await
        .map_err(super::op_error("an API key could not be revoked"))?;
    console.api_keys.forget(revoked.id);
    Ok(())
}

pub(super) async fn users(console: &Console, ctx: &RequestCtx) -> Result<Vec<UserView>, AppError> {
    let (me, tenant) = console.tenant_user(ctx).await?;
    Ok(console
        .store
        .list_tenant_users(tenant)
        .await
        .map_err(store_error("users could not be read"))?
        .into_iter()
        .map(|u| user_view(u, me.id))
        .collect())
}

pub(super) async fn create_user(
    console: &Console,
    ctx: &RequestCtx,
    form: NewUserForm,
) -> Result<UserView, AppError> {
    let (me, who) = console.tenant_admin_actor(ctx).await?;
    // The form's own rules first (the browser checks them too), then the operation.
    let (email, role) = app::validate::user_form(&form).map_err(bilingual)?;
    let tenant = who.tenant;
    let manager = crate::ops::users::Manager::TenantAdmin(who);
    let password = SecretString::from(form.password);
    let new = crate::ops::users::NewMember {
        email: &email,
        role,
        tenant: Some(tenant),
        password: &password,
    };
    let user = crate::ops::users::create(
        &console.store,
        &console.hasher,
        &manager,
        new,
        crate::now_ms(),
    )
    .await
    .map_err(super::op_error("a user could not be created"))?;
    Ok(user_view(user, me.id))
}

pub(super) async fn set_user_active(
    console: &Console,
    ctx: &RequestCtx,
    id: i64,
    active: bool,
) -> Result<(), AppError> {
    let manager = tenant_manager(console, ctx).await?;
    crate::ops::users::set_active(
        &console.store,
        &manager,
        UserId(id),
        active,
        crate::now_ms(),
    )
    .await
    .map_err(super::op_error("a user could not be changed"))?;
    Ok(())
}

pub(super) async fn set_user_role(
    console: &Console,
    ctx: &RequestCtx,
    id: i64,
    role: &str,
) -> Result<(), AppError> {
    let manager = tenant_manager(console, ctx).await?;
    let role = match Role::parse(role.trim()) {
        Some(r) => r,
        None => {
            return Err(AppError::invalid_bilingual(
                "role",
                "choose admin or viewer",
                "请选择管理员或只读成员",
            ))
        }
    };
    crate::ops::users::set_role(&console.store, &manager, UserId(id), role, crate::now_ms())
        .await
        .map_err(super::op_error("a user could not be changed"))?;
    Ok(())
}

async fn tenant_manager(
    console: &Console,
    ctx: &RequestCtx,
) -> Result<crate::ops::users::Manager, AppError> {
    let (_, who) = console.tenant_admin_actor(ctx).await?;
    Ok(crate::ops::users::Manager::TenantAdmin(who))
}
