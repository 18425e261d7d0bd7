//! The console's API keys and users: who and what may act for the tenant. Tenant admins change
//! them, viewers read them; an admin cannot disable or demote themselves (a tenant must not lock
//! itself out by accident). Every change is audited with the acting user.

use app::dto::{ApiKeyView, CreatedApiKey, NewUserForm, UserView};
use app::error::AppError;
use app::model::Role;
use app::services::RequestCtx;
use secrecy::{ExposeSecret, SecretString};

use super::{bilingual, store_error, user_actor, Console};
use crate::domain::{ApiKey, ApiKeyId, NewAuditEvent, Outcome, User, UserId, UserStatus};

fn key_view(k: ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: k.id.0,
        name: k.name,
        prefix: k.prefix,
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

impl Console {
    pub(super) async fn list_api_keys(
        &self,
        ctx: &RequestCtx,
    ) -> Result<Vec<ApiKeyView>, AppError> {
        let (_, tenant) = self.tenant_user(ctx).await?;
        let mut keys = self
            .store
            .list_api_keys(tenant)
            .await
            .map_err(store_error("API keys could not be read"))?;
        keys.reverse();
        Ok(keys.into_iter().map(key_view).collect())
    }

    pub(super) async fn mint_api_key(
        &self,
        ctx: &RequestCtx,
        name: &str,
    ) -> Result<CreatedApiKey, AppError> {
        let (user, tenant) = self.tenant_admin(ctx).await?;
        let who = crate::ops::TenantActor {
            actor: user_actor(&user),
            tenant,
            ip: ctx.client_ip,
        };
        let (key, minted) = crate::ops::api_keys::create(&self.store, &who, name, crate::now_ms())
            .await
            .map_err(super::op_error("an API key could not be created"))?;
        Ok(CreatedApiKey {
            key: key_view(key),
            secret: minted.key.expose_secret().to_owned(),
        })
    }

    pub(super) async fn withdraw_api_key(&self, ctx: &RequestCtx, id: i64) -> Result<(), AppError> {
        let (user, tenant) = self.tenant_admin(ctx).await?;
        let err = store_error("an API key could not be revoked");
        let Some(key) = self
            .store
            .list_api_keys(tenant)
            .await
            .map_err(&err)?
            .into_iter()
            .find(|k| k.id.0 == id)
        else {
            return Err(AppError::NotFound);
        };
        let audit = NewAuditEvent::new(
            user_actor(&user),
            "api_key.revoked",
            Outcome::Ok,
            format!(
                "{} revoked the API key {:?} ({})",
                user.email, key.name, key.prefix
            ),
            crate::now_ms(),
        )
        .ip(ctx.client_ip)
        .detail(serde_json::json!({ "api_key_id": id }));
        // Revoking a revoked key changes nothing and is not an error.
        self.store
            .revoke_api_key(tenant, ApiKeyId(id), audit, crate::now_ms())
            .await
            .map_err(&err)?;
        self.api_keys.forget(ApiKeyId(id));
        Ok(())
    }

    pub(super) async fn list_users(&self, ctx: &RequestCtx) -> Result<Vec<UserView>, AppError> {
        let (me, tenant) = self.tenant_user(ctx).await?;
        Ok(self
            .store
            .list_tenant_users(tenant)
            .await
            .map_err(store_error("users could not be read"))?
            .into_iter()
            .map(|u| user_view(u, me.id))
            .collect())
    }

    pub(super) async fn add_user(
        &self,
        ctx: &RequestCtx,
        form: NewUserForm,
    ) -> Result<UserView, AppError> {
        let (me, tenant) = self.tenant_admin(ctx).await?;
        // The form's own rules first (the browser checks them too), then the operation.
        let (email, role) = app::validate::user_form(&form).map_err(bilingual)?;
        let adder = crate::ops::users::Adder::TenantAdmin(crate::ops::TenantActor {
            actor: user_actor(&me),
            tenant,
            ip: ctx.client_ip,
        });
        let password = SecretString::from(form.password);
        let new = crate::ops::users::NewMember {
            email: &email,
            role,
            tenant: Some(tenant),
            password: &password,
        };
        let user =
            crate::ops::users::create(&self.store, &self.hasher, &adder, new, crate::now_ms())
                .await
                .map_err(super::op_error("a user could not be created"))?;
        Ok(user_view(user, me.id))
    }

    pub(super) async fn change_user_active(
        &self,
        ctx: &RequestCtx,
        id: i64,
        active: bool,
    ) -> Result<(), AppError> {
        let (me, tenant) = self.tenant_admin(ctx).await?;
        if id == me.id {
            return Err(AppError::invalid_bilingual(
                "user",
                "you cannot disable yourself",
                "不能停用自己的账号",
            ));
        }
        let (kind, verb) = if active {
            ("user.enabled", "enabled")
        } else {
            ("user.disabled", "disabled")
        };
        let audit = NewAuditEvent::new(
            user_actor(&me),
            kind,
            Outcome::Ok,
            format!("{} {verb} user {id}", me.email),
            crate::now_ms(),
        )
        .ip(ctx.client_ip)
        .detail(serde_json::json!({ "user_id": id }));
        let status = if active {
            UserStatus::Active
        } else {
            UserStatus::Disabled
        };
        let found = self
            .store
            .set_tenant_user_status(tenant, UserId(id), status, audit, crate::now_ms())
            .await
            .map_err(store_error("a user could not be changed"))?;
        if found {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    pub(super) async fn change_user_role(
        &self,
        ctx: &RequestCtx,
        id: i64,
        role: &str,
    ) -> Result<(), AppError> {
        let (me, tenant) = self.tenant_admin(ctx).await?;
        let role = match Role::parse(role.trim()) {
            Some(r @ (Role::TenantAdmin | Role::TenantViewer)) => r,
            _ => {
                return Err(AppError::invalid_bilingual(
                    "role",
                    "choose admin or viewer",
                    "请选择管理员或只读成员",
                ))
            }
        };
        if id == me.id {
            return Err(AppError::invalid_bilingual(
                "user",
                "you cannot change your own role",
                "不能修改自己的角色",
            ));
        }
        let audit = NewAuditEvent::new(
            user_actor(&me),
            "user.role_changed",
            Outcome::Ok,
            format!("{} made user {id} a {role}", me.email),
            crate::now_ms(),
        )
        .ip(ctx.client_ip)
        .detail(serde_json::json!({ "user_id": id, "role": role.as_str() }));
        let found = self
            .store
            .set_tenant_user_role(tenant, UserId(id), role, audit, crate::now_ms())
            .await
            .map_err(store_error("a user could not be changed"))?;
        if found {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}
