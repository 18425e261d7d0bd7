//! Demo mode (`server demo`): the real server on a throwaway SQLite database under
//! `<data_dir>/demo/`, with a generated master key and seeded accounts, so a newcomer can sign in
//! on one machine with one command. Nothing here is used by `serve`.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::admin::{Admin, AdminError};
use crate::auth::PasswordHasher;
use crate::config::{DatabaseUrl, Settings};
use crate::domain::{Actor, AuditKind, NewAuditEvent, Outcome};
use crate::secrets::{Keyring, MasterKey};
use crate::simulator::ComponentSeed;
use crate::startup::StartupError;
use crate::store::Store;

pub const DEMO_PASSWORD: &str = "wxhub-demo";
pub const DEMO_ADMIN_EMAIL: &str = "admin@wxhub.demo";
pub const DEMO_OPERATOR_EMAIL: &str = "operator@wxhub.demo";
pub const DEMO_TENANT_SLUG: &str = "demo";
/// The demo tenant's own component, which the in-process WeChat simulator knows too.
pub const DEMO_COMPONENT_APPID: &str = "wx0de0c0de0000d001";
pub const DEMO_COMPONENT_NAME: &str = "wxhub Demo Platform";
/// Accounts the simulator holds as authorized before wxhub ran the demo component: the import on
/// the components page brings them in.
pub const DEMO_EXISTING_AUTHORIZATIONS: usize = 300;

pub fn demo_dir(settings: &Settings) -> PathBuf {
    settings.data_dir.join("demo")
}

/// Points the settings at the demo database (unless a database URL was configured) and returns
/// the keyring: the configured key, or one kept in `<data_dir>/demo/master.key`, generated on first
/// use with a loud warning.
pub fn prepare(settings: &mut Settings) -> Result<Keyring, StartupError> {
    let dir = demo_dir(settings);
    std::fs::create_dir_all(&dir)
        .map_err(|e| StartupError::Io(format!("cannot create {}: {e}", dir.display())))?;
    if !settings.database_url_configured {
        settings.database_url = DatabaseUrl::sqlite_file(&dir.join("wxhub.db"));
    }
    if let Some(keyring) = settings.keyring()? {
        return Ok(keyring);
    }
    let key_file = dir.join("master.key");
    let key = if key_file.exists() {
        let text = std::fs::read_to_string(&key_file)
            .map_err(|e| StartupError::Io(format!("cannot read {}: {e}", key_file.display())))?;
        MasterKey::parse(&text)
            .map_err(|e| StartupError::MissingKey(format!("{}: {e}", key_file.display())))?
    } else {
        let (key, text) = MasterKey::generate();
        write_private(&key_file, text.expose_secret())?;
        tracing::warn!(
            key_file = %key_file.display(),
            "DEMO MODE generated a master key and stored it next to the data. Anyone who can read that \
             file can decrypt every secret in the demo database. Never put real credentials into demo mode."
        );
        key
    };
    Ok(Keyring::new(key, Vec::new()))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<(), StartupError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StartupError::Io(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| StartupError::Io(format!("cannot write {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<(), StartupError> {
    std::fs::write(path, text)
        .map_err(|e| StartupError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Seeds the demo tenant and accounts; already present ones are left alone.
pub async fn seed(store: &Store) -> Result<(), AdminError> {
    let admin = Admin {
        store: store.clone(),
        actor: Actor::System,
    };
    let hasher = PasswordHasher::new(1);
    let password = SecretString::from(DEMO_PASSWORD);
    if store.tenant_by_slug(DEMO_TENANT_SLUG).await?.is_none() {
        admin
            .create_tenant(DEMO_TENANT_SLUG, "Demo Retail Co.")
            .await?;
    }
    if store.user_for_login(DEMO_ADMIN_EMAIL).await?.is_none() {
        admin
            .create_user(&hasher, DEMO_ADMIN_EMAIL, "platform-admin", None, &password)
            .await?;
    }
    if store.user_for_login(DEMO_OPERATOR_EMAIL).await?.is_none() {
        admin
            .create_user(
                &hasher,
                DEMO_OPERATOR_EMAIL,
                "tenant-admin",
                Some(DEMO_TENANT_SLUG),
                &password,
            )
            .await?;
    }
    Ok(())
}

/// Makes sure the demo tenant owns the demo component and returns what the simulator must know
/// about it: the same secrets the database holds (generated on first run, read back afterwards).
pub async fn seed_component(store: &Store) -> Result<ComponentSeed, AdminError> {
    if let Some(component) = store.component_by_appid(DEMO_COMPONENT_APPID).await? {
        let secrets = store.component_secrets(&component).await?;
        return Ok(ComponentSeed {
            appid: component.appid,
            name: DEMO_COMPONENT_NAME.into(),
            secret: secrets.appsecret.expose_secret().to_owned(),
            token: secrets.message_token.expose_secret().to_owned(),
            encoding_aes_key: secrets.encoding_aes_key.expose_secret().to_owned(),
            notify_url: None,
        });
    }
    let seed = ComponentSeed::generate(DEMO_COMPONENT_APPID, DEMO_COMPONENT_NAME, None);
    let admin = Admin {
        store: store.clone(),
        actor: Actor::System,
    };
    let component = admin
        .create_component(
            &seed.appid,
            &seed.token,
            Some(DEMO_TENANT_SLUG),
            &SecretString::from(seed.secret.clone()),
            &SecretString::from(seed.encoding_aes_key.clone()),
        )
        .await?;
    // The name the link pages show the account owner ("Authorize wxhub Demo Platform").
    if let Some(tenant) = component.owner.tenant_id() {
        let now = crate::now_ms();
        let audit = NewAuditEvent::new(
            Actor::System,
            AuditKind::ComponentUpdated,
            Outcome::Ok,
            format!(
                "component {} named {DEMO_COMPONENT_NAME:?}",
                component.appid
            ),
            now,
        );
        store
            .update_component(
                crate::domain::ComponentOwner::Tenant(tenant),
                component.id,
                DEMO_COMPONENT_NAME,
                None,
                None,
                None,
                audit,
                now,
            )
            .await?;
    }
    Ok(seed)
}

/// What the demo webhook endpoint is called (the one the demo replaces on every start, as the
/// sink's port changes).
pub const DEMO_WEBHOOK_DESCRIPTION: &str = "Demo sink (replaced on every demo start)";

/// Points a webhook endpoint of the demo tenant at the demo's sink, replacing the previous run's,
/// and teaches the sink its secret so the sink's page shows each signature verified.
pub async fn seed_webhook(
    store: &Store,
    sink: &crate::simulator::sink::RunningSink,
) -> Result<(), AdminError> {
    let Some(tenant) = store.tenant_by_slug(DEMO_TENANT_SLUG).await? else {
        return Ok(());
    };
    let who = crate::ops::TenantActor {
        actor: Actor::System,
        tenant: tenant.id,
        ip: None,
    };
    let now = crate::now_ms();
    for old in store.list_webhook_endpoints(tenant.id).await? {
        if old.description == DEMO_WEBHOOK_DESCRIPTION {
            crate::ops::webhooks::delete(store, &who, &old.public_id, now).await?;
        }
    }
    // Reply mode: the sink quotes each text message back, so a message sent from the simulator's
    // chat page gets a passive reply through wxhub.
    let request = crate::ops::webhooks::EndpointRequest {
        url: sink.url("demo"),
        description: Some(DEMO_WEBHOOK_DESCRIPTION.into()),
        mode: Some("reply".into()),
        ..Default::default()
    };
    let (_, secret) = crate::ops::webhooks::create(store, &who, &request, true, now).await?;
    sink.sink.set_secret("demo", secret);
    sink.sink.set_echo("demo");
    Ok(())
}

/// What the demo's alert channels are called (replaced on every start, as the sink's port changes).
pub const DEMO_ROBOT_NAME: &str = "Demo robot (sink)";
pub const DEMO_ALERT_HOOK_NAME: &str = "Demo alert hook (sink)";

/// Points a platform WeCom-robot channel and a demo-tenant webhook channel at the demo's sink,
/// replacing the previous run's, so alerts and "send test notification" land somewhere to look at
/// (the sink's page shows the robot's markdown and the webhook's verified signature).
pub async fn seed_alert_channels(
    store: &Store,
    sink: &crate::simulator::sink::RunningSink,
) -> Result<(), AdminError> {
    use crate::alerting::channels::ChannelRequest;
    use crate::ops::alerting::{change_channel, create_channel, AudienceActor};
    let Some(tenant) = store.tenant_by_slug(DEMO_TENANT_SLUG).await? else {
        return Ok(());
    };
    let now = crate::now_ms();
    let platform = AudienceActor {
        actor: Actor::System,
        audience: crate::store::PLATFORM_AUDIENCE,
        ip: None,
    };
    let tenant_admins = AudienceActor {
        audience: tenant.id.0,
        ..platform.clone()
    };
    for (who, name) in [
        (&platform, DEMO_ROBOT_NAME),
        (&tenant_admins, DEMO_ALERT_HOOK_NAME),
    ] {
        for old in store.notification_channels(who.audience).await? {
            if old.name == name {
                change_channel(store, who, old.id, crate::store::ChannelChange::Delete, now)
                    .await?;
            }
        }
    }
    let robot = ChannelRequest {
        kind: "wecom_robot".into(),
        name: DEMO_ROBOT_NAME.into(),
        url: sink.wecom_url("demo-platform"),
        ..Default::default()
    };
    create_channel(store, &platform, &robot, true, now).await?;
    let hook = ChannelRequest {
        kind: "webhook".into(),
        name: DEMO_ALERT_HOOK_NAME.into(),
        url: sink.url("demo-alerts"),
        ..Default::default()
    };
    if let (_, Some(secret)) = create_channel(store, &tenant_admins, &hook, true, now).await? {
        sink.sink.set_secret("demo-alerts", secret);
    }
    Ok(())
}

/// The authorization-event URL the simulator pushes to: the demo server's own callback.
pub fn notify_url(base: &url::Url, component_appid: &str) -> String {
    format!(
        "{}/wechat/{component_appid}/notify",
        base.as_str().trim_end_matches('/')
    )
}

pub fn banner(url: &url::Url, data_dir: &Path, simulator: &str, sink: &str) -> String {
    let line = "=".repeat(72);
    format!(
        "\n{line}\n  wxhub demo is running at  {url}\n\n  Sign in as  {DEMO_ADMIN_EMAIL}  /  {DEMO_PASSWORD}   (platform admin)\n         or  {DEMO_OPERATOR_EMAIL}  /  {DEMO_PASSWORD}   (tenant admin of \"{DEMO_TENANT_SLUG}\")\n\n  WeChat is simulated at    {simulator}/sim\n  (component {DEMO_COMPONENT_APPID}, four accounts to authorize; wxhub talks to it instead of WeChat)\n  Webhook deliveries land at {sink}\n\n  Demo data lives in {}; delete that folder to start over.\n  WARNING: its master key is stored in the same folder. Never put real credentials into demo mode.\n  Stop with Ctrl-C.\n{line}\n",
        data_dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn settings(dir: &Path) -> Settings {
        let overrides = Overrides {
            data_dir: Some(dir.to_owned()),
            ..Default::default()
        };
        Settings::load_from(None, &overrides, Vec::<(String, String)>::new()).unwrap()
    }

    #[tokio::test]
    async fn demo_generates_a_private_key_once_and_seeds_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        let first = prepare(&mut s).unwrap();
        assert!(
            s.database_url.expose().contains("demo/wxhub.db"),
            "{:?}",
            s.database_url
        );
        let key_file = dir.path().join("demo/master.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let mut again = settings(dir.path());
        assert_eq!(
            prepare(&mut again).unwrap().current_key_id(),
            first.current_key_id(),
            "the key is reused"
        );

        let store = crate::startup::open_store(&s, Some(first)).await.unwrap();
        seed(&store).await.unwrap();
        seed(&store).await.unwrap();
        assert!(store
            .user_for_login(DEMO_ADMIN_EMAIL)
            .await
            .unwrap()
            .is_some());
        let tenant = store
            .tenant_by_slug(DEMO_TENANT_SLUG)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(store.list_tenant_users(tenant.id).await.unwrap().len(), 1);
        let component = seed_component(&store).await.unwrap();
        let again = seed_component(&store).await.unwrap();
        assert_eq!(
            (
                &component.secret,
                &component.token,
                &component.encoding_aes_key
            ),
            (&again.secret, &again.token, &again.encoding_aes_key),
            "the simulator gets the secrets the database holds"
        );
        assert_eq!(
            store
                .list_components_for_tenant(tenant.id)
                .await
                .unwrap()
                .len(),
            1
        );
        store.close().await;

        std::fs::write(&key_file, "garbage").unwrap();
        let err = prepare(&mut settings(dir.path())).unwrap_err().to_string();
        assert!(err.contains("master.key"), "{err}");
    }

    #[test]
    fn a_configured_database_url_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let overrides = Overrides {
            data_dir: Some(dir.path().to_owned()),
            database_url: Some("sqlite:///tmp/elsewhere.db".into()),
            ..Default::default()
        };
        let mut s = Settings::load_from(
            None,
            &overrides,
            vec![("WXHUB_MASTER_KEY".to_owned(), "00".repeat(32))],
        )
        .unwrap();
        prepare(&mut s).unwrap();
        assert_eq!(s.database_url.expose(), "sqlite:///tmp/elsewhere.db");
        assert!(
            !dir.path().join("demo/master.key").exists(),
            "a configured key is used, none generated"
        );
    }
}
