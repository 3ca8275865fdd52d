//! Relay connections: cursors, page arguments, and the connection types of every list.

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    Context, InputType, Lookahead, Name, Object, OutputType, TypeName, Value as ConstValue,
    connection::{Connection, ConnectionNameType, CursorType, Edge, EdgeNameType, EmptyFields},
    dataloader::Loader,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{
    invitation::{InvitationTotal, ProfileInvitation},
    loaders::{Batch, Children, Page, Relation},
    membership::ProfileRole,
    plain::{Plain, PlainConnection, PlainFields, PlainList},
    profile::Profile,
    state,
    user::User,
};
use crate::{
    auth::guards::caller,
    config::Limits,
    error::{AppError, AppResult},
    store::{
        listing::{self, Filter, Link, Listed, PageArgs, Position, Sort, SortKey, SortValue},
        visibility::Scoped,
    },
};

/// The lists that hand out cursors; a cursor is only valid in the list and order that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    Users,
    Profiles,
    UserProfiles,
    ProfileUsers,
    UserInvitations,
    ProfileInvitations,
}

impl ListKind {
    fn tag(self) -> &'static str {
        match self {
            ListKind::Users => "users",
            ListKind::Profiles => "profiles",
            ListKind::UserProfiles => "User.profiles",
            ListKind::ProfileUsers => "Profile.users",
            ListKind::UserInvitations => "User.invitations",
            ListKind::ProfileInvitations => "Profile.invitations",
        }
    }
}

/// An opaque position in a list: the list, its order, and the sort value and key of the item.
#[derive(Clone, Debug)]
pub struct Cursor {
    list: ListKind,
    sort: Sort,
    position: Position,
}

fn order_tag(sort: Sort) -> String {
    format!(
        "{:?}_{}",
        sort.key,
        if sort.descending { "DESC" } else { "ASC" }
    )
}

impl CursorType for Cursor {
    type Error = AppError;

    fn decode_cursor(_: &str) -> Result<Self, AppError> {
        // Decoding needs to know the list and its order; see `decode_position`.
        Err(AppError::Internal)
    }

    fn encode_cursor(&self) -> String {
        let value = match &self.position.value {
            SortValue::Null => Value::Null,
            SortValue::Int(value) => json!(value),
            SortValue::Text(value) => json!(value),
            SortValue::Time(value) => json!(value.to_rfc3339()),
        };
        let payload = json!([
            self.list.tag(),
            order_tag(self.sort),
            value,
            self.position.id
        ]);
        URL_SAFE_NO_PAD.encode(payload.to_string())
    }
}

/// The position a cursor of `list` in order `sort` points at; any other cursor is refused.
fn decode_position(list: ListKind, sort: Sort, argument: &str, text: &str) -> AppResult<Position> {
    let invalid = || {
        AppError::bad_input(format!(
            "`{argument}` is not a cursor of this list in this order"
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    let (tag, order, value, id): (String, String, Value, i64) =
        serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if tag != list.tag() || order != order_tag(sort) {
        return Err(invalid());
    }
    let value = match (sort.key, value) {
        (SortKey::Id, Value::Null) | (SortKey::LastLoginAt, Value::Null) => SortValue::Null,
        (SortKey::Email | SortKey::Name, Value::String(text)) => SortValue::Text(text),
        (SortKey::Role, Value::Number(number)) => {
            SortValue::Int(number.as_i64().ok_or_else(invalid)?)
        }
        (
            SortKey::CreatedAt | SortKey::UpdatedAt | SortKey::LinkedAt | SortKey::LastLoginAt,
            Value::String(text),
        ) => SortValue::Time(
            DateTime::parse_from_rfc3339(&text)
                .map_err(|_| invalid())?
                .with_timezone(&Utc),
        ),
        _ => return Err(invalid()),
    };
    Ok(Position { value, id })
}

/// The paging arguments every list takes.
pub struct Paging {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl Paging {
    /// Validates the paging of `list` in order `sort` into the page to read; pages hold at most
    /// `max` items, and `max` when the size is not given. `links`: read the links too.
    fn args(
        self,
        list: ListKind,
        sort: Sort,
        filter: Filter,
        max: i32,
        links: bool,
    ) -> AppResult<PageArgs> {
        let window = self.window(list, sort, max)?;
        Ok(PageArgs {
            sort,
            filter,
            after: window.after,
            before: window.before,
            limit: window.limit,
            backward: window.backward,
            links,
        })
    }

    /// Validates the paging of `list` in order `sort` into the window to read; pages hold at
    /// most `max` items, and `max` when the size is not given.
    pub fn window(self, list: ListKind, sort: Sort, max: i32) -> AppResult<Window> {
        let size = |name: &str, value: Option<i32>| -> AppResult<Option<u64>> {
            match value {
                Some(value) if !(0..=max).contains(&value) => Err(AppError::bad_input(format!(
                    "`{name}` must be between 0 and {max}, got {value}"
                ))),
                value => Ok(value.map(|value| value.unsigned_abs().into())),
            }
        };
        let (first, last) = (size("first", self.first)?, size("last", self.last)?);
        if first.is_some() && last.is_some() {
            return Err(AppError::bad_input("give `first` or `last`, not both"));
        }
        let position = |argument: &str, cursor: Option<String>| {
            cursor
                .map(|text| decode_position(list, sort, argument, &text))
                .transpose()
        };
        Ok(Window {
            after: position("after", self.after)?,
            before: position("before", self.before)?,
            limit: first.or(last).unwrap_or(max.unsigned_abs().into()),
            backward: last.is_some(),
        })
    }

    /// The window of the list `list`, ordered by key alone.
    pub fn by_key(self, ctx: &Context<'_>, list: ListKind) -> async_graphql::Result<Window> {
        Ok(self.window(list, Sort::default(), page_max(ctx)?)?)
    }
}

/// Where a page of a list starts and ends, and its size.
#[derive(Clone, Debug)]
pub struct Window {
    pub after: Option<Position>,
    pub before: Option<Position>,
    /// How many items to return.
    pub limit: u64,
    /// The last `limit` items of the window instead of the first (`last`).
    pub backward: bool,
}

/// `hasPreviousPage` and `hasNextPage` of a page read `backward` (or not) between the cursors
/// given, which found more items than it holds (`more`), as every list of Roster says them.
pub fn page_info(backward: bool, after: bool, before: bool, more: bool) -> (bool, bool) {
    if backward {
        (more, before)
    } else {
        (after, more)
    }
}

impl Window {
    /// The cursor of the item with key `id` in `list`, ordered by key.
    pub fn cursor(list: ListKind, id: i64) -> Cursor {
        Cursor {
            list,
            sort: Sort::default(),
            position: Position {
                value: SortValue::Null,
                id,
            },
        }
    }
}

/// The largest page (`PAGE_MAX_SIZE`).
fn page_max(ctx: &Context<'_>) -> async_graphql::Result<i32> {
    Ok(ctx.data::<Limits>()?.page_max_size)
}

/// Where the total of a list comes from, counted only when `totalCount` is selected.
#[derive(Clone, Debug)]
pub enum Total {
    Users(Filter),
    Profiles(Filter),
    ProfilesOfUser(i64, Filter),
    UsersOfProfile(i64, Filter),
}

/// The connection fields beyond edges and page info: the page's nodes (answered in one pass
/// when their selection allows) and the size of the whole list.
pub struct ListFields<T: PlainFields> {
    pub(super) nodes: PlainList<T>,
    total: Total,
}

impl<T: PlainFields> TypeName for ListFields<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}ListFields", T::type_name()).into()
    }
}

#[Object(name_type)]
impl<T: PlainFields> ListFields<T> {
    /// A list of nodes.
    async fn nodes(&self) -> &PlainList<T> {
        &self.nodes
    }

    /// The number of items in the whole list (with its filter), across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        Ok(Batch::total(ctx, self.total.clone()).await?)
    }
}

/// The fields of the link between a user and a profile, carried by the edges that cross it;
/// the link is read only when the query selects one of them (`None` otherwise).
pub struct LinkFields(Option<Link>);

impl LinkFields {
    fn link(&self) -> AppResult<&Link> {
        self.0.as_ref().ok_or(AppError::Internal)
    }
}

#[Object]
impl LinkFields {
    /// The user's role on the profile.
    async fn role(&self) -> AppResult<ProfileRole> {
        Ok(self.link()?.role.into())
    }

    /// When the user became a manager of the profile.
    async fn linked_at(&self) -> AppResult<DateTime<Utc>> {
        Ok(self.link()?.linked_at)
    }
}

/// Whether the edges of the list `list` looks ahead into select a field of the link.
fn selects_link(list: &Lookahead<'_>) -> bool {
    let edges = list.field("edges");
    edges.field("role").exists() || edges.field("linkedAt").exists()
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

names!(
    ProfileInvitationConnectionName = "ProfileInvitationConnection",
    ProfileInvitationEdgeName = "ProfileInvitationEdge"
);

pub type ProfileInvitationConnection = Connection<
    Cursor,
    ProfileInvitation,
    InvitationTotal,
    EmptyFields,
    ProfileInvitationConnectionName,
    ProfileInvitationEdgeName,
>;
pub type UserConnection = PlainConnection<User, EmptyFields, UserConnectionName, UserEdgeName>;
pub type ProfileConnection =
    PlainConnection<Profile, EmptyFields, ProfileConnectionName, ProfileEdgeName>;
pub type UserProfileConnection =
    PlainConnection<Profile, LinkFields, UserProfileConnectionName, UserProfileEdgeName>;
pub type ProfileUserConnection =
    PlainConnection<User, LinkFields, ProfileUserConnectionName, ProfileUserEdgeName>;

/// An object that lists hold: a wrapper of the card of an entity's row.
pub trait ListItem: PlainFields<Card = <Self::Entity as Scoped>::Card> {
    type Entity: Scoped;
}

/// What a list is: its kind, its order and filter, and where its total comes from.
pub struct List {
    pub kind: ListKind,
    pub sort: Sort,
    pub filter: Filter,
    pub total: Total,
}

/// Resolves a top-level list of `N`s.
pub async fn top_level<N, C, EN>(
    ctx: &Context<'_>,
    list: List,
    paging: Paging,
) -> async_graphql::Result<PlainConnection<N, EmptyFields, C, EN>>
where
    N: ListItem,
    C: ConnectionNameType,
    EN: EdgeNameType,
{
    let args = paging.args(list.kind, list.sort, list.filter, page_max(ctx)?, false)?;
    let scope = caller(ctx).await?.scope();
    let rows = listing::page::<N::Entity>(&state(ctx)?.conn(), &scope, &args)
        .await
        .map_err(AppError::from)?;
    Ok(connect(
        ctx,
        list.kind,
        list.total,
        &args,
        Arc::new(rows),
        |_| EmptyFields,
    ))
}

/// The page a list's arguments ask for, with the links when `links`.
pub fn page_args(
    ctx: &Context<'_>,
    list: &List,
    paging: Paging,
    links: bool,
) -> async_graphql::Result<PageArgs> {
    Ok(paging.args(
        list.kind,
        list.sort,
        list.filter.clone(),
        page_max(ctx)?,
        links,
    )?)
}

/// A page read in the statement that read its parent, with the arguments it was read for.
pub struct ReadAhead<R: Relation>(Option<Arc<(PageArgs, Children<R>)>>);

impl<R: Relation> ReadAhead<R> {
    pub fn new(args: PageArgs, rows: Children<R>) -> Self {
        ReadAhead(Some(Arc::new((args, rows))))
    }

    /// The rows read ahead, when they were read for `args`.
    fn rows_for(&self, args: &PageArgs) -> Option<Children<R>> {
        let (read_for, rows) = self.0.as_deref()?;
        (read_for == args).then(|| rows.clone())
    }
}

impl<R: Relation> Default for ReadAhead<R> {
    fn default() -> Self {
        ReadAhead(None)
    }
}

impl<R: Relation> Clone for ReadAhead<R> {
    fn clone(&self) -> Self {
        ReadAhead(self.0.clone())
    }
}

impl<R: Relation> std::fmt::Debug for ReadAhead<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ReadAhead").field(&self.0.is_some()).finish()
    }
}

/// A nested list as the field above it sees it: its arguments, and whether its link is read.
pub struct ListAhead<O, F> {
    pub order_by: Option<O>,
    pub filter: Option<F>,
    pub paging: Paging,
    pub links: bool,
}

/// The arguments of list `name` under the field being resolved — its order, its filter and its
/// paging — when the list is selected exactly once (a list selected twice under aliases is read
/// the usual way) and its arguments parse (otherwise the list's resolver reports them).
pub fn list_arguments_ahead<O: InputType, F: InputType>(
    ctx: &Context<'_>,
    name: &str,
) -> Option<ListAhead<O, F>> {
    let fields = ctx.look_ahead().field(name).selection_fields();
    let [field] = fields.as_slice() else {
        return None;
    };
    let links = selects_link(&Lookahead::from(*field));
    let arguments = field.arguments().ok()?;
    /// Argument `name` as a `T`: `None` when it is not one.
    fn parse<T: InputType>(arguments: &[(Name, ConstValue)], name: &str) -> Option<T> {
        let value = arguments.iter().find(|(found, _)| found.as_str() == name);
        T::parse(value.map(|(_, value)| value.clone())).ok()
    }
    let paging = Paging {
        first: parse(&arguments, "first")?,
        after: parse(&arguments, "after")?,
        last: parse(&arguments, "last")?,
        before: parse(&arguments, "before")?,
    };
    Some(ListAhead {
        order_by: parse(&arguments, "orderBy")?,
        filter: parse(&arguments, "filter")?,
        paging,
        links,
    })
}

/// Resolves a nested list: one page of `parent`'s children along `R`, read ahead with the
/// parent or loaded in one batch with the pages of the other parents of its level that ask
/// for the same arguments.
pub async fn nested<R, N, C, EN>(
    ctx: &Context<'_>,
    parent: i64,
    list: List,
    paging: Paging,
    ahead: &ReadAhead<R>,
) -> async_graphql::Result<PlainConnection<N, LinkFields, C, EN>>
where
    R: Relation<Child = N::Entity>,
    N: ListItem,
    C: ConnectionNameType,
    EN: EdgeNameType,
    Batch: Loader<Page<R>, Value = Children<R>, Error = AppError>,
{
    let args = Arc::new(page_args(
        ctx,
        &list,
        paging,
        selects_link(&ctx.look_ahead()),
    )?);
    let rows = match ahead.rows_for(&args) {
        Some(rows) => rows,
        None => Batch::of(ctx)?
            .load_one(Page::<R>::new(parent, args.clone()))
            .await?
            .unwrap_or_default(),
    };
    Ok(connect(ctx, list.kind, list.total, &args, rows, |row| {
        LinkFields(row.link.clone())
    }))
}

/// Builds a connection from the rows of a page in read order (reversed for `last`), at most
/// one more than the page holds. Its edges and nodes are made only when selected, and share
/// the rows.
fn connect<N, E, C, EN>(
    ctx: &Context<'_>,
    kind: ListKind,
    total: Total,
    args: &PageArgs,
    rows: Arc<Vec<Listed<N::Card>>>,
    edge_fields: fn(&Listed<N::Card>) -> E,
) -> PlainConnection<N, E, C, EN>
where
    N: PlainFields,
    E: async_graphql::ObjectType,
    C: ConnectionNameType,
    EN: EdgeNameType,
{
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    let shown = rows.len().min(limit);
    let (has_previous_page, has_next_page) = page_info(
        args.backward,
        args.after.is_some(),
        args.before.is_some(),
        more,
    );
    // The rows shown, in the page's order.
    let order = (0..shown).map(|index| {
        if args.backward {
            shown - 1 - index
        } else {
            index
        }
    });
    let selection = ctx.look_ahead();
    let nodes = if selection.field("nodes").exists() {
        order
            .clone()
            .map(|index| Plain::new(rows.clone(), index))
            .collect()
    } else {
        Vec::new()
    };
    // The page's cursors are read from its edges.
    let edges = if selection.field("edges").exists() || selection.field("pageInfo").exists() {
        order
            .map(|index| {
                let row = &rows[index];
                let cursor = Cursor {
                    list: kind,
                    sort: args.sort,
                    position: row.position.clone(),
                };
                Edge::with_additional_fields(
                    cursor,
                    Plain::new(rows.clone(), index),
                    edge_fields(row),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let fields = ListFields {
        nodes: PlainList(nodes),
        total,
    };
    let mut connection =
        Connection::with_additional_fields(has_previous_page, has_next_page, fields);
    connection.edges = edges;
    PlainConnection(connection)
}
