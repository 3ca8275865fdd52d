//! The arguments lists take: orderings and filters, and what they mean to the store.

use async_graphql::{Enum, InputObject};
use chrono::{DateTime, Utc};

use super::membership::ProfileRole;
use crate::store::listing::{Filter, Sort, SortKey};

/// Ascending or descending.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enum)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// The orders of a list, by GraphQL type.
pub trait ListOrder {
    fn sort(&self) -> Sort;
}

macro_rules! order {
    (
        $(#[$doc:meta])* $order:ident, $(#[$field_doc:meta])* $field:ident {
            $($(#[$variant_doc:meta])* $variant:ident => $key:ident),* $(,)?
        }
    ) => {
        $(#[$field_doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
        pub enum $field {
            $($(#[$variant_doc])* $variant,)*
        }

        $(#[$doc])*
        #[derive(Clone, Copy, Debug, InputObject)]
        pub struct $order {
            /// What to order by.
            pub field: $field,
            /// Which way (ascending by default). Ties are broken by ID, the same way.
            #[graphql(default)]
            pub direction: OrderDirection,
        }

        impl ListOrder for $order {
            fn sort(&self) -> Sort {
                let key = match self.field {
                    $($field::$variant => SortKey::$key,)*
                };
                Sort { key, descending: self.direction == OrderDirection::Desc }
            }
        }
    };
}

order!(
    /// How to order users.
    UserOrder,
    /// What users can be ordered by.
    UserOrderField {
        /// The order of creation.
        Id => Id,
        /// The email address, ignoring case and width: in code point order of its folded
        /// form (NFKC and Unicode full case folding), the same on every database.
        Email => Email,
        /// When the user was created.
        CreatedAt => CreatedAt,
        /// When the user logged in before their current session; never first ascending.
        /// Needs `users:read`.
        LastLoginAt => LastLoginAt,
    }
);

order!(
    /// How to order profiles.
    ProfileOrder,
    /// What profiles can be ordered by.
    ProfileOrderField {
        /// The order of creation.
        Id => Id,
        /// The name, ignoring case and width: in code point order of its folded form (NFKC
        /// and Unicode full case folding), the same on every database.
        Name => Name,
        /// When the profile was created.
        CreatedAt => CreatedAt,
        /// When the profile was last changed.
        UpdatedAt => UpdatedAt,
    }
);

order!(
    /// How to order the managers of a profile.
    ProfileUserOrder,
    /// What the managers of a profile can be ordered by.
    ProfileUserOrderField {
        /// The order of creation of the users.
        Id => Id,
        /// The email address, ignoring case and width: in code point order of its folded
        /// form (NFKC and Unicode full case folding), the same on every database.
        Email => Email,
        /// When the user was created.
        CreatedAt => CreatedAt,
        /// When the user logged in before their current session; never first ascending.
        /// Needs `users:read`.
        LastLoginAt => LastLoginAt,
        /// When the user became a manager of the profile.
        LinkedAt => LinkedAt,
        /// The user's role on the profile, owners first ascending.
        Role => Role,
    }
);

order!(
    /// How to order the profiles of a user.
    UserProfileOrder,
    /// What the profiles of a user can be ordered by.
    UserProfileOrderField {
        /// The order of creation of the profiles.
        Id => Id,
        /// The name, ignoring case and width: in code point order of its folded form (NFKC
        /// and Unicode full case folding), the same on every database.
        Name => Name,
        /// When the profile was created.
        CreatedAt => CreatedAt,
        /// When the profile was last changed.
        UpdatedAt => UpdatedAt,
        /// When the user became a manager of the profile.
        LinkedAt => LinkedAt,
        /// The user's role on the profile, owners first ascending.
        Role => Role,
    }
);

/// Which users to list. Every condition given must hold.
#[derive(Clone, Debug, Default, InputObject)]
pub struct UserFilter {
    /// The email address contains this text, ignoring case and width (both folded: NFKC and
    /// Unicode full case folding, so `ß` matches `ss`; `%` and `_` are plain characters); at
    /// most 254 characters, the longest address.
    #[graphql(validator(max_length = 254))]
    pub email_contains: Option<String>,
    /// The user may log in, or may not.
    pub active: Option<bool>,
    /// The user holds the role of this name.
    pub role: Option<String>,
}

/// Which profiles to list. Every condition given must hold.
#[derive(Clone, Debug, Default, InputObject)]
pub struct ProfileFilter {
    /// The name contains this text, ignoring case and width (both folded: NFKC and Unicode
    /// full case folding, so `ß` matches `ss`; `%` and `_` are plain characters); at most 255
    /// characters, the longest name.
    #[graphql(validator(max_length = 255))]
    pub name_contains: Option<String>,
}

/// Which managers of a profile to list. Every condition given must hold.
#[derive(Clone, Debug, Default, InputObject)]
pub struct ProfileUserFilter {
    /// The email address contains this text, ignoring case and width (both folded: NFKC and
    /// Unicode full case folding, so `ß` matches `ss`; `%` and `_` are plain characters); at
    /// most 254 characters, the longest address.
    #[graphql(validator(max_length = 254))]
    pub email_contains: Option<String>,
    /// The user may log in, or may not. Needs `users:read`.
    pub active: Option<bool>,
    /// The user holds the account role of this name. Needs `users:read`.
    pub account_role: Option<String>,
    /// The user's role on the profile.
    pub role: Option<ProfileRole>,
    /// The user became a manager after this time.
    pub linked_after: Option<DateTime<Utc>>,
    /// The user became a manager before this time.
    pub linked_before: Option<DateTime<Utc>>,
}

/// Which profiles of a user to list. Every condition given must hold.
#[derive(Clone, Debug, Default, InputObject)]
pub struct UserProfileFilter {
    /// The name contains this text, ignoring case and width (both folded: NFKC and Unicode
    /// full case folding, so `ß` matches `ss`; `%` and `_` are plain characters); at most 255
    /// characters, the longest name.
    #[graphql(validator(max_length = 255))]
    pub name_contains: Option<String>,
    /// The user's role on the profile.
    pub role: Option<ProfileRole>,
    /// The user became a manager after this time.
    pub linked_after: Option<DateTime<Utc>>,
    /// The user became a manager before this time.
    pub linked_before: Option<DateTime<Utc>>,
}

impl From<UserFilter> for Filter {
    fn from(filter: UserFilter) -> Self {
        Filter {
            email_contains: filter.email_contains,
            active: filter.active,
            account_role: filter.role,
            ..Filter::default()
        }
    }
}

impl From<ProfileFilter> for Filter {
    fn from(filter: ProfileFilter) -> Self {
        Filter {
            name_contains: filter.name_contains,
            ..Filter::default()
        }
    }
}

impl From<ProfileUserFilter> for Filter {
    fn from(filter: ProfileUserFilter) -> Self {
        Filter {
            email_contains: filter.email_contains,
            active: filter.active,
            account_role: filter.account_role,
            link_role: filter.role.map(Into::into),
            linked_after: filter.linked_after,
            linked_before: filter.linked_before,
            ..Filter::default()
        }
    }
}

impl From<UserProfileFilter> for Filter {
    fn from(filter: UserProfileFilter) -> Self {
        Filter {
            name_contains: filter.name_contains,
            link_role: filter.role.map(Into::into),
            linked_after: filter.linked_after,
            linked_before: filter.linked_before,
            ..Filter::default()
        }
    }
}
