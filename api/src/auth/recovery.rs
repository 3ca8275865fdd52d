//! Password recovery by mail: a single-use link to choose a new password. Asking answers the
//! same whether or not the address has an account; the link's token is long, random, kept
//! only as its digest, expires (`PASSWORD_RESET_TTL`), and is voided by its use, by a newer
//! request and by any change of the password.

use chrono::TimeDelta;
use serde_json::json;

use super::{Accounts, email, password, tokens};
use crate::{
    db::{Db, WriteTx},
    error::{AppError, AppResult},
    events::Event,
    mail::Message,
    store::{
        account_tokens::{self, NewToken},
        now, users,
    },
};

/// The purpose of reset tokens (`account_token.purpose`).
pub const PASSWORD_RESET: &str = "password_reset";

/// At most one reset message per account this often, so asking again and again sends nothing
/// more.
const RESET_INTERVAL: TimeDelta = TimeDelta::minutes(1);

impl Accounts {
    /// Asks for a reset link for the account of `email` (queued: `answer_requests`), counted
    /// against the client address `ip`: the same work whether or not the address has one.
    pub async fn request_password_reset(&self, db: &Db, email: &str, ip: &str) -> AppResult<()> {
        self.queue_request(db, PASSWORD_RESET, email, ip).await
    }

    /// Mails a reset link to the account of `email`, when it has one that may sign in and was
    /// not sent one within `RESET_INTERVAL`; nothing otherwise.
    pub(super) async fn mail_reset_link(&self, tx: &mut WriteTx<'_>, email: &str) -> AppResult<()> {
        let Some(user) = users::by_key(&**tx, &email::key(email)).await? else {
            return Ok(());
        };
        let since = now() - RESET_INTERVAL;
        let recent = account_tokens::sent_since(&**tx, user.id, PASSWORD_RESET, since).await?;
        if !user.active || recent > 0 {
            return Ok(());
        }
        let token = tokens::random_secret()?;
        let ttl =
            TimeDelta::from_std(self.config.password_reset_ttl).unwrap_or(TimeDelta::hours(1));
        let new = NewToken {
            user: user.id,
            purpose: PASSWORD_RESET,
            digest: tokens::digest(&token),
            expires_at: now() + ttl,
            detail: None,
        };
        account_tokens::replace(&**tx, new).await?;
        let message = Message {
            template: "password_reset",
            subject: "Reset your Roster password",
            context: json!({
                "email": user.email,
                "link": self.mail.link("reset-password", &token),
                "minutes": ttl.num_minutes(),
            }),
        };
        self.mail.post(tx, &user.email, message).await
    }

    /// Sets the password of the account a reset token was sent to, once: ends every session
    /// of the account, voids its other reset tokens, and tells its owner by mail.
    pub async fn reset_password(&self, db: &Db, token: &str, new_password: &str) -> AppResult<()> {
        let new_password = password::normalize(new_password)?;
        let invalid = || {
            AppError::bad_input(
                "this password reset link does not work: it was used, a newer one was sent, the \
                 password changed since, or it expired; ask for a new one",
            )
        };
        let digest = tokens::digest(token);
        // Checked before the password is hashed: a made-up token costs no hash.
        if account_tokens::peek(db.pool(), PASSWORD_RESET, &digest)
            .await?
            .is_none()
        {
            return Err(invalid());
        }
        let admitted = self.admit_password_work(db)?;
        let hash = self.passwords.hash(admitted, new_password).await?;
        let mut tx = db.begin_write().await?;
        let Some(taken) = account_tokens::take(&*tx, PASSWORD_RESET, &digest).await? else {
            return Err(invalid());
        };
        let user_id = taken.user_id;
        let user = super::accounts::find_user(&*tx, user_id).await?;
        tx.publish(Event::Account { user_id }).await?;
        let user =
            users::rotate_uniquifier(&*tx, user, tokens::random_secret()?, Some(hash)).await?;
        self.password_changed(&mut tx, &user).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What follows any change of `user`'s password, in its transaction: its reset tokens are
    /// void, and its owner is told.
    pub(super) async fn password_changed(
        &self,
        tx: &mut WriteTx<'_>,
        user: &entity::user::Model,
    ) -> AppResult<()> {
        account_tokens::void(&**tx, user.id, PASSWORD_RESET).await?;
        let message = Message {
            template: "password_changed",
            subject: "Your Roster password was changed",
            context: json!({ "email": user.email }),
        };
        self.mail.post(tx, &user.email, message).await
    }
}
