//! The command line (contract section 8): `hufu [serve]`, `hufu migrate`, `hufu user …`,
//! `hufu keys rotate`, `hufu import FILE`.

use crate::app;
use crate::clock::SystemClock;
use crate::config::{Settings, names};
use crate::domain::accounts;
use crate::domain::input::{NewAccount, RegistrationForm};
use crate::domain::{admin, keys};
use crate::secret::SecretString;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::io::BufRead;
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
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage EdDSA signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Import users from JSON lines (`username, email, phone, password_hash` with bcrypt or
    /// argon2 hashes); bad lines are skipped with a reason.
    Import {
        /// The file, one JSON object per line.
        file: PathBuf,
    },
}

/// `hufu user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from the first line of standard input.
    Create {
        /// Username.
        #[arg(long)]
        username: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required, so it never appears in `ps`).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Phone number.
        #[arg(long)]
        phone: Option<String>,
        /// Roles (repeatable); the configured default roles (`HUFU_DEFAULT_ROLES`) when none is given.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Give a user a role.
    Grant(RoleArgs),
    /// Take a role from a user.
    RevokeRole(RoleArgs),
    /// Disable a user and revoke all their sessions.
    Disable(UserArgs),
    /// Enable a disabled user.
    Enable(UserArgs),
}

/// `--username U`
#[derive(Debug, Args)]
pub struct UserArgs {
    /// The user's username.
    #[arg(long)]
    username: String,
}

/// `--username U --role R`
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The user's username.
    #[arg(long)]
    username: String,
    /// The role.
    #[arg(long)]
    role: String,
}

/// `hufu keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new EdDSA signing key and make it current; old keys keep verifying until the
    /// tokens they signed have expired. Running nodes pick it up within 60 seconds.
    Rotate,
}

/// Loads settings from the file named on the command line (if any) and the environment.
pub fn load_settings(config: Option<&PathBuf>) -> anyhow::Result<Settings> {
    let text = match config {
        Some(path) => Some(
            std::fs::read_to_string(path).with_context(|| format!("cannot read settings file {}", path.display()))?,
        ),
        None => None,
    };
    let origin = config.map(|p| p.display().to_string()).unwrap_or_default();
    let settings = Settings::load(text.as_deref().map(|t| (origin.as_str(), t)), &|name| {
        std::env::var(name).ok()
    })?;
    Ok(settings)
}

/// A domain error as one line: `CODE: text`.
fn describe(error: crate::domain::error::Error) -> anyhow::Error {
    let problem = error.problem();
    let details: Vec<&str> = problem.details.iter().map(|d| d.text.en()).collect();
    if details.len() > 1 {
        anyhow::anyhow!("{}: {}", problem.code, details.join("; "))
    } else {
        anyhow::anyhow!("{}: {}", problem.code, problem.text.en())
    }
}

fn read_password() -> anyhow::Result<SecretString> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok(SecretString::new(password))
}

async fn run_user(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    // Read the password before connecting, so a missing one fails fast.
    let password = match &command {
        UserCommand::Create { .. } => Some(read_password()?),
        _ => None,
    };
    let store = app::open_store(settings).await?;
    let state = app::build_state(settings, store, Arc::new(SystemClock)).await?;
    let core = &state.core;
    let user = match command {
        UserCommand::Create {
            username,
            email,
            phone,
            roles,
            ..
        } => {
            let roles = if roles.is_empty() {
                core.policy.default_roles.clone()
            } else {
                roles
            };
            let roles = roles
                .iter()
                .map(|r| admin::role(r).map_err(|reason| crate::domain::error::Error::field("role", reason)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(describe)?;
            let form = RegistrationForm {
                username: Some(username),
                email: Some(email),
                password,
                phone,
                ..Default::default()
            };
            // The phone is optional here whatever the policy: the first administrator may have none.
            let account = NewAccount::parse(form, core.policy.password_min_length, false).map_err(describe)?;
            accounts::create_account(core, account, &roles, &command_line())
                .await
                .map_err(describe)?
        }
        UserCommand::Grant(args) => {
            let user = admin::find_by_username(core, &args.username)
                .await
                .map_err(describe)?
                .user;
            admin::grant_role(core, &user, &args.role).await.map_err(describe)?
        }
        UserCommand::RevokeRole(args) => {
            let user = admin::find_by_username(core, &args.username)
                .await
                .map_err(describe)?
                .user;
            admin::revoke_role(core, &user, &args.role).await.map_err(describe)?
        }
        UserCommand::Disable(args) => {
            let user = admin::find_by_username(core, &args.username)
                .await
                .map_err(describe)?
                .user;
            admin::set_enabled(core, &user, false).await.map_err(describe)?
        }
        UserCommand::Enable(args) => {
            let user = admin::find_by_username(core, &args.username)
                .await
                .map_err(describe)?
                .user;
            admin::set_enabled(core, &user, true).await.map_err(describe)?
        }
    };
    core.store.close().await;
    println!("{}", serde_json::to_string(&user)?);
    Ok(())
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
        Command::User(command) => run_user(&settings, command).await,
        Command::Import { file } => run_import(&settings, &file).await,
        Command::Keys(KeysCommand::Rotate) => {
            let store = app::open_store(&settings).await?;
            let secret_box = crate::crypto::SecretBox::new(&app::encryption_key(&settings)?)?;
            let now_ms = crate::clock::Clock::unix_millis(&SystemClock);
            let kid = keys::rotate(&store, &secret_box, now_ms).await?;
            store.close().await;
            println!("{kid}");
            Ok(())
        }
        Command::Serve => {
            let mut settings = settings;
            let listener = tokio::net::TcpListener::bind(settings.server.listen)
                .await
                .with_context(|| format!("cannot listen on {} ({})", settings.server.listen, names::HUFU_LISTEN))?;
            // With port 0 the real port is only known now; the default public URL uses it.
            settings.server.listen = listener.local_addr().unwrap_or(settings.server.listen);
            let store = app::open_store(&settings).await?;
            let state = app::build_state(&settings, store, Arc::new(SystemClock)).await?;
            tracing::info!(
                listen = %settings.server.listen,
                database = state.core.store.dialect().name(),
                "hufu is serving"
            );
            app::serve(listener, state, &settings, app::shutdown_signal()).await
        }
    }
}

/// The progress bar on stderr (hidden when stderr is not a terminal), and skipped lines
/// printed as they come.
struct ImportProgress {
    bar: indicatif::ProgressBar,
}

impl crate::import::Progress for ImportProgress {
    fn advanced(&self, bytes: u64) {
        self.bar.set_position(bytes);
    }

    fn skipped(&self, skipped: &crate::import::Skipped) {
        self.bar
            .suspend(|| println!("line {}: skipped: {}", skipped.line, skipped.reason));
    }
}

async fn run_import(settings: &Settings, path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    // Opened before connecting, so a wrong path fails at once.
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let store = app::open_store(settings).await?;
    let state = app::build_state(settings, store, Arc::new(SystemClock)).await?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(size);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {elapsed_precise} eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let progress = ImportProgress { bar };
    let reader = std::io::BufReader::with_capacity(64 * 1024, file);
    let outcome = crate::import::import(&state.core, reader, &command_line(), &progress).await;
    progress.bar.finish_and_clear();
    state.core.store.close().await;
    let summary = outcome.with_context(|| format!("import of {} stopped", path.display()))?;
    println!("imported {}, skipped {}", summary.imported, summary.skipped.len());
    Ok(())
}

/// Who acts when the command line changes something: no IP, and a user agent that says so in
/// the audit log.
fn command_line() -> crate::domain::ClientContext {
    crate::domain::ClientContext {
        ip: None,
        user_agent: Some("hufu command line".to_owned()),
    }
}
