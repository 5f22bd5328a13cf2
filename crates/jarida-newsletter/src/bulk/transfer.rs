//! Readers in and out as files: an export of a filter to `exports/readers-<job>.csv` in the data
//! folder, and an import of a CSV file an editor uploaded to `imports/`. Each runs as one pass
//! under the job's lease, its progress (reader rows, or bytes of the file) written to the job row
//! every half second so any process's admin can show it. A worker that dies mid-way loses the
//! lease; the next one starts the job again from the beginning: an export writes its file afresh
//! (to a `.part` file renamed at the end, so a half-written export is never offered), an import
//! reads the file again and the readers the first pass committed count as already subscribed.
//! The uploaded file is deleted once its import is over.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jarida_audience::AudienceError;
use jarida_audience::csv_io::{self, Exporter, ImportOptions};
use jarida_audience::directory::{self, ReaderFilter};
use jarida_store::{Db, q_exec, q_one};

use super::{CHUNK, Claimed, Context, LEASE_SECS, finish, finish_held};
use crate::NewsletterError;

/// What an uploaded import is to do, kept in the job's filter column.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ImportSpec {
    /// The file's name in [`upload_dir`].
    pub file: String,
    /// The name it was uploaded under, for the job's page.
    pub name: String,
    /// The readers confirmed elsewhere: imported as subscribed, with consent recorded as imported.
    /// Otherwise each new reader is pending and gets a confirmation email.
    pub confirmed: bool,
    /// The language of rows without one.
    pub lang: String,
}

/// Where uploaded imports wait for their job.
pub fn upload_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("imports")
}

/// Where export job `id` writes its file.
pub fn export_file(data_dir: &Path, id: i64) -> PathBuf {
    data_dir.join("exports").join(format!("readers-{id}.csv"))
}

/// Makes an import job for a file already in [`upload_dir`], `size` bytes long, in the caller's
/// transaction (the audit line goes in the same one).
pub async fn create_import(
    tx: &mut jarida_store::Tx,
    spec: &ImportSpec,
    size: i64,
    actor: &str,
    created_by: Option<i64>,
    now: i64,
) -> Result<i64, NewsletterError> {
    let (id,): (i64,) = q_one!(
        tx.conn(),
        (i64,),
        "INSERT INTO bulk_jobs (action, filter_json, status, total, upto, next_at, actor, created_by, created_at) \
         VALUES ('import', $1, 'queued', $2, 0, $3, $4, $5, $3) RETURNING id",
        serde_json::to_string(spec).unwrap_or_default(),
        size,
        now,
        actor,
        created_by
    )?;
    Ok(id)
}

/// Writes `done` (and, for an import, `changed`) to the job and renews the lease; false when the
/// lease was lost.
async fn progress(
    db: &Db,
    id: i64,
    holder: &str,
    done: i64,
    changed: i64,
) -> Result<bool, NewsletterError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut tx = db.begin().await?;
    let n = q_exec!(
        tx.conn(),
        "UPDATE bulk_jobs SET done = $1, changed = $2, next_at = $3 WHERE id = $4 AND holder = $5",
        done,
        changed,
        now + LEASE_SECS,
        id,
        holder
    )?;
    tx.commit().await?;
    Ok(n > 0)
}

/// The export of the readers `filter` matched when the job was made.
pub(super) async fn export(
    db: &Db,
    ctx: &Context,
    job: &Claimed,
    filter: &ReaderFilter,
    holder: &str,
) -> Result<(), NewsletterError> {
    let path = export_file(&ctx.data_dir, job.id);
    let part = path.with_extension("csv.part");
    let r: Result<Option<u64>, NewsletterError> = async {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(&part)?;
        let mut out = Exporter::new(std::io::BufWriter::new(file))?;
        let (mut cursor, mut rows) = (0i64, 0u64);
        loop {
            let mut c = db.acquire().await?;
            let ids = directory::ids_after(c.conn(), filter, cursor, job.upto, CHUNK).await?;
            let Some(last) = ids.last().map(|i| i.0) else {
                break;
            };
            rows += out.readers(c.conn(), &ids).await?;
            drop(c);
            cursor = last;
            if !progress(db, job.id, holder, rows as i64, rows as i64).await? {
                return Ok(None);
            }
        }
        use std::io::Write;
        out.finish()?.flush()?;
        std::fs::rename(&part, &path)?;
        Ok(Some(rows))
    }
    .await;
    match r {
        Ok(Some(rows)) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let report = serde_json::json!({ "file": name, "rows": rows });
            finish(db, job.id, holder, None, Some(&report)).await?;
            tracing::info!(job = job.id, rows, "export written");
        }
        Ok(None) => {
            let _ = std::fs::remove_file(&part);
            tracing::warn!(
                job = job.id,
                "export: lease lost; another worker starts it again"
            );
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            finish(db, job.id, holder, Some(&e.to_string()), None).await?;
        }
    }
    Ok(())
}

/// Counts the bytes read through it: an import's progress through its file.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An uploaded file's import, with its report kept on the job.
pub(super) async fn import(
    db: &Db,
    ctx: &Context,
    job: &Claimed,
    holder: &str,
) -> Result<(), NewsletterError> {
    let spec: ImportSpec = match serde_json::from_str(&job.filter) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("its options do not read: {e}");
            return finish(db, job.id, holder, Some(&why), None).await;
        }
    };
    // The name is ours (made at upload), but it must stay a plain name in the folder.
    if spec.file.contains(['/', '\\']) || spec.file.starts_with('.') {
        return finish(
            db,
            job.id,
            holder,
            Some("the file's name is not ours"),
            None,
        )
        .await;
    }
    let path = upload_dir(&ctx.data_dir).join(&spec.file);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            let why = format!("the uploaded file is not there any more: {e}");
            return finish(db, job.id, holder, Some(&why), None).await;
        }
    };
    // The claim counts attempts after reading them: 0 on the first.
    let resumed = job.attempts > 0;
    tracing::info!(job = job.id, resumed, "import started");
    let read = Arc::new(AtomicU64::new(0));
    let reader = Counting {
        inner: std::io::BufReader::with_capacity(256 * 1024, file),
        read: read.clone(),
    };
    let opts = ImportOptions {
        confirmed: spec.confirmed,
        default_lang: spec.lang.clone(),
        mapping: None,
        confirm_ttl_secs: ctx.confirm_ttl_secs,
        confirmation: if spec.confirmed {
            None
        } else {
            ctx.composer.clone()
        },
    };
    // The progress, written beside the import while it runs.
    let rows = Arc::new(AtomicU64::new(0));
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let ticker = {
        let (db, read, rows, holder, id) = (
            db.clone(),
            read.clone(),
            rows.clone(),
            holder.to_string(),
            job.id,
        );
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    _ = stopped.changed() => return,
                }
                let done = read.load(Ordering::Relaxed) as i64;
                let rows = rows.load(Ordering::Relaxed) as i64;
                if let Err(e) = progress(&db, id, &holder, done, rows).await {
                    tracing::warn!(job = id, error = %e, "import progress");
                }
            }
        })
    };
    let now = time::OffsetDateTime::now_utc();
    let r = csv_io::import(db, reader, &opts, now, |n| rows.store(n, Ordering::Relaxed)).await;
    let _ = stop.send(true);
    let _ = ticker.await;
    let outcome: bool = match r {
        Ok(rep) => {
            let report = serde_json::json!({
                "name": spec.name,
                "format": rep.format,
                "rows": rep.rows,
                "imported": rep.imported,
                "existing": rep.existing,
                "suppressed": rep.suppressed,
                "duplicates": rep.duplicates,
                "confirmations": rep.confirmations,
                "error_count": rep.error_count,
                "errors": rep.errors.iter().map(|(line, why)| serde_json::json!([line, why])).collect::<Vec<_>>(),
                "resumed": resumed,
            });
            let mut tx = db.begin().await?;
            q_exec!(
                tx.conn(),
                "UPDATE bulk_jobs SET done = total, changed = $1 WHERE id = $2 AND holder = $3",
                rep.imported as i64,
                job.id,
                holder
            )?;
            tx.commit().await?;
            finish_held(db, job.id, holder, None, Some(&report)).await?
        }
        // The file's own fault, with its line.
        Err(AudienceError::Csv { line, reason }) => {
            let why = format!("line {line}: {reason}");
            finish_held(db, job.id, holder, Some(&why), None).await?
        }
        Err(e) => {
            // A database failure may be the moment's: the next claim tries again, up to the
            // attempts the other jobs get.
            if job.attempts + 1 >= super::ATTEMPTS {
                finish_held(db, job.id, holder, Some(&e.to_string()), None).await?
            } else {
                tracing::warn!(job = job.id, error = %e, "import failed; tried again");
                false
            }
        }
    };
    // The file holds readers' addresses: it goes once the import is over. A worker that lost the
    // job meanwhile leaves it to the one that has it now.
    if outcome && let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(job = job.id, error = %e, "removing an uploaded import");
    }
    Ok(())
}

/// How long an export stays downloadable: it holds readers' addresses, and a reader erased since
/// must not linger in a file for long.
pub const EXPORT_KEPT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes exports older than [`EXPORT_KEPT`] and uploads no job took within a week; how many.
pub fn forget_old_files(data_dir: &Path) -> std::io::Result<usize> {
    let mut gone = 0;
    for (dir, age) in [
        (data_dir.join("exports"), EXPORT_KEPT),
        (
            upload_dir(data_dir),
            std::time::Duration::from_secs(7 * 24 * 3600),
        ),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|a| a > age);
            if old {
                std::fs::remove_file(e.path())?;
                gone += 1;
            }
        }
    }
    Ok(gone)
}

/// Removes the exports that hold `email` (an erased reader must not stay in a file), or with
/// None every export (after a bulk erasure, rather than reading each file once per reader).
pub fn forget_exports(data_dir: &Path, email: Option<&str>) -> std::io::Result<usize> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("exports")) else {
        return Ok(0);
    };
    let mut gone = 0;
    for e in entries.flatten() {
        let holds = match email {
            None => true,
            Some(addr) => std::fs::read(e.path())
                .map(|bytes| {
                    bytes
                        .windows(addr.len())
                        .any(|w| w.eq_ignore_ascii_case(addr.as_bytes()))
                })
                .unwrap_or(true),
        };
        if holds {
            std::fs::remove_file(e.path())?;
            gone += 1;
        }
    }
    Ok(gone)
}
