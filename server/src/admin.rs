//! The CLI's (and demo seeding's) edge onto the operations: creating tenants, users, components
//! and API keys; enabling, disabling and re-roling users; revoking API keys; starting imports of
//! a component's existing authorizations. Each method decodes what the command line gives (slugs, role names) and calls the
//! one operation in `ops` that the console calls too, mapping its error to one line that names the
//! field or the conflict.

use secrecy::SecretString;

use crate::auth::api_keys::MintedKey;
use crate::auth::PasswordHasher;
use crate::domain::{Actor, ApiKey, Component, ComponentOwner, Role, Tenant, User};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed")]
    Hashing,
}

impl From<crate::ops::OpError> for AdminError {
    fn from(e: crate::ops::OpError) -> Self {
        match e {
            crate::ops::OpError::Conflict { en, .. } => AdminError::Conflict(en),
            crate::ops::OpError::Invalid { field, en, .. } => {
                AdminError::Invalid { field, message: en }
            }
            crate::ops::OpError::NotFound => AdminError::NotFound("not found".into()),
            crate::ops::OpError::Forbidden => AdminError::Invalid {
                field: "actor",
                message: "not allowed".into(),
            },
            crate::ops::OpError::Store(e) => AdminError::Store(e),
            crate::ops::OpError::Other(_) => AdminError::Hashing,
        }
    }
}

fn invalid(field: &'static str) -> impl FnOnce(String) -> AdminError {
    move |message| AdminError::Invalid { field, message }
}

pub struct Admin {
    pub store: Store,
    pub actor: Actor,
}

impl Admin {
    pub async fn create_tenant(&self, slug: &str, name: &str) -> Result<Tenant, AdminError> {
        crate::ops::tenants::create(&self.store, &self.actor, None, slug, name, crate::now_ms())
            .await
            .map_err(AdminError::from)
    }

    async fn tenant(&self, slug: &str) -> Result<Tenant, AdminError> {
        let slug = app::validate::slug(slug).map_err(invalid("tenant"))?;
        self.store
            .tenant_by_slug(&slug)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no tenant with slug {slug:?}")))
    }

    pub async fn create_user(
        &self,
        hasher: &PasswordHasher,
        email: &str,
        role: &str,
        tenant_slug: Option<&str>,
        password: &SecretString,
    ) -> Result<User, AdminError> {
        let role = Role::parse(role.trim()).ok_or_else(|| AdminError::Invalid {
            field: "role",
            message: format!(
                "must be one of {}",
                Role::ALL
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        // Said in the command line's own words (the flag); the operation checks it again.
        let tenant = match (role.is_platform(), tenant_slug) {
            (false, None) => {
                return Err(AdminError::Invalid {
                    field: "tenant",
                    message: format!("a {role} needs --tenant SLUG"),
                })
            }
            (_, Some(slug)) => Some(self.tenant(slug).await?.id),
            (true, None) => None,
        };
        let manager = crate::ops::users::Manager::Platform {
            actor: self.actor.clone(),
            ip: None,
        };
        let new = crate::ops::users::NewMember {
            email,
            role,
            tenant,
            password,
        };
        Ok(crate::ops::users::create(&self.store, hasher, &manager, new, crate::now_ms()).await?)
    }

    /// `tenant_slug == None` creates a shared (platform-owned) component.
    pub async fn create_component(
        &self,
        appid: &str,
        token: &str,
        tenant_slug: Option<&str>,
        appsecret: &SecretString,
        encoding_aes_key: &SecretString,
    ) -> Result<Component, AdminError> {
        let owner = match tenant_slug {
            Some(slug) => ComponentOwner::Tenant(self.tenant(slug).await?.id),
            None => ComponentOwner::Platform,
        };
        let token = SecretString::from(token.to_owned());
        let input = crate::ops::components::NewComponentInput {
            appid,
            name: "",
            token: &token,
            appsecret,
            encoding_aes_key,
        };
        Ok(crate::ops::components::create(
            &self.store,
            &self.actor,
            None,
            owner,
            input,
            crate::now_ms(),
        )
        .await?)
    }

    /// Starts an import of a component's existing authorizations (or finds the running one).
    pub async fn start_import(
        &self,
        appid: &str,
    ) -> Result<(crate::store::AuthorizerImport, bool), AdminError> {
        let component = self
            .store
            .component_by_appid(appid)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no component has appid {appid:?}")))?;
        Ok(
            crate::ops::imports::start(&self.store, &self.actor, None, &component, crate::now_ms())
                .await?,
        )
    }

    pub async fn import_state(
        &self,
        id: i64,
    ) -> Result<crate::store::AuthorizerImport, AdminError> {
        self.store
            .authorizer_import(id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("import {id} is gone")))
    }

    /// A key with every scope.
    pub async fn create_api_key(
        &self,
        tenant_slug: &str,
        name: &str,
    ) -> Result<(ApiKey, MintedKey), AdminError> {
        let all = app::model::ApiScope::ALL.map(|s| s.as_str().to_owned());
        self.create_scoped_api_key(tenant_slug, name, &all).await
    }

    /// A key with the named scopes (checked here: unknown names and an empty list are refused).
    pub async fn create_scoped_api_key(
        &self,
        tenant_slug: &str,
        name: &str,
        scopes: &[String],
    ) -> Result<(ApiKey, MintedKey), AdminError> {
        let tenant = self.tenant(tenant_slug).await?;
        let who = crate::ops::TenantActor {
            actor: self.actor.clone(),
            tenant: tenant.id,
            ip: None,
        };
        let (key, minted) =
            crate::ops::api_keys::create(&self.store, &who, name, scopes, crate::now_ms()).await?;
        Ok((key, minted))
    }

    async fn user(&self, email: &str) -> Result<User, AdminError> {
        let email = app::validate::email(email).map_err(invalid("email"))?;
        self.store
            .user_for_login(&email)
            .await?
            .map(|(user, _)| user)
            .ok_or_else(|| AdminError::NotFound(format!("no user with email {email}")))
    }

    fn manager(&self) -> crate::ops::users::Manager {
        crate::ops::users::Manager::Platform {
            actor: self.actor.clone(),
            ip: None,
        }
    }

    pub async fn set_user_active(&self, email: &str, active: bool) -> Result<User, AdminError> {
        let user = self.user(email).await?;
        let manager = self.manager();
        Ok(
            crate::ops::users::set_active(&self.store, &manager, user.id, active, crate::now_ms())
                .await?,
        )
    }

    pub async fn set_user_role(&self, email: &str, role: &str) -> Result<User, AdminError> {
        let role = match Role::parse(role.trim()) {
            Some(r @ (Role::TenantAdmin | Role::TenantViewer)) => r,
            _ => {
                return Err(AdminError::Invalid {
                    field: "role",
                    message: "must be tenant-admin or tenant-viewer".into(),
                })
            }
        };
        let user = self.user(email).await?;
        let manager = self.manager();
        Ok(
            crate::ops::users::set_role(&self.store, &manager, user.id, role, crate::now_ms())
                .await?,
        )
    }

    /// Revokes the key of `tenant_slug` whose prefix (as the console lists it) is `prefix`.
    pub async fn set_api_key_scopes(
        &self,
        tenant_slug: &str,
        prefix: &str,
        scopes: &[String],
    ) -> Result<ApiKey, AdminError> {
        let tenant = self.tenant(tenant_slug).await?;
        let who = crate::ops::TenantActor {
            actor: self.actor.clone(),
            tenant: tenant.id,
            ip: None,
        };
        let key = crate::ops::api_keys::KeyRef::Prefix(prefix.trim().trim_end_matches('…'));
        crate::ops::api_keys::set_scopes(&self.store, &who, key, scopes, crate::now_ms())
            .await
            .map_err(|e| match e {
                crate::ops::OpError::NotFound => AdminError::NotFound(format!(
                    "tenant {} has no live API key with prefix {prefix:?}",
                    tenant.slug
                )),
                other => other.into(),
            })
    }

    pub async fn revoke_api_key(
        &self,
        tenant_slug: &str,
        prefix: &str,
    ) -> Result<ApiKey, AdminError> {
        let tenant = self.tenant(tenant_slug).await?;
        let who = crate::ops::TenantActor {
            actor: self.actor.clone(),
            tenant: tenant.id,
            ip: None,
        };
        let key = crate::ops::api_keys::KeyRef::Prefix(prefix.trim().trim_end_matches('…'));
        crate::ops::api_keys::revoke(&self.store, &who, key, crate::now_ms())
            .await
            .map_err(|e| match e {
                crate::ops::OpError::NotFound => AdminError::NotFound(format!(
                    "tenant {} has no API key with prefix {prefix:?}",
                    tenant.slug
                )),
                other => other.into(),
            })
    }
}
