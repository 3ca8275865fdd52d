//! Relay connections: cursors, page arguments, and the connection types of every list.

use async_graphql::{
    Context, Object, OutputType, SimpleObject,
    connection::{Connection, ConnectionNameType, CursorType, Edge, EdgeNameType, EmptyFields},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

use super::{loaders::Batch, membership::ProfileRole, profile::Profile, user::User};
use crate::{
    error::{AppError, AppResult},
    store::{Window, links::Linked},
};

/// The most items one page may hold, and the size of a page when `first` is not given.
pub const MAX_PAGE_SIZE: i32 = 100;

/// The lists that hand out cursors; a cursor is only valid in the list that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    Users,
    Profiles,
    UserProfiles,
    ProfileUsers,
}

impl ListKind {
    fn tag(self) -> &'static str {
        match self {
            ListKind::Users => "users",
            ListKind::Profiles => "profiles",
            ListKind::UserProfiles => "User.profiles",
            ListKind::ProfileUsers => "Profile.users",
        }
    }
}

/// An opaque position in a list: the list, its ordering, and the key of the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    list: ListKind,
    key: i64,
}

const ORDER_BY_KEY: &str = "ID";

impl CursorType for Cursor {
    type Error = AppError;

    fn decode_cursor(_: &str) -> Result<Self, AppError> {
        // Decoding needs to know the list; see `Cursor::decode`.
        Err(AppError::Internal)
    }

    fn encode_cursor(&self) -> String {
        let payload = serde_json::json!([self.list.tag(), ORDER_BY_KEY, self.key]);
        URL_SAFE_NO_PAD.encode(payload.to_string())
    }
}

impl Cursor {
    pub fn new(list: ListKind, key: i64) -> Self {
        Cursor { list, key }
    }

    /// Decodes a cursor that must come from `list`.
    fn decode(list: ListKind, text: &str) -> AppResult<Self> {
        let invalid = || AppError::bad_input("`after` is not a cursor of this list");
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let (tag, order, key): (String, String, i64) =
            serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if tag != list.tag() || order != ORDER_BY_KEY {
            return Err(invalid());
        }
        Ok(Cursor { list, key })
    }
}

/// Validates `first` and `after` of a list into the window to read.
pub fn window(list: ListKind, first: Option<i32>, after: Option<&str>) -> AppResult<Window> {
    let first = first.unwrap_or(MAX_PAGE_SIZE);
    if !(0..=MAX_PAGE_SIZE).contains(&first) {
        return Err(AppError::bad_input(format!(
            "`first` must be between 0 and {MAX_PAGE_SIZE}, got {first}"
        )));
    }
    let after = after.map(|text| Cursor::decode(list, text)).transpose()?;
    Ok(Window {
        first: first.unsigned_abs().into(),
        after: after.map(|cursor| cursor.key),
    })
}

/// Where the total of a list comes from, evaluated only when `totalCount` is selected.
#[derive(Clone, Copy, Debug)]
pub enum Total {
    Users,
    Profiles,
    ProfilesOfUser(i64),
    UsersOfProfile(i64),
}

/// The connection fields beyond Relay's: the size of the whole list.
pub struct TotalCount(Total);

#[Object]
impl TotalCount {
    /// The number of items in the whole list, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(Batch::total(ctx, self.0).await?)
    }
}

/// The fields of the link between a user and a profile, carried by the edges that cross it.
#[derive(SimpleObject)]
pub struct LinkFields {
    /// The user's role on the profile.
    role: ProfileRole,
    /// When the user became a manager of the profile.
    linked_at: DateTime<Utc>,
}

macro_rules! names {
    ($connection:ident = $connection_name:literal, $edge:ident = $edge_name:literal) => {
        pub struct $connection;
        impl ConnectionNameType for $connection {
            fn type_name<T: OutputType>() -> String {
                $connection_name.into()
            }
        }
        pub struct $edge;
        impl EdgeNameType for $edge {
            fn type_name<T: OutputType>() -> String {
                $edge_name.into()
            }
        }
    };
}

names!(
    UserConnectionName = "UserConnection",
    UserEdgeName = "UserEdge"
);
names!(
    ProfileConnectionName = "ProfileConnection",
    ProfileEdgeName = "ProfileEdge"
);
names!(
    UserProfileConnectionName = "UserProfileConnection",
    UserProfileEdgeName = "UserProfileEdge"
);
names!(
    ProfileUserConnectionName = "ProfileUserConnection",
    ProfileUserEdgeName = "ProfileUserEdge"
);

pub type UserConnection =
    Connection<Cursor, User, TotalCount, EmptyFields, UserConnectionName, UserEdgeName>;
pub type ProfileConnection =
    Connection<Cursor, Profile, TotalCount, EmptyFields, ProfileConnectionName, ProfileEdgeName>;
pub type UserProfileConnection = Connection<
    Cursor,
    Profile,
    TotalCount,
    LinkFields,
    UserProfileConnectionName,
    UserProfileEdgeName,
>;
pub type ProfileUserConnection = Connection<
    Cursor,
    User,
    TotalCount,
    LinkFields,
    ProfileUserConnectionName,
    ProfileUserEdgeName,
>;

/// Builds a connection from up to `window.first + 1` rows in list order.
pub fn connect<R, N, E, C, EN>(
    list: ListKind,
    total: Total,
    window: Window,
    mut rows: Vec<R>,
    split: impl Fn(R) -> (i64, N, E),
) -> Connection<Cursor, N, TotalCount, E, C, EN>
where
    N: OutputType,
    E: async_graphql::ObjectType,
    C: ConnectionNameType,
    EN: EdgeNameType,
{
    let first = usize::try_from(window.first).unwrap_or(usize::MAX);
    let has_next_page = rows.len() > first;
    rows.truncate(first);
    let mut connection = Connection::with_additional_fields(
        window.after.is_some(),
        has_next_page,
        TotalCount(total),
    );
    connection.edges = rows
        .into_iter()
        .map(|row| {
            let (key, node, fields) = split(row);
            Edge::with_additional_fields(Cursor::new(list, key), node, fields)
        })
        .collect();
    connection
}

/// Splits a linked row into its cursor key, its node and the link's fields.
pub fn linked<M, N>(
    key: impl Fn(&M) -> i64,
    node: impl Fn(M) -> N,
) -> impl Fn(Linked<M>) -> (i64, N, LinkFields) {
    move |linked| {
        let fields = LinkFields {
            role: linked.role.into(),
            linked_at: linked.linked_at,
        };
        (key(&linked.node), node(linked.node), fields)
    }
}
