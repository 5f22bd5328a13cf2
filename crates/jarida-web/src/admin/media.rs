//! The media library: upload (file picker, or drag and drop onto the form), alt text in both
//! languages, search, and deletion, which is refused while a post still uses the image and says
//! which. Uploads are checked and cleaned by `jarida_content::library::prepare` off the async
//! threads; the files are written before the row, and removed again if the row does not commit.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jarida_accounts::audit;
use jarida_content::library;
use jarida_content::media::MediaDir;
use minijinja::Value;

use super::auth::{CsrfOnly, csrf_failed, forbidden};
use super::{Signed, fail, frame, now, page, redirect};
use crate::{App, AppRef};

#[derive(serde::Deserialize, Default)]
pub struct MediaQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: Option<String>,
}

async fn library_page(
    app: &App,
    s: &Signed,
    status: StatusCode,
    q: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let items = match library::list(&app.db, Some(q), 200).await {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let lang = s.lang();
    let mut ctx = frame(
        app,
        lang,
        Some(s),
        app.theme.t(lang, "admin-media-title"),
        "media",
    );
    let shown: Vec<_> = items
        .iter()
        .map(|i| serde_json::json!({ "item": i, "url": i.url() }))
        .collect();
    ctx.insert("items", crate::ser(&shown));
    ctx.insert("q", Value::from(q));
    ctx.insert("may_delete", Value::from(s.user.role.can_delete_media()));
    ctx.insert(
        "max_mb",
        Value::from(jarida_content::media::MAX_IMAGE_BYTES / 1024 / 1024),
    );
    if let Some(n) = notice {
        ctx.insert("notice", Value::from(n));
    }
    if let Some(e) = error {
        ctx.insert("error", Value::from(e));
    }
    page(app, status, "media.html", ctx)
}

pub(crate) async fn list(
    State(app): State<AppRef>,
    s: Signed,
    Query(q): Query<MediaQuery>,
) -> Response {
    let notice = q.done.map(|_| app.theme.t(s.lang(), "admin-saved"));
    library_page(&app, &s, StatusCode::OK, &q.q, notice, None).await
}

pub(crate) async fn upload(State(app): State<AppRef>, s: Signed, mut form: Multipart) -> Response {
    let (mut csrf, mut alt_en, mut alt_ar) = (String::new(), String::new(), String::new());
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let msg = format!("{}: {e}", app.theme.t(s.lang(), "admin-media-file"));
                return library_page(&app, &s, StatusCode::BAD_REQUEST, "", None, Some(msg)).await;
            }
        };
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = match field.bytes().await {
            Ok(d) => d,
            Err(e) => {
                let msg = format!("{}: {e}", app.theme.t(s.lang(), "admin-media-file"));
                return library_page(&app, &s, StatusCode::PAYLOAD_TOO_LARGE, "", None, Some(msg))
                    .await;
            }
        };
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&data).into_owned(),
            "alt_en" => alt_en = String::from_utf8_lossy(&data).into_owned(),
            "alt_ar" => alt_ar = String::from_utf8_lossy(&data).into_owned(),
            "file" if !data.is_empty() => {
                file = Some((file_name.unwrap_or_else(|| "image".into()), data.to_vec()))
            }
            _ => {}
        }
    }
    if !s.csrf_ok(&csrf) {
        return csrf_failed(&app, &s);
    }
    let Some((file_name, bytes)) = file else {
        let msg = app.theme.t(s.lang(), "admin-media-choose");
        return library_page(
            &app,
            &s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
            None,
            Some(msg),
        )
        .await;
    };
    match add_image(&app, &s, file_name, bytes, &alt_en, &alt_ar).await {
        Ok(_) => redirect("/admin/media?done=uploaded"),
        Err(NotAdded::Refused(reason)) => {
            library_page(
                &app,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                "",
                None,
                Some(reason),
            )
            .await
        }
        Err(NotAdded::Failed(r)) => r,
    }
}

/// Why an image was not added: a reason the editor can act on, or a failure already answered.
pub(super) enum NotAdded {
    Refused(String),
    Failed(Response),
}

/// Adds an uploaded image to the library: checked and cleaned off the async threads, its files
/// written, then its row and audit line in one transaction (the files go again if that does not
/// commit). Returns its id and URL.
pub(super) async fn add_image(
    app: &App,
    s: &Signed,
    file_name: String,
    bytes: Vec<u8>,
    alt_en: &str,
    alt_ar: &str,
) -> Result<(i64, String), NotAdded> {
    let prepared =
        match tokio::task::spawn_blocking(move || library::prepare(&file_name, bytes)).await {
            Ok(Ok(p)) => p,
            Ok(Err(reason)) => return Err(NotAdded::Refused(reason)),
            Err(e) => return Err(NotAdded::Failed(fail(e))),
        };
    let dir = MediaDir::new(&app.cfg.media_dir);
    let image = prepared.image.clone();
    let written = match tokio::task::spawn_blocking(move || {
        dir.write_all(std::slice::from_ref(&image))
    })
    .await
    {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => return Err(NotAdded::Failed(fail(e))),
        Err(e) => return Err(NotAdded::Failed(fail(e))),
    };
    let r: Result<i64, jarida_content::ContentError> = async {
        let mut tx = app.db.begin().await?;
        let id =
            library::record(&mut tx, &prepared, alt_en, alt_ar, Some(s.user.id), now()).await?;
        audit::record(
            &mut tx,
            &s.actor(),
            "media.upload",
            &format!("media {id}"),
            &prepared.image.name,
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
    .await;
    match r {
        Ok(id) => Ok((id, prepared.image.url())),
        Err(e) => {
            jarida_content::media::remove(&written);
            Err(NotAdded::Failed(fail(e)))
        }
    }
}

#[derive(serde::Deserialize)]
pub struct AltForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    alt_en: String,
    #[serde(default)]
    alt_ar: String,
}

pub(crate) async fn update(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<AltForm>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    let r: Result<bool, jarida_content::ContentError> = async {
        let mut tx = app.db.begin().await?;
        let found = library::set_alt(&mut tx, id, &f.alt_en, &f.alt_ar).await?;
        audit::record(
            &mut tx,
            &s.actor(),
            "media.alt",
            &format!("media {id}"),
            "",
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(found)
    }
    .await;
    match r {
        Ok(true) => redirect("/admin/media?done=alt"),
        Ok(false) => redirect("/admin/media"),
        Err(e) => fail(e),
    }
}

pub(crate) async fn delete(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<CsrfOnly>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    if !s.user.role.can_delete_media() {
        return forbidden(&app, &s);
    }
    // The site's logo is an image of the library too: deleting it would leave every page's
    // header with a broken image.
    let logo = app.settings().logo.clone();
    let is_logo = |name: &str| {
        logo.as_deref()
            .is_some_and(|l| l.rsplit('/').next() == Some(name))
    };
    let mut refused_logo = false;
    let r: Result<library::Deleted, jarida_content::ContentError> = async {
        let mut tx = app.db.begin().await?;
        let out = library::delete(&mut tx, id).await?;
        if let library::Deleted::Deleted(item) = &out {
            if is_logo(&item.name) {
                // Dropping the transaction takes the deletion back.
                refused_logo = true;
                return Ok(library::Deleted::Gone);
            }
            audit::record(
                &mut tx,
                &s.actor(),
                "media.delete",
                &format!("media {id}"),
                &item.name,
                now(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(out)
    }
    .await;
    if refused_logo {
        let msg = app.theme.i18n.t(s.lang(), "admin-media-is-logo", &[]);
        return library_page(&app, &s, StatusCode::CONFLICT, "", None, Some(msg)).await;
    }
    match r {
        Ok(library::Deleted::Deleted(item)) => {
            let mut files = vec![app.cfg.media_dir.join(&item.name)];
            let width = u32::try_from(item.width).unwrap_or(0);
            for copy in jarida_content::media::copies_of(&item.name, width) {
                let v = app.cfg.media_dir.join(copy);
                if v.exists() {
                    files.push(v);
                }
            }
            jarida_content::media::remove(&files);
            redirect("/admin/media?done=deleted")
        }
        Ok(library::Deleted::Gone) => redirect("/admin/media"),
        Ok(library::Deleted::InUse(used)) => {
            let titles: Vec<String> = used
                .iter()
                .map(|(id, lang, title)| format!("{title} ({lang}, #{id})"))
                .collect();
            let msg = app.theme.i18n.t(
                s.lang(),
                "admin-media-in-use",
                &[("posts", titles.join(", ").into())],
            );
            library_page(&app, &s, StatusCode::CONFLICT, "", None, Some(msg)).await
        }
        Err(e) => fail(e),
    }
}
