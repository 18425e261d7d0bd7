//! Fail points: named moments in storage and the engine where a test makes the next operation fail
//! as if the database broke, or makes the process die as if it were killed. They prove the promise
//! that nothing WeChat hands us is lost, at exactly the moments where losing it would be easiest.
//!
//! Debug builds only: in a release build [`FailPoints::check`] is an empty inline function and
//! arming does nothing, so production binaries carry no way to break themselves. Tests arm points
//! on the store they hold; process tests name them in `WXHUB_FAILPOINTS`
//! (`exchange_answered=abort,complete_refresh=error*2`), which only a debug `serve` reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailPoint {
    /// Inside `Store::record_authorization`, before its transaction commits.
    RecordAuthorization,
    /// Inside `Store::complete_refresh`, before its transaction commits.
    CompleteRefresh,
    /// `Store::finish_job`, before anything is written.
    FinishJob,
    /// In the engine, after WeChat answered an exchange and before the answer is stored.
    ExchangeAnswered,
    /// In the engine, after WeChat answered a refresh and before anything is stored.
    RefreshAnswered,
    /// `Store::ping`: the database stops answering readiness checks (the alerting watch).
    Ping,
}

impl FailPoint {
    pub const ALL: [FailPoint; 6] = [
        FailPoint::RecordAuthorization,
        FailPoint::CompleteRefresh,
        FailPoint::FinishJob,
        FailPoint::ExchangeAnswered,
        FailPoint::RefreshAnswered,
        FailPoint::Ping,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FailPoint::RecordAuthorization => "record_authorization",
            FailPoint::CompleteRefresh => "complete_refresh",
            FailPoint::FinishJob => "finish_job",
            FailPoint::ExchangeAnswered => "exchange_answered",
            FailPoint::RefreshAnswered => "refresh_answered",
            FailPoint::Ping => "ping",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAction {
    /// The operation fails with `StoreError::Unavailable`, as if the database went away.
    Error,
    /// The process aborts on the spot (no destructors, no commit), as SIGKILL would leave it.
    Abort,
}

// Release builds never read these: `check` is empty there.
#[cfg_attr(not(debug_assertions), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
struct Armed {
    action: FailAction,
    /// How many more times it fires; `None` is every time.
    remaining: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct FailPoints {
    armed: Arc<Mutex<HashMap<FailPoint, Armed>>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("WXHUB_FAILPOINTS: {0}")]
pub struct FailSpecError(String);

impl FailPoints {
    /// Makes `point` fire `times` times (`None`: until disarmed).
    pub fn arm(&self, point: FailPoint, action: FailAction, times: Option<u32>) {
        if cfg!(debug_assertions) {
            self.lock().insert(
                point,
                Armed {
                    action,
                    remaining: times,
                },
            );
        }
    }

    pub fn disarm(&self, point: FailPoint) {
        self.lock().remove(&point);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FailPoint, Armed>> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fires `point` if it is armed.
    #[cfg(debug_assertions)]
    pub fn check(&self, point: FailPoint) -> Result<(), StoreError> {
        let action = {
            let mut armed = self.lock();
            let Some(entry) = armed.get_mut(&point) else {
                return Ok(());
            };
            let action = entry.action;
            match &mut entry.remaining {
                Some(0) => {
                    armed.remove(&point);
                    return Ok(());
                }
                Some(n) => {
                    *n -= 1;
                    if *n == 0 {
                        armed.remove(&point);
                    }
                }
                None => {}
            }
            action
        };
        match action {
            FailAction::Error => Err(StoreError::Unavailable(format!(
                "injected failure at {}",
                point.name()
            ))),
            FailAction::Abort => {
                tracing::error!(point = point.name(), "fail point: aborting the process");
                std::process::abort()
            }
        }
    }

    #[cfg(not(debug_assertions))]
    #[inline(always)]
    pub fn check(&self, _point: FailPoint) -> Result<(), StoreError> {
        Ok(())
    }

    /// Arms the points named in a `WXHUB_FAILPOINTS` value: `name=error`, `name=abort`, or
    /// `name=error*N`, separated by commas.
    pub fn arm_from_spec(&self, spec: &str) -> Result<(), FailSpecError> {
        let mut parsed = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, action) = item
                .split_once('=')
                .ok_or_else(|| FailSpecError(format!("{item:?} is not name=action")))?;
            let point = FailPoint::ALL
                .into_iter()
                .find(|p| p.name() == name.trim())
                .ok_or_else(|| FailSpecError(format!("no fail point named {name:?}")))?;
            let (action, times) =
                match action.trim().split_once('*') {
                    Some((a, n)) => (
                        a,
                        Some(n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                            FailSpecError(format!("{n:?} is not a positive count"))
                        })?),
                    ),
                    None => (action.trim(), None),
                };
            let action = match action {
                "error" => FailAction::Error,
                "abort" => FailAction::Abort,
                other => {
                    return Err(FailSpecError(format!(
                        "{other:?} is not an action (error or abort)"
                    )))
                }
            };
            parsed.push((point, action, times));
        }
        for (point, action, times) in parsed {
            self.arm(point, action, times);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_point_fires_as_often_as_asked_then_rests() {
        let points = FailPoints::default();
        assert!(points.check(FailPoint::FinishJob).is_ok());
        points.arm(FailPoint::FinishJob, FailAction::Error, Some(2));
        assert!(points.check(FailPoint::FinishJob).is_err());
        assert!(points.check(FailPoint::CompleteRefresh).is_ok());
        assert!(points.check(FailPoint::FinishJob).is_err());
        assert!(points.check(FailPoint::FinishJob).is_ok());
    }

    #[test]
    fn specs_parse_and_garbage_is_refused_whole() {
        let points = FailPoints::default();
        points
            .arm_from_spec("finish_job=error*1, complete_refresh=error")
            .unwrap();
        assert!(points.check(FailPoint::FinishJob).is_err());
        assert!(points.check(FailPoint::FinishJob).is_ok());
        assert!(points.check(FailPoint::CompleteRefresh).is_err());
        assert!(points.check(FailPoint::CompleteRefresh).is_err());
        for bad in [
            "finish_job",
            "nope=error",
            "finish_job=explode",
            "finish_job=error*0",
            "finish_job=error*x",
            "record_authorization=error,\u{0}=abort",
        ] {
            let fresh = FailPoints::default();
            assert!(fresh.arm_from_spec(bad).is_err(), "{bad:?}");
            assert!(
                fresh.check(FailPoint::RecordAuthorization).is_ok(),
                "{bad:?} armed something"
            );
        }
        assert!(FailPoints::default().arm_from_spec("").is_ok());
    }
}
