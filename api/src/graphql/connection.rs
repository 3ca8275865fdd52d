//! Relay connections: cursors, page arguments, and the connection types of every list.

use async_graphql::{
    Context, Object, OutputType, SimpleObject,
    connection::{Connection, ConnectionNameType, CursorType, Edge, EdgeNameType, EmptyFields},
    dataloader::Loader,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;

use super::{
    loaders::{Batch, Children, Page, Relation},
    membership::ProfileRole,
    profile::Profile,
    state,
    user::User,
};
use crate::{
    auth::Auth,
    error::{AppError, AppResult},
    store::{self, Window, visibility::Scoped},
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

/// An object that lists hold: a wrapper of an entity's model.
pub trait Listed: OutputType + Sized {
    type Entity: Scoped<Model: Sync>;
    fn wrap(model: <Self::Entity as EntityTrait>::Model) -> Self;
    fn key(model: &<Self::Entity as EntityTrait>::Model) -> i64;
}

/// Resolves a top-level list: one page of all rows of `N`'s entity.
pub async fn top_level<N, C, EN>(
    ctx: &Context<'_>,
    list: ListKind,
    total: Total,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<Connection<Cursor, N, TotalCount, EmptyFields, C, EN>>
where
    N: Listed,
    C: ConnectionNameType,
    EN: EdgeNameType,
{
    let window = window(list, first, after.as_deref())?;
    let scope = ctx.data::<Auth>()?.scope();
    let rows = store::page::<N::Entity>(state(ctx)?.conn(), &scope, window)
        .await
        .map_err(AppError::from)?;
    Ok(connect(list, total, window, rows, |model| {
        (N::key(&model), N::wrap(model), EmptyFields)
    }))
}

/// Resolves a nested list: one page of `parent`'s children along `R`, loaded in one batch with
/// the pages of the other parents of its level.
pub async fn nested<R, N, C, EN>(
    ctx: &Context<'_>,
    list: ListKind,
    parent: i64,
    total: Total,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<Connection<Cursor, N, TotalCount, LinkFields, C, EN>>
where
    R: Relation<Child = N::Entity>,
    N: Listed,
    C: ConnectionNameType,
    EN: EdgeNameType,
    Batch: Loader<Page<R>, Value = Children<R>, Error = AppError>,
{
    let window = window(list, first, after.as_deref())?;
    let rows = Batch::of(ctx)?
        .load_one(Page::<R>::new(parent, window))
        .await?;
    Ok(connect(
        list,
        total,
        window,
        rows.unwrap_or_default(),
        |linked| {
            let fields = LinkFields {
                role: linked.role.into(),
                linked_at: linked.linked_at,
            };
            (N::key(&linked.node), N::wrap(linked.node), fields)
        },
    ))
}

/// Builds a connection from up to `window.first + 1` rows in list order.
fn connect<R, N, E, C, EN>(
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
