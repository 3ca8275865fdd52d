//! A PostgreSQL server of the test's own, stopped in the middle of a load and started again:
//! clear errors meanwhile, recovery without a restart, no acknowledged write lost.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

/// A PostgreSQL cluster in a temporary folder, on a port of its own (never the shared server).
struct OwnPostgres {
    folder: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

/// Runs a PostgreSQL program as the `postgres` user when the tests run as root (PostgreSQL
/// refuses to run as root).
fn run(bin: &Path, program: &str, args: &[&str]) {
    let path = bin.join(program);
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0"));
    let status = if root {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&path)
            .args(args)
            .status()
    } else {
        Command::new(&path).args(args).status()
    };
    assert!(
        status.is_ok_and(|status| status.success()),
        "{program} {args:?}"
    );
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed under /usr/lib/postgresql")
            .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .expect("an initdb");
        let folder = tempfile::tempdir().expect("a folder");
        let _ = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(folder.path())
            .status();
        let data = folder.path().join("data");
        run(
            &bin,
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a port")
            .local_addr()
            .expect("bound")
            .port();
        let cluster = OwnPostgres { folder, bin, port };
        cluster.up();
        cluster
    }

    fn data(&self) -> String {
        self.folder
            .path()
            .join("data")
            .to_string_lossy()
            .into_owned()
    }

    fn up(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.folder.path().display()
        );
        let log = self
            .folder
            .path()
            .join("log")
            .to_string_lossy()
            .into_owned();
        run(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }

    fn down(&self) {
        run(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data(), "-m", "fast", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let path = self.bin.join("pg_ctl");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(path)
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .status();
    }
}

async fn health(app: &TestApp) -> u16 {
    match app
        .client()
        .get(format!("{}/health", app.url))
        .timeout(Duration::from_secs(8))
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_survived() {
    let postgres = OwnPostgres::start();
    let app = TestApp::spawn_at(Backend::Postgres, &postgres.url(), |_| {}).await;
    let admin = app.admin().await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let codes = Arc::new(Mutex::new(Vec::<String>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let app = Arc::new(app);

    // Four clients writing as fast as they can.
    let writers: Vec<_> = (0..4)
        .map(|worker| {
            let (app, token) = (app.clone(), admin.token.clone());
            let (acknowledged, codes, running) =
                (acknowledged.clone(), codes.clone(), running.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while running.load(Ordering::Relaxed) {
                    n += 1;
                    let name = format!("w{worker}-{n}");
                    let started = Instant::now();
                    let response = app
                        .gql_as(
                            &token,
                            "mutation($n: String!) { createProfile(name: $n) { id } }",
                            json!({ "n": name }),
                        )
                        .await;
                    assert!(
                        started.elapsed() < Duration::from_secs(11),
                        "answered within the request timeout"
                    );
                    assert_eq!(response.status, 200, "{}", response.body);
                    if response.errors().is_empty() {
                        let id = response.body["data"]["createProfile"]["id"]
                            .as_str()
                            .expect("id")
                            .to_owned();
                        acknowledged.lock().expect("lock").push(id);
                    } else {
                        codes.lock().expect("lock").push(response.code().to_owned());
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = acknowledged.lock().expect("lock").len();
    assert!(before > 0, "writes went through before the outage");
    postgres.down();
    assert_eq!(health(&app).await, 503, "health says the database is gone");
    let failed = app
        .gql_as(
            &admin.token,
            "{ me { profiles { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(failed.code(), "SERVICE_UNAVAILABLE", "{}", failed.body);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    postgres.up();
    let recovered = Instant::now();
    while health(&app).await != 200 {
        assert!(
            recovered.elapsed() < Duration::from_secs(30),
            "health recovers by itself"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let during = acknowledged.lock().expect("lock").len();
    while acknowledged.lock().expect("lock").len() < during + 20 {
        assert!(
            recovered.elapsed() < Duration::from_secs(30),
            "writes resume by themselves"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.store(false, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("a writer ends cleanly");
    }

    let codes = codes.lock().expect("lock").clone();
    assert!(!codes.is_empty(), "the outage was seen");
    assert!(
        codes.iter().all(|code| code == "SERVICE_UNAVAILABLE"),
        "only SERVICE_UNAVAILABLE: {codes:?}"
    );
    // Every acknowledged write is there.
    let mut stored = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data_as(&admin.token, "query($a: String) { profiles(first: 100, after: $a) { pageInfo { hasNextPage endCursor } nodes { id } } }", json!({ "a": after }))
            .await;
        stored.extend(
            data["profiles"]["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|n| n["id"].as_str().expect("id").to_owned()),
        );
        if data["profiles"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = data["profiles"]["pageInfo"]["endCursor"].clone();
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
}
