//! The editions, for owners and editors: the list with each edition's status and figures,
//! composing the next one, an edition's page (its course: approve, schedule, send now, pause,
//! resume, cancel; the segment it goes to; while sending, live progress, rate and time left;
//! afterwards its figures), and the composer of one language (subject, intro with a live preview,
//! the items: reorder by drag and drop or by buttons, add from recent posts, remove) with the
//! message previewed as desktop, mobile and plain text in a sandboxed frame, and test copies.
//! Every change and its audit line are one transaction.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, RawForm, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jarida_accounts::audit;
use jarida_content::digest;
use jarida_core::{EditionId, Lang, SegmentId};
use jarida_newsletter::deliver::{self, Figures};
use jarida_newsletter::editions::{self, Action, Edition, EditionStatus, LangPart};
use jarida_newsletter::{Newsletter, NewsletterError};
use minijinja::Value;

use super::auth::readers_refusal as refused;
use super::{Signed, fail, frame, message, now, page, redirect};
use crate::{App, AppRef};

/// How far back the composer offers posts to add.
const RECENT_DAYS: i64 = 92;
/// How many recent posts it offers.
const RECENT_MAX: usize = 40;

fn titled(app: &App, s: &Signed, title: String) -> BTreeMap<&'static str, Value> {
    frame(app, s.lang(), Some(s), title, "editions")
}

fn not_found(app: &App, s: &Signed) -> Response {
    message(
        app,
        s.lang(),
        Some(s),
        StatusCode::NOT_FOUND,
        "admin-not-found-title",
        app.theme.t(s.lang(), "admin-edition-not-found"),
    )
}

/// The newsletter an edition belongs to, as configured now.
fn newsletter(app: &App, e: &Edition) -> Option<Newsletter> {
    app.settings()
        .newsletters
        .iter()
        .find(|n| n.slug == e.newsletter)
        .cloned()
}

fn newsletter_name(app: &App, e: &Edition) -> String {
    newsletter(app, e)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| e.newsletter.clone())
}

/// Why a change was refused, in the editor's language where it is one we foresee.
fn refusal(app: &App, lang: Lang, e: &NewsletterError) -> Option<String> {
    match e {
        NewsletterError::State { status, .. } => Some(
            app.theme.i18n.t(
                lang,
                "admin-edition-refused-state",
                &[(
                    "status",
                    app.theme
                        .t(lang, &format!("admin-edition-status-{status}"))
                        .into(),
                )],
            ),
        ),
        NewsletterError::Invalid(why) => Some(why.clone()),
        _ => None,
    }
}

/// The edition's figures where it has a ledger (it started sending).
fn started(e: &Edition) -> bool {
    matches!(
        e.status,
        EditionStatus::Sending | EditionStatus::Paused | EditionStatus::Sent
    ) || e.started_at.is_some()
}

pub(crate) async fn list(State(app): State<AppRef>, s: Signed) -> Response {
    if let Some(r) = refused(&app, &s, None) {
        return r;
    }
    let lang = s.lang();
    let all = match editions::list(&app.db, None).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let mut rows = Vec::new();
    for e in all.iter().take(200) {
        let f = if started(e) {
            match deliver::figures(&app.db, e.id).await {
                Ok(f) => Some(f),
                Err(err) => return fail(err),
            }
        } else {
            None
        };
        rows.push(serde_json::json!({
            "edition": e, "newsletter_name": newsletter_name(&app, e), "figures": f,
        }));
    }
    let mut ctx = titled(&app, &s, app.theme.t(lang, "admin-editions-title"));
    ctx.insert("editions", crate::ser(&rows));
    ctx.insert(
        "newsletters",
        crate::ser(
            app.settings()
                .newsletters
                .iter()
                .map(|n| serde_json::json!({"slug": n.slug, "name": n.name}))
                .collect::<Vec<_>>(),
        ),
    );
    page(&app, StatusCode::OK, "editions.html", ctx)
}

#[derive(serde::Deserialize, Default)]
pub struct ComposeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    newsletter: String,
}

/// Composes the next edition of a newsletter from what was published since the last one.
pub(crate) async fn compose(
    State(app): State<AppRef>,
    s: Signed,
    axum::extract::Form(f): axum::extract::Form<ComposeForm>,
) -> Response {
    if let Some(r) = refused(&app, &s, Some(&f.csrf)) {
        return r;
    }
    let lang = s.lang();
    let settings = app.settings();
    let Some(nl) = settings
        .newsletters
        .iter()
        .find(|n| n.slug == f.newsletter.trim())
        .or_else(|| (settings.newsletters.len() == 1).then(|| &settings.newsletters[0]))
    else {
        return message(
            &app,
            lang,
            Some(&s),
            StatusCode::UNPROCESSABLE_ENTITY,
            "admin-refused-title",
            app.theme.t(lang, "admin-edition-no-newsletter"),
        );
    };
    let t = time::OffsetDateTime::now_utc();
    let composed = match editions::compose(&app.db, nl, &app.theme.i18n, t, None, t).await {
        Ok(Some(id)) => id,
        Ok(None) => return redirect("/admin/editions"),
        Err(e) => return fail(e),
    };
    if let Err(e) = record(&app, &s, "edition.compose", composed, &nl.slug).await {
        return fail(e);
    }
    redirect(&format!("/admin/editions/{composed}?done=composed"))
}

/// An audit line on its own, for what the domain wrote in its own transaction.
async fn record(
    app: &App,
    s: &Signed,
    action: &str,
    id: EditionId,
    detail: &str,
) -> Result<(), jarida_store::StoreError> {
    let mut tx = app.db.begin().await?;
    audit::record(
        &mut tx,
        &s.actor(),
        action,
        &format!("edition {id}"),
        detail,
        now(),
    )
    .await?;
    tx.commit().await
}

#[derive(serde::Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// Progress while sending: share done, messages a minute over the last samples, time left.
#[derive(serde::Serialize, Default)]
struct Progress {
    done: i64,
    percent: i64,
    per_minute: Option<i64>,
    minutes_left: Option<i64>,
}

/// Samples older than this are dropped; the rate is over what remains.
const RATE_WINDOW: Duration = Duration::from_secs(60);

fn progress(app: &App, id: EditionId, f: &Figures, sending: bool) -> Progress {
    let done = f.sent + f.failed + f.skipped;
    let percent = (done * 100).checked_div(f.recipients).unwrap_or(0);
    let mut p = Progress {
        done,
        percent,
        ..Default::default()
    };
    if !sending {
        return p;
    }
    let finished = f.sent + f.failed;
    let mut all = app.send_samples.lock().unwrap_or_else(|e| e.into_inner());
    if all.len() > 100 {
        all.clear();
    }
    let samples = all.entry(id.0).or_default();
    let t = Instant::now();
    while samples
        .front()
        .is_some_and(|(at, _)| t.duration_since(*at) > RATE_WINDOW)
    {
        samples.pop_front();
    }
    if let Some((at, n)) = samples.front().copied() {
        let secs = t.duration_since(at).as_secs_f64();
        if secs >= 1.0 && finished >= n {
            let per_minute = ((finished - n) as f64 / secs * 60.0).round() as i64;
            p.per_minute = Some(per_minute);
            let left = f.pending + f.sending + f.deferred;
            if per_minute > 0 {
                p.minutes_left = Some((left as f64 / per_minute as f64).ceil() as i64);
            }
        }
    }
    samples.push_back((t, finished));
    p
}

/// The actions an edition's status allows, in the order the page offers them.
fn actions(e: &Edition) -> Vec<&'static str> {
    use EditionStatus::*;
    match e.status {
        Draft => vec!["approve", "send", "schedule", "cancel"],
        Approved => vec!["send", "schedule", "cancel"],
        Scheduled => vec!["send", "schedule", "cancel"],
        Sending => vec!["pause", "cancel"],
        Paused => vec!["resume", "cancel"],
        Sent | Cancelled => vec![],
    }
}

async fn edition_page(
    app: &App,
    s: &Signed,
    id: EditionId,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let lang = s.lang();
    let e = match editions::get(&app.db, id).await {
        Ok(e) => e,
        Err(NewsletterError::NoEdition(_)) => return not_found(app, s),
        Err(err) => return fail(err),
    };
    let (parts, figures, segs) = match tokio::try_join!(
        editions::parts(&app.db, &e),
        deliver::figures(&app.db, id),
        async {
            jarida_audience::segments::list(&app.db)
                .await
                .map_err(NewsletterError::from)
        },
    ) {
        Ok(v) => v,
        Err(err) => return fail(err),
    };
    let sending = e.status == EditionStatus::Sending;
    let prog = progress(app, id, &figures, sending);
    let name = newsletter_name(app, &e);
    let title = app.theme.i18n.t(
        lang,
        "admin-edition-title",
        &[
            ("number", e.number.into()),
            ("newsletter", name.as_str().into()),
        ],
    );
    let mut ctx = titled(app, s, title);
    ctx.insert("edition", crate::ser(&e));
    ctx.insert("newsletter_name", Value::from(name));
    ctx.insert("parts", crate::ser(&parts));
    ctx.insert("figures", crate::ser(&figures));
    ctx.insert("progress", crate::ser(&prog));
    ctx.insert("has_ledger", Value::from(figures.recipients > 0));
    ctx.insert("actions", crate::ser(actions(&e)));
    ctx.insert("editable", Value::from(e.status.editable()));
    // Waiting for a worker to start it, or going out: the figures follow on their own.
    ctx.insert(
        "live",
        Value::from(matches!(
            e.status,
            EditionStatus::Sending | EditionStatus::Scheduled
        )),
    );
    ctx.insert(
        "segments",
        crate::ser(
            segs.iter()
                .map(|g| serde_json::json!({"id": g.id, "name": g.name}))
                .collect::<Vec<_>>(),
        ),
    );
    let segment_name = e
        .segment_id
        .and_then(|sid| segs.iter().find(|g| g.id == sid))
        .map(|g| g.name.clone());
    ctx.insert("segment_name", Value::from(segment_name));
    // The web version is public for the site's newsletter once it went out.
    let web = (e.newsletter == crate::editions::PUBLIC
        && matches!(
            e.status,
            EditionStatus::Sending | EditionStatus::Paused | EditionStatus::Sent
        ))
    .then(|| {
        parts
            .iter()
            .map(|p| {
                serde_json::json!({"lang": p.lang, "url": format!("/{}/newsletter/{}", p.lang, e.number)})
            })
            .collect::<Vec<_>>()
    });
    ctx.insert("web", crate::ser(web));
    ctx.insert("delivery_here", Value::from(app.sends()));
    // The schedule field's default: the slot, else an hour from now, in the newsroom's clock.
    let default_at = e
        .send_at
        .or(e.slot_at)
        .filter(|t| *t > now())
        .unwrap_or(now() + 3600);
    ctx.insert("default_at", Value::from(local_input(app, default_at)));
    ctx.insert(
        "zone",
        Value::from(app.cfg.timezone.iana_name().unwrap_or("UTC")),
    );
    if let Some(n) = notice {
        ctx.insert("notice", Value::from(n));
    }
    super::form_page(app, "edition.html", ctx, error)
}

/// Unix seconds as a `datetime-local` field's value in the newsroom's time zone.
fn local_input(app: &App, ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .map(|t| {
            t.to_zoned(app.cfg.timezone.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// A `datetime-local` value read in the newsroom's time zone.
fn parse_local(app: &App, v: &str) -> Option<time::OffsetDateTime> {
    let dt: jiff::civil::DateTime = v.trim().parse().ok()?;
    let z = dt.to_zoned(app.cfg.timezone.clone()).ok()?;
    time::OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).ok()
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
            .t(s.lang(), &format!("admin-edition-done-{}", q.done))
    });
    edition_page(&app, &s, EditionId(id), notice, None).await
}

#[derive(serde::Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    /// For `schedule`: a `datetime-local` value in the newsroom's time zone.
    #[serde(default)]
    at: String,
    /// For `cancel` of an edition already going out: the box saying so.
    #[serde(default)]
    confirm: String,
}

pub(crate) async fn act(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<ActionForm>,
) -> Response {
    if let Some(r) = refused(&app, &s, Some(&f.csrf)) {
        return r;
    }
    let lang = s.lang();
    let id = EditionId(id);
    let Ok(action) = f.action.parse::<Action>() else {
        return edition_page(
            &app,
            &s,
            id,
            None,
            Some(app.theme.t(lang, "admin-edition-no-action")),
        )
        .await;
    };
    let t = time::OffsetDateTime::now_utc();
    let at = match action {
        Action::Schedule => match parse_local(&app, &f.at) {
            Some(at) if at > t => Some(at),
            _ => {
                let e = app.theme.t(lang, "admin-edition-at-needed");
                return edition_page(&app, &s, id, None, Some(e)).await;
            }
        },
        _ => None,
    };
    if action == Action::Cancel {
        // Once readers are getting it, cancelling is for good: the page asks for the box.
        let cur = match editions::get(&app.db, id).await {
            Ok(e) => e,
            Err(NewsletterError::NoEdition(_)) => return not_found(&app, &s),
            Err(e) => return fail(e),
        };
        if matches!(cur.status, EditionStatus::Sending | EditionStatus::Paused)
            && f.confirm.is_empty()
        {
            let e = app.theme.t(lang, "admin-edition-cancel-confirm-needed");
            return edition_page(&app, &s, id, None, Some(e)).await;
        }
    }
    let r: Result<(), NewsletterError> = async {
        let mut tx = app.db.begin().await?;
        editions::act_in(&mut tx, id, action, at, t).await?;
        let detail = at
            .map(|a| a.unix_timestamp().to_string())
            .unwrap_or_default();
        audit::record(
            &mut tx,
            &s.actor(),
            &format!("edition.{action}"),
            &format!("edition {id}"),
            &detail,
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    answered(&app, &s, id, r, action.as_str()).await
}

/// The answer to a change of an edition: back to its page saying `done`, or the page again with
/// why it was refused.
async fn answered(
    app: &App,
    s: &Signed,
    id: EditionId,
    r: Result<(), NewsletterError>,
    done: &str,
) -> Response {
    match r {
        Ok(()) => redirect(&format!("/admin/editions/{id}?done={done}")),
        Err(NewsletterError::NoEdition(_)) => not_found(app, s),
        Err(e) => match refusal(app, s.lang(), &e) {
            Some(why) => edition_page(app, s, id, None, Some(why)).await,
            None => fail(e),
        },
    }
}

#[derive(serde::Deserialize, Default)]
pub struct SegmentForm {
    #[serde(default)]
    csrf: String,
    /// A segment's id; empty for every reader of the newsletter.
    #[serde(default)]
    segment: String,
}

pub(crate) async fn set_segment(
    State(app): State<AppRef>,
    s: Signed,
    Path(id): Path<i64>,
    axum::extract::Form(f): axum::extract::Form<SegmentForm>,
) -> Response {
    if let Some(r) = refused(&app, &s, Some(&f.csrf)) {
        return r;
    }
    let id = EditionId(id);
    let segment = f.segment.trim().parse::<i64>().ok().map(SegmentId);
    let r: Result<(), NewsletterError> = async {
        let mut tx = app.db.begin().await?;
        editions::set_segment_in(&mut tx, id, segment, time::OffsetDateTime::now_utc()).await?;
        let detail = segment
            .map(|g| format!("segment {g}"))
            .unwrap_or_else(|| "everyone".into());
        audit::record(
            &mut tx,
            &s.actor(),
            "edition.segment",
            &format!("edition {id}"),
            &detail,
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    answered(&app, &s, id, r, "segment").await
}

/// The composer's form, read from its pairs: the items repeat, in the order shown.
#[derive(Debug, Default)]
struct ComposerForm {
    csrf: String,
    subject: String,
    intro: String,
    items: Vec<i64>,
    /// `up:ID` or `down:ID`: a move button.
    moved: Option<(bool, i64)>,
    removed: Option<i64>,
    /// The "add" button with the post chosen in its list.
    add: Option<i64>,
    adding: bool,
}

impl ComposerForm {
    fn read(body: &[u8]) -> ComposerForm {
        let mut f = ComposerForm::default();
        for (k, v) in form_urlencoded::parse(body) {
            match k.as_ref() {
                "csrf" => f.csrf = v.into_owned(),
                "subject" => f.subject = v.into_owned(),
                "intro" => f.intro = v.into_owned(),
                "item" => f.items.extend(v.parse::<i64>().ok()),
                "move" => {
                    f.moved = v
                        .split_once(':')
                        .and_then(|(dir, id)| Some((dir == "up", id.parse::<i64>().ok()?)))
                }
                "remove" => f.removed = v.parse().ok(),
                "post" => f.add = v.parse().ok(),
                "op" if v == "add" => f.adding = true,
                _ => {}
            }
        }
        f
    }

    /// The items in their new order, after the button that was pressed.
    fn order(&self) -> Vec<i64> {
        let mut order = self.items.clone();
        if let Some((up, id)) = self.moved
            && let Some(i) = order.iter().position(|p| *p == id)
        {
            let j = if up { i.checked_sub(1) } else { Some(i + 1) };
            if let Some(j) = j.filter(|j| *j < order.len()) {
                order.swap(i, j);
            }
        }
        if let Some(id) = self.removed {
            order.retain(|p| *p != id);
        }
        if self.adding
            && let Some(id) = self.add
            && !order.contains(&id)
        {
            order.push(id);
        }
        order
    }
}

/// The posts of `lang` published lately that the part does not carry yet, newest first.
async fn recent_posts(
    app: &App,
    lang: Lang,
    part: &LangPart,
) -> Result<Vec<digest::Brief>, NewsletterError> {
    let mut pc = app.db.acquire().await?;
    let t = now();
    let ids = digest::published_between(pc.conn(), lang, t - RECENT_DAYS * 86_400, t + 1).await?;
    let ids: Vec<i64> = ids
        .into_iter()
        .filter(|id| !part.items.iter().any(|it| it.post_id == *id))
        .collect();
    let mut briefs = digest::briefs(pc.conn(), &ids).await?;
    briefs.sort_by_key(|b| std::cmp::Reverse((b.published_at, b.id)));
    briefs.truncate(RECENT_MAX);
    Ok(briefs)
}

/// The edition and its part in `lang`, or the answer saying why not.
async fn part_of(
    app: &App,
    s: &Signed,
    id: EditionId,
    lang: &str,
) -> Result<(Edition, LangPart), Response> {
    let e = match editions::get(&app.db, id).await {
        Ok(e) => e,
        Err(NewsletterError::NoEdition(_)) => return Err(not_found(app, s)),
        Err(err) => return Err(fail(err)),
    };
    let parts = editions::parts(&app.db, &e).await.map_err(fail)?;
    match parts.into_iter().find(|p| p.lang.code() == lang) {
        Some(p) => Ok((e, p)),
        None => Err(not_found(app, s)),
    }
}

async fn composer_page(
    app: &App,
    s: &Signed,
    id: EditionId,
    lang: &str,
    posted: Option<&ComposerForm>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let (e, part) = match part_of(app, s, id, lang).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let recent = match recent_posts(app, part.lang, &part).await {
        Ok(v) => v,
        Err(err) => return fail(err),
    };
    let ui = s.lang();
    let title = app.theme.i18n.t(
        ui,
        "admin-composer-title",
        &[
            ("number", e.number.into()),
            (
                "language",
                app.theme.t(ui, &format!("admin-lang-{}", part.lang)).into(),
            ),
        ],
    );
    let mut ctx = titled(app, s, title);
    ctx.insert("edition", crate::ser(&e));
    ctx.insert("newsletter_name", Value::from(newsletter_name(app, &e)));
    ctx.insert("part", crate::ser(&part));
    ctx.insert("part_lang", Value::from(part.lang.code()));
    ctx.insert("part_dir", Value::from(part.lang.dir()));
    // A refused submission shows what was typed, not what is stored.
    if let Some(f) = posted {
        ctx.insert("subject", Value::from(f.subject.clone()));
        ctx.insert("intro", Value::from(f.intro.clone()));
    } else {
        ctx.insert("subject", Value::from(part.subject.clone()));
        ctx.insert("intro", Value::from(part.intro.clone()));
    }
    ctx.insert("recent", crate::ser(&recent));
    ctx.insert("editable", Value::from(e.status.editable()));
    ctx.insert("previews", Value::from(app.engine().is_some()));
    ctx.insert("me_email", Value::from(s.user.email.clone()));
    ctx.insert("max_tests", Value::from(deliver::MAX_TEST_ADDRESSES));
    if let Some(n) = notice {
        ctx.insert("notice", Value::from(n));
    }
    super::form_page(app, "edition-compose.html", ctx, error)
}

pub(crate) async fn composer(
    State(app): State<AppRef>,
    s: Signed,
    Path((id, lang)): Path<(i64, String)>,
    Query(q): Query<Done>,
) -> Response {
    if let Some(r) = refused(&app, &s, None) {
        return r;
    }
    let notice = (!q.done.is_empty()).then(|| {
        app.theme
            .t(s.lang(), &format!("admin-edition-done-{}", q.done))
    });
    composer_page(&app, &s, EditionId(id), &lang, None, notice, None).await
}

pub(crate) async fn save(
    State(app): State<AppRef>,
    s: Signed,
    Path((id, lang)): Path<(i64, String)>,
    RawForm(body): RawForm,
) -> Response {
    let f = ComposerForm::read(&body);
    if let Some(r) = refused(&app, &s, Some(&f.csrf)) {
        return r;
    }
    let id = EditionId(id);
    let ed = editions::Edit {
        subject: Some(f.subject.clone()),
        intro: Some(f.intro.clone()),
        items: Some(f.order()),
        ..Default::default()
    };
    let r: Result<(), NewsletterError> = async {
        let mut tx = app.db.begin().await?;
        editions::edit_in(&mut tx, id, &lang, &ed, time::OffsetDateTime::now_utc()).await?;
        audit::record(
            &mut tx,
            &s.actor(),
            "edition.edit",
            &format!("edition {id}"),
            &lang,
            now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match r {
        // Back to the list where the button was pressed.
        Ok(()) => redirect(&format!("/admin/editions/{id}/{lang}?done=saved#items")),
        Err(NewsletterError::NoEdition(_)) => not_found(&app, &s),
        Err(e) => match refusal(&app, s.lang(), &e) {
            Some(why) => composer_page(&app, &s, id, &lang, Some(&f), None, Some(why)).await,
            None => fail(e),
        },
    }
}

#[derive(serde::Deserialize, Default)]
pub struct PreviewQuery {
    /// `text` for the plain-text part; otherwise the HTML.
    #[serde(default)]
    r#as: String,
}

/// The message as a reader would see it, for the composer's sandboxed frames: the links of no
/// reader, scripts and plugins impossible (`sandbox`), nothing loaded but the site's own images.
pub(crate) async fn preview(
    State(app): State<AppRef>,
    s: Signed,
    Path((id, lang)): Path<(i64, String)>,
    Query(q): Query<PreviewQuery>,
) -> Response {
    if let Some(r) = refused(&app, &s, None) {
        return r;
    }
    let Some(engine) = app.engine() else {
        return not_found(&app, &s);
    };
    let (e, part) = match part_of(&app, &s, EditionId(id), &lang).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = newsletter_name(&app, &e);
    let site = engine.site.get();
    let r = match engine.renderer.render(&site, &name, &e, &part) {
        Ok(r) => r,
        Err(err) => return fail(err),
    };
    let text = q.r#as == "text";
    let body = if text { r.text } else { r.html };
    let unsub = site.abs("/newsletter/unsubscribe/PREVIEW");
    let manage = site.abs(&format!("/{lang}/newsletter/"));
    let body = body
        .replace(&jarida_mail::bulk::slot(0), &unsub)
        .replace(&jarida_mail::bulk::slot(1), &manage);
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if text {
            "text/plain; charset=utf-8"
        } else {
            crate::public::HTML
        }),
    );
    // The message's own styles are inline (mail clients read nothing else); its images are the
    // site's. Only the admin may frame it.
    let origin = site_origin(&site.base_url);
    let csp = format!(
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: {origin}; \
         frame-ancestors 'self'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `https://host:port` of a base URL, for a policy's source list (nothing if it is not one).
fn site_origin(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once("://") else {
        return String::new();
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    {
        return String::new();
    }
    format!("{scheme}://{host}")
}

#[derive(serde::Deserialize, Default)]
pub struct TestForm {
    #[serde(default)]
    csrf: String,
    /// Addresses separated by commas, spaces or lines.
    #[serde(default)]
    to: String,
}

/// Test copies of one language to a few addresses; the page says what the relay answered.
pub(crate) async fn send_test(
    State(app): State<AppRef>,
    s: Signed,
    Path((id, lang)): Path<(i64, String)>,
    axum::extract::Form(f): axum::extract::Form<TestForm>,
) -> Response {
    if let Some(r) = refused(&app, &s, Some(&f.csrf)) {
        return r;
    }
    let ui = s.lang();
    let id = EditionId(id);
    let Some(engine) = app.engine() else {
        let e = app.theme.t(ui, "admin-edition-no-engine");
        return composer_page(&app, &s, id, &lang, None, None, Some(e)).await;
    };
    let to: Vec<String> =
        f.to.split(|c: char| c == ',' || c == '،' || c.is_whitespace())
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
    let marker = app.theme.t(
        Lang::parse(&lang).unwrap_or(ui),
        "admin-edition-test-marker",
    );
    match engine.send_test(id, &lang, &to, &marker).await {
        Ok(outcomes) => {
            if let Err(e) = record(
                &app,
                &s,
                "edition.test",
                id,
                &format!("{lang}, {} copies", outcomes.len()),
            )
            .await
            {
                return fail(e);
            }
            let lines: Vec<String> = outcomes
                .iter()
                .map(|o| {
                    let key = if o.ok {
                        "admin-edition-test-sent"
                    } else {
                        "admin-edition-test-failed"
                    };
                    app.theme.i18n.t(
                        ui,
                        key,
                        &[
                            ("to", o.to.as_str().into()),
                            ("reply", o.detail.as_str().into()),
                        ],
                    )
                })
                .collect();
            let all_ok = outcomes.iter().all(|o| o.ok);
            let text = lines.join(" · ");
            if all_ok {
                composer_page(&app, &s, id, &lang, None, Some(text), None).await
            } else {
                composer_page(&app, &s, id, &lang, None, None, Some(text)).await
            }
        }
        Err(NewsletterError::NoEdition(_)) => not_found(&app, &s),
        Err(e) => match refusal(&app, ui, &e) {
            Some(why) => composer_page(&app, &s, id, &lang, None, None, Some(why)).await,
            None => fail(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buttons_reorder_remove_and_add() {
        let f = ComposerForm::read(b"item=3&item=1&item=2&move=up%3A1");
        assert_eq!(f.order(), vec![1, 3, 2]);
        let f = ComposerForm::read(b"item=3&item=1&item=2&move=down%3A2");
        assert_eq!(
            f.order(),
            vec![3, 1, 2],
            "the last one cannot go further down"
        );
        let f = ComposerForm::read(b"item=3&item=1&move=up%3A3");
        assert_eq!(f.order(), vec![3, 1], "the first one cannot go further up");
        let f = ComposerForm::read(b"item=3&item=1&remove=3");
        assert_eq!(f.order(), vec![1]);
        let f = ComposerForm::read(b"item=3&post=9&op=add");
        assert_eq!(f.order(), vec![3, 9]);
        let f = ComposerForm::read(b"item=3&post=9&op=save");
        assert_eq!(
            f.order(),
            vec![3],
            "the chosen post is added only by its button"
        );
    }

    #[test]
    fn the_frame_policy_names_only_an_origin() {
        assert_eq!(
            site_origin("https://news.example:8443/base"),
            "https://news.example:8443"
        );
        assert_eq!(
            site_origin("http://127.0.0.1:3000"),
            "http://127.0.0.1:3000"
        );
        assert_eq!(site_origin("https://x.example; script-src *"), "");
        assert_eq!(site_origin("nonsense"), "");
    }
}
