//! Freshness: what changes the account itself (its password, email or second factor, or its
//! deletion) needs a sign-in newer than `FRESHNESS`. Every access token carries when its
//! session's sign-in happened, through every refresh; `reauthenticate` renews it with the
//! password, and the code when the account has two-factor sign-in.

use chrono::Utc;

use super::{Accounts, Viewer, accounts::Session};
use crate::{
    db::Db,
    error::{AppError, AppResult},
    store::two_factor,
};

impl Accounts {
    /// Refuses with `FRESH_SIGN_IN_REQUIRED` when the caller's sign-in is older than
    /// `FRESHNESS`.
    pub fn require_fresh(&self, viewer: &Viewer) -> AppResult<()> {
        let freshness =
            chrono::Duration::from_std(self.config.freshness).map_err(|_| AppError::Internal)?;
        if Utc::now() - viewer.signed_in_at > freshness {
            return Err(AppError::FreshSignInRequired);
        }
        Ok(())
    }

    /// Renews the caller's sign-in with their password (and a code, with two-factor sign-in):
    /// new tokens in the same session, carrying the new sign-in time.
    pub async fn reauthenticate(
        &self,
        db: &Db,
        viewer: &Viewer,
        password: &str,
        code: Option<&str>,
        ip: &str,
    ) -> AppResult<Session> {
        let user = &viewer.user;
        let admitted = self.admit_password_work(db)?;
        if !self
            .check_password(db, admitted, &user.email, ip, Some(user), password)
            .await?
        {
            return Err(AppError::bad_input("the password is not correct"));
        }
        let factor = two_factor::totp_of(db.pool(), viewer.id()).await?;
        if let Some(factor) = factor.filter(|factor| factor.confirmed_at.is_some()) {
            let Some(code) = code else {
                return Err(AppError::bad_input(
                    "this account signs in with a second factor: send `code` too",
                ));
            };
            if !self.check_code(db, user, ip, &factor, code).await? {
                return Err(super::two_factor::wrong_code());
            }
        }
        let tx = db.begin_write().await?;
        let session = self
            .issue(&*tx, user.clone(), &viewer.family, Utc::now())
            .await?;
        tx.commit().await?;
        Ok(session)
    }
}
