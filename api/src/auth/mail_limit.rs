//! How much mail one client address can make Roster send to the addresses it names: requests
//! that mail someone are counted per client address over an hour, in the request's transaction.

use chrono::TimeDelta;
use sea_orm::ConnectionTrait;

use super::Accounts;
use crate::{
    error::{AppError, AppResult},
    store::{mail_requests, now},
};

/// The window requests are counted in.
const WINDOW: TimeDelta = TimeDelta::hours(1);

impl Accounts {
    /// Counts a request from `ip` that may mail someone, or refuses it with `RATE_LIMITED` when
    /// the address made `MAIL_IP_MAX_PER_HOUR` within the hour.
    pub(super) async fn admit_mail_request(
        &self,
        conn: &impl ConnectionTrait,
        ip: &str,
    ) -> AppResult<()> {
        let since = now() - WINDOW;
        if mail_requests::count_since(conn, ip, since).await? >= self.config.mail_ip_max_per_hour {
            return Err(AppError::rate_limited(
                "too many requests that send mail came from this address; try again later",
                WINDOW.num_seconds().unsigned_abs(),
            ));
        }
        Ok(mail_requests::record(conn, ip, since).await?)
    }
}
