//! A real SMTP server for the tests: Debian's aiosmtpd (`apt-get install python3-aiosmtpd`),
//! keeping what it receives in a Maildir, read back as a mail client reads messages.

use std::{path::PathBuf, time::Duration};

/// An SMTP server on 127.0.0.1, in the clear (`MAIL_URL=smtp://…?tls=off`).
pub struct SmtpServer {
    pub port: u16,
    folder: tempfile::TempDir,
    child: Option<tokio::process::Child>,
}

/// A message as it was delivered.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Delivered {
    /// The token of the link to `action` the message carries (`…/<action>?token=<token>`), in
    /// both its parts.
    pub fn token(&self, action: &str) -> String {
        let marker = format!("/{action}?token=");
        let find = |part: &str| {
            let start = part.find(&marker)? + marker.len();
            let token: String = part[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            Some(token)
        };
        let text = find(&self.text).unwrap_or_else(|| panic!("no {action} link in: {}", self.text));
        // As a browser reads the HTML part: with its character references resolved.
        let html = self.html.replace("&#x2f;", "/").replace("&amp;", "&");
        assert_eq!(
            find(&html),
            Some(text.clone()),
            "the HTML part has the same link: {html}"
        );
        text
    }
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = SmtpServer {
            port,
            folder: tempfile::tempdir().expect("a Maildir"),
            child: None,
        };
        server.resume().await;
        server
    }

    /// `MAIL_URL` for this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=off", self.port)
    }

    /// Starts the server (again) on its port, and waits until it answers.
    pub async fn resume(&mut self) {
        let aiosmtpd = "/usr/bin/aiosmtpd";
        assert!(
            std::path::Path::new(aiosmtpd).exists(),
            "no SMTP server for the tests: apt-get install python3-aiosmtpd"
        );
        let child = tokio::process::Command::new(aiosmtpd)
            .args(["-n", "-l", &format!("127.0.0.1:{}", self.port)])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.folder.path().join("maildir"))
            .kill_on_drop(true)
            .spawn()
            .expect("aiosmtpd starts");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd does not answer on port {}", self.port);
    }

    /// Stops the server, as a mail server that goes down.
    pub async fn pause(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// Every message delivered so far, oldest first.
    pub fn delivered(&self) -> Vec<Delivered> {
        let new = self.folder.path().join("maildir").join("new");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|entries| {
                entries
                    .filter_map(|entry| Some(entry.ok()?.path()))
                    .collect()
            })
            .unwrap_or_default();
        files.sort_by_key(|file| std::fs::metadata(file).and_then(|m| m.modified()).ok());
        files.iter().map(|file| read(file)).collect()
    }

    /// The messages delivered to `to`.
    pub fn delivered_to(&self, to: &str) -> Vec<Delivered> {
        self.delivered()
            .into_iter()
            .filter(|message| message.to.contains(to))
            .collect()
    }

    /// Waits for the `n`th message (1, 2, …) to `to`, at most `limit`.
    pub async fn wait_for(&self, to: &str, n: usize, limit: Duration) -> Delivered {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(message) = self.delivered_to(to).into_iter().nth(n - 1) {
                return message;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message {n} to {to} within {limit:?}; delivered: {:?}",
                self.delivered()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A delivered message, parsed.
fn read(file: &std::path::Path) -> Delivered {
    let raw = std::fs::read(file).expect("a delivered message");
    let parsed = mailparse::parse_mail(&raw).expect("a well-formed message");
    let header = |name: &str| {
        use mailparse::MailHeaderMap;
        parsed.headers.get_first_value(name).unwrap_or_default()
    };
    let part = |mime: &str| {
        parsed
            .subparts
            .iter()
            .find(|part| part.ctype.mimetype == mime)
            .map(|part| part.get_body().expect("a decodable part"))
            .unwrap_or_default()
    };
    Delivered {
        to: header("To"),
        from: header("From"),
        subject: header("Subject"),
        text: part("text/plain"),
        html: part("text/html"),
    }
}
