//! The protocol core against WeChat's official vectors, and arbitrary bytes against the parsers.

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::Value;
use wxhub::wechat::crypto::{msg_signature, plain_signature, CryptoError, MsgCrypt};
use wxhub::wechat::links::jssdk_signature;
use wxhub::wechat::xml::{parse_component_push, parse_envelope, PushKind};

fn vectors() -> Value {
    let text = include_str!("data/wechat_vectors.json");
    serde_json::from_str(text).expect("vectors.json is valid JSON")
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("vector field {k}"))
}

#[test]
fn every_crypto_vector_decrypts_and_encrypts() {
    let all = vectors();
    let list = all["crypto"].as_array().expect("crypto list");
    assert_eq!(list.len(), 4);
    for v in list {
        let name = s(v, "name");
        let crypto = MsgCrypt::new(s(v, "token"), s(v, "encoding_aes_key"), s(v, "appid")).unwrap();
        // The signature WeChat would send over this ciphertext.
        assert_eq!(
            msg_signature(
                s(v, "token"),
                s(v, "timestamp"),
                s(v, "nonce"),
                s(v, "encrypt")
            ),
            s(v, "msg_signature"),
            "{name}: msg_signature"
        );
        let plain = crypto
            .verify_and_decrypt(
                s(v, "timestamp"),
                s(v, "nonce"),
                s(v, "msg_signature"),
                s(v, "encrypt"),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plain.message, s(v, "plaintext"), "{name}: plaintext");
        if let Some(prefix) = v["random_prefix"].as_str() {
            let random: [u8; 16] = prefix.as_bytes().try_into().expect("16-byte prefix");
            assert_eq!(plain.random, random, "{name}: random prefix");
            let again = crypto.encrypt_with_random(
                s(v, "plaintext"),
                s(v, "timestamp"),
                s(v, "nonce"),
                &random,
            );
            assert_eq!(again.encrypt, s(v, "encrypt"), "{name}: encrypt");
            assert_eq!(
                again.msg_signature,
                s(v, "msg_signature"),
                "{name}: signature"
            );
        }
        if let Some(sig) = v["plain_signature"].as_str() {
            assert!(crypto.verify_plain_signature(s(v, "timestamp"), s(v, "nonce"), sig));
        }
        // One changed character in the signature, or the wrong appid inside, is refused.
        let mut bad_sig = s(v, "msg_signature").to_owned();
        let last = if bad_sig.ends_with('0') { "1" } else { "0" };
        bad_sig.replace_range(39..40, last);
        assert_eq!(
            crypto.verify_and_decrypt(s(v, "timestamp"), s(v, "nonce"), &bad_sig, s(v, "encrypt")),
            Err(CryptoError::BadSignature)
        );
        let other = MsgCrypt::new(
            s(v, "token"),
            s(v, "encoding_aes_key"),
            "wx0000000000000000",
        )
        .unwrap();
        assert_eq!(
            other.decrypt(s(v, "encrypt")),
            Err(CryptoError::WrongAppId),
            "{name}"
        );
    }
}

#[test]
fn the_ticket_vector_parses_into_a_ticket() {
    let all = vectors();
    let v = &all["crypto"][3];
    let crypto = MsgCrypt::new(s(v, "token"), s(v, "encoding_aes_key"), s(v, "appid")).unwrap();
    let plain = crypto.decrypt(s(v, "encrypt")).unwrap();
    let push = parse_component_push(plain.message.as_bytes()).unwrap();
    assert_eq!(
        push.kind,
        PushKind::VerifyTicket {
            ticket: "ticket@@@example".into()
        }
    );
    assert_eq!(push.app_id, s(v, "appid"));
}

#[test]
fn plain_and_jssdk_vectors() {
    let all = vectors();
    for v in all["plain_signature"].as_array().unwrap() {
        let expected = s(v, "signature");
        assert_eq!(
            plain_signature(s(v, "token"), s(v, "timestamp"), s(v, "nonce")),
            expected
        );
        let crypto = MsgCrypt::new(
            s(v, "token"),
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "wx",
        )
        .unwrap();
        assert!(crypto.verify_plain_signature(s(v, "timestamp"), s(v, "nonce"), expected));
        let wrong = format!("{}e", &expected[..39]);
        assert!(!crypto.verify_plain_signature(s(v, "timestamp"), s(v, "nonce"), &wrong));
    }
    for v in all["jssdk_signature"].as_array().unwrap() {
        let ts: i64 = s(v, "timestamp").parse().unwrap();
        assert_eq!(
            jssdk_signature(s(v, "jsapi_ticket"), s(v, "noncestr"), ts, s(v, "url")),
            s(v, "signature")
        );
        let with_fragment = format!("{}#section", s(v, "url"));
        assert_eq!(
            jssdk_signature(s(v, "jsapi_ticket"), s(v, "noncestr"), ts, &with_fragment),
            s(v, "signature")
        );
    }
}

#[test]
fn corrupted_ciphertexts_are_typed_errors() {
    let crypto =
        MsgCrypt::new("t", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxabc").unwrap();
    let good = crypto.encrypt("<xml/>", "1", "2").encrypt;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&good)
        .unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    // A flipped bit in the last block scrambles the padding.
    let mut flipped = raw.clone();
    let n = flipped.len();
    flipped[n - 17] ^= 0x01;
    assert!(matches!(
        crypto.decrypt(&b64(&flipped)),
        Err(CryptoError::BadPadding) | Err(CryptoError::WrongAppId) | Err(CryptoError::Truncated)
    ));
    assert_eq!(
        crypto.decrypt(&b64(&raw[..n - 1])),
        Err(CryptoError::BadCiphertextLength(n - 1))
    );
    assert_eq!(crypto.decrypt("not base64!"), Err(CryptoError::BadBase64));
    // A single block holding only padding: the layout is truncated.
    let only_padding = {
        let c = MsgCrypt::new("t", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "").unwrap();
        // An empty appid and empty message give 20 bytes of layout + 12 of padding.
        c.encrypt("", "1", "2").encrypt
    };
    assert_eq!(crypto.decrypt(&only_padding), Err(CryptoError::WrongAppId));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic_the_xml_parsers(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_component_push(&bytes);
        let _ = parse_envelope(&bytes);
    }

    #[test]
    fn xml_like_text_never_panics(text in "(<[a-zA-Z]{1,4}>|</[a-zA-Z]{1,4}>|<!\\[CDATA\\[|\\]\\]>|&[a-z#0-9x]{0,6};|[a-z0-9 ]{0,8}|<!DOCTYPE|<\\?xml|/>){0,40}") {
        let _ = parse_component_push(text.as_bytes());
        let _ = parse_envelope(text.as_bytes());
    }

    #[test]
    fn arbitrary_ciphertext_never_panics(text in "[A-Za-z0-9+/=]{0,400}", sig in "[0-9a-f]{0,40}") {
        let crypto = MsgCrypt::new("t", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxabc").unwrap();
        let _ = crypto.decrypt(&text);
        let _ = crypto.verify_and_decrypt("1", "2", &sig, &text);
    }

    #[test]
    fn arbitrary_aligned_ciphertext_never_panics(bytes in proptest::collection::vec(any::<u8>(), 1..40)) {
        let crypto = MsgCrypt::new("t", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxabc").unwrap();
        let mut aligned = bytes.repeat(16);
        aligned.truncate((aligned.len() / 16) * 16);
        let text = base64::engine::general_purpose::STANDARD.encode(&aligned);
        prop_assert!(crypto.decrypt(&text).is_err() || aligned.len() >= 32);
    }

    #[test]
    fn encrypt_then_decrypt_is_identity(msg in "\\PC{0,300}", appid in "wx[a-z0-9]{16}") {
        let crypto = MsgCrypt::new("tok", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", &appid).unwrap();
        let e = crypto.encrypt(&msg, "1700000000", "42");
        let d = crypto.verify_and_decrypt("1700000000", "42", &e.msg_signature, &e.encrypt).unwrap();
        prop_assert_eq!(d.message, msg);
    }

    #[test]
    fn arbitrary_keys_are_errors_not_panics(key in "\\PC{0,50}") {
        let _ = MsgCrypt::new("t", &key, "wx");
    }
}

/// A fake WeChat that answers every call with the next canned body.
async fn canned(bodies: Vec<(u16, String)>) -> String {
    use std::sync::{Arc, Mutex};
    let queue = Arc::new(Mutex::new(bodies.into_iter()));
    let app = axum::Router::new().fallback(move || {
        let queue = queue.clone();
        async move {
            let (status, body) = queue.lock().unwrap().next().unwrap_or((200, "{}".into()));
            (axum::http::StatusCode::from_u16(status).unwrap(), body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn garbage_from_wechat_is_a_typed_error() {
    use std::time::Duration;
    use wxhub::wechat::api::{ClientSettings, WechatClient, WechatError};
    let cases: Vec<(u16, String)> = vec![
        (200, "<html>gateway</html>".into()),
        (200, "[1,2,3]".into()),
        (200, r#"{"errcode": "soon"}"#.into()),
        (
            200,
            r#"{"component_access_token": 5, "expires_in": 7200}"#.into(),
        ),
        (
            200,
            r#"{"component_access_token": "t", "expires_in": "forever"}"#.into(),
        ),
        (
            200,
            format!(r#"{{"pad": "{}"}}"#, "x".repeat(2 * 1024 * 1024)),
        ),
        (502, "bad gateway".into()),
        (
            200,
            r#"{"errcode": 45009, "errmsg": "reach max api daily quota limit rid: 1"}"#.into(),
        ),
        (
            200,
            r#"{"component_access_token": "tok", "expires_in": "7200"}"#.into(),
        ),
    ];
    let base = canned(cases).await;
    let client = WechatClient::new(&ClientSettings {
        api_base: base.parse().unwrap(),
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
    })
    .unwrap();
    let mut results = Vec::new();
    for _ in 0..9 {
        results.push(client.component_token("wx1", "s", "t").await);
    }
    for r in &results[..6] {
        assert!(matches!(r, Err(WechatError::Malformed(_))), "{r:?}");
    }
    assert_eq!(results[6], Err(WechatError::HttpStatus(502)));
    let quota = results[7].clone().unwrap_err();
    assert_eq!(quota.errcode(), Some(45009));
    assert_eq!(quota.meaning().map(|m| m.zh), Some("接口调用超过每日限额"));
    assert_eq!(
        quota.class(),
        wxhub::wechat::errcode::ErrcodeClass::Throttled
    );
    // A numeric string where WeChat usually sends a number is accepted.
    let ok = results[8].clone().unwrap();
    assert_eq!(
        (ok.component_access_token.expose(), ok.expires_in),
        ("tok", 7200)
    );
    // Nothing reachable: a transport error that does not print the URL (it would carry a token).
    let dead = WechatClient::new(&ClientSettings {
        api_base: "http://127.0.0.1:9".parse().unwrap(),
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
    })
    .unwrap();
    let err = dead
        .create_preauthcode("secret-token-value", "wx1")
        .await
        .unwrap_err();
    assert!(matches!(err, WechatError::Transport(_)), "{err:?}");
    assert!(!err.to_string().contains("secret-token-value"), "{err}");
    // ... but it says why: the whole cause chain, down to the refused connection.
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
}
