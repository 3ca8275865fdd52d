//! Change of email: the caller asks for a new address (with a fresh sign-in), a link goes to
//! the new address and a notice to the old one, and following the link switches. The switch is
//! seen at once wherever the address is shown: in every list (the user's card changes), and by
//! every replica (the change is announced with its commit).

use chrono::TimeDelta;
use serde_json::json;

use super::{Accounts, Viewer, email, recovery::PASSWORD_RESET, tokens};
use entity::user;

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

/// The purpose of change-of-email tokens (`account_token.purpose`); the new address is their
/// detail.
pub const EMAIL_CHANGE: &str = "email_change";

/// At most one change-of-email message per account this often.
const REQUEST_INTERVAL: TimeDelta = TimeDelta::minutes(1);

impl Accounts {
    /// Asks to change the caller's address to `new_email`: a link to the new address, a notice
    /// to the old. When the new address has an account, its owner is told someone tried
    /// instead, and the answer is the same.
    pub async fn request_email_change(
        &self,
        db: &Db,
        viewer: &Viewer,
        new_email: &str,
    ) -> AppResult<()> {
        self.require_fresh(viewer)?;
        let new = email::normalize(new_email)?;
        let user = &viewer.user;
        if new.key == user.email_key {
            return Err(AppError::bad_input("this is the account's address already"));
        }
        let since = now() - REQUEST_INTERVAL;
        if account_tokens::sent_since(db.pool(), user.id, EMAIL_CHANGE, since).await? > 0 {
            return Err(AppError::rate_limited(
                "a change of email was asked for a moment ago: follow its link, or try again in \
                 a minute",
                REQUEST_INTERVAL.num_seconds().unsigned_abs(),
            ));
        }
        let token = tokens::random_secret()?;
        let ttl = TimeDelta::from_std(self.config.email_change_ttl).unwrap_or(TimeDelta::hours(1));
        let mut tx = db.begin_write().await?;
        let record = NewToken {
            user: user.id,
            purpose: EMAIL_CHANGE,
            digest: tokens::digest(&token),
            expires_at: now() + ttl,
            detail: Some(new.address.clone()),
        };
        account_tokens::replace(&*tx, record).await?;
        match users::by_key(&*tx, &new.key).await? {
            Some(holder) => {
                let message = Message {
                    template: "email_change_attempted",
                    subject: "Someone tried to move a Roster account to your address",
                    context: json!({ "email": holder.email }),
                };
                self.mail.post(&mut tx, &holder.email, message).await?;
            }
            None => {
                let message = Message {
                    template: "confirm_email_change",
                    subject: "Confirm your new Roster address",
                    context: json!({
                        "email": new.address,
                        "link": self.mail.link("confirm-email-change", &token),
                        "minutes": ttl.num_minutes(),
                    }),
                };
                self.mail.post(&mut tx, &new.address, message).await?;
            }
        }
        self.email_change_requested(&mut tx, user, &new.address)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Tells the current address of `user` that a change to `new_address` was asked for.
    async fn email_change_requested(
        &self,
        tx: &mut WriteTx<'_>,
        user: &user::Model,
        new_address: &str,
    ) -> AppResult<()> {
        let notice = Message {
            template: "email_change_requested",
            subject: "A change of your Roster address was asked for",
            context: json!({
                "email": user.email,
                "new_email": new_address,
                "reset": format!("{}/reset-password", self.mail.base()),
            }),
        };
        self.mail.post(tx, &user.email, notice).await
    }

    /// Switches an account to the address a change-of-email token was sent to, once; the new
    /// address counts as confirmed, and the reset links sent to the old one stop working.
    pub async fn confirm_email_change(&self, db: &Db, token: &str) -> AppResult<String> {
        let mut tx = db.begin_write().await?;
        let taken = account_tokens::take(&*tx, EMAIL_CHANGE, &tokens::digest(token)).await?;
        let Some((user_id, address)) = taken.and_then(|taken| Some((taken.user_id, taken.detail?)))
        else {
            return Err(AppError::bad_input(
                "this change-of-email link does not work: it was used, a newer one was sent, or \
                 it expired; ask again with requestEmailChange",
            ));
        };
        let new = email::normalize(&address)?;
        users::change_email(&*tx, user_id, &new).await?;
        account_tokens::void(&*tx, user_id, PASSWORD_RESET).await?;
        tx.card_changed(user_id).await?;
        tx.publish(Event::Account { user_id }).await?;
        tx.commit().await?;
        Ok(new.address)
    }
}
