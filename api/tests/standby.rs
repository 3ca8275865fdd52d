//! A real hot standby of the test cluster, for the tests of reads served by standbys: made
//! with `pg_basebackup -R` into a temporary folder and started on a port of its own with
//! PostgreSQL's own binaries (as the `postgres` user when the tests run as root). The cluster
//! must accept replication connections from 127.0.0.1 (`.ci/run` adds the line to
//! `pg_hba.conf`).

use std::{os::unix::fs::PermissionsExt, path::PathBuf, process::Command, time::Duration};

/// A running standby of the cluster at 127.0.0.1:5432.
pub struct Standby {
    pub port: u16,
    folder: tempfile::TempDir,
    bin: PathBuf,
    /// One standby at a time: each holds WAL senders of the cluster (`max_wal_senders`).
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

/// The turn of the tests' standbys.
static TURN: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(Default::default);

impl Standby {
    /// Makes and starts a standby of the cluster, streaming from it.
    pub async fn start() -> Standby {
        let turn = TURN.clone().lock_owned().await;
        let bin = binaries();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let folder = tempfile::tempdir().expect("a folder for the standby");
        let data = folder.path().join("data");
        std::fs::create_dir(&data).expect("the data folder");
        // PostgreSQL starts only on a data folder no one else may read.
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700))
            .expect("the data folder's permissions");
        let standby = Standby {
            port,
            folder,
            bin,
            _turn: turn,
        };
        if running_as_root() {
            let folder = standby.folder.path().display().to_string();
            standby.run_root(&["chown", "-R", "postgres:postgres", &folder]);
        }
        let basebackup = standby.bin.join("pg_basebackup");
        let data_arg = data.display().to_string();
        standby.run(&[
            basebackup.to_str().expect("a path"),
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
            "-D",
            &data_arg,
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ]);
        let socket = standby.folder.path().display().to_string();
        let mut settings = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{socket}'\n\
             hot_standby = on\nshared_buffers = 16MB\nfsync = off\nlogging_collector = off\n"
        );
        // A standby may not have fewer of these than its primary.
        for setting in [
            "max_connections",
            "max_worker_processes",
            "max_wal_senders",
            "max_prepared_transactions",
            "max_locks_per_transaction",
        ] {
            let value = output(Command::new("psql").args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-Atc",
                &format!("SHOW {setting}"),
            ]));
            let value = String::from_utf8(value).expect("a setting");
            settings.push_str(&format!("{setting} = {}\n", value.trim()));
        }
        standby.write(&data.join("postgresql.conf"), &settings);
        standby.write(
            &data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        );
        standby.write(&data.join("pg_ident.conf"), "");
        standby.pg_ctl(&["start", "-w", "-t", "60", "-l", &standby.log()]);
        standby
    }

    /// The address of database `name` on the standby.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops replaying the primary's WAL (it keeps receiving it).
    pub async fn pause(&self, database: &str) {
        self.sql(database, "SELECT pg_wal_replay_pause()").await;
    }

    /// Replays again.
    pub async fn resume(&self, database: &str) {
        self.sql(database, "SELECT pg_wal_replay_resume()").await;
    }

    /// Stops the standby at once.
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }

    async fn sql(&self, database: &str, sql: &str) {
        use sea_orm::{ConnectionTrait, Database};
        let conn = Database::connect(self.url(database))
            .await
            .expect("the standby answers");
        conn.execute_unprepared(sql)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
        conn.close().await.expect("closes");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    fn log(&self) -> String {
        self.folder.path().join("log").display().to_string()
    }

    fn pg_ctl(&self, args: &[&str]) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.folder.path().join("data").display().to_string();
        let mut command = vec![pg_ctl.to_str().expect("a path"), "-D", &data];
        command.extend_from_slice(args);
        self.run(&command);
    }

    fn write(&self, path: &std::path::Path, text: &str) {
        std::fs::write(path, text).expect("writes the standby's settings");
        if running_as_root() {
            let path = path.display().to_string();
            self.run_root(&["chown", "postgres:postgres", &path]);
        }
    }

    /// Runs `command` as `postgres` when the tests run as root, as the tests' user otherwise.
    fn run(&self, command: &[&str]) {
        if running_as_root() {
            let mut wrapped = vec!["runuser", "-u", "postgres", "--"];
            wrapped.extend_from_slice(command);
            self.run_root(&wrapped);
        } else {
            self.run_root(command);
        }
    }

    fn run_root(&self, command: &[&str]) {
        let status = Command::new(command[0])
            .args(&command[1..])
            .output()
            .unwrap_or_else(|err| panic!("{command:?}: {err}"));
        assert!(
            status.status.success(),
            "{command:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.folder.path().join("data").display().to_string();
        let command = [
            pg_ctl.to_str().unwrap_or("pg_ctl"),
            "-D",
            &data,
            "stop",
            "-m",
            "immediate",
        ];
        let _ = if running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(command)
                .output()
        } else {
            Command::new(command[0]).args(&command[1..]).output()
        };
    }
}

/// The folder of the cluster's own binaries (`pg_ctl`, `pg_basebackup`): `pg_config`'s, or
/// Debian's folder of the server's major version.
fn binaries() -> PathBuf {
    if let Ok(found) = Command::new("pg_config").arg("--bindir").output()
        && found.status.success()
    {
        return PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
    }
    let version = output(Command::new("psql").args([
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-Atc",
        "SHOW server_version_num",
    ]));
    let version: u32 = String::from_utf8_lossy(&version)
        .trim()
        .parse()
        .expect("a version number");
    PathBuf::from(format!("/usr/lib/postgresql/{}/bin", version / 10_000))
}

fn running_as_root() -> bool {
    output(Command::new("id").arg("-u")).trim_ascii() == b"0"
}

fn output(command: &mut Command) -> Vec<u8> {
    let output = command.output().expect("the command runs");
    assert!(output.status.success(), "{command:?} failed");
    output.stdout
}

impl Standby {
    /// Promotes the standby to a primary of its own.
    pub fn promote(&self) {
        self.pg_ctl(&["promote", "-w", "-t", "60"]);
    }
}

/// A TCP proxy on 127.0.0.1 in front of a PostgreSQL server, as a failover proxy (or a DNS
/// name Patroni moves) is: `switch_to` points it at another server and cuts every connection
/// it carries.
pub struct Proxy {
    pub port: u16,
    target: std::sync::Arc<std::sync::atomic::AtomicU16>,
    carried: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: u16) -> Proxy {
        use std::sync::{Arc, Mutex, atomic::AtomicU16};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the proxy");
        let port = listener.local_addr().expect("an address").port();
        let target = Arc::new(AtomicU16::new(target));
        let carried: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let accepting = tokio::spawn({
            let target = target.clone();
            let carried = carried.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let port = target.load(std::sync::atomic::Ordering::SeqCst);
                    let carry = tokio::spawn(async move {
                        if let Ok(mut server) =
                            tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                        {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    carried
                        .lock()
                        .expect("the connections")
                        .push(carry.abort_handle());
                }
            }
        });
        Proxy {
            port,
            target,
            carried,
            accepting,
        }
    }

    /// Points the proxy at the server on `port`, cutting every connection it carries.
    pub fn switch_to(&self, port: u16) {
        self.target.store(port, std::sync::atomic::Ordering::SeqCst);
        for connection in self.carried.lock().expect("the connections").drain(..) {
            connection.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.switch_to(0);
    }
}
