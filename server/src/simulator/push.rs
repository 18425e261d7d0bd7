//! The simulator's outgoing side: the ticket schedule and the delivery of encrypted pushes to each
//! component's notify URL, one at a time and in order (so `authorized` never overtakes the
//! `unauthorized` that follows it), with WeChat's 5-second wait and retries for events.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::state::PendingPush;
use super::{PushRecord, SimControl};
use crate::wechat::xml::build_envelope;

/// Pushes a ticket to every component with a notify URL at start and then every
/// `ticket_interval`; also forgets dead tokens now and then.
pub(super) async fn ticket_schedule(shared: Arc<SimControl>, shutdown: CancellationToken) {
    let interval = shared.settings.ticket_interval.max(Duration::from_secs(1));
    let tick = (interval / 4).min(Duration::from_millis(250));
    let mut next_ticket: HashMap<String, Instant> = HashMap::new();
    let mut next_prune = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
        }
        let now = Instant::now();
        let sim_now = shared.now();
        let mut state = shared.state();
        let due: Vec<String> = state
            .components
            .values()
            .filter(|c| c.push_enabled && c.seed.notify_url.is_some())
            .filter(|c| next_ticket.get(&c.seed.appid).is_none_or(|at| now >= *at))
            .map(|c| c.seed.appid.clone())
            .collect();
        for appid in due {
            state.issue_ticket(&appid, sim_now);
            next_ticket.insert(appid, now + interval);
        }
        if now >= next_prune {
            state.prune(sim_now);
            next_prune = now + Duration::from_secs(10);
        }
        shared.flush_outbox(&mut state);
    }
}

pub(super) async fn deliver(
    shared: Arc<SimControl>,
    mut queue: UnboundedReceiver<PendingPush>,
    shutdown: CancellationToken,
) {
    let client = match reqwest::Client::builder()
        .timeout(shared.settings.push_timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e.without_url(), "the simulator cannot build its push client");
            return;
        }
    };
    loop {
        let push = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = queue.recv() => match next { Some(p) => p, None => return },
        };
        let (outcome, attempts) = if shared.take_drop() {
            ("dropped".to_owned(), 0)
        } else {
            send_one(&shared, &client, &push, &shutdown).await
        };
        shared.record_push(PushRecord {
            seq: 0,
            at: shared.now(),
            component_appid: push.component_appid.clone(),
            info_type: push.info_type.clone(),
            authorizer_appid: push.authorizer_appid.clone(),
            outcome,
            attempts,
        });
        shared.pushes_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn send_one(
    shared: &SimControl,
    client: &reqwest::Client,
    push: &PendingPush,
    shutdown: &CancellationToken,
) -> (String, u32) {
    let (url, crypto, token) = {
        let state = shared.state();
        match state.components.get(&push.component_appid) {
            Some(c) => (
                c.seed.notify_url.clone(),
                c.crypto.clone(),
                c.seed.token.clone(),
            ),
            None => return ("unknown component".into(), 0),
        }
    };
    let Some(url) = url else {
        return ("no notify url".into(), 0);
    };
    let attempts = if push.info_type == "component_verify_ticket" {
        1
    } else {
        shared.settings.push_attempts.max(1)
    };
    let mut last = String::new();
    for attempt in 1..=attempts {
        let timestamp = (shared.now() / 1000).to_string();
        let nonce = rand::thread_rng()
            .gen_range(100_000_000u64..9_999_999_999)
            .to_string();
        let sealed = crypto.encrypt(&push.xml, &timestamp, &nonce);
        let body = build_envelope(&push.component_appid, &sealed.encrypt);
        let signature = crate::wechat::crypto::plain_signature(&token, &timestamp, &nonce);
        let request = client
            .post(&url)
            .query(&[
                ("signature", signature.as_str()),
                ("timestamp", timestamp.as_str()),
                ("nonce", nonce.as_str()),
                ("encrypt_type", "aes"),
                ("msg_signature", sealed.msg_signature.as_str()),
            ])
            .header("content-type", "text/xml")
            .body(body);
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                if status.is_success() && text.trim() == "success" {
                    return ("delivered".into(), attempt);
                }
                // A short plain answer is worth showing (e.g. "fail"); a whole error page is not.
                let text = text.trim();
                last = if text.is_empty() || text.len() > 60 || text.starts_with('<') {
                    format!("answered HTTP {}", status.as_u16())
                } else {
                    format!("answered HTTP {} {text:?}", status.as_u16())
                };
            }
            Err(e) if e.is_timeout() => last = "timed out".into(),
            Err(e) => last = format!("failed: {}", e.without_url()),
        }
        if attempt < attempts {
            tokio::select! {
                _ = shutdown.cancelled() => return (last, attempt),
                _ = tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))) => {}
            }
        }
    }
    (last, attempts)
}
