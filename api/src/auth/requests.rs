//! Requests for mail about an address (a reset link, a new confirmation link) are queued, and
//! the mail sender answers them: a request is the same work whatever the address (normalize it,
//! count it against the client address, queue it, commit), so neither its answer nor its time
//! tells whether the address has an account. Whether it has one is looked at when the request
//! is answered, apart from any client.

use super::{Accounts, email, recovery::PASSWORD_RESET, registration::CONFIRM_EMAIL};
use crate::{db::Db, error::AppResult, events::Event, store::account_requests};

/// Requests answered in one transaction.
const BATCH: u64 = 16;

impl Accounts {
    /// Queues a request of `kind` about `email` from `ip`, and wakes the senders.
    pub(super) async fn queue_request(
        &self,
        db: &Db,
        kind: &str,
        email: &str,
        ip: &str,
    ) -> AppResult<()> {
        let email = email::normalize(email)?;
        let mut tx = db.begin_write().await?;
        self.admit_mail_request(&*tx, ip).await?;
        account_requests::queue(&*tx, kind, &email.address).await?;
        tx.publish(Event::Mail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Answers the queued requests, a batch in one transaction: how many it took. Run by every
    /// replica's mail sender; PostgreSQL hands each request to one.
    pub async fn answer_requests(&self, db: &Db) -> AppResult<usize> {
        let mut tx = db.begin_write().await?;
        let requests = account_requests::take(&*tx, BATCH).await?;
        for request in &requests {
            match request.kind.as_str() {
                PASSWORD_RESET => self.mail_reset_link(&mut tx, &request.email).await?,
                CONFIRM_EMAIL => self.resend_link(&mut tx, &request.email).await?,
                kind => tracing::error!(kind, "dropped a queued request of an unknown kind"),
            }
        }
        tx.commit().await?;
        Ok(requests.len())
    }
}
