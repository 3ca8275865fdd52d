//! Access tokens (JWT, HMAC-signed, verified strictly) and refresh tokens (random, stored hashed).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    config::{Config, JwtAlgorithm},
    error::{AppError, AppResult},
};

const ISSUER: &str = "roster";
const ACCESS: &str = "access";
const CHALLENGE: &str = "challenge";
/// How long a sign-in waits for its second factor.
const CHALLENGE_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// How far in the future `iat` may be, for clocks of replicas that disagree a little.
const MAX_CLOCK_SKEW_SECONDS: i64 = 30;
const REFRESH_PREFIX: &str = "rt_";

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    /// The user's `fs_uniquifier`.
    sub: String,
    /// The session: the family of refresh tokens of the login that issued it.
    sid: String,
    /// When the session's sign-in happened (OpenID Connect's name); 0 in tokens from before
    /// it was carried, which are never fresh.
    #[serde(default)]
    auth_time: i64,
    iat: i64,
    exp: i64,
    aud: String,
    iss: String,
    typ: String,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: Vec<DecodingKey>,
    audience: String,
    ttl: chrono::Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A freshly issued access token.
pub struct AccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl TokenKeys {
    pub fn new(config: &Config, secret: &SecretString) -> AppResult<Self> {
        let algorithm = match config.jwt_algorithm {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Hs384 => Algorithm::HS384,
            JwtAlgorithm::Hs512 => Algorithm::HS512,
        };
        let key = |secret: &SecretString| secret.expose_secret().as_bytes().to_vec();
        let mut decoding = vec![DecodingKey::from_secret(&key(secret))];
        if let Some(previous) = &config.jwt_secret_previous {
            decoding.push(DecodingKey::from_secret(&key(previous)));
        }
        Ok(TokenKeys {
            algorithm,
            encoding: EncodingKey::from_secret(&key(secret)),
            decoding,
            audience: config.jwt_audience.clone(),
            ttl: chrono::Duration::from_std(config.access_token_ttl)
                .map_err(|_| AppError::bad_input("ACCESS_TOKEN_TTL is too long"))?,
        })
    }

    /// Issues an access token for the user with this uniquifier, in session `family`, whose
    /// sign-in happened at `signed_in_at`.
    pub fn issue(
        &self,
        uniquifier: &str,
        family: &str,
        signed_in_at: DateTime<Utc>,
    ) -> AppResult<AccessToken> {
        self.sign(ACCESS, uniquifier, family, signed_in_at, self.ttl)
    }

    /// A challenge for the second factor of a sign-in of the user with this uniquifier, whose
    /// password was right: good for `CHALLENGE_TTL`, and for nothing but `complete_login`.
    pub fn challenge(&self, uniquifier: &str) -> AppResult<AccessToken> {
        self.sign(CHALLENGE, uniquifier, "", Utc::now(), CHALLENGE_TTL)
    }

    /// The uniquifier of a valid challenge.
    pub fn verify_challenge(&self, token: &str) -> AppResult<String> {
        self.verify_typed(CHALLENGE, token)
            .map(|(subject, _)| subject.uniquifier)
    }

    fn sign(
        &self,
        typ: &str,
        uniquifier: &str,
        family: &str,
        signed_in_at: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> AppResult<AccessToken> {
        let now = Utc::now();
        let expires_at = now + ttl;
        let claims = AccessClaims {
            sub: uniquifier.to_owned(),
            sid: family.to_owned(),
            auth_time: signed_in_at.timestamp(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            aud: self.audience.clone(),
            iss: ISSUER.to_owned(),
            typ: typ.to_owned(),
        };
        let token =
            encode(&Header::new(self.algorithm), &claims, &self.encoding).map_err(|err| {
                tracing::error!(error = %err, "could not sign an access token");
                AppError::Internal
            })?;
        Ok(AccessToken { token, expires_at })
    }

    /// The uniquifier of a valid access token: signed by our key with our algorithm (never
    /// `none`, never another one), for our audience and issuer, not expired, issued in the past.
    pub fn verify(&self, token: &str) -> AppResult<Subject> {
        self.verify_until(token).map(|(subject, _)| subject)
    }

    /// Whose a valid access token is, and when it expires.
    pub fn verify_until(&self, token: &str) -> AppResult<(Subject, DateTime<Utc>)> {
        self.verify_typed(ACCESS, token)
    }

    fn verify_typed(&self, typ: &str, token: &str) -> AppResult<(Subject, DateTime<Utc>)> {
        let mut validation = Validation::new(self.algorithm);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
        validation.leeway = 0;
        let claims = self
            .decoding
            .iter()
            .find_map(|key| decode::<AccessClaims>(token, key, &validation).ok())
            .ok_or(AppError::Unauthenticated)?
            .claims;
        if claims.typ != typ || claims.iat > Utc::now().timestamp() + MAX_CLOCK_SKEW_SECONDS {
            return Err(AppError::Unauthenticated);
        }
        let expires = DateTime::from_timestamp(claims.exp, 0).ok_or(AppError::Unauthenticated)?;
        let subject = Subject {
            uniquifier: claims.sub,
            family: claims.sid,
            signed_in_at: DateTime::from_timestamp(claims.auth_time, 0).unwrap_or_default(),
        };
        Ok((subject, expires))
    }
}

/// Whose an access token is: the user's uniquifier, the session it belongs to, and when that
/// session's sign-in happened.
pub struct Subject {
    pub uniquifier: String,
    pub family: String,
    pub signed_in_at: DateTime<Utc>,
}

/// A new random secret, base64url: 32 bytes for keys, uniquifiers and refresh tokens.
pub fn random_secret() -> AppResult<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// `N` bytes from the system's random generator.
pub fn random_bytes<const N: usize>() -> AppResult<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| {
        tracing::error!(error = %err, "the system random generator failed");
        AppError::Internal
    })?;
    Ok(bytes)
}

/// A new refresh token; the prefix lets secret scanners recognize leaked ones.
pub fn new_refresh_token() -> AppResult<String> {
    Ok(format!("{REFRESH_PREFIX}{}", random_secret()?))
}

/// What the database keeps in place of a refresh token, or of an email it counts login
/// attempts on: its SHA-256, hex.
pub fn digest(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}
