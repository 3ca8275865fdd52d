//! Command line and environment configuration: one struct, read once at start-up.

use std::{net::SocketAddr, time::Duration};

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum, builder::BoolishValueParser};
use secrecy::SecretString;

/// Roster: a GraphQL API for users and the profiles they manage.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve GraphQL over HTTP (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) to standard output.
    PrintSchema,
    /// Fill the database with the benchmark dataset (bench/DATASET.md).
    Seed {
        /// How many users.
        #[arg(long, default_value_t = 10_000)]
        users: i64,
        /// How many profiles.
        #[arg(long, default_value_t = 2_000)]
        profiles: i64,
        /// How many profiles each user manages.
        #[arg(long, default_value_t = 5)]
        links_per_user: i64,
        /// Replace every user and profile of a database that holds users already.
        #[arg(long)]
        force: bool,
        /// The password of every seeded user.
        #[arg(long, default_value = "password")]
        password: String,
    },
    /// Create a user; the password is read from standard input.
    CreateUser {
        /// The new user's email address.
        #[arg(long)]
        email: String,
        /// Grant the user the `admin` role (every permission).
        #[arg(long)]
        admin: bool,
    },
}

/// Whether anyone may register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Registration {
    Open,
    Closed,
}

/// Whether an account's email address must be confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConfirmEmail {
    /// A confirmation link is sent; an account signs in only once it followed it.
    Required,
    /// A confirmation link is sent; an account signs in before it followed it.
    Optional,
    /// No link is sent; every address counts as confirmed.
    Off,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object a line, for machines.
    Json,
}

/// HMAC algorithms for access tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum JwtAlgorithm {
    Hs256,
    Hs384,
    Hs512,
}

/// Settings of the server; every one can come from the environment or from a flag of the same name.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database to use: `sqlite://path?mode=rwc` (embedded, in WAL mode; the default) or
    /// `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://roster.db?mode=rwc",
        global = true
    )]
    pub database_url: String,

    /// Address and port the HTTP server listens on.
    #[arg(
        long,
        env = "LISTEN_ADDR",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub listen_addr: SocketAddr,

    /// Largest number of pooled database connections.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub database_max_connections: u32,

    /// PostgreSQL standbys (hot standbys of `DATABASE_URL`'s server), comma-separated, that
    /// serve query operations; mutations, subscriptions' events, migrations and the check of
    /// each request's caller stay on `DATABASE_URL`. Each gets a pool as large as the primary's.
    #[arg(long, env = "DATABASE_READ_URL", value_delimiter = ',', global = true)]
    pub database_read_url: Vec<String>,

    /// How long a read that sends a `Consistency-Token` waits for a standby to replay past it
    /// before the primary serves it.
    #[arg(long, env = "READ_CONSISTENCY_WAIT", default_value = "100ms", value_parser = humantime::parse_duration, global = true)]
    pub read_consistency_wait: Duration,

    /// For how long after a user's write through this server their reads without a
    /// `Consistency-Token` go to the primary.
    #[arg(long, env = "READ_AFTER_WRITE_WINDOW", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub read_after_write_window: Duration,

    /// A standby further behind the primary than this serves no reads until it catches up.
    #[arg(long, env = "READ_REPLICA_MAX_LAG", default_value = "1s", value_parser = humantime::parse_duration, global = true)]
    pub read_replica_max_lag: Duration,

    #[command(flatten)]
    pub limits: Limits,

    /// Serve GraphiQL to browsers at `GET /graphql`.
    #[arg(long, env = "GRAPHIQL", default_value = "on", value_parser = BoolishValueParser::new(), action = ArgAction::Set, hide_possible_values = true, global = true)]
    pub graphiql: bool,

    /// Answer lists whose items select only card fields (IDs, emails, names, times) in one
    /// pass, written straight as JSON; off answers every field through the engine, field by
    /// field (the same answers, slower: for comparing the two).
    #[arg(long, env = "ONE_PASS_ANSWERS", default_value = "on", value_parser = BoolishValueParser::new(), action = ArgAction::Set, hide_possible_values = true, global = true)]
    pub one_pass_answers: bool,

    /// Answer introspection queries (`__schema`, `__type`).
    #[arg(long, env = "INTROSPECTION", default_value = "on", value_parser = BoolishValueParser::new(), action = ArgAction::Set, hide_possible_values = true, global = true)]
    pub introspection: bool,

    /// Origins allowed to call the API from a browser, comma-separated (CORS; none when
    /// empty). They may send `authorization`, `content-type`, `accept`, `x-request-id` and
    /// Apollo Client's `apollographql-client-name`, `apollographql-client-version`,
    /// `apollo-require-preflight` and `x-apollo-operation-name`, read `x-request-id`, and keep
    /// a preflight's answer two hours.
    #[arg(
        long,
        env = "CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_allowed_origins: Vec<String>,

    /// How long the server waits for requests in flight after SIGTERM before it exits.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub shutdown_timeout: Duration,

    /// Subscriptions one WebSocket connection may hold at once.
    #[arg(
        long,
        env = "MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 10,
        global = true
    )]
    pub max_subscriptions_per_connection: usize,

    /// WebSocket connections one user may hold at once, per replica.
    #[arg(
        long,
        env = "MAX_CONNECTIONS_PER_USER",
        default_value_t = 5,
        global = true
    )]
    pub max_connections_per_user: usize,

    /// How often an idle WebSocket connection is pinged.
    #[arg(long, env = "WS_PING_INTERVAL", default_value = "15s", value_parser = humantime::parse_duration, global = true)]
    pub ws_ping_interval: Duration,

    /// GraphQL requests executed at once; more wait their turn. Defaults to 16 per core. A
    /// request that may return more than 1,000 nodes counts as one more for each further
    /// 1,000, up to a quarter of the limit, which bounds memory.
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", global = true)]
    pub max_concurrent_requests: Option<usize>,

    /// How log lines are written: `json` writes one object a line.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Add an `x-sql-statements` header to GraphQL answers: the SQL statements the request ran.
    #[arg(long, env = "EXPOSE_SQL_COUNT", default_value = "off", value_parser = BoolishValueParser::new(), action = ArgAction::Set, hide_possible_values = true, global = true)]
    pub expose_sql_count: bool,

    /// Key that signs access tokens, at least 32 bytes: set it in production. When unset, one
    /// is generated once and kept in the database.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<SecretString>,

    /// The key used before the current one: tokens it signed still verify during a rotation.
    #[arg(
        long,
        env = "JWT_SECRET_PREVIOUS",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret_previous: Option<SecretString>,

    /// Signing algorithm of access tokens.
    #[arg(
        long,
        env = "JWT_ALGORITHM",
        value_enum,
        default_value = "HS256",
        global = true
    )]
    pub jwt_algorithm: JwtAlgorithm,

    /// The `aud` claim of access tokens; tokens for another audience are refused.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "roster", global = true)]
    pub jwt_audience: String,

    /// How long an access token is valid (e.g. `15m`, `900s`).
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = humantime::parse_duration, global = true)]
    pub access_token_ttl: Duration,

    /// How long a caller looked up for one request may serve the next requests with the same
    /// token, while no account change is seen (0 looks every caller up every time).
    #[arg(long, env = "CALLER_CACHE_TTL", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub caller_cache_ttl: Duration,

    /// How many users' cards (key, email, creation time, display name) a replica keeps for
    /// nested lists of users, which then read the link index alone (PostgreSQL; 0 keeps none).
    #[arg(long, env = "USER_CARD_CACHE", default_value_t = 50_000, global = true)]
    pub user_card_cache: usize,

    /// How long a refresh token is valid.
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "30d", value_parser = humantime::parse_duration, global = true)]
    pub refresh_token_ttl: Duration,

    /// Whether `register` accepts new accounts.
    #[arg(
        long,
        env = "REGISTRATION",
        value_enum,
        default_value = "open",
        global = true
    )]
    pub registration: Registration,

    /// Whether a new account's email address must be confirmed through the link mailed to
    /// it. By default `required` on PostgreSQL and `optional` on SQLite.
    #[arg(long, env = "CONFIRM_EMAIL", value_enum, global = true)]
    pub confirm_email: Option<ConfirmEmail>,

    /// How long an invitation to manage a profile waits for its invitee's answer.
    #[arg(long, env = "INVITATION_TTL", default_value = "7d", value_parser = humantime::parse_duration, global = true)]
    pub invitation_ttl: Duration,

    /// Most invitations one user may have pending at once, over all profiles.
    #[arg(
        long,
        env = "INVITATIONS_MAX_PENDING",
        default_value_t = 100,
        global = true
    )]
    pub invitations_max_pending: u64,

    /// Failed logins of one account from one client address within `LOCKOUT_WINDOW` that lock
    /// the account for that address.
    #[arg(
        long,
        env = "LOCKOUT_MAX_FAILURES",
        default_value_t = 10,
        global = true
    )]
    pub lockout_max_failures: u64,

    /// Failed logins of one account from all addresses within `LOCKOUT_WINDOW` that lock it for
    /// every address it has not logged in from (guessing spread over many addresses).
    #[arg(
        long,
        env = "LOCKOUT_ACCOUNT_MAX_FAILURES",
        default_value_t = 100,
        global = true
    )]
    pub lockout_account_max_failures: u64,

    /// The window in which failed logins count, and how long a lock lasts.
    #[arg(long, env = "LOCKOUT_WINDOW", default_value = "15m", value_parser = humantime::parse_duration, global = true)]
    pub lockout_window: Duration,

    /// Failed logins from one client address within `LOCKOUT_WINDOW` before its attempts on
    /// accounts that have not logged in from it are refused.
    #[arg(
        long,
        env = "LOGIN_IP_MAX_FAILURES",
        default_value_t = 100,
        global = true
    )]
    pub login_ip_max_failures: u64,

    /// Requests that mail someone (`register`, `resendConfirmation`, `requestPasswordReset`)
    /// one client address may make in an hour; more are refused with `RATE_LIMITED`.
    #[arg(
        long,
        env = "MAIL_IP_MAX_PER_HOUR",
        default_value_t = 100,
        global = true
    )]
    pub mail_ip_max_per_hour: u64,

    /// Take the client address from the last entry of `X-Forwarded-For` (behind a trusted proxy).
    #[arg(long, env = "TRUST_FORWARDED_FOR", default_value = "off", value_parser = BoolishValueParser::new(), action = ArgAction::Set, hide_possible_values = true, global = true)]
    pub trust_forwarded_for: bool,

    /// A manifest of trusted documents that requests may name by id (`documentId`, Relay's
    /// `doc_id`, or `extensions.persistedQuery.sha256Hash`): Relay's `persisted_queries.json`,
    /// GraphQL Codegen's `persisted-documents.json` or Apollo's persisted query manifest. Every
    /// document is checked against the schema at start-up.
    #[arg(long, env = "PERSISTED_DOCUMENTS", global = true)]
    pub persisted_documents: Option<std::path::PathBuf>,

    /// Run only the documents of `PERSISTED_DOCUMENTS`: any other is refused, and automatic
    /// persisted queries are off.
    #[arg(long, env = "PERSISTED_DOCUMENTS_ONLY", default_value = "off", value_parser = BoolishValueParser::new(), action = ArgAction::Set, hide_possible_values = true, global = true)]
    pub persisted_documents_only: bool,

    /// Where messages go: `smtp://user:pass@host:port` (STARTTLS), `smtps://user:pass@host:port`
    /// (TLS), `smtp://host:port?tls=off` (a local relay, in the clear), or `file:<folder>`
    /// (`.eml` files). By default, `.eml` files in a `mail` folder next to the SQLite database
    /// (or in the working folder).
    #[arg(long, env = "MAIL_URL", hide_env_values = true, global = true)]
    pub mail_url: Option<String>,

    /// The sender of messages.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Roster <roster@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// The address of the server as people reach it, for the links in messages
    /// (`<PUBLIC_URL>/<action>?token=<token>`). By default `http://` and `LISTEN_ADDR`.
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// How long a password reset link works.
    #[arg(long, env = "PASSWORD_RESET_TTL", default_value = "1h", value_parser = humantime::parse_duration, global = true)]
    pub password_reset_ttl: Duration,

    /// How recent a sign-in must be to change the password, the email or the second factor,
    /// or to delete one's account; older sessions get `FRESH_SIGN_IN_REQUIRED` and renew it
    /// with `reauthenticate`.
    #[arg(long, env = "FRESHNESS", default_value = "15m", value_parser = humantime::parse_duration, global = true)]
    pub freshness: Duration,

    /// How long a change-of-email link works.
    #[arg(long, env = "EMAIL_CHANGE_TTL", default_value = "1h", value_parser = humantime::parse_duration, global = true)]
    pub email_change_ttl: Duration,

    /// Most bytes of documents that automatic persisted queries keep: the newest in the
    /// database, shared by the replicas, and as much in each replica's memory; 0 turns them
    /// off.
    #[arg(long, env = "APQ_CACHE_BYTES", default_value_t = crate::exec::APQ_CACHE_BYTES, global = true)]
    pub apq_cache_bytes: usize,
}

/// What one request may ask for. A request over a limit is refused before any SQL runs.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Most levels of nested fields in an operation (introspection excepted: it is bounded
    /// by the nesting of its lists).
    #[arg(long, env = "QUERY_MAX_DEPTH", default_value_t = 12, global = true)]
    pub query_max_depth: usize,

    /// Most nodes an operation may return, every page full: each list counts its `first` or
    /// `last` (`PAGE_MAX_SIZE` when it gives neither) for every node above it, as GitHub
    /// counts them.
    #[arg(
        long,
        env = "QUERY_MAX_COMPLEXITY",
        default_value_t = 100_000,
        global = true
    )]
    pub query_max_complexity: usize,

    /// Most aliased fields in an operation.
    #[arg(long, env = "QUERY_MAX_ALIASES", default_value_t = 50, global = true)]
    pub query_max_aliases: usize,

    /// Most fields at the root of an operation.
    #[arg(
        long,
        env = "QUERY_MAX_ROOT_FIELDS",
        default_value_t = 20,
        global = true
    )]
    pub query_max_root_fields: usize,

    /// Largest `first` or `last` of a list, and the page size when neither is given.
    #[arg(long, env = "PAGE_MAX_SIZE", default_value_t = 100, global = true)]
    pub page_max_size: i32,

    /// Accept a JSON array of requests in one body.
    #[arg(long, env = "BATCH_REQUESTS", default_value = "off", value_parser = BoolishValueParser::new(), action = ArgAction::Set, hide_possible_values = true, global = true)]
    pub batch_requests: bool,

    /// Most requests in one batch.
    #[arg(long, env = "BATCH_MAX_SIZE", default_value_t = 10, global = true)]
    pub batch_max_size: usize,

    /// Largest request body, and largest WebSocket message, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 256 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Largest answer, in bytes.
    #[arg(long, env = "MAX_RESPONSE_BYTES", default_value_t = 8 * 1024 * 1024, global = true)]
    pub max_response_bytes: usize,

    /// How long one request may take.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub request_timeout: Duration,

    /// Most client connections open at once, WebSockets included; more wait to be accepted.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024, global = true)]
    pub max_connections: usize,

    /// How long a client may take to send a request's headers (and an idle connection may wait
    /// for its next request) before the connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub header_read_timeout: Duration,

    /// How long a client may take to send a request's body (`408` after it).
    #[arg(long, env = "BODY_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub body_read_timeout: Duration,
}

impl Config {
    /// `CONFIRM_EMAIL`, or its default for the database.
    pub fn confirm_email(&self) -> ConfirmEmail {
        self.confirm_email
            .unwrap_or(if self.database_url.starts_with("postgres") {
                ConfirmEmail::Required
            } else {
                ConfirmEmail::Optional
            })
    }

    /// The configuration with every default, for tests and tools that only set the database.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        let mut config = Cli::parse_from(["api"]).config;
        config.database_url = database_url.into();
        config
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command says what it does, in its own words (`seed` once carried `create-user`'s
    /// line, and `create-user` had none).
    #[test]
    fn every_command_reads_right_in_help() {
        let cli = Cli::command();
        let about = |name: &str| {
            cli.find_subcommand(name)
                .and_then(|command| command.get_about())
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        assert_eq!(
            about("seed"),
            "Fill the database with the benchmark dataset (bench/DATASET.md)"
        );
        assert_eq!(
            about("create-user"),
            "Create a user; the password is read from standard input"
        );
        for command in cli.get_subcommands() {
            assert!(command.get_about().is_some(), "{}", command.get_name());
        }
        // Switches read `on`/`off` (as the README writes them; `true`/`false` work too), and
        // the help does not offer only `true`/`false`.
        let help = Cli::command().render_long_help().to_string();
        assert!(!help.contains("[possible values: true, false]"), "{help}");
        assert!(help.contains("[default: on]") && help.contains("[default: off]"));
    }

    /// The README's table of settings is the help's: one row per setting, in the order of
    /// `--help`, with its variable, flag, default and help text. `UPDATE_README=1` rewrites it.
    #[test]
    fn the_readme_configuration_table_is_the_help() {
        let generated = settings_table();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let start = readme
            .find(TABLE_HEADER)
            .expect("the README has a table of settings");
        let end = readme[start..]
            .find("\n\n")
            .map_or(readme.len(), |at| start + at + 1);
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{generated}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, updated).expect("README.md written");
            return;
        }
        assert!(
            readme[start..end] == generated,
            "README.md's settings differ from --help; rewrite them with \
             `UPDATE_README=1 cargo test -p api --lib config`:\n{generated}"
        );
    }

    const TABLE_HEADER: &str = "| Variable | Flag | Default | Meaning |";

    /// The table of every setting the help documents.
    fn settings_table() -> String {
        let cli = Cli::command();
        let mut table = format!("{TABLE_HEADER}\n|---|---|---|---|\n");
        for arg in cli.get_arguments() {
            let Some(variable) = arg.get_env() else {
                continue;
            };
            let flag = arg
                .get_long()
                .map(|long| format!("`--{long}`"))
                .unwrap_or_default();
            let default = arg
                .get_default_values()
                .iter()
                .map(|value| format!("`{}`", value.to_string_lossy()))
                .collect::<Vec<_>>()
                .join(", ");
            let help = arg
                .get_long_help()
                .or(arg.get_help())
                .map(ToString::to_string)
                .unwrap_or_default();
            let mut meaning = help.split_whitespace().collect::<Vec<_>>().join(" ");
            let choices: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|_| !arg.is_hide_possible_values_set())
                .map(|value| format!("`{}`", value.get_name()))
                .collect();
            if !choices.is_empty() {
                meaning = format!("{meaning} (one of {})", choices.join(", "));
            }
            let meaning = meaning.replace('|', "\\|");
            table.push_str(&format!(
                "| `{}` | {flag} | {default} | {meaning} |\n",
                variable.to_string_lossy()
            ));
        }
        table
    }
}
