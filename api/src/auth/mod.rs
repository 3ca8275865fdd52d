//! Accounts and access: who the caller is, what they may do, and the account operations.

pub mod accounts;
pub mod email;
mod email_change;
mod freshness;
pub mod guards;
mod mail_limit;
pub mod password;
mod recovery;
mod registration;
mod requests;
pub mod rules;
pub mod tokens;
pub mod two_factor;
pub mod viewers;

use std::sync::Arc;

use entity::{role, user};

use crate::store::visibility::Scope;

pub use accounts::Accounts;

use crate::error::{AppError, AppResult};

/// What a role can grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    UsersRead,
    UsersWrite,
    ProfilesRead,
    ProfilesWrite,
}

impl Permission {
    pub const ALL: [Permission; 4] = [
        Permission::UsersRead,
        Permission::UsersWrite,
        Permission::ProfilesRead,
        Permission::ProfilesWrite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::UsersRead => "users:read",
            Permission::UsersWrite => "users:write",
            Permission::ProfilesRead => "profiles:read",
            Permission::ProfilesWrite => "profiles:write",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|permission| permission.name() == name)
    }
}

/// The authenticated caller of a request, with the permissions of their roles.
#[derive(Debug)]
pub struct Viewer {
    pub user: user::Model,
    pub roles: Vec<role::Model>,
    permissions: Vec<Permission>,
    /// The session of the caller's token: its family of refresh tokens.
    pub family: String,
    /// When the session's sign-in happened: operations on the account itself need a recent
    /// one (`FRESHNESS`).
    pub signed_in_at: chrono::DateTime<chrono::Utc>,
}

impl Viewer {
    /// Whether `other` holds the same roles, with the same permissions, as this viewer.
    pub fn same_rights(&self, other: &Viewer) -> bool {
        let roles = |viewer: &Viewer| {
            let mut roles: Vec<(i64, String)> = viewer
                .roles
                .iter()
                .map(|role| (role.id, role.permissions.clone()))
                .collect();
            roles.sort_unstable();
            roles
        };
        roles(self) == roles(other)
    }

    pub fn new(user: user::Model, roles: Vec<role::Model>, session: tokens::Subject) -> Self {
        let mut permissions: Vec<Permission> = roles
            .iter()
            .flat_map(|role| role.permission_list())
            .filter_map(Permission::parse)
            .collect();
        permissions.sort_by_key(|permission| permission.name());
        permissions.dedup();
        Viewer {
            user,
            roles,
            permissions,
            family: session.family,
            signed_in_at: session.signed_in_at,
        }
    }

    pub fn id(&self) -> i64 {
        self.user.id
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// What this caller may see.
    pub fn scope(&self) -> Scope {
        Scope {
            viewer: Some(self.id()),
            all_users: self.can(Permission::UsersRead),
            all_profiles: self.can(Permission::ProfilesRead),
        }
    }
}

/// Who is calling: nobody, somebody whose token was refused, or an authenticated user.
#[derive(Clone, Debug)]
pub enum Auth {
    Anonymous,
    Refused(AppError),
    User(Arc<Viewer>),
}

impl Auth {
    /// What this caller may see.
    pub fn scope(&self) -> Scope {
        match self {
            Auth::User(viewer) => viewer.scope(),
            Auth::Anonymous | Auth::Refused(_) => Scope {
                viewer: None,
                all_users: false,
                all_profiles: false,
            },
        }
    }

    /// The caller, or why there is none (`UNAUTHENTICATED`, or the failure that prevented
    /// checking the token).
    pub fn viewer(&self) -> AppResult<&Arc<Viewer>> {
        match self {
            Auth::User(viewer) => Ok(viewer),
            Auth::Anonymous => Err(AppError::Unauthenticated),
            Auth::Refused(err) => Err(err.clone()),
        }
    }
}

/// The credentials a request came with, checked the first time something needs the caller:
/// a request refused before execution, or one that reads nothing private, runs no SQL for it.
pub struct Credentials {
    accounts: Accounts,
    authorization: Option<String>,
    auth: tokio::sync::OnceCell<Auth>,
}

impl Credentials {
    pub fn new(accounts: Accounts, authorization: Option<String>) -> Self {
        Credentials {
            accounts,
            authorization,
            auth: tokio::sync::OnceCell::new(),
        }
    }

    /// Credentials already checked (a WebSocket connection's, at its start).
    pub fn checked(accounts: Accounts, authorization: Option<String>, auth: Auth) -> Self {
        Credentials {
            accounts,
            authorization,
            auth: tokio::sync::OnceCell::new_with(Some(auth)),
        }
    }

    /// The same credentials, to be checked again: each operation of a WebSocket connection
    /// reads the caller's rights as they are when it starts, not as they were at connection.
    pub fn renewed(&self) -> Self {
        Credentials::new(self.accounts.clone(), self.authorization.clone())
    }

    /// Who is calling (looked up once per request).
    pub async fn auth(&self) -> &Auth {
        self.auth
            .get_or_init(|| self.accounts.authenticate(self.authorization.as_deref()))
            .await
    }
}
