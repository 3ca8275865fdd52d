//! Two-factor sign-in: a TOTP authenticator (RFC 6238: SHA-1, 6 digits, 30-second steps, one
//! step of clock drift either way) and recovery codes. An account turns it on by scanning the
//! secret and confirming a code, which answers its recovery codes, shown that once and kept only
//! as digests. From then on `login` answers a challenge, and `completeLogin` trades it and a
//! code for tokens. A TOTP code works once (the last step used is kept), a recovery code once
//! (it is deleted), and codes are throttled with the passwords typed for the account.

use entity::{user, user_totp};
use sea_orm::ConnectionTrait;
use serde_json::json;
use totp_rs::{Builder, Secret, Totp};

use super::{Accounts, Viewer, accounts::Session, tokens};
use crate::{
    db::{Db, WriteTx},
    error::{AppError, AppResult},
    mail::Message,
    store::{two_factor, users},
};

/// Who the authenticator app says the codes are for.
const ISSUER: &str = "Roster";

/// How many recovery codes an account gets.
const RECOVERY_CODES: usize = 10;

/// The longest code looked at; anything longer is no code.
const CODE_MAX_LEN: usize = 64;

/// What an authenticator app needs: the secret, and the same as an `otpauth://` URI (what a QR
/// code shows).
pub struct TotpSetup {
    pub secret: String,
    pub uri: String,
}

impl Accounts {
    /// Makes a new authenticator secret for the caller, to be confirmed with a code; replaces
    /// one not confirmed yet.
    pub async fn set_up_totp(&self, db: &Db, viewer: &Viewer) -> AppResult<TotpSetup> {
        self.require_fresh(viewer)?;
        let tx = db.begin_write().await?;
        if two_factor::enabled(&*tx, viewer.id()).await? {
            return Err(already_on());
        }
        let secret = Secret::new_stack(tokens::random_bytes::<20>()?).to_base32();
        let totp = authenticator(&secret, &viewer.user.email)?;
        two_factor::propose(&*tx, viewer.id(), &secret).await?;
        tx.commit().await?;
        let uri = totp.to_url().map_err(|err| {
            tracing::error!(error = %err, "could not write an otpauth URI");
            AppError::Internal
        })?;
        Ok(TotpSetup { secret, uri })
    }

    /// Turns two-factor sign-in on with a code of the secret set up last: the recovery codes.
    pub async fn confirm_totp(
        &self,
        db: &Db,
        viewer: &Viewer,
        ip: &str,
        code: &str,
    ) -> AppResult<Vec<String>> {
        self.require_fresh(viewer)?;
        let factor = two_factor::totp_of(db.pool(), viewer.id()).await?;
        let factor = match factor {
            Some(factor) if factor.confirmed_at.is_some() => return Err(already_on()),
            Some(factor) => factor,
            None => {
                return Err(AppError::bad_input(
                    "no authenticator is set up: call setUpTotp first",
                ));
            }
        };
        if !self.check_code(db, &viewer.user, ip, &factor, code).await? {
            return Err(wrong_code());
        }
        let mut tx = db.begin_write().await?;
        two_factor::confirm(&*tx, viewer.id()).await?;
        let codes = new_recovery_codes(&*tx, viewer.id()).await?;
        self.two_factor_changed(&mut tx, &viewer.user, true).await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// New recovery codes for the caller, in place of the earlier ones.
    pub async fn regenerate_recovery_codes(
        &self,
        db: &Db,
        viewer: &Viewer,
    ) -> AppResult<Vec<String>> {
        self.require_fresh(viewer)?;
        let tx = db.begin_write().await?;
        if !two_factor::enabled(&*tx, viewer.id()).await? {
            return Err(AppError::bad_input("two-factor sign-in is off"));
        }
        let codes = new_recovery_codes(&*tx, viewer.id()).await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Turns two-factor sign-in off, forgetting the secret and the recovery codes.
    pub async fn disable_totp(&self, db: &Db, viewer: &Viewer) -> AppResult<()> {
        self.require_fresh(viewer)?;
        let mut tx = db.begin_write().await?;
        let was_on = two_factor::enabled(&*tx, viewer.id()).await?;
        two_factor::remove(&*tx, viewer.id()).await?;
        if was_on {
            self.two_factor_changed(&mut tx, &viewer.user, false)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Finishes a sign-in that `login` answered with `challenge`, with a code.
    pub async fn complete_login(
        &self,
        db: &Db,
        challenge: &str,
        code: &str,
        ip: &str,
    ) -> AppResult<Session> {
        let invalid = || {
            AppError::bad_input(
                "this sign-in challenge does not work: it expired, or the account's password \
                 changed since; sign in again with login",
            )
        };
        let uniquifier = self
            .keys
            .verify_challenge(challenge)
            .map_err(|_| invalid())?;
        let user = users::by_uniquifier(db.pool(), &uniquifier).await?;
        let Some(user) = user.filter(|user| user.active) else {
            return Err(invalid());
        };
        let factor = two_factor::totp_of(db.pool(), user.id).await?;
        let Some(factor) = factor.filter(|factor| factor.confirmed_at.is_some()) else {
            // Turned off since: the password was right, and there is no second factor.
            return self.sign_in(db, user, ip).await;
        };
        if !self.check_code(db, &user, ip, &factor, code).await? {
            return Err(wrong_code());
        }
        self.sign_in(db, user, ip).await
    }

    /// Tells `user` that two-factor sign-in was turned on (`enabled`) or off.
    async fn two_factor_changed(
        &self,
        tx: &mut WriteTx<'_>,
        user: &user::Model,
        enabled: bool,
    ) -> AppResult<()> {
        let message = Message {
            template: "two_factor_changed",
            subject: if enabled {
                "Two-factor sign-in is on for your Roster account"
            } else {
                "Two-factor sign-in is off for your Roster account"
            },
            context: json!({
                "email": user.email,
                "enabled": enabled,
                "reset": format!("{}/reset-password", self.mail.base()),
            }),
        };
        self.mail.post(tx, &user.email, message).await
    }
}

/// Whether `code` is a second factor of `factor`'s user, using it up: a TOTP code of the
/// current step or one either side, of a step later than any used before; or, once the factor
/// is confirmed, one of the user's recovery codes. Spaces and dashes are ignored.
pub(super) async fn use_factor(
    conn: &impl ConnectionTrait,
    factor: &user_totp::Model,
    code: &str,
) -> AppResult<bool> {
    if code.len() > CODE_MAX_LEN {
        return Ok(false);
    }
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(step) = authenticator(&factor.secret, "")?.check_current(&code) else {
            return Ok(false);
        };
        let step = i64::try_from(step).map_err(|_| AppError::Internal)?;
        return Ok(two_factor::use_step(conn, factor.user_id, step).await?);
    }
    if factor.confirmed_at.is_none() {
        return Ok(false);
    }
    Ok(two_factor::use_code(conn, factor.user_id, &tokens::digest(&code)).await?)
}

/// The authenticator of a base32 secret, for the account of `email`.
fn authenticator(secret: &str, email: &str) -> AppResult<Totp> {
    let internal = |err: &dyn std::fmt::Display| {
        tracing::error!(error = %err, "a stored TOTP secret does not work");
        AppError::Internal
    };
    let secret = Secret::try_from_base32(secret).map_err(|err| internal(&err))?;
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        // The account name may not hold a colon (the label's separator).
        .with_account_name(email.replace(':', ""))
        .build()
        .map_err(|err| internal(&err))
}

/// New recovery codes for `user`, replacing the earlier ones: 80 random bits each, written as
/// four groups of five hexadecimal digits; only their digests are kept.
async fn new_recovery_codes(conn: &impl ConnectionTrait, user: i64) -> AppResult<Vec<String>> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let hex: String = tokens::random_bytes::<10>()?
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        codes.push(hex);
    }
    let digests = codes.iter().map(|code| tokens::digest(code)).collect();
    two_factor::replace_codes(conn, user, digests).await?;
    Ok(codes
        .iter()
        .map(|hex| {
            let groups: Vec<&str> = (0..4).map(|i| &hex[i * 5..i * 5 + 5]).collect();
            groups.join("-")
        })
        .collect())
}

fn already_on() -> AppError {
    AppError::conflict("two-factor sign-in is on already: turn it off with disableTotp first")
}

pub(super) fn wrong_code() -> AppError {
    AppError::bad_input(
        "this code is not right: type the current code of the authenticator app (each works \
         once), or an unused recovery code",
    )
}
