//! Segments: a readers' filter ([`ReaderFilter`]) saved under a name, for coming back to a list
//! and for sending an edition to part of a newsletter's readers (the Arabic readers who joined
//! from the water series page, say). The filter is kept as JSON and applied when it is used, so
//! a segment always means its readers of the moment.

use jarida_core::SegmentId;
use jarida_store::{Db, Dialect, Tx, dynamic::Arg, q_all, q_exec, q_one, q_opt};

use crate::AudienceError;
use crate::directory::ReaderFilter;

/// A saved filter.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    pub id: SegmentId,
    pub name: String,
    pub filter: ReaderFilter,
    pub created_at: i64,
}

/// Why a segment was not saved or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Another segment has this name.
    NameTaken,
    /// The name is empty or too long.
    BadName,
    /// A filter that narrows nothing is every reader: there is nothing to save.
    Everyone,
}

fn segment(row: (SegmentId, String, String, i64)) -> Result<Segment, AudienceError> {
    let (id, name, filter, created_at) = row;
    let filter = serde_json::from_str(&filter)
        .map_err(|e| AudienceError::Stored(format!("segment {id}: its filter ({e})")))?;
    Ok(Segment {
        id,
        name,
        filter,
        created_at,
    })
}

/// Saves `filter` as a new segment called `name`, in the caller's transaction.
pub async fn save(
    tx: &mut Tx,
    name: &str,
    filter: &ReaderFilter,
    by: Option<i64>,
    now: i64,
) -> Result<Result<SegmentId, Refused>, AudienceError> {
    let name = crate::subscribers::clean_text(name, 201);
    if name.is_empty() || name.chars().count() > 200 {
        return Ok(Err(Refused::BadName));
    }
    if filter.is_empty() {
        return Ok(Err(Refused::Everyone));
    }
    let taken: Option<(i64,)> = q_opt!(
        tx.conn(),
        (i64,),
        "SELECT id FROM segments WHERE name = $1",
        &name
    )?;
    if taken.is_some() {
        return Ok(Err(Refused::NameTaken));
    }
    let json = serde_json::to_string(filter).unwrap_or_default();
    let (id,): (SegmentId,) = q_one!(
        tx.conn(),
        (SegmentId,),
        "INSERT INTO segments (name, filter_json, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        &name,
        json,
        by,
        now
    )?;
    Ok(Ok(id))
}

/// Every segment, by name.
pub async fn list(db: &Db) -> Result<Vec<Segment>, AudienceError> {
    let mut c = db.acquire().await?;
    let rows: Vec<(SegmentId, String, String, i64)> = q_all!(
        c.conn(),
        (SegmentId, String, String, i64),
        "SELECT id, name, filter_json, created_at FROM segments ORDER BY name"
    )?;
    rows.into_iter().map(segment).collect()
}

/// Segment `id`, if it exists.
pub async fn get(
    c: jarida_store::Conn<'_>,
    id: SegmentId,
) -> Result<Option<Segment>, AudienceError> {
    let row: Option<(SegmentId, String, String, i64)> = q_opt!(
        c,
        (SegmentId, String, String, i64),
        "SELECT id, name, filter_json, created_at FROM segments WHERE id = $1",
        id
    )?;
    row.map(segment).transpose()
}

/// Deletes segment `id`; returns its name, None if there was no such segment. The editions
/// limited to it must first let go of it (`jarida_newsletter::editions::release_segment`, which
/// refuses while one is unsent: deleting it would send that edition to every reader).
pub async fn delete(tx: &mut Tx, id: SegmentId) -> Result<Option<String>, AudienceError> {
    let Some(s) = get(tx.conn(), id).await? else {
        return Ok(None);
    };
    q_exec!(tx.conn(), "DELETE FROM segments WHERE id = $1", id)?;
    Ok(Some(s.name))
}

/// A subquery yielding `id`: the readers the segment's filter matches now, its values numbered
/// from `$first` (for an edition's enrolment, which is one statement whatever the number of
/// readers: see [`crate::recipients::active_readers_sql`]).
pub fn readers_sql(s: &Segment, d: Dialect, first: usize) -> (String, Vec<Arg>) {
    let (clause, args) = s.filter.clause(d, first);
    (format!("SELECT id FROM subscribers WHERE {clause}"), args)
}
