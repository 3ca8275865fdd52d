use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use api::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();

    match cli.command.unwrap_or(Command::Serve) {
        Command::PrintSchema => {
            print!("{}", api::graphql::schema(None).sdl());
        }
        Command::Migrate => {
            api::prepare(cli.config).await?;
            tracing::info!("migrations applied");
        }
        Command::Serve => {
            let state = api::prepare(cli.config.clone()).await?;
            let listener = TcpListener::bind(cli.config.listen_addr).await?;
            let addr = listener.local_addr()?;
            tracing::info!("Roster is listening on http://{addr}/graphql");
            println!("Roster GraphQL API: http://{addr}/graphql");
            api::serve(listener, state, shutdown_signal()).await?;
        }
    }
    Ok(())
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
