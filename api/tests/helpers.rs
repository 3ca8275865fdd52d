//! `TestApp`: the real server on a fresh database, driven over HTTP.

use std::sync::atomic::{AtomicU32, Ordering};

use api::{AppState, Config};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot};

/// The variable that points the tests at a PostgreSQL server, as an URL of a database the
/// tests may connect to in order to create and drop their own databases.
pub const POSTGRES_ENV: &str = "ROSTER_TEST_POSTGRES_URL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares each named test as two tests, one per database: `sqlite::<name>` and
/// `postgres::<name>`. A plain name is an `async fn(&TestApp)` given a fresh server; a name
/// followed by `[own_server]` is an `async fn(Backend)` that starts its own servers (with its
/// own configuration, or as processes).
#[macro_export]
macro_rules! db_tests {
    ($($name:ident $([$mode:ident])?),* $(,)?) => {
        mod sqlite {
            $( $crate::db_test!(Sqlite, $name $([$mode])?); )*
        }
        mod postgres {
            $( $crate::db_test!(Postgres, $name $([$mode])?); )*
        }
    };
}

#[macro_export]
macro_rules! db_test {
    ($backend:ident, $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::$backend).await;
            super::$name(&app).await;
            app.stop().await;
        }
    };
    ($backend:ident, $name:ident [own_server]) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            super::$name($crate::helpers::Backend::$backend).await;
        }
    };
}

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-in test user.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub token: String,
    pub refresh: String,
}

/// A running server on its own fresh database.
pub struct TestApp {
    pub backend: Backend,
    pub url: String,
    pub state: AppState,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    database: TestDatabase,
    /// Where messages go as `.eml` files, unless the test names an SMTP server.
    _mail: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns the server with a configuration changed by `configure`.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(TestDatabase::create(backend).await, configure).await
    }

    /// Spawns the server on a database the test manages itself.
    pub async fn spawn_at(
        backend: Backend,
        url: &str,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let database = TestDatabase {
            backend,
            url: url.to_owned(),
            postgres: None,
            _folder: None,
        };
        Self::spawn_on(database, configure).await
    }

    async fn spawn_on(database: TestDatabase, configure: impl FnOnce(&mut Config)) -> TestApp {
        // The server's warnings and errors show in the output of a failing test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_test_writer()
            .try_init();
        let mut config = Config::with_database(database.url.clone());
        config.expose_sql_count = true;
        config.database_max_connections = 5;
        // Behaviour tests nest unsized lists freely; the limits have tests of their own.
        config.limits.query_max_complexity = usize::MAX / 2;
        // Tests register many users from one address; the limit has a test of its own.
        config.mail_ip_max_per_hour = u64::MAX / 2;
        let mail = tempfile::tempdir().expect("a mail folder");
        config.mail_url = Some(format!("file:{}", mail.path().display()));
        // Behaviour tests sign in right after registering; confirmation has tests of its own.
        config.confirm_email = Some(api::config::ConfirmEmail::Optional);
        configure(&mut config);
        let state = api::prepare(config)
            .await
            .expect("the server prepares its database");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn({
            let state = state.clone();
            async move {
                api::serve(listener, state, async {
                    let _ = stopped.await;
                })
                .await
                .expect("the server runs");
            }
        });
        TestApp {
            backend: database.backend,
            url,
            state,
            client: reqwest::Client::new(),
            shutdown: Some(shutdown),
            server: Some(server),
            database,
            _mail: mail,
        }
    }

    /// Stops the server and starts a new one on the same database.
    pub async fn restart(mut self, configure: impl FnOnce(&mut Config)) -> TestApp {
        self.halt().await;
        let database = std::mem::replace(&mut self.database, TestDatabase::none());
        Self::spawn_on(database, configure).await
    }

    /// Stops the server and drops its database.
    pub async fn stop(mut self) {
        self.halt().await;
        // Dropping `self` drops the database.
    }

    async fn halt(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let _ = self.state.db.pool().close_by_ref().await;
    }

    /// The URL of the test's database, for processes the test starts.
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Posts a GraphQL request as JSON, without a token.
    pub async fn gql(&self, query: &str, variables: Value) -> Gql {
        self.send(None, query, variables).await
    }

    /// Posts a GraphQL request as JSON with `Authorization: Bearer <token>`.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Gql {
        self.send(Some(token), query, variables).await
    }

    async fn send(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Gql::read(request.send().await.expect("the server answers")).await
    }

    /// Posts a request as `token` that must succeed, and returns its `data`.
    pub async fn data_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let response = self.gql_as(token, query, variables).await;
        assert!(
            response.errors().is_empty(),
            "unexpected errors: {}",
            response.body
        );
        response.body["data"].clone()
    }

    /// Registers a user with `PASSWORD`, and signs them in.
    pub async fn register(&self, email: &str) -> Account {
        self.register_only(email).await;
        let login = self.login(email, PASSWORD).await;
        assert!(login.errors().is_empty(), "login failed: {}", login.body);
        account(&login.body["data"]["login"])
    }

    /// Registers a user with `PASSWORD`, without signing in.
    pub async fn register_only(&self, email: &str) {
        let response = self
            .gql(
                "mutation($email: String!, $password: String!) {
                    register(input: { email: $email, password: $password }) { email }
                }",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert!(
            response.errors().is_empty(),
            "register failed: {}",
            response.body
        );
    }

    /// Registers `owner{n}@example.com`.
    pub async fn register_owned(&self, n: usize) -> Account {
        self.register(&format!("owner{n}@example.com")).await
    }

    /// Logs in with `password`; the answer as it came.
    pub async fn login(&self, email: &str, password: &str) -> Gql {
        self.gql(
            "mutation($email: String!, $password: String!) {
                login(email: $email, password: $password) {
                    accessToken refreshToken expiresAt user { id email }
                }
            }",
            json!({ "email": email, "password": password }),
        )
        .await
    }

    /// An account holding the `admin` role (every permission), created as an operator would.
    pub async fn admin(&self) -> Account {
        let accounts = &self.state.accounts;
        let user = accounts
            .create_user(&self.state.db, "admin@example.com", PASSWORD)
            .await
            .expect("an admin");
        accounts
            .change_role(&self.state.db, user.id, "admin", true)
            .await
            .expect("the admin role");
        let response = self.login("admin@example.com", PASSWORD).await;
        assert!(
            response.errors().is_empty(),
            "admin login failed: {}",
            response.body
        );
        account(&response.body["data"]["login"])
    }

    pub async fn create_profile(&self, owner: &Account, name: &str) -> String {
        let data = self
            .data_as(
                &owner.token,
                "mutation($name: String!) { createProfile(name: $name) { id } }",
                json!({ "name": name }),
            )
            .await;
        id_of(&data["createProfile"])
    }

    /// Makes `user` a manager of `profile` with `role` as people do it: `owner` invites
    /// their address and they accept. The acceptance's payload (`changed`, `role`).
    pub async fn add_manager(
        &self,
        owner: &Account,
        profile: &str,
        user: &Account,
        role: &str,
    ) -> Value {
        let invitation = self.invite(owner, profile, &user.email, role).await;
        self.data_as(
            &user.token,
            "mutation($i: ID!) { acceptProfileInvitation(id: $i) { changed role } }",
            json!({ "i": invitation }),
        )
        .await["acceptProfileInvitation"]
            .clone()
    }

    /// `owner` invites `email` to manage `profile` with `role`: the invitation's ID.
    pub async fn invite(&self, owner: &Account, profile: &str, email: &str, role: &str) -> String {
        let sent = self
            .data_as(
                &owner.token,
                "mutation($p: ID!, $e: String!, $r: ProfileRole!) {
                    inviteProfileManager(profileId: $p, email: $e, role: $r) { invitation { id } }
                }",
                json!({ "p": profile, "e": email, "r": role }),
            )
            .await;
        sent["inviteProfileManager"]["invitation"]["id"]
            .as_str()
            .expect("an invitation ID")
            .to_owned()
    }

    /// After rows were inserted with explicit keys: moves PostgreSQL's key sequences past
    /// them, so rows the server creates get fresh keys (SQLite does this by itself).
    pub async fn sync_key_sequences(&self) {
        if self.backend == Backend::Postgres {
            for table in ["user", "profile"] {
                self.execute_sql(&format!(
                    "SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT MAX(id) FROM \"{table}\"))"
                ))
                .await;
            }
        }
    }

    /// Runs SQL on the test's database directly, to seed data quickly.
    pub async fn execute_sql(&self, sql: &str) {
        self.state
            .db
            .pool()
            .execute_unprepared(sql)
            .await
            .expect("seed SQL runs");
    }
}

/// The account in an `AuthPayload`.
pub fn account(payload: &Value) -> Account {
    let text = |value: &Value| value.as_str().expect("a string").to_owned();
    Account {
        id: text(&payload["user"]["id"]),
        email: text(&payload["user"]["email"]),
        token: text(&payload["accessToken"]),
        refresh: text(&payload["refreshToken"]),
    }
}

pub fn id_of(object: &Value) -> String {
    object["id"].as_str().expect("an id").to_owned()
}

/// A GraphQL answer: HTTP status, body, and the SQL statements the request ran.
pub struct Gql {
    pub status: u16,
    pub body: Value,
    pub sql_statements: Option<u32>,
    /// The `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
}

impl Gql {
    pub async fn read(response: reqwest::Response) -> Gql {
        let status = response.status().as_u16();
        let sql_statements = response
            .headers()
            .get("x-sql-statements")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        let body = response.json().await.expect("a JSON body");
        Gql {
            status,
            body,
            sql_statements,
            retry_after,
        }
    }

    pub fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }

    /// The `extensions.code` of the first error.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    pub fn sql(&self) -> u32 {
        self.sql_statements.expect("the x-sql-statements header")
    }
}

/// A database of one test: a file in a temporary folder, or a fresh PostgreSQL database.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    postgres: Option<(String, String)>,
    _folder: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// No database (what a restarted app leaves behind).
    fn none() -> TestDatabase {
        TestDatabase {
            backend: Backend::Sqlite,
            url: String::new(),
            postgres: None,
            _folder: None,
        }
    }

    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let folder = tempfile::tempdir().expect("a temporary folder");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    folder.path().join("roster.db").display()
                );
                TestDatabase {
                    backend,
                    url,
                    postgres: None,
                    _folder: Some(folder),
                }
            }
            Backend::Postgres => {
                let admin = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
                    panic!(
                        "{POSTGRES_ENV} is not set: PostgreSQL tests need a server, e.g. \
                         {POSTGRES_ENV}=postgres://postgres@127.0.0.1:5432/test (see README.md)"
                    )
                });
                let name = unique_database_name();
                let conn = Database::connect(&admin).await.expect("PostgreSQL answers");
                conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("a fresh database");
                let _ = conn.close().await;
                let url = match admin.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("{POSTGRES_ENV} must end with /<database>"),
                };
                TestDatabase {
                    backend,
                    url,
                    postgres: Some((admin, name)),
                    _folder: None,
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    /// A test that panicked still drops its PostgreSQL database.
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        if let Ok(conn) = Database::connect(&admin).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = conn.execute_unprepared(&sql).await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

fn unique_database_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    format!(
        "roster_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The `api` binary running as a process of its own, with its standard error collected.
pub struct ServerProcess {
    pub url: String,
    child: tokio::process::Child,
    /// Where its messages go, unless the test says otherwise.
    _mail: tempfile::TempDir,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ServerProcess {
    /// Starts `api serve` on `database_url` with these extra environment variables, and waits
    /// until it listens.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let mail = tempfile::tempdir().expect("a mail folder");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_api"))
            .env("DATABASE_URL", database_url)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("MAIL_URL", format!("file:{}", mail.path().display()))
            // As `TestApp`: tests sign in right after registering.
            .env("CONFIRM_EMAIL", "optional")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the api binary starts");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        tokio::spawn({
            let log = log.clone();
            async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut log) = log.lock() {
                        log.push_str(&line);
                        log.push('\n');
                    }
                }
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let announce = tokio::time::timeout(std::time::Duration::from_secs(30), stdout.next_line())
            .await
            .expect("the server starts within 30 s")
            .expect("stdout")
            .expect("the server prints its URL");
        let url = announce
            .rsplit(' ')
            .next()
            .and_then(|url| url.strip_suffix("/graphql"))
            .expect("an URL")
            .to_owned();
        ServerProcess {
            url,
            child,
            _mail: mail,
            log,
        }
    }

    /// Sends SIGTERM, as a service manager stopping the server would.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("a running process");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        assert!(
            sent.is_ok_and(|status| status.success()),
            "kill -TERM {pid}"
        );
    }

    /// Waits for the process to exit, at most `limit`; its exit status.
    pub async fn exit_status(&mut self, limit: std::time::Duration) -> std::process::ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("the process exits in time")
            .expect("an exit status")
    }

    /// Stops the process and returns everything it logged.
    pub async fn stop(mut self) -> String {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }
}
