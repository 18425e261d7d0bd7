//! The UI's two languages. Every label is written at its use as an English/Chinese pair
//! (`lang.t("Accounts", "账号")`), so a label cannot exist in one language only and the compiler
//! checks that both are there; there is no catalogue to drift out of step with the pages.
//!
//! The language is decided once per request on the server (the `wxhub_lang` cookie, else the
//! browser's `Accept-Language`, else English), written into `<html lang>`, and read back from there
//! when the page hydrates, so both sides render the same words. Switching is a plain link to
//! `/lang/{code}?next=…`, which sets the cookie and redirects: it works without JavaScript.

use serde::{Deserialize, Serialize};

/// The cookie that remembers the chosen language for a year.
pub const LANG_COOKIE: &str = "wxhub_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// The BCP 47 tag written into `<html lang>` and the cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The short code used in `/lang/{code}`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The other language, for the switch link.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// How the language names itself on the switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "中文",
        }
    }

    /// Picks the text of this language from a pair.
    pub fn t<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }

    /// Reads a language tag or code ("zh", "zh-CN", "zh-Hans-CN", "en-GB", …). Anything else is
    /// `None`; the caller falls back.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The best of our two languages for an `Accept-Language` header, by its q-values; English
    /// when the header names neither or is garbage.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (position, item) in header.split(',').take(32).enumerate() {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
                .filter(|q| q.is_finite() && (0.0..=1.0).contains(q))
                .unwrap_or(0.0);
            if q <= 0.0 {
                continue;
            }
            // Equal q-values keep the header's order.
            let better = match best {
                None => true,
                Some((bq, bp, _)) => q > bq || (q == bq && position < bp),
            };
            if better {
                best = Some((q, position, lang));
            }
        }
        best.map_or(Lang::En, |(_, _, lang)| lang)
    }

    /// The language for a request: the cookie wins, then `Accept-Language`.
    pub fn for_request(cookie_header: Option<&str>, accept_language: Option<&str>) -> Lang {
        let from_cookie = cookie_header.and_then(|header| {
            header.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                (name.trim() == LANG_COOKIE)
                    .then(|| Lang::parse(value))
                    .flatten()
            })
        });
        from_cookie.unwrap_or_else(|| accept_language.map_or(Lang::En, Lang::from_accept_language))
    }
}

/// The page's language, from the Leptos context (provided by `App`).
pub fn use_lang() -> Lang {
    leptos::prelude::use_context::<Lang>().unwrap_or_default()
}

/// The language of the request being rendered (server) or of the page being hydrated (browser).
pub fn detect() -> Lang {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>().map_or(Lang::En, |parts| {
            let header = |name: http::header::HeaderName| {
                parts
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            Lang::for_request(
                header(http::header::COOKIE).as_deref(),
                header(http::header::ACCEPT_LANGUAGE).as_deref(),
            )
        })
    }
    #[cfg(not(feature = "ssr"))]
    {
        leptos::prelude::document()
            .document_element()
            .and_then(|html| html.get_attribute("lang"))
            .and_then(|tag| Lang::parse(&tag))
            .unwrap_or_default()
    }
}

/// A date and time in UTC from Unix milliseconds, the same on server and browser (no time zone
/// database in the wasm bundle), e.g. `2026-11-23 06:19 UTC`.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// A duration in words, coarse: "1 h 12 min", "45 s", "3 d 2 h".
pub fn format_duration(lang: Lang, ms: i64) -> String {
    let s = ms.abs() / 1000;
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    let (ud, uh, um, us) = match lang {
        Lang::En => ("d", "h", "min", "s"),
        Lang::Zh => ("天", "小时", "分钟", "秒"),
    };
    let sep = if lang == Lang::Zh { "" } else { " " };
    let text = if d > 0 {
        format!("{d}{sep}{ud} {h}{sep}{uh}")
    } else if h > 0 {
        format!("{h}{sep}{uh} {m}{sep}{um}")
    } else if m > 0 {
        format!("{m}{sep}{um}")
    } else {
        format!("{sec}{sep}{us}")
    };
    if ms < 0 {
        format!("-{text}")
    } else {
        text
    }
}

// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_by_q_value_and_order() {
        assert_eq!(
            Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Lang::Zh
        );
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,zh;q=0.8"),
            Lang::En
        );
        assert_eq!(
            Lang::from_accept_language("fr;q=1, zh-TW;q=0.5, en;q=0.4"),
            Lang::Zh
        );
        assert_eq!(Lang::from_accept_language("de, fr"), Lang::En);
        assert_eq!(Lang::from_accept_language("zh;q=0, en;q=0.1"), Lang::En);
        for garbage in [
            "",
            ";;;",
            "zh;q=abc",
            "zh;q=NaN",
            "zh;q=7",
            "\u{0}\u{ffff}",
            ",,,,",
        ] {
            assert_eq!(Lang::from_accept_language(garbage), Lang::En, "{garbage:?}");
        }
    }

    #[test]
    fn cookie_wins_over_the_header_and_garbage_cookies_are_ignored() {
        assert_eq!(
            Lang::for_request(Some("a=1; wxhub_lang=zh-CN"), Some("en")),
            Lang::Zh
        );
        assert_eq!(
            Lang::for_request(Some("wxhub_lang=en"), Some("zh-CN")),
            Lang::En
        );
        assert_eq!(
            Lang::for_request(Some("wxhub_lang=klingon; x"), Some("zh-CN")),
            Lang::Zh
        );
        assert_eq!(Lang::for_request(Some("=;=;;"), None), Lang::En);
    }

    #[test]
    fn times_and_durations_read_the_same_everywhere() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_795_403_548_000), "2026-11-23 03:12 UTC");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(format_duration(Lang::En, 4_320_000), "1 h 12 min");
        assert_eq!(format_duration(Lang::Zh, 4_320_000), "1小时 12分钟");
        assert_eq!(format_duration(Lang::En, -45_000), "-45 s");
        assert_eq!(
            format_duration(Lang::En, 3 * 86_400_000 + 7_200_000),
            "3 d 2 h"
        );
    }
}
