//! One evaluation: what the store knows is read once ([`Observations::read`]), then each
//! audience's thresholds are applied to it in memory ([`conditions`]). Reading once keeps the cost
//! of many tenants with channels at one set of grouped reads, not one per tenant.
//!
//! "Database not ready" is not here: it cannot be read from the database (`worker::DbWatch`).

use std::collections::HashMap;

use super::rules::{Rule, SettingsBook, MIN_REFRESHES_FOR_RATE};
use crate::domain::{AuthorizerStatus, ComponentOwner};
use crate::store::{Firing, Store, StoreError, HOUR_MS, PLATFORM_AUDIENCE};

/// One component as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSeen {
    pub appid: String,
    pub name: String,
    pub tenant: Option<i64>,
    /// Since the last ticket (or since the component was added, when none came yet).
    pub ticket_age_ms: i64,
    pub token_failures: i64,
    pub token_last_error: Option<String>,
}

/// What the rules weigh, read once per evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observations {
    pub components: Vec<ComponentSeen>,
    /// Accounts needing re-authorization per tenant (0: accounts no tenant holds).
    pub needs_reauth: HashMap<i64, i64>,
    /// (refreshes, failures) per tenant over the window.
    pub refreshes: HashMap<i64, (i64, i64)>,
    /// Endpoints disabled for failing, per tenant.
    pub disabled_endpoints: HashMap<i64, Vec<String>>,
    /// Dead letters kept per tenant.
    pub dead_letters: HashMap<i64, i64>,
    pub tenant_names: HashMap<i64, String>,
}

impl Observations {
    pub async fn read(store: &Store, now: i64) -> Result<Observations, StoreError> {
        let mut seen = Observations::default();
        for row in store.component_health_all().await? {
            if !row.component.active {
                continue;
            }
            let since = row.ticket_issued_at.unwrap_or(row.component.created_at);
            seen.components.push(ComponentSeen {
                appid: row.component.appid.clone(),
                name: row.component.name.clone(),
                tenant: match row.component.owner {
                    ComponentOwner::Tenant(t) => Some(t.0),
                    ComponentOwner::Platform => None,
                },
                ticket_age_ms: (now - since).max(0),
                token_failures: row.token_failure_count,
                token_last_error: row.token_last_error.clone(),
            });
        }
        let needs = AuthorizerStatus::NeedsReauth.as_str();
        for c in store.account_status_by_tenant().await? {
            if c.status == needs {
                *seen
                    .needs_reauth
                    .entry(c.tenant_id.unwrap_or(0))
                    .or_default() += c.count;
            }
        }
        // The current clock hour and the one before: at least an hour of history, at most two.
        let from = crate::store::HOUR_MS * (now.div_euclid(HOUR_MS) - 1);
        for (tenant, n) in store.totals_by_tenant_since("refreshes", from).await? {
            seen.refreshes.entry(tenant).or_default().0 += n;
        }
        for (tenant, n) in store
            .totals_by_tenant_since("refresh_failures", from)
            .await?
        {
            seen.refreshes.entry(tenant).or_default().1 += n;
        }
        for (tenant, id) in store.endpoints_disabled_for_failing().await? {
            seen.disabled_endpoints.entry(tenant).or_default().push(id);
        }
        for t in store.delivery_trouble_by_tenant().await? {
            if t.dead > 0 {
                seen.dead_letters.insert(t.tenant_id, t.dead);
            }
        }
        for t in store.list_tenants().await? {
            seen.tenant_names.insert(t.id.0, t.name);
        }
        Ok(seen)
    }

    fn tenant_name(&self, tenant: i64) -> String {
        match self.tenant_names.get(&tenant) {
            Some(name) => format!("tenant {name}"),
            None if tenant == 0 => "the unassigned accounts".into(),
            None => format!("tenant #{tenant}"),
        }
    }

    fn tenant_name_zh(&self, tenant: i64) -> String {
        match self.tenant_names.get(&tenant) {
            Some(name) => format!("租户 {name}"),
            None if tenant == 0 => "未分配账号".into(),
            None => format!("租户 #{tenant}"),
        }
    }
}

/// Whether a condition is one `audience` hears of: staff hear of all, a tenant of its own.
fn heard_by(audience: i64, tenant: Option<i64>) -> bool {
    audience == PLATFORM_AUDIENCE || tenant == Some(audience)
}

/// The conditions firing for `audience` under its settings, and the rules it evaluated (a rule
/// turned off is not evaluated, so its conditions are dropped, not announced resolved).
pub fn conditions(
    seen: &Observations,
    book: &SettingsBook,
    audience: i64,
) -> (Vec<Firing>, Vec<&'static str>) {
    let mut firing = Vec::new();
    let mut evaluated = Vec::new();
    for rule in Rule::for_audience(audience) {
        let settings = book.get(audience, rule);
        if !settings.enabled || rule == Rule::DatabaseNotReady {
            continue;
        }
        evaluated.push(rule.as_str());
        let t = settings.threshold;
        let renotify =
            (settings.renotify_minutes > 0).then_some(settings.renotify_minutes * 60_000);
        let mut fire =
            |subject: String, tenant: Option<i64>, message: String, message_zh: String| {
                firing.push(Firing {
                    rule: rule.as_str(),
                    subject,
                    subject_tenant_id: tenant,
                    message,
                    message_zh,
                    renotify_after_ms: renotify,
                })
            };
        match rule {
            Rule::TicketStale => {
                for c in seen
                    .components
                    .iter()
                    .filter(|c| heard_by(audience, c.tenant))
                {
                    let minutes = c.ticket_age_ms / 60_000;
                    if minutes >= t {
                        fire(
                            format!("component:{}", c.appid),
                            c.tenant,
                            format!(
                                "Component {} ({}) has had no ticket for {minutes} minutes (threshold {t}). WeChat pushes one every 10 minutes: check the authorization-event URL and the component's settings on the open platform.",
                                c.name, c.appid
                            ),
                            format!(
                                "第三方平台 {}（{}）已 {minutes} 分钟未收到 ticket（阈值 {t}）。微信每 10 分钟推送一次：请检查授权事件接收 URL 和开放平台上的配置。",
                                c.name, c.appid
                            ),
                        );
                    }
                }
            }
            Rule::ComponentTokenFailing => {
                for c in seen
                    .components
                    .iter()
                    .filter(|c| heard_by(audience, c.tenant))
                {
                    if c.token_failures >= t {
                        let error = c.token_last_error.as_deref().unwrap_or("unknown");
                        fire(
                            format!("component:{}", c.appid),
                            c.tenant,
                            format!(
                                "The token of component {} ({}) failed to refresh {} times in a row (threshold {t}). Last error: {error}.",
                                c.name, c.appid, c.token_failures
                            ),
                            format!(
                                "第三方平台 {}（{}）的令牌已连续 {} 次刷新失败（阈值 {t}）。最近的错误：{error}。",
                                c.name, c.appid, c.token_failures
                            ),
                        );
                    }
                }
            }
            Rule::NeedsReauth => {
                for (&tenant, &n) in sorted(&seen.needs_reauth) {
                    let scope = (tenant != 0).then_some(tenant);
                    if n >= t && heard_by(audience, scope) {
                        fire(
                            format!("tenant:{tenant}"),
                            scope,
                            format!(
                                "{n} accounts of {} need their owners to authorize again (threshold {t}). Send them a new authorization link.",
                                seen.tenant_name(tenant)
                            ),
                            format!(
                                "{} 有 {n} 个账号需要所有者重新授权（阈值 {t}）。请发送新的授权链接。",
                                seen.tenant_name_zh(tenant)
                            ),
                        );
                    }
                }
            }
            Rule::RefreshFailureRate => {
                for (&tenant, &(ok, failed)) in sorted(&seen.refreshes) {
                    // Row 0 is the whole platform, already counted in each tenant's rows.
                    if tenant == 0 || !heard_by(audience, Some(tenant)) {
                        continue;
                    }
                    let total = ok + failed;
                    if total < MIN_REFRESHES_FOR_RATE {
                        continue;
                    }
                    let percent = failed * 100 / total;
                    if percent >= t {
                        fire(
                            format!("tenant:{tenant}"),
                            Some(tenant),
                            format!(
                                "{percent}% of {}'s token refreshes failed in the last two hours ({failed} of {total}; threshold {t}%).",
                                seen.tenant_name(tenant)
                            ),
                            format!(
                                "{} 最近两小时的令牌刷新失败率为 {percent}%（{total} 次中 {failed} 次；阈值 {t}%）。",
                                seen.tenant_name_zh(tenant)
                            ),
                        );
                    }
                }
            }
            Rule::WebhookEndpointDisabled => {
                for (&tenant, ids) in sorted(&seen.disabled_endpoints) {
                    if ids.len() as i64 >= t && heard_by(audience, Some(tenant)) {
                        let list = ids.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
                        fire(
                            format!("tenant:{tenant}"),
                            Some(tenant),
                            format!(
                                "{} webhook endpoints of {} were disabled after failing: {list} (threshold {t}). Fix the receiver, turn the endpoint on, then replay its dead letters.",
                                ids.len(),
                                seen.tenant_name(tenant)
                            ),
                            format!(
                                "{} 有 {} 个 Webhook 端点因持续失败被停用：{list}（阈值 {t}）。修复接收方后重新启用端点，再重放死信。",
                                seen.tenant_name_zh(tenant),
                                ids.len()
                            ),
                        );
                    }
                }
            }
            Rule::DeadLetters => {
                for (&tenant, &n) in sorted(&seen.dead_letters) {
                    if n >= t && heard_by(audience, Some(tenant)) {
                        fire(
                            format!("tenant:{tenant}"),
                            Some(tenant),
                            format!(
                                "{} holds {n} webhook dead letters (threshold {t}). Replay them from the deliveries page once the receiver works.",
                                seen.tenant_name(tenant)
                            ),
                            format!(
                                "{} 有 {n} 条 Webhook 死信（阈值 {t}）。接收方恢复后可在投递页面重放。",
                                seen.tenant_name_zh(tenant)
                            ),
                        );
                    }
                }
            }
            Rule::DatabaseNotReady => {}
        }
    }
    (firing, evaluated)
}

fn sorted<V>(map: &HashMap<i64, V>) -> Vec<(&i64, &V)> {
    let mut v: Vec<_> = map.iter().collect();
    v.sort_by_key(|(k, _)| **k);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AlertRuleRow;

    fn seen() -> Observations {
        Observations {
            components: vec![
                ComponentSeen {
                    appid: "wxshared".into(),
                    name: "Shared".into(),
                    tenant: None,
                    ticket_age_ms: 25 * 60_000,
                    token_failures: 0,
                    token_last_error: None,
                },
                ComponentSeen {
                    appid: "wxown".into(),
                    name: "Own".into(),
                    tenant: Some(2),
                    ticket_age_ms: 5 * 60_000,
                    token_failures: 4,
                    token_last_error: Some("61004 ip not allowed".into()),
                },
            ],
            needs_reauth: HashMap::from([(1, 3), (2, 1)]),
            refreshes: HashMap::from([(0, (100, 40)), (1, (80, 20)), (2, (5, 5))]),
            disabled_endpoints: HashMap::from([(1, vec!["we_0123456789abcdef".into()])]),
            dead_letters: HashMap::from([(2, 7)]),
            tenant_names: HashMap::from([(1, "Acme".into()), (2, "Globex".into())]),
        }
    }

    fn keys(firing: &[Firing]) -> Vec<(String, String)> {
        firing
            .iter()
            .map(|f| (f.rule.to_owned(), f.subject.clone()))
            .collect()
    }

    #[test]
    fn staff_hear_of_every_tenant_and_a_tenant_only_of_its_own() {
        let book = SettingsBook::default();
        let (staff, evaluated) = conditions(&seen(), &book, 0);
        assert_eq!(
            keys(&staff),
            vec![
                ("ticket_stale".into(), "component:wxshared".into()),
                ("component_token_failing".into(), "component:wxown".into()),
                ("needs_reauth".into(), "tenant:1".into()),
                ("needs_reauth".into(), "tenant:2".into()),
                ("refresh_failure_rate".into(), "tenant:1".into()),
                ("webhook_endpoint_disabled".into(), "tenant:1".into()),
                ("dead_letters".into(), "tenant:2".into()),
            ]
        );
        assert!(!evaluated.contains(&"database_not_ready"));
        let (globex, _) = conditions(&seen(), &book, 2);
        assert_eq!(
            keys(&globex),
            vec![
                ("component_token_failing".into(), "component:wxown".into()),
                ("needs_reauth".into(), "tenant:2".into()),
                ("dead_letters".into(), "tenant:2".into()),
            ]
        );
        assert!(globex.iter().all(|f| f.subject_tenant_id == Some(2)));
        assert!(!globex.iter().any(|f| f.message.contains("Acme")));
        let (nobody, _) = conditions(&seen(), &book, 9);
        assert!(nobody.is_empty());
    }

    #[test]
    fn thresholds_and_switches_are_the_audiences_own() {
        let row = |tenant_id: i64, rule: &str, enabled: i64, threshold: i64| AlertRuleRow {
            tenant_id,
            rule: rule.into(),
            enabled,
            threshold,
            renotify_minutes: 0,
            updated_at: 0,
        };
        let book = SettingsBook::from_rows(&[
            row(0, "ticket_stale", 1, 30),
            row(0, "needs_reauth", 1, 2),
            row(0, "refresh_failure_rate", 0, 10),
            row(2, "dead_letters", 1, 8),
        ]);
        let (staff, evaluated) = conditions(&seen(), &book, 0);
        let staff = keys(&staff);
        assert!(
            !staff.contains(&("ticket_stale".into(), "component:wxshared".into())),
            "25 < 30 minutes"
        );
        assert!(staff.contains(&("needs_reauth".into(), "tenant:1".into())));
        assert!(
            !staff.contains(&("needs_reauth".into(), "tenant:2".into())),
            "1 < 2 accounts"
        );
        assert!(!evaluated.contains(&"refresh_failure_rate"), "turned off");
        assert!(staff.iter().all(|(r, _)| r != "refresh_failure_rate"));
        // The platform's settings do not reach a tenant, and the tenant's do not reach staff.
        let (globex, _) = conditions(&seen(), &book, 2);
        assert!(
            !keys(&globex).contains(&("dead_letters".into(), "tenant:2".into())),
            "7 < 8"
        );
        assert!(staff.contains(&("dead_letters".into(), "tenant:2".into())));
        assert!(keys(&globex).contains(&("needs_reauth".into(), "tenant:2".into())));
        // Five failures of ten is a small sample, whatever the rate.
        assert!(!staff.contains(&("refresh_failure_rate".into(), "tenant:2".into())));
    }
}
