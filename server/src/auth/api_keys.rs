//! Minting tenant API keys: `wxh_` + 43 characters of base64url (256 random bits). The key is
//! returned once; storage keeps its SHA-256 (a key has full entropy, so a slow hash adds nothing)
//! and a short prefix to show in lists.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use secrecy::SecretString;

use crate::secrets::fingerprint;

pub const KEY_PREFIX: &str = "wxh_";

pub struct MintedKey {
    pub key: SecretString,
    pub prefix: String,
    pub hash: String,
}

pub fn mint() -> MintedKey {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let prefix = key[..KEY_PREFIX.len() + 8].to_owned();
    let hash = fingerprint(&key);
    MintedKey {
        key: SecretString::from(key),
        prefix,
        hash,
    }
}

/// The storage hash of a presented key, or `None` if it cannot be one of ours.
pub fn hash_presented(presented: &str) -> Option<String> {
    let body = presented.strip_prefix(KEY_PREFIX)?;
    if body.len() == 43
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Some(fingerprint(presented))
    } else {
        None
    }
}

/// What the console tells whoever keeps verified keys in memory (the tenant API's key cache) when
/// a key or a whole tenant stops being trusted, so this instance refuses it at once rather than
/// when its cached copy ages out. A trait so the console does not depend on the API layer.
pub trait KeyRevocations: Send + Sync {
    fn forget(&self, id: crate::domain::ApiKeyId);
    fn forget_tenant(&self, tenant: crate::domain::TenantId);
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn minted_keys_are_unique_and_recognised() {
        let a = mint();
        let b = mint();
        assert_ne!(a.key.expose_secret(), b.key.expose_secret());
        assert_eq!(a.key.expose_secret().len(), 47);
        assert!(a.key.expose_secret().starts_with(&a.prefix));
        assert_eq!(hash_presented(a.key.expose_secret()), Some(a.hash));
        for garbage in [
            "",
            "wxh_",
            "wxh_short",
            "Bearer wxh_x",
            &format!("abc_{}", "a".repeat(43)),
            &format!("wxh_{}", "é".repeat(43)),
        ] {
            assert_eq!(hash_presented(garbage), None, "{garbage:?}");
        }
    }
}
