//! Bar charts, drawn as SVG in the page's HTML: they show and print without JavaScript, each bar
//! names its time and count in a native tooltip (`<title>`), and after hydration the line under
//! the chart follows the pointer with the bar's breakdown.
//!
//! Hand-drawn rather than a charting crate: a chart here is at most 30 bars of stacked rectangles,
//! which is a few dozen lines of `view!`. The crates that draw SVG (plotters, charts-rs) render to
//! strings with their own text layout and would add their weight to every page's wasm.

use std::sync::Arc;

use leptos::prelude::*;

use crate::dto::{Chart, ChartBucket, ChartKind};
use crate::i18n::{format_time, use_lang, Lang};

const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 150.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 6.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 20.0;
/// Series drawn in their own colour; the rest share the last one.
const COLOURS: usize = 6;

pub fn chart_title(lang: Lang, kind: ChartKind, bucket: ChartBucket) -> String {
    let what = match kind {
        ChartKind::Refreshes => lang.t("Token refreshes", "令牌刷新"),
        ChartKind::RefreshFailures => lang.t("Refresh failures", "刷新失败"),
        ChartKind::Authorizations => lang.t("Authorizations", "授权"),
        ChartKind::Revocations => lang.t("Revocations", "取消授权"),
        ChartKind::Messages => lang.t("Messages and events", "消息与事件"),
        ChartKind::Deliveries => lang.t("Webhook deliveries", "Webhook 投递"),
        ChartKind::ApiCalls => lang.t("Tenant API calls", "租户 API 调用"),
    };
    let per = match bucket {
        ChartBucket::Hour => lang.t("per hour, last 24 h", "每小时，最近 24 小时"),
        ChartBucket::Day => lang.t("per day, last 30 days", "每天，最近 30 天"),
    };
    format!("{what} · {per}")
}

/// A bar's time as people read it: "12-04 14:00" for an hour, "2026-12-04" for a day (UTC).
pub fn bar_label(bucket: ChartBucket, start: i64) -> String {
    let full = format_time(start);
    match bucket {
        ChartBucket::Hour => full.get(5..16).unwrap_or(&full).to_owned(),
        ChartBucket::Day => full.get(0..10).unwrap_or(&full).to_owned(),
    }
}

fn series_label(lang: Lang, kind: ChartKind, name: &str) -> String {
    match (kind, name) {
        (_, "") => lang.t("all", "全部").to_owned(),
        (ChartKind::Deliveries, "delivered") => lang.t("delivered", "已送达").to_owned(),
        (ChartKind::Deliveries, "retry") => lang.t("failed, will retry", "失败待重试").to_owned(),
        (ChartKind::Deliveries, "dead") => lang.t("dead letter", "死信").to_owned(),
        (ChartKind::RefreshFailures, code) if code.parse::<i64>().is_ok() => {
            format!("errcode {code}")
        }
        (_, other) => other.to_owned(),
    }
}

/// What the line under a bar says: its time, its total and each series' part.
fn bar_detail(lang: Lang, chart: &Chart, bar: usize) -> String {
    let Some(start) = chart.starts.get(bar) else {
        return String::new();
    };
    let mut text = format!(
        "{} · {}",
        bar_label(chart.bucket, *start),
        chart.total_at(bar)
    );
    if chart.series.len() > 1 {
        let parts: Vec<String> = chart
            .series
            .iter()
            .filter_map(|s| {
                let v = s.values.get(bar).copied().unwrap_or(0);
                (v > 0).then(|| format!("{} {v}", series_label(lang, chart.kind, &s.name)))
            })
            .collect();
        if !parts.is_empty() {
            text.push_str(&format!(" ({})", parts.join(", ")));
        }
    }
    text
}

/// A stacked bar chart of one [`Chart`].
#[component]
pub fn BarChart(chart: Chart) -> impl IntoView {
    let lang = use_lang();
    let chart = Arc::new(chart);
    let bars = chart.starts.len();
    let max = (0..bars).map(|i| chart.total_at(i)).max().unwrap_or(0);
    let scale_max = max.max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / bars.max(1) as f64;
    let bar_w = (slot * 0.78).max(1.0);
    let hovered = RwSignal::new(None::<usize>);
    let title = chart_title(lang, chart.kind, chart.bucket);
    let total = chart.total();
    let drawn = (0..bars)
        .map(|i| {
            let x = LEFT + slot * i as f64;
            let mut top = TOP + plot_h;
            let parts = chart
                .series
                .iter()
                .enumerate()
                .filter_map(|(si, s)| {
                    let v = s.values.get(i).copied().unwrap_or(0);
                    if v <= 0 {
                        return None;
                    }
                    let h = (v as f64 / scale_max * plot_h).max(1.0);
                    top -= h;
                    let class = format!("bar s{}", si.min(COLOURS - 1));
                    Some(view! {
                        <rect class=class x=format!("{:.1}", x + (slot - bar_w) / 2.0) y=format!("{top:.1}")
                            width=format!("{bar_w:.1}") height=format!("{h:.1}")/>
                    })
                })
                .collect_view();
            let tip = bar_detail(lang, &chart, i);
            view! {
                <g class="bar-slot" on:mouseenter=move |_| hovered.set(Some(i)) on:mouseleave=move |_| hovered.set(None)>
                    <title>{tip}</title>
                    <rect class="hit" x=format!("{x:.1}") y=format!("{TOP:.1}") width=format!("{slot:.1}") height=format!("{plot_h:.1}")/>
                    {parts}
                </g>
            }
        })
        .collect_view();
    // Time marks under the first, middle and last bars.
    let marks = [0, bars / 2, bars.saturating_sub(1)]
        .into_iter()
        .filter(|&i| i < bars)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|i| {
            // The first and last marks align with the plot's edges, so none is cut off.
            let (x, anchor) = if i == 0 {
                (LEFT, "start")
            } else if i + 1 == bars {
                (WIDTH - RIGHT, "end")
            } else {
                (LEFT + slot * i as f64 + slot / 2.0, "middle")
            };
            let label = chart
                .starts
                .get(i)
                .map(|s| bar_label(chart.bucket, *s))
                .unwrap_or_default();
            view! { <text class="axis" x=format!("{x:.1}") y=format!("{:.1}", HEIGHT - 5.0) text-anchor=anchor>{label}</text> }
        })
        .collect_view();
    let legend = (chart.series.len() > 1).then(|| {
        chart
            .series
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let class = format!("swatch s{}", si.min(COLOURS - 1));
                view! { <span class="legend-item"><span class=class></span>{series_label(lang, chart.kind, &s.name)}</span> }
            })
            .collect_view()
    });
    let detail_chart = chart.clone();
    let detail = move || match hovered.get() {
        Some(i) => bar_detail(lang, &detail_chart, i),
        None => format!("{} {total}", lang.t("Total", "合计")),
    };
    let kind = format!("{:?}", chart.kind).to_lowercase();
    let bucket = format!("{:?}", chart.bucket).to_lowercase();
    view! {
        <figure class="chart" data-chart=kind data-bucket=bucket data-total=total.to_string()>
            <figcaption>{title.clone()}</figcaption>
            <svg class="chart-svg" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=format!("{title}: {total}")>
                <line class="axis-line" x1=format!("{LEFT}") x2=format!("{}", WIDTH - RIGHT) y1=format!("{}", TOP + plot_h) y2=format!("{}", TOP + plot_h)/>
                {(max > 0).then(|| view! { <text class="axis" x=format!("{}", LEFT - 6.0) y=format!("{}", TOP + 8.0) text-anchor="end">{max.to_string()}</text> })}
                <text class="axis" x=format!("{}", LEFT - 6.0) y=format!("{}", TOP + plot_h) text-anchor="end">"0"</text>
                {drawn}
                {marks}
            </svg>
            <div class="chart-foot">
                <span class="chart-detail" aria-live="polite">{detail}</span>
                <span class="legend">{legend}</span>
            </div>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto::ChartSeries;

    fn chart() -> Chart {
        Chart {
            kind: ChartKind::Deliveries,
            bucket: ChartBucket::Hour,
            starts: vec![0, 3_600_000],
            series: vec![
                ChartSeries {
                    name: "delivered".into(),
                    values: vec![5, 0],
                },
                ChartSeries {
                    name: "dead".into(),
                    values: vec![1, 0],
                },
            ],
        }
    }

    #[test]
    fn a_bar_names_its_time_total_and_parts() {
        let c = chart();
        assert_eq!(
            bar_detail(Lang::En, &c, 0),
            "01-01 00:00 · 6 (delivered 5, dead letter 1)"
        );
        assert_eq!(bar_detail(Lang::En, &c, 1), "01-01 01:00 · 0");
        assert_eq!(bar_detail(Lang::En, &c, 7), "", "no such bar");
        assert_eq!(bar_label(ChartBucket::Day, 86_400_000), "1970-01-02");
    }
}
