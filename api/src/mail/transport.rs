//! Where messages go (`MAIL_URL`): `.eml` files in a folder (`file:<folder>`, the default), or
//! an SMTP server: `smtp://user:pass@host:port` with STARTTLS, `smtps://…` with TLS from the
//! start, `smtp://…?tls=off` in the clear (a relay on the same machine).

use std::path::PathBuf;

use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

#[derive(Clone)]
pub enum Transport {
    Files(AsyncFileTransport<Tokio1Executor>, PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Transport {
    pub fn of(config: &Config) -> anyhow::Result<Self> {
        let url = match &config.mail_url {
            Some(url) => url.clone(),
            None => format!("file:{}", default_folder(&config.database_url).display()),
        };
        if let Some(folder) = url.strip_prefix("file:") {
            // Made with the first message, so commands that send none leave no folder.
            let folder = PathBuf::from(folder.trim_start_matches("//"));
            return Ok(Transport::Files(AsyncFileTransport::new(&folder), folder));
        }
        let smtp = match url.split_once("?tls=off") {
            // lettre's `smtp://` without `tls` is in the clear.
            Some((plain, "")) if plain.starts_with("smtp://") => plain.to_owned(),
            Some(_) => anyhow::bail!("MAIL_URL: `?tls=off` is for `smtp://` URLs, alone"),
            None if url.starts_with("smtp://") && !url.contains('?') => {
                format!("{url}?tls=required")
            }
            None => url,
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp)
            .map_err(|err| anyhow::anyhow!("MAIL_URL is not a mail URL: {err}"))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(Transport::Smtp(transport))
    }

    /// Delivers `message`; the error's text when it could not.
    pub async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Transport::Files(files, folder) => {
                std::fs::create_dir_all(folder)
                    .map_err(|err| format!("could not create {}: {err}", folder.display()))?;
                files
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(|err| err.to_string())
            }
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(drop)
                .map_err(|err| err.to_string()),
        }
    }

    /// Where `.eml` files go, when they do.
    pub fn folder(&self) -> Option<&PathBuf> {
        match self {
            Transport::Files(_, folder) => Some(folder),
            Transport::Smtp(_) => None,
        }
    }
}

/// `mail` next to the SQLite database file, or in the working folder.
fn default_folder(database_url: &str) -> PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|path| !path.is_empty() && !path.starts_with(':'));
    match file.and_then(|file| PathBuf::from(file).parent().map(PathBuf::from)) {
        Some(folder) => folder.join("mail"),
        None => PathBuf::from("mail"),
    }
}

#[cfg(test)]
mod tests {
    use super::default_folder;

    #[test]
    fn mail_goes_next_to_the_database_by_default() {
        assert_eq!(
            default_folder("sqlite://roster.db?mode=rwc"),
            std::path::PathBuf::from("mail")
        );
        assert_eq!(
            default_folder("sqlite:///var/lib/roster/roster.db"),
            std::path::PathBuf::from("/var/lib/roster/mail")
        );
        assert_eq!(
            default_folder("postgres://x@y/z"),
            std::path::PathBuf::from("mail")
        );
    }
}
