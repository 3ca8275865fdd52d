//! Cards: what lists read of each row, and what anyone who may see the row may see of it. Each
//! field of a card is declared once, below: its column, and the GraphQL field that shows it.
//! From that one declaration come the card itself, how lists read it (`store::Card`), the
//! field's resolver (through `#[graphql(flatten)]` in the object's own resolvers) and its
//! value in the one-pass answers of lists (`graphql::PlainCard`), so the two ways of answering
//! a field cannot say different things.

use chrono::{DateTime, Utc};
use entity::{profile, user};

use crate::graphql::{NodeId, NodeType};

/// Declares a card of the rows of `$entity`: each field's Rust type and column, its GraphQL
/// name and type, and its GraphQL value computed from the card bound to `$card`.
macro_rules! card {
    (
        $(#[$doc:meta])*
        $name:ident of $entity:ident, seen through $fields:ident($card:ident) {
            $(
                $(#[$field_doc:meta])*
                $field:ident: $ty:ty = $column:ident => $graphql:literal: $output:ty = $value:expr
            ),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            $(pub $field: $ty,)*
        }

        impl $name {
            /// The card of a whole row.
            pub fn of(model: &$entity::Model) -> Self {
                $name {
                    $($field: model.$field.clone(),)*
                }
            }
        }

        impl crate::store::visibility::Card for $name {
            type Entity = $entity::Entity;
            const COLUMNS: &'static [$entity::Column] = &[$($entity::Column::$column,)*];

            fn read(row: &sea_orm::QueryResult, first: usize) -> Result<Self, sea_orm::DbErr> {
                let mut column = first..;
                let mut next = || column.next().unwrap_or(first);
                Ok($name {
                    $($field: row.try_get_by_index(next())?,)*
                })
            }

            fn of(model: &$entity::Model) -> Self {
                $name::of(model)
            }
        }

        /// The GraphQL fields of a card, flattened into the object that shows it.
        pub struct $fields<'c>(pub &'c $name);

        #[async_graphql::Object]
        impl<'c> $fields<'c> {
            $(
                $(#[$field_doc])*
                #[graphql(name = $graphql)]
                pub async fn $field(&self) -> $output {
                    let $card = self.0;
                    ($value).into()
                }
            )*
        }

        impl crate::graphql::PlainCard for $name {
            fn plain(&self, name: &str) -> Option<crate::graphql::PlainValue<'_>> {
                let $card = self;
                match name {
                    $($graphql => Some(($value).into()),)*
                    _ => None,
                }
            }
        }
    };
}

card! {
    /// What lists show of a user: never the credentials or the account details, which are read
    /// on demand for the callers entitled to them.
    UserCard of user, seen through UserCardFields(card) {
        /// The global ID of this user.
        id: i64 = Id => "id": async_graphql::ID = NodeId::new(NodeType::User, card.id),
        /// The user's email address.
        email: String = Email => "email": &str = card.email.as_str(),
        /// When the user was created.
        created_at: DateTime<Utc> = CreatedAt => "createdAt": DateTime<Utc> = card.created_at,
        /// The name the user chose to show others; null when they chose none.
        display_name: Option<String> = DisplayName
            => "displayName": Option<&str> = card.display_name.as_deref(),
    }
}

card! {
    /// What lists show of a profile: all of it.
    ProfileCard of profile, seen through ProfileCardFields(card) {
        /// The global ID of this profile.
        id: i64 = Id => "id": async_graphql::ID = NodeId::new(NodeType::Profile, card.id),
        /// The profile's name.
        name: String = Name => "name": &str = card.name.as_str(),
        /// When the profile was created.
        created_at: DateTime<Utc> = CreatedAt => "createdAt": DateTime<Utc> = card.created_at,
        /// When the profile was last changed.
        updated_at: DateTime<Utc> = UpdatedAt => "updatedAt": DateTime<Utc> = card.updated_at,
    }
}
