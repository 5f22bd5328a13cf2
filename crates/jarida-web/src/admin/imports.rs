//! Readers in and out as CSV files, for owners and editors: the import form, whose upload streams
//! to the data folder and becomes a background job (its page follows the progress and ends with
//! the report, every refused row with its line and reason, downloadable as CSV); and the files a
//! job made: an export of a filter, and an import's refused rows.

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use jarida_accounts::audit;
use jarida_core::Lang;
use jarida_newsletter::bulk::{self, Action, ImportSpec, JobStatus};
use minijinja::Value;
use rand::RngCore;

use super::auth::{csrf_failed, forbidden};
use super::{Signed, fail, frame, message, now, redirect};
use crate::{App, AppRef};

/// The largest file the form takes, as the API's import does.
pub const MAX_UPLOAD_BYTES: usize = 200 * 1024 * 1024;

fn form_page(app: &App, s: &Signed, status: StatusCode, error: Option<String>) -> Response {
    let lang = s.lang();
    let mut ctx = frame(
        app,
        lang,
        Some(s),
        app.theme.t(lang, "admin-import-title"),
        "readers",
    );
    ctx.insert(
        "langs",
        crate::ser(Lang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>()),
    );
    ctx.insert("max_mb", Value::from(MAX_UPLOAD_BYTES / (1024 * 1024)));
    if let Some(e) = error {
        ctx.insert("error", Value::from(e));
    }
    super::page(app, status, "reader-import.html", ctx)
}

pub(crate) async fn form(State(app): State<AppRef>, s: Signed) -> Response {
    if !s.user.role.can_see_readers() {
        return forbidden(&app, &s);
    }
    form_page(&app, &s, StatusCode::OK, None)
}

/// Removes a half-received upload.
async fn discard(path: &std::path::Path) {
    let _ = tokio::fs::remove_file(path).await;
}

pub(crate) async fn upload(State(app): State<AppRef>, s: Signed, mut form: Multipart) -> Response {
    // The role is known before a byte of the body is read.
    if !s.user.role.can_see_readers() {
        return forbidden(&app, &s);
    }
    let lang = s.lang();
    let dir = bulk::upload_dir(&app.cfg.data_dir);
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return fail(e);
    }
    let mut token = [0u8; 12];
    rand::rng().fill_bytes(&mut token);
    let file = format!("upload-{}.csv", hex::encode(token));
    let path = dir.join(&file);
    let (mut csrf, mut reader_lang, mut confirmed) = (String::new(), String::new(), false);
    let mut name = None;
    let mut size = 0usize;
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                discard(&path).await;
                let msg = format!("{}: {e}", app.theme.t(lang, "admin-import-file"));
                return form_page(&app, &s, StatusCode::BAD_REQUEST, Some(msg));
            }
        };
        match field.name().unwrap_or("") {
            "file" if !s.csrf_ok(&csrf) => {
                // The form sends its token first: nothing is written for a forged one. The rest
                // is read and dropped, so the browser sees the refusal rather than a cut
                // connection (only a signed-in editor gets this far).
                while let Ok(Some(_)) = field.chunk().await {}
            }
            "file" => {
                name = Some(field.file_name().unwrap_or("readers.csv").to_string());
                let mut out = match tokio::fs::File::create(&path).await {
                    Ok(f) => f,
                    Err(e) => return fail(e),
                };
                loop {
                    match field.chunk().await {
                        Ok(Some(bytes)) => {
                            size += bytes.len();
                            if size > MAX_UPLOAD_BYTES {
                                discard(&path).await;
                                let msg = app.theme.i18n.t(
                                    lang,
                                    "admin-import-too-large",
                                    &[("max", ((MAX_UPLOAD_BYTES / (1024 * 1024)) as i64).into())],
                                );
                                return form_page(
                                    &app,
                                    &s,
                                    StatusCode::PAYLOAD_TOO_LARGE,
                                    Some(msg),
                                );
                            }
                            if let Err(e) =
                                tokio::io::AsyncWriteExt::write_all(&mut out, &bytes).await
                            {
                                discard(&path).await;
                                return fail(e);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            discard(&path).await;
                            let msg = format!("{}: {e}", app.theme.t(lang, "admin-import-file"));
                            return form_page(&app, &s, StatusCode::BAD_REQUEST, Some(msg));
                        }
                    }
                }
                if let Err(e) = tokio::io::AsyncWriteExt::flush(&mut out).await {
                    discard(&path).await;
                    return fail(e);
                }
            }
            other => {
                let other = other.to_string();
                let text = field.text().await.unwrap_or_default();
                match other.as_str() {
                    "csrf" => csrf = text,
                    "lang" => reader_lang = text,
                    "confirmed" => confirmed = !text.is_empty(),
                    _ => {}
                }
            }
        }
    }
    if !s.csrf_ok(&csrf) {
        discard(&path).await;
        return csrf_failed(&app, &s);
    }
    let Some(name) = name.filter(|_| size > 0) else {
        discard(&path).await;
        let msg = app.theme.t(lang, "admin-import-choose");
        return form_page(&app, &s, StatusCode::UNPROCESSABLE_ENTITY, Some(msg));
    };
    let reader_lang = Lang::parse(reader_lang.trim()).unwrap_or(app.cfg.default_lang);
    let spec = ImportSpec {
        file,
        name: name.chars().take(200).collect(),
        confirmed,
        lang: reader_lang.code().to_string(),
    };
    let r: Result<i64, String> = async {
        let mut tx = app.db.begin().await.map_err(|e| e.to_string())?;
        let id = bulk::create_import(
            &mut tx,
            &spec,
            size as i64,
            &s.user.name,
            Some(s.user.id),
            now(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let detail = format!(
            "{} ({size} bytes, {})",
            spec.name,
            if confirmed { "confirmed" } else { "to confirm" }
        );
        audit::record(
            &mut tx,
            &s.actor(),
            "readers.import",
            &format!("job {id}"),
            &detail,
            now(),
        )
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        Ok(id)
    }
    .await;
    match r {
        Ok(id) => redirect(&format!("/admin/jobs/{id}")),
        Err(e) => {
            discard(&path).await;
            fail(e)
        }
    }
}

/// A job that exists and is done, for its files; otherwise the page saying why not.
async fn done_job(app: &App, s: &Signed, id: i64, action: Action) -> Result<bulk::Job, Response> {
    if !s.user.role.can_see_readers() {
        return Err(forbidden(app, s));
    }
    match bulk::get(&app.db, id).await {
        Ok(Some(j)) if j.action == action && j.status == JobStatus::Done => Ok(j),
        Ok(_) => Err(message(
            app,
            s.lang(),
            Some(s),
            StatusCode::NOT_FOUND,
            "admin-not-found-title",
            app.theme.t(s.lang(), "admin-job-no-file"),
        )),
        Err(e) => Err(fail(e)),
    }
}

fn csv_download(body: Body, name: &str) -> Response {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The CSV an export job wrote, streamed from the data folder.
pub(crate) async fn export_file(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = done_job(&app, &s, id, Action::Export).await {
        return r;
    }
    let path = bulk::export_file(&app.cfg.data_dir, id);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => {
            return message(
                &app,
                s.lang(),
                Some(&s),
                StatusCode::GONE,
                "admin-not-found-title",
                app.theme.t(s.lang(), "admin-job-file-gone"),
            );
        }
    };
    if let Err(e) = record_download(&app, &s, id).await {
        return fail(e);
    }
    let stream = tokio_util_stream(file);
    csv_download(Body::from_stream(stream), &format!("readers-{id}.csv"))
}

async fn record_download(app: &App, s: &Signed, id: i64) -> Result<(), jarida_store::StoreError> {
    let mut tx = app.db.begin().await?;
    audit::record(
        &mut tx,
        &s.actor(),
        "readers.export-download",
        &format!("job {id}"),
        "",
        now(),
    )
    .await?;
    tx.commit().await
}

/// A file as a stream of chunks, read as the client takes them (an export of a million readers
/// does not sit in memory).
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> {
    futures_util::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match tokio::io::AsyncReadExt::read(&mut f, &mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
}

/// An import's refused rows as CSV: line and reason.
pub(crate) async fn import_errors(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
) -> Response {
    let job = match done_job(&app, &s, id, Action::Import).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    let report: serde_json::Value = job
        .report
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let mut out = String::from("line,reason\n");
    for e in report["errors"].as_array().into_iter().flatten() {
        let line = e[0].as_u64().unwrap_or(0);
        let why = e[1].as_str().unwrap_or("");
        let why = jarida_audience::csv_io::neutralize(why.to_string()).replace('"', "\"\"");
        out.push_str(&format!("{line},\"{why}\"\n"));
    }
    csv_download(Body::from(out), &format!("import-{id}-refused.csv"))
}

/// The job page's part for an import: its report, read for the template.
pub(crate) fn import_report(job: &bulk::Job) -> Option<serde_json::Value> {
    if job.action != Action::Import {
        return None;
    }
    let mut r: serde_json::Value = serde_json::from_str(job.report.as_deref()?).ok()?;
    // The page lists the first refused rows; the file has them all.
    if let Some(errors) = r["errors"].as_array_mut() {
        errors.truncate(100);
    }
    Some(r)
}

/// What the job page says of an import's options.
pub(crate) fn import_spec(job: &bulk::Job) -> Option<ImportSpec> {
    (job.action == Action::Import)
        .then(|| serde_json::from_str(&job.filter).ok())
        .flatten()
}
