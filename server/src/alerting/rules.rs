//! The alert rules: what each watches, its threshold's unit and bounds, its defaults, and which
//! audiences may set it. Settings are stored per audience (`store::alerting`); a rule an
//! audience never set has the defaults here.

use std::collections::HashMap;

use crate::store::{AlertRuleRow, PLATFORM_AUDIENCE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A component has had no ticket for `threshold` minutes.
    TicketStale,
    /// A component's token refresh has failed `threshold` times in a row.
    ComponentTokenFailing,
    /// At least `threshold` of a tenant's accounts need the owner to authorize again.
    NeedsReauth,
    /// Over the last two clock hours, `threshold` % or more of a tenant's refreshes failed (with
    /// at least [`MIN_REFRESHES_FOR_RATE`] attempts, so three failures of five do not page anyone).
    RefreshFailureRate,
    /// At least `threshold` of a tenant's webhook endpoints were disabled for failing.
    WebhookEndpointDisabled,
    /// A tenant holds at least `threshold` dead letters.
    DeadLetters,
    /// The database has not answered for `threshold` seconds.
    DatabaseNotReady,
}

/// Refreshes needed in the window before [`Rule::RefreshFailureRate`] judges a rate.
pub const MIN_REFRESHES_FOR_RATE: i64 = 20;

/// The unit of a rule's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minutes,
    Failures,
    Accounts,
    Percent,
    Endpoints,
    Letters,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Minutes => "minutes",
            Unit::Failures => "failures",
            Unit::Accounts => "accounts",
            Unit::Percent => "percent",
            Unit::Endpoints => "endpoints",
            Unit::Letters => "dead letters",
            Unit::Seconds => "seconds",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Unit::Minutes => "分钟",
            Unit::Failures => "次失败",
            Unit::Accounts => "个账号",
            Unit::Percent => "%",
            Unit::Endpoints => "个端点",
            Unit::Letters => "条死信",
            Unit::Seconds => "秒",
        }
    }
}

/// One audience's settings of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSettings {
    pub enabled: bool,
    pub threshold: i64,
    /// Announce a condition still firing again after this many minutes (0: never).
    pub renotify_minutes: i64,
}

/// The longest quiet period (a week).
pub const MAX_RENOTIFY_MINUTES: i64 = 7 * 24 * 60;

impl Rule {
    pub const ALL: [Rule; 7] = [
        Rule::TicketStale,
        Rule::ComponentTokenFailing,
        Rule::NeedsReauth,
        Rule::RefreshFailureRate,
        Rule::WebhookEndpointDisabled,
        Rule::DeadLetters,
        Rule::DatabaseNotReady,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::TicketStale => "ticket_stale",
            Rule::ComponentTokenFailing => "component_token_failing",
            Rule::NeedsReauth => "needs_reauth",
            Rule::RefreshFailureRate => "refresh_failure_rate",
            Rule::WebhookEndpointDisabled => "webhook_endpoint_disabled",
            Rule::DeadLetters => "dead_letters",
            Rule::DatabaseNotReady => "database_not_ready",
        }
    }

    pub fn parse(text: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn title(self) -> &'static str {
        match self {
            Rule::TicketStale => "No component ticket",
            Rule::ComponentTokenFailing => "Component token refresh failing",
            Rule::NeedsReauth => "Accounts need re-authorization",
            Rule::RefreshFailureRate => "Token refreshes failing",
            Rule::WebhookEndpointDisabled => "Webhook endpoint disabled",
            Rule::DeadLetters => "Webhook dead letters",
            Rule::DatabaseNotReady => "Database not ready",
        }
    }

    pub fn title_zh(self) -> &'static str {
        match self {
            Rule::TicketStale => "未收到 component_verify_ticket",
            Rule::ComponentTokenFailing => "第三方平台令牌刷新失败",
            Rule::NeedsReauth => "账号需要重新授权",
            Rule::RefreshFailureRate => "令牌刷新失败率过高",
            Rule::WebhookEndpointDisabled => "Webhook 端点已停用",
            Rule::DeadLetters => "Webhook 死信",
            Rule::DatabaseNotReady => "数据库不可用",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Rule::TicketStale => Unit::Minutes,
            Rule::ComponentTokenFailing => Unit::Failures,
            Rule::NeedsReauth => Unit::Accounts,
            Rule::RefreshFailureRate => Unit::Percent,
            Rule::WebhookEndpointDisabled => Unit::Endpoints,
            Rule::DeadLetters => Unit::Letters,
            Rule::DatabaseNotReady => Unit::Seconds,
        }
    }

    /// The threshold's bounds, inclusive.
    pub fn bounds(self) -> (i64, i64) {
        match self {
            Rule::TicketStale => (11, 24 * 60),
            Rule::ComponentTokenFailing => (1, 1_000),
            Rule::NeedsReauth => (1, 1_000_000),
            Rule::RefreshFailureRate => (1, 100),
            Rule::WebhookEndpointDisabled => (1, 100),
            Rule::DeadLetters => (1, 1_000_000),
            Rule::DatabaseNotReady => (10, 3_600),
        }
    }

    pub fn defaults(self) -> RuleSettings {
        let threshold = match self {
            Rule::TicketStale => 20,
            Rule::ComponentTokenFailing => 3,
            Rule::NeedsReauth => 1,
            Rule::RefreshFailureRate => 10,
            Rule::WebhookEndpointDisabled => 1,
            Rule::DeadLetters => 1,
            Rule::DatabaseNotReady => 60,
        };
        RuleSettings {
            enabled: true,
            threshold,
            renotify_minutes: 240,
        }
    }

    /// Whether a tenant's admins may set this rule for themselves (the database is the
    /// platform's alone).
    pub fn tenant_settable(self) -> bool {
        self != Rule::DatabaseNotReady
    }

    /// The rules an audience evaluates.
    pub fn for_audience(audience: i64) -> impl Iterator<Item = Rule> {
        Rule::ALL
            .into_iter()
            .filter(move |r| audience == PLATFORM_AUDIENCE || r.tenant_settable())
    }
}

/// Every audience's effective settings: stored rows over the defaults.
#[derive(Debug, Clone, Default)]
pub struct SettingsBook {
    stored: HashMap<(i64, Rule), RuleSettings>,
}

impl SettingsBook {
    pub fn from_rows(rows: &[AlertRuleRow]) -> Self {
        let stored = rows
            .iter()
            .filter_map(|r| {
                Some((
                    (r.tenant_id, Rule::parse(&r.rule)?),
                    RuleSettings {
                        enabled: r.enabled != 0,
                        threshold: r.threshold,
                        renotify_minutes: r.renotify_minutes,
                    },
                ))
            })
            .collect();
        Self { stored }
    }

    /// An audience's settings of a rule: its own, else the defaults. A tenant's unset rule takes
    /// the rule's defaults, not the platform's thresholds, so staff tuning their own pager never
    /// changes what a tenant is told.
    pub fn get(&self, audience: i64, rule: Rule) -> RuleSettings {
        self.stored
            .get(&(audience, rule))
            .copied()
            .unwrap_or_else(|| rule.defaults())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_defaults_sit_within_bounds() {
        for rule in Rule::ALL {
            assert_eq!(Rule::parse(rule.as_str()), Some(rule));
            let (low, high) = rule.bounds();
            let d = rule.defaults().threshold;
            assert!(low <= d && d <= high, "{rule:?}");
        }
        assert_eq!(Rule::parse("TICKET_STALE"), None);
        assert_eq!(Rule::parse(""), None);
    }

    #[test]
    fn an_audience_sees_its_own_settings_or_the_defaults() {
        let book = SettingsBook::from_rows(&[
            AlertRuleRow {
                tenant_id: 0,
                rule: "dead_letters".into(),
                enabled: 1,
                threshold: 50,
                renotify_minutes: 0,
                updated_at: 0,
            },
            AlertRuleRow {
                tenant_id: 7,
                rule: "no_such_rule".into(),
                enabled: 0,
                threshold: 1,
                renotify_minutes: 0,
                updated_at: 0,
            },
        ]);
        assert_eq!(book.get(0, Rule::DeadLetters).threshold, 50);
        assert_eq!(book.get(7, Rule::DeadLetters), Rule::DeadLetters.defaults());
        assert!(Rule::for_audience(7).all(|r| r != Rule::DatabaseNotReady));
        assert_eq!(Rule::for_audience(0).count(), 7);
    }
}
