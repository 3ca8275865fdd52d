//! Lists of users and profiles, top-level or across the link: ordered, filtered and windowed by
//! keyset, every nested list of a level in one statement.
//!
//! A page is read by keyset on the sort key and the primary key (never OFFSET): `after` and
//! `before` are positions in the list's order, so a page stays stable while rows are added. A
//! nested list applies its window per parent inside one statement, for every parent of its
//! level: on PostgreSQL a LATERAL subquery per parent with a LIMIT, on SQLite
//! `ROW_NUMBER() OVER (PARTITION BY parent ORDER BY …)`.

use std::collections::HashMap;

use entity::{ProfileRole, folded, role, user_profile, user_role};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, IdenStatic, Iterable, QueryResult,
    Value,
    prelude::DateTimeUtc,
    sea_query::{
        Alias, Asterisk, Expr, ExprTrait, Func, JoinType, LikeExpr, Order, Query, SelectStatement,
        WindowStatement,
    },
};

use super::{
    cards::{self, CardCache, Cards},
    one_of,
    visibility::{Card, Scope, Scoped},
};

/// What a list can be ordered by. Which keys a list offers is decided by its GraphQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortKey {
    Id,
    Email,
    CreatedAt,
    LastLoginAt,
    Name,
    UpdatedAt,
    /// When the link was made (nested lists only).
    LinkedAt,
    /// The link's role, owners first (nested lists only).
    Role,
}

/// An ordering: a key, and its direction. Ties are broken by primary key, the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            key: SortKey::Id,
            descending: false,
        }
    }
}

/// The value of a row's sort key, as a cursor carries it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SortValue {
    Null,
    Int(i64),
    Text(String),
    Time(DateTimeUtc),
}

/// A place in a list: the sort value and primary key of a row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    pub value: SortValue,
    pub id: i64,
}

/// Which rows a list holds. Unset fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    pub email_contains: Option<String>,
    pub active: Option<bool>,
    /// Users holding the role of this name.
    pub account_role: Option<String>,
    pub name_contains: Option<String>,
    /// The link's role (nested lists only).
    pub link_role: Option<ProfileRole>,
    pub linked_after: Option<DateTimeUtc>,
    pub linked_before: Option<DateTimeUtc>,
}

/// One page of a list: its order, its filter, and the window to read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageArgs {
    pub sort: Sort,
    pub filter: Filter,
    pub after: Option<Position>,
    pub before: Option<Position>,
    /// How many rows to return; one more is read to tell whether the list goes on.
    pub limit: u64,
    /// Take the last `limit` rows of the window instead of the first (`last`/`before`).
    pub backward: bool,
    /// Read the link each row was reached through (nested lists whose link fields are
    /// selected); without it, a page of users of a profile reads the link index alone.
    pub links: bool,
}

/// Which way the user–profile relationship is walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From users to the profiles they manage.
    ProfilesOfUser,
    /// From profiles to the users who manage them.
    UsersOfProfile,
}

impl Direction {
    /// The link columns holding the parent's key and the child's key.
    fn columns(self) -> (user_profile::Column, user_profile::Column) {
        match self {
            Direction::ProfilesOfUser => (
                user_profile::Column::UserId,
                user_profile::Column::ProfileId,
            ),
            Direction::UsersOfProfile => (
                user_profile::Column::ProfileId,
                user_profile::Column::UserId,
            ),
        }
    }
}

/// The fields of the link a nested row was reached through.
#[derive(Clone, Debug)]
pub struct Link {
    pub role: ProfileRole,
    pub linked_at: DateTimeUtc,
}

/// A row of a list: the node, the link it was reached through (nested lists), its position.
#[derive(Clone, Debug)]
pub struct Listed<M> {
    pub node: M,
    pub link: Option<Link>,
    pub position: Position,
}

/// A column of the listed entity `E`.
fn column<E: Scoped>(name: &'static str) -> Expr {
    Expr::col((E::default(), Alias::new(name)))
}

fn link_column(column: user_profile::Column) -> Expr {
    Expr::col((user_profile::Entity, column))
}

impl SortKey {
    fn expr<E: Scoped>(self) -> Expr {
        match self {
            SortKey::Id => column::<E>("id"),
            // The folded keys (`entity::folded`), compared bytewise on both databases.
            SortKey::Email => column::<E>("email_key"),
            SortKey::Name => column::<E>("name_key"),
            SortKey::CreatedAt => column::<E>("created_at"),
            SortKey::UpdatedAt => column::<E>("updated_at"),
            SortKey::LastLoginAt => column::<E>("last_login_at"),
            SortKey::LinkedAt => link_column(user_profile::Column::CreatedAt),
            SortKey::Role => Expr::case(
                link_column(user_profile::Column::Role).eq(ProfileRole::Owner),
                Expr::cust("CAST(0 AS BIGINT)"),
            )
            .finally(Expr::cust("CAST(1 AS BIGINT)"))
            .into(),
        }
    }

    fn nullable(self) -> bool {
        self == SortKey::LastLoginAt
    }

    /// The sort value of a row, from its `sort_value` column, at `column`.
    fn read(self, row: &QueryResult, column: usize) -> Result<SortValue, DbErr> {
        Ok(match self {
            SortKey::Id => SortValue::Null,
            SortKey::Email | SortKey::Name => SortValue::Text(row.try_get_by_index(column)?),
            SortKey::Role => SortValue::Int(row.try_get_by_index(column)?),
            SortKey::CreatedAt | SortKey::UpdatedAt | SortKey::LinkedAt | SortKey::LastLoginAt => {
                match row.try_get_by_index::<Option<DateTimeUtc>>(column)? {
                    Some(time) => SortValue::Time(time),
                    None => SortValue::Null,
                }
            }
        })
    }
}

impl SortValue {
    fn bind(&self) -> Expr {
        match self {
            SortValue::Null => Expr::val(Value::BigInt(None)),
            SortValue::Int(value) => Expr::val(*value),
            SortValue::Text(value) => Expr::val(value.clone()),
            SortValue::Time(value) => Expr::val(*value),
        }
    }
}

/// Rows strictly beyond `position` in ascending (`greater`) or descending order of
/// (sort value, key), NULL sort values counting as the smallest.
fn beyond<E: Scoped>(key: SortKey, position: &Position, greater: bool) -> Expr {
    let id = column::<E>("id");
    let id_beyond = if greater {
        id.gt(position.id)
    } else {
        id.lt(position.id)
    };
    if key == SortKey::Id {
        return id_beyond;
    }
    let sort = key.expr::<E>();
    match (&position.value, greater) {
        (SortValue::Null, true) => sort.clone().is_null().and(id_beyond).or(sort.is_not_null()),
        (SortValue::Null, false) => sort.is_null().and(id_beyond),
        (value, greater) => {
            let value = value.bind();
            let strictly = if greater {
                sort.clone().gt(value.clone())
            } else {
                sort.clone().lt(value.clone())
            };
            let tied = sort.clone().eq(value).and(id_beyond);
            let beyond = strictly.or(tied);
            if !greater && key.nullable() {
                beyond.or(sort.is_null())
            } else {
                beyond
            }
        }
    }
}

/// The ORDER BY terms of a list of `E` read in `descending` order.
fn order_terms<E: Scoped>(key: SortKey, descending: bool) -> Vec<(Expr, Order)> {
    order_by(key, descending, key.expr::<E>(), column::<E>("id"))
}

/// The ORDER BY terms of the same order on the columns of the subquery `ranked`, which sort
/// PostgreSQL's nested pages outside their LATERAL subqueries.
fn ranked_order(key: SortKey, descending: bool) -> Vec<(Expr, Order)> {
    let ranked = |name: &str| Expr::col((Alias::new("ranked"), Alias::new(name)));
    order_by(key, descending, ranked("sort_value"), ranked("id"))
}

/// The ORDER BY terms of a list read by `key` in `descending` order, whose sort value is
/// `value` (unused when ordered by key alone) and whose key is `id`.
fn order_by(key: SortKey, descending: bool, value: Expr, id: Expr) -> Vec<(Expr, Order)> {
    let order = if descending { Order::Desc } else { Order::Asc };
    let mut terms = Vec::new();
    if key.nullable() {
        // NULL first ascending, last descending, the same on SQLite and PostgreSQL.
        let present = Expr::case(value.clone().is_null(), Expr::val(0)).finally(Expr::val(1));
        terms.push((present.into(), order.clone()));
    }
    if key != SortKey::Id {
        terms.push((value, order.clone()));
    }
    terms.push((id, order));
    terms
}

/// `key`, a folded column, contains `text` folded the same way (`entity::folded::fold`), with
/// `%`, `_` and `\` in `text` matched literally. Neither side holds an ASCII capital, which
/// SQLite's `LIKE` alone would match regardless of case.
fn contains(key: Expr, text: &str) -> Expr {
    let escaped = folded::fold(text)
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    key.like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

/// The conditions of `filter` on rows of `E` (and their link, in nested lists).
fn filter_conditions<E: Scoped>(filter: &Filter) -> Vec<Expr> {
    let mut conditions = Vec::new();
    if let Some(text) = &filter.email_contains {
        conditions.push(contains(column::<E>("email_key"), text));
    }
    if let Some(text) = &filter.name_contains {
        conditions.push(contains(column::<E>("name_key"), text));
    }
    if let Some(active) = filter.active {
        conditions.push(column::<E>("active").eq(active));
    }
    if let Some(name) = &filter.account_role {
        let holds = Query::select()
            .expr(Expr::val(1))
            .from(user_role::Entity)
            .join(
                JoinType::InnerJoin,
                role::Entity,
                Expr::col((role::Entity, role::Column::Id))
                    .equals((user_role::Entity, user_role::Column::RoleId)),
            )
            .and_where(
                Expr::col((user_role::Entity, user_role::Column::UserId))
                    .equals((E::default(), Alias::new("id"))),
            )
            .and_where(Expr::col((role::Entity, role::Column::Name)).eq(name.as_str()))
            .to_owned();
        conditions.push(Expr::exists(holds));
    }
    if let Some(role) = filter.link_role {
        conditions.push(link_column(user_profile::Column::Role).eq(role));
    }
    if let Some(after) = filter.linked_after {
        conditions.push(link_column(user_profile::Column::CreatedAt).gt(after));
    }
    if let Some(before) = filter.linked_before {
        conditions.push(link_column(user_profile::Column::CreatedAt).lt(before));
    }
    conditions
}

/// `SELECT` of the cards of `E` (`Card::COLUMNS`, under their plain names: no prefix to strip
/// when reading), more columns may follow.
fn select_cards<E: Scoped>() -> SelectStatement {
    let mut select = Query::select();
    for column in <E::Card as Card>::COLUMNS {
        select.expr(Expr::col((E::default(), *column)));
    }
    select.from(E::default());
    select
}

/// The columns, conditions and order of one page of `E` (without the parent restriction).
fn select_page<E: Scoped>(scope: &Scope, args: &PageArgs, visible_key: Expr) -> SelectStatement {
    let mut select = select_cards::<E>();
    // Ordered by key alone, a row's position is its key.
    if args.sort.key != SortKey::Id {
        select.expr_as(args.sort.key.expr::<E>(), Alias::new("sort_value"));
    }
    for condition in filter_conditions::<E>(&args.filter) {
        select.and_where(condition);
    }
    if let Some(visible) = scope.filter(E::KIND, visible_key) {
        select.and_where(visible);
    }
    if let Some(after) = &args.after {
        select.and_where(beyond::<E>(args.sort.key, after, !args.sort.descending));
    }
    if let Some(before) = &args.before {
        select.and_where(beyond::<E>(args.sort.key, before, args.sort.descending));
    }
    select
}

/// The direction rows are read in: reversed for `last`.
fn read_descending(args: &PageArgs) -> bool {
    args.sort.descending != args.backward
}

/// Where the columns of a listed row are, by position (rows are decoded by position: a page
/// of a nested list holds thousands, and a lookup by name hashes the name every time). In the
/// order `select_page` and `ranked` write them: the card's (`Card::COLUMNS`, the key first),
/// the sort value (not for id order); then, in nested rows, the parent's key and the link's
/// role and time (when read).
struct Columns {
    card: usize,
    sort_value: usize,
    parent_id: usize,
    link: usize,
}

impl Columns {
    /// The columns of a row of `E` read for `args`, the first at `first`.
    fn of<E: Scoped>(first: usize, args: &PageArgs) -> Self {
        let sort_value = first + <E::Card as Card>::COLUMNS.len();
        let parent_id = sort_value + usize::from(args.sort.key != SortKey::Id);
        Columns {
            card: first,
            sort_value,
            parent_id,
            link: parent_id + 1,
        }
    }
}

/// A row of a list, with the link it was reached through when `args` asks for it (nested
/// lists whose link fields are selected; top-level lists never do).
fn listed<E: Scoped>(
    row: &QueryResult,
    columns: &Columns,
    args: &PageArgs,
) -> Result<Listed<E::Card>, DbErr> {
    let link = if args.links {
        Some(Link {
            role: row.try_get_by_index(columns.link)?,
            linked_at: row.try_get_by_index(columns.link + 1)?,
        })
    } else {
        None
    };
    Ok(Listed {
        node: <E::Card as Card>::read(row, columns.card)?,
        link,
        position: Position {
            value: args.sort.key.read(row, columns.sort_value)?,
            id: row.try_get_by_index(columns.card)?,
        },
    })
}

/// One page of a top-level list of `E`, in read order (reversed for `last`), at most
/// `limit + 1` rows.
pub async fn page<E>(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    args: &PageArgs,
) -> Result<Vec<Listed<E::Card>>, DbErr>
where
    E: Scoped,
{
    let mut select = select_page::<E>(scope, args, column::<E>("id"));
    for (expr, order) in order_terms::<E>(args.sort.key, read_descending(args)) {
        select.order_by_expr(expr, order);
    }
    select.limit(args.limit + 1);
    let rows = conn.query_all(&select).await?;
    let columns = Columns::of::<E>(0, args);
    rows.iter()
        .map(|row| listed::<E>(row, &columns, args))
        .collect()
}

/// The rows of a page of `E` across the link. On SQLite, where the statement holds every
/// parent, ranked per parent by the page's order (`rn`); a PostgreSQL page is one parent's, in
/// a LATERAL subquery with a LIMIT, and sorted outside it by `ranked_order`.
fn ranked<E: Scoped>(
    backend: DatabaseBackend,
    scope: &Scope,
    direction: Direction,
    args: &PageArgs,
) -> SelectStatement {
    let (parent, child) = direction.columns();
    let mut ranked = select_page::<E>(scope, args, link_column(child));
    ranked.expr_as(link_column(parent), Alias::new("parent_id"));
    if args.links {
        ranked
            .expr_as(
                link_column(user_profile::Column::Role),
                Alias::new("link_role"),
            )
            .expr_as(
                link_column(user_profile::Column::CreatedAt),
                Alias::new("linked_at"),
            );
    }
    if backend != DatabaseBackend::Postgres {
        let mut window = WindowStatement::partition_by((user_profile::Entity, parent));
        for (expr, order) in order_terms::<E>(args.sort.key, read_descending(args)) {
            window.order_by_expr(expr, order);
        }
        ranked.expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new("rn"));
    }
    ranked.join(
        JoinType::InnerJoin,
        user_profile::Entity,
        column::<E>("id").equals((user_profile::Entity, child)),
    );
    ranked
}

/// One parent's page of `E` along `direction` (PostgreSQL), for a LATERAL join: `parent_key`
/// is the parent's key in the enclosing statement. One index-ordered scan that stops after
/// `limit + 1` rows: it costs the rows it returns, however many links the parent has.
fn lateral_page<E: Scoped>(
    scope: &Scope,
    direction: Direction,
    args: &PageArgs,
    parent_key: Expr,
) -> SelectStatement {
    let (parent, _) = direction.columns();
    let mut page = ranked::<E>(DatabaseBackend::Postgres, scope, direction, args);
    page.and_where(link_column(parent).eq(parent_key));
    for (expr, order) in order_terms::<E>(args.sort.key, read_descending(args)) {
        page.order_by_expr(expr, order);
    }
    page.limit(args.limit + 1);
    page
}

/// The pages of the children of every parent in `parents` along `direction`, in one
/// statement, each in read order and at most `limit + 1` rows.
pub async fn pages<E>(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    direction: Direction,
    parents: &[i64],
    args: &PageArgs,
    cards: &Cards,
) -> Result<HashMap<i64, Vec<Listed<E::Card>>>, DbErr>
where
    E: Scoped,
{
    let backend = conn.get_database_backend();
    if let Some(cache) = E::cached(cards)
        && backend == DatabaseBackend::Postgres
        && by_links_alone(args)
    {
        return cached_pages::<E>(conn, scope, direction, parents, args, cache).await;
    }
    let query = match backend {
        // Each parent's page through a LATERAL join: the plan does not depend on an estimate
        // of how many parents the array holds.
        DatabaseBackend::Postgres => per_parent(
            parents,
            lateral_page::<E>(scope, direction, args, parent_key()),
            args,
        ),
        _ => {
            let (parent, _) = direction.columns();
            let mut ranked = ranked::<E>(backend, scope, direction, args);
            ranked.and_where(one_of(backend, link_column(parent), parents));
            Query::select()
                .column(Asterisk)
                .from_subquery(ranked, Alias::new("ranked"))
                .and_where(Expr::col(Alias::new("rn")).lte(args.limit + 1))
                .order_by(Alias::new("parent_id"), Order::Asc)
                .order_by(Alias::new("rn"), Order::Asc)
                .to_owned()
        }
    };

    let mut pages: HashMap<i64, Vec<Listed<E::Card>>> = HashMap::with_capacity(parents.len());
    let page_rows = usize::try_from(args.limit + 1).unwrap_or(0);
    let columns = Columns::of::<E>(0, args);
    for row in conn.query_all(&query).await? {
        let parent_id: i64 = row.try_get_by_index(columns.parent_id)?;
        pages
            .entry(parent_id)
            .or_insert_with(|| Vec::with_capacity(page_rows))
            .push(listed::<E>(&row, &columns, args)?);
    }
    Ok(pages)
}

/// The key of the parent in a `per_parent` page.
fn parent_key() -> Expr {
    Expr::col((Alias::new("parent"), Alias::new("parent")))
}

/// The pages of every parent in `parents` (PostgreSQL): `page`, whose parent's key is
/// `parent_key()`, as a LATERAL subquery per parent; sorted by parent, then in the pages' order.
fn per_parent(parents: &[i64], page: SelectStatement, args: &PageArgs) -> SelectStatement {
    let mut select = Query::select();
    select
        .column((Alias::new("ranked"), Asterisk))
        .from_function(
            Func::cust("unnest").arg(Expr::val(parents.to_vec())),
            Alias::new("parent"),
        )
        .join_lateral(
            JoinType::InnerJoin,
            page,
            Alias::new("ranked"),
            Expr::val(true),
        )
        .order_by((Alias::new("ranked"), Alias::new("parent_id")), Order::Asc);
    for (expr, order) in ranked_order(args.sort.key, read_descending(args)) {
        select.order_by_expr(expr, order);
    }
    select
}

/// Whether a nested page can be read from the link index alone: in key order (which is the
/// index's), from the start, with nothing to filter on but who may see the rows.
fn by_links_alone(args: &PageArgs) -> bool {
    args.sort.key == SortKey::Id
        && !read_descending(args)
        && args.after.is_none()
        && args.before.is_none()
        && args.filter == Filter::default()
        && !args.links
}

/// One parent's page of keys of `E` along `direction` from the link index alone, in key order
/// (PostgreSQL, for an `ARRAY`): `parent_key` is the parent's key in the enclosing statement.
fn link_keys<E: Scoped>(
    scope: &Scope,
    direction: Direction,
    args: &PageArgs,
    parent_key: Expr,
) -> Expr {
    let (parent, child) = direction.columns();
    let mut page = Query::select();
    page.expr(link_column(child))
        .from(user_profile::Entity)
        .and_where(link_column(parent).eq(parent_key))
        .order_by_expr(link_column(child), Order::Asc)
        .limit(args.limit + 1);
    if let Some(visible) = scope.filter(E::KIND, link_column(child)) {
        page.and_where(visible);
    }
    Expr::cust_with_expr("ARRAY $1", page)
}

/// `pages` from the link index alone (PostgreSQL), the rows' cards taken from `cache`: one
/// statement for the keys of every parent's page — a row per parent, its keys in an array,
/// which PostgreSQL builds and the server decodes for a fraction of a row per key, and the card
/// epoch — and one more for the cards not kept.
async fn cached_pages<E: Scoped>(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    direction: Direction,
    parents: &[i64],
    args: &PageArgs,
    cache: &CardCache<E::Card>,
) -> Result<HashMap<i64, Vec<Listed<E::Card>>>, DbErr> {
    let query = Query::select()
        .expr(parent_key())
        .expr(link_keys::<E>(scope, direction, args, parent_key()))
        .expr(cards::epoch())
        .from_function(
            Func::cust("unnest").arg(Expr::val(parents.to_vec())),
            Alias::new("parent"),
        )
        .to_owned();
    let mut keys_of = Vec::with_capacity(parents.len());
    let mut epoch = None;
    for row in conn.query_all(&query).await? {
        keys_of.push((
            row.try_get_by_index::<i64>(0)?,
            row.try_get_by_index::<Vec<i64>>(1)?,
        ));
        epoch = Some(row.try_get_by_index::<i64>(2)?);
    }
    let keys: Vec<i64> = keys_of.iter().flat_map(|(_, keys)| keys).copied().collect();
    let mut cards = match epoch {
        Some(epoch) => cards_of::<E>(conn, &keys, cache, epoch).await?.into_iter(),
        None => Vec::new().into_iter(),
    };
    Ok(keys_of
        .into_iter()
        .map(|(parent_id, keys)| (parent_id, keyed_page(keys, &mut cards)))
        .collect())
}

/// The cards of `keys`, in their order, from `cache` when it is current for a statement that
/// read the card epoch `epoch`, the others read in one statement; `None` for a row deleted
/// meanwhile.
async fn cards_of<E: Scoped>(
    conn: &impl ConnectionTrait,
    keys: &[i64],
    cache: &CardCache<E::Card>,
    epoch: i64,
) -> Result<Vec<Option<E::Card>>, DbErr> {
    let (mut found, missing) = cache.get_many(keys, epoch);
    if !missing.is_empty() {
        let (read, read_at) = by_keys::<E>(conn, &missing).await?;
        for (card, key) in found.iter_mut().zip(keys) {
            if card.is_none() {
                *card = read.get(key).cloned();
            }
        }
        if let Some(read_at) = read_at {
            cache.put_many(read, read_at);
        }
    }
    Ok(found)
}

/// The page of the rows with keys `keys` (in key order), their cards the next of `cards`.
fn keyed_page<C>(keys: Vec<i64>, cards: &mut impl Iterator<Item = Option<C>>) -> Vec<Listed<C>> {
    let mut page = Vec::with_capacity(keys.len());
    for (id, card) in keys.into_iter().zip(cards) {
        // A row deleted after its link was read is left out.
        let Some(node) = card else { continue };
        page.push(Listed {
            node,
            link: None,
            position: Position {
                value: SortValue::Null,
                id,
            },
        });
    }
    page
}

/// The cards of the rows of `E` with keys `keys`, by key, and the card epoch they were read
/// at (`None` when no row was read).
async fn by_keys<E: Scoped>(
    conn: &impl ConnectionTrait,
    keys: &[i64],
) -> Result<(HashMap<i64, E::Card>, Option<i64>), DbErr> {
    let mut select = select_cards::<E>();
    select.expr(cards::epoch()).and_where(one_of(
        conn.get_database_backend(),
        column::<E>("id"),
        keys,
    ));
    let epoch_at = <E::Card as Card>::COLUMNS.len();
    let mut cards = HashMap::with_capacity(keys.len());
    let mut epoch = None;
    for row in conn.query_all(&select).await? {
        cards.insert(row.try_get_by_index(0)?, <E::Card as Card>::read(&row, 0)?);
        epoch = Some(row.try_get_by_index(epoch_at)?);
    }
    Ok((cards, epoch))
}

/// The row of `P` with key `key`, when the caller may see it, and its first page of `E`
/// along `direction`, in one statement (PostgreSQL): what a query for one object and a list
/// under it would otherwise read in two. A page that the link index alone can answer takes its
/// cards from `cards` when they are kept (as `pages` does).
pub async fn with_page<P, E>(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    direction: Direction,
    key: i64,
    args: &PageArgs,
    cards: &Cards,
) -> Result<Option<(P::Model, Vec<Listed<E::Card>>)>, DbErr>
where
    P: Scoped,
    E: Scoped,
{
    let parent = Alias::new("parent_row");
    let parent_key = Expr::col((parent.clone(), Alias::new("id")));
    let mut select = Query::select();
    for column in P::Column::iter() {
        select.expr_as(
            Expr::col((parent.clone(), column)),
            Alias::new(format!("{PARENT_PREFIX}{}", column.as_str())),
        );
    }
    select
        .from_as(P::default(), parent)
        .and_where(parent_key.clone().eq(key));
    if let Some(visible) = scope.filter(P::KIND, parent_key.clone()) {
        select.and_where(visible);
    }
    if let Some(cache) = E::cached(cards)
        && by_links_alone(args)
    {
        select
            .expr(link_keys::<E>(scope, direction, args, parent_key))
            .expr(cards::epoch());
        let Some(row) = conn.query_one(&select).await? else {
            return Ok(None);
        };
        let model = P::Model::from_query_result(&row, PARENT_PREFIX)?;
        let keys: Vec<i64> = row.try_get_by_index(P::Column::iter().count())?;
        let epoch: i64 = row.try_get_by_index(P::Column::iter().count() + 1)?;
        let mut cards = cards_of::<E>(conn, &keys, cache, epoch).await?.into_iter();
        return Ok(Some((model, keyed_page(keys, &mut cards))));
    }
    select
        .column((Alias::new("ranked"), Asterisk))
        .join_lateral(
            JoinType::LeftJoin,
            lateral_page::<E>(scope, direction, args, parent_key),
            Alias::new("ranked"),
            Expr::val(true),
        );
    for (expr, order) in ranked_order(args.sort.key, read_descending(args)) {
        select.order_by_expr(expr, order);
    }
    let rows = conn.query_all(&select).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let model = P::Model::from_query_result(first, PARENT_PREFIX)?;
    // The page's columns follow the parent's.
    let columns = Columns::of::<E>(P::Column::iter().count(), args);
    let mut page = Vec::with_capacity(rows.len());
    for row in &rows {
        // A parent without children is one row with no child.
        if row
            .try_get_by_index::<Option<i64>>(columns.parent_id)?
            .is_some()
        {
            page.push(listed::<E>(row, &columns, args)?);
        }
    }
    Ok(Some((model, page)))
}

/// The prefix of the parent's columns in `with_page`.
const PARENT_PREFIX: &str = "parent_row_";

/// How many rows of `E` the top-level list holds under `filter`.
pub async fn count<E: Scoped>(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    filter: &Filter,
) -> Result<u64, DbErr> {
    let mut select = Query::select();
    select
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("total"))
        .from(E::default());
    for condition in filter_conditions::<E>(filter) {
        select.and_where(condition);
    }
    if let Some(visible) = scope.filter(E::KIND, column::<E>("id")) {
        select.and_where(visible);
    }
    let row = conn.query_one(&select).await?;
    let total: i64 = row
        .map(|row| row.try_get("", "total"))
        .transpose()?
        .unwrap_or(0);
    Ok(total.unsigned_abs())
}

/// How many children every parent in `parents` has along `direction` under `filter`, in one
/// statement (parents without any are absent).
pub async fn counts<E: Scoped>(
    conn: &impl ConnectionTrait,
    scope: &Scope,
    direction: Direction,
    parents: &[i64],
    filter: &Filter,
) -> Result<HashMap<i64, u64>, DbErr> {
    let backend = conn.get_database_backend();
    let (parent, child) = direction.columns();
    let mut select = Query::select();
    select
        .expr_as(link_column(parent), Alias::new("parent_id"))
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("total"))
        .from(user_profile::Entity)
        .and_where(one_of(backend, link_column(parent), parents))
        .group_by_col((user_profile::Entity, parent));
    let conditions = filter_conditions::<E>(filter);
    // The child's own columns are only needed when the filter reads them.
    let reads_child = filter.email_contains.is_some()
        || filter.name_contains.is_some()
        || filter.active.is_some()
        || filter.account_role.is_some();
    if reads_child {
        select.join(
            JoinType::InnerJoin,
            E::default(),
            column::<E>("id").equals((user_profile::Entity, child)),
        );
    }
    for condition in conditions {
        select.and_where(condition);
    }
    if let Some(visible) = scope.filter(E::KIND, link_column(child)) {
        select.and_where(visible);
    }
    let mut counts = HashMap::new();
    for row in conn.query_all(&select).await? {
        let total: i64 = row.try_get("", "total")?;
        counts.insert(row.try_get("", "parent_id")?, total.unsigned_abs());
    }
    Ok(counts)
}
