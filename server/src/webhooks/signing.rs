//! Standard Webhooks signatures (standardwebhooks.com): the tenant verifies a delivery with any
//! Standard Webhooks library, so the rules here are that specification's, not ours.
//!
//! A secret is `whsec_` followed by the base64 of 32 random bytes; the key is those bytes. The
//! signed content is `{webhook-id}.{webhook-timestamp}.{body}`, and `webhook-signature` is
//! `v1,{base64 HMAC-SHA256}`, one per secret, separated by spaces (two while a rotated secret's
//! overlap lasts).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";

/// A fresh signing secret.
pub fn new_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    SecretString::from(format!("{SECRET_PREFIX}{}", BASE64.encode(bytes)))
}

/// Why a secret is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a webhook secret must be whsec_ followed by base64")]
pub struct BadSecret;

fn key_of(secret: &SecretString) -> Result<Vec<u8>, BadSecret> {
    let text = secret.expose_secret();
    let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
    BASE64.decode(encoded).map_err(|_| BadSecret)
}

fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length; the error cannot happen.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header value: one `v1,` signature per secret.
pub fn sign(
    secrets: &[SecretString],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, BadSecret> {
    let mut parts = Vec::with_capacity(secrets.len());
    for secret in secrets {
        parts.push(signature(&key_of(secret)?, id, timestamp, body));
    }
    Ok(parts.join(" "))
}

/// Whether one of the header's signatures is `secret`'s over this delivery, and the timestamp is
/// within `tolerance_s` of `now_s` (what a receiver checks; the demo sink and tests use it).
pub fn verify(
    secret: &SecretString,
    id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now_s: i64,
    tolerance_s: i64,
) -> bool {
    if (now_s - timestamp).abs() > tolerance_s {
        return false;
    }
    let Ok(key) = key_of(secret) else {
        return false;
    };
    let expected = signature(&key, id, timestamp, body);
    header.split(' ').any(|candidate| {
        subtle::ConstantTimeEq::ct_eq(candidate.as_bytes(), expected.as_bytes()).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification's reference tests.
    #[test]
    fn matches_the_specification_example() {
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let body = br#"{"test": 2432232314}"#;
        let header = sign(
            std::slice::from_ref(&secret),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
        )
        .unwrap_or_default();
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
            &format!("v1,bm9wZQ== {header}"),
            1614265330 + 10,
            300
        ));
        assert!(!verify(
            &secret,
            "msg_other",
            1614265330,
            body,
            &header,
            1614265330,
            300
        ));
        assert!(!verify(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
            &header,
            1614265330 + 301,
            300
        ));
    }

    #[test]
    fn new_secrets_sign_and_differ() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().starts_with(SECRET_PREFIX));
        let header = sign(&[a.clone(), b.clone()], "msg_1", 5, b"{}").unwrap_or_default();
        assert_eq!(header.split(' ').count(), 2);
        assert!(verify(&a, "msg_1", 5, b"{}", &header, 5, 300));
        assert!(verify(&b, "msg_1", 5, b"{}", &header, 5, 300));
        assert_eq!(
            sign(&[SecretString::from("whsec_%%%".to_owned())], "m", 1, b""),
            Err(BadSecret)
        );
    }
}
