//! Components (third-party platforms). Their secrets are sealed here, on the way in, and opened
//! only by `component_secrets`; every other read returns the public part.

use secrecy::SecretString;

use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{
    Component, ComponentId, ComponentOwner, ComponentSecrets, CredentialKind, NewAuditEvent,
    NewComponent, TenantId,
};

const COLUMNS: &str = "id, appid, owner_tenant_id, name, status, created_at";

#[derive(sqlx::FromRow)]
struct ComponentRow {
    id: i64,
    appid: String,
    owner_tenant_id: Option<i64>,
    name: String,
    status: String,
    created_at: i64,
}

/// A component and the health of its platform credentials, as the tenant dashboard shows it.
#[derive(Debug, Clone)]
pub struct ComponentHealthRow {
    pub component: Component,
    pub ticket_issued_at: Option<i64>,
    pub token_expires_at: Option<i64>,
    pub token_failure_count: i64,
    pub token_last_error: Option<String>,
    pub token_last_error_code: Option<i64>,
    pub token_last_error_at: Option<i64>,
    pub last_push_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct HealthRow {
    #[sqlx(flatten)]
    component: ComponentRow,
    ticket_issued_at: Option<i64>,
    token_expires_at: Option<i64>,
    token_failure_count: i64,
    token_last_error: Option<String>,
    token_last_error_code: Option<i64>,
    token_last_error_at: Option<i64>,
    last_push_at: Option<i64>,
}

impl From<HealthRow> for ComponentHealthRow {
    fn from(r: HealthRow) -> Self {
        ComponentHealthRow {
            component: r.component.into(),
            ticket_issued_at: r.ticket_issued_at,
            token_expires_at: r.token_expires_at,
            token_failure_count: r.token_failure_count,
            token_last_error: r.token_last_error,
            token_last_error_code: r.token_last_error_code,
            token_last_error_at: r.token_last_error_at,
            last_push_at: r.last_push_at,
        }
    }
}

impl From<ComponentRow> for Component {
    fn from(r: ComponentRow) -> Self {
        Component {
            id: ComponentId(r.id),
            owner: r.owner_tenant_id.map_or(ComponentOwner::Platform, |t| {
                ComponentOwner::Tenant(TenantId(t))
            }),
            appid: r.appid,
            name: r.name,
            active: r.status == "active",
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SecretsRow {
    message_token_sealed: String,
    appsecret_sealed: String,
    encoding_aes_key_sealed: String,
    previous_encoding_aes_key_sealed: Option<String>,
}

/// The associated data binding a sealed component secret to its component and field.
fn purpose(appid: &str, field: &str) -> String {
    format!("component:{appid}:{field}")
}

impl Store {
    pub async fn create_component(
        &self,
        new: &NewComponent,
        audit: NewAuditEvent,
        now: i64,
    ) -> Result<Component, StoreError> {
        let keyring = self.keyring()?;
        let s = &new.secrets;
        let token = keyring.seal_str(&purpose(&new.appid, "message_token"), &s.message_token);
        let secret = keyring.seal_str(&purpose(&new.appid, "appsecret"), &s.appsecret);
        let aes = keyring.seal_str(
            &purpose(&new.appid, "encoding_aes_key"),
            &s.encoding_aes_key,
        );
        let previous = s
            .previous_encoding_aes_key
            .as_ref()
            .map(|k| keyring.seal_str(&purpose(&new.appid, "previous_encoding_aes_key"), k));
        let sql = format!(
            "INSERT INTO components (appid, owner_tenant_id, name, message_token_sealed, appsecret_sealed, \
             encoding_aes_key_sealed, previous_encoding_aes_key_sealed, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8) RETURNING {COLUMNS}"
        );
        let row: ComponentRow = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: ComponentRow = sqlx::query_as(&sql)
                .bind(&new.appid)
                .bind(new.owner.tenant_id().map(|t| t.0))
                .bind(&new.name)
                .bind(&token)
                .bind(&secret)
                .bind(&aes)
                .bind(&previous)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let audit = audit
                .clone()
                .tenant(new.owner.tenant_id())
                .component(ComponentId(row.id));
            bind_audit!(sqlx::query(super::audit::INSERT), &audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(row)
        })?;
        Ok(row.into())
    }

    /// A component by appid: the callback path, where WeChat names the component in the URL.
    pub async fn component_by_appid(&self, appid: &str) -> Result<Option<Component>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM components WHERE appid = $1");
        let row: Option<ComponentRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(appid)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(Component::from))
    }

    /// A component by id: the engine's path (credentials name their component by id).
    pub async fn component_by_id(&self, id: ComponentId) -> Result<Option<Component>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM components WHERE id = $1");
        let row: Option<ComponentRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(id.0)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(Component::from))
    }

    /// The components a tenant may use: its own and the platform's shared ones.
    pub async fn list_components_for_tenant(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<Component>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM components WHERE owner_tenant_id = $1 OR owner_tenant_id IS NULL ORDER BY appid");
        let rows: Vec<ComponentRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(Component::from).collect())
    }

    /// The health of the components a tenant may use, in one query: each component with its
    /// ticket's age, its platform token's expiry and last failure, and its last received push.
    /// The dashboard's path (one read however many components there are).
    pub async fn component_health_for_tenant(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<ComponentHealthRow>, StoreError> {
        self.component_health(Some(tenant)).await
    }

    /// The health of every component (platform staff's overview), in one query.
    pub async fn component_health_all(&self) -> Result<Vec<ComponentHealthRow>, StoreError> {
        self.component_health(None).await
    }

    async fn component_health(
        &self,
        tenant: Option<TenantId>,
    ) -> Result<Vec<ComponentHealthRow>, StoreError> {
        let sql = "SELECT c.id, c.appid, c.owner_tenant_id, c.name, c.status, c.created_at, \
             t.issued_at AS ticket_issued_at, k.expires_at AS token_expires_at, \
             COALESCE(k.failure_count, 0) AS token_failure_count, k.last_error AS token_last_error, \
             k.last_error_code AS token_last_error_code, k.last_error_at AS token_last_error_at, \
             (SELECT MAX(p.received_at) FROM received_pushes p WHERE p.component_id = c.id) AS last_push_at \
             FROM components c \
             LEFT JOIN credentials t ON t.component_id = c.id AND t.kind = $2 AND t.subject = '' \
             LEFT JOIN credentials k ON k.component_id = c.id AND k.kind = $3 AND k.subject = '' \
             WHERE $1 = 0 OR c.owner_tenant_id = $1 OR c.owner_tenant_id IS NULL ORDER BY c.appid";
        let rows: Vec<HealthRow> = read!(self, |pool| sqlx::query_as(sql)
            .bind(tenant.map_or(0, |t| t.0))
            .bind(CredentialKind::ComponentVerifyTicket.as_str())
            .bind(CredentialKind::ComponentAccessToken.as_str())
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(ComponentHealthRow::from).collect())
    }

    /// Every component. Platform-staff path.
    pub async fn list_all_components(&self) -> Result<Vec<Component>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM components ORDER BY appid");
        let rows: Vec<ComponentRow> =
            read!(self, |pool| sqlx::query_as(&sql).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(Component::from).collect())
    }

    /// Renames a component of `owner` (a tenant's own, or a shared one) and replaces whichever secrets are given (each sealed
    /// anew). A new EncodingAESKey keeps the current one as the previous key, so pushes sealed
    /// with it during the switch in WeChat's console still open. `None` when `owner` owns no such
    /// component.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_component(
        &self,
        owner: ComponentOwner,
        id: ComponentId,
        name: &str,
        token: Option<&SecretString>,
        appsecret: Option<&SecretString>,
        encoding_aes_key: Option<&SecretString>,
        audit: NewAuditEvent,
        now: i64,
    ) -> Result<Option<Component>, StoreError> {
        let Some(current) = self.component_by_id(id).await? else {
            return Ok(None);
        };
        if current.owner != owner {
            return Ok(None);
        }
        let tenant = match owner {
            ComponentOwner::Tenant(t) => Some(t),
            ComponentOwner::Platform => None,
        };
        let keyring = self.keyring()?;
        let appid = current.appid.clone();
        let seal =
            |field: &str, value: &SecretString| keyring.seal_str(&purpose(&appid, field), value);
        let token = token.map(|t| seal("message_token", t));
        let appsecret = appsecret.map(|t| seal("appsecret", t));
        let (aes, previous) = match encoding_aes_key {
            Some(key) => {
                let old = self.component_secrets(&current).await?.encoding_aes_key;
                (
                    Some(seal("encoding_aes_key", key)),
                    Some(seal("previous_encoding_aes_key", &old)),
                )
            }
            None => (None, None),
        };
        let sql = format!(
            "UPDATE components SET name = $1, message_token_sealed = COALESCE($2, message_token_sealed), \
             appsecret_sealed = COALESCE($3, appsecret_sealed), encoding_aes_key_sealed = COALESCE($4, encoding_aes_key_sealed), \
             previous_encoding_aes_key_sealed = COALESCE($5, previous_encoding_aes_key_sealed), updated_at = $6 \
             WHERE id = $7 AND {} RETURNING {COLUMNS}",
            match owner {
                ComponentOwner::Tenant(_) => "owner_tenant_id = $8",
                ComponentOwner::Platform => "owner_tenant_id IS NULL AND $8 IS NULL",
            }
        );
        let row: Option<ComponentRow> = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: Option<ComponentRow> = sqlx::query_as(&sql)
                .bind(name)
                .bind(token.as_deref())
                .bind(appsecret.as_deref())
                .bind(aes.as_deref())
                .bind(previous.as_deref())
                .bind(now)
                .bind(id.0)
                .bind(tenant.map(|t| t.0))
                .fetch_optional(&mut *tx)
                .await?;
            if row.is_some() {
                let audit = audit.clone().tenant(tenant).component(id);
                bind_audit!(sqlx::query(super::audit::INSERT), &audit)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(row)
        })?;
        Ok(row.map(Component::from))
    }

    /// Opens a component's secrets. Only the protocol code (callbacks, engine) calls this.
    pub async fn component_secrets(
        &self,
        component: &Component,
    ) -> Result<ComponentSecrets, StoreError> {
        let keyring = self.keyring()?;
        let row: SecretsRow = read!(self, |pool| {
            sqlx::query_as(
                "SELECT message_token_sealed, appsecret_sealed, encoding_aes_key_sealed, previous_encoding_aes_key_sealed \
                 FROM components WHERE id = $1",
            )
            .bind(component.id.0)
            .fetch_one(pool)
            .await
        })?;
        let appid = &component.appid;
        let open = |field: &str, sealed: &str| -> Result<SecretString, StoreError> {
            Ok(keyring.open_str(&purpose(appid, field), sealed)?)
        };
        Ok(ComponentSecrets {
            message_token: open("message_token", &row.message_token_sealed)?,
            appsecret: open("appsecret", &row.appsecret_sealed)?,
            encoding_aes_key: open("encoding_aes_key", &row.encoding_aes_key_sealed)?,
            previous_encoding_aes_key: row
                .previous_encoding_aes_key_sealed
                .as_deref()
                .map(|s| open("previous_encoding_aes_key", s))
                .transpose()?,
        })
    }
}
