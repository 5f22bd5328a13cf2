//! Writing and publishing: the posts list, the editor (front-matter fields as form fields, the
//! Markdown with a preview through the site's own pipeline), publishing, scheduling and
//! unpublishing, corrections, translations, revisions. The role decides on the server what each
//! request may do; a stale save becomes a conflict page that keeps the editor's text.

use axum::extract::{Path, Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jarida_accounts::audit;
use jarida_content::editing::{self, AdminFilter, Editable};
use jarida_content::{ContentError, Kind, PostInput, Source, Status};
use jarida_core::Lang;
use minijinja::Value;
use time::OffsetDateTime;

use super::auth::{csrf_failed, forbidden, json_refusal};
use super::{Signed, fail, frame, message, now, page, redirect};
use crate::{App, AppRef};

const PER_PAGE: i64 = 50;

/// Makes this process's pages follow the change at once (other processes follow within
/// `cache.refresh_seconds`).
async fn refresh(app: &App) {
    if let Err(e) = crate::refresh(app).await {
        tracing::warn!(error = %e, "page cache refresh after an edit failed");
    }
}

#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<i64>,
    /// The next page: posts after this one (a [`editing::Cursor`]).
    #[serde(default)]
    after: String,
    /// The previous page: posts before this one.
    #[serde(default)]
    before: String,
}

fn nonempty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

pub(crate) async fn list(
    State(app): State<AppRef>,
    s: Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    let status = nonempty(&q.status)
        .filter(|v| ["draft", "scheduled", "published", "submitted"].contains(&v.as_str()));
    let f = AdminFilter {
        lang: Lang::parse(&q.lang),
        kind: Kind::parse(&q.kind),
        status,
        author: nonempty(&q.author).map(|a| jarida_content::slugify(&a)),
        tag: nonempty(&q.tag).map(|t| jarida_content::slugify(&t)),
        q: nonempty(&q.q).map(|t| t.chars().take(200).collect()),
        // Authors and contributors see their own posts only.
        owner: (!s.user.role.can_edit_others()).then_some(s.user.id),
    };
    let page_no = q.page.unwrap_or(1).clamp(1, 1_000_000);
    // The links carry a cursor (read from the index at that point, however deep); a bare page
    // number (an old link, a typed URL) is an offset.
    let at = match (
        editing::Cursor::parse(&q.after),
        editing::Cursor::parse(&q.before),
    ) {
        (Some(k), _) => editing::Position::After(k),
        (None, Some(k)) => editing::Position::Before(k),
        (None, None) => editing::Position::Offset((page_no - 1) * PER_PAGE),
    };
    let list = match list_posts(&app, &f, PER_PAGE, at).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let (newer, older) = match at {
        editing::Position::Offset(o) => (o > 0, list.more),
        editing::Position::After(_) => (true, list.more),
        editing::Position::Before(_) => (list.more, true),
    };
    let (stories, total) = (list.stories, list.total);
    let lang = s.lang();
    let mut ctx = frame(
        &app,
        lang,
        Some(&s),
        app.theme.t(lang, "admin-posts-title"),
        "posts",
    );
    ctx.insert("stories", crate::ser(&stories));
    ctx.insert("total", Value::from(total));
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    ctx.insert("page", Value::from(page_no.min(pages)));
    ctx.insert("pages", Value::from(pages));
    let first = stories.first().map(|s| editing::Cursor::of(&s.post));
    let last = stories.last().map(|s| editing::Cursor::of(&s.post));
    // Back to the first page is the plain list: it has no cursor to go stale.
    let prev = match (newer, first) {
        (true, _) if page_no <= 2 => Some(String::new()),
        (true, Some(k)) => Some(format!("&before={k}&page={}", page_no - 1)),
        _ => None,
    };
    let next = match (older, last) {
        (true, Some(k)) => Some(format!("&after={k}&page={}", page_no + 1)),
        _ => None,
    };
    ctx.insert("prev", Value::from(prev));
    ctx.insert("next", Value::from(next));
    ctx.insert(
        "filter",
        crate::ser(serde_json::json!({
            "lang": q.lang, "kind": q.kind, "status": q.status, "author": q.author,
            "tag": q.tag, "q": q.q,
        })),
    );
    // The filter as a query string, for the pagination links.
    let qs = serde_urlencoded::to_string([
        ("lang", q.lang.as_str()),
        ("kind", q.kind.as_str()),
        ("status", q.status.as_str()),
        ("author", q.author.as_str()),
        ("tag", q.tag.as_str()),
        ("q", q.q.as_str()),
    ])
    .unwrap_or_default();
    ctx.insert("qs", Value::from(qs));
    page(&app, StatusCode::OK, "posts.html", ctx)
}

/// A page of the list. Counting what matches reads every post's index entry, so the count of a
/// filter is kept per content version: paging through a filter, or coming back to it, counts
/// once. (Another process's change reaches the count with the version, within
/// `cache.refresh_seconds`.)
pub(crate) async fn list_posts(
    app: &App,
    f: &AdminFilter,
    limit: i64,
    at: editing::Position,
) -> Result<editing::AdminPage, ContentError> {
    let key = format!("{f:?}");
    let version = app.cache.version();
    let known = {
        let counts = app.admin_counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .get(&key)
            .filter(|(v, _)| *v == version)
            .map(|(_, n)| *n)
    };
    let list = editing::admin_list(&app.db, &app.search, f, limit, at, known).await?;
    if known.is_none() {
        let mut counts = app.admin_counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= 1000 {
            counts.clear();
        }
        counts.insert(key, (version, list.total));
    }
    Ok(list)
}

/// The editor's form as posted: repeated source fields in order, so it is read from the pairs.
#[derive(Debug, Default, Clone)]
pub(crate) struct EditorForm {
    csrf: String,
    action: String,
    version: i64,
    lang: String,
    title: String,
    slug: String,
    summary: String,
    kind: String,
    body: String,
    tags: String,
    authors: String,
    cover: String,
    cover_alt: String,
    featured: bool,
    publish_at: String,
    translation_of: Option<i64>,
    sources: Vec<Source>,
}

impl EditorForm {
    fn parse(raw: &[u8]) -> EditorForm {
        let mut f = EditorForm::default();
        let mut src: Vec<[String; 5]> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw) {
            let v = v.into_owned();
            match k.as_ref() {
                "csrf" => f.csrf = v,
                "action" => f.action = v,
                "version" => f.version = v.parse().unwrap_or(0),
                "lang" => f.lang = v,
                "title" => f.title = v.trim().to_string(),
                "slug" => f.slug = v.trim().to_string(),
                "summary" => f.summary = v.trim().to_string(),
                "kind" => f.kind = v,
                "body" => f.body = v.replace("\r\n", "\n"),
                "tags" => f.tags = v,
                "authors" => f.authors = v,
                "cover" => f.cover = v.trim().to_string(),
                "cover_alt" => f.cover_alt = v.trim().to_string(),
                "featured" => f.featured = !v.is_empty(),
                "publish_at" => f.publish_at = v,
                "translation_of" => f.translation_of = v.parse().ok(),
                // A source row starts with its publisher field.
                "source_publisher" => src.push([
                    v,
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]),
                "source_authors" | "source_title" | "source_url" | "source_date" => {
                    if let Some(last) = src.last_mut() {
                        let i = match k.as_ref() {
                            "source_authors" => 1,
                            "source_title" => 2,
                            "source_url" => 3,
                            _ => 4,
                        };
                        last[i] = v.trim().to_string();
                    }
                }
                _ => {}
            }
        }
        f.sources = src
            .into_iter()
            .filter(|r| r.iter().any(|x| !x.trim().is_empty()))
            .map(|[publisher, authors, title, url, date]| Source {
                publisher: publisher.trim().to_string(),
                authors,
                title,
                url,
                date: nonempty(&date),
            })
            .collect();
        f
    }

    fn list(s: &str) -> Vec<String> {
        s.split([',', '،'])
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The post this form describes, keeping what the form does not carry from `existing`.
    fn input(&self, lang: Lang, existing: Option<&Editable>) -> PostInput {
        let slug = if self.slug.is_empty() {
            jarida_content::slugify(&self.title)
        } else {
            self.slug.clone()
        };
        let prev = existing.map(|e| &e.post);
        PostInput {
            lang,
            slug,
            translation_key: prev.and_then(|p| p.translation_key.clone()),
            kind: Kind::parse(&self.kind).unwrap_or(Kind::Report),
            title: self.title.clone(),
            summary: self.summary.clone(),
            body_md: self.body.clone(),
            authors: Self::list(&self.authors),
            tags: Self::list(&self.tags),
            cover: nonempty(&self.cover),
            cover_alt: nonempty(&self.cover_alt),
            featured: self.featured,
            status: prev.map(|p| p.status).unwrap_or(Status::Draft),
            published_at: prev.and_then(|p| p.published_at),
            updated_at: None,
            sources: self.sources.clone(),
            corrections: Vec::new(),
        }
    }

    fn from_post(e: &Editable) -> EditorForm {
        let p = &e.post;
        let join = |v: &[jarida_content::Named]| {
            v.iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        EditorForm {
            version: e.version,
            lang: p.lang.code().to_string(),
            title: p.title.clone(),
            slug: p.slug.clone(),
            summary: p.summary.clone(),
            kind: p.kind.as_str().to_string(),
            body: p.body_md.clone(),
            tags: join(&p.tags),
            authors: join(&p.authors),
            cover: p.cover.clone().unwrap_or_default(),
            cover_alt: p.cover_alt.clone().unwrap_or_default(),
            featured: p.featured,
            sources: p.sources.clone(),
            ..Default::default()
        }
    }

    fn value(&self) -> Value {
        crate::ser(serde_json::json!({
            "version": self.version,
            "lang": self.lang,
            "title": self.title,
            "slug": self.slug,
            "summary": self.summary,
            "kind": self.kind,
            "body": self.body,
            "tags": self.tags,
            "authors": self.authors,
            "cover": self.cover,
            "cover_alt": self.cover_alt,
            "featured": self.featured,
            "publish_at": self.publish_at,
            "translation_of": self.translation_of,
            "sources": self.sources,
        }))
    }
}

/// What the signed-in user may do with a post (`None`: a new one).
struct Rights {
    edit: bool,
    publish: bool,
    delete: bool,
}

fn rights(s: &Signed, e: Option<&Editable>) -> Rights {
    let role = s.user.role;
    let Some(e) = e else {
        return Rights {
            edit: true,
            publish: role.can_publish(),
            delete: false,
        };
    };
    let own = e.owner_id == Some(s.user.id);
    let live = e.post.status != Status::Draft;
    let edit = role.can_edit_others() || (own && !live);
    Rights {
        edit,
        publish: role.can_publish(),
        delete: role.can_publish() || (own && !live),
    }
}

/// The time zone's "YYYY-MM-DDTHH:MM" (a `datetime-local` field) of a Unix time.
fn local_input(app: &App, t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| jiff::Timestamp::from_second(t.unix_timestamp()).ok())
        .map(|ts| {
            ts.to_zoned(app.cfg.timezone.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// A `datetime-local` value in the newsroom's time zone, as a moment.
fn parse_local(app: &App, s: &str) -> Option<OffsetDateTime> {
    let dt: jiff::civil::DateTime = s.trim().parse().ok()?;
    let z = dt.to_zoned(app.cfg.timezone.clone()).ok()?;
    OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).ok()
}

#[allow(clippy::too_many_arguments)]
async fn editor_page(
    app: &App,
    s: &Signed,
    status: StatusCode,
    form: &EditorForm,
    existing: Option<&Editable>,
    error: Option<(String, String)>,
    notice: Option<String>,
    preview: Option<jarida_content::markdown::Rendered>,
) -> Response {
    let lang = s.lang();
    let post_lang = Lang::parse(&form.lang).unwrap_or(app.cfg.default_lang);
    let title = if form.title.is_empty() {
        app.theme.t(lang, "admin-editor-new")
    } else {
        form.title.clone()
    };
    let mut ctx = frame(app, lang, Some(s), title, "posts");
    // The library's newest images, offered as the cover's suggestions.
    let media: Vec<_> = jarida_content::library::list(&app.db, None, 50)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let label = if m.alt_en.is_empty() {
                m.original_name.clone()
            } else {
                m.alt_en.clone()
            };
            serde_json::json!({ "url": m.url(), "label": label })
        })
        .collect();
    ctx.insert("media", crate::ser(media));
    // Names already used, most used first: a tag or byline is picked rather than retyped.
    for (key, taxon) in [
        ("author_suggestions", editing::Taxon::Authors),
        ("tag_suggestions", editing::Taxon::Tags),
    ] {
        let names = editing::suggestions(&app.db, taxon, 20)
            .await
            .unwrap_or_default();
        ctx.insert(key, crate::ser(names));
    }
    ctx.insert("form", form.value());
    ctx.insert("post_lang", Value::from(post_lang.code()));
    ctx.insert(
        "post_dir",
        Value::from(if post_lang.is_rtl() { "rtl" } else { "ltr" }),
    );
    ctx.insert(
        "langs",
        crate::ser(Lang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>()),
    );
    ctx.insert("kinds", crate::ser(["report", "news", "design"]));
    ctx.insert(
        "zone",
        Value::from(app.cfg.timezone.iana_name().unwrap_or("UTC")),
    );
    let r = rights(s, existing);
    ctx.insert("may_publish", Value::from(r.publish));
    ctx.insert("may_delete", Value::from(r.delete));
    if let Some(e) = existing {
        ctx.insert("post", crate::ser(&e.post));
        ctx.insert("post_id", Value::from(e.post.id));
        ctx.insert("submitted", Value::from(e.submitted_at.is_some()));
        ctx.insert(
            "public_url",
            Value::from(format!(
                "/{}/{}",
                e.post.lang,
                crate::public::enc(&e.post.slug)
            )),
        );
        ctx.insert(
            "other_lang",
            Value::from(crate::public::other_lang(e.post.lang).code()),
        );
        let translations: Vec<_> = editing::translations(&app.db, &e.post)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|t| may_read(s, t))
            .map(|t| serde_json::json!({ "id": t.post.id, "lang": t.post.lang, "title": t.post.title }))
            .collect();
        ctx.insert("translations", crate::ser(translations));
        if e.post.status == Status::Scheduled && form.publish_at.is_empty() {
            ctx.insert(
                "publish_at",
                Value::from(local_input(app, e.post.published_at)),
            );
        }
    }
    if let Some((field, reason)) = error {
        ctx.insert("error_field", Value::from(field));
        ctx.insert("error", Value::from(reason));
    }
    if let Some(n) = notice {
        ctx.insert("notice", Value::from(n));
    }
    if let Some(p) = preview {
        ctx.insert("preview_html", Value::from_safe_string(p.html));
        ctx.insert("preview_text", Value::from(p.text));
    }
    page(app, status, "editor.html", ctx)
}

#[derive(serde::Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    translation_of: Option<i64>,
}

pub(crate) async fn new_form(
    State(app): State<AppRef>,
    s: Signed,
    Query(q): Query<NewQuery>,
) -> Response {
    let mut form = EditorForm {
        lang: Lang::parse(&q.lang).unwrap_or(s.lang()).code().to_string(),
        kind: "report".into(),
        authors: s.user.name.clone(),
        ..Default::default()
    };
    let mut source = None;
    if let Some(id) = q.translation_of {
        match editing::load(&app.db, id).await {
            Ok(Some(e)) if rights(&s, Some(&e)).edit || e.post.status == Status::Published => {
                // The translation starts with the original's fields; the text is the original's
                // until the translator replaces it.
                form = EditorForm::from_post(&e);
                form.version = 0;
                form.lang = crate::public::other_lang(e.post.lang).code().to_string();
                form.translation_of = Some(id);
                form.title.clear();
                form.slug.clear();
                source = Some(e);
            }
            Ok(_) => return forbidden(&app, &s),
            Err(e) => return fail(e),
        }
    }
    let mut ctx_notice = None;
    if let Some(e) = &source {
        ctx_notice = Some(app.theme.i18n.t(
            s.lang(),
            "admin-translating",
            &[("title", e.post.title.clone().into())],
        ));
    }
    editor_page(
        &app,
        &s,
        StatusCode::OK,
        &form,
        None,
        None,
        ctx_notice,
        None,
    )
    .await
}

/// After a change to post `id`: this process's pages follow it, and the editor opens it again.
async fn saved(app: &App, id: i64) -> Response {
    refresh(app).await;
    redirect(&format!("/admin/posts/{id}?saved=1"))
}

/// The editor showing the stored post with the reason an action on it was refused (a 500 when
/// the failure is ours).
async fn refused_on_post(app: &App, s: &Signed, e: &Editable, err: ContentError) -> Response {
    match content_error(err) {
        Ok(err) => {
            let form = EditorForm::from_post(e);
            editor_page(
                app,
                s,
                StatusCode::UNPROCESSABLE_ENTITY,
                &form,
                Some(e),
                Some(err),
                None,
                None,
            )
            .await
        }
        Err(r) => *r,
    }
}

/// Whether the role may not take the action the form asks for.
fn refused_action(f: &EditorForm, r: &Rights) -> bool {
    matches!(f.action.as_str(), "publish" | "schedule" | "unpublish") && !r.publish
}

/// The field and reason of an editor's mistake; anything else is ours (logged, a 500).
fn content_error(e: ContentError) -> Result<(String, String), Box<Response>> {
    match e {
        ContentError::Invalid { field, reason } => Ok((field.to_string(), reason)),
        other => Err(Box::new(fail(other))),
    }
}

/// What an action wants of the status, checked against the role.
fn apply_action(
    app: &App,
    s: &Signed,
    f: &EditorForm,
    input: &mut PostInput,
    r: &Rights,
) -> Result<Option<&'static str>, (String, String)> {
    let lang = s.lang();
    let now = OffsetDateTime::now_utc();
    // Roles are checked before this (`refused_action`); here only the values.
    let needs_publish = |_: &str| -> Result<(), (String, String)> {
        debug_assert!(r.publish);
        Ok(())
    };
    Ok(match f.action.as_str() {
        "publish" => {
            needs_publish("publish")?;
            input.status = Status::Published;
            // A post published before keeps its date; a scheduled one goes out now.
            if input.published_at.is_none_or(|t| t > now) {
                input.published_at = Some(now);
            }
            Some("post.publish")
        }
        "schedule" => {
            needs_publish("schedule")?;
            let Some(at) = parse_local(app, &f.publish_at).filter(|t| *t > now) else {
                return Err((
                    "publish_at".into(),
                    app.theme.t(lang, "admin-schedule-future"),
                ));
            };
            input.status = Status::Scheduled;
            input.published_at = Some(at);
            Some("post.schedule")
        }
        "unpublish" => {
            needs_publish("unpublish")?;
            input.status = Status::Draft;
            Some("post.unpublish")
        }
        _ => None,
    })
}

pub(crate) async fn create(
    State(app): State<AppRef>,
    s: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let f = EditorForm::parse(&raw);
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    let lang = Lang::parse(&f.lang).unwrap_or(s.lang());
    if f.action == "preview" {
        let p = editing::preview(&f.body);
        return editor_page(&app, &s, StatusCode::OK, &f, None, None, None, Some(p)).await;
    }
    let mut input = f.input(lang, None);
    let r = rights(&s, None);
    if refused_action(&f, &r) {
        return forbidden(&app, &s);
    }
    let action = match apply_action(&app, &s, &f, &mut input, &r) {
        Ok(a) => a,
        Err(err) => {
            return editor_page(
                &app,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                None,
                Some(err),
                None,
                None,
            )
            .await;
        }
    };
    let result: Result<i64, ContentError> = async {
        let mut tx = app.db.begin().await?;
        if let Some(from) = f.translation_of {
            input.translation_key = Some(editing::translation_key(&mut tx, from).await?);
        }
        let id = editing::create(&mut tx, &input, &s.editor(), OffsetDateTime::now_utc()).await?;
        if f.action == "submit" {
            editing::set_submitted(&mut tx, id, Some(now())).await?;
        }
        audit::record(
            &mut tx,
            &s.actor(),
            "post.create",
            &format!("post {id}"),
            &input.title,
            now(),
        )
        .await?;
        if let Some(a) = action {
            audit::record(&mut tx, &s.actor(), a, &format!("post {id}"), "", now()).await?;
        }
        tx.commit().await?;
        Ok(id)
    }
    .await;
    match result {
        Ok(id) => {
            refresh(&app).await;
            if wants_json(&raw) {
                return axum::Json(serde_json::json!({ "id": id, "version": 1 })).into_response();
            }
            redirect(&format!("/admin/posts/{id}?saved=1"))
        }
        Err(e) => match content_error(e) {
            Ok(err) => {
                editor_page(
                    &app,
                    &s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &f,
                    None,
                    Some(err),
                    None,
                    None,
                )
                .await
            }
            Err(r) => *r,
        },
    }
}

fn wants_json(raw: &[u8]) -> bool {
    form_urlencoded::parse(raw).any(|(k, v)| k == "autosave" && v == "1")
}

async fn load_for(app: &App, s: &Signed, id: i64) -> Result<Editable, Response> {
    match editing::load(&app.db, id).await {
        Ok(Some(e)) => {
            let r = rights(s, Some(&e));
            let own = e.owner_id == Some(s.user.id);
            // Authors and contributors cannot even read someone else's drafts.
            if r.edit || own || s.user.role.can_edit_others() {
                Ok(e)
            } else {
                Err(forbidden(app, s))
            }
        }
        Ok(None) => Err(message(
            app,
            s.lang(),
            Some(s),
            StatusCode::NOT_FOUND,
            "admin-not-found-title",
            app.theme.t(s.lang(), "admin-not-found"),
        )),
        Err(e) => Err(fail(e)),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct EditQuery {
    #[serde(default)]
    saved: Option<String>,
}

pub(crate) async fn edit_form(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    Query(q): Query<EditQuery>,
) -> Response {
    let e = match load_for(&app, &s, id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let form = EditorForm::from_post(&e);
    let notice = q.saved.map(|_| app.theme.t(s.lang(), "admin-saved"));
    editor_page(
        &app,
        &s,
        StatusCode::OK,
        &form,
        Some(&e),
        None,
        notice,
        None,
    )
    .await
}

pub(crate) async fn save(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    RawForm(raw): RawForm,
) -> Response {
    let f = EditorForm::parse(&raw);
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    let e = match load_for(&app, &s, id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let r = rights(&s, Some(&e));
    if !r.edit {
        return forbidden(&app, &s);
    }
    if f.action == "preview" {
        let p = editing::preview(&f.body);
        return editor_page(&app, &s, StatusCode::OK, &f, Some(&e), None, None, Some(p)).await;
    }
    if refused_action(&f, &r) {
        return forbidden(&app, &s);
    }
    let lang = Lang::parse(&f.lang).unwrap_or(e.post.lang);
    let mut input = f.input(lang, Some(&e));
    let action = match apply_action(&app, &s, &f, &mut input, &r) {
        Ok(a) => a,
        Err(err) => {
            return editor_page(
                &app,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                Some(&e),
                Some(err),
                None,
                None,
            )
            .await;
        }
    };
    let result: Result<i64, ContentError> = async {
        let mut tx = app.db.begin().await?;
        let v = editing::update(
            &mut tx,
            id,
            f.version,
            &input,
            &s.editor(),
            OffsetDateTime::now_utc(),
        )
        .await?;
        match f.action.as_str() {
            "submit" => editing::set_submitted(&mut tx, id, Some(now())).await?,
            "publish" | "schedule" => editing::set_submitted(&mut tx, id, None).await?,
            _ => {}
        }
        audit::record(
            &mut tx,
            &s.actor(),
            action.unwrap_or(if f.action == "submit" {
                "post.submit"
            } else {
                "post.save"
            }),
            &format!("post {id}"),
            &format!("version {v}"),
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(v)
    }
    .await;
    match result {
        Ok(_) => saved(&app, id).await,
        Err(ContentError::Conflict { current, .. }) => {
            // Their text stays in the form; the version becomes the current one, so saving again
            // is a deliberate choice (the other save stays in the history).
            let mut kept = f.clone();
            kept.version = current;
            let text = app.theme.t(s.lang(), "admin-conflict");
            editor_page(
                &app,
                &s,
                StatusCode::CONFLICT,
                &kept,
                Some(&e),
                Some(("version".into(), text)),
                None,
                None,
            )
            .await
        }
        Err(err) => match content_error(err) {
            Ok(err) => {
                editor_page(
                    &app,
                    &s,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &f,
                    Some(&e),
                    Some(err),
                    None,
                    None,
                )
                .await
            }
            Err(r) => *r,
        },
    }
}

/// Autosave from the editor's script: a draft is saved as itself (the version moves on, and
/// saves within minutes share a revision); a live post's edits are kept as a revision only,
/// never shown to readers until someone saves or publishes them.
pub(crate) async fn autosave(
    State(app): State<AppRef>,
    s: Signed,
    headers: HeaderMap,
    Path(id): Path<i64>,
    RawForm(raw): RawForm,
) -> Response {
    let f = EditorForm::parse(&raw);
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&f.csrf);
    if !s.csrf_ok(token) {
        return json_refusal(StatusCode::FORBIDDEN, "csrf");
    }
    let e = match load_for(&app, &s, id).await {
        Ok(e) if rights(&s, Some(&e)).edit => e,
        _ => return json_refusal(StatusCode::FORBIDDEN, "forbidden"),
    };
    let input = f.input(e.post.lang, Some(&e));
    let mut who = s.editor();
    who.autosave = true;
    let result: Result<i64, ContentError> = async {
        let mut tx = app.db.begin().await?;
        let v = if e.post.status == Status::Draft {
            editing::update(
                &mut tx,
                id,
                f.version,
                &input,
                &who,
                OffsetDateTime::now_utc(),
            )
            .await?
        } else {
            editing::autosave_revision(&mut tx, id, &s.editor(), &input, OffsetDateTime::now_utc())
                .await?;
            f.version
        };
        tx.commit().await?;
        Ok(v)
    }
    .await;
    match result {
        Ok(v) => axum::Json(serde_json::json!({ "version": v, "saved_at": now() })).into_response(),
        Err(ContentError::Conflict { current, .. }) => {
            let mut r = axum::Json(serde_json::json!({
                "error": "conflict", "current": current,
                "message": app.theme.t(s.lang(), "admin-conflict"),
            }))
            .into_response();
            *r.status_mut() = StatusCode::CONFLICT;
            r
        }
        Err(ContentError::Invalid { field, reason }) => {
            let mut r = axum::Json(
                serde_json::json!({ "error": "invalid", "field": field, "reason": reason }),
            )
            .into_response();
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
        Err(e) => fail(e),
    }
}

/// The live preview: Markdown in, the site's sanitized HTML and the plain text out.
pub(crate) async fn preview(
    State(app): State<AppRef>,
    s: Signed,
    headers: HeaderMap,
    RawForm(raw): RawForm,
) -> Response {
    let f = EditorForm::parse(&raw);
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&f.csrf);
    if !s.csrf_ok(token) {
        return json_refusal(StatusCode::FORBIDDEN, "csrf");
    }
    let _ = &app;
    let body = f.body;
    // An edition's intro: Markdown without raw HTML, as the edition renders it.
    let short = form_urlencoded::parse(&raw).any(|(k, v)| k == "short" && v == "1");
    let r = match tokio::task::spawn_blocking(move || {
        if short {
            jarida_content::markdown::render_short(&body)
        } else {
            editing::preview(&body)
        }
    })
    .await
    {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    axum::Json(serde_json::json!({ "html": r.html, "text": r.text })).into_response()
}

#[derive(serde::Deserialize)]
pub struct CorrectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn add_correction(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<CorrectionForm>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    if !s.user.role.can_publish() {
        return forbidden(&app, &s);
    }
    let e = match load_for(&app, &s, id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let result: Result<(), ContentError> = async {
        let mut tx = app.db.begin().await?;
        editing::add_correction(&mut tx, id, &f.note, OffsetDateTime::now_utc()).await?;
        audit::record(
            &mut tx,
            &s.actor(),
            "post.correct",
            &format!("post {id}"),
            f.note.trim(),
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            refresh(&app).await;
            redirect(&format!("/admin/posts/{id}?saved=1#corrections"))
        }
        Err(err) => refused_on_post(&app, &s, &e, err).await,
    }
}

pub(crate) async fn revisions(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
) -> Response {
    let e = match load_for(&app, &s, id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let revs = match editing::revisions(&app.db, id).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    // Each revision beside the differences of its text from the one before it.
    let mut shown = Vec::new();
    let mut texts = Vec::new();
    for r in &revs {
        let t = editing::revision_input(&app.db, id, r.id)
            .await
            .ok()
            .flatten()
            .map(|i| format!("# {}\n\n{}", i.title, i.body_md))
            .unwrap_or_default();
        texts.push(t);
    }
    for (i, r) in revs.iter().enumerate() {
        let older = texts.get(i + 1).map(String::as_str).unwrap_or("");
        let changes: Vec<_> = editing::diff(older, &texts[i])
            .into_iter()
            .filter(|(tag, _)| *tag != ' ')
            .take(200)
            .map(|(tag, line)| serde_json::json!({ "tag": tag.to_string(), "line": line }))
            .collect();
        shown.push(serde_json::json!({ "rev": r, "changes": changes }));
    }
    let lang = s.lang();
    let mut ctx = frame(
        &app,
        lang,
        Some(&s),
        app.theme.t(lang, "admin-revisions-title"),
        "posts",
    );
    ctx.insert("post", crate::ser(&e.post));
    ctx.insert("revisions", crate::ser(&shown));
    ctx.insert("may_restore", Value::from(rights(&s, Some(&e)).edit));
    page(&app, StatusCode::OK, "revisions.html", ctx)
}

/// Whether the signed-in user may read `e`: the rule of [`load_for`], and anyone may read what
/// is public.
fn may_read(s: &Signed, e: &Editable) -> bool {
    rights(s, Some(e)).edit
        || e.owner_id == Some(s.user.id)
        || s.user.role.can_edit_others()
        || e.post.status == Status::Published
}

/// A post and its other-language versions in columns, each in its own direction, as readers will
/// see them: a translator checks that nothing was left out, an editor compares the two.
pub(crate) async fn side_by_side(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
) -> Response {
    let e = match load_for(&app, &s, id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let others = match editing::translations(&app.db, &e.post).await {
        Ok(o) => o,
        Err(err) => return fail(err),
    };
    let column = |e: &Editable| {
        serde_json::json!({
            "post": &e.post,
            "dir": if e.post.lang.is_rtl() { "rtl" } else { "ltr" },
            "editable": rights(&s, Some(e)).edit,
        })
    };
    let mut columns = vec![column(&e)];
    columns.extend(others.iter().filter(|o| may_read(&s, o)).map(column));
    let lang = s.lang();
    let mut ctx = frame(
        &app,
        lang,
        Some(&s),
        app.theme.i18n.t(
            lang,
            "admin-side-by-side-title",
            &[("title", e.post.title.clone().into())],
        ),
        "posts",
    );
    // Bodies are the pipeline's sanitized HTML, stored with the post.
    let bodies: Vec<Value> = std::iter::once(&e)
        .chain(others.iter().filter(|o| may_read(&s, o)))
        .map(|c| Value::from_safe_string(c.post.body_html.clone()))
        .collect();
    ctx.insert("columns", crate::ser(&columns));
    ctx.insert("bodies", Value::from(bodies));
    ctx.insert("post", crate::ser(&e.post));
    if others.is_empty() {
        ctx.insert(
            "missing",
            Value::from(crate::public::other_lang(e.post.lang).code()),
        );
    }
    page(&app, StatusCode::OK, "side-by-side.html", ctx)
}

#[derive(serde::Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn restore(
    State(app): State<AppRef>,
    s: Signed,
    Path((id, rev)): Path<(i64, i64)>,
    axum::extract::Form(f): axum::extract::Form<VersionForm>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    let e = match load_for(&app, &s, id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    if !rights(&s, Some(&e)).edit {
        return forbidden(&app, &s);
    }
    let Ok(Some(mut input)) = editing::revision_input(&app.db, id, rev).await else {
        return message(
            &app,
            s.lang(),
            Some(&s),
            StatusCode::NOT_FOUND,
            "admin-not-found-title",
            app.theme.t(s.lang(), "admin-not-found"),
        );
    };
    // Restoring brings back the words, not the state: a live post stays live, a draft a draft.
    input.status = e.post.status;
    input.published_at = e.post.published_at;
    let result: Result<i64, ContentError> = async {
        let mut tx = app.db.begin().await?;
        let v = editing::update(
            &mut tx,
            id,
            e.version,
            &input,
            &s.editor(),
            OffsetDateTime::now_utc(),
        )
        .await?;
        audit::record(
            &mut tx,
            &s.actor(),
            "post.restore",
            &format!("post {id}"),
            &format!("revision {rev}"),
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(v)
    }
    .await;
    match result {
        Ok(_) => saved(&app, id).await,
        Err(err) => refused_on_post(&app, &s, &e, err).await,
    }
}

pub(crate) async fn delete(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<VersionForm>,
) -> Response {
    if !s.csrf_ok(&f.csrf) {
        return csrf_failed(&app, &s);
    }
    let e = match load_for(&app, &s, id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    if !rights(&s, Some(&e)).delete {
        return forbidden(&app, &s);
    }
    let result: Result<(), ContentError> = async {
        let mut tx = app.db.begin().await?;
        editing::delete(&mut tx, id).await?;
        audit::record(
            &mut tx,
            &s.actor(),
            "post.delete",
            &format!("post {id}"),
            &e.post.title,
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            refresh(&app).await;
            redirect("/admin/posts")
        }
        Err(e) => fail(e),
    }
}
