//! Registration and the confirmation of email addresses (`CONFIRM_EMAIL`). `register` answers
//! the same whether or not the address has an account, after the same work: a new address gets
//! an account and a confirmation link, one with an account gets a message saying someone tried.

use chrono::TimeDelta;
use serde_json::json;

use super::{Accounts, email, password, tokens};
use crate::{
    config::{ConfirmEmail, Registration},
    db::{Db, WriteTx},
    error::{AppError, AppResult},
    mail::Message,
    store::{
        account_tokens::{self, NewToken},
        invitations, now,
        users::{self, NewUser},
    },
};

/// The purpose of confirmation tokens (`account_token.purpose`).
pub const CONFIRM_EMAIL: &str = "confirm_email";

/// How long a confirmation link works.
const CONFIRMATION_TTL: TimeDelta = TimeDelta::days(3);

/// At most one confirmation message per account this often.
const RESEND_INTERVAL: TimeDelta = TimeDelta::minutes(1);

/// What `register` answers, whoever had the address.
pub struct Registered {
    /// The address, as kept.
    pub email: String,
    /// Whether the account signs in only once its address is confirmed.
    pub confirmation_required: bool,
}

impl Accounts {
    /// Registers `email`: a new account with a confirmation link, or, when the address has an
    /// account already, a message to it; the same answer either way. The token of an invitation
    /// mailed to the address (`invitation`) proves it is the registrant's: the account is made
    /// with it confirmed.
    pub async fn register(
        &self,
        db: &Db,
        email: &str,
        password: &str,
        invitation: Option<&str>,
        ip: &str,
    ) -> AppResult<Registered> {
        if self.config.registration == Registration::Closed {
            return Err(AppError::forbidden("registration is closed"));
        }
        let email = email::normalize(email)?;
        let password = password::normalize(password)?;
        let mode = self.config.confirm_email();
        // The password is hashed whether or not the account is made: the same work either way.
        let admitted = self.admit_password_work(db)?;
        let password_hash = self.passwords.hash(admitted, password).await?;
        let mut tx = db.begin_write().await?;
        self.admit_mail_request(&*tx, ip).await?;
        let invited = match invitation {
            Some(token) => {
                let invitee = tokens::digest(&email.key);
                if !invitations::token_invites(&*tx, &tokens::digest(token), &invitee).await? {
                    return Err(AppError::bad_input(
                        "this invitation link does not work for this address: the invitation \
                         was answered, revoked or renewed, or it expired, or it was sent to \
                         another address",
                    ));
                }
                true
            }
            None => false,
        };
        let confirmed = invited || mode == ConfirmEmail::Off;
        let new = NewUser {
            email: &email,
            password_hash,
            uniquifier: tokens::random_secret()?,
            confirmed,
        };
        // Taken already, or by a registration of the same address at the same time.
        match users::create_unless_taken(&*tx, new).await? {
            Some(user) if !confirmed => self.send_confirmation(&mut tx, &user).await?,
            Some(_) => {}
            None => {
                if let Some(holder) = users::by_key(&*tx, &email.key).await? {
                    let message = Message {
                        template: "registration_attempted",
                        subject: "Someone tried to register with your address",
                        context: json!({
                            "email": holder.email,
                            "reset": format!("{}/reset-password", self.mail.base()),
                        }),
                    };
                    self.mail.post(&mut tx, &holder.email, message).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(Registered {
            email: email.address,
            confirmation_required: mode == ConfirmEmail::Required && !confirmed,
        })
    }

    /// Mails `user` a new confirmation link, voiding the earlier ones.
    async fn send_confirmation(
        &self,
        tx: &mut WriteTx<'_>,
        user: &entity::user::Model,
    ) -> AppResult<()> {
        let token = tokens::random_secret()?;
        let new = NewToken {
            user: user.id,
            purpose: CONFIRM_EMAIL,
            digest: tokens::digest(&token),
            expires_at: now() + CONFIRMATION_TTL,
            detail: None,
        };
        account_tokens::replace(&**tx, new).await?;
        let message = Message {
            template: "confirm_email",
            subject: "Confirm your Roster account",
            context: json!({
                "email": user.email,
                "link": self.mail.link("confirm-email", &token),
                "days": CONFIRMATION_TTL.num_days(),
            }),
        };
        self.mail.post(tx, &user.email, message).await
    }

    /// Confirms the address a confirmation token was sent to, once.
    pub async fn confirm_email(&self, db: &Db, token: &str) -> AppResult<()> {
        let tx = db.begin_write().await?;
        let Some(taken) = account_tokens::take(&*tx, CONFIRM_EMAIL, &tokens::digest(token)).await?
        else {
            return Err(AppError::bad_input(
                "this confirmation link does not work: it was used, a newer one was sent, or it \
                 expired; ask for a new one with resendConfirmation",
            ));
        };
        users::confirm(&*tx, taken.user_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Asks for a new confirmation link for the account of `email` (queued:
    /// `answer_requests`), counted against the client address `ip`: the same work whether or
    /// not the address has one.
    pub async fn resend_confirmation(&self, db: &Db, email: &str, ip: &str) -> AppResult<()> {
        self.queue_request(db, CONFIRM_EMAIL, email, ip).await
    }

    /// Mails a new confirmation link to the account of `email`, when it has one still
    /// unconfirmed and was not sent one within `RESEND_INTERVAL`.
    pub(super) async fn resend_link(&self, tx: &mut WriteTx<'_>, email: &str) -> AppResult<()> {
        if self.config.confirm_email() == ConfirmEmail::Off {
            return Ok(());
        }
        let Some(user) = users::by_key(&**tx, &email::key(email)).await? else {
            return Ok(());
        };
        let since = now() - RESEND_INTERVAL;
        let recent = account_tokens::sent_since(&**tx, user.id, CONFIRM_EMAIL, since).await?;
        if user.confirmed_at.is_some() || !user.active || recent > 0 {
            return Ok(());
        }
        self.send_confirmation(tx, &user).await
    }
}
