//! The `server` binary's contract: command names, stdin secrets, one-line errors, nothing
//! half-created, the master-key rules, logs without secrets, and SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{raw_count, raw_strings, Backend, TestDb};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const OTHER_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
const APPSECRET: &str = "0123456789abcdef0123456789abcdef";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn server(db: &TestDb, key: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WXHUB_DATABASE_URL", db.url.expose())
        .env("WXHUB_LOG", "warn")
        .env("WXHUB_METRICS_LISTEN", "127.0.0.1:0")
        .current_dir(std::env::temp_dir());
    if let Some(k) = key {
        cmd.env("WXHUB_MASTER_KEY", k);
    }
    cmd
}

fn run(mut cmd: Command, args: &[&str], stdin: &str) -> Output {
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A failed command: non-zero, exactly one line on stderr that contains `needle`.
fn assert_one_line_failure(o: &Output, needle: &str) {
    assert!(!o.status.success(), "should fail: {}", stdout(o));
    let err = stderr(o);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected, got: {err}"
    );
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
}

on_both_databases! {
    tenant_user_component_and_apikey_creation => async |db: &TestDb| {
        let o = run(server(db, None), &["tenant", "create", "--slug", "acme", "--name", "Acme Ltd"], "");
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("created tenant acme"));
        assert_one_line_failure(&run(server(db, None), &["tenant", "create", "--slug", "acme", "--name", "Again"], ""), "already exists");
        assert_one_line_failure(&run(server(db, None), &["tenant", "create", "--slug", "Bad Slug", "--name", "X"], ""), "slug");

        let o = run(server(db, None), &["user", "create", "--email", "Op@Acme.test", "--role", "tenant-admin", "--tenant", "acme"], "a long password here\n");
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("op@acme.test"));
        let o = run(server(db, None), &["user", "create", "--email", "root@wxhub.test", "--role", "platform-admin"], "another long password");
        assert!(o.status.success(), "no trailing newline is fine: {}", stderr(&o));
        let hashes = raw_strings(db, "SELECT password_hash FROM users").await;
        assert!(hashes.iter().all(|h| h.starts_with("$argon2id$") && !h.contains("long password")));

        let o = run(server(db, Some(KEY)), &["component", "create", "--appid", "wx3c0d9b0e1a2f4c5d", "--token", "componenttoken", "--tenant", "acme"], &format!("{APPSECRET}\n{AES_KEY}\n"));
        assert!(o.status.success(), "{}", stderr(&o));
        let o = run(server(db, Some(KEY)), &["component", "create", "--appid", "wx0000000000000001", "--token", "sharedtoken", "--shared"], &format!("{APPSECRET}\r\n{AES_KEY}\r\n"));
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("shared"));
        let sealed = raw_strings(db, "SELECT appsecret_sealed || encoding_aes_key_sealed || message_token_sealed FROM components").await;
        assert_eq!(sealed.len(), 2);
        assert!(sealed.iter().all(|s| !s.contains(APPSECRET) && !s.contains(AES_KEY) && !s.contains("componenttoken")));

        let o = run(server(db, None), &["apikey", "create", "--tenant", "acme", "--name", "erp"], "");
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        let key = out.trim_end().lines().last().unwrap();
        assert!(key.starts_with("wxh_") && key.len() == 47 && !key.contains(' '), "key alone on the last line: {out}");
        let stored = raw_strings(db, "SELECT key_hash FROM api_keys").await;
        assert_eq!(stored, vec![wxhub::secrets::fingerprint(key)]);
        assert!(!stored[0].contains(key));

        // The running platform's keys and people, managed without the console.
        let prefix = &key[..12];
        assert_eq!(raw_strings(db, "SELECT scopes FROM api_keys").await, vec!["tokens:read wechat:call links:write webhooks:manage"]);
        let o = run(server(db, None), &["apikey", "scopes", "--tenant", "acme", "--prefix", prefix, "--scope", "wechat:call,tokens:read"], "");
        assert!(o.status.success() && stdout(&o).contains("now has the scopes tokens:read wechat:call"), "{}", stderr(&o));
        let o = run(server(db, None), &["apikey", "create", "--tenant", "acme", "--name", "gateway only", "--scope", "wechat:call"], "");
        assert!(o.status.success() && stdout(&o).contains("scopes wechat:call)"), "{}", stderr(&o));
        assert_eq!(raw_strings(db, "SELECT scopes FROM api_keys ORDER BY id").await, vec!["tokens:read wechat:call", "wechat:call"]);
        let o = run(server(db, None), &["apikey", "revoke", "--tenant", "acme", "--prefix", prefix], "");
        assert!(o.status.success() && stdout(&o).contains("revoked API key \"erp\""), "{}", stderr(&o));
        assert_eq!(raw_count(db, "api_keys WHERE revoked_at IS NOT NULL").await, 1);
        let o = run(server(db, None), &["user", "set-role", "--email", "op@acme.test", "--role", "tenant-viewer"], "");
        assert!(o.status.success() && stdout(&o).contains("now a tenant-viewer"), "{}", stderr(&o));
        let o = run(server(db, None), &["user", "disable", "--email", "op@acme.test"], "");
        assert!(o.status.success() && stdout(&o).contains("disabled user op@acme.test"), "{}", stderr(&o));
        let o = run(server(db, None), &["user", "enable", "--email", "op@acme.test"], "");
        assert!(o.status.success(), "{}", stderr(&o));
        // An import is started for the running server to carry out; asking again finds it.
        let o = run(server(db, None), &["component", "import", "--appid", "wx3c0d9b0e1a2f4c5d", "--no-wait"], "");
        assert!(o.status.success() && stdout(&o).contains("import 1 of wx3c0d9b0e1a2f4c5d's authorizations started"), "{}{}", stdout(&o), stderr(&o));
        let o = run(server(db, None), &["component", "import", "--appid", "wx3c0d9b0e1a2f4c5d", "--no-wait"], "");
        assert!(o.status.success() && stdout(&o).contains("is running already"), "{}", stdout(&o));
        assert_eq!(raw_count(db, "authorizer_imports").await, 1);
        assert_eq!(raw_count(db, "jobs WHERE kind = 'import_authorizers'").await, 1);

        let kinds = raw_strings(db, "SELECT actor_kind || ':' || kind FROM audit_events ORDER BY id").await;
        assert_eq!(kinds, vec!["cli:tenant.created", "cli:user.created", "cli:user.created", "cli:component.created", "cli:component.created", "cli:api_key.created",
                               "cli:api_key.scopes_changed", "cli:api_key.created", "cli:api_key.revoked", "cli:user.role_changed", "cli:user.disabled", "cli:user.enabled",
                               "cli:component.import_started"]);
    };

    bad_arguments_fail_on_one_line_and_create_nothing => async |db: &TestDb| {
        assert!(run(server(db, None), &["tenant", "create", "--slug", "acme", "--name", "Acme"], "").status.success());
        let users_before = raw_count(db, "users").await;
        let cases: Vec<(Vec<&str>, &str, &str)> = vec![
            (vec!["user", "create", "--email", "a@b.io", "--role", "tenant-admin"], "pw long enough\n", "--tenant"),
            (vec!["user", "create", "--email", "a@b.io", "--role", "platform-admin", "--tenant", "acme"], "pw long enough\n", "no tenant"),
            (vec!["user", "create", "--email", "a@b.io", "--role", "god", "--tenant", "acme"], "pw long enough\n", "role"),
            (vec!["user", "create", "--email", "not-an-email", "--role", "tenant-admin", "--tenant", "acme"], "pw long enough\n", "email"),
            (vec!["user", "create", "--email", "a@b.io", "--role", "tenant-admin", "--tenant", "nope"], "pw long enough\n", "no tenant"),
            (vec!["user", "create", "--email", "a@b.io", "--role", "tenant-admin", "--tenant", "acme"], "short\n", "password"),
            (vec!["user", "create", "--email", "a@b.io", "--role", "tenant-admin", "--tenant", "acme"], "", "stdin"),
            (vec!["apikey", "create", "--tenant", "nope", "--name", "k"], "", "no tenant"),
            (vec!["apikey", "create", "--tenant", "acme", "--name", "  "], "", "name"),
            (vec!["apikey", "revoke", "--tenant", "acme", "--prefix", "wxh_nothere"], "", "no API key"),
            (vec!["apikey", "create", "--tenant", "acme", "--name", "k", "--scope", "tokens:write"], "", "unknown scope"),
            (vec!["apikey", "create", "--tenant", "acme", "--name", "k", "--scope", ""], "", "scope"),
            (vec!["apikey", "scopes", "--tenant", "acme", "--prefix", "wxh_nothere", "--scope", "wechat:call"], "", "no live API key"),
            (vec!["apikey", "revoke", "--tenant", "nope", "--prefix", "wxh_nothere"], "", "no tenant"),
            (vec!["user", "disable", "--email", "nobody@acme.test"], "", "no user"),
            (vec!["user", "disable", "--email", "\u{7}"], "", "email"),
            (vec!["user", "set-role", "--email", "nobody@acme.test", "--role", "platform-admin"], "", "role"),
            (vec!["component", "import", "--appid", "wx3c0d9b0e1a2f4c5d"], "", "no component"),
            (vec!["component", "import", "--appid", "'; DROP TABLE authorizers; --"], "", "no component"),
            (vec!["component", "import", "--appid", ""], "", "no component"),
        ];
        for (args, stdin, needle) in cases {
            let o = run(server(db, Some(KEY)), &args, stdin);
            assert_one_line_failure(&o, needle);
            assert_eq!(o.status.code(), Some(1), "{args:?}");
        }
        assert_eq!(raw_count(db, "users").await, users_before);
        assert_eq!(raw_count(db, "api_keys").await, 0);
        assert_eq!(raw_count(db, "authorizer_imports").await, 0);

        let comp = ["component", "create", "--appid", "wx3c0d9b0e1a2f4c5d", "--token", "tok123", "--tenant", "acme"];
        assert_one_line_failure(&run(server(db, None), &comp, &format!("{APPSECRET}\n{AES_KEY}\n")), "WXHUB_MASTER_KEY");
        assert_one_line_failure(&run(server(db, Some(KEY)), &comp, &format!("{APPSECRET}\n")), "line 2");
        assert_one_line_failure(&run(server(db, Some(KEY)), &comp, &format!("{APPSECRET}\nshort\n")), "EncodingAESKey");
        assert_one_line_failure(&run(server(db, Some(KEY)), &comp, &format!("nope\n{AES_KEY}\n")), "appsecret");
        assert_one_line_failure(&run(server(db, Some(KEY)), &["component", "create", "--appid", "gh_123", "--token", "tok123", "--shared"], &format!("{APPSECRET}\n{AES_KEY}\n")), "appid");
        assert_one_line_failure(&run(server(db, Some("not a key")), &comp, &format!("{APPSECRET}\n{AES_KEY}\n")), "WXHUB_MASTER_KEY");
        assert_eq!(raw_count(db, "components").await, 0);

        // Usage errors (clap) exit 2, also on one line.
        for args in [vec!["frobnicate"], vec!["tenant", "create", "--slug", "x"], vec!["component", "create", "--appid", "wx3c0d9b0e1a2f4c5d", "--token", "t12", "--tenant", "acme", "--shared"], vec!["--listen"]] {
            let o = run(server(db, None), &args, "");
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{args:?}: {}", stderr(&o));
        }
        let o = run(server(db, None), &["--help"], "");
        assert!(o.status.success() && stdout(&o).contains("tenant") && stdout(&o).contains("apikey"));
    };

    serve_refuses_a_wrong_key_and_changes_nothing => async |db: &TestDb| {
        assert!(run(server(db, Some(KEY)), &["migrate"], "").status.success());
        assert!(run(server(db, Some(KEY)), &["tenant", "create", "--slug", "acme", "--name", "Acme"], "").status.success());
        let before = raw_strings(db, "SELECT key || '=' || value FROM meta").await;
        let audit_before = raw_count(db, "audit_events").await;
        let o = run(server(db, Some(OTHER_KEY)), &["serve", "--listen", "127.0.0.1:0"], "");
        assert_one_line_failure(&o, "not the key this database was set up with");
        assert!(!stderr(&o).contains(OTHER_KEY) && !stderr(&o).contains(KEY));
        assert_eq!(raw_strings(db, "SELECT key || '=' || value FROM meta").await, before);
        assert_eq!(raw_count(db, "audit_events").await, audit_before);
        let o = run(server(db, Some(OTHER_KEY)), &["component", "create", "--appid", "wx3c0d9b0e1a2f4c5d", "--token", "tok123", "--shared"], &format!("{APPSECRET}\n{AES_KEY}\n"));
        assert_one_line_failure(&o, "not the key");
        assert_eq!(raw_count(db, "components").await, 0);
    };
}

#[test]
fn serve_without_a_key_stops_before_touching_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("fresh").join("wxhub.db");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env_clear().env(
        "WXHUB_DATABASE_URL",
        format!("sqlite://{}?mode=rwc", db_path.display()),
    );
    let o = run(cmd, &["serve"], "");
    assert_one_line_failure(&o, "WXHUB_MASTER_KEY is not set");
    assert!(
        !db_path.exists() && !db_path.parent().unwrap().exists(),
        "nothing created"
    );
}

#[test]
fn garbage_configuration_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("wxhub.toml");
    std::fs::write(&toml, "listen = 12\n").unwrap();
    for (env, args, needle) in [
        (vec![("WXHUB_LISTEN", "nowhere")], vec!["migrate"], "listen"),
        (
            vec![("WXHUB_PUBLIC_URL", "javascript:alert(1)")],
            vec!["migrate"],
            "public_url",
        ),
        (
            vec![],
            vec!["--config", toml.to_str().unwrap(), "migrate"],
            "listen",
        ),
        (
            vec![],
            vec!["--config", "/no/such/file.toml", "migrate"],
            "/no/such/file.toml",
        ),
        (
            vec![("WXHUB_DATABASE_URL", "mysql://root:hunter2@db/x")],
            vec!["migrate"],
            "database_url",
        ),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.env_clear().current_dir(dir.path());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let o = run(cmd, &args, "");
        assert_one_line_failure(&o, needle);
        assert!(!stderr(&o).contains("hunter2"));
    }
}

#[test]
fn keygen_prints_a_usable_key() {
    let o = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("keygen")
        .output()
        .unwrap();
    assert!(o.status.success());
    let key = stdout(&o);
    assert!(
        wxhub::secrets::MasterKey::parse(key.trim()).is_ok(),
        "{key}"
    );
}

type SharedLog = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Collects the child's stderr lines in the background; returns the bound address from the
/// "listening" log line once it appears.
fn wait_for_listen(child: &mut std::process::Child, log: &SharedLog) -> String {
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(line) = log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("wxhub is listening"))
        {
            let v: serde_json::Value = serde_json::from_str(line).expect("json log line");
            return v["local_addr"].as_str().unwrap().to_owned();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server did not report listening: {:?}", log.lock().unwrap());
}

#[tokio::test]
async fn sigterm_stops_serve_cleanly_and_json_logs_hold_no_secrets() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let mut cmd = server(&db, Some(KEY));
    cmd.env("WXHUB_LOG_FORMAT", "json")
        .env("WXHUB_LOG", "info")
        .env("WXHUB_LISTEN", "127.0.0.1:0");
    let mut child = cmd
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = SharedLog::default();
    let addr = wait_for_listen(&mut child, &log);
    let res = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(res.status(), 200);
    // The process list shows no secret: they come from the environment and stdin only.
    let cmdline =
        std::fs::read_to_string(format!("/proc/{}/cmdline", child.id())).unwrap_or_default();
    assert!(!cmdline.contains(KEY));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}: {:?}", log.lock().unwrap());
    // Give the reader thread the last lines (the pipe is closed once the child exited).
    let stopped = || {
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("\"stopped\""))
    };
    let until = Instant::now() + Duration::from_secs(5);
    while !stopped() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l.contains("SIGTERM")), "{log:?}");
    assert!(
        log.iter().any(|l| l.contains("\"stopped\"")),
        "clean stop logged: {log:?}"
    );
    for line in &log {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not JSON: {line}"
        );
        assert!(!line.contains(KEY), "master key in the log: {line}");
    }
    assert!(
        log.iter()
            .any(|l| l.contains("key_id") || l.contains("Inline([redacted])")),
        "settings are logged, redacted: {log:?}"
    );
}

#[test]
fn migrate_prints_the_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let o = Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env(
            "WXHUB_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .arg("migrate")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // Every file in migrations/sqlite was applied.
    let newest = common::newest_migration();
    assert!(newest >= 9);
    assert!(
        stdout(&o).contains(&format!("schema version {newest}")),
        "{}",
        stdout(&o)
    );
    assert!(Path::new(&db).exists());
}

#[tokio::test]
async fn a_failed_migration_and_a_refused_connection_print_their_causes() {
    // A database where a table of the first migration already exists: the migration fails, and
    // the one line on stderr says why, down to SQLite's own words.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("taken.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE meta (x TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let migrate = |url: &str| {
        Command::new(env!("CARGO_BIN_EXE_server"))
            .env_clear()
            .env("WXHUB_DATABASE_URL", url)
            .arg("migrate")
            .output()
            .unwrap()
    };
    let o = migrate(&url);
    assert_one_line_failure(&o, "migration failed");
    let err = stderr(&o);
    assert!(
        err.contains("table meta already exists"),
        "the cause: {err}"
    );
    // A database that refuses the connection: the reason, and no password.
    let o = migrate("postgres://wxhub:hunter2@127.0.0.1:1/wxhub");
    assert_one_line_failure(&o, "cannot reach PostgreSQL");
    let err = stderr(&o);
    assert!(err.to_lowercase().contains("refused"), "the cause: {err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn simulate_refuses_garbage_flags_and_seeds() {
    let bin = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_server"));
        c.env_clear().env("WXHUB_LOG", "warn");
        c
    };
    assert_one_line_failure(
        &run(bin(), &["simulate", "--listen", "nowhere"], ""),
        "listen",
    );
    for args in [
        &["simulate", "--ticket-interval", "0"][..],
        &["simulate", "--token-lifetime", "-5"],
        &["simulate", "--existing-authorizations", "-1"],
        &["simulate", "--existing-authorizations", "50001"],
        &["simulate", "--existing-authorizations", "many"],
    ] {
        let o = run(bin(), args, "");
        assert_eq!(o.status.code(), Some(2), "{args:?}: usage errors exit 2");
    }
    assert_one_line_failure(
        &run(
            bin(),
            &[
                "simulate",
                "--listen",
                "127.0.0.1:0",
                "--notify-url",
                "ftp://x/{appid}",
            ],
            "",
        ),
        "--notify-url",
    );
    assert_one_line_failure(
        &run(
            bin(),
            &[
                "simulate",
                "--listen",
                "127.0.0.1:0",
                "--component-appid",
                "WXBAD",
            ],
            "",
        ),
        "--component-appid",
    );
    assert_one_line_failure(
        &run(
            bin(),
            &[
                "simulate",
                "--listen",
                "127.0.0.1:0",
                "--seed",
                "/nonexistent/seed.json",
            ],
            "",
        ),
        "--seed",
    );
    let dir = tempfile::tempdir().unwrap();
    for (name, text, needle) in [
        ("bad.json", "{ not json", "--seed"),
        (
            "unknown.json",
            r#"{"components": [], "extra": 1}"#,
            "--seed",
        ),
        (
            "badkey.json",
            r#"{"components": [{"appid": "wx0000000000000001", "secret": "s", "token": "t", "encoding_aes_key": "short"}]}"#,
            "EncodingAESKey",
        ),
        (
            "badappid.json",
            r#"{"accounts": [{"appid": "nope", "kind": "MiniProgram", "nick_name": "n", "user_name": "gh_1"}]}"#,
            "account appid",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let o = run(
            bin(),
            &[
                "simulate",
                "--listen",
                "127.0.0.1:0",
                "--seed",
                path.to_str().unwrap(),
            ],
            "",
        );
        assert_one_line_failure(&o, needle);
    }
}

#[tokio::test]
async fn simulate_serves_wechat_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("WXHUB_LOG", "warn")
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--notify-url",
            "http://127.0.0.1:9/wechat/{appid}/notify",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let rest: Vec<String> = lines.by_ref().take(5).map(|l| l.unwrap()).collect();
    assert!(rest.iter().any(|l| l.contains("appsecret:")), "{rest:?}");
    let state: serde_json::Value = reqwest::get(format!("{base}/sim/control/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["components"][0]["appid"], "wx0de0c0de0000d001");
    assert_eq!(
        state["components"][0]["notify_url"],
        "http://127.0.0.1:9/wechat/wx0de0c0de0000d001/notify"
    );
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/cgi-bin/component/api_component_token"))
        .json(&serde_json::json!({"component_appid": "wx0de0c0de0000d001", "component_appsecret": "x", "component_verify_ticket": "y"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["errcode"], 40125);
    let cmdline =
        std::fs::read_to_string(format!("/proc/{}/cmdline", child.id())).unwrap_or_default();
    assert!(!cmdline.contains("secret"), "no secret in the process list");
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "simulator did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}
