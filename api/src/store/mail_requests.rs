//! Requests that mail someone, by client address, kept for an hour: what limits how much mail one
//! address can make Roster send to others.

use entity::mail_request::{self, Column};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, Set, prelude::DateTimeUtc,
};

use super::now;

/// Records a request from `ip`, forgetting those from before `since`.
pub async fn record(
    conn: &impl ConnectionTrait,
    ip: &str,
    since: DateTimeUtc,
) -> Result<(), DbErr> {
    mail_request::Entity::delete_many()
        .filter(Column::At.lt(since))
        .exec(conn)
        .await?;
    mail_request::ActiveModel {
        ip: Set(ip.to_owned()),
        at: Set(now()),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map(drop)
}

/// How many requests came from `ip` since `since`.
pub async fn count_since(
    conn: &impl ConnectionTrait,
    ip: &str,
    since: DateTimeUtc,
) -> Result<u64, DbErr> {
    mail_request::Entity::find()
        .filter(Column::Ip.eq(ip))
        .filter(Column::At.gt(since))
        .count(conn)
        .await
}
