//! Password policy and argon2id hashing, run off the async runtime.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier},
};
use tokio::sync::{OnceCell, Semaphore};
use unicode_normalization::UnicodeNormalization;

use crate::error::{AppError, AppResult};

/// Memory cost in KiB, passes and lanes: RFC 9106's second recommended option (64 MiB, t=3, p=4).
const MEMORY_KIB: u32 = 64 * 1024;
const PASSES: u32 = 3;
const LANES: u32 = 4;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

/// Normalizes a password (NFKD, so the same password typed on any keyboard matches) and checks
/// its length.
pub fn normalize(password: &str) -> AppResult<String> {
    let normalized: String = password.nfkd().collect();
    let length = normalized.chars().count();
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Err(AppError::bad_input(format!(
            "the password must be {MIN_LENGTH} to {MAX_LENGTH} characters long"
        )));
    }
    Ok(normalized)
}

/// Hashes and verifies passwords on the blocking thread pool, at most as many at once as the
/// machine has cores (each hash holds 64 MiB).
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<OnceCell<String>>,
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Passwords {
            permits: Arc::new(Semaphore::new(cores)),
            dummy_hash: Arc::new(OnceCell::new()),
        }
    }
}

fn argon2() -> AppResult<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|_| AppError::Internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

impl Passwords {
    /// The PHC string of a normalized password.
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.blocking(move || {
            let hash = argon2()?
                .hash_password(password.as_bytes())
                .map_err(|err| {
                    tracing::error!(error = %err, "password hashing failed");
                    AppError::Internal
                })?;
            Ok(hash.to_string())
        })
        .await
    }

    /// Whether `password` matches `hash`. An empty or foreign hash never matches.
    pub async fn verify(&self, password: String, hash: String) -> AppResult<bool> {
        self.blocking(move || {
            Ok(argon2()?
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok())
        })
        .await
    }

    /// Computes the stand-in hash `verify_nobody` checks against, ahead of the first login.
    pub async fn warm_up(&self) {
        if let Err(err) = self.verify_nobody(String::new()).await {
            tracing::warn!(error = %err, "could not prepare the stand-in password hash");
        }
    }

    /// Spends the time of a verification without a user, so an unknown email answers as slowly
    /// as a wrong password.
    pub async fn verify_nobody(&self, password: String) -> AppResult<()> {
        let dummy = self
            .dummy_hash
            .get_or_try_init(|| self.hash("not the password of anybody".to_owned()))
            .await?
            .clone();
        self.verify(password, dummy).await.map(|_| ())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::Internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| AppError::Internal)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_characters_after_normalization() {
        assert!(normalize("short").is_err());
        assert!(normalize(&"x".repeat(129)).is_err());
        assert!(
            normalize(&"é".repeat(64)).is_ok(),
            "64 é are 128 characters in NFKD"
        );
        assert!(normalize(&"é".repeat(65)).is_err());
        // The ligature ﬁ (one character) is `fi` (two) after NFKD.
        assert_eq!(normalize("ﬁﬁﬁﬁ").ok().as_deref(), Some("fifififi"));
    }
}
