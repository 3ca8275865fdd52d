//! The sender: answers the queued requests for mail about an address (`auth::requests`), then
//! takes the messages due from the outbox, a few at a time, and delivers them. A
//! message is claimed for `CLAIM` before it is sent, so with several replicas each is sent by
//! one; a failed delivery is tried again later, each time twice as late (up to an hour), and
//! is never dropped. Failures are logged (never the message's text: it carries tokens) and
//! counted in `/metrics`.

use std::time::Duration;

use chrono::TimeDelta;
use lettre::message::{Mailbox, MultiPart};
use tokio::sync::watch;

use tokio::sync::broadcast::error::RecvError;

use super::Mail;
use crate::{auth::Accounts, db::Db, events::Event, metrics::Metrics, store::outbox};

/// How long a sender holds the messages it claimed before another may take them.
const CLAIM: TimeDelta = TimeDelta::seconds(60);
/// The longest a sender sleeps: until the next message is due (a retry, or a claim that
/// lapsed), at most this; a new message wakes it at once.
const LONGEST_SLEEP: Duration = Duration::from_secs(60);
/// Messages taken at once.
const BATCH: u64 = 16;

/// Answers the queued requests and delivers the outbox's messages until `stopping` turns true.
pub async fn run(
    db: Db,
    accounts: Accounts,
    metrics: Metrics,
    mut stopping: watch::Receiver<bool>,
) {
    let mut events = db.events().subscribe();
    let mail = accounts.mail().clone();
    loop {
        let answered = match accounts.answer_requests(&db).await {
            Ok(answered) => answered,
            Err(err) => {
                tracing::warn!(error = %err, "could not answer the queued requests for mail");
                0
            }
        };
        let sleep = match deliver_due(&db, &mail, &metrics).await {
            Ok(0) if answered == 0 => until_next_due(&db).await,
            Ok(_) => continue,
            Err(()) => Duration::from_secs(1),
        };
        let poll = tokio::time::sleep(sleep);
        tokio::pin!(poll);
        loop {
            tokio::select! {
                () = &mut poll => break,
                _ = stopping.wait_for(|stopping| *stopping) => return,
                event = events.recv() => match event {
                    Ok(Event::Mail | Event::Missed) | Err(RecvError::Lagged(_)) => break,
                    Ok(_) => {}
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }
}

/// How long to sleep until the next message is due, at most `LONGEST_SLEEP`.
async fn until_next_due(db: &Db) -> Duration {
    match outbox::next_due(db.pool()).await {
        Ok(Some(at)) => (at - crate::store::now())
            .to_std()
            .unwrap_or_default()
            .min(LONGEST_SLEEP),
        Ok(None) => LONGEST_SLEEP,
        Err(_) => Duration::from_secs(1),
    }
}

/// Delivers the messages due now; how many it took. The outbox is written in the writers'
/// turn (SQLite has one writer), and only when a read found a message due.
async fn deliver_due(db: &Db, mail: &Mail, metrics: &Metrics) -> Result<usize, ()> {
    let claimed = async {
        let due = outbox::next_due(db.pool()).await?;
        if due.is_none_or(|at| at > crate::store::now()) {
            return Ok(Vec::new());
        }
        let tx = db.begin_write().await?;
        let claimed = outbox::claim(&*tx, BATCH, crate::store::now() + CLAIM).await?;
        tx.commit().await?;
        Ok::<_, sea_orm::DbErr>(claimed)
    };
    let claimed = match claimed.await {
        Ok(claimed) => claimed,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the mail outbox");
            return Err(());
        }
    };
    for message in &claimed {
        let sent = match build(mail.from(), message) {
            Ok(built) => mail.transport.send(built).await,
            Err(err) => Err(err),
        };
        let recorded = async {
            let tx = db.begin_write().await?;
            match &sent {
                Ok(()) => outbox::delivered(&*tx, message.id).await?,
                Err(err) => {
                    let retry_at = crate::store::now() + backoff(message.attempts);
                    outbox::failed(&*tx, message.id, err, retry_at).await?;
                }
            }
            tx.commit().await
        };
        metrics.mail(sent.is_ok());
        if let Err(err) = &sent {
            let wait = backoff(message.attempts);
            tracing::warn!(message = message.id, attempts = message.attempts, error = %err, retry_in = ?wait, "a message could not be delivered");
        }
        let recorded = recorded.await;
        if let Err(err) = recorded {
            tracing::warn!(message = message.id, error = %err, "could not record a delivery");
        }
    }
    Ok(claimed.len())
}

/// The wait before attempt `attempts + 1`: 5 s, doubled each time, at most an hour.
fn backoff(attempts: i32) -> TimeDelta {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(10);
    TimeDelta::seconds(5 * (1i64 << doublings)).min(TimeDelta::hours(1))
}

fn build(from: &Mailbox, message: &entity::mail_outbox::Model) -> Result<lettre::Message, String> {
    let to: Mailbox = message
        .recipient
        .parse()
        .map_err(|err| format!("the recipient is not an address: {err}"))?;
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&message.subject)
        .multipart(MultiPart::alternative_plain_html(
            message.text_body.clone(),
            message.html_body.clone(),
        ))
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::backoff;

    #[test]
    fn failed_deliveries_wait_twice_as_long_each_time_up_to_an_hour() {
        assert_eq!(backoff(1), TimeDelta::seconds(5));
        assert_eq!(backoff(2), TimeDelta::seconds(10));
        assert_eq!(backoff(5), TimeDelta::seconds(80));
        assert_eq!(backoff(40), TimeDelta::hours(1));
    }
}
