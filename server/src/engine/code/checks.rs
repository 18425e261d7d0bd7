//! What a code-management request must be before WeChat sees it: a commit, an audit's item list,
//! domain lists. Each rule names its field in both languages.

use serde_json::{json, Value};

use super::{invalid, CodeError, MAX_AUDIT_ITEMS};

/// A commit as asked for, checked before WeChat sees it.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub template_id: i64,
    /// A JSON object as text (empty: `{}`).
    pub ext_json: String,
    pub user_version: String,
    pub user_desc: String,
}

impl CommitRequest {
    pub fn check(&self) -> Result<(), CodeError> {
        if self.template_id <= 0 {
            return Err(invalid("template_id", "choose a template", "请选择模板"));
        }
        let ext = self.ext_json.trim();
        if !ext.is_empty() {
            match serde_json::from_str::<Value>(ext) {
                Ok(v) if v.is_object() => {}
                _ => {
                    return Err(invalid(
                        "ext_json",
                        "ext_json must be a JSON object",
                        "ext_json 必须是 JSON 对象",
                    ))
                }
            }
        }
        if ext.len() > 64 * 1024 {
            return Err(invalid(
                "ext_json",
                "ext_json is larger than 64 KB",
                "ext_json 超过 64 KB",
            ));
        }
        let v = self.user_version.trim();
        if v.is_empty() || v.chars().count() > 64 || v.chars().any(char::is_control) {
            return Err(invalid(
                "user_version",
                "the version must be 1 to 64 characters",
                "版本号须为 1 到 64 个字符",
            ));
        }
        if self.user_desc.chars().count() > 500
            || self.user_desc.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(invalid(
                "user_desc",
                "the description must be at most 500 characters",
                "版本描述最多 500 个字符",
            ));
        }
        Ok(())
    }
}

/// Checks an item list for `submit_audit`: an array of at most five objects with the fields
/// WeChat knows. An empty list is allowed (WeChat takes the app's own categories then).
pub fn check_items(items: &Value) -> Result<Value, CodeError> {
    const FIELDS: [&str; 11] = [
        "address",
        "tag",
        "first_class",
        "second_class",
        "third_class",
        "first_id",
        "second_id",
        "third_id",
        "title",
        "feedback_info",
        "feedback_stuff",
    ];
    let list = match items {
        Value::Null => return Ok(json!([])),
        Value::Array(list) => list,
        _ => {
            return Err(invalid(
                "item_list",
                "the item list must be an array",
                "审核项必须是数组",
            ))
        }
    };
    if list.len() > MAX_AUDIT_ITEMS {
        return Err(invalid(
            "item_list",
            format!("at most {MAX_AUDIT_ITEMS} items"),
            format!("审核项最多 {MAX_AUDIT_ITEMS} 个"),
        ));
    }
    for item in list {
        let Some(fields) = item.as_object() else {
            return Err(invalid(
                "item_list",
                "each item must be an object",
                "每个审核项必须是对象",
            ));
        };
        if let Some(k) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(invalid(
                "item_list",
                format!("unknown item field {k:?}"),
                format!("未知的审核项字段 {k:?}"),
            ));
        }
        let too_long = fields.values().any(|v| match v {
            Value::String(s) => s.chars().count() > 256,
            Value::Number(_) => false,
            _ => true,
        });
        if too_long {
            return Err(invalid(
                "item_list",
                "item fields are text of at most 256 characters or numbers",
                "审核项字段须为不超过 256 个字符的文本或数字",
            ));
        }
    }
    Ok(items.clone())
}

/// Checks a domain list: lower-case host names with the given scheme, at most `max`.
pub fn check_domains(
    field: &'static str,
    list: &[String],
    scheme: &str,
    max: usize,
) -> Result<Vec<String>, CodeError> {
    if list.len() > max {
        return Err(invalid(
            field,
            format!("at most {max} domains"),
            format!("最多 {max} 个域名"),
        ));
    }
    list.iter()
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .map(|d| {
            let ok = d.strip_prefix(scheme).is_some_and(|host| {
                !host.is_empty()
                    && host.len() <= 253
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
            });
            if ok {
                Ok(d)
            } else {
                Err(invalid(
                    field,
                    format!("{d:?} is not a {scheme} domain"),
                    format!("{d:?} 不是 {scheme} 域名"),
                ))
            }
        })
        .collect()
}

/// The server domains of a mini program (`modify_domain`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerDomains {
    #[serde(default)]
    pub requestdomain: Vec<String>,
    #[serde(default)]
    pub wsrequestdomain: Vec<String>,
    #[serde(default)]
    pub uploaddomain: Vec<String>,
    #[serde(default)]
    pub downloaddomain: Vec<String>,
}

impl ServerDomains {
    pub fn checked(&self) -> Result<Self, CodeError> {
        Ok(ServerDomains {
            requestdomain: check_domains("requestdomain", &self.requestdomain, "https://", 200)?,
            wsrequestdomain: check_domains(
                "wsrequestdomain",
                &self.wsrequestdomain,
                "wss://",
                200,
            )?,
            uploaddomain: check_domains("uploaddomain", &self.uploaddomain, "https://", 200)?,
            downloaddomain: check_domains("downloaddomain", &self.downloaddomain, "https://", 200)?,
        })
    }

    pub(super) fn from_answer(v: &Value) -> Self {
        let list = |k: &str| {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        ServerDomains {
            requestdomain: list("requestdomain"),
            wsrequestdomain: list("wsrequestdomain"),
            uploaddomain: list("uploaddomain"),
            downloaddomain: list("downloaddomain"),
        }
    }
}

/// Both kinds of domains as WeChat holds them now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Domains {
    pub server: ServerDomains,
    pub webview: Vec<String>,
}
