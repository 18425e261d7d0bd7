//! Input rules shared by the browser (compiled into wasm), the server functions, the CLI and the
//! tenant API, so a value is judged the same way wherever it enters. Each rule returns the
//! normalised value or a message that names what is wrong (never echoing a secret back).

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// Lower-cased, trimmed email with one `@`, a dotted domain and no spaces.
pub fn email(input: &str) -> Result<String, String> {
    let e = input.trim().to_lowercase();
    if e.is_empty() {
        return Err("email is required".into());
    }
    if e.len() > 254 {
        return Err("email is longer than 254 characters".into());
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Err("email must look like name@example.com".into());
    };
    let ok = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',');
    if ok {
        Ok(e)
    } else {
        Err("email must look like name@example.com".into())
    }
}

/// Tenant slug: 2–40 of a–z, 0–9 and '-', starting with a letter, not ending with '-'.
pub fn slug(input: &str) -> Result<String, String> {
    let s = input.trim();
    let valid_chars = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if (2..=40).contains(&s.len())
        && valid_chars
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
    {
        Ok(s.to_owned())
    } else {
        Err("slug must be 2–40 characters of a–z, 0–9 and '-', starting with a letter".into())
    }
}

/// A display name (tenant, API key, component): 1–100 characters, no control characters.
pub fn display_name(field: &str, input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err(format!("{field} is required"));
    }
    if s.chars().count() > 100 {
        return Err(format!("{field} is longer than 100 characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(s.to_owned())
}

/// A new password: long enough, not absurdly long. Never echoed.
pub fn new_password(input: &str) -> Result<(), String> {
    if input.chars().count() < PASSWORD_MIN_CHARS {
        return Err(format!(
            "password must be at least {PASSWORD_MIN_CHARS} characters"
        ));
    }
    if input.len() > PASSWORD_MAX_BYTES {
        return Err(format!(
            "password must be at most {PASSWORD_MAX_BYTES} bytes"
        ));
    }
    if input.chars().any(|c| c == '\n' || c == '\r' || c == '\0') {
        return Err("password must not contain line breaks or NUL".into());
    }
    Ok(())
}

/// A WeChat appid (component or authorizer): "wx" followed by 16 lower-case letters or digits.
pub fn appid(field: &str, input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.len() == 18
        && s.starts_with("wx")
        && s[2..]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{field} must be \"wx\" followed by 16 lower-case letters or digits"
        ))
    }
}

/// The message-verification Token configured in WeChat's console: 3–32 letters or digits.
pub fn message_token(input: &str) -> Result<String, String> {
    let s = input.trim();
    if (3..=32).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(s.to_owned())
    } else {
        Err("token must be 3–32 letters or digits".into())
    }
}

/// The EncodingAESKey: exactly 43 letters or digits.
pub fn encoding_aes_key(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.len() == 43 && s.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(s.to_owned())
    } else {
        Err("EncodingAESKey must be exactly 43 letters or digits".into())
    }
}

/// A component appsecret: 32 letters or digits.
pub fn appsecret(input: &str) -> Result<String, String> {
    let s = input.trim();
    if s.len() == 32 && s.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(s.to_owned())
    } else {
        Err("appsecret must be exactly 32 letters or digits".into())
    }
}

/// The longest a link may stay valid: a year.
pub const LINK_MAX_HOURS: u32 = 24 * 366;

/// A create-link form that passed the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidLinkForm {
    pub component_id: i64,
    pub auth_type: u8,
    pub biz_appid: Option<String>,
    pub note: String,
    pub expires_in_hours: Option<u32>,
}

/// The first field of the create-link form that breaks a rule, as (field, English, Chinese).
pub fn link_form(
    form: &crate::dto::NewLinkForm,
) -> Result<ValidLinkForm, (&'static str, String, String)> {
    let component_id = form
        .component_id
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            (
                "component_id",
                "choose a component".to_owned(),
                "请选择第三方平台".to_owned(),
            )
        })?;
    let auth_type = match form.auth_type.trim() {
        "1" => 1,
        "2" => 2,
        "3" | "" => 3,
        _ => {
            return Err((
                "auth_type",
                "choose Official Account, Mini Program or both".into(),
                "请选择公众号、小程序或两者".into(),
            ))
        }
    };
    let biz_appid = link_biz_appid(&form.biz_appid).map_err(|(en, zh)| ("biz_appid", en, zh))?;
    let note = link_note(&form.note).map_err(|(en, zh)| ("note", en, zh))?;
    let expires_in_hours = match form.expires_in_hours.trim() {
        "" | "0" => None,
        hours => Some(
            hours
                .parse::<u32>()
                .ok()
                .filter(|h| (1..=LINK_MAX_HOURS).contains(h))
                .ok_or_else(|| {
                    (
                        "expires_in_hours",
                        format!("expiry is a whole number of hours from 1 to {LINK_MAX_HOURS}, or empty for none"),
                        format!("有效期应为 1 到 {LINK_MAX_HOURS} 的整数小时，留空表示不过期"),
                    )
                })?,
        ),
    };
    Ok(ValidLinkForm {
        component_id,
        auth_type,
        biz_appid,
        note,
        expires_in_hours,
    })
}

/// A link's note: at most 200 characters, no control characters; trimmed.
pub fn link_note(raw: &str) -> Result<String, (String, String)> {
    let note = raw.trim();
    if note.chars().count() > 200 || note.chars().any(char::is_control) {
        return Err((
            "a note is at most 200 characters, without control characters".into(),
            "备注最多 200 个字符，且不能包含控制字符".into(),
        ));
    }
    Ok(note.to_owned())
}

/// The one account a link is for, if any: empty means any account.
pub fn link_biz_appid(raw: &str) -> Result<Option<String>, (String, String)> {
    match raw.trim() {
        "" => Ok(None),
        other => appid("appid", other)
            .map(Some)
            .map_err(|en| (en, "appid 应为 wx 加 16 位小写字母或数字".to_owned())),
    }
}

/// A new tenant user: (email, role), or the first field that breaks a rule as (field, English,
/// Chinese). The password is checked but never returned or echoed.
pub fn user_form(
    form: &crate::dto::NewUserForm,
) -> Result<(String, crate::model::Role), (&'static str, String, String)> {
    use crate::model::Role;
    let email =
        email(&form.email).map_err(|en| ("email", en, "请输入有效的邮箱地址".to_owned()))?;
    let role = match Role::parse(form.role.trim()) {
        Some(r @ (Role::TenantAdmin | Role::TenantViewer)) => r,
        _ => {
            return Err((
                "role",
                "choose admin or viewer".into(),
                "请选择管理员或只读成员".into(),
            ))
        }
    };
    new_password(&form.password).map_err(|en| {
        (
            "password",
            en,
            format!("密码至少 {PASSWORD_MIN_CHARS} 个字符，不能包含换行"),
        )
    })?;
    Ok((email, role))
}

/// An API key's name, with both languages' messages.
pub fn api_key_name(input: &str) -> Result<String, (&'static str, String, String)> {
    display_name("name", input).map_err(|en| {
        (
            "name",
            en,
            "名称必填，最多 100 个字符，且不能包含控制字符".to_owned(),
        )
    })
}

/// The scopes asked for a key, by name. At least one, each known; the answer is in
/// [`crate::model::ApiScope::ALL`] order without repeats.
pub fn api_key_scopes(
    names: &[String],
) -> Result<Vec<crate::model::ApiScope>, (&'static str, String, String)> {
    use crate::model::ApiScope;
    let mut chosen = Vec::new();
    for name in names {
        match ApiScope::parse(name.trim()) {
            Some(scope) => chosen.push(scope),
            None => {
                let known = ApiScope::ALL.map(ApiScope::as_str).join(", ");
                let shown: String = name.chars().take(40).collect();
                return Err((
                    "scopes",
                    format!("unknown scope {shown:?}; the scopes are {known}"),
                    format!("未知的权限范围 {shown:?}；可用的是 {known}"),
                ));
            }
        }
    }
    if chosen.is_empty() {
        return Err((
            "scopes",
            "choose at least one scope".to_owned(),
            "至少选择一个权限范围".to_owned(),
        ));
    }
    Ok(ApiScope::ALL
        .into_iter()
        .filter(|s| chosen.contains(s))
        .collect())
}

/// A component form that passed the rules; `None` secrets mean "keep the stored one" (edit only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidComponentForm {
    pub id: Option<i64>,
    pub appid: String,
    pub name: String,
    pub token: Option<String>,
    pub appsecret: Option<String>,
    pub encoding_aes_key: Option<String>,
}

/// The first field of the component form that breaks a rule, as (field, English, Chinese). A new
/// component needs every secret; an edit may leave any of them empty to keep it.
pub fn component_form(
    form: &crate::dto::ComponentForm,
) -> Result<ValidComponentForm, (&'static str, String, String)> {
    let id = match form.id.trim() {
        "" => None,
        id => Some(id.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| {
            (
                "id",
                "unknown component".to_owned(),
                "第三方平台不存在".to_owned(),
            )
        })?),
    };
    let appid = appid("appid", &form.appid).map_err(|en| {
        (
            "appid",
            en,
            "appid 应为 wx 加 16 位小写字母或数字".to_owned(),
        )
    })?;
    let name = match form.name.trim() {
        "" => String::new(),
        n => display_name("name", n).map_err(|en| {
            (
                "name",
                en,
                "名称最多 100 个字符，且不能包含控制字符".to_owned(),
            )
        })?,
    };
    let optional = |value: &str,
                    field: &'static str,
                    rule: fn(&str) -> Result<String, String>,
                    zh: &str|
     -> Result<Option<String>, (&'static str, String, String)> {
        if value.trim().is_empty() {
            return if id.is_some() {
                Ok(None)
            } else {
                Err((field, format!("{field} is required"), format!("{zh}必填")))
            };
        }
        rule(value)
            .map(Some)
            .map_err(|en| (field, en, format!("{zh}格式不正确")))
    };
    let token = optional(&form.token, "token", message_token, "消息校验 Token ")?;
    let appsecret = optional(&form.appsecret, "appsecret", appsecret, "AppSecret ")?;
    let encoding_aes_key = optional(
        &form.encoding_aes_key,
        "encoding_aes_key",
        encoding_aes_key,
        "消息加解密 Key ",
    )?;
    Ok(ValidComponentForm {
        id,
        appid,
        name,
        token,
        appsecret,
        encoding_aes_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("  Admin@Example.COM ").unwrap(), "admin@example.com");
        for bad in [
            "",
            "a",
            "a@",
            "@b.c",
            "a@b",
            "a@@b.c",
            "a b@c.d",
            "a@b.c.",
            "a@.b.c",
            "<a@b.c>",
            &format!("{}@b.cn", "x".repeat(260)),
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn api_key_scope_lists() {
        use crate::model::ApiScope;
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            api_key_scopes(&names(&["webhooks:manage", " tokens:read ", "tokens:read"])).unwrap(),
            vec![ApiScope::TokensRead, ApiScope::WebhooksManage]
        );
        for bad in [
            names(&[]),
            names(&["tokens:write"]),
            names(&["tokens:read", ""]),
            names(&["*"]),
            names(&["TOKENS:READ"]),
            names(&[&"x".repeat(10_000)]),
        ] {
            let (field, en, _) = api_key_scopes(&bad).unwrap_err();
            assert_eq!(field, "scopes");
            assert!(en.len() < 200, "{en}");
        }
        // Stored lists: unknown words grant nothing, order and repeats do not matter.
        assert_eq!(
            ApiScope::parse_list("wechat:call  admin tokens:read wechat:call"),
            vec![ApiScope::TokensRead, ApiScope::WechatCall]
        );
        assert_eq!(ApiScope::parse_list(""), vec![]);
        assert_eq!(
            ApiScope::join(&ApiScope::ALL),
            "tokens:read wechat:call links:write webhooks:manage"
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(slug(" acme-2 ").unwrap(), "acme-2");
        for bad in [
            "",
            "a",
            "Acme",
            "2acme",
            "acme-",
            "ac me",
            "acmé",
            "a_b",
            &"a".repeat(41),
        ] {
            assert!(slug(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn appids_tokens_and_keys() {
        assert!(appid("appid", "wx3c0d9b0e1a2f4c5d").is_ok());
        for bad in [
            "",
            "wx",
            "wx3c0d9b0e1a2f4c5",
            "wx3c0d9b0e1a2f4c5dd",
            "WX3c0d9b0e1a2f4c5d",
            "wx3C0D9B0E1A2F4C5D",
            "gh_3c0d9b0e1a2f4c",
        ] {
            assert!(appid("appid", bad).is_err(), "{bad:?}");
        }
        assert!(message_token("componenttoken").is_ok());
        for bad in ["", "ab", "has space", "x".repeat(33).as_str(), "tok-en"] {
            assert!(message_token(bad).is_err(), "{bad:?}");
        }
        assert!(encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").is_ok());
        for bad in [
            "",
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF=",
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
        ] {
            assert!(encoding_aes_key(bad).is_err(), "{bad:?}");
        }
        assert!(appsecret(&"a1".repeat(16)).is_ok());
        assert!(appsecret(&"a1".repeat(15)).is_err());
    }

    #[test]
    fn passwords_and_names() {
        assert!(new_password("correct horse").is_ok());
        assert!(new_password("short").is_err());
        assert!(new_password(&"x".repeat(2000)).is_err());
        assert!(new_password("line\nbreak!!").is_err());
        assert!(display_name("name", "  Acme Ltd ").is_ok());
        assert!(display_name("name", " ").is_err());
        assert!(display_name("name", "a\u{7}b").is_err());
        let err = display_name("name", &"n".repeat(101)).unwrap_err();
        assert!(err.contains("name"));
    }
    #[test]
    fn link_form_rules_name_the_field_and_garbage_never_passes() {
        use crate::dto::NewLinkForm;
        let good = NewLinkForm {
            component_id: "3".into(),
            auth_type: "2".into(),
            biz_appid: " wx0123456789abcdef ".into(),
            note: " spring campaign ".into(),
            expires_in_hours: "48".into(),
        };
        let v = link_form(&good).unwrap();
        assert_eq!(
            (
                v.component_id,
                v.auth_type,
                v.biz_appid.as_deref(),
                v.note.as_str(),
                v.expires_in_hours
            ),
            (
                3,
                2,
                Some("wx0123456789abcdef"),
                "spring campaign",
                Some(48)
            )
        );
        let none = link_form(&NewLinkForm {
            component_id: "1".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (none.auth_type, none.biz_appid, none.expires_in_hours),
            (3, None, None)
        );
        let field = |f: NewLinkForm| link_form(&f).unwrap_err().0;
        for bad in ["", "0", "-1", "x", "1.5", "99999999999999999999"] {
            assert_eq!(
                field(NewLinkForm {
                    component_id: bad.into(),
                    ..good.clone()
                }),
                "component_id",
                "{bad:?}"
            );
        }
        for bad in ["0", "4", "both", "\u{0}"] {
            assert_eq!(
                field(NewLinkForm {
                    auth_type: bad.into(),
                    ..good.clone()
                }),
                "auth_type",
                "{bad:?}"
            );
        }
        for bad in [
            "wx123",
            "WX0123456789ABCDEF",
            "gh_0123456789ab",
            "wx0123456789abcdef0",
        ] {
            assert_eq!(
                field(NewLinkForm {
                    biz_appid: bad.into(),
                    ..good.clone()
                }),
                "biz_appid",
                "{bad:?}"
            );
        }
        for bad in ["-1", "8785", "1e3", "two"] {
            assert_eq!(
                field(NewLinkForm {
                    expires_in_hours: bad.into(),
                    ..good.clone()
                }),
                "expires_in_hours",
                "{bad:?}"
            );
        }
        assert_eq!(
            field(NewLinkForm {
                note: "a".repeat(201),
                ..good.clone()
            }),
            "note"
        );
        assert_eq!(
            field(NewLinkForm {
                note: "a\u{7}b".into(),
                ..good.clone()
            }),
            "note"
        );
    }
    #[test]
    fn user_forms_and_key_names_name_the_field() {
        use crate::dto::NewUserForm;
        use crate::model::Role;
        let good = NewUserForm {
            email: " Ops@Example.COM ".into(),
            role: "tenant-viewer".into(),
            password: "long enough password".into(),
        };
        assert_eq!(
            user_form(&good).unwrap(),
            ("ops@example.com".into(), Role::TenantViewer)
        );
        let field = |f: NewUserForm| user_form(&f).unwrap_err().0;
        assert_eq!(
            field(NewUserForm {
                email: "nope".into(),
                ..good.clone()
            }),
            "email"
        );
        for role in ["platform-admin", "platform-auditor", "", "admin"] {
            assert_eq!(
                field(NewUserForm {
                    role: role.into(),
                    ..good.clone()
                }),
                "role",
                "{role}"
            );
        }
        assert_eq!(
            field(NewUserForm {
                password: "short".into(),
                ..good.clone()
            }),
            "password"
        );
        assert_eq!(api_key_name(" billing ").unwrap(), "billing");
        for bad in ["", "   ", "a\u{0}b"] {
            assert_eq!(api_key_name(bad).unwrap_err().0, "name");
        }
        assert!(api_key_name(&"k".repeat(101)).is_err());
    }
    #[test]
    fn component_forms_need_every_secret_when_new_and_none_when_edited() {
        use crate::dto::ComponentForm;
        let new = ComponentForm {
            id: String::new(),
            appid: "wx0de0c0de0000d001".into(),
            name: "Acme".into(),
            token: "tok3n".into(),
            appsecret: "0123456789abcdef0123456789abcdef".into(),
            encoding_aes_key: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into(),
        };
        let v = component_form(&new).unwrap();
        assert_eq!((v.id, v.token.as_deref()), (None, Some("tok3n")));
        let field = |f: ComponentForm| component_form(&f).unwrap_err().0;
        assert_eq!(
            field(ComponentForm {
                appsecret: String::new(),
                ..new.clone()
            }),
            "appsecret"
        );
        assert_eq!(
            field(ComponentForm {
                appsecret: "short".into(),
                ..new.clone()
            }),
            "appsecret"
        );
        assert_eq!(
            field(ComponentForm {
                encoding_aes_key: "x".repeat(42),
                ..new.clone()
            }),
            "encoding_aes_key"
        );
        assert_eq!(
            field(ComponentForm {
                token: "a b".into(),
                ..new.clone()
            }),
            "token"
        );
        assert_eq!(
            field(ComponentForm {
                appid: "gh_123".into(),
                ..new.clone()
            }),
            "appid"
        );
        assert_eq!(
            field(ComponentForm {
                id: "-3".into(),
                ..new.clone()
            }),
            "id"
        );
        let edit = ComponentForm {
            id: "7".into(),
            token: String::new(),
            appsecret: String::new(),
            encoding_aes_key: String::new(),
            ..new.clone()
        };
        let v = component_form(&edit).unwrap();
        assert_eq!(
            (v.id, v.token, v.appsecret, v.encoding_aes_key),
            (Some(7), None, None, None)
        );
    }
}

/// A day as `YYYY-MM-DD` (UTC) → Unix ms at its start. Empty is `None`; anything else is an error
/// naming the expected form (the caller names the field).
pub fn day_start_ms(input: &str) -> Result<Option<i64>, String> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || "a date as YYYY-MM-DD".to_owned();
    let mut parts = s.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<i64>(), d.parse::<i64>()) else {
        return Err(bad());
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1970..=9999).contains(&y) || d < 1 || d > days_in_month {
        return Err(bad());
    }
    // Days since 1970-01-01 (civil-from-days inverse, Howard Hinnant's algorithm).
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(Some(days * 86_400_000))
}

/// The end of a day given as `YYYY-MM-DD` (the start of the next one), for inclusive "to" filters.
pub fn day_end_ms(input: &str) -> Result<Option<i64>, String> {
    Ok(day_start_ms(input)?.map(|start| start + 86_400_000))
}

/// A new tenant: (slug, name), or the first field that breaks a rule as (field, English, Chinese).
pub fn tenant_form(
    form: &crate::dto::NewTenantForm,
) -> Result<(String, String), (&'static str, String, String)> {
    let slug = slug(&form.slug).map_err(|en| {
        (
            "slug",
            en,
            "标识为 2 到 40 位小写字母、数字或连字符".to_owned(),
        )
    })?;
    let name = display_name("name", &form.name).map_err(|en| {
        (
            "name",
            en,
            "名称必填，最多 100 个字符，且不能包含控制字符".to_owned(),
        )
    })?;
    Ok((slug, name))
}

/// The first field of a form that breaks a rule, as (field, English, Chinese).
pub type FieldProblem = (&'static str, String, String);

/// A user made by a platform admin: (email, role, tenant slug for tenant roles).
pub fn staff_user_form(
    form: &crate::dto::NewStaffUserForm,
) -> Result<(String, crate::model::Role, Option<String>), FieldProblem> {
    let email =
        email(&form.email).map_err(|en| ("email", en, "请输入有效的邮箱地址".to_owned()))?;
    let role = crate::model::Role::parse(form.role.trim())
        .ok_or_else(|| ("role", "choose a role".to_owned(), "请选择角色".to_owned()))?;
    let tenant = match (role.is_platform(), form.tenant.trim()) {
        (true, "") => None,
        (true, _) => {
            return Err((
                "tenant",
                "platform staff belong to no tenant; leave the tenant empty".into(),
                "平台人员不属于任何租户，请留空".into(),
            ))
        }
        (false, "") => {
            return Err((
                "tenant",
                "a tenant role needs a tenant".into(),
                "租户角色需要选择租户".into(),
            ))
        }
        (false, t) => Some(slug(t).map_err(|en| ("tenant", en, "租户标识无效".to_owned()))?),
    };
    new_password(&form.password).map_err(|en| {
        (
            "password",
            en,
            format!("密码至少 {PASSWORD_MIN_CHARS} 个字符，不能包含换行"),
        )
    })?;
    Ok((email, role, tenant))
}

#[cfg(test)]
mod platform_rule_tests {
    use super::*;
    use crate::dto::{NewStaffUserForm, NewTenantForm};

    #[test]
    fn days_are_utc_midnights_and_garbage_is_refused() {
        assert_eq!(day_start_ms(""), Ok(None));
        assert_eq!(day_start_ms("1970-01-01"), Ok(Some(0)));
        assert_eq!(day_start_ms("2026-11-23"), Ok(Some(1_795_392_000_000)));
        assert_eq!(day_start_ms("2024-02-29"), Ok(Some(1_709_164_800_000)));
        assert_eq!(day_end_ms("1970-01-01"), Ok(Some(86_400_000)));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-1",
            "26-11-23",
            "yesterday",
            "2026-11-23T00:00",
            "1969-12-31",
            "２０２６-11-23",
            "2026-11-\u{0}1",
        ] {
            assert_eq!(
                day_start_ms(bad),
                Err("a date as YYYY-MM-DD".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn tenant_and_staff_user_forms() {
        assert_eq!(
            tenant_form(&NewTenantForm {
                slug: " globex ".into(),
                name: "Globex".into()
            }),
            Ok(("globex".into(), "Globex".into()))
        );
        assert_eq!(
            tenant_form(&NewTenantForm {
                slug: "Globex!".into(),
                name: "G".into()
            })
            .unwrap_err()
            .0,
            "slug"
        );
        assert_eq!(
            tenant_form(&NewTenantForm {
                slug: "globex".into(),
                name: "".into()
            })
            .unwrap_err()
            .0,
            "name"
        );
        let form = |role: &str, tenant: &str| NewStaffUserForm {
            email: "a@b.example".into(),
            role: role.into(),
            tenant: tenant.into(),
            password: "long enough password".into(),
        };
        assert!(staff_user_form(&form("platform-auditor", "")).is_ok_and(|(_, _, t)| t.is_none()));
        assert_eq!(
            staff_user_form(&form("tenant-admin", "acme")).map(|(_, _, t)| t),
            Ok(Some("acme".into()))
        );
        assert_eq!(
            staff_user_form(&form("tenant-admin", "")).unwrap_err().0,
            "tenant"
        );
        assert_eq!(
            staff_user_form(&form("platform-admin", "acme"))
                .unwrap_err()
                .0,
            "tenant"
        );
        assert_eq!(staff_user_form(&form("root", "")).unwrap_err().0, "role");
        let mut short = form("platform-admin", "");
        short.password = "short".into();
        assert_eq!(staff_user_form(&short).unwrap_err().0, "password");
    }
}
