//! Password policy and argon2id hashing, run off the async runtime.

use std::sync::{Arc, OnceLock};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use unicode_normalization::UnicodeNormalization;

use crate::{
    error::{AppError, AppResult},
    exec::admission,
};

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

/// Hashes and verifies passwords on the blocking thread pool: at most one fewer at once than
/// the machine has cores, and at least one (each hash holds 64 MiB, so hashing holds at most
/// that many × 64 MiB), with `WAITING_PER_HASH` more for each waiting their turn. Password
/// work beyond that is refused at once (`RATE_LIMITED`), and a request gives its execution
/// slot back while it waits for a hash, so a flood of logins never holds the slots other
/// requests need.
#[derive(Clone)]
pub struct Passwords {
    /// One per hash that may run at once, held by the hash until it finishes (even when the
    /// request that asked for it was dropped).
    hashing: Arc<Semaphore>,
    at_once: usize,
    /// One per hash that may run or wait.
    admitted: Arc<Semaphore>,
    dummy_hash: Arc<OnceLock<String>>,
}

/// How many hashes may wait for each one that may run.
const WAITING_PER_HASH: usize = 4;

/// When a client refused for too much password work at once may try again, in seconds.
const RETRY_AFTER_SECONDS: u64 = 1;

impl Default for Passwords {
    fn default() -> Self {
        // One core is left to serve everything else.
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let at_once = cores.saturating_sub(1).max(1);
        Passwords {
            hashing: Arc::new(Semaphore::new(at_once)),
            at_once,
            admitted: Arc::new(Semaphore::new(at_once * (1 + WAITING_PER_HASH))),
            dummy_hash: Arc::new(OnceLock::new()),
        }
    }
}

fn argon2() -> AppResult<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|_| AppError::Internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_now(password: &str) -> AppResult<String> {
    let hash = argon2()?
        .hash_password(password.as_bytes())
        .map_err(|err| {
            tracing::error!(error = %err, "password hashing failed");
            AppError::Internal
        })?;
    Ok(hash.to_string())
}

fn verify_now(password: &str, hash: &str) -> AppResult<bool> {
    Ok(argon2()?.verify_password(password.as_bytes(), hash).is_ok())
}

/// A place among the hashes the server admits, for one hash: taken before any other work of
/// the request that needs it, so a refused request costs next to nothing.
pub struct Admitted {
    _place: OwnedSemaphorePermit,
}

impl Passwords {
    /// A place for one hash, or `RATE_LIMITED` at once when as many hashes run and wait as the
    /// server admits.
    pub fn admit(&self) -> AppResult<Admitted> {
        let permit = self.admitted.clone().try_acquire_owned().map_err(|_| {
            AppError::rate_limited(
                "the server is busy checking passwords; try again in a second",
                RETRY_AFTER_SECONDS,
            )
        })?;
        Ok(Admitted { _place: permit })
    }

    /// The PHC string of a normalized password.
    pub async fn hash(&self, admitted: Admitted, password: String) -> AppResult<String> {
        self.blocking(admitted, move || hash_now(&password)).await
    }

    /// Whether `password` matches `hash`. An empty or foreign hash never matches.
    pub async fn verify(
        &self,
        admitted: Admitted,
        password: String,
        hash: String,
    ) -> AppResult<bool> {
        self.blocking(admitted, move || verify_now(&password, &hash))
            .await
    }

    /// How many hashes run now (requests that asked for them may have ended).
    pub fn running(&self) -> usize {
        self.at_once - self.hashing.available_permits()
    }

    /// Computes the stand-in hash `verify_nobody` checks against, ahead of the first login.
    pub async fn warm_up(&self) {
        let warmed = match self.admit() {
            Ok(admitted) => self.verify_nobody(admitted, String::new()).await,
            Err(err) => Err(err),
        };
        if let Err(err) = warmed {
            tracing::warn!(error = %err, "could not prepare the stand-in password hash");
        }
    }

    /// Spends the time of a verification without a user, so an unknown email answers as slowly
    /// as a wrong password. (The stand-in hash is made on the blocking pool too: a request
    /// waiting for it holds no execution slot.)
    pub async fn verify_nobody(&self, admitted: Admitted, password: String) -> AppResult<()> {
        let dummy = self.dummy_hash.clone();
        self.blocking(admitted, move || {
            let dummy = match dummy.get() {
                Some(dummy) => dummy,
                None => {
                    let made = hash_now("not the password of anybody")?;
                    dummy.get_or_init(|| made)
                }
            };
            verify_now(&password, dummy).map(drop)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        admitted: Admitted,
        work: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        admission::without_slot(async {
            let hashing = self
                .hashing
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| AppError::Internal)?;
            tokio::task::spawn_blocking(move || {
                let done = work();
                drop((hashing, admitted));
                done
            })
            .await
            .map_err(|_| AppError::Internal)?
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash whose request was dropped keeps its permit until it finishes, so no more hashes
    /// run at once than there are permits, however many requests time out.
    #[tokio::test]
    async fn a_dropped_request_leaves_its_hash_holding_its_permit() {
        let passwords = Passwords::default();
        let admitted = passwords.admit().expect("a place for one hash");
        let hashing = passwords.hash(admitted, "a password of somebody".to_owned());
        // Polled once: the hash was handed to the blocking pool; then the request is dropped.
        let dropped = tokio::time::timeout(std::time::Duration::from_nanos(1), hashing).await;
        assert!(dropped.is_err(), "a hash takes longer than a nanosecond");
        assert_eq!(
            passwords.running(),
            1,
            "the hash still runs, and holds its permit"
        );
        while passwords.running() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(
            passwords.admitted.available_permits(),
            passwords.at_once * (1 + WAITING_PER_HASH)
        );
    }

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
