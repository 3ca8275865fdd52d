//! Mail: messages rendered from the templates in `api/templates/mail`, written to the outbox in
//! the transaction of the change that causes them (so one is sent if and only if its change
//! committed), and delivered by the sender (`sender`) through the transport `MAIL_URL` names.

pub mod sender;
mod templates;
mod transport;

use lettre::message::Mailbox;
use serde::Serialize;

pub use transport::Transport;

use crate::{
    config::Config,
    db::WriteTx,
    error::{AppError, AppResult},
    events::Event,
    store::outbox::{self, Letter},
};

/// What sending mail needs: the sender's address, the links' base, the templates and the
/// transport. Cheap to clone.
#[derive(Clone)]
pub struct Mail {
    from: Mailbox,
    public_url: String,
    templates: templates::Templates,
    pub transport: Transport,
}

/// A message of Roster's: its template, subject, and what the template shows.
pub struct Message<'a, C: Serialize> {
    pub template: &'static str,
    pub subject: &'a str,
    pub context: C,
}

impl Mail {
    /// The mail of `config`: its transport (`MAIL_URL`, by default `.eml` files in a `mail`
    /// folder next to the SQLite database or in the working folder), `MAIL_FROM` and
    /// `PUBLIC_URL`.
    pub fn of(config: &Config) -> anyhow::Result<Mail> {
        let from = config
            .mail_from
            .parse::<Mailbox>()
            .map_err(|err| anyhow::anyhow!("MAIL_FROM is not an address: {err}"))?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen_addr));
        Ok(Mail {
            from,
            public_url: public_url.trim_end_matches('/').to_owned(),
            templates: templates::Templates::new()?,
            transport: Transport::of(config)?,
        })
    }

    /// `PUBLIC_URL`, the base of links.
    pub fn base(&self) -> &str {
        &self.public_url
    }

    /// The link to `action` with `token`, as messages show it: `<PUBLIC_URL>/<action>?token=…`.
    pub fn link(&self, action: &str, token: &str) -> String {
        format!("{}/{action}?token={token}", self.public_url)
    }

    /// Writes `message` to `to` in the outbox, in `tx` (the transaction of the change that
    /// causes it); senders hear of it once `tx` commits.
    pub async fn post<C: Serialize>(
        &self,
        tx: &mut WriteTx<'_>,
        to: &str,
        message: Message<'_, C>,
    ) -> AppResult<()> {
        let (text_body, html_body) = self
            .templates
            .render(message.template, &message.context)
            .map_err(|err| {
                tracing::error!(error = %err, template = message.template, "a message did not render");
                AppError::Internal
            })?;
        let letter = Letter {
            recipient: to.to_owned(),
            subject: message.subject.to_owned(),
            text_body,
            html_body,
        };
        outbox::post(&**tx, letter).await?;
        tx.publish(Event::Mail).await?;
        Ok(())
    }

    /// The sender's address.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }
}
