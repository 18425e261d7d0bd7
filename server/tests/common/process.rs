//! Real `server serve` processes for the tests that kill them: started with the test's database
//! and the simulator as WeChat, their log captured, their address read from it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::TestDb;

pub struct Instance {
    pub child: Child,
    pub addr: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    /// SIGKILL: no goodbye, leases and half-done work left behind.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the process to finish its work and exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("the instance exits")
    }

    /// Waits (bounded) for the process to end on its own (a fail point that aborts it).
    pub fn wait_for_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Starts `server serve` on the test's database with the simulator at `wechat` as WeChat. `env`
/// adds or overrides variables (a fixed `WXHUB_LISTEN`, `WXHUB_FAILPOINTS`, ...).
pub fn spawn_instance(db: &TestDb, wechat: &str, env: &[(&str, &str)]) -> Instance {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WXHUB_DATABASE_URL", db.url.expose())
        .env("WXHUB_MASTER_KEY", "01".repeat(32))
        .env("WXHUB_LISTEN", "127.0.0.1:0")
        .env("WXHUB_METRICS_LISTEN", "127.0.0.1:0")
        .env("WXHUB_LOG_FORMAT", "json")
        .env("WXHUB_LOG", "warn,wxhub=info")
        .env("WXHUB_WECHAT_API_BASE", wechat)
        .env("WXHUB_WECHAT_MP_BASE", wechat)
        .env("WXHUB_WECHAT_OPEN_BASE", wechat)
        .env("WXHUB_WECHAT_TIMEOUT_SECONDS", "2");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = loop {
        let found = log.lock().unwrap().iter().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["fields"]["message"] == "wxhub is listening" || l.contains("wxhub is listening"))
                .then(|| {
                    v["fields"]["local_addr"]
                        .as_str()
                        .or(v["local_addr"].as_str())
                        .map(str::to_owned)
                })
                .flatten()
        });
        if let Some(a) = found {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "instance did not start: {:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Instance { child, addr, log }
}

/// A port that is free now (for an instance that must come back on the same address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
