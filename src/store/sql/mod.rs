//! The SQL store over SQLite, MySQL/MariaDB and PostgreSQL with sqlx's native drivers.
//!
//! One `Db` enum holds the pool; the `dispatch!` macro writes each query once and lets the
//! compiler instantiate it per driver, so the three backends cannot drift apart. Statements
//! come from `queries` (rewritten for PostgreSQL once at start). Pools wait at most
//! `database_timeout` for a connection, so a dead database turns into a fast 503.

mod queries;
mod rows;

pub use admin::{AdminChange, AdminChanged, RolesChange, UserFilter};
pub use audit::{AuditFilter, AuditRow};
pub use codes::{CodeCheck, CodeKey, CodeSend, SendOutcome};
pub use identifiers::{Proofs, Reclaimed};
pub use keys::SigningKeyRow;
pub use mfa::{Completion, MfaFactor, NewChallenge, TotpRow};
pub use rows::SessionRow;
pub use sessions::Reproof;
pub use wechat::NewIdentity;

use super::{AuditRecord, Duplicate, NewUser, ProfileUpdate, StoreError};
use crate::domain::error::UniqueField;
use crate::domain::user::Account;
use queries::Queries;
use rows::UserRow;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// Which SQL dialect a store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (embedded).
    Sqlite,
    /// MySQL or MariaDB.
    MySql,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// Picks the dialect from a database URL.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Some(Dialect::MySql)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    /// Lower-case name for logs and `/readyz`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::MySql => "mysql",
            Dialect::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
enum Db {
    Sqlite(SqlitePool),
    MySql(MySqlPool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever driver's pool `$db` holds.
macro_rules! dispatch {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::sql::Db::Sqlite($pool) => $body,
            $crate::store::sql::Db::MySql($pool) => $body,
            $crate::store::sql::Db::Postgres($pool) => $body,
        }
    };
}

/// The `insert_user` statement with a [`NewUser`]'s values bound, for any driver.
macro_rules! insert_user {
    ($sql:expr, $user:expr) => {
        sqlx::query($sql)
            .bind($user.id)
            .bind(&$user.username)
            .bind(&$user.username_key)
            .bind(&$user.email)
            .bind(&$user.email_key)
            .bind(&$user.phone)
            .bind(&$user.password_hash)
            .bind(&$user.roles)
            .bind($user.now_ms)
            .bind($user.now_ms)
            .bind(i16::from($user.email_verified))
            .bind(i16::from($user.phone_verified))
    };
}

/// The `insert_audit` statement with an [`AuditRecord`](crate::store::AuditRecord)'s values
/// bound, for any driver: run it on the transaction of the change it records.
macro_rules! insert_audit {
    ($sql:expr, $record:expr) => {
        sqlx::query($sql)
            .bind($record.id)
            .bind($record.user_id)
            .bind($record.actor_id)
            .bind($record.event)
            .bind(&$record.ip)
            .bind(&$record.user_agent)
            .bind($record.at_ms)
            .bind(&$record.detail)
    };
}

/// Writes `$audit` (an `Option<&AuditRecord>`) on the transaction `$tx`, so the entry and the
/// change it records commit or fail together.
macro_rules! audit_in_tx {
    ($sql:expr, $tx:expr, $audit:expr) => {
        if let Some(record) = $audit {
            insert_audit!($sql.insert_audit, record).execute(&mut *$tx).await?;
        }
    };
}

/// `(username_key, email_key, phone)` of an account holding a requested unique value.
type TakenRow = (String, Option<String>, Option<String>);

mod admin;
mod audit;
mod codes;
mod identifiers;
mod keys;
mod mfa;
mod sessions;
mod users;
mod wechat;

/// Pool settings: part of the `database` section of the settings (its defaults are declared
/// there).
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Largest number of connections.
    pub max_connections: u32,
    /// How long to wait for a connection (and to connect) before giving up.
    pub timeout: Duration,
}

/// A pooled connection idle at least this long is pinged before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

/// sqlx pings every connection before handing it out (and again when it comes back), one
/// extra round trip per query in the database server that shares the machine; a login makes
/// three pool uses. A connection that was in use a moment ago is not worth the ping; one that
/// sat idle may have been closed by the server (`wait_timeout`) or a restart, so it still gets
/// one. A link that breaks while busy fails that one request (a 503) and is closed when it is
/// returned, by sqlx's own check on release.
fn ping_only_after_idle<DB: sqlx::Database>(options: sqlx::pool::PoolOptions<DB>) -> sqlx::pool::PoolOptions<DB> {
    options.test_before_acquire(false).before_acquire(|connection, meta| {
        Box::pin(async move {
            if meta.idle_for >= PING_AFTER_IDLE {
                sqlx::Connection::ping(connection).await?;
            }
            Ok(true)
        })
    })
}

/// Whether a `sqlite:` URL names a file on disk that may be created: not an in-memory
/// database (whose "file name" is only a name) nor one opened read-only.
fn sqlite_on_disk(url: &str) -> bool {
    let (location, query) = url.split_once('?').unwrap_or((url, ""));
    let memory_or_read_only = query
        .split('&')
        .any(|pair| matches!(pair, "mode=memory" | "mode=ro" | "immutable=1" | "immutable=true"));
    !location.ends_with(":memory:") && !memory_or_read_only
}

/// The store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Db,
    dialect: Dialect,
    sql: &'static Queries,
}

impl SqlStore {
    /// Opens a pool for `url`. With `lazy`, no connection is made until first use (so a node
    /// can be built while the database is down, e.g. to test the 503 path).
    pub async fn connect(url: &str, pool: PoolSettings, lazy: bool) -> anyhow::Result<Self> {
        let dialect = Dialect::from_url(url).ok_or_else(|| anyhow::anyhow!("unsupported database URL"))?;
        let db = match dialect {
            Dialect::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(pool.timeout.max(Duration::from_secs(5)))
                    .foreign_keys(true);
                if sqlite_on_disk(url) {
                    let path = options.get_filename();
                    if let Some(parent) = path.parent()
                        && !parent.as_os_str().is_empty()
                    {
                        crate::files::create_private_dir(parent)?;
                    }
                    // The file holds every password hash: made 0600 before SQLite makes it
                    // 0644 (its -wal and -shm files then follow its mode).
                    crate::files::create_private_file(path)?;
                    if crate::files::is_shared(path) {
                        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
                        tracing::warn!(
                            path = %path.display(),
                            "the SQLite database is readable by other users (made by an older hufu?): chmod 600 it"
                        );
                    }
                }
                // An in-process database has no link to go stale: no ping before use.
                let builder = SqlitePoolOptions::new()
                    .max_connections(pool.max_connections)
                    .acquire_timeout(pool.timeout)
                    .test_before_acquire(false);
                Db::Sqlite(if lazy {
                    builder.connect_lazy_with(options)
                } else {
                    builder.connect_with(options).await?
                })
            }
            Dialect::MySql => {
                let url = url.replacen("mariadb://", "mysql://", 1);
                let options = MySqlConnectOptions::from_str(&url)?.charset("utf8mb4");
                let builder = ping_only_after_idle(
                    MySqlPoolOptions::new()
                        .max_connections(pool.max_connections)
                        .acquire_timeout(pool.timeout),
                );
                Db::MySql(if lazy {
                    builder.connect_lazy_with(options)
                } else {
                    builder.connect_with(options).await?
                })
            }
            Dialect::Postgres => {
                let options = PgConnectOptions::from_str(url)?;
                let builder = ping_only_after_idle(
                    PgPoolOptions::new()
                        .max_connections(pool.max_connections)
                        .acquire_timeout(pool.timeout),
                );
                Db::Postgres(if lazy {
                    builder.connect_lazy_with(options)
                } else {
                    builder.connect_with(options).await?
                })
            }
        };
        Ok(Self {
            db,
            dialect,
            sql: queries::for_dialect(dialect),
        })
    }

    /// The dialect of this store.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Applies the versioned migrations of this dialect (idempotent; several nodes may run it
    /// at once: MySQL and PostgreSQL take a lock, SQLite serialises writers).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.db {
            Db::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::MySql(pool) => sqlx::migrate!("migrations/mysql").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// The pool's open connections and how many of them are idle (for `/metrics`).
    pub fn pool_connections(&self) -> (u32, usize) {
        dispatch!(&self.db, pool => (pool.size(), pool.num_idle()))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        dispatch!(&self.db, pool => pool.close().await)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(&self.db, pool => sqlx::query(self.sql.ping).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_error)?;
        Ok(())
    }

    /// Inserts a user, with its audit entry in the same transaction. A proved email or phone
    /// (`email_verified`, `phone_verified`) is first taken from another account that holds it
    /// unverified (returned, for the caller to audit); one held verified is a duplicate.
    pub async fn create_user(&self, user: &NewUser, audit: Option<&AuditRecord>) -> Result<Vec<Reclaimed>, StoreError> {
        let outcome = retry_on_conflict(|| async {
            dispatch!(&self.db, pool => async {
                let mut tx = begin_write(pool).await?;
                let mut reclaimed = Vec::new();
                let proved = [
                    (user.email_verified, UniqueField::Email, user.email_key.as_deref()),
                    (user.phone_verified, UniqueField::Phone, user.phone.as_deref()),
                ];
                for (is_proved, field, value) in proved {
                    let Some(value) = value.filter(|_| is_proved) else { continue };
                    match identifiers::reclaim_in_tx!(self.sql, tx, field, value, user.id, user.now_ms) {
                        Ok(found) => reclaimed.extend(found),
                        Err(held) => {
                            tx.rollback().await?;
                            return Ok(Err(held));
                        }
                    }
                }
                insert_user!(self.sql.insert_user, user).execute(&mut *tx).await?;
                audit_in_tx!(self.sql, tx, audit);
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Ok(reclaimed))
            }.await)
        })
        .await
        .map_err(map_error)?;
        outcome.map_err(identifiers::taken)
    }

    /// Which of these unique values another account already has (the first found, in the
    /// order username, email, phone). A cheap pre-check before hashing a password; the unique
    /// indexes remain the authority.
    pub async fn taken(
        &self,
        username_key: Option<&str>,
        email_key: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Option<UniqueField>, StoreError> {
        let rows: Vec<TakenRow> = dispatch!(&self.db, pool =>
            sqlx::query_as(self.sql.taken_keys)
                .bind(username_key)
                .bind(email_key)
                .bind(phone)
                .fetch_all(pool)
                .await)
        .map_err(map_error)?;
        let has = |f: &dyn Fn(&TakenRow) -> bool| rows.iter().any(f);
        Ok(if username_key.is_some_and(|k| has(&|r| r.0 == k)) {
            Some(UniqueField::Username)
        } else if email_key.is_some_and(|k| has(&|r| r.1.as_deref() == Some(k))) {
            Some(UniqueField::Email)
        } else if phone.is_some_and(|p| has(&|r| r.2.as_deref() == Some(p))) {
            Some(UniqueField::Phone)
        } else {
            None
        })
    }

    async fn user_where(&self, sql: &'static str, key: &str) -> Result<Option<Account>, StoreError> {
        let row: Option<UserRow> =
            dispatch!(&self.db, pool => sqlx::query_as(sql).bind(key).fetch_optional(pool).await).map_err(map_error)?;
        Ok(row.map(UserRow::into_account))
    }

    /// The account with this id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<Account>, StoreError> {
        let row: Option<UserRow> =
            dispatch!(&self.db, pool => sqlx::query_as(self.sql.user_by_id).bind(id).fetch_optional(pool).await)
                .map_err(map_error)?;
        Ok(row.map(UserRow::into_account))
    }

    /// The account with this username key.
    pub async fn user_by_username_key(&self, key: &str) -> Result<Option<Account>, StoreError> {
        self.user_where(self.sql.user_by_username_key, key).await
    }

    /// The account with this email key.
    pub async fn user_by_email_key(&self, key: &str) -> Result<Option<Account>, StoreError> {
        self.user_where(self.sql.user_by_email_key, key).await
    }

    /// The account with this normalised phone.
    pub async fn user_by_phone(&self, phone: &str) -> Result<Option<Account>, StoreError> {
        self.user_where(self.sql.user_by_phone, phone).await
    }

    /// Applies a profile update in one statement and returns the account as it now is
    /// (`None` when the user does not exist), with the identifiers it took from other accounts
    /// (a proved email or phone, see [`Proofs`]). A changed email or phone is stored verified
    /// only when proved.
    pub async fn update_profile(
        &self,
        id: i64,
        update: &ProfileUpdate,
        now_ms: i64,
        audit: Option<&AuditRecord>,
    ) -> Result<(Option<Account>, Vec<Reclaimed>), StoreError> {
        use super::Change::{Keep, Set};
        let (username, username_key) = match &update.username {
            Set((display, key)) => (Some(display.as_str()), Some(key.as_str())),
            Keep => (None, None),
        };
        let (email, email_key) = match &update.email {
            Set(Some((display, key))) => (Some(display.as_str()), Some(key.as_str())),
            Set(None) | Keep => (None, None),
        };
        let value = |c: &super::Change<Option<String>>| match c {
            Set(v) => v.clone(),
            Keep => None,
        };
        let phone = value(&update.phone);
        let proofs = update.proofs;
        let outcome = retry_on_conflict(|| async {
            dispatch!(&self.db, pool => async {
                let mut tx = begin_write(pool).await?;
                let mut reclaimed = Vec::new();
                let proved = [
                    (proofs.email, UniqueField::Email, email_key),
                    (proofs.phone, UniqueField::Phone, phone.as_deref()),
                ];
                for (is_proved, field, value) in proved {
                    let Some(value) = value.filter(|_| is_proved) else { continue };
                    match identifiers::reclaim_in_tx!(self.sql, tx, field, value, id, now_ms) {
                        Ok(found) => reclaimed.extend(found),
                        Err(held) => {
                            tx.rollback().await?;
                            return Ok(Err(held));
                        }
                    }
                }
                sqlx::query(self.sql.update_profile)
                    .bind(update.username.is_set())
                    .bind(username)
                    .bind(update.username.is_set())
                    .bind(username_key)
                    .bind(update.email.is_set())
                    .bind(email)
                    .bind(update.email.is_set())
                    .bind(email_key)
                    .bind(update.phone.is_set())
                    .bind(phone.as_deref())
                    .bind(update.email.is_set())
                    .bind(i16::from(proofs.email && email_key.is_some()))
                    .bind(update.phone.is_set())
                    .bind(i16::from(proofs.phone && phone.is_some()))
                    .bind(update.nickname.is_set())
                    .bind(value(&update.nickname))
                    .bind(update.avatar_url.is_set())
                    .bind(value(&update.avatar_url))
                    .bind(now_ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                audit_in_tx!(self.sql, tx, audit);
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Ok(reclaimed))
            }.await)
        })
        .await
        .map_err(map_error)?;
        let reclaimed = outcome.map_err(identifiers::taken)?;
        // Read back rather than trust the affected-row count: MySQL counts only rows whose
        // values changed, so a no-op update would look like a missing user.
        Ok((self.user_by_id(id).await?, reclaimed))
    }

    /// Replaces a user's password hash by a stronger hash of the same password, only if the
    /// stored hash is still `old`; whether it was replaced.
    pub async fn upgrade_password_hash(&self, id: i64, old: &str, new: &str) -> Result<bool, StoreError> {
        let affected = dispatch!(&self.db, pool => sqlx::query(self.sql.upgrade_password_hash)
            .bind(new)
            .bind(id)
            .bind(old)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(map_error)?;
        Ok(affected > 0)
    }

    /// How many stored password hashes are bcrypt, by cost (imported hashes not yet upgraded).
    pub async fn bcrypt_hash_costs(&self) -> Result<Vec<(u32, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = dispatch!(&self.db, pool => sqlx::query_as(self.sql.bcrypt_hash_costs)
            .bind("$2%")
            .fetch_all(pool)
            .await)
        .map_err(map_error)?;
        Ok(rows
            .into_iter()
            .filter_map(|(prefix, hashes)| {
                let cost = prefix.get(4..6)?.parse().ok()?;
                Some((cost, u64::try_from(hashes).ok()?))
            })
            .collect())
    }
}

/// How many times in all a transaction the database broke a deadlock with is run.
const DEADLOCK_ATTEMPTS: usize = 3;

/// Runs `transaction` (a closure that runs a whole transaction, from begin to commit) again
/// while the database aborts it to break a deadlock ([`is_deadlock`]), up to
/// [`DEADLOCK_ATTEMPTS`] runs in all; any other outcome, or the last attempt's deadlock, is
/// returned as it is. Only for transactions that are safe to run twice: the aborted one
/// wrote nothing.
async fn retry_on_conflict<T, F, Fut>(mut transaction: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut attempt = 1;
    loop {
        match transaction().await {
            Err(error) if is_deadlock(&error) && attempt < DEADLOCK_ATTEMPTS => attempt += 1,
            outcome => return outcome,
        }
    }
}

/// Begins a transaction that reads rows and then writes on what it read. SQLite takes the
/// write lock at `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes cannot
/// upgrade its lock once another writer has committed (`SQLITE_BUSY_SNAPSHOT` under WAL), so
/// concurrent callers queue at the start instead. MySQL and PostgreSQL begin normally; their
/// statements lock the rows they read themselves (`FOR UPDATE`, or a shared lock).
async fn begin_write<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error> {
    if std::any::TypeId::of::<DB>() == std::any::TypeId::of::<sqlx::Sqlite>() {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

/// Whether the database aborted this transaction to break a deadlock or a serialisation
/// conflict. InnoDB does that to concurrent inserts of one unique value (the shared locks of
/// the duplicate-key checks); running the transaction again is the remedy, and the retry then
/// meets the unique index like any other duplicate.
pub(super) fn is_deadlock(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001" | "40P01" | "1213")))
}

/// Sorts a driver error into the store's categories.
pub(super) fn map_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            // PostgreSQL names the constraint. MySQL says "Duplicate entry '<value>' for key
            // '<index>'" and SQLite "UNIQUE constraint failed: <table>.<column>": read only the
            // part after the value, since the value itself may contain any of our names.
            let message = db.message();
            let text = match db.constraint() {
                Some(constraint) => constraint,
                None => message.rsplit_once("for key ").map_or(message, |(_, index)| index),
            };
            let duplicate = if text.contains("username_key") {
                Duplicate::Field(UniqueField::Username)
            } else if text.contains("email_key") {
                Duplicate::Field(UniqueField::Email)
            } else if text.contains("phone") {
                Duplicate::Field(UniqueField::Phone)
            } else {
                Duplicate::Id
            };
            StoreError::Duplicate(duplicate)
        }
        // SQLite's "database is locked" after the busy timeout: overloaded, not broken.
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("5" | "6" | "517")) => {
            StoreError::Unavailable(error)
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error),
        _ => StoreError::Other(error.into()),
    }
}

#[cfg(test)]
mod file_tests {
    use super::sqlite_on_disk;

    #[test]
    fn only_a_writable_file_database_is_created_on_disk() {
        for url in [
            "sqlite://./data/hufu.db",
            "sqlite:///var/lib/hufu/hufu.db",
            "sqlite:hufu.db?mode=rwc",
        ] {
            assert!(sqlite_on_disk(url), "{url}");
        }
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite://shared?mode=memory&cache=shared",
            "sqlite://./data/hufu.db?mode=ro",
        ] {
            assert!(!sqlite_on_disk(url), "{url}");
        }
    }
}
