//! The operations overview: the charts (from the hourly counts, `store::rollups`) for platform
//! staff and for one tenant's dashboard, and the platform's cross-tenant health screen.
//!
//! A chart reads at most 720 rows (30 days of hours) per series, whatever the number of accounts.
//! The account counts by status are one grouped read over every account, so the overview keeps
//! them for [`COUNTS_TTL`] (refreshed behind the viewer's back) and says when they were taken;
//! everything else is read per view.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::dto::{
    AccountStatus, Chart, ChartBucket, ChartKind, ChartRange, ChartSeries, ComponentHealth,
    PlatformAlertView, PlatformOverview, TenantTrouble,
};
use app::error::AppError;

use super::{store_error, Console};
use crate::domain::ComponentOwner;
use crate::rollups::{hour_of, Counted};
use crate::store::{CountsOf, DeliveryTrouble, HourlyCount, StatusCount, Store, StoreError};
use crate::unpoison;

const HOUR_MS: i64 = crate::store::HOUR_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// How long the overview's account counts are reused.
pub const COUNTS_TTL: Duration = Duration::from_secs(30);
/// Series drawn apiece in a chart; the smaller ones are summed into "other".
const MAX_SERIES: usize = 5;
/// Tenants listed under "most problems".
const PROBLEM_TENANTS: usize = 10;

/// The account counts and delivery trouble, as last read.
#[derive(Debug, Clone)]
pub(super) struct Counts {
    taken: Instant,
    taken_at: i64,
    statuses: Vec<StatusCount>,
    deliveries: Vec<DeliveryTrouble>,
}

/// The overview's cached counts (one per console, so per instance). Past their time they are
/// still served while one background read replaces them, so no viewer waits for the grouped count
/// over a million accounts except the very first.
#[derive(Debug, Default)]
pub(super) struct CountsCache {
    counts: Arc<Mutex<Option<Counts>>>,
    refreshing: Arc<AtomicBool>,
}

async fn read_counts(store: &Store, now: i64) -> Result<Counts, StoreError> {
    Ok(Counts {
        taken: Instant::now(),
        taken_at: now,
        statuses: store.account_status_by_tenant().await?,
        deliveries: store.delivery_trouble_by_tenant().await?,
    })
}

impl CountsCache {
    async fn get(&self, store: &Store, now: i64) -> Result<Counts, StoreError> {
        let cached = unpoison(self.counts.lock()).clone();
        match cached {
            Some(c) if c.taken.elapsed() < COUNTS_TTL => Ok(c),
            Some(stale) => {
                if !self.refreshing.swap(true, Ordering::AcqRel) {
                    let (store, counts, refreshing) =
                        (store.clone(), self.counts.clone(), self.refreshing.clone());
                    tokio::spawn(async move {
                        match read_counts(&store, crate::now_ms()).await {
                            Ok(fresh) => *unpoison(counts.lock()) = Some(fresh),
                            Err(e) => {
                                tracing::warn!(error = %crate::report::Chain(&e), "the overview's counts could not be refreshed; serving the previous ones")
                            }
                        }
                        refreshing.store(false, Ordering::Release);
                    });
                }
                Ok(stale)
            }
            None => {
                let fresh = read_counts(store, now).await?;
                *unpoison(self.counts.lock()) = Some(fresh.clone());
                Ok(fresh)
            }
        }
    }
}

fn counted(kind: ChartKind) -> Counted {
    match kind {
        ChartKind::Refreshes => Counted::Refresh,
        ChartKind::RefreshFailures => Counted::RefreshFailure,
        ChartKind::Authorizations => Counted::Authorization,
        ChartKind::Revocations => Counted::Revocation,
        ChartKind::Messages => Counted::Message,
        ChartKind::Deliveries => Counted::Delivery,
        ChartKind::ApiCalls => Counted::ApiCall,
    }
}

/// Bars of `bucket` ending with the one holding `now`: their starts, oldest first.
pub fn bar_starts(bucket: ChartBucket, bars: usize, now: i64) -> Vec<i64> {
    let (len, last) = match bucket {
        ChartBucket::Hour => (HOUR_MS, hour_of(now)),
        ChartBucket::Day => (DAY_MS, now.div_euclid(DAY_MS) * DAY_MS),
    };
    (0..bars as i64)
        .rev()
        .map(|back| last - back * len)
        .collect()
}

/// Puts hourly rows into the chart's bars, one series per detail (the biggest [`MAX_SERIES`] - 1
/// apiece, the rest as "other"). Rows outside the bars are left out.
pub fn chart_from_counts(
    kind: ChartKind,
    bucket: ChartBucket,
    starts: Vec<i64>,
    rows: &[HourlyCount],
) -> Chart {
    let len = match bucket {
        ChartBucket::Hour => HOUR_MS,
        ChartBucket::Day => DAY_MS,
    };
    let first = starts.first().copied().unwrap_or(0);
    let bars = starts.len();
    let mut by_detail: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for row in rows {
        let offset = row.hour_start - first;
        if offset < 0 {
            continue;
        }
        let bar = (offset / len) as usize;
        if bar >= bars {
            continue;
        }
        by_detail
            .entry(row.detail.as_str())
            .or_insert_with(|| vec![0; bars])[bar] += row.count;
    }
    let mut series: Vec<ChartSeries> = by_detail
        .into_iter()
        .map(|(name, values)| ChartSeries {
            name: name.to_owned(),
            values,
        })
        .collect();
    series.sort_by_key(|s| std::cmp::Reverse(s.values.iter().sum::<i64>()));
    if series.len() > MAX_SERIES {
        let rest = series.split_off(MAX_SERIES - 1);
        let mut other = vec![0; bars];
        for s in rest {
            for (o, v) in other.iter_mut().zip(s.values) {
                *o += v;
            }
        }
        series.push(ChartSeries {
            name: "other".into(),
            values: other,
        });
    }
    Chart {
        kind,
        bucket,
        starts,
        series,
    }
}

/// One chart of `of`'s counts.
async fn chart(
    store: &Store,
    of: CountsOf,
    kind: ChartKind,
    bucket: ChartBucket,
    bars: usize,
    now: i64,
) -> Result<Chart, StoreError> {
    let starts = bar_starts(bucket, bars, now);
    let from = starts.first().copied().unwrap_or(now);
    let len = match bucket {
        ChartBucket::Hour => HOUR_MS,
        ChartBucket::Day => DAY_MS,
    };
    let to = starts.last().copied().unwrap_or(now) + len;
    let rows = store
        .bucketed_counts(of, counted(kind).metric(), from, to, len)
        .await?;
    Ok(chart_from_counts(kind, bucket, starts, &rows))
}

/// The overview's charts: the traffic per hour over 24 hours (or per day over 30 days), then
/// authorizations and revocations per day over 30 days.
pub(super) async fn charts(
    store: &Store,
    of: CountsOf,
    range: ChartRange,
    now: i64,
) -> Result<Vec<Chart>, StoreError> {
    let (bucket, bars) = match range {
        ChartRange::Day => (ChartBucket::Hour, 24),
        ChartRange::Month => (ChartBucket::Day, 30),
    };
    let mut out = Vec::new();
    for kind in [
        ChartKind::Refreshes,
        ChartKind::RefreshFailures,
        ChartKind::Messages,
        ChartKind::Deliveries,
        ChartKind::ApiCalls,
    ] {
        out.push(chart(store, of, kind, bucket, bars, now).await?);
    }
    for kind in [ChartKind::Authorizations, ChartKind::Revocations] {
        out.push(chart(store, of, kind, ChartBucket::Day, 30, now).await?);
    }
    Ok(out)
}

/// Ranks the tenants with something wrong, worst first.
pub fn problem_tenants(
    tenants: &[(i64, String, String)],
    statuses: &[StatusCount],
    alerts_per_tenant: &HashMap<i64, i64>,
    deliveries: &[DeliveryTrouble],
) -> Vec<TenantTrouble> {
    let mut out: Vec<TenantTrouble> = tenants
        .iter()
        .map(|(id, slug, name)| {
            let needs_reauth = statuses
                .iter()
                .filter(|s| s.tenant_id == Some(*id) && s.status == "needs_reauth")
                .map(|s| s.count)
                .sum();
            let d = deliveries.iter().find(|d| d.tenant_id == *id);
            TenantTrouble {
                slug: slug.clone(),
                name: name.clone(),
                needs_reauth,
                open_alerts: alerts_per_tenant.get(id).copied().unwrap_or(0),
                failing_deliveries: d.map_or(0, |d| d.failing),
                dead_letters: d.map_or(0, |d| d.dead),
            }
        })
        .filter(|t| t.weight() > 0)
        .collect();
    out.sort_by(|a, b| b.weight().cmp(&a.weight()).then(a.slug.cmp(&b.slug)));
    out.truncate(PROBLEM_TENANTS);
    out
}

/// A component's health as a tenant (or staff) sees it.
pub(super) fn component_health_view(
    h: crate::store::ComponentHealthRow,
    now: i64,
) -> ComponentHealth {
    let shared = h.component.owner == ComponentOwner::Platform;
    // A shared component's raw error is WeChat's text, which may name the platform's
    // egress address: tenants see the errcode's documented meaning instead.
    let (last_error, last_error_at) = if h.token_failure_count > 0 {
        let text = if shared {
            h.token_last_error_code.map(|code| {
                crate::wechat::errcode::meaning(code).map_or_else(
                    || format!("WeChat refused the call: errcode {code}"),
                    |m| format!("errcode {code}: {} / {}", m.en, m.zh),
                )
            })
        } else {
            h.token_last_error
        };
        (text, h.token_last_error_at)
    } else {
        (None, None)
    };
    ComponentHealth {
        shared,
        appid: h.component.appid,
        name: h.component.name,
        ticket_age_ms: h.ticket_issued_at.map(|at| now - at),
        token_expires_in_ms: h.token_expires_at.map(|at| at - now),
        last_push_at: h.last_push_at,
        last_error,
        last_error_at,
    }
}

impl Console {
    pub(super) async fn platform_overview_for_staff(
        &self,
        range: ChartRange,
    ) -> Result<PlatformOverview, AppError> {
        let err = store_error("the overview could not be read");
        let now = crate::now_ms();
        let counts = self
            .overview_counts
            .get(&self.store, now)
            .await
            .map_err(&err)?;
        let mut accounts_by_status: Vec<(AccountStatus, i64)> = AccountStatus::ALL
            .into_iter()
            .map(|s| {
                let n = counts
                    .statuses
                    .iter()
                    .filter(|c| c.status == s.as_str())
                    .map(|c| c.count)
                    .sum();
                (s, n)
            })
            .collect();
        accounts_by_status.retain(|(s, n)| *n > 0 || *s != AccountStatus::Pending);
        let unassigned = counts
            .statuses
            .iter()
            .filter(|c| c.tenant_id.is_none() && c.status == "authorized")
            .map(|c| c.count)
            .sum();
        // The tenants' names only: their summaries count every tenant's accounts, a read over a
        // million rows the overview has no use for.
        let tenants = self.store.list_tenants().await.map_err(&err)?;
        let slug_of: HashMap<i64, String> =
            tenants.iter().map(|t| (t.id.0, t.slug.clone())).collect();
        let alerts = self.store.open_alerts().await.map_err(&err)?;
        let mut alerts_per_tenant: HashMap<i64, i64> = HashMap::new();
        for a in &alerts {
            if let Some(t) = a.tenant_id {
                *alerts_per_tenant.entry(t).or_insert(0) += 1;
            }
        }
        let tenant_rows: Vec<(i64, String, String)> = tenants
            .iter()
            .map(|t| (t.id.0, t.slug.clone(), t.name.clone()))
            .collect();
        let problem_tenants = problem_tenants(
            &tenant_rows,
            &counts.statuses,
            &alerts_per_tenant,
            &counts.deliveries,
        );
        let engine_alert_components: Vec<Option<i64>> =
            alerts.iter().map(|a| a.component_id).collect();
        let mut open_alerts: Vec<PlatformAlertView> = alerts
            .into_iter()
            .map(|a| PlatformAlertView {
                tenant: a.tenant_id.and_then(|t| slug_of.get(&t).cloned()),
                kind: a.kind,
                message: a.message,
                occurrences: a.occurrences,
                raised_at: a.raised_at,
                last_seen_at: a.last_seen_at,
            })
            .collect();
        // What the alert rules find firing for the platform (issue 17) sits beside what the
        // engine raised as it happened.
        let firing = self
            .store
            .alert_states(crate::store::PLATFORM_AUDIENCE)
            .await
            .map_err(&err)?;
        let health = self.store.component_health_all().await.map_err(&err)?;
        // A stale ticket is both an engine alert (per component) and a rule's condition (subject
        // `component:{appid}`); the overview lists it once, as the rule's.
        let appid_of: HashMap<i64, &str> = health
            .iter()
            .map(|h| (h.component.id.0, h.component.appid.as_str()))
            .collect();
        open_alerts = open_alerts
            .into_iter()
            .zip(engine_alert_components)
            .filter(|(a, component)| {
                a.kind != "ticket_stale"
                    || !component
                        .and_then(|c| appid_of.get(&c))
                        .is_some_and(|appid| {
                            firing.iter().any(|f| {
                                f.rule == "ticket_stale"
                                    && f.subject == format!("component:{appid}")
                            })
                        })
            })
            .map(|(a, _)| a)
            .collect();
        open_alerts.extend(firing.into_iter().map(|f| PlatformAlertView {
            tenant: f.subject_tenant_id.and_then(|t| slug_of.get(&t).cloned()),
            kind: f.rule,
            message: f.message,
            occurrences: 1,
            raised_at: f.firing_since,
            last_seen_at: f.last_seen_at,
        }));
        open_alerts.sort_by_key(|a| std::cmp::Reverse(a.last_seen_at));
        let open_alert_count = open_alerts.len() as i64;
        open_alerts.truncate(app::dto::OPEN_ALERTS_SHOWN);
        let day_ago = hour_of(now) - 23 * HOUR_MS;
        let failures = self
            .store
            .hourly_counts(
                CountsOf::Platform,
                Counted::RefreshFailure.metric(),
                day_ago,
                now + HOUR_MS,
            )
            .await
            .map_err(&err)?;
        let mut by_code: BTreeMap<String, i64> = BTreeMap::new();
        for f in failures {
            *by_code.entry(f.detail).or_insert(0) += f.count;
        }
        let mut failures_by_errcode: Vec<(String, i64)> = by_code.into_iter().collect();
        failures_by_errcode.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let components = health
            .into_iter()
            .map(|h| component_health_view(h, now))
            .collect();
        let charts = charts(&self.store, CountsOf::Platform, range, now)
            .await
            .map_err(&err)?;
        Ok(PlatformOverview {
            counted_at: counts.taken_at,
            accounts_by_status,
            unassigned,
            components,
            open_alerts,
            open_alert_count,
            failures_by_errcode,
            failing_deliveries: counts.deliveries.iter().map(|d| d.failing).sum(),
            dead_letters: counts.deliveries.iter().map(|d| d.dead).sum(),
            problem_tenants,
            range,
            charts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour_start: i64, detail: &str, count: i64) -> HourlyCount {
        HourlyCount {
            hour_start,
            detail: detail.into(),
            count,
        }
    }

    #[test]
    fn bars_end_with_the_current_hour_or_day() {
        let now = 3 * DAY_MS + 5 * HOUR_MS + 17;
        assert_eq!(
            bar_starts(ChartBucket::Hour, 3, now),
            vec![
                3 * DAY_MS + 3 * HOUR_MS,
                3 * DAY_MS + 4 * HOUR_MS,
                3 * DAY_MS + 5 * HOUR_MS
            ]
        );
        assert_eq!(
            bar_starts(ChartBucket::Day, 2, now),
            vec![2 * DAY_MS, 3 * DAY_MS]
        );
    }

    #[test]
    fn hours_sum_into_days_and_details_into_series() {
        let starts = vec![0, DAY_MS];
        let rows = [
            row(0, "40001", 2),
            row(HOUR_MS, "40001", 3),
            row(DAY_MS + HOUR_MS, "-1", 7),
            row(2 * DAY_MS, "-1", 100),
            row(-HOUR_MS, "-1", 100),
        ];
        let c = chart_from_counts(ChartKind::RefreshFailures, ChartBucket::Day, starts, &rows);
        assert_eq!(c.series.len(), 2);
        assert_eq!(
            (c.series[0].name.as_str(), c.series[0].values.clone()),
            ("-1", vec![0, 7])
        );
        assert_eq!(
            (c.series[1].name.as_str(), c.series[1].values.clone()),
            ("40001", vec![5, 0])
        );
        assert_eq!(c.total(), 12, "rows outside the bars are left out");
    }

    #[test]
    fn many_details_keep_the_biggest_and_sum_the_rest() {
        let rows: Vec<HourlyCount> = (1..=8).map(|i| row(0, &format!("e{i}"), i)).collect();
        let c = chart_from_counts(
            ChartKind::RefreshFailures,
            ChartBucket::Hour,
            vec![0],
            &rows,
        );
        let names: Vec<&str> = c.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["e8", "e7", "e6", "e5", "other"]);
        assert_eq!(c.series[4].values, vec![1 + 2 + 3 + 4]);
        assert_eq!(c.total(), 36);
    }

    #[test]
    fn problem_tenants_are_ranked_and_the_healthy_left_out() {
        let tenants = vec![
            (1, "acme".to_owned(), "Acme".to_owned()),
            (2, "globex".to_owned(), "Globex".to_owned()),
            (3, "fine".to_owned(), "Fine".to_owned()),
        ];
        let statuses = vec![
            StatusCount {
                tenant_id: Some(1),
                status: "needs_reauth".into(),
                count: 1,
            },
            StatusCount {
                tenant_id: Some(3),
                status: "authorized".into(),
                count: 100,
            },
        ];
        let alerts = HashMap::from([(2, 3)]);
        let deliveries = vec![DeliveryTrouble {
            tenant_id: 1,
            failing: 1,
            dead: 2,
        }];
        let ranked = problem_tenants(&tenants, &statuses, &alerts, &deliveries);
        let slugs: Vec<&str> = ranked.iter().map(|t| t.slug.as_str()).collect();
        assert_eq!(
            slugs,
            vec!["globex", "acme"],
            "15 before 13, and fine is not listed"
        );
        assert_eq!(
            (ranked[1].failing_deliveries, ranked[1].dead_letters),
            (1, 2)
        );
    }
}
