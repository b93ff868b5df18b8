//! `pg2lite snapshot --hold`: a session that exports a snapshot and keeps it alive, so that
//! several exports (the shards of an every-tenant run, on several machines) read the same
//! instant with `--snapshot ID`. A snapshot lives only while the transaction that exported it
//! is open, so this holds that transaction until it is told to stop.

use super::{Error, Source};

/// Opens a REPEATABLE READ, READ ONLY transaction, exports its snapshot, hands the id to
/// `ready`, and holds the transaction until SIGINT or SIGTERM. The server's `idle_in_transaction_session_timeout` is turned off for this
/// session, since being idle in a transaction is its whole job.
///
/// # Errors
/// Connecting or exporting the snapshot failed, the signal handlers could not be set.
pub async fn hold(source: &Source, ready: impl FnOnce(&str)) -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let client = source.connect().await?;
    let q = |e: tokio_postgres::Error| source.query_error(&e);
    client
        .batch_execute(
            "SET idle_in_transaction_session_timeout = 0; \
             BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )
        .await
        .map_err(q)?;
    let row = client.query_one("SELECT pg_catalog.pg_export_snapshot()", &[]).await.map_err(q)?;
    let id: String = row.get(0);
    let mut term = signal(SignalKind::terminate()).map_err(Error::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Signal)?;
    ready(&id);
    futures_util::future::select(Box::pin(term.recv()), Box::pin(int.recv())).await;
    let _ = client.batch_execute("ROLLBACK").await;
    Ok(())
}
