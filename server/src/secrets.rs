//! Secrets at rest: AES-256-GCM under the master key (`WXHUB_MASTER_KEY`).
//!
//! A sealed value is a self-describing string `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`,
//! so every value names the key that sealed it and the key can be rotated: the keyring holds the
//! current key (used to seal) and any previous keys (used only to open). Each value is bound to its
//! purpose (e.g. `component:wx…:appsecret`) as associated data, so a ciphertext copied into another
//! row or column does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const FORMAT_VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the master key must be 32 bytes written as 64 hex digits or 44 base64 characters (got {0} characters)")]
    BadFormat(usize),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key {0}, which is not in the keyring")]
    UnknownKey(String),
    #[error("sealed value does not open with key {0} (wrong key, wrong purpose or tampered)")]
    Rejected(String),
}

/// One 256-bit master key and its short public id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"wxhub master key id\0");
        hasher.update(bytes);
        let id = hex::encode(&hasher.finalize()[..4]);
        let cipher = Aes256Gcm::new(bytes.into());
        Self { id, cipher }
    }

    /// Accepts 64 hex digits or standard / URL-safe base64 (with or without padding) of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE.decode(text))
                .or_else(|_| URL_SAFE_NO_PAD.decode(text))
                .ok()
        };
        let bytes: [u8; 32] = decoded
            .and_then(|d| d.try_into().ok())
            .ok_or(KeyError::BadFormat(text.chars().count()))?;
        Ok(Self::from_bytes(&bytes))
    }

    /// A fresh random key and its text form (base64).
    pub fn generate() -> (Self, SecretString) {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let text = STANDARD.encode(bytes);
        (Self::from_bytes(&bytes), SecretString::from(text))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The current key (seals and opens) and previous keys (open only, for rotation).
#[derive(Clone, Debug)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Self {
        Self { current, previous }
    }

    pub fn current_key_id(&self) -> &str {
        self.current.id()
    }

    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: purpose.as_bytes(),
                },
            )
            // AES-GCM encryption only fails for plaintexts beyond 64 GiB.
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        format!(
            "{FORMAT_VERSION}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(blob)
        )
    }

    pub fn seal_str(&self, purpose: &str, plaintext: &SecretString) -> String {
        self.seal(purpose, plaintext.expose_secret().as_bytes())
    }

    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, SecretError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(version), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretError::Malformed);
        };
        if version != FORMAT_VERSION {
            return Err(SecretError::Malformed);
        }
        let key = std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.id == key_id)
            .ok_or_else(|| SecretError::UnknownKey(key_id.to_owned()))?;
        let blob = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SecretError::Malformed)?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(SecretError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        key.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Rejected(key_id.to_owned()))
    }

    pub fn open_str(&self, purpose: &str, sealed: &str) -> Result<SecretString, SecretError> {
        let bytes = self.open(purpose, sealed)?;
        String::from_utf8(bytes)
            .map(SecretString::from)
            .map_err(|_| SecretError::Malformed)
    }

    /// The key id a sealed value names, without opening it.
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        let mut parts = sealed.splitn(3, '.');
        match (parts.next(), parts.next()) {
            (Some(FORMAT_VERSION), Some(id)) => Some(id),
            _ => None,
        }
    }
}

/// SHA-256 hex of a secret, for look-ups and equality checks without keeping the secret.
pub fn fingerprint(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(seed: u8) -> Keyring {
        Keyring::new(MasterKey::from_bytes(&[seed; 32]), vec![])
    }

    #[test]
    fn seal_then_open_round_trips_and_names_the_key() {
        let k = ring(7);
        let sealed = k.seal("p", b"appsecret-value");
        assert!(sealed.starts_with(&format!("v1.{}.", k.current_key_id())));
        assert!(!sealed.contains("appsecret-value"));
        assert_eq!(k.open("p", &sealed).unwrap(), b"appsecret-value");
        // Two seals of the same value differ (fresh nonce).
        assert_ne!(sealed, k.seal("p", b"appsecret-value"));
    }

    #[test]
    fn wrong_purpose_wrong_key_and_tampering_are_rejected() {
        let k = ring(1);
        let sealed = k.seal("component:wx1:appsecret", b"s");
        assert!(matches!(
            k.open("component:wx2:appsecret", &sealed),
            Err(SecretError::Rejected(_))
        ));
        assert!(matches!(
            ring(2).open("component:wx1:appsecret", &sealed),
            Err(SecretError::UnknownKey(_))
        ));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(k.open("component:wx1:appsecret", &tampered).is_err());
    }

    #[test]
    fn garbage_sealed_values_are_errors_not_panics() {
        let k = ring(3);
        for garbage in [
            "",
            ".",
            "v1",
            "v1..",
            "v2.abc.def",
            "v1.zzzz.!!!!",
            "v1.x.AAAA",
            "\u{0}\u{1}",
        ] {
            assert!(k.open("p", garbage).is_err(), "{garbage:?} should not open");
        }
        let id = k.current_key_id().to_owned();
        assert_eq!(
            k.open("p", &format!("v1.{id}.AAAA")),
            Err(SecretError::Malformed)
        );
    }

    #[test]
    fn previous_keys_open_old_values_but_new_values_use_the_current_key() {
        let old = ring(9);
        let sealed = old.seal("p", b"v");
        let rotated = Keyring::new(
            MasterKey::from_bytes(&[10; 32]),
            vec![MasterKey::from_bytes(&[9; 32])],
        );
        assert_eq!(rotated.open("p", &sealed).unwrap(), b"v");
        assert_eq!(
            Keyring::key_id_of(&rotated.seal("p", b"v")),
            Some(rotated.current_key_id())
        );
    }

    #[test]
    fn key_parsing_accepts_hex_and_base64_and_rejects_the_rest() {
        let hex_key = "00".repeat(32);
        let b64 = STANDARD.encode([0u8; 32]);
        assert_eq!(
            MasterKey::parse(&hex_key).unwrap().id(),
            MasterKey::parse(&b64).unwrap().id()
        );
        assert_eq!(
            MasterKey::parse(&format!(" {b64}\n")).unwrap().id(),
            MasterKey::parse(&b64).unwrap().id()
        );
        for bad in [
            "",
            "short",
            &"00".repeat(31),
            &"zz".repeat(32),
            &STANDARD.encode([0u8; 31]),
        ] {
            assert!(MasterKey::parse(bad).is_err(), "{bad:?}");
        }
        let (generated, text) = MasterKey::generate();
        assert_eq!(
            MasterKey::parse(text.expose_secret()).unwrap().id(),
            generated.id()
        );
    }

    #[test]
    fn debug_output_never_contains_key_material() {
        let k = MasterKey::parse(&"ab".repeat(32)).unwrap();
        let shown = format!("{:?}", Keyring::new(k, vec![]));
        assert!(!shown.contains("abab"), "{shown}");
    }
}
