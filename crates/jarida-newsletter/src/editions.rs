//! Editions: composing a draft from what was published in a period, editing it, and moving it through
//! draft -> approved | scheduled -> sending <-> paused -> sent (or cancelled). SQL for the `editions`,
//! `edition_langs` and `edition_items` tables lives here.

use jarida_core::{EditionId, Lang};
use jarida_theme::I18n;
use std::collections::{HashMap, HashSet};

use jarida_content::digest;
use jarida_store::{Conn, Db, List, q_all, q_exec, q_one, q_opt};
use serde::Serialize;
use time::OffsetDateTime;

use crate::{Newsletter, NewsletterError};

jarida_core::text_enum! {
    /// Where an edition is in its life: composed, approved by an editor, waiting for its time,
    /// going out (or paused while going out), done.
    pub enum EditionStatus {
        Draft = "draft",
        Approved = "approved",
        Scheduled = "scheduled",
        Sending = "sending",
        Paused = "paused",
        Sent = "sent",
        Cancelled = "cancelled",
    }
}

impl EditionStatus {
    /// Its content may still change.
    pub fn editable(self) -> bool {
        matches!(self, Self::Draft | Self::Approved | Self::Scheduled)
    }

    /// Nothing more will happen to it.
    pub fn finished(self) -> bool {
        matches!(self, Self::Sent | Self::Cancelled)
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Edition {
    pub id: EditionId,
    pub newsletter_id: i64,
    pub newsletter: String,
    pub number: i64,
    pub status: EditionStatus,
    pub period_start: i64,
    pub period_end: i64,
    pub slot_at: Option<i64>,
    pub send_at: Option<i64>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The segment the edition is limited to (None: every reader of the newsletter).
    pub segment_id: Option<jarida_core::SegmentId>,
}

/// One post in an edition.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub post_id: i64,
    pub position: i64,
    pub slug: String,
    pub kind: String,
    pub title: String,
    pub summary: String,
    pub cover: Option<String>,
    pub cover_alt: Option<String>,
    pub featured: bool,
    pub published_at: Option<i64>,
}

/// A correction to a post an earlier edition carried.
#[derive(Debug, Clone, Serialize)]
pub struct CorrectionItem {
    pub post_id: i64,
    pub slug: String,
    pub title: String,
    pub at: i64,
    pub note: String,
}

impl Item {
    fn new(position: i64, b: &digest::Brief) -> Item {
        Item {
            post_id: b.id,
            position,
            slug: b.slug.clone(),
            kind: b.kind.clone(),
            title: b.title.clone(),
            summary: b.summary.clone(),
            cover: b.cover.clone(),
            cover_alt: b.cover_alt.clone(),
            featured: b.featured,
            published_at: b.published_at,
        }
    }
}

impl From<digest::Correction> for CorrectionItem {
    fn from(c: digest::Correction) -> CorrectionItem {
        CorrectionItem {
            post_id: c.post_id,
            slug: c.slug,
            title: c.title,
            at: c.at,
            note: c.note,
        }
    }
}

/// An edition's content in one language.
#[derive(Debug, Clone, Serialize)]
pub struct LangPart {
    pub lang: Lang,
    pub subject: String,
    pub intro: String,
    pub items: Vec<Item>,
    pub corrections: Vec<CorrectionItem>,
}

const EDITION_COLS: &str = "e.id, e.newsletter_id, n.slug AS newsletter, e.number, e.status, \
     e.period_start, e.period_end, e.slot_at, e.send_at, e.created_at, e.started_at, e.finished_at, \
     e.segment_id";

/// Makes the configured newsletters exist in the database (by slug), and records when each cadence
/// was first seen so that slots before it are never composed.
pub async fn sync(db: &Db, list: &[Newsletter], now: i64) -> Result<(), NewsletterError> {
    let mut tx = db.begin().await?;
    for n in list {
        let found: Option<(i64,)> = q_opt!(
            tx.conn(),
            (i64,),
            "SELECT id FROM newsletters WHERE slug = $1",
            &n.slug
        )?;
        match found {
            Some((id,)) => {
                q_exec!(
                    tx.conn(),
                    "UPDATE newsletters SET name = $1, cadence_since = COALESCE(cadence_since, $2) WHERE id = $3",
                    &n.name,
                    now,
                    id
                )?;
            }
            None => {
                q_exec!(
                    tx.conn(),
                    "INSERT INTO newsletters (slug, name, created_at, cadence_since) VALUES ($1, $2, $3, $3)",
                    &n.slug,
                    &n.name,
                    now
                )?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn newsletter_row(c: Conn<'_>, slug: &str) -> Result<(i64, i64), NewsletterError> {
    let r: Option<(i64, Option<i64>)> = q_opt!(
        c,
        (i64, Option<i64>),
        "SELECT id, cadence_since FROM newsletters WHERE slug = $1",
        slug
    )?;
    let (id, since) = r.ok_or_else(|| NewsletterError::NoNewsletter(slug.to_string()))?;
    Ok((id, since.unwrap_or(0)))
}

/// The cadence slot a scheduler should compose now: the latest slot at or before `now` that is newer
/// than the newsletter's last composed slot and than the moment its cadence was first seen.
pub async fn due_slot(
    db: &Db,
    nl: &Newsletter,
    now: OffsetDateTime,
) -> Result<Option<i64>, NewsletterError> {
    let mut pc = db.acquire().await?;
    let (id, since) = newsletter_row(pc.conn(), &nl.slug).await?;
    let (last,): (Option<i64>,) = q_one!(
        pc.conn(),
        (Option<i64>,),
        "SELECT MAX(slot_at) FROM editions WHERE newsletter_id = $1",
        id
    )?;
    let floor = last.unwrap_or(since).max(since);
    let Ok(ts) = jiff::Timestamp::from_second(now.unix_timestamp()) else {
        return Ok(None);
    };
    let here = ts.to_zoned(nl.timezone.clone());
    // The newest slot <= now: walk back one step from just after now.
    let Some(prev) = nl.cadence.iter_before(here).next() else {
        return Ok(None);
    };
    let slot = prev.timestamp().as_second();
    Ok((slot > floor && slot <= now.unix_timestamp()).then_some(slot))
}

/// Composes a draft edition of `nl` for posts published up to `period_end`, starting where the
/// previous edition's period ended (or one cadence step back for the first edition). `slot_at` marks
/// the cadence slot it is for; composing the same slot twice yields `None`.
pub async fn compose(
    db: &Db,
    nl: &Newsletter,
    i18n: &I18n,
    period_end: OffsetDateTime,
    slot_at: Option<i64>,
    now: OffsetDateTime,
) -> Result<Option<EditionId>, NewsletterError> {
    let end = period_end.unix_timestamp();
    let mut tx = db.begin().await?;
    let (nid, _) = newsletter_row(tx.conn(), &nl.slug).await?;
    if let Some(slot) = slot_at {
        let exists: Option<(i64,)> = q_opt!(
            tx.conn(),
            (i64,),
            "SELECT id FROM editions WHERE newsletter_id = $1 AND slot_at = $2",
            nid,
            slot
        )?;
        if exists.is_some() {
            return Ok(None);
        }
    }
    // A cancelled edition keeps its number (numbers are unique) but not its period: the next edition
    // covers what the cancelled one would have.
    let (prev_end, cancelled_start, next_number): (Option<i64>, Option<i64>, Option<i64>) = q_one!(
        tx.conn(),
        (Option<i64>, Option<i64>, Option<i64>),
        "SELECT MAX(CASE WHEN status <> 'cancelled' THEN period_end END), \
         MIN(CASE WHEN status = 'cancelled' THEN period_start END), MAX(number) \
         FROM editions WHERE newsletter_id = $1",
        nid
    )?;
    let start = match (prev_end, cancelled_start) {
        (Some(p), _) => p,
        (None, Some(c)) => c,
        (None, None) => previous_slot(nl, end).unwrap_or(end - 16 * 86_400),
    };
    let number = next_number.unwrap_or(0) + 1;
    let now_s = now.unix_timestamp();
    let (id,): (i64,) = q_one!(
        tx.conn(),
        (i64,),
        "INSERT INTO editions (newsletter_id, number, status, period_start, period_end, slot_at, created_at, updated_at) \
         VALUES ($1, $2, 'draft', $3, $4, $5, $6, $6) RETURNING id",
        nid,
        number,
        start,
        end,
        slot_at,
        now_s
    )?;
    for &lang in &nl.langs {
        let subject = i18n.plain(
            lang,
            "edition-subject",
            &[
                ("newsletter", nl.name.as_str().into()),
                ("number", number.into()),
            ],
        );
        q_exec!(
            tx.conn(),
            "INSERT INTO edition_langs (edition_id, lang, subject, intro) VALUES ($1, $2, $3, '')",
            id,
            lang,
            subject
        )?;
        let posts = digest::published_between(tx.conn(), lang, start, end).await?;
        for (i, pid) in posts.iter().enumerate() {
            q_exec!(
                tx.conn(),
                "INSERT INTO edition_items (edition_id, lang, position, post_id) VALUES ($1, $2, $3, $4)",
                id,
                lang,
                i as i64,
                *pid
            )?;
        }
    }
    tx.commit().await?;
    tracing::info!(newsletter = %nl.slug, edition = id, number, "composed a draft edition");
    Ok(Some(EditionId(id)))
}

fn previous_slot(nl: &Newsletter, end: i64) -> Option<i64> {
    let ts = jiff::Timestamp::from_second(end).ok()?;
    let here = ts.to_zoned(nl.timezone.clone());
    let mut it = nl.cadence.iter_before(here);
    let first = it.next()?.timestamp().as_second();
    if first < end {
        return Some(first);
    }
    Some(it.next()?.timestamp().as_second())
}

pub async fn get(db: &Db, id: EditionId) -> Result<Edition, NewsletterError> {
    let mut pc = db.acquire().await?;
    get_in(pc.conn(), id).await
}

async fn get_in(c: Conn<'_>, id: EditionId) -> Result<Edition, NewsletterError> {
    let sql = format!(
        "SELECT {EDITION_COLS} FROM editions e JOIN newsletters n ON n.id = e.newsletter_id WHERE e.id = $1"
    );
    q_opt!(c, Edition, jarida_store::sqlx::AssertSqlSafe(sql), id)?
        .ok_or(NewsletterError::NoEdition(id))
}

/// An edition by its public number within a newsletter.
pub async fn by_number(
    db: &Db,
    newsletter: &str,
    number: i64,
) -> Result<Option<Edition>, NewsletterError> {
    let mut pc = db.acquire().await?;
    let sql = format!(
        "SELECT {EDITION_COLS} FROM editions e JOIN newsletters n ON n.id = e.newsletter_id \
         WHERE n.slug = $1 AND e.number = $2"
    );
    Ok(q_opt!(
        pc.conn(),
        Edition,
        jarida_store::sqlx::AssertSqlSafe(sql),
        newsletter,
        number
    )?)
}

/// Editions, newest first; only those with the given status when asked.
pub async fn list(db: &Db, status: Option<EditionStatus>) -> Result<Vec<Edition>, NewsletterError> {
    let mut pc = db.acquire().await?;
    let sql = format!(
        "SELECT {EDITION_COLS} FROM editions e JOIN newsletters n ON n.id = e.newsletter_id \
         WHERE ($1 IS NULL OR e.status = $1) ORDER BY e.id DESC"
    );
    Ok(q_all!(
        pc.conn(),
        Edition,
        jarida_store::sqlx::AssertSqlSafe(sql),
        status
    )?)
}

/// The content of an edition in each of its languages, with the corrections section.
pub async fn parts(db: &Db, e: &Edition) -> Result<Vec<LangPart>, NewsletterError> {
    let mut pc = db.acquire().await?;
    let langs: Vec<(Lang, String, String)> = q_all!(
        pc.conn(),
        (Lang, String, String),
        "SELECT lang, subject, intro FROM edition_langs WHERE edition_id = $1 ORDER BY lang",
        e.id
    )?;
    let mut out = Vec::new();
    for (lang, subject, intro) in langs {
        let placed: Vec<(i64, i64)> = q_all!(
            pc.conn(),
            (i64, i64),
            "SELECT position, post_id FROM edition_items WHERE edition_id = $1 AND lang = $2 ORDER BY position",
            e.id,
            &lang
        )?;
        let ids: Vec<i64> = placed.iter().map(|(_, p)| *p).collect();
        let briefs: HashMap<i64, digest::Brief> = digest::briefs(pc.conn(), &ids)
            .await?
            .into_iter()
            .map(|b| (b.id, b))
            .collect();
        // A post unpublished since it was placed drops out.
        let items: Vec<Item> = placed
            .into_iter()
            .filter_map(|(position, pid)| briefs.get(&pid).map(|b| Item::new(position, b)))
            .collect();
        // Corrections made during this edition's period to posts that earlier editions carried.
        let found =
            digest::corrections_between(pc.conn(), lang, e.period_start, e.period_end).await?;
        let carried = carried_before(pc.conn(), e, &found).await?;
        let corrections: Vec<CorrectionItem> = found
            .into_iter()
            .filter(|c| carried.contains(&c.post_id))
            .map(CorrectionItem::from)
            .collect();
        out.push(LangPart {
            lang,
            subject,
            intro,
            items,
            corrections,
        });
    }
    Ok(out)
}

/// Those of the posts `found` corrects that an edition of the same newsletter before `e` carried,
/// once it went out.
async fn carried_before(
    c: Conn<'_>,
    e: &Edition,
    found: &[digest::Correction],
) -> Result<HashSet<i64>, NewsletterError> {
    if found.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<i64> = found.iter().map(|c| c.post_id).collect();
    let list = List::ints(&ids);
    let sql = format!(
        "SELECT DISTINCT i.post_id FROM edition_items i JOIN editions e2 ON e2.id = i.edition_id \
         WHERE e2.newsletter_id = $1 AND e2.number < $2 AND e2.status IN ('sending', 'paused', 'sent') \
         AND i.post_id IN ({})",
        list.select(c.dialect(), 3)
    );
    let rows: Vec<(i64,)> = q_all!(
        c,
        (i64,),
        jarida_store::sqlx::AssertSqlSafe(sql),
        e.newsletter_id,
        e.number,
        list.param()
    )?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

fn editable(e: &Edition) -> Result<(), NewsletterError> {
    if e.status.editable() {
        Ok(())
    } else {
        Err(NewsletterError::State {
            id: e.id,
            status: e.status,
            why: "only a draft, approved or scheduled edition can be edited",
        })
    }
}

/// The language `lang` names, if the edition is written in it.
fn check_lang(e: &Edition, langs: &[Lang], lang: &str) -> Result<Lang, NewsletterError> {
    match Lang::parse(lang) {
        Some(l) if langs.contains(&l) => Ok(l),
        _ => Err(NewsletterError::Invalid(format!(
            "edition {} has no language {lang:?}",
            e.id
        ))),
    }
}

async fn langs_of(c: Conn<'_>, id: EditionId) -> Result<Vec<Lang>, NewsletterError> {
    let v: Vec<(Lang,)> = q_all!(
        c,
        (Lang,),
        "SELECT lang FROM edition_langs WHERE edition_id = $1",
        id
    )?;
    Ok(v.into_iter().map(|(l,)| l).collect())
}

/// What an editor can change in a draft.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Edit {
    pub subject: Option<String>,
    pub intro: Option<String>,
    /// The complete new order of posts (by id); posts left out are removed, new ones added.
    pub items: Option<Vec<i64>>,
    /// Posts to add at the end (by id or `lang/slug`).
    #[serde(default)]
    pub add: Vec<String>,
    /// Posts to remove (by id or slug).
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Applies an editor's changes to one language of an edition, all or nothing.
pub async fn edit(
    db: &Db,
    id: EditionId,
    lang: &str,
    ed: &Edit,
    now: OffsetDateTime,
) -> Result<(), NewsletterError> {
    let mut tx = db.begin().await?;
    edit_in(&mut tx, id, lang, ed, now).await?;
    tx.commit().await?;
    Ok(())
}

/// [`edit`] in the caller's transaction (the admin writes its audit line in the same one).
pub async fn edit_in(
    tx: &mut jarida_store::Tx,
    id: EditionId,
    lang: &str,
    ed: &Edit,
    now: OffsetDateTime,
) -> Result<(), NewsletterError> {
    let e = get_in(tx.conn(), id).await?;
    editable(&e)?;
    let langs = langs_of(tx.conn(), id).await?;
    let lang = check_lang(&e, &langs, lang)?;
    if let Some(s) = &ed.subject {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 200 || s.chars().any(char::is_control) {
            return Err(NewsletterError::Invalid(
                "subject: must be 1 to 200 characters on one line".into(),
            ));
        }
        q_exec!(
            tx.conn(),
            "UPDATE edition_langs SET subject = $1 WHERE edition_id = $2 AND lang = $3",
            s,
            id,
            lang
        )?;
    }
    if let Some(s) = &ed.intro {
        if s.chars().count() > 5000 {
            return Err(NewsletterError::Invalid(
                "intro: at most 5000 characters".into(),
            ));
        }
        q_exec!(
            tx.conn(),
            "UPDATE edition_langs SET intro = $1 WHERE edition_id = $2 AND lang = $3",
            s.trim(),
            id,
            lang
        )?;
    }
    let mut order: Vec<i64> = match &ed.items {
        Some(v) => v.clone(),
        None => {
            let cur: Vec<(i64,)> = q_all!(
                tx.conn(),
                (i64,),
                "SELECT post_id FROM edition_items WHERE edition_id = $1 AND lang = $2 ORDER BY position",
                id,
                lang
            )?;
            cur.into_iter().map(|(p,)| p).collect()
        }
    };
    for r in &ed.remove {
        let pid = resolve_post(tx.conn(), lang, r).await?;
        order.retain(|p| *p != pid);
    }
    for a in &ed.add {
        let pid = resolve_post(tx.conn(), lang, a).await?;
        if !order.contains(&pid) {
            order.push(pid);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for pid in &order {
        if !seen.insert(*pid) {
            return Err(NewsletterError::Invalid(format!(
                "items: post {pid} is listed twice"
            )));
        }
        match digest::published_lang(tx.conn(), *pid).await? {
            Some(l) if l == lang => {}
            Some(l) => {
                return Err(NewsletterError::Invalid(format!(
                    "items: post {pid} is in {l}, not {lang}"
                )));
            }
            None => {
                return Err(NewsletterError::Invalid(format!(
                    "items: no published post {pid}"
                )));
            }
        }
    }
    q_exec!(
        tx.conn(),
        "DELETE FROM edition_items WHERE edition_id = $1 AND lang = $2",
        id,
        lang
    )?;
    for (i, pid) in order.iter().enumerate() {
        q_exec!(
            tx.conn(),
            "INSERT INTO edition_items (edition_id, lang, position, post_id) VALUES ($1, $2, $3, $4)",
            id,
            lang,
            i as i64,
            *pid
        )?;
    }
    q_exec!(
        tx.conn(),
        "UPDATE editions SET updated_at = $1 WHERE id = $2",
        now.unix_timestamp(),
        id
    )?;
    Ok(())
}

async fn resolve_post(c: Conn<'_>, lang: Lang, r: &str) -> Result<i64, NewsletterError> {
    if let Ok(id) = r.parse::<i64>() {
        return Ok(id);
    }
    let (l, slug) = match r.split_once('/') {
        Some((code, slug)) => (
            Lang::parse(code)
                .ok_or_else(|| NewsletterError::Invalid(format!("no post {code}/{slug}")))?,
            slug,
        ),
        None => (lang, r),
    };
    digest::id_of(c, l, slug)
        .await?
        .ok_or_else(|| NewsletterError::Invalid(format!("no post {l}/{slug}")))
}

/// Moves an edition from one of `from` to `to`, or says why it cannot.
async fn transition(
    tx: &mut jarida_store::Tx,
    id: EditionId,
    from: &[EditionStatus],
    to: EditionStatus,
    send_at: Option<i64>,
    now: OffsetDateTime,
    why: &'static str,
) -> Result<(), NewsletterError> {
    let e = get_in(tx.conn(), id).await?;
    if !from.contains(&e.status) {
        return Err(NewsletterError::State {
            id,
            status: e.status,
            why,
        });
    }
    // Conditional on the status read above: a worker may have moved the edition meanwhile (on
    // PostgreSQL nothing else serialises the two).
    let from = List::texts(&from.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let sql = format!(
        "UPDATE editions SET status = $1, send_at = COALESCE($2, send_at), updated_at = $3 \
         WHERE id = $4 AND status IN ({})",
        from.select(tx.conn().dialect(), 5)
    );
    let n = q_exec!(
        tx.conn(),
        jarida_store::sqlx::AssertSqlSafe(sql),
        to,
        send_at,
        now.unix_timestamp(),
        id,
        from.param()
    )?;
    if n == 0 {
        let cur = get_in(tx.conn(), id).await?;
        return Err(NewsletterError::State {
            id,
            status: cur.status,
            why,
        });
    }
    tracing::info!(edition = %id, from = %e.status, to = %to, "edition status");
    Ok(())
}

/// Limits an edition not yet sent to the readers of a segment (or, with None, lifts the limit).
/// The segment's filter is applied when sending starts, to the newsletter's readers of that moment.
pub async fn set_segment(
    db: &Db,
    id: EditionId,
    segment: Option<jarida_core::SegmentId>,
    now: OffsetDateTime,
) -> Result<(), NewsletterError> {
    let mut tx = db.begin().await?;
    set_segment_in(&mut tx, id, segment, now).await?;
    tx.commit().await?;
    Ok(())
}

/// [`set_segment`] in the caller's transaction.
pub async fn set_segment_in(
    tx: &mut jarida_store::Tx,
    id: EditionId,
    segment: Option<jarida_core::SegmentId>,
    now: OffsetDateTime,
) -> Result<(), NewsletterError> {
    let e = get_in(tx.conn(), id).await?;
    if !matches!(
        e.status,
        EditionStatus::Draft | EditionStatus::Approved | EditionStatus::Scheduled
    ) {
        return Err(NewsletterError::State {
            id,
            status: e.status,
            why: "its readers were fixed when sending started",
        });
    }
    if let Some(sid) = segment
        && jarida_audience::segments::get(tx.conn(), sid)
            .await?
            .is_none()
    {
        return Err(NewsletterError::Invalid(format!(
            "segment: there is no segment {sid}"
        )));
    }
    q_exec!(
        tx.conn(),
        "UPDATE editions SET segment_id = $1, updated_at = $2 WHERE id = $3",
        segment,
        now.unix_timestamp(),
        id
    )?;
    Ok(())
}

/// Lets go of segment `segment` before it is deleted: sent and cancelled editions forget it;
/// editions not yet sent are limited to it, so it stays (their ids are returned), since deleting
/// it would send them to every reader.
pub async fn release_segment(
    tx: &mut jarida_store::Tx,
    segment: jarida_core::SegmentId,
) -> Result<Result<(), Vec<EditionId>>, NewsletterError> {
    let open: Vec<(EditionId,)> = q_all!(
        tx.conn(),
        (EditionId,),
        "SELECT id FROM editions WHERE segment_id = $1 AND status NOT IN ('sent', 'cancelled') ORDER BY id",
        segment
    )?;
    if !open.is_empty() {
        return Ok(Err(open.into_iter().map(|(e,)| e).collect()));
    }
    q_exec!(
        tx.conn(),
        "UPDATE editions SET segment_id = NULL WHERE segment_id = $1",
        segment
    )?;
    Ok(Ok(()))
}

jarida_core::text_enum! {
    /// What an editor can do to an edition's course.
    pub enum Action {
        Approve = "approve",
        /// Sending at a given time (see [`act_in`]).
        Schedule = "schedule",
        /// Sending as soon as a delivery worker looks (a few seconds).
        Send = "send",
        Pause = "pause",
        Resume = "resume",
        Cancel = "cancel",
    }
}

/// Does `action` to edition `id` in the caller's transaction; `at` is when a scheduled edition
/// goes (required for [`Action::Schedule`]).
pub async fn act_in(
    tx: &mut jarida_store::Tx,
    id: EditionId,
    action: Action,
    at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(), NewsletterError> {
    use EditionStatus::*;
    match action {
        Action::Approve => {
            transition(
                tx,
                id,
                &[Draft],
                Approved,
                None,
                now,
                "only a draft can be approved",
            )
            .await
        }
        Action::Schedule | Action::Send => {
            let at = match (action, at) {
                (Action::Send, _) => now,
                (_, Some(at)) => at,
                (_, None) => {
                    return Err(NewsletterError::Invalid("at: a time is required".into()));
                }
            };
            transition(
                tx,
                id,
                &[Draft, Approved, Scheduled],
                Scheduled,
                Some(at.unix_timestamp()),
                now,
                "only a draft or approved edition can be scheduled",
            )
            .await
        }
        Action::Pause => {
            transition(
                tx,
                id,
                &[Sending],
                Paused,
                None,
                now,
                "only a sending edition can be paused",
            )
            .await
        }
        Action::Resume => {
            transition(
                tx,
                id,
                &[Paused],
                Sending,
                None,
                now,
                "only a paused edition can be resumed",
            )
            .await
        }
        Action::Cancel => cancel_in(tx, id, now).await,
    }
}

async fn act(
    db: &Db,
    id: EditionId,
    action: Action,
    at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(), NewsletterError> {
    let mut tx = db.begin().await?;
    act_in(&mut tx, id, action, at, now).await?;
    tx.commit().await?;
    Ok(())
}

/// An editor approves a draft; it is sent at its slot (or when scheduled / sent now).
pub async fn approve(db: &Db, id: EditionId, now: OffsetDateTime) -> Result<(), NewsletterError> {
    act(db, id, Action::Approve, None, now).await
}

/// Schedules sending at `at` (now or later); the delivery workers start it when due.
pub async fn schedule(
    db: &Db,
    id: EditionId,
    at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), NewsletterError> {
    act(db, id, Action::Schedule, Some(at), now).await
}

pub async fn pause(db: &Db, id: EditionId, now: OffsetDateTime) -> Result<(), NewsletterError> {
    act(db, id, Action::Pause, None, now).await
}

pub async fn resume(db: &Db, id: EditionId, now: OffsetDateTime) -> Result<(), NewsletterError> {
    act(db, id, Action::Resume, None, now).await
}

/// Cancels an edition. Deliveries not yet made are dropped from the ledger's open states (marked
/// skipped), so figures stay true.
pub async fn cancel(db: &Db, id: EditionId, now: OffsetDateTime) -> Result<(), NewsletterError> {
    act(db, id, Action::Cancel, None, now).await
}

async fn cancel_in(
    tx: &mut jarida_store::Tx,
    id: EditionId,
    now: OffsetDateTime,
) -> Result<(), NewsletterError> {
    let e = get_in(tx.conn(), id).await?;
    if e.status.finished() {
        return Err(NewsletterError::State {
            id,
            status: e.status,
            why: "it is finished",
        });
    }
    q_exec!(
        tx.conn(),
        "UPDATE editions SET status = 'cancelled', updated_at = $1, finished_at = $1 WHERE id = $2",
        now.unix_timestamp(),
        id
    )?;
    q_exec!(
        tx.conn(),
        "UPDATE deliveries SET state = 'skipped', last_reply = 'edition cancelled', lease_until = NULL, done_at = $1 \
         WHERE edition_id = $2 AND state IN ('pending', 'deferred')",
        now.unix_timestamp(),
        id
    )?;
    Ok(())
}
