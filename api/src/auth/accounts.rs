//! The account operations: registration, login with lockout, token rotation, logout, password
//! changes, and the administration of users and roles.

use std::sync::Arc;

use chrono::Utc;
use entity::{user, user_totp};
use sea_orm::{ConnectionTrait, EntityTrait};
use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use super::{
    Auth, Viewer, email,
    password::{self, Admitted, Passwords},
    tokens::{self, AccessToken, TokenKeys},
    viewers::Viewers,
};
use crate::{
    config::{Config, ConfirmEmail},
    db::Db,
    error::{AppError, AppResult},
    events::Event,
    mail::Mail,
    store::{
        attempts, roles,
        sessions::{self, NewRefreshToken},
        two_factor,
        users::{self, NewUser},
    },
};

/// A signed-in session: the tokens a client holds, and whose they are.
pub struct Session {
    pub access: AccessToken,
    pub refresh_token: String,
    pub user: user::Model,
}

/// Below this, a configured signing key is too short for HMAC.
const MIN_SECRET_BYTES: usize = 32;

/// The account service, shared by every request: a pointer, so that the requests (and their
/// futures, moved as they run) that hold it stay small.
#[derive(Clone)]
pub struct Accounts(Arc<Service>);

/// What the account service holds.
pub struct Service {
    db: Db,
    pub(super) keys: TokenKeys,
    pub(super) passwords: Passwords,
    /// Callers recently looked up.
    viewers: Viewers,
    pub(super) mail: Mail,
    pub(super) config: Arc<Config>,
}

impl std::ops::Deref for Accounts {
    type Target = Service;

    fn deref(&self) -> &Service {
        &self.0
    }
}

impl Accounts {
    /// Loads the signing key: `JWT_SECRET`, or the one kept in the database (made on first use).
    pub async fn new(db: Db, config: Arc<Config>, mail: Mail) -> AppResult<Self> {
        let secret = match &config.jwt_secret {
            Some(secret) => {
                if secret.expose_secret().len() < MIN_SECRET_BYTES {
                    tracing::warn!(
                        "JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes: use a longer random key"
                    );
                }
                secret.clone()
            }
            None => {
                tracing::warn!(
                    "JWT_SECRET is not set: signing tokens with a key generated once and kept in \
                     the database; set JWT_SECRET in production"
                );
                let stored = crate::store::secrets::get_or_create(
                    db.pool(),
                    "jwt",
                    tokens::random_secret()?,
                )
                .await?;
                SecretString::from(stored)
            }
        };
        Ok(Accounts(Arc::new(Service {
            keys: TokenKeys::new(&config, &secret)?,
            db,
            passwords: Passwords::default(),
            viewers: Viewers::new(config.caller_cache_ttl),
            mail,
            config,
        })))
    }

    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// How the account operations send mail.
    pub fn mail(&self) -> &Mail {
        &self.mail
    }

    /// Who sends this `Authorization` header: one statement looks the user up by the token's
    /// uniquifier and session, so a rotated uniquifier, a revoked session or a deactivated
    /// user refuses the token at once.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Auth {
        let Some(value) = authorization else {
            return Auth::Anonymous;
        };
        let Some(token) = bearer(value) else {
            return Auth::Refused(AppError::Unauthenticated);
        };
        let subject = match self.keys.verify(token) {
            Ok(subject) => subject,
            Err(err) => return Auth::Refused(err),
        };
        // A session's callers are kept apart: one session revoked leaves the others working,
        // and a renewed sign-in is seen at once.
        let key = format!(
            "{} {} {}",
            subject.uniquifier,
            subject.family,
            subject.signed_in_at.timestamp()
        );
        let changes = self.db.events().account_changes();
        if let Some(viewer) = changes.and_then(|changes| self.viewers.get(&key, changes)) {
            return Auth::User(viewer);
        }
        let found =
            users::by_uniquifier_with_roles(self.db.pool(), &subject.uniquifier, &subject.family)
                .await;
        match found {
            Ok(Some((user, roles))) if user.active => {
                let viewer = Arc::new(Viewer::new(user, roles, subject));
                if let Some(changes) = changes {
                    self.viewers.put(&key, viewer.clone(), changes);
                }
                Auth::User(viewer)
            }
            Ok(_) => Auth::Refused(AppError::Unauthenticated),
            Err(err) => Auth::Refused(err.into()),
        }
    }

    /// When the access token of this `Authorization` header expires, if it is valid.
    pub fn token_expiry(&self, authorization: &str) -> Option<chrono::DateTime<Utc>> {
        self.keys
            .verify_until(bearer(authorization)?)
            .ok()
            .map(|(_, expires)| expires)
    }

    /// Creates a user with a password; the operator's way to bootstrap accounts too.
    pub async fn create_user(
        &self,
        db: &Db,
        email: &str,
        password: &str,
    ) -> AppResult<user::Model> {
        let email = email::normalize(email)?;
        let password = password::normalize(password)?;
        let admitted = self.admit_password_work(db)?;
        let password_hash = self.passwords.hash(admitted, password).await?;
        let new = NewUser {
            email: &email,
            password_hash,
            uniquifier: tokens::random_secret()?,
            // An account the operator makes has the address the operator gave.
            confirmed: true,
        };
        let tx = db.begin_write().await?;
        let user = users::create(&*tx, new).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Logs in. An unknown email and a wrong password get the same answer after the same work,
    /// and are throttled alike (`check_password`); that an account is disabled is only told to
    /// someone who knows its password.
    pub async fn login(
        &self,
        db: &Db,
        email: &str,
        password: &str,
        ip: &str,
    ) -> AppResult<Session> {
        let admitted = self.admit_password_work(db)?;
        let user = users::by_key(&db.conn(), &email::key(email)).await?;
        if !self
            .check_password(db, admitted, email, ip, user.as_ref(), password)
            .await?
        {
            return Err(AppError::InvalidCredentials);
        }
        let Some(user) = user.filter(|user| user.active) else {
            return Err(AppError::forbidden("this account is disabled"));
        };
        if user.confirmed_at.is_none() && self.config.confirm_email() == ConfirmEmail::Required {
            return Err(AppError::forbidden(
                "confirm your email address first: follow the link mailed to it, or ask for \
                 another with resendConfirmation",
            ));
        }
        if two_factor::enabled(db.pool(), user.id).await? {
            let challenge = self.keys.challenge(&user.fs_uniquifier)?;
            return Err(AppError::TwoFactorRequired {
                challenge: challenge.token,
                expires_at: challenge.expires_at,
            });
        }
        self.sign_in(db, user, ip).await
    }

    /// Starts a session of `user`, whose credentials were checked, signed in from `ip`.
    pub(super) async fn sign_in(&self, db: &Db, user: user::Model, ip: &str) -> AppResult<Session> {
        let mut tx = db.begin_write().await?;
        // The tracking fields change: callers read before are not current any more.
        tx.publish(Event::Account { user_id: user.id }).await?;
        let user = users::record_login(&*tx, user, ip).await?;
        let session = self.start_session(&*tx, user).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Checks a password typed for the account of `email` (`user`, when there is one) from
    /// `ip`: whether it is right, or `LOCKED` / `RATE_LIMITED` without checking it.
    ///
    /// The attempt is recorded before anything is checked, so concurrent attempts count at
    /// once, and forgotten when the password was right or the attempt was refused unchecked
    /// (a guess made while locked out does not count). Attempts are counted per (account,
    /// address), so an attacker locks an account only for their own address; per account from
    /// any address, which locks the account for addresses it has not logged in from; and per
    /// address on any account, which refuses an address further attempts on accounts that have
    /// not logged in from it. An email without an account is counted the same way, so the
    /// answers never tell whether it has one. A refused attempt takes the time of a check.
    pub(super) async fn check_password(
        &self,
        db: &Db,
        admitted: Admitted,
        email: &str,
        ip: &str,
        user: Option<&user::Model>,
        password: &str,
    ) -> AppResult<bool> {
        let conn = db.pool();
        let password: String = password.nfkd().collect();
        // A digest of the email's key: an email without an account counts like one with, and
        // the table holds no address in clear.
        let account = email::digest(email);
        let known_address = user.is_some_and(|user| logged_in_from(user, ip));
        let attempt = match self.attempt(conn, &account, ip, known_address).await? {
            Ok(attempt) => attempt,
            Err(refusal) => {
                self.passwords.verify_nobody(admitted, password).await?;
                return Err(refusal);
            }
        };
        let checked = match user {
            Some(user) => {
                let hash = user.password_hash.clone();
                self.passwords.verify(admitted, password, hash).await
            }
            None => {
                let checked = self.passwords.verify_nobody(admitted, password).await;
                checked.map(|()| false)
            }
        };
        match checked {
            Ok(true) => attempts::forget_pair(conn, &account, ip, self.window_start()?).await?,
            Ok(false) => {}
            // Not checked: not a failure.
            Err(err) => {
                attempts::forget(conn, attempt).await?;
                return Err(err);
            }
        }
        checked
    }

    /// Checks a second-factor code of `user` typed from `ip` (`two_factor::use_factor`),
    /// throttled and counted with the passwords typed for the account: a wrong code is a failed
    /// attempt, and no code is checked while the account is locked.
    pub(super) async fn check_code(
        &self,
        db: &Db,
        user: &user::Model,
        ip: &str,
        factor: &user_totp::Model,
        code: &str,
    ) -> AppResult<bool> {
        before_writes(db)?;
        let conn = db.pool();
        let account = email::digest(&user.email);
        let known_address = logged_in_from(user, ip);
        // Refused unchecked: the attempt is forgotten.
        self.attempt(conn, &account, ip, known_address).await??;
        let right = super::two_factor::use_factor(conn, factor, code).await?;
        if right {
            attempts::forget_pair(conn, &account, ip, self.window_start()?).await?;
        }
        Ok(right)
    }

    /// Records an attempt on `account` from `ip` and counts it with the others (itself
    /// included): the attempt, or why it is refused unchecked; a refused attempt is forgotten
    /// (a guess made while locked out does not count).
    async fn attempt(
        &self,
        conn: &impl ConnectionTrait,
        account: &str,
        ip: &str,
        known_address: bool,
    ) -> AppResult<Result<i64, AppError>> {
        let attempt = attempts::record(conn, account, ip).await?;
        let counts = attempts::counts(conn, account, ip, self.window_start()?).await?;
        match self.refusal(counts, known_address) {
            Some(refusal) => {
                attempts::forget(conn, attempt).await?;
                Ok(Err(refusal))
            }
            None => Ok(Ok(attempt)),
        }
    }

    /// A place for one password hash: refused after a write of the request (`before_writes`),
    /// and at once when the server has as much password work as it admits.
    pub(super) fn admit_password_work(&self, db: &Db) -> AppResult<Admitted> {
        before_writes(db)?;
        self.passwords.admit()
    }

    /// Why an attempt is refused unchecked, from the attempts counted with it (itself
    /// included), if it is.
    fn refusal(&self, counts: attempts::Counts, known_address: bool) -> Option<AppError> {
        let config = &self.config;
        if counts.pair > config.lockout_max_failures
            || (!known_address && counts.account > config.lockout_account_max_failures)
        {
            return Some(AppError::Locked);
        }
        if !known_address && counts.address > config.login_ip_max_failures {
            return Some(AppError::rate_limited(
                "too many failed logins from this address; try again later",
                config.lockout_window.as_secs(),
            ));
        }
        None
    }

    /// Trades a refresh token for new tokens. Each refresh token works once: presenting one
    /// again revokes every token rotated from the same login.
    pub async fn refresh(&self, db: &Db, token: &str) -> AppResult<Session> {
        let tx = db.begin_write().await?;
        let found = sessions::refresh_token_by_hash(&*tx, &tokens::digest(token)).await?;
        let Some(found) =
            found.filter(|found| found.revoked_at.is_none() && found.expires_at > Utc::now())
        else {
            return Err(AppError::Unauthenticated);
        };
        if !sessions::use_refresh_token(&*tx, found.id).await? {
            tracing::warn!(
                user_id = found.user_id,
                "a used refresh token was presented again: revoking its family"
            );
            // The answer is an error, which rolls the request back: the revocation stands
            // anyway, and every replica learns of it at once (the family's access tokens stop
            // working too).
            db.write_regardless(&sessions::revoke_family(&found.family))
                .await?;
            db.publish_regardless(Event::Account {
                user_id: found.user_id,
            })
            .await?;
            return Err(AppError::Unauthenticated);
        }
        let user = user::Entity::find_by_id(found.user_id).one(&*tx).await?;
        let Some(user) = user.filter(|user| user.active && user.fs_uniquifier == found.uniquifier)
        else {
            return Err(AppError::Unauthenticated);
        };
        let signed_in_at = found.signed_in_at.unwrap_or_default();
        let session = self.issue(&*tx, user, &found.family, signed_in_at).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Revokes the family of one of the caller's refresh tokens.
    pub async fn logout(&self, db: &Db, viewer: &Viewer, token: &str) -> AppResult<()> {
        let mut tx = db.begin_write().await?;
        let found = sessions::refresh_token_by_hash(&*tx, &tokens::digest(token)).await?;
        if let Some(found) = found.filter(|found| found.user_id == viewer.id()) {
            tx.execute(&sessions::revoke_family(&found.family)).await?;
            // The session's access tokens stop working too, on every replica.
            tx.publish(Event::Account {
                user_id: viewer.id(),
            })
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Revokes every token of the caller by rotating their uniquifier.
    pub async fn logout_everywhere(&self, db: &Db, viewer: &Viewer) -> AppResult<()> {
        let mut tx = db.begin_write().await?;
        users::rotate_uniquifier(&*tx, viewer.user.clone(), tokens::random_secret()?, None).await?;
        tx.publish(Event::Account {
            user_id: viewer.id(),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the caller's password, revokes every token they hold, and signs them in anew.
    pub async fn change_password(
        &self,
        db: &Db,
        viewer: &Viewer,
        current: &str,
        new: &str,
        ip: &str,
    ) -> AppResult<Session> {
        self.require_fresh(viewer)?;
        let new = password::normalize(new)?;
        if new == current.nfkd().collect::<String>() {
            return Err(AppError::bad_input(
                "the new password must differ from the current one",
            ));
        }
        let admitted = self.admit_password_work(db)?;
        let email = viewer.user.email.clone();
        if !self
            .check_password(db, admitted, &email, ip, Some(&viewer.user), current)
            .await?
        {
            return Err(AppError::bad_input("the current password is not correct"));
        }
        let admitted = self.admit_password_work(db)?;
        let hash = self.passwords.hash(admitted, new).await?;
        let mut tx = db.begin_write().await?;
        tx.publish(Event::Account {
            user_id: viewer.id(),
        })
        .await?;
        let user = users::rotate_uniquifier(
            &*tx,
            viewer.user.clone(),
            tokens::random_secret()?,
            Some(hash),
        )
        .await?;
        self.password_changed(&mut tx, &user).await?;
        let session = self.start_session(&*tx, user).await?;
        tx.commit().await?;
        Ok(session)
    }

    pub async fn set_active(&self, db: &Db, user_id: i64, active: bool) -> AppResult<user::Model> {
        let mut tx = db.begin_write().await?;
        let user = find_user(&*tx, user_id).await?;
        let user = users::set_active(&*tx, user, active).await?;
        tx.publish(Event::Account { user_id }).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Grants (`grant`) or revokes a role by name.
    pub async fn change_role(
        &self,
        db: &Db,
        user_id: i64,
        role: &str,
        grant: bool,
    ) -> AppResult<user::Model> {
        let mut tx = db.begin_write().await?;
        tx.publish(Event::Account { user_id }).await?;
        let user = find_user(&*tx, user_id).await?;
        let role = roles::by_name(&*tx, role)
            .await?
            .ok_or_else(|| AppError::not_found("no such role"))?;
        if grant {
            roles::grant(&*tx, user.id, role.id).await?;
        } else {
            roles::revoke(&*tx, user.id, role.id).await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    /// A new token family for a login.
    async fn start_session(
        &self,
        conn: &impl ConnectionTrait,
        user: user::Model,
    ) -> AppResult<Session> {
        let family = tokens::random_secret()?;
        self.issue(conn, user, &family, Utc::now()).await
    }

    /// New tokens in `family`, whose sign-in happened at `signed_in_at`.
    pub(super) async fn issue(
        &self,
        conn: &impl ConnectionTrait,
        user: user::Model,
        family: &str,
        signed_in_at: chrono::DateTime<Utc>,
    ) -> AppResult<Session> {
        let refresh_token = tokens::new_refresh_token()?;
        let ttl = chrono::Duration::from_std(self.config.refresh_token_ttl)
            .map_err(|_| AppError::Internal)?;
        sessions::insert_refresh_token(
            conn,
            NewRefreshToken {
                user_id: user.id,
                family,
                token_hash: tokens::digest(&refresh_token),
                uniquifier: &user.fs_uniquifier,
                expires_at: Utc::now() + ttl,
                signed_in_at,
            },
        )
        .await?;
        Ok(Session {
            access: self.keys.issue(&user.fs_uniquifier, family, signed_in_at)?,
            refresh_token,
            user,
        })
    }

    /// When the lockout window of attempts counted now starts.
    fn window_start(&self) -> AppResult<chrono::DateTime<Utc>> {
        let window = chrono::Duration::from_std(self.config.lockout_window)
            .map_err(|_| AppError::Internal)?;
        Ok(Utc::now() - window)
    }
}

/// Refuses password work after a write of the same request: a login attempt is recorded
/// where concurrent attempts see it at once, which SQLite's one writer (the request's own
/// transaction) would not allow; and a request waiting for a hash gives its execution slot
/// back, which it must not do while it holds the writer others wait for.
fn before_writes(db: &Db) -> AppResult<()> {
    if db.writing() {
        return Err(AppError::bad_input(
            "a password is checked or set before any change of its request: send it first, or \
             in a request of its own",
        ));
    }
    Ok(())
}

/// The token of an `Authorization` header of the bearer scheme.
fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Whether `user` logged in from `ip` last time or the time before.
fn logged_in_from(user: &user::Model, ip: &str) -> bool {
    [&user.current_login_ip, &user.last_login_ip]
        .into_iter()
        .any(|known| known.as_deref() == Some(ip))
}

pub(super) async fn find_user(conn: &impl ConnectionTrait, id: i64) -> AppResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("no such user"))
}
