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
}
