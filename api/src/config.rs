//! Command line and environment configuration: one struct, read once at start-up.

use std::net::SocketAddr;

use clap::{ArgAction, Args, Parser, Subcommand, builder::BoolishValueParser};

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
}

/// Settings of the server; every one can come from the environment or from a flag of the same name.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database to use: `sqlite://path?mode=rwc` (embedded, the default) or `postgres://…`.
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

    /// Add an `x-sql-statements` header to GraphQL answers: the SQL statements the request ran.
    #[arg(long, env = "EXPOSE_SQL_COUNT", default_value = "off", value_parser = BoolishValueParser::new(), action = ArgAction::Set, global = true)]
    pub expose_sql_count: bool,
}

impl Config {
    /// The configuration with every default, for tests and tools that only set the database.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        let mut config = Cli::parse_from(["api"]).config;
        config.database_url = database_url.into();
        config
    }
}
