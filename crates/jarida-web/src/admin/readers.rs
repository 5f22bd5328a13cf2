//! The readers, for owners and editors: the list (filters, prefix search, counts, pages by cursor),
//! a reader's page (consent evidence, history, editions received), adding a reader someone vouches
//! for, changing their name, language and newsletters, unsubscribing and erasing (after a
//! confirmation page). Every change is in the audit log under the reader's id, never their address,
//! so an erasure leaves nothing of them there.

use axum::extract::{Path, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::Response;
use jarida_accounts::audit;
use jarida_audience::directory::{self, Page, ReaderFilter};
use jarida_audience::segments;
use jarida_audience::subscribers::{self, AddRefused, SubscriberStatus};
use jarida_core::{Lang, SegmentId, SubscriberId};
use minijinja::Value;

use super::auth::readers_refusal as refused;
use super::{Signed, fail, frame, message, now, page, redirect};
use crate::{App, AppRef};

const PER_PAGE: i64 = 50;

#[derive(serde::Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    newsletter: String,
    #[serde(default)]
    import: String,
    /// Part of the address of the page whose form they signed up on.
    #[serde(default)]
    page: String,
    /// `YYYY-MM-DD`, the first day of the sign-ups shown.
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD`, the last day.
    #[serde(default)]
    to: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    before: String,
    #[serde(default)]
    done: String,
    /// A saved segment's id: its filter, instead of the fields above.
    #[serde(default)]
    segment: String,
}

/// The start of `day` (`YYYY-MM-DD`) in the newsroom's time zone, as unix seconds.
fn day_start(app: &App, day: &str) -> Option<i64> {
    let d: jiff::civil::Date = day.trim().parse().ok()?;
    let z = d.to_zoned(app.cfg.timezone.clone()).ok()?;
    Some(z.timestamp().as_second())
}

impl ListQuery {
    fn filter(&self, app: &App) -> ReaderFilter {
        ReaderFilter {
            q: Some(self.q.trim().chars().take(200).collect::<String>()).filter(|q| !q.is_empty()),
            status: SubscriberStatus::parse(self.status.trim()),
            lang: Lang::parse(self.lang.trim()),
            newsletter: self.newsletter.trim().parse().ok(),
            import: self.import.trim().parse().ok(),
            page: Some(self.page.trim().chars().take(300).collect::<String>())
                .filter(|p| !p.is_empty()),
            joined_from: day_start(app, &self.from),
            // The last day shown is included: up to the start of the next.
            joined_to: day_start(app, &self.to).map(|t| t + 86_400),
        }
    }

    /// The form's fields for a saved filter (the inverse of [`ListQuery::filter`]).
    fn of(app: &App, f: &ReaderFilter) -> ListQuery {
        let day = |t: i64| {
            jiff::Timestamp::from_second(t)
                .map(|ts| ts.to_zoned(app.cfg.timezone.clone()).date().to_string())
                .unwrap_or_default()
        };
        ListQuery {
            q: f.q.clone().unwrap_or_default(),
            status: f.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
            lang: f.lang.map(|l| l.code().to_string()).unwrap_or_default(),
            newsletter: f.newsletter.map(|n| n.to_string()).unwrap_or_default(),
            import: f.import.map(|n| n.to_string()).unwrap_or_default(),
            page: f.page.clone().unwrap_or_default(),
            from: f.joined_from.map(day).unwrap_or_default(),
            // The filter's end is the start of the day after the last one shown.
            to: f.joined_to.map(|t| day(t - 1)).unwrap_or_default(),
            ..Default::default()
        }
    }

    /// The filter as a query string, for the pagination links.
    fn qs(&self) -> String {
        serde_urlencoded::to_string([
            ("q", self.q.as_str()),
            ("status", self.status.as_str()),
            ("lang", self.lang.as_str()),
            ("newsletter", self.newsletter.as_str()),
            ("import", self.import.as_str()),
            ("page", self.page.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
        ])
        .unwrap_or_default()
    }
}

/// How long a filter's count is reused (see `App::reader_counts`).
const COUNT_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// How many readers `f` matches, counted at most once a minute per filter.
async fn count_of(app: &App, f: &ReaderFilter) -> Result<i64, jarida_audience::AudienceError> {
    let key = format!("{f:?}");
    let fresh = {
        let counts = app.reader_counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .get(&key)
            .filter(|(at, _)| at.elapsed() < COUNT_FOR)
            .map(|(_, n)| *n)
    };
    if let Some(n) = fresh {
        return Ok(n);
    }
    let n = directory::count(&app.db, f).await?;
    let mut counts = app.reader_counts.lock().unwrap_or_else(|e| e.into_inner());
    if counts.len() >= 1000 {
        counts.clear();
    }
    counts.insert(key, (std::time::Instant::now(), n));
    Ok(n)
}

/// Readers changed through this admin: every count is taken again.
fn recount(app: &App) {
    app.reader_counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
}

/// The frame of a readers' page titled with the string `key`.
fn titled(app: &App, s: &Signed, key: &str) -> std::collections::BTreeMap<&'static str, Value> {
    frame(
        app,
        s.lang(),
        Some(s),
        app.theme.t(s.lang(), key),
        "readers",
    )
}

pub(crate) async fn list(
    State(app): State<AppRef>,
    s: Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Some(r) = refused(&app, &s, None) {
        return r;
    }
    // A segment's page: its filter, shown in the form's fields.
    let mut segment = None;
    let mut q = q;
    if let Ok(id) = q.segment.trim().parse::<i64>() {
        let mut c = match app.db.acquire().await {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        match segments::get(c.conn(), SegmentId(id)).await {
            Ok(Some(seg)) => {
                let paging = (q.after.clone(), q.before.clone(), q.done.clone());
                q = ListQuery::of(&app, &seg.filter);
                (q.after, q.before, q.done) = paging;
                q.segment = seg.id.to_string();
                segment = Some(seg);
            }
            Ok(None) => return redirect("/admin/readers"),
            Err(e) => return fail(e),
        }
    }
    let f = match &segment {
        Some(seg) => seg.filter.clone(),
        None => q.filter(&app),
    };
    let saved = match segments::list(&app.db).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let at = match (q.after.parse::<i64>(), q.before.parse::<i64>()) {
        (Ok(id), _) => Page::After(SubscriberId(id)),
        (_, Ok(id)) => Page::Before(SubscriberId(id)),
        _ => Page::First,
    };
    let (list, total, newsletters) = match tokio::try_join!(
        directory::list(&app.db, &f, at, PER_PAGE),
        count_of(&app, &f),
        directory::newsletter_names(&app.db),
    ) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let (newer, older) = match at {
        Page::First => (false, list.more),
        Page::After(_) => (true, list.more),
        Page::Before(_) => (list.more, true),
    };
    let lang = s.lang();
    let mut ctx = titled(&app, &s, "admin-readers-title");
    let prev = newer
        .then(|| list.readers.first().map(|r| format!("&before={}", r.id)))
        .flatten();
    let next = older
        .then(|| list.readers.last().map(|r| format!("&after={}", r.id)))
        .flatten();
    ctx.insert("readers", crate::ser(&list.readers));
    ctx.insert("total", Value::from(total));
    ctx.insert("prev", Value::from(prev));
    ctx.insert("next", Value::from(next));
    ctx.insert(
        "qs",
        Value::from(match &segment {
            Some(seg) => format!("segment={}", seg.id),
            None => q.qs(),
        }),
    );
    ctx.insert("segments", crate::ser(&saved));
    ctx.insert("segment", crate::ser(&segment));
    ctx.insert("may_save", Value::from(segment.is_none() && !f.is_empty()));
    ctx.insert("newsletters", crate::ser(&newsletters));
    ctx.insert(
        "statuses",
        crate::ser(["pending", "active", "unsubscribed", "bounced", "complained"]),
    );
    ctx.insert(
        "langs",
        crate::ser(Lang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>()),
    );
    ctx.insert(
        "filter",
        crate::ser(serde_json::json!({
            "q": q.q, "status": q.status, "lang": q.lang, "newsletter": q.newsletter,
            "import": q.import, "page": q.page, "from": q.from, "to": q.to,
        })),
    );
    if !q.done.is_empty() {
        ctx.insert(
            "notice",
            Value::from(app.theme.t(lang, &format!("admin-reader-done-{}", q.done))),
        );
    }
    page(&app, StatusCode::OK, "readers.html", ctx)
}

/// A form posted to the readers' pages, read from its pairs (the newsletters repeat).
#[derive(Debug, Default)]
struct ReaderForm {
    csrf: String,
    email: String,
    name: String,
    lang: String,
    newsletters: Vec<i64>,
    vouched: bool,
}

impl ReaderForm {
    fn read(body: &[u8]) -> ReaderForm {
        let mut f = ReaderForm::default();
        for (k, v) in form_urlencoded::parse(body) {
            match k.as_ref() {
                "csrf" => f.csrf = v.into_owned(),
                "email" => f.email = v.into_owned(),
                "name" => f.name = v.into_owned(),
                "lang" => f.lang = v.into_owned(),
                "newsletter" => f.newsletters.extend(v.parse::<i64>().ok()),
                "vouched" => f.vouched = true,
                _ => {}
            }
        }
        f
    }
}

async fn new_page(app: &App, s: &Signed, f: &ReaderForm, error: Option<String>) -> Response {
    let lang = s.lang();
    let mut ctx = frame(
        app,
        lang,
        Some(s),
        app.theme.t(lang, "admin-reader-new-title"),
        "readers",
    );
    let newsletters = match directory::newsletter_names(&app.db).await {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    ctx.insert("newsletters", crate::ser(&newsletters));
    ctx.insert(
        "langs",
        crate::ser(Lang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>()),
    );
    ctx.insert(
        "form",
        crate::ser(serde_json::json!({
            "email": f.email, "name": f.name,
            "lang": if f.lang.is_empty() { lang.code().to_string() } else { f.lang.clone() },
            "newsletters": if f.newsletters.is_empty() && error.is_none() {
                newsletters.first().map(|n| vec![n.0]).unwrap_or_default()
            } else {
                f.newsletters.clone()
            },
        })),
    );
    super::form_page(app, "reader-new.html", ctx, error)
}

pub(crate) async fn new_form(State(app): State<AppRef>, s: Signed) -> Response {
    if let Some(r) = refused(&app, &s, None) {
        return r;
    }
    new_page(&app, &s, &ReaderForm::default(), None).await
}

pub(crate) async fn create(
    State(app): State<AppRef>,
    s: Signed,
    RawForm(body): RawForm,
) -> Response {
    let f = ReaderForm::read(&body);
    if let Some(r) = refused(&app, &s, Some(&f.csrf)) {
        return r;
    }
    let lang = s.lang();
    if !f.vouched {
        let e = app.theme.t(lang, "admin-reader-vouch-needed");
        return new_page(&app, &s, &f, Some(e)).await;
    }
    let Some(reader_lang) = Lang::parse(&f.lang) else {
        let e = app.theme.t(lang, "admin-reader-lang-needed");
        return new_page(&app, &s, &f, Some(e)).await;
    };
    let r: Result<Result<SubscriberId, AddRefused>, String> = async {
        let mut tx = app.db.begin().await.map_err(|e| e.to_string())?;
        let added = subscribers::add_by_editor(
            &mut tx,
            &f.email,
            &f.name,
            reader_lang,
            &f.newsletters,
            &s.user.name,
            time::OffsetDateTime::now_utc(),
        )
        .await
        .map_err(|e| match e {
            jarida_audience::AudienceError::Email(e) => {
                format!("{}: {e}", app.theme.t(lang, "admin-email"))
            }
            e => {
                tracing::error!(error = %e, "adding a reader failed");
                app.theme.t(lang, "admin-error-internal")
            }
        })?;
        if let Ok(id) = added {
            audit::record(
                &mut tx,
                &s.actor(),
                "reader.add",
                &format!("reader {id}"),
                "",
                now(),
            )
            .await
            .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
        }
        Ok(added)
    }
    .await;
    match r {
        Ok(Ok(id)) => {
            recount(&app);
            redirect(&format!("/admin/readers/{id}?done=added"))
        }
        Ok(Err(AddRefused::Exists(id))) => {
            let e = app
                .theme
                .i18n
                .t(lang, "admin-reader-exists", &[("id", id.0.into())]);
            new_page(&app, &s, &f, Some(e)).await
        }
        Ok(Err(AddRefused::Suppressed)) => {
            let e = app.theme.t(lang, "admin-reader-suppressed");
            new_page(&app, &s, &f, Some(e)).await
        }
        Err(e) => new_page(&app, &s, &f, Some(e)).await,
    }
}

#[derive(serde::Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

async fn reader_page(
    app: &App,
    s: &Signed,
    id: SubscriberId,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let lang = s.lang();
    let sub = match subscribers::by_id(&app.db, id).await {
        Ok(Some(sub)) => sub,
        Ok(None) => return not_found(app, s),
        Err(e) => return fail(e),
    };
    let (data, nls, received) = match tokio::try_join!(
        subscribers::export_data(&app.db, id),
        subscribers::newsletters(&app.db, id),
        directory::received(&app.db, id, 100),
    ) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let mut ctx = frame(app, lang, Some(s), sub.email.clone(), "readers");
    ctx.insert("reader", crate::ser(&sub));
    // The history's details as text: the page shows them as recorded.
    let events: Vec<serde_json::Value> = data["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    serde_json::json!({
                        "at": e["at"], "kind": e["kind"], "detail": e["detail"].to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    ctx.insert("events", crate::ser(&events));
    ctx.insert("newsletters", crate::ser(&nls));
    ctx.insert("received", crate::ser(&received));
    ctx.insert(
        "langs",
        crate::ser(Lang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>()),
    );
    ctx.insert(
        "may_unsubscribe",
        Value::from(matches!(
            sub.status,
            SubscriberStatus::Pending | SubscriberStatus::Active
        )),
    );
    if let Some(n) = notice {
        ctx.insert("notice", Value::from(n));
    }
    super::form_page(app, "reader.html", ctx, error)
}

fn not_found(app: &App, s: &Signed) -> Response {
    message(
        app,
        s.lang(),
        Some(s),
        StatusCode::NOT_FOUND,
        "admin-not-found-title",
        app.theme.t(s.lang(), "admin-reader-not-found"),
    )
}

pub(crate) async fn show(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    Query(q): Query<Done>,
) -> Response {
    if let Some(r) = refused(&app, &s, None) {
        return r;
    }
    let notice = (!q.done.is_empty()).then(|| {
        app.theme
            .t(s.lang(), &format!("admin-reader-done-{}", q.done))
    });
    reader_page(&app, &s, SubscriberId(id), notice, None).await
}

pub(crate) async fn update(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    RawForm(body): RawForm,
) -> Response {
    let f = ReaderForm::read(&body);
    if let Some(r) = refused(&app, &s, Some(&f.csrf)) {
        return r;
    }
    let id = SubscriberId(id);
    let Some(reader_lang) = Lang::parse(&f.lang) else {
        let e = app.theme.t(s.lang(), "admin-reader-lang-needed");
        return reader_page(&app, &s, id, None, Some(e)).await;
    };
    match subscribers::by_id(&app.db, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return not_found(&app, &s),
        Err(e) => return fail(e),
    }
    let prefs = subscribers::Preferences {
        name: f.name.clone(),
        lang: reader_lang.code().to_string(),
        newsletters: f.newsletters.clone(),
    };
    if let Err(e) =
        subscribers::update_preferences(&app.db, id, &prefs, time::OffsetDateTime::now_utc()).await
    {
        return fail(e);
    }
    if let Err(e) = record(&app, &s, "reader.edit", id, "").await {
        return fail(e);
    }
    recount(&app);
    redirect(&format!("/admin/readers/{id}?done=saved"))
}

/// An audit entry on its own: for changes the audience crate commits itself.
async fn record(
    app: &App,
    s: &Signed,
    action: &str,
    id: SubscriberId,
    detail: &str,
) -> Result<(), jarida_store::StoreError> {
    let mut tx = app.db.begin().await?;
    audit::record(
        &mut tx,
        &s.actor(),
        action,
        &format!("reader {id}"),
        detail,
        now(),
    )
    .await?;
    tx.commit().await
}

#[derive(serde::Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn unsubscribe(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if let Some(r) = refused(&app, &s, Some(&f.csrf)) {
        return r;
    }
    let id = SubscriberId(id);
    match subscribers::unsubscribe(&app.db, id, "admin", time::OffsetDateTime::now_utc()).await {
        Ok(true) => {
            if let Err(e) = record(&app, &s, "reader.unsubscribe", id, "").await {
                return fail(e);
            }
            recount(&app);
        }
        Ok(false) => {}
        Err(e) => return fail(e),
    }
    redirect(&format!("/admin/readers/{id}?done=unsubscribed"))
}

pub(crate) async fn erase_form(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
) -> Response {
    if let Some(r) = refused(&app, &s, None) {
        return r;
    }
    let sub = match subscribers::by_id(&app.db, SubscriberId(id)).await {
        Ok(Some(sub)) => sub,
        Ok(None) => return not_found(&app, &s),
        Err(e) => return fail(e),
    };
    let mut ctx = titled(&app, &s, "admin-reader-erase-title");
    ctx.insert("reader", crate::ser(&sub));
    page(&app, StatusCode::OK, "reader-erase.html", ctx)
}

pub(crate) async fn erase(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if let Some(r) = refused(&app, &s, Some(&f.csrf)) {
        return r;
    }
    let id = SubscriberId(id);
    match subscribers::by_id(&app.db, id).await {
        Ok(Some(_)) => {}
        Ok(None) => return redirect("/admin/readers"),
        Err(e) => return fail(e),
    }
    // Finished even if the request is cut off: the database and the outbox must not disagree.
    let (done, result) = tokio::sync::oneshot::channel();
    let (db, outbox, actor) = (app.db.clone(), app.cfg.outbox_dir.clone(), s.actor());
    app.after_answer.spawn(async move {
        let r: Result<(), String> = async {
            let now_t = time::OffsetDateTime::now_utc();
            let mut tx = db.begin().await.map_err(|e| e.to_string())?;
            let email = jarida_newsletter::erasure::erase_reader_in(&mut tx, id, now_t)
                .await
                .map_err(|e| e.to_string())?;
            audit::record(
                &mut tx,
                &actor,
                "reader.erase",
                &format!("reader {id}"),
                "",
                now(),
            )
            .await
            .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            jarida_newsletter::erasure::erase_outside(&db, id, &email, &outbox)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        let _ = done.send(r);
    });
    match result.await {
        Ok(Ok(())) => {
            recount(&app);
            redirect("/admin/readers?done=erased")
        }
        Ok(Err(e)) => fail(e),
        Err(_) => fail("the erasure task ended early"),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct SegmentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// Saves the filter the form carries (the list's, in hidden fields) as a segment.
pub(crate) async fn save_segment(
    State(app): State<AppRef>,
    s: Signed,
    RawForm(body): RawForm,
) -> Response {
    let form: SegmentForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Some(r) = refused(&app, &s, Some(&form.csrf)) {
        return r;
    }
    let q: ListQuery = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let f = q.filter(&app);
    let lang = s.lang();
    let r: Result<Result<SegmentId, segments::Refused>, String> = async {
        let mut tx = app.db.begin().await.map_err(|e| e.to_string())?;
        let saved = segments::save(&mut tx, &form.name, &f, Some(s.user.id), now())
            .await
            .map_err(|e| e.to_string())?;
        if let Ok(id) = saved {
            audit::record(
                &mut tx,
                &s.actor(),
                "segment.save",
                &format!("segment {id}"),
                form.name.trim(),
                now(),
            )
            .await
            .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
        }
        Ok(saved)
    }
    .await;
    let why = match r {
        Ok(Ok(id)) => return redirect(&format!("/admin/readers?segment={id}&done=segment-saved")),
        Ok(Err(segments::Refused::NameTaken)) => "admin-segment-name-taken",
        Ok(Err(segments::Refused::BadName)) => "admin-segment-name-needed",
        Ok(Err(segments::Refused::Everyone)) => "admin-segment-everyone",
        Err(e) => return fail(e),
    };
    message(
        &app,
        lang,
        Some(&s),
        StatusCode::UNPROCESSABLE_ENTITY,
        "admin-segment-not-saved",
        app.theme.t(lang, why),
    )
}

/// Deletes a segment, unless an edition not yet sent is limited to it.
pub(crate) async fn delete_segment(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if let Some(r) = refused(&app, &s, Some(&f.csrf)) {
        return r;
    }
    let id = SegmentId(id);
    let r: Result<Result<(), Vec<jarida_core::EditionId>>, String> = async {
        let mut tx = app.db.begin().await.map_err(|e| e.to_string())?;
        if let Err(open) = jarida_newsletter::editions::release_segment(&mut tx, id)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(Err(open));
        }
        if let Some(name) = segments::delete(&mut tx, id)
            .await
            .map_err(|e| e.to_string())?
        {
            audit::record(
                &mut tx,
                &s.actor(),
                "segment.delete",
                &format!("segment {id}"),
                &name,
                now(),
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        Ok(Ok(()))
    }
    .await;
    match r {
        Ok(Ok(())) => redirect("/admin/readers?done=segment-deleted"),
        Ok(Err(open)) => {
            let list: Vec<String> = open.iter().map(|e| format!("#{e}")).collect();
            message(
                &app,
                s.lang(),
                Some(&s),
                StatusCode::CONFLICT,
                "admin-segment-not-deleted",
                app.theme.i18n.t(
                    s.lang(),
                    "admin-segment-in-use",
                    &[("editions", list.join(", ").into())],
                ),
            )
        }
        Err(e) => fail(e),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct BulkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    /// The newsletter to add them to or take them out of (`newsletter` is the filter's).
    #[serde(default)]
    to_newsletter: String,
    /// For an erasure: the number of readers, typed by the editor.
    #[serde(default)]
    confirm: String,
}

/// Starts a bulk action on the readers the posted filter (or segment) matches.
pub(crate) async fn bulk(State(app): State<AppRef>, s: Signed, RawForm(body): RawForm) -> Response {
    let form: BulkForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Some(r) = refused(&app, &s, Some(&form.csrf)) {
        return r;
    }
    let lang = s.lang();
    let q: ListQuery = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let filter = match q.segment.trim().parse::<i64>() {
        Ok(id) => {
            let mut c = match app.db.acquire().await {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            match segments::get(c.conn(), SegmentId(id)).await {
                Ok(Some(seg)) => seg.filter,
                Ok(None) => return redirect("/admin/readers"),
                Err(e) => return fail(e),
            }
        }
        Err(_) => q.filter(&app),
    };
    let refuse = |key: &str| {
        message(
            &app,
            lang,
            Some(&s),
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin-bulk-not-started",
            app.theme.t(lang, key),
        )
    };
    let Some(action) = jarida_newsletter::bulk::Action::parse(form.action.trim()) else {
        return refuse("admin-bulk-choose");
    };
    let newsletter = form.to_newsletter.trim().parse::<i64>().ok();
    if matches!(
        action,
        jarida_newsletter::bulk::Action::Add | jarida_newsletter::bulk::Action::Remove
    ) && newsletter.is_none()
    {
        return refuse("admin-bulk-newsletter");
    }
    let r: Result<Result<i64, ()>, String> = async {
        let mut tx = app.db.begin().await.map_err(|e| e.to_string())?;
        let id = jarida_newsletter::bulk::create(
            &mut tx,
            action,
            &filter,
            newsletter,
            &s.user.name,
            Some(s.user.id),
            now(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let job = jarida_newsletter::bulk::get_in(tx.conn(), id)
            .await
            .map_err(|e| e.to_string())?;
        // An erasure runs only for the number the editor typed: what they saw is what goes.
        if action == jarida_newsletter::bulk::Action::Erase
            && job.as_ref().map(|j| j.total.to_string()) != Some(form.confirm.trim().to_string())
        {
            return Ok(Err(()));
        }
        // The filter as the audit log keeps it: a search for an address must not leave the
        // address there once the reader is erased.
        let shown =
            jarida_mail::redact_addresses(&serde_json::to_string(&filter).unwrap_or_default());
        audit::record(
            &mut tx,
            &s.actor(),
            &format!("readers.bulk-{action}"),
            &format!("job {id}"),
            &shown,
            now(),
        )
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        Ok(Ok(id))
    }
    .await;
    match r {
        Ok(Ok(id)) => redirect(&format!("/admin/jobs/{id}")),
        Ok(Err(())) => refuse("admin-bulk-confirm-count"),
        Err(e) => fail(e),
    }
}

/// A bulk job's progress; the page reloads itself while the job runs.
pub(crate) async fn job(State(app): State<AppRef>, s: Signed, Path(id): Path<i64>) -> Response {
    if let Some(r) = refused(&app, &s, None) {
        return r;
    }
    let job = match jarida_newsletter::bulk::get(&app.db, id).await {
        Ok(Some(j)) => j,
        Ok(None) => {
            return message(
                &app,
                s.lang(),
                Some(&s),
                StatusCode::NOT_FOUND,
                "admin-not-found-title",
                app.theme.t(s.lang(), "admin-bulk-not-found"),
            );
        }
        Err(e) => return fail(e),
    };
    let lang = s.lang();
    let mut ctx = frame(
        &app,
        lang,
        Some(&s),
        app.theme
            .t(lang, &format!("admin-bulk-title-{}", job.action)),
        "readers",
    );
    let running = matches!(
        job.status,
        jarida_newsletter::bulk::JobStatus::Queued | jarida_newsletter::bulk::JobStatus::Running
    );
    if !running {
        // The lists go on from here: what they count has changed.
        recount(&app);
    }
    let percent = if job.total > 0 {
        (job.done * 100 / job.total).min(100)
    } else {
        100
    };
    ctx.insert("report", crate::ser(super::imports::import_report(&job)));
    ctx.insert("spec", crate::ser(super::imports::import_spec(&job)));
    ctx.insert("job", crate::ser(&job));
    ctx.insert("running", Value::from(running));
    ctx.insert("percent", Value::from(percent));
    page(&app, StatusCode::OK, "job.html", ctx)
}

/// The latest bulk jobs.
pub(crate) async fn jobs(State(app): State<AppRef>, s: Signed) -> Response {
    if let Some(r) = refused(&app, &s, None) {
        return r;
    }
    let list = match jarida_newsletter::bulk::recent(&app.db, 50).await {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mut ctx = titled(&app, &s, "admin-jobs-title");
    ctx.insert("jobs", crate::ser(&list));
    page(&app, StatusCode::OK, "jobs.html", ctx)
}
