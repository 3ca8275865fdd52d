//! Invitations to manage a profile: sending (or renewing), deciding, and the pages of pending
//! ones, of one invitee or of many profiles in one statement. An expired invitation is as if
//! it were not there; the inviter's expired ones are forgotten when they send another.

use entity::{
    ProfileRole, profile,
    profile_invitation::{self, Column, Model},
    user, user_profile,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryResult, QuerySelect, QueryTrait, Set,
    prelude::DateTimeUtc,
    sea_query::{
        Alias, Asterisk, Expr, ExprTrait, LockType, OnConflict, Order, Query, SelectStatement,
    },
};

use super::{now, one_of};
use crate::{
    db::WriteTx,
    events::{Event, InvitationChange},
};

/// An invitation about to be sent.
pub struct NewInvitation<'a> {
    pub profile_id: i64,
    pub inviter_id: i64,
    pub email: &'a str,
    /// `auth::email::digest` of the address.
    pub invitee: &'a str,
    pub role: ProfileRole,
    pub expires_at: DateTimeUtc,
    /// The digest of the token of the mailed link.
    pub token_digest: String,
}

/// Sends the invitation, or renews the one pending for the same address and profile (its role,
/// inviter and expiry become these), and announces it with the transaction.
pub async fn send(tx: &mut WriteTx<'_>, new: NewInvitation<'_>) -> Result<Model, DbErr> {
    let at = now();
    let insert = profile_invitation::Entity::insert(profile_invitation::ActiveModel {
        profile_id: Set(new.profile_id),
        inviter_id: Set(new.inviter_id),
        email: Set(new.email.to_owned()),
        invitee: Set(new.invitee.to_owned()),
        role: Set(new.role),
        created_at: Set(at),
        expires_at: Set(new.expires_at),
        token_digest: Set(Some(new.token_digest)),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([Column::ProfileId, Column::Invitee])
            .update_columns([
                Column::InviterId,
                Column::Email,
                Column::Role,
                Column::CreatedAt,
                Column::ExpiresAt,
                Column::TokenDigest,
            ])
            .to_owned(),
    )
    .into_query()
    .returning_all()
    .to_owned();
    let row = tx
        .query_one(&insert)
        .await?
        .ok_or_else(|| DbErr::RecordNotInserted)?;
    let sent = Model::from_query_result(&row, "")?;
    tx.publish(Event::invitation(InvitationChange::Sent, &sent))
        .await?;
    Ok(sent)
}

/// Removes the invitation when it is still there, announcing `change` with the transaction:
/// whether it was.
pub async fn remove(
    tx: &mut WriteTx<'_>,
    invitation: &Model,
    change: InvitationChange,
) -> Result<bool, DbErr> {
    let delete = profile_invitation::Entity::delete_many()
        .filter(Column::Id.eq(invitation.id))
        .into_query()
        .returning_col(Column::Id)
        .to_owned();
    let event = Event::invitation(change, invitation);
    Ok(tx.write_and_publish(&delete, event).await?.is_some())
}

/// A pending invitation, with what its invitee is shown of its profile and inviter.
#[derive(Clone, Debug)]
pub struct Pending {
    pub invitation: Model,
    pub profile_name: String,
    pub inviter_email: String,
}

/// The invitation, when it is pending.
pub async fn pending(conn: &impl ConnectionTrait, id: i64) -> Result<Option<Pending>, DbErr> {
    let select = listed(conn.get_database_backend(), Of::One(id));
    conn.query_one(&select)
        .await?
        .map(|row| read(&row))
        .transpose()
}

/// The invitation of `profile` to `invitee`, pending or expired.
pub async fn of_invitee(
    conn: &impl ConnectionTrait,
    profile: i64,
    invitee: &str,
) -> Result<Option<Model>, DbErr> {
    profile_invitation::Entity::find()
        .filter(Column::ProfileId.eq(profile))
        .filter(Column::Invitee.eq(invitee))
        .one(conn)
        .await
}

/// Whether a pending invitation of `invitee` has the link whose token's digest is
/// `token_digest`.
pub async fn token_invites(
    conn: &impl ConnectionTrait,
    token_digest: &str,
    invitee: &str,
) -> Result<bool, DbErr> {
    let found = profile_invitation::Entity::find()
        .filter(Column::TokenDigest.eq(token_digest))
        .filter(Column::Invitee.eq(invitee))
        .filter(Column::ExpiresAt.gt(now()))
        .count(conn)
        .await?;
    Ok(found > 0)
}

/// Locks the inviter's row until the transaction ends (PostgreSQL; SQLite's writers are
/// serialized), so that their invitations are counted and sent one request at a time.
pub async fn lock_inviter(conn: &impl ConnectionTrait, inviter: i64) -> Result<(), DbErr> {
    user::Entity::find_by_id(inviter)
        .select_only()
        .column(user::Column::Id)
        .lock(LockType::NoKeyUpdate)
        .into_tuple::<i64>()
        .one(conn)
        .await?;
    Ok(())
}

/// Forgets the inviter's expired invitations and counts their pending ones, but for the one
/// of `profile` to `invitee` (which sending it again renews, not adds).
pub async fn pending_of_inviter(
    conn: &impl ConnectionTrait,
    inviter: i64,
    profile: i64,
    invitee: &str,
) -> Result<u64, DbErr> {
    let at = now();
    profile_invitation::Entity::delete_many()
        .filter(Column::InviterId.eq(inviter))
        .filter(Column::ExpiresAt.lte(at))
        .exec(conn)
        .await?;
    let renewed = Column::ProfileId
        .eq(profile)
        .and(Column::Invitee.eq(invitee));
    profile_invitation::Entity::find()
        .filter(Column::InviterId.eq(inviter))
        .filter(renewed.not())
        .count(conn)
        .await
}

/// Whose pending invitations a page lists.
#[derive(Clone, Copy, Debug)]
pub enum Of<'a> {
    /// Those sent to one address (its `auth::email::digest`).
    Invitee(&'a str),
    /// Those of each of these profiles, a page per profile.
    Profiles(&'a [i64]),
    /// The one with this key.
    One(i64),
}

/// A window of a list ordered by key: after `after`, before `before`, the first `take` (or,
/// `backward`, the last `take`, given last first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub take: u64,
    pub backward: bool,
}

/// The pending invitations of `of` in `window`, in one statement.
pub async fn page(
    conn: &impl ConnectionTrait,
    of: Of<'_>,
    window: Window,
) -> Result<Vec<Pending>, DbErr> {
    let order = if window.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut select = listed(conn.get_database_backend(), of);
    if let Some(after) = window.after {
        select.and_where(col(Column::Id).gt(after));
    }
    if let Some(before) = window.before {
        select.and_where(col(Column::Id).lt(before));
    }
    let statement = match of {
        Of::Invitee(_) | Of::One(_) => select
            .order_by((profile_invitation::Entity, Column::Id), order)
            .limit(window.take)
            .to_owned(),
        Of::Profiles(_) => {
            let direction = if window.backward { "DESC" } else { "ASC" };
            let numbered = select
                .expr_as(
                    Expr::cust(format!(
                        r#"ROW_NUMBER() OVER (PARTITION BY "profile_invitation"."profile_id" ORDER BY "profile_invitation"."id" {direction})"#
                    )),
                    Alias::new("place"),
                )
                .to_owned();
            let page = Alias::new("page");
            Query::select()
                .column(Asterisk)
                .from_subquery(numbered, page.clone())
                .and_where(Expr::col((page.clone(), Alias::new("place"))).lte(window.take))
                .order_by((page.clone(), Column::ProfileId), Order::Asc)
                .order_by((page, Column::Id), order)
                .to_owned()
        }
    };
    conn.query_all(&statement).await?.iter().map(read).collect()
}

/// How many invitations of `of` are pending, by profile (or under `0` for an invitee's).
pub async fn counts(conn: &impl ConnectionTrait, of: Of<'_>) -> Result<Vec<(i64, i64)>, DbErr> {
    let mut select = Query::select();
    select.from(profile_invitation::Entity);
    pending_where(&mut select, conn.get_database_backend(), of);
    let count = col(Column::Id).count();
    match of {
        Of::Profiles(_) => {
            select
                .column(Column::ProfileId)
                .expr(count)
                .group_by_col(Column::ProfileId);
        }
        Of::Invitee(_) | Of::One(_) => {
            select.expr(Expr::val(0i64)).expr(count);
        }
    }
    let rows = conn.query_all(&select).await?;
    rows.iter()
        .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .collect()
}

/// Of these profiles, those `user_id` owns.
pub async fn owned(
    conn: &impl ConnectionTrait,
    user_id: i64,
    profiles: &[i64],
) -> Result<Vec<i64>, DbErr> {
    let backend = conn.get_database_backend();
    user_profile::Entity::find()
        .select_only()
        .column(user_profile::Column::ProfileId)
        .filter(user_profile::Column::UserId.eq(user_id))
        .filter(user_profile::Column::Role.eq(ProfileRole::Owner))
        .filter(one_of(
            backend,
            Expr::col(user_profile::Column::ProfileId),
            profiles,
        ))
        .into_tuple()
        .all(conn)
        .await
}

/// The pending invitations of `of` with their profile's name and inviter's email.
fn listed(backend: DatabaseBackend, of: Of<'_>) -> SelectStatement {
    let mut select = Query::select();
    select
        .column((profile_invitation::Entity, Asterisk))
        .expr_as(
            Expr::col((profile::Entity, profile::Column::Name)),
            Alias::new("profile_name"),
        )
        .expr_as(
            Expr::col((user::Entity, user::Column::Email)),
            Alias::new("inviter_email"),
        )
        .from(profile_invitation::Entity)
        .inner_join(
            profile::Entity,
            Expr::col((profile::Entity, profile::Column::Id)).equals(col_ref(Column::ProfileId)),
        )
        .inner_join(
            user::Entity,
            Expr::col((user::Entity, user::Column::Id)).equals(col_ref(Column::InviterId)),
        );
    pending_where(&mut select, backend, of);
    select
}

fn pending_where(select: &mut SelectStatement, backend: DatabaseBackend, of: Of<'_>) {
    select.and_where(col(Column::ExpiresAt).gt(now()));
    select.and_where(match of {
        Of::Invitee(invitee) => col(Column::Invitee).eq(invitee),
        Of::Profiles(profiles) => one_of(backend, col(Column::ProfileId), profiles),
        Of::One(id) => col(Column::Id).eq(id),
    });
}

fn col_ref(column: Column) -> (profile_invitation::Entity, Column) {
    (profile_invitation::Entity, column)
}

fn col(column: Column) -> Expr {
    Expr::col(col_ref(column))
}

fn read(row: &QueryResult) -> Result<Pending, DbErr> {
    Ok(Pending {
        invitation: Model::from_query_result(row, "")?,
        profile_name: row.try_get("", "profile_name")?,
        inviter_email: row.try_get("", "inviter_email")?,
    })
}
