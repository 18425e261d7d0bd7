//! argon2id password hashes. Hashing costs ~19 MiB and tens of milliseconds, so it runs on the
//! blocking pool behind a semaphore: a burst of sign-ins queues instead of starving the async
//! threads or the machine's memory.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OnceCell, Semaphore};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password hashing task failed")]
    Join,
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when the account does not exist, so that
    /// "no such user" takes as long as "wrong password".
    dummy: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy: Arc::new(OnceCell::new()),
        }
    }

    pub async fn hash(&self, password: &SecretString) -> Result<String, PasswordError> {
        let password = password.clone();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Join)?;
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            Argon2::default()
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| PasswordError::Hash(e.to_string()))
        })
        .await
        .map_err(|_| PasswordError::Join)?
    }

    /// True when `password` matches `hash`. With `hash == None` it still spends the time of a
    /// verification and answers false.
    pub async fn verify(
        &self,
        password: &SecretString,
        hash: Option<String>,
    ) -> Result<bool, PasswordError> {
        let (hash, real) = match hash {
            Some(h) => (h, true),
            None => (self.dummy_hash().await?, false),
        };
        let password = password.clone();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Join)?;
        let matched = tokio::task::spawn_blocking(move || {
            // A stored hash that does not parse is treated as "does not match", never a panic.
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.expose_secret().as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|_| PasswordError::Join)?;
        Ok(real && matched)
    }

    async fn dummy_hash(&self) -> Result<String, PasswordError> {
        self.dummy
            .get_or_try_init(|| async {
                let (_, random) = crate::secrets::MasterKey::generate();
                self.hash(&random).await
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let h = PasswordHasher::new(2);
        let pw = SecretString::from("correct horse battery");
        let a = h.hash(&pw).await.unwrap();
        let b = h.hash(&pw).await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(h.verify(&pw, Some(a.clone())).await.unwrap());
        assert!(!h
            .verify(&SecretString::from("wrong horse battery"), Some(a))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn missing_or_garbage_hashes_never_match() {
        let h = PasswordHasher::new(1);
        let pw = SecretString::from("anything at all");
        assert!(!h.verify(&pw, None).await.unwrap());
        for garbage in [
            "",
            "$argon2id$",
            "not a hash",
            "$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA",
        ] {
            assert!(
                !h.verify(&pw, Some(garbage.to_owned())).await.unwrap(),
                "{garbage:?}"
            );
        }
    }
}
