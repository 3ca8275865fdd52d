//! Login attempts: recorded before a password is checked (so concurrent attempts count at
//! once), forgotten when the password was right, and counted over the lockout window per
//! (account, address), per account and per address. An account is named by the digest
//! (`auth::tokens::digest`) of its email's key (`auth::email::key`), whether or not it exists.

use entity::login_attempt::{self, Column};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    prelude::DateTimeUtc,
    sea_query::{Alias, Expr, ExprTrait, Func, Query},
};

use super::now;

/// Records an attempt on `account` from `ip`; its id.
pub async fn record(conn: &impl ConnectionTrait, account: &str, ip: &str) -> Result<i64, DbErr> {
    let attempt = login_attempt::ActiveModel {
        account: Set(account.to_owned()),
        ip: Set(ip.to_owned()),
        at: Set(now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(attempt.id)
}

/// Attempts since some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// On the account from the address.
    pub pair: u64,
    /// On the account, from any address.
    pub account: u64,
    /// From the address, on any account.
    pub address: u64,
}

/// The attempts since `since` on `account` and from `ip`, in one statement.
pub async fn counts(
    conn: &impl ConnectionTrait,
    account: &str,
    ip: &str,
    since: DateTimeUtc,
) -> Result<Counts, DbErr> {
    let on_account = || Expr::col(Column::Account).eq(account);
    let from_ip = || Expr::col(Column::Ip).eq(ip);
    let count = |condition: Expr| {
        let one_if = Expr::case(condition, 1).finally(0);
        Func::coalesce([Func::sum(one_if).into(), Expr::val(0)])
    };
    let statement = Query::select()
        .expr_as(count(on_account().and(from_ip())), Alias::new("pair"))
        .expr_as(count(on_account()), Alias::new("account"))
        .expr_as(count(from_ip()), Alias::new("address"))
        .from(login_attempt::Entity)
        .and_where(Expr::col(Column::At).gt(since))
        .and_where(on_account().or(from_ip()))
        .to_owned();
    let row = conn.query_one(&statement).await?;
    let get = |name: &str| -> Result<u64, DbErr> {
        let count = match &row {
            Some(row) => row.try_get::<i64>("", name)?,
            None => 0,
        };
        Ok(u64::try_from(count).unwrap_or(0))
    };
    Ok(Counts {
        pair: get("pair")?,
        account: get("account")?,
        address: get("address")?,
    })
}

/// Forgets one attempt: its password was right, or it was refused unchecked.
pub async fn forget(conn: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    login_attempt::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// After a successful login: forgets the failures on `account` from `ip`, and every attempt
/// from before `before` (out of the window).
pub async fn forget_pair(
    conn: &impl ConnectionTrait,
    account: &str,
    ip: &str,
    before: DateTimeUtc,
) -> Result<(), DbErr> {
    login_attempt::Entity::delete_many()
        .filter(
            Column::Account
                .eq(account)
                .and(Column::Ip.eq(ip))
                .or(Column::At.lt(before)),
        )
        .exec(conn)
        .await?;
    Ok(())
}
