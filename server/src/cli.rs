//! The `server` command line. The names here are a contract (docs, tests and scripts use them):
//! `serve` (default), `demo`, `simulate`, `migrate`, `keygen`, `tenant create`, `user create`,
//! `component create`, `apikey create`.
//!
//! Secrets never come from flags (they would show in the process list): passwords, appsecrets and
//! EncodingAESKeys are read from stdin. Bad arguments exit non-zero with one line on stderr, and a
//! failed command leaves nothing half-created (each create is one transaction).

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::admin::Admin;
use crate::auth::PasswordHasher;
use crate::config::{Overrides, Settings};
use crate::domain::Actor;
use crate::simulator::{ComponentSeed, Seed, SimSettings, Simulator};
use crate::startup::{open_store, Application, StartupError, MISSING_KEY};

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "wxhub: run a WeChat Open Platform third-party platform for many tenants"
)]
pub struct Cli {
    /// TOML settings file (keys as in the configuration reference, lower-case) [env: WXHUB_CONFIG]
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "WXHUB_CONFIG",
        hide_env = true
    )]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default)
    Serve,
    /// Run the server with a throwaway database, a generated key, seeded accounts and an
    /// in-process WeChat simulator
    Demo(DemoArgs),
    /// Run the WeChat simulator alone, for a wxhub running elsewhere
    Simulate(SimulateArgs),
    /// Apply database migrations and exit
    Migrate,
    /// Print a new random master key for WXHUB_MASTER_KEY
    Keygen,
    /// Manage tenants
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users
    #[command(subcommand)]
    User(UserCommand),
    /// Manage components (third-party platforms)
    #[command(subcommand)]
    Component(ComponentCommand),
    /// Manage tenant API keys
    #[command(subcommand)]
    Apikey(ApikeyCommand),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the in-process WeChat simulator listens (port 0 picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3100")]
    pub simulator_listen: std::net::SocketAddr,
}

/// `simulate` listens on the global `--listen` when it is given, else on 127.0.0.1:3100.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Where tickets and authorization events are pushed; `{appid}` stands for the component's appid
    #[arg(long, value_name = "URL")]
    pub notify_url: Option<String>,
    /// JSON file with `components` and `accounts`; without it one component is generated and its
    /// credentials printed, and the demo accounts are offered
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// The generated component's appid (without --seed)
    #[arg(long, value_name = "APPID", default_value = crate::demo::DEMO_COMPONENT_APPID)]
    pub component_appid: String,
    /// Seconds between ticket pushes (WeChat: about 600)
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub ticket_interval: u64,
    /// Lifetime in seconds of component tokens, authorizer tokens and JS-SDK tickets (WeChat: 7200)
    #[arg(long, value_name = "SECS", default_value_t = 7200, value_parser = clap::value_parser!(i64).range(1..=86400))]
    pub token_lifetime: i64,
    /// Accounts every component holds as authorized from before (for `server component import`)
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=50000))]
    pub existing_authorizations: u32,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from the first line of stdin
    Create {
        #[arg(long)]
        email: String,
        /// platform-admin, platform-auditor, tenant-admin or tenant-viewer
        #[arg(long)]
        role: String,
        /// The tenant's slug (tenant roles only)
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Disable a user (their sessions end at once)
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled user
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Make a tenant member an admin or a viewer
    SetRole {
        #[arg(long)]
        email: String,
        /// tenant-admin or tenant-viewer
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ComponentCommand {
    /// Register a component; stdin holds the appsecret, then the EncodingAESKey, one per line
    Create(ComponentCreate),
    /// Import the component's existing authorizations from WeChat (api_get_authorizer_list).
    /// A running wxhub server carries the import out (it resumes after a restart); this command
    /// starts it (or finds the one running) and follows its progress until it ends
    Import {
        /// The component's appid
        #[arg(long)]
        appid: String,
        /// Start it and return at once instead of following it
        #[arg(long)]
        no_wait: bool,
    },
}

#[derive(Debug, Args)]
pub struct ComponentCreate {
    #[arg(long)]
    pub appid: String,
    /// The message-verification Token configured in WeChat's console
    #[arg(long)]
    pub token: String,
    /// Owned by this tenant
    #[arg(long, required_unless_present = "shared", conflicts_with = "shared")]
    pub tenant: Option<String>,
    /// Owned by the platform and usable by every tenant
    #[arg(long)]
    pub shared: bool,
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create an API key; the key is printed alone on the last line, once
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// What the key may do, repeatable or comma-separated: tokens:read, wechat:call,
        /// links:write, webhooks:manage (default: all of them)
        #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Replace the scopes of an API key named by its prefix (wxh_…); instances apply them within
    /// seconds
    Scopes {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        prefix: String,
        /// The key's new scopes, repeatable or comma-separated (at least one)
        #[arg(
            long = "scope",
            value_name = "SCOPE",
            value_delimiter = ',',
            required = true
        )]
        scopes: Vec<String>,
    },
    /// Revoke an API key by the prefix the console lists (wxh_…); instances stop accepting it
    /// within seconds
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        prefix: String,
    },
}

/// Parses arguments; on a usage error prints one line and returns the exit code to use.
pub fn parse() -> Result<Cli, ExitCode> {
    Cli::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        if matches!(
            e.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            let _ = e.print();
            return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
        let rendered = e.render().to_string();
        let first = rendered
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid arguments");
        eprintln!("{} (see --help)", first.trim_end());
        ExitCode::from(2)
    })
}

/// One-line failure: the reason, then exit code 1.
/// One line on stderr: the error and its whole chain of causes (`report::Chain`).
fn fail(error: &(dyn std::error::Error + 'static)) -> ExitCode {
    eprintln!("error: {}", crate::report::Chain(error));
    ExitCode::FAILURE
}

/// [`fail`] for a message of our own.
fn fail_with(message: String) -> ExitCode {
    eprintln!("error: {}", message.lines().next().unwrap_or("failed"));
    ExitCode::FAILURE
}

pub async fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::load(cli.config.as_deref(), &cli.overrides) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    crate::telemetry::init(settings.log_format, &settings.log);
    let command = cli.command.unwrap_or(Command::Serve);
    let result = match command {
        Command::Serve => serve(settings).await,
        Command::Demo(args) => demo(settings, args).await,
        Command::Simulate(args) => {
            let listen = match cli.overrides.listen {
                Some(_) => settings.listen,
                None => std::net::SocketAddr::from(([127, 0, 0, 1], 3100)),
            };
            simulate(listen, args).await
        }
        Command::Migrate => migrate(settings).await,
        Command::Keygen => {
            let (key, text) = crate::secrets::MasterKey::generate();
            eprintln!("key id {}", key.id());
            println!("{}", text.expose_secret());
            Ok(())
        }
        Command::Tenant(TenantCommand::Create { slug, name }) => admin_command(settings, false, |admin| async move {
            let t = admin.create_tenant(&slug, &name).await?;
            println!("created tenant {} ({}) with id {}", t.slug, t.name, t.id);
            Ok(())
        })
        .await,
        Command::User(UserCommand::Create { email, role, tenant }) => {
            let password = match read_stdin_lines(1) {
                Ok(mut lines) => lines.remove(0),
                Err(e) => return fail_with(format!("password: {e}")),
            };
            admin_command(settings, false, |admin| async move {
                let user = admin.create_user(&PasswordHasher::new(1), &email, &role, tenant.as_deref(), &password).await?;
                println!("created user {} ({}) with id {}", user.email, user.role, user.id);
                Ok(())
            })
            .await
        }
        Command::User(UserCommand::Disable { email }) => admin_command(settings, false, |admin| async move {
            let user = admin.set_user_active(&email, false).await?;
            println!("disabled user {} (id {}); their sessions have ended", user.email, user.id);
            Ok(())
        })
        .await,
        Command::User(UserCommand::Enable { email }) => admin_command(settings, false, |admin| async move {
            let user = admin.set_user_active(&email, true).await?;
            println!("enabled user {} (id {})", user.email, user.id);
            Ok(())
        })
        .await,
        Command::User(UserCommand::SetRole { email, role }) => admin_command(settings, false, |admin| async move {
            let user = admin.set_user_role(&email, &role).await?;
            println!("user {} (id {}) is now a {}", user.email, user.id, user.role);
            Ok(())
        })
        .await,
        Command::Component(ComponentCommand::Create(args)) => {
            let mut lines = match read_stdin_lines(2) {
                Ok(lines) => lines,
                Err(e) => return fail_with(format!("appsecret and EncodingAESKey: {e}")),
            };
            let aes = lines.remove(1);
            let secret = lines.remove(0);
            admin_command(settings, true, |admin| async move {
                let c = admin.create_component(&args.appid, &args.token, args.tenant.as_deref(), &secret, &aes).await?;
                let owner = args.tenant.map_or("shared by the platform".to_owned(), |t| format!("owned by tenant {t}"));
                println!("created component {} ({owner}) with id {}", c.appid, c.id);
                Ok(())
            })
            .await
        }
        Command::Component(ComponentCommand::Import { appid, no_wait }) => admin_command(settings, false, |admin| async move {
            let (import, started) = admin.start_import(&appid).await?;
            if started {
                println!("import {} of {appid}'s authorizations started", import.id);
            } else {
                println!(
                    "import {} of {appid}'s authorizations is running already (started by {}); following it",
                    import.id, import.started_by
                );
            }
            if no_wait {
                return Ok(());
            }
            follow_import(&admin, import).await
        })
        .await,
        Command::Apikey(ApikeyCommand::Create { tenant, name, scopes }) => admin_command(settings, false, |admin| async move {
            let (key, minted) = if scopes.is_empty() {
                admin.create_api_key(&tenant, &name).await?
            } else {
                admin.create_scoped_api_key(&tenant, &name, &scopes).await?
            };
            println!(
                "created API key {:?} (id {}, prefix {}, scopes {}) for tenant {tenant}; it is shown only now:",
                key.name,
                key.id,
                key.prefix,
                app::model::ApiScope::join(&key.scopes)
            );
            println!("{}", minted.key.expose_secret());
            Ok(())
        })
        .await,
        Command::Apikey(ApikeyCommand::Scopes { tenant, prefix, scopes }) => admin_command(settings, false, |admin| async move {
            let key = admin.set_api_key_scopes(&tenant, &prefix, &scopes).await?;
            println!(
                "API key {:?} (id {}, prefix {}) of tenant {tenant} now has the scopes {}",
                key.name,
                key.id,
                key.prefix,
                app::model::ApiScope::join(&key.scopes)
            );
            Ok(())
        })
        .await,
        Command::Apikey(ApikeyCommand::Revoke { tenant, prefix }) => admin_command(settings, false, |admin| async move {
            let key = admin.revoke_api_key(&tenant, &prefix).await?;
            println!("revoked API key {:?} (id {}, prefix {}) of tenant {tenant}", key.name, key.id, key.prefix);
            Ok(())
        })
        .await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e.as_ref()),
    }
}

type CommandResult = Result<(), Box<dyn std::error::Error>>;

async fn serve(settings: Settings) -> CommandResult {
    let Some(keyring) = settings.keyring()? else {
        return Err(StartupError::MissingKey(MISSING_KEY.into()).into());
    };
    tracing::info!(settings = ?settings, "starting");
    let app = Application::build(settings, keyring).await?;
    // Debug builds only: the crash tests name fail points for a real process to die at.
    if cfg!(debug_assertions) {
        if let Ok(spec) = std::env::var("WXHUB_FAILPOINTS") {
            if let Err(e) = app.store().fail_points().arm_from_spec(&spec) {
                app.stop().await?;
                return Err(e.into());
            }
            tracing::warn!(%spec, "fail points armed (a test is running)");
        }
    }
    stop_on_signal(app.shutdown_token());
    app.run_until_stopped().await?;
    Ok(())
}

async fn demo(mut settings: Settings, args: DemoArgs) -> CommandResult {
    let keyring = crate::demo::prepare(&mut settings)?;
    let store = open_store(&settings, Some(keyring)).await?;
    crate::demo::seed(&store).await?;
    let component = crate::demo::seed_component(&store).await?;
    let data_dir = crate::demo::demo_dir(&settings);
    let simulator = Simulator::start(
        args.simulator_listen,
        SimSettings {
            // WeChat remembers authorizations across a demo restart, so must its stand-in.
            state_file: Some(data_dir.join("simulator-state.json")),
            // The accounts' users write now and then, so there is traffic to look at.
            chatter: Some(std::time::Duration::from_secs(60)),
            ..SimSettings::default()
        },
        Seed {
            components: Vec::new(),
            accounts: Seed::demo_accounts(),
        },
    )
    .await?;
    let wechat: url::Url = simulator.base_url().parse()?;
    settings.wechat_api_base = wechat.clone();
    settings.wechat_mp_base = wechat.clone();
    settings.wechat_open_base = wechat;
    // The demo tenant's webhook endpoint points at a sink on this machine.
    settings.webhook_allow_private_networks = true;
    let sink = crate::simulator::sink::Sink::start(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| format!("the demo webhook sink: {e}"))?;
    crate::demo::seed_webhook(&store, &sink).await?;
    crate::demo::seed_alert_channels(&store, &sink).await?;
    let app = Application::build_with_store(settings, store).await?;
    // The simulator learns the component once the server's address (its notify URL) is known.
    let notify = crate::demo::notify_url(app.base_url(), &component.appid);
    let appid = component.appid.clone();
    simulator.with_state(|s, _| {
        s.add_component(ComponentSeed {
            notify_url: Some(notify),
            ..component
        })
    })?;
    // Accounts that authorized the component "before wxhub", for the components page's import.
    simulator.with_state(|s, now| {
        let missing = crate::demo::DEMO_EXISTING_AUTHORIZATIONS
            .saturating_sub(s.existing_authorizations(&appid));
        if missing > 0 {
            s.seed_existing_authorizations(&appid, missing, &[1, 2, 3, 4, 15], now)
                .map(|_| ())
        } else {
            Ok(())
        }
    })?;
    // A template library to commit from (and a draft to make a template of); audits pass after a
    // little while, as WeChat's would after hours.
    simulator.with_state(|s, now| {
        let empty = s
            .code
            .libraries
            .get(&appid)
            .is_none_or(|l| l.templates.is_empty() && l.drafts.is_empty());
        s.code.rules = crate::simulator::code::AuditRules {
            after_ms: 20_000,
            ..Default::default()
        };
        if empty {
            s.add_template(&appid, "1.0.0", "Shop template / 商城模板", now)?;
            s.add_template(
                &appid,
                "1.1.0",
                "Shop template with coupons / 商城模板（含优惠券）",
                now,
            )?;
            s.add_draft(&appid, "1.2.0-beta", "Members area / 会员中心", now)?;
        }
        Ok::<_, &str>(())
    })?;
    println!(
        "{}",
        crate::demo::banner(
            app.base_url(),
            &data_dir,
            &simulator.base_url(),
            &format!("http://{}/", sink.addr)
        )
    );
    stop_on_signal(app.shutdown_token());
    let result = app.run_until_stopped().await;
    simulator.stop().await;
    Ok(result?)
}

async fn simulate(listen: std::net::SocketAddr, args: SimulateArgs) -> CommandResult {
    if let Some(url) = &args.notify_url {
        let parsed = url::Url::parse(&url.replace("{appid}", "wx0000000000000000"))
            .map_err(|e| format!("--notify-url: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("--notify-url must be an http or https URL".into());
        }
    }
    let notify_for = |appid: &str| {
        args.notify_url
            .as_ref()
            .map(|u| u.replace("{appid}", appid))
    };
    let (seed, generated) = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--seed {}: {e}", path.display()))?;
            let mut seed: Seed = serde_json::from_str(&text)
                .map_err(|e| format!("--seed {}: {e}", path.display()))?;
            for c in &mut seed.components {
                app::validate::appid("component appid", &c.appid)?;
                if c.notify_url.is_none() {
                    c.notify_url = notify_for(&c.appid);
                }
            }
            for a in &seed.accounts {
                app::validate::appid("account appid", &a.appid)?;
            }
            (seed, None)
        }
        None => {
            let appid = app::validate::appid("--component-appid", &args.component_appid)?;
            let component =
                ComponentSeed::generate(&appid, "Simulated Platform", notify_for(&appid));
            let seed = Seed {
                components: vec![component.clone()],
                accounts: Seed::demo_accounts(),
            };
            (seed, Some(component))
        }
    };
    let settings = SimSettings {
        ticket_interval: std::time::Duration::from_secs(args.ticket_interval),
        lifetimes: crate::simulator::Lifetimes {
            component_token: args.token_lifetime,
            authorizer_token: args.token_lifetime,
            jsapi_ticket: args.token_lifetime,
            ..Default::default()
        },
        ..Default::default()
    };
    let component_appids: Vec<String> = seed.components.iter().map(|c| c.appid.clone()).collect();
    let simulator = Simulator::start(listen, settings, seed).await?;
    if args.existing_authorizations > 0 {
        for appid in &component_appids {
            simulator.with_state(|s, now| {
                s.seed_existing_authorizations(
                    appid,
                    args.existing_authorizations as usize,
                    &[1, 2, 3, 4, 15],
                    now,
                )
            })?;
        }
    }
    let stop = tokio_util::sync::CancellationToken::new();
    stop_on_signal(stop.clone());
    let base = simulator.base_url();
    println!("WeChat simulator listening on {base} (overview: {base}/sim, control API: {base}/sim/control)");
    println!("Point wxhub at it: WXHUB_WECHAT_API_BASE={base} WXHUB_WECHAT_MP_BASE={base} WXHUB_WECHAT_OPEN_BASE={base}");
    if let Some(c) = generated {
        // These are the simulator's own throwaway credentials, printed so they can be registered.
        println!("Generated component {}:", c.appid);
        println!("  Token:          {}", c.token);
        println!("  appsecret:      {}", c.secret);
        println!("  EncodingAESKey: {}", c.encoding_aes_key);
        println!(
            "Register it:  printf '%s\\n%s\\n' {} {} | server component create --appid {} --token {} --tenant <slug>",
            c.secret, c.encoding_aes_key, c.appid, c.token
        );
    }
    stop.cancelled().await;
    simulator.stop().await;
    Ok(())
}

async fn migrate(settings: Settings) -> CommandResult {
    let keyring = settings.keyring()?;
    let store = open_store(&settings, keyring).await?;
    let status = store.schema_status().await?;
    println!(
        "database is at schema version {}",
        status.applied.last().copied().unwrap_or(0)
    );
    store.close().await;
    Ok(())
}

/// Opens the store for an admin command. The key is required when the command stores secrets,
/// and checked against the database whenever it is given.
async fn admin_command<F, Fut>(settings: Settings, needs_key: bool, body: F) -> CommandResult
where
    F: FnOnce(Admin) -> Fut,
    Fut: std::future::Future<Output = Result<(), crate::admin::AdminError>>,
{
    let keyring = settings.keyring()?;
    if needs_key && keyring.is_none() {
        return Err("this command stores secrets and needs WXHUB_MASTER_KEY (or WXHUB_MASTER_KEY_FILE); nothing was changed".into());
    }
    let store = open_store(&settings, keyring).await?;
    let result = body(Admin {
        store: store.clone(),
        actor: Actor::Cli,
    })
    .await;
    store.close().await;
    Ok(result?)
}

/// Prints an import's progress whenever it changes, until it ends. Nothing moving for a while
/// usually means no wxhub server is running against this database: that is said once.
async fn follow_import(
    admin: &Admin,
    mut import: crate::store::AuthorizerImport,
) -> Result<(), crate::admin::AdminError> {
    let line = |i: &crate::store::AuthorizerImport| {
        format!(
            "{} / {} read: {} new, {} authorized again, {} already held, {} failed{}",
            i.next_offset,
            i.total.map_or_else(|| "?".to_owned(), |t| t.to_string()),
            i.imported,
            i.updated,
            i.unchanged,
            i.failed,
            i.last_error
                .as_deref()
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        )
    };
    println!("{}", line(&import));
    let mut last_change = std::time::Instant::now();
    let mut warned = false;
    while import.status == "running" {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let now = admin.import_state(import.id).await?;
        if now != import {
            println!("{}", line(&now));
            last_change = std::time::Instant::now();
            import = now;
        } else if !warned && last_change.elapsed() > std::time::Duration::from_secs(15) {
            eprintln!("nothing has moved for 15 s: is a wxhub server (`server serve`) running against this database? The import goes on when one is; Ctrl-C stops following, not the import.");
            warned = true;
        }
    }
    match import.status.as_str() {
        "done" => {
            println!("import {} done", import.id);
            Ok(())
        }
        _ => Err(crate::admin::AdminError::Conflict(format!(
            "import {} failed: {}",
            import.id,
            import.last_error.unwrap_or_default()
        ))),
    }
}

/// Reads exactly `n` non-empty lines from stdin (trailing `\r\n` stripped).
fn read_stdin_lines(n: usize) -> Result<Vec<SecretString>, String> {
    let stdin = std::io::stdin();
    let mut lines = Vec::with_capacity(n);
    let mut handle = stdin.lock();
    for i in 0..n {
        let mut line = String::new();
        let read = handle
            .read_line(&mut line)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        let value = line.trim_end_matches(['\n', '\r']).to_owned();
        if read == 0 || value.is_empty() {
            return Err(format!(
                "expected {n} line(s) on stdin, line {} is missing or empty",
                i + 1
            ));
        }
        lines.push(SecretString::from(value));
    }
    Ok(lines)
}

/// Cancels `token` on SIGTERM or Ctrl-C.
/// Cancels `token` on Ctrl-C or SIGTERM. The SIGTERM handler is installed before this returns
/// (not in the spawned task), so a signal sent right after startup output is never the default
/// "terminate at once".
fn stop_on_signal(token: tokio_util::sync::CancellationToken) {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match term {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => tracing::info!("interrupted; shutting down"),
                _ = term.recv() => tracing::info!("SIGTERM; shutting down"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
        token.cancel();
    });
}
