//! The one error type of the API and its mapping to GraphQL errors.
//!
//! Policy: every error a client sees carries `extensions.code`. Client mistakes say what was
//! wrong; server-side failures are logged here with their cause and answer only
//! "internal error" (or "service unavailable" when the database cannot be reached), so no
//! database or library text ever reaches a client.

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error(
        "authentication required: send a valid access token as `Authorization: Bearer <token>`"
    )]
    Unauthenticated,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("this account is locked after too many failed logins; try again later")]
    Locked,
    /// Too much of some work: `retry_after` seconds before trying again is worth it.
    #[error("{message}")]
    RateLimited {
        message: &'static str,
        retry_after: u64,
    },
    #[error(
        "this needs a recent sign-in: call `reauthenticate` with your password (and your code, \
         with two-factor sign-in), then try again with the new access token"
    )]
    FreshSignInRequired,
    /// The password was right; the sign-in waits for a second factor (`completeLogin`).
    #[error(
        "this account signs in with a second factor: call `completeLogin` with \
         `extensions.challenge` and a code from the authenticator app or a recovery code"
    )]
    TwoFactorRequired {
        challenge: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadInput(String),
    #[error("not run: an earlier field of this request failed, and the request writes nothing")]
    Aborted,
    #[error("service unavailable, try again later")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// The value of `extensions.code` for this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated | AppError::InvalidCredentials => "UNAUTHENTICATED",
            AppError::Locked => "LOCKED",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::FreshSignInRequired => "FRESH_SIGN_IN_REQUIRED",
            AppError::TwoFactorRequired { .. } => "TWO_FACTOR_REQUIRED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::Conflict(_) => "CONFLICT",
            AppError::BadInput(_) => "BAD_USER_INPUT",
            AppError::Aborted => "ABORTED",
            AppError::Unavailable => "SERVICE_UNAVAILABLE",
            AppError::Internal => "INTERNAL_SERVER_ERROR",
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        AppError::BadInput(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        AppError::NotFound(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden(message.into())
    }

    pub fn rate_limited(message: &'static str, retry_after: u64) -> Self {
        AppError::RateLimited {
            message,
            retry_after,
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        AppError::Conflict(message.into())
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if sql_state(&err).as_deref() == Some(CHARACTER_NOT_IN_REPERTOIRE) {
            // PostgreSQL refuses NUL characters in text; SQLite stores them.
            return AppError::bad_input("text must not contain NUL characters");
        }
        if sql_state(&err).is_some_and(|state| CONCURRENCY_FAILURES.contains(&state.as_str())) {
            return AppError::conflict(
                "the request collided with a concurrent one and wrote nothing: try again",
            );
        }
        if is_connection_failure(&err) {
            tracing::error!(error = %err, "database unavailable");
            AppError::Unavailable
        } else {
            tracing::error!(error = %err, "database error");
            AppError::Internal
        }
    }
}

/// The SQLSTATEs of a transaction PostgreSQL aborted for a concurrent one: a deadlock, and a
/// serialization failure.
const CONCURRENCY_FAILURES: [&str; 2] = ["40P01", "40001"];

/// The SQLSTATE of text PostgreSQL cannot store (a NUL character).
const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";

fn sql_state(err: &DbErr) -> Option<String> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .and_then(|db| db.code())
            .map(|code| code.into_owned()),
        _ => None,
    }
}

fn is_connection_failure(err: &DbErr) -> bool {
    // SQLSTATE classes 08 (connection exception), 53 (insufficient resources) and 57
    // (operator intervention, such as a server shutting down).
    if sql_state(err).is_some_and(|state| {
        ["08", "53", "57"]
            .iter()
            .any(|class| state.starts_with(class))
    }) {
        return true;
    }
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(
                e.as_ref(),
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::Protocol(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::WorkerCrashed
            )
        }
        _ => false,
    }
}

/// Maps database constraint violations to client errors, in one place.
pub trait DbResultExt<T> {
    /// Turns a violation of the unique index `index` on the one column `column` (as
    /// `table.column`) into `CONFLICT` with `message`; any other failure stays a server error.
    fn on_unique_violation(self, index: &str, column: &str, message: &str) -> AppResult<T>;

    /// Turns a foreign-key violation (a row that refers to one that does not exist) into
    /// `NOT_FOUND` with `message`.
    fn on_foreign_key_violation(self, message: &str) -> AppResult<T>;
}

impl<T> DbResultExt<T> for Result<T, DbErr> {
    fn on_unique_violation(self, index: &str, column: &str, message: &str) -> AppResult<T> {
        self.map_err(|err| match err.sql_err() {
            // PostgreSQL names the violated index in the error's text, SQLite its column.
            Some(SqlErr::UniqueConstraintViolation(detail))
                if detail.contains(&format!("\"{index}\"")) || detail.ends_with(column) =>
            {
                AppError::conflict(message)
            }
            _ => err.into(),
        })
    }

    fn on_foreign_key_violation(self, message: &str) -> AppResult<T> {
        self.map_err(|err| match err.sql_err() {
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => AppError::not_found(message),
            _ => err.into(),
        })
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
            ext.set("code", err.code());
            match &err {
                AppError::RateLimited { retry_after, .. } => ext.set("retryAfter", *retry_after),
                AppError::TwoFactorRequired {
                    challenge,
                    expires_at,
                } => {
                    ext.set("challenge", challenge.as_str());
                    ext.set("expiresAt", expires_at.to_rfc3339());
                }
                _ => {}
            }
        })
    }
}
