use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use api::config::{Cli, Command, LogFormat};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr);
    match cli.config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }

    match cli.command.unwrap_or(Command::Serve) {
        Command::PrintSchema => {
            print!("{}", api::graphql::sdl(&cli.config));
        }
        Command::Migrate => {
            api::prepare(cli.config).await?;
            tracing::info!("migrations applied");
        }
        Command::Seed {
            users,
            profiles,
            links_per_user,
            force,
            password,
        } => {
            let state = api::prepare(cli.config).await?;
            let scale = api::seed::Scale {
                users,
                profiles,
                links_per_user,
            };
            let started = std::time::Instant::now();
            api::seed::seed(&state.db, scale, &password, force).await?;
            println!(
                "seeded {users} users, {profiles} profiles and {} links in {:.1} s",
                users * links_per_user,
                started.elapsed().as_secs_f64()
            );
        }
        Command::CreateUser { email, admin } => {
            let state = api::prepare(cli.config).await?;
            let password = read_password()?;
            let user = state
                .accounts
                .create_user(&state.db, &email, &password)
                .await?;
            if admin {
                state
                    .accounts
                    .change_role(&state.db, user.id, "admin", true)
                    .await?;
            }
            let role = if admin { " with the admin role" } else { "" };
            println!(
                "created user {} ({}){role}",
                user.email,
                api::graphql::NodeId::user(user.id).as_str()
            );
        }
        Command::Serve => {
            let state = api::prepare(cli.config.clone()).await?;
            let passwords = state.accounts.passwords().clone();
            tokio::spawn(async move { passwords.warm_up().await });
            let listener = TcpListener::bind(cli.config.listen_addr).await?;
            let addr = listener.local_addr()?;
            tracing::info!("Roster is listening on http://{addr}/graphql");
            println!("Roster GraphQL API: http://{addr}/graphql");
            api::serve(listener, state, shutdown_signal()).await?;
        }
    }
    Ok(())
}

/// The first line of standard input, prompting when it is a terminal.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
