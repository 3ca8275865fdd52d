//! The account operations: registration, login with lockout, token rotation, logout, password
//! changes, and the administration of users and roles.

use std::sync::Arc;

use chrono::Utc;
use entity::user;
use sea_orm::{ConnectionTrait, EntityTrait};
use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use super::{
    Auth, Viewer, email,
    password::{self, Passwords},
    tokens::{self, AccessToken, TokenKeys},
    viewers::Viewers,
};
use crate::{
    config::{Config, Registration},
    db::Db,
    error::{AppError, AppResult},
    events::Event,
    store::{
        roles,
        sessions::{self, NewRefreshToken},
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

/// The account service, shared by every request.
#[derive(Clone)]
pub struct Accounts {
    db: Db,
    keys: TokenKeys,
    passwords: Passwords,
    /// Callers recently looked up.
    viewers: Arc<Viewers>,
    config: Arc<Config>,
}

impl Accounts {
    /// Loads the signing key: `JWT_SECRET`, or the one kept in the database (made on first use).
    pub async fn new(db: Db, config: Arc<Config>) -> AppResult<Self> {
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
        Ok(Accounts {
            keys: TokenKeys::new(&config, &secret)?,
            db,
            passwords: Passwords::default(),
            viewers: Arc::new(Viewers::new(config.caller_cache_ttl)),
            config,
        })
    }

    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// Who sends this `Authorization` header: one statement looks the user up by the token's
    /// uniquifier and session, so a rotated uniquifier, a revoked session or a deactivated
    /// user refuses the token at once.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Auth {
        let Some(value) = authorization else {
            return Auth::Anonymous;
        };
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Auth::Refused(AppError::Unauthenticated),
        };
        let subject = match self.keys.verify(token) {
            Ok(subject) => subject,
            Err(err) => return Auth::Refused(err),
        };
        // A session's callers are kept apart: one session revoked leaves the others working.
        let key = format!("{} {}", subject.uniquifier, subject.family);
        let changes = self.db.events().account_changes();
        if let Some(viewer) = changes.and_then(|changes| self.viewers.get(&key, changes)) {
            return Auth::User(viewer);
        }
        let found =
            users::by_uniquifier_with_roles(self.db.pool(), &subject.uniquifier, &subject.family)
                .await;
        match found {
            Ok(Some((user, roles))) if user.active => {
                let viewer = Arc::new(Viewer::new(user, roles));
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
        let (scheme, token) = authorization.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(())?;
        self.keys
            .verify_until(token.trim())
            .ok()
            .map(|(_, expires)| expires)
    }

    pub async fn register(&self, db: &Db, email: &str, password: &str) -> AppResult<Session> {
        if self.config.registration == Registration::Closed {
            return Err(AppError::forbidden("registration is closed"));
        }
        let user = self.create_user(db, email, password).await?;
        let tx = db.begin_write().await?;
        let session = self.start_session(&*tx, user).await?;
        tx.commit().await?;
        Ok(session)
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
        let password_hash = self.passwords.hash(password).await?;
        let new = NewUser {
            email: &email,
            password_hash,
            uniquifier: tokens::random_secret()?,
        };
        let tx = db.begin_write().await?;
        let user = users::create(&*tx, new).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Logs in. An unknown email and a wrong password get the same answer after the same work.
    /// A locked account answers `LOCKED` whatever the password, which is not verified (the time
    /// of a verification is spent all the same), and a guess made while it is locked does not
    /// count; that an account is disabled is only told to someone who knows its password.
    pub async fn login(
        &self,
        db: &Db,
        email: &str,
        password: &str,
        ip: &str,
    ) -> AppResult<Session> {
        let conn = &db.conn();
        let since = Utc::now() - self.window()?;
        if sessions::failures_from_ip(conn, ip, since).await? >= self.config.login_ip_max_failures {
            return Err(AppError::RateLimited);
        }
        let password: String = password.nfkd().collect();
        let Some(user) = users::by_email(conn, email.trim()).await? else {
            self.passwords.verify_nobody(password).await?;
            db.write_regardless(&sessions::login_failure(None, ip))
                .await?;
            return Err(AppError::InvalidCredentials);
        };
        if sessions::failures_of_user(conn, user.id, since).await?
            >= self.config.lockout_max_failures
        {
            self.passwords.verify_nobody(password).await?;
            return Err(AppError::Locked);
        }
        if !self
            .passwords
            .verify(password, user.password_hash.clone())
            .await?
        {
            db.write_regardless(&sessions::login_failure(Some(user.id), ip))
                .await?;
            return Err(AppError::InvalidCredentials);
        }
        if !user.active {
            return Err(AppError::forbidden("this account is disabled"));
        }
        let mut tx = db.begin_write().await?;
        sessions::clear_login_failures(&*tx, user.id, since).await?;
        // The tracking fields change: callers read before are not current any more.
        tx.publish(Event::Account { user_id: user.id }).await?;
        let user = users::record_login(&*tx, user, ip).await?;
        let session = self.start_session(&*tx, user).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Trades a refresh token for new tokens. Each refresh token works once: presenting one
    /// again revokes every token rotated from the same login.
    pub async fn refresh(&self, db: &Db, token: &str) -> AppResult<Session> {
        let tx = db.begin_write().await?;
        let found =
            sessions::refresh_token_by_hash(&*tx, &tokens::refresh_token_hash(token)).await?;
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
        let session = self.issue(&*tx, user, &found.family).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Revokes the family of one of the caller's refresh tokens.
    pub async fn logout(&self, db: &Db, viewer: &Viewer, token: &str) -> AppResult<()> {
        let mut tx = db.begin_write().await?;
        let found =
            sessions::refresh_token_by_hash(&*tx, &tokens::refresh_token_hash(token)).await?;
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
        let current: String = current.nfkd().collect();
        if !self
            .passwords
            .verify(current.clone(), viewer.user.password_hash.clone())
            .await?
        {
            db.write_regardless(&sessions::login_failure(Some(viewer.id()), ip))
                .await?;
            return Err(AppError::bad_input("the current password is not correct"));
        }
        let new = password::normalize(new)?;
        if new == current {
            return Err(AppError::bad_input(
                "the new password must differ from the current one",
            ));
        }
        let hash = self.passwords.hash(new).await?;
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
        self.issue(conn, user, &family).await
    }

    /// New tokens in `family`.
    async fn issue(
        &self,
        conn: &impl ConnectionTrait,
        user: user::Model,
        family: &str,
    ) -> AppResult<Session> {
        let refresh_token = tokens::new_refresh_token()?;
        let ttl = chrono::Duration::from_std(self.config.refresh_token_ttl)
            .map_err(|_| AppError::Internal)?;
        sessions::insert_refresh_token(
            conn,
            NewRefreshToken {
                user_id: user.id,
                family,
                token_hash: tokens::refresh_token_hash(&refresh_token),
                uniquifier: &user.fs_uniquifier,
                expires_at: Utc::now() + ttl,
            },
        )
        .await?;
        Ok(Session {
            access: self.keys.issue(&user.fs_uniquifier, family)?,
            refresh_token,
            user,
        })
    }

    fn window(&self) -> AppResult<chrono::Duration> {
        chrono::Duration::from_std(self.config.lockout_window).map_err(|_| AppError::Internal)
    }
}

async fn find_user(conn: &impl ConnectionTrait, id: i64) -> AppResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("no such user"))
}
