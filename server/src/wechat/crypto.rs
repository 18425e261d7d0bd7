//! WXBizMsgCrypt: the signatures and the AES envelope WeChat wraps every push in (PROTOCOL.md §2).
//!
//! One [`MsgCrypt`] holds one component's message Token, EncodingAESKey and appid. Inbound, the
//! signature is checked over the exact `<Encrypt>` text before any decryption work; outbound,
//! [`MsgCrypt::encrypt`] builds the same layout (random ‖ length ‖ message ‖ appid, PKCS#7 to 32
//! bytes, AES-256-CBC with the key's first 16 bytes as IV). Every malformed input is a typed
//! [`CryptoError`]; nothing here panics on outside bytes, which the property tests check.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::RngCore;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use super::xml::cdata;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// WeChat pads to 32 bytes, not to the AES block size.
const PAD_BLOCK: usize = 32;
const RANDOM_LEN: usize = 16;
const HEADER_LEN: usize = RANDOM_LEN + 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the EncodingAESKey must be 43 characters from [A-Za-z0-9] (got {0} characters)")]
    KeyLength(usize),
    #[error("the EncodingAESKey may only hold the characters A-Z, a-z and 0-9")]
    KeyCharacters,
    #[error("the EncodingAESKey does not decode to 32 bytes")]
    KeyDecode,
    #[error("the message signature does not match")]
    BadSignature,
    #[error("the ciphertext is not valid base64")]
    BadBase64,
    #[error("the ciphertext length {0} is not a positive multiple of 16")]
    BadCiphertextLength(usize),
    #[error("the plaintext padding is invalid")]
    BadPadding,
    #[error("the plaintext is truncated")]
    Truncated,
    #[error("the message is not valid UTF-8")]
    NotUtf8,
    #[error("the message was encrypted for another appid")]
    WrongAppId,
}

/// The 16-byte random prefix of a plaintext; fixed only in tests that replay official vectors.
pub type RandomPrefix = [u8; RANDOM_LEN];

/// One component's message-crypto parameters.
#[derive(Clone)]
pub struct MsgCrypt {
    token: String,
    key: [u8; 32],
    appid: String,
}

impl std::fmt::Debug for MsgCrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgCrypt")
            .field("appid", &self.appid)
            .finish_non_exhaustive()
    }
}

/// A decrypted message: the XML text (the trailing appid has been checked) and the random prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub message: String,
    pub random: RandomPrefix,
}

/// An encrypted reply ready for the outbound envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    pub encrypt: String,
    pub msg_signature: String,
    pub timestamp: String,
    pub nonce: String,
}

impl Encrypted {
    /// The passive-reply envelope of §2.7: element order and the bare `TimeStamp` as WeChat's SDKs
    /// write them.
    pub fn to_xml(&self) -> String {
        format!(
            "<xml>\n<Encrypt>{}</Encrypt>\n<MsgSignature>{}</MsgSignature>\n<TimeStamp>{}</TimeStamp>\n<Nonce>{}</Nonce>\n</xml>",
            cdata(&self.encrypt),
            cdata(&self.msg_signature),
            self.timestamp,
            cdata(&self.nonce)
        )
    }
}

/// Decodes an EncodingAESKey (43 characters, standard base64 without the trailing `=`).
pub fn decode_aes_key(encoding_aes_key: &str) -> Result<[u8; 32], CryptoError> {
    if encoding_aes_key.len() != 43 {
        return Err(CryptoError::KeyLength(encoding_aes_key.chars().count()));
    }
    if !encoding_aes_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CryptoError::KeyCharacters);
    }
    let mut padded = String::with_capacity(44);
    padded.push_str(encoding_aes_key);
    padded.push('=');
    // The last character carries 2 spare bits; WeChat's keys leave them as they are and every SDK
    // ignores them, so decode leniently rather than reject a key WeChat itself issued.
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let bytes = engine
        .decode(padded.as_bytes())
        .map_err(|_| CryptoError::KeyDecode)?;
    bytes.try_into().map_err(|_| CryptoError::KeyDecode)
}

/// SHA-1 over the sorted, concatenated parts, lower-case hex (§2.2).
pub fn sha1_signature(parts: &mut [&str]) -> String {
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for part in parts.iter() {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The plain `signature` query parameter: sha1(sort(token, timestamp, nonce)).
pub fn plain_signature(token: &str, timestamp: &str, nonce: &str) -> String {
    sha1_signature(&mut [token, timestamp, nonce])
}

/// `msg_signature`: sha1(sort(token, timestamp, nonce, encrypt)).
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    sha1_signature(&mut [token, timestamp, nonce, encrypt])
}

/// Compares a presented hex signature with the expected one in constant time (case-insensitive
/// input is accepted, as some proxies upper-case query values).
pub fn signature_matches(expected: &str, presented: &str) -> bool {
    if presented.len() != expected.len() {
        return false;
    }
    let presented = presented.to_ascii_lowercase();
    expected.as_bytes().ct_eq(presented.as_bytes()).into()
}

impl MsgCrypt {
    pub fn new(token: &str, encoding_aes_key: &str, appid: &str) -> Result<Self, CryptoError> {
        Ok(Self {
            token: token.to_owned(),
            key: decode_aes_key(encoding_aes_key)?,
            appid: appid.to_owned(),
        })
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// Checks the plain `signature` (sent on every push, and alone on echostr checks).
    pub fn verify_plain_signature(&self, timestamp: &str, nonce: &str, signature: &str) -> bool {
        signature_matches(&plain_signature(&self.token, timestamp, nonce), signature)
    }

    /// Checks `msg_signature` over the exact `<Encrypt>` text, then decrypts it.
    pub fn verify_and_decrypt(
        &self,
        timestamp: &str,
        nonce: &str,
        msg_signature_presented: &str,
        encrypt: &str,
    ) -> Result<Decrypted, CryptoError> {
        let expected = msg_signature(&self.token, timestamp, nonce, encrypt);
        if !signature_matches(&expected, msg_signature_presented) {
            return Err(CryptoError::BadSignature);
        }
        self.decrypt(encrypt)
    }

    /// Decrypts `<Encrypt>` text without a signature check (the caller has checked it).
    pub fn decrypt(&self, encrypt: &str) -> Result<Decrypted, CryptoError> {
        let mut buf = STANDARD
            .decode(encrypt.trim().as_bytes())
            .map_err(|_| CryptoError::BadBase64)?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptoError::BadCiphertextLength(buf.len()));
        }
        let iv: [u8; 16] = self.iv();
        let plain = Aes256CbcDec::new(&self.key.into(), &iv.into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::BadPadding)?;
        let pad = *plain.last().ok_or(CryptoError::Truncated)? as usize;
        // WeChat always pads (1..=32 bytes of the pad value). The official samples read an
        // out-of-range pad byte as "no padding" and carry on; that only ever happens with a wrong
        // key or forged bytes, so it is refused here instead of surfacing later as a layout error.
        if !(1..=PAD_BLOCK).contains(&pad)
            || pad > plain.len()
            || !plain[plain.len() - pad..]
                .iter()
                .all(|&b| b as usize == pad)
        {
            return Err(CryptoError::BadPadding);
        }
        let content = &plain[..plain.len() - pad];
        if content.len() < HEADER_LEN {
            return Err(CryptoError::Truncated);
        }
        let mut random = [0u8; RANDOM_LEN];
        random.copy_from_slice(&content[..RANDOM_LEN]);
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(&content[RANDOM_LEN..HEADER_LEN]);
        let msg_len = u32::from_be_bytes(len_bytes) as usize;
        let rest = &content[HEADER_LEN..];
        if msg_len > rest.len() {
            return Err(CryptoError::Truncated);
        }
        let (message, trailing) = rest.split_at(msg_len);
        if trailing != self.appid.as_bytes() {
            return Err(CryptoError::WrongAppId);
        }
        let message = std::str::from_utf8(message)
            .map_err(|_| CryptoError::NotUtf8)?
            .to_owned();
        Ok(Decrypted { message, random })
    }

    /// Encrypts and signs a message with a fresh random prefix, timestamp and nonce.
    pub fn encrypt(&self, message: &str, timestamp: &str, nonce: &str) -> Encrypted {
        let mut random = [0u8; RANDOM_LEN];
        rand::thread_rng().fill_bytes(&mut random);
        self.encrypt_with_random(message, timestamp, nonce, &random)
    }

    /// [`Self::encrypt`] with a chosen random prefix, so the official vectors can be replayed.
    pub fn encrypt_with_random(
        &self,
        message: &str,
        timestamp: &str,
        nonce: &str,
        random: &RandomPrefix,
    ) -> Encrypted {
        let encrypt = STANDARD.encode(self.seal(message.as_bytes(), random));
        let msg_signature = msg_signature(&self.token, timestamp, nonce, &encrypt);
        Encrypted {
            encrypt,
            msg_signature,
            timestamp: timestamp.to_owned(),
            nonce: nonce.to_owned(),
        }
    }

    fn seal(&self, message: &[u8], random: &RandomPrefix) -> Vec<u8> {
        let raw_len = HEADER_LEN + message.len() + self.appid.len();
        let pad = PAD_BLOCK - raw_len % PAD_BLOCK;
        let mut buf = Vec::with_capacity(raw_len + pad);
        buf.extend_from_slice(random);
        // A message over 4 GiB cannot reach here: bodies are capped far below that.
        buf.extend_from_slice(&(message.len() as u32).to_be_bytes());
        buf.extend_from_slice(message);
        buf.extend_from_slice(self.appid.as_bytes());
        buf.resize(raw_len + pad, pad as u8);
        let iv = self.iv();
        let len = buf.len();
        Aes256CbcEnc::new(&self.key.into(), &iv.into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .map(<[u8]>::to_vec)
            // NoPadding over a length that is a multiple of 32 cannot fail.
            .unwrap_or_default()
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    #[test]
    fn key_rules_are_typed_errors() {
        assert_eq!(decode_aes_key("short"), Err(CryptoError::KeyLength(5)));
        assert_eq!(
            decode_aes_key(&"a".repeat(44)),
            Err(CryptoError::KeyLength(44))
        );
        let mut bad = KEY.to_owned();
        bad.replace_range(0..1, "+");
        assert_eq!(decode_aes_key(&bad), Err(CryptoError::KeyCharacters));
        let multibyte = format!("{}é", &KEY[..41]);
        assert!(matches!(
            decode_aes_key(&multibyte),
            Err(CryptoError::KeyLength(_)) | Err(CryptoError::KeyCharacters)
        ));
        assert!(decode_aes_key(KEY).is_ok());
    }

    #[test]
    fn roundtrip_and_tamper() {
        let c = MsgCrypt::new("tok", KEY, "wx1234567890abcdef").unwrap();
        for len in [0usize, 1, 11, 12, 31, 32, 33, 300] {
            let msg = "x".repeat(len);
            let e = c.encrypt(&msg, "1", "2");
            let d = c
                .verify_and_decrypt("1", "2", &e.msg_signature, &e.encrypt)
                .unwrap();
            assert_eq!(d.message, msg);
            assert_eq!(
                c.verify_and_decrypt("1", "3", &e.msg_signature, &e.encrypt),
                Err(CryptoError::BadSignature)
            );
        }
        let other = MsgCrypt::new("tok", KEY, "wxffffffffffffffff").unwrap();
        let e = c.encrypt("<xml/>", "1", "2");
        assert_eq!(other.decrypt(&e.encrypt), Err(CryptoError::WrongAppId));
        assert_eq!(c.decrypt("@@@"), Err(CryptoError::BadBase64));
        assert_eq!(c.decrypt(""), Err(CryptoError::BadCiphertextLength(0)));
        assert_eq!(
            c.decrypt(&STANDARD.encode([0u8; 15])),
            Err(CryptoError::BadCiphertextLength(15))
        );
        // Truncating a valid ciphertext by one block breaks the padding or the layout.
        let raw = STANDARD.decode(&e.encrypt).unwrap();
        let cut = STANDARD.encode(&raw[..raw.len() - 16]);
        assert!(c.decrypt(&cut).is_err());
    }

    #[test]
    fn signature_compare_is_exact_but_case_insensitive() {
        let s = plain_signature("test", "1410685589", "test");
        assert!(signature_matches(&s, &s.to_uppercase()));
        assert!(!signature_matches(&s, &s[..39]));
        assert!(!signature_matches(&s, ""));
    }
}
