//! Fuzzing as a signing tenant (issue 6): a tenant knows its own component's Token and
//! EncodingAESKey, so it can sign anything. Random InfoTypes, CreateTime at the integer extremes,
//! duplicate and missing elements: no panic, never a 5xx, metric series bounded. And authorize /
//! unauthorize pushes delivered in any order leave the account in the state of the newest one.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::rig::{rig, Rig, COMPONENT};
use common::{wait_for, Backend, TestDb};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use wxhub::domain::AuthorizerStatus;
use wxhub::simulator::{Lifetimes, PushDrops, Seed};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The metric series of pushes, by their `info_type` label.
fn push_series(r: &Rig) -> HashSet<String> {
    r.engine()
        .metrics
        .render()
        .lines()
        .filter(|l| l.starts_with("wxhub_pushes_total{"))
        .filter_map(|l| {
            l.split("info_type=\"")
                .nth(1)?
                .split('"')
                .next()
                .map(str::to_owned)
        })
        .collect()
}

fn create_time() -> impl Strategy<Value = String> {
    let now = wxhub::now_ms() / 1000;
    prop_oneof![
        Just(i64::MIN.to_string()),
        Just(i64::MAX.to_string()),
        Just((i64::MAX / 1000 + 1).to_string()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just(String::new()),
        Just("1e9".to_owned()),
        Just("99999999999999999999999".to_owned()),
        (now - 300..now + 60).prop_map(|t| t.to_string()),
    ]
}

fn info_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("component_verify_ticket".to_owned()),
        Just("authorized".to_owned()),
        Just("unauthorized".to_owned()),
        Just("updateauthorized".to_owned()),
        "[a-z_]{1,40}",
        "\\PC{0,30}",
    ]
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A push a signer might send: known and unknown elements, repeated or missing.
fn push_xml() -> impl Strategy<Value = String> {
    (
        info_type(),
        create_time(),
        proptest::option::of("[A-Za-z0-9@_]{0,60}"),
        proptest::option::of("wx[0-9a-f]{16}"),
        prop_oneof![4 => Just(0usize), 1 => 1..3usize],
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(info, time, code, appid, repeats, drop_time, drop_appid)| {
            let mut xml = String::from("<xml>");
            if !drop_appid {
                xml += &format!("<AppId><![CDATA[{COMPONENT}]]></AppId>");
            }
            for _ in 0..=repeats {
                xml += &format!("<InfoType><![CDATA[{}]]></InfoType>", escape(&info));
                if !drop_time {
                    xml += &format!("<CreateTime>{}</CreateTime>", escape(&time));
                }
            }
            if let Some(code) = code {
                xml += &format!("<AuthorizationCode>{code}</AuthorizationCode><ComponentVerifyTicket>{code}</ComponentVerifyTicket>");
            }
            if let Some(appid) = appid {
                xml += &format!("<AuthorizerAppid>{appid}</AuthorizerAppid>");
            }
            xml + "</xml>"
        })
}

#[test]
fn signed_garbage_never_breaks_the_server_or_grows_the_metrics() {
    let rt = runtime();
    let db = rt.block_on(TestDb::new(Backend::Sqlite)).unwrap();
    let r = rt.block_on(async {
        let r = rig(&db, Lifetimes::default(), |_| {}).await;
        r.component_token().await;
        r
    });
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    });
    let outcomes = std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let result = runner.run(&push_xml(), |xml| {
        let (status, body) = rt.block_on(r.push(&xml));
        prop_assert!(
            status == 200 || (400..500).contains(&status),
            "{status} {body} for {xml}"
        );
        *outcomes
            .lock()
            .unwrap()
            .entry(format!("{status} {body}"))
            .or_default() += 1;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let outcomes = outcomes.into_inner().unwrap();
    eprintln!("signed garbage: {outcomes:?}");
    assert_eq!(outcomes.values().sum::<usize>(), 1000);
    assert!(
        outcomes.get("200 success").is_some_and(|n| *n > 0),
        "some were well-formed: {outcomes:?}"
    );
    assert!(
        outcomes.get("400 out_of_window").is_some_and(|n| *n > 0),
        "{outcomes:?}"
    );
    rt.block_on(async {
        // Still serving, still refreshing.
        assert_eq!(
            r.app
                .client
                .get(r.app.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert!(r
            .engine()
            .component_token(r.component, wxhub::now_ms())
            .is_some());
        let series = push_series(&r);
        assert!(
            series.len() <= 15,
            "{} info_type series: {series:?}",
            series.len()
        );
        assert!(
            series.contains("other") || series.contains("rejected"),
            "{series:?}"
        );
    });
    rt.block_on(r.stop());
    rt.block_on(db.cleanup());
}

/// One authorization event for the order property: an authorization (with a real code, minted by
/// the simulator) or a revocation, at a second relative to now.
#[derive(Debug, Clone, Copy)]
struct Event {
    authorize: bool,
    ago_s: i64,
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    // Distinct seconds (ties apply in arrival order, which this property does not pin down).
    proptest::sample::subsequence((1..120i64).collect::<Vec<_>>(), 2..6)
        .prop_flat_map(|seconds| {
            let n = seconds.len();
            (Just(seconds), proptest::collection::vec(any::<bool>(), n))
        })
        .prop_map(|(seconds, kinds)| {
            seconds
                .into_iter()
                .zip(kinds)
                .map(|(ago_s, authorize)| Event { authorize, ago_s })
                .collect()
        })
        .prop_shuffle()
}

async fn quiet(r: &Rig) {
    let store = r.app.store.clone();
    assert!(
        wait_for(Duration::from_secs(20), || {
            let store = store.clone();
            async move { store.queue_depth().await.unwrap() == 0 }
        })
        .await,
        "the job queue drained"
    );
}

#[test]
fn pushes_in_any_order_leave_the_account_as_the_newest_says() {
    let rt = runtime();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = rt.block_on(TestDb::new(backend)) else {
            eprintln!("skipped on {backend:?}: no database");
            continue;
        };
        let r = rt.block_on(async {
            let r = rig(&db, Lifetimes::default(), |_| {}).await;
            r.sim.with_state(|s, _| {
                for account in Seed::bulk_accounts(64) {
                    s.add_account(account);
                }
            });
            r.component_token().await;
            r
        });
        let next_account = std::sync::atomic::AtomicUsize::new(0);
        let cases = std::sync::atomic::AtomicUsize::new(0);
        let mut runner = TestRunner::new(Config {
            cases: 10,
            max_shrink_iters: 32,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&events(), |events| {
            let n = next_account.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let appid = format!("wx{n:016}");
            rt.block_on(async {
                let now = wxhub::now_ms() / 1000;
                for e in &events {
                    let at = now - e.ago_s;
                    let xml = if e.authorize {
                        // The simulator mints a real code; its own push is dropped, ours carries
                        // the time under test.
                        r.sim.drop_pushes(PushDrops { next: 1, percent: 0 });
                        let (code, _) = r.sim.authorize(COMPONENT, &appid, &[1]).unwrap();
                        format!("<xml><AppId><![CDATA[{COMPONENT}]]></AppId><CreateTime>{at}</CreateTime><InfoType><![CDATA[authorized]]></InfoType><AuthorizerAppid><![CDATA[{appid}]]></AuthorizerAppid><AuthorizationCode><![CDATA[{code}]]></AuthorizationCode></xml>")
                    } else {
                        format!("<xml><AppId><![CDATA[{COMPONENT}]]></AppId><CreateTime>{at}</CreateTime><InfoType><![CDATA[unauthorized]]></InfoType><AuthorizerAppid><![CDATA[{appid}]]></AuthorizerAppid></xml>")
                    };
                    let (status, body) = r.push(&xml).await;
                    assert_eq!((status, body.as_str()), (200, "success"));
                    quiet(&r).await;
                }
                cases.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let newest = events.iter().min_by_key(|e| e.ago_s).unwrap();
                let status = r.app.store.authorizer(r.tenant, &appid).await.unwrap().map(|a| a.status);
                if newest.authorize {
                    prop_assert_eq!(status, Some(AuthorizerStatus::Authorized), "{:?}", events);
                } else {
                    prop_assert!(
                        status.is_none() || status == Some(AuthorizerStatus::Revoked),
                        "{:?} after {:?}",
                        status,
                        events
                    );
                }
                Ok(())
            })
        });
        rt.block_on(r.stop());
        rt.block_on(db.cleanup());
        if let Err(e) = result {
            panic!("on {backend:?}: {e}");
        }
        assert_eq!(
            cases.load(std::sync::atomic::Ordering::Relaxed),
            10,
            "on {backend:?}"
        );
        eprintln!("{backend:?}: 10 orders checked");
    }
}
