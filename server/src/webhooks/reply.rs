//! Passive replies a `reply`-mode endpoint may answer with, and their WeChat XML (the Official
//! Account reply formats). The endpoint answers `{"reply": {"type": "text", "content": "…"}}`;
//! anything else in a 2xx body (or no body) means "no reply".

use serde::Deserialize;

use crate::wechat::xml::cdata;

/// The longest reply body read (a reply is small; a huge body is not a reply).
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PassiveReply {
    Text {
        content: String,
    },
    Image {
        media_id: String,
    },
    Voice {
        media_id: String,
    },
    Video {
        media_id: String,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        description: Option<String>,
    },
    Music {
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        music_url: Option<String>,
        #[serde(default)]
        hq_music_url: Option<String>,
        thumb_media_id: String,
    },
    News {
        articles: Vec<Article>,
    },
    /// Hands the conversation to the customer-service system.
    TransferCustomerService,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Article {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub pic_url: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    reply: Option<serde_json::Value>,
}

/// Why an endpoint's reply was not used (kept on the delivery row; WeChat then gets `success`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyRefused {
    #[error("the reply is not valid: {0}")]
    Invalid(String),
    #[error("a text reply must have 1 to 2048 characters of content")]
    TextLength,
    #[error("a news reply must have 1 to 8 articles")]
    Articles,
}

/// Reads an endpoint's answer: `Ok(None)` when it carries no reply.
pub fn parse(body: &[u8]) -> Result<Option<PassiveReply>, ReplyRefused> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return Ok(None);
    };
    let Some(value) = envelope.reply.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let reply: PassiveReply =
        serde_json::from_value(value).map_err(|e| ReplyRefused::Invalid(e.to_string()))?;
    match &reply {
        PassiveReply::Text { content }
            if content.trim().is_empty() || content.chars().count() > 2048 =>
        {
            Err(ReplyRefused::TextLength)
        }
        PassiveReply::News { articles } if articles.is_empty() || articles.len() > 8 => {
            Err(ReplyRefused::Articles)
        }
        _ => Ok(Some(reply)),
    }
}

impl PassiveReply {
    pub fn kind(&self) -> &'static str {
        match self {
            PassiveReply::Text { .. } => "text",
            PassiveReply::Image { .. } => "image",
            PassiveReply::Voice { .. } => "voice",
            PassiveReply::Video { .. } => "video",
            PassiveReply::Music { .. } => "music",
            PassiveReply::News { .. } => "news",
            PassiveReply::TransferCustomerService => "transfer_customer_service",
        }
    }

    /// The plain reply XML to `to_user` (the user's openid) from `from_user` (the account).
    pub fn to_xml(&self, to_user: &str, from_user: &str, create_time: i64) -> String {
        let opt = |name: &str, v: &Option<String>| match v {
            Some(v) => format!("<{name}>{}</{name}>", cdata(v)),
            None => String::new(),
        };
        let body = match self {
            PassiveReply::Text { content } => format!("<Content>{}</Content>", cdata(content)),
            PassiveReply::Image { media_id } => {
                format!("<Image><MediaId>{}</MediaId></Image>", cdata(media_id))
            }
            PassiveReply::Voice { media_id } => {
                format!("<Voice><MediaId>{}</MediaId></Voice>", cdata(media_id))
            }
            PassiveReply::Video {
                media_id,
                title,
                description,
            } => format!(
                "<Video><MediaId>{}</MediaId>{}{}</Video>",
                cdata(media_id),
                opt("Title", title),
                opt("Description", description)
            ),
            PassiveReply::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => format!(
                "<Music>{}{}{}{}<ThumbMediaId>{}</ThumbMediaId></Music>",
                opt("Title", title),
                opt("Description", description),
                opt("MusicUrl", music_url),
                opt("HQMusicUrl", hq_music_url),
                cdata(thumb_media_id)
            ),
            PassiveReply::News { articles } => {
                let items: String = articles
                    .iter()
                    .map(|a| {
                        format!(
                            "<item><Title>{}</Title>{}{}{}</item>",
                            cdata(&a.title),
                            opt("Description", &a.description),
                            opt("PicUrl", &a.pic_url),
                            opt("Url", &a.url)
                        )
                    })
                    .collect();
                format!(
                    "<ArticleCount>{}</ArticleCount><Articles>{items}</Articles>",
                    articles.len()
                )
            }
            PassiveReply::TransferCustomerService => String::new(),
        };
        format!(
            "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime>\
             <MsgType>{}</MsgType>{body}</xml>",
            cdata(to_user),
            cdata(from_user),
            cdata(self.kind())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_replies_and_refuses_garbage() {
        assert_eq!(
            parse(br#"{"reply":{"type":"text","content":"hi"}}"#),
            Ok(Some(PassiveReply::Text {
                content: "hi".into()
            }))
        );
        assert_eq!(parse(b""), Ok(None));
        assert_eq!(parse(b"ok"), Ok(None));
        assert_eq!(parse(br#"{"received":true}"#), Ok(None));
        assert_eq!(parse(br#"{"reply":null}"#), Ok(None));
        assert!(matches!(
            parse(br#"{"reply":{"type":"rocket"}}"#),
            Err(ReplyRefused::Invalid(_))
        ));
        assert!(matches!(
            parse(br#"{"reply":{"type":"image"}}"#),
            Err(ReplyRefused::Invalid(_))
        ));
        assert_eq!(
            parse(br#"{"reply":{"type":"text","content":"  "}}"#),
            Err(ReplyRefused::TextLength)
        );
        assert_eq!(
            parse(br#"{"reply":{"type":"news","articles":[]}}"#),
            Err(ReplyRefused::Articles)
        );
        let news = parse(
            br#"{"reply":{"type":"news","articles":[{"title":"a]]>b","url":"https://x.test/"}]}}"#,
        )
        .ok()
        .flatten()
        .map(|r| r.to_xml("o_user", "gh_acct", 7));
        let news = news.unwrap_or_default();
        assert!(news.contains("<MsgType><![CDATA[news]]></MsgType><ArticleCount>1</ArticleCount>"));
        assert!(
            news.contains("<Title><![CDATA[a]]]]><![CDATA[>b]]></Title>"),
            "{news}"
        );
        let xml = PassiveReply::Text {
            content: "你好".into(),
        }
        .to_xml("o_user", "gh_acct", 7);
        let parsed = crate::wechat::xml::parse_account_message(xml.as_bytes());
        assert_eq!(
            parsed
                .ok()
                .and_then(|m| m.content().map(str::to_owned))
                .as_deref(),
            Some("你好")
        );
    }
}
