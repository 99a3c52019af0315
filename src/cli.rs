//! The command line (contract section 8): `hufu [serve]`, `hufu migrate`.

use crate::app;
use crate::clock::SystemClock;
use crate::config::Settings;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

/// hufu: user accounts and sign-in as one service.
#[derive(Debug, Parser)]
#[command(name = "hufu", version, about)]
pub struct Cli {
    /// TOML settings file (keys are the HUFU_ names in lower case, without the prefix).
    #[arg(long, global = true, env = "HUFU_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

/// Loads settings from the file named on the command line (if any) and the environment.
pub fn load_settings(config: Option<&PathBuf>) -> anyhow::Result<Settings> {
    let text = match config {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read settings file {}", path.display()))?,
        ),
        None => None,
    };
    let origin = config.map(|p| p.display().to_string()).unwrap_or_default();
    let settings = Settings::load(text.as_deref().map(|t| (origin.as_str(), t)), &|name| {
        std::env::var(name).ok()
    })?;
    Ok(settings)
}

/// Runs the parsed command.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let store = app::open_store(&settings).await?;
            store.close().await;
            tracing::info!(database = store.dialect().name(), "migrations applied");
            Ok(())
        }
        Command::Serve => {
            let store = app::open_store(&settings).await?;
            let state = app::build_state(&settings, store, Arc::new(SystemClock)).await?;
            let listener = tokio::net::TcpListener::bind(settings.listen)
                .await
                .with_context(|| format!("cannot listen on {} (HUFU_LISTEN)", settings.listen))?;
            let bound = listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            tracing::info!(
                listen = %bound,
                database = state.core.store.dialect().name(),
                "hufu is serving"
            );
            app::serve(listener, state, &settings, app::shutdown_signal()).await
        }
    }
}
