//! Substack's export (Settings → Exports, a zip): `posts.csv` with one row per post, the body of
//! each in `posts/<post_id>.html`, and the subscriber list `email_list.<publication>.csv`, which
//! the readers' import reads (its layout is recognized there). Posts keep their `/p/<slug>`
//! addresses as redirects. Images stay on Substack's servers (the report lists each).

use std::io::Read;
use std::path::Path;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Entry, EntryError, MoveOptions, html};
use crate::{PostInput, Status};

/// The largest post body read from the archive.
const MAX_HTML: u64 = 16 * 1024 * 1024;
/// The largest `posts.csv` or subscriber list read.
const MAX_CSV: u64 = 512 * 1024 * 1024;

fn open(path: &Path) -> Result<zip::ZipArchive<std::fs::File>, String> {
    let f = std::fs::File::open(path)
        .map_err(|e| format!("{}: cannot be read: {e}", path.display()))?;
    zip::ZipArchive::new(f).map_err(|e| format!("{}: not a zip archive: {e}", path.display()))
}

fn read_member(
    zip: &mut zip::ZipArchive<std::fs::File>,
    name: &str,
    max: u64,
) -> Result<Option<Vec<u8>>, String> {
    let Ok(file) = zip.by_name(name) else {
        return Ok(None);
    };
    if file.size() > max {
        return Err(format!("{name} is larger than {} MB", max / (1024 * 1024)));
    }
    let mut bytes = Vec::with_capacity(file.size() as usize);
    file.take(max)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name} cannot be read: {e}"))?;
    Ok(Some(bytes))
}

/// The subscriber list in the archive: its name and bytes.
pub fn subscribers(path: &Path) -> Result<Option<(String, Vec<u8>)>, String> {
    let mut zip = open(path)?;
    let name = zip
        .file_names()
        .filter_map(Result::ok)
        .find(|n| !n.contains('/') && n.starts_with("email_list") && n.ends_with(".csv"))
        .map(|n| n.into_owned());
    match name {
        Some(n) => Ok(read_member(&mut zip, &n, MAX_CSV)?.map(|b| (n, b))),
        None => Ok(None),
    }
}

fn col(headers: &csv::StringRecord, name: &str) -> Option<usize> {
    headers.iter().position(|h| h.trim() == name)
}

/// One row of `posts.csv`, planned.
pub enum Planned {
    Entry(Box<Entry>),
    Failed(EntryError),
}

/// Reads the archive's posts, calling `each` with every one, planned. An archive without
/// `posts.csv` is an error.
pub fn read(path: &Path, opts: &MoveOptions, mut each: impl FnMut(Planned)) -> Result<(), String> {
    let mut zip = open(path)?;
    let posts = read_member(&mut zip, "posts.csv", MAX_CSV)?.ok_or_else(|| {
        format!(
            "{}: has no posts.csv, not a Substack export",
            path.display()
        )
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(posts.as_slice());
    let headers = rdr
        .headers()
        .map_err(|e| format!("{}: posts.csv:1: {e}", path.display()))?
        .clone();
    let need = |n: &str| {
        col(&headers, n).ok_or_else(|| format!("{}: posts.csv:1: no column {n:?}", path.display()))
    };
    let (c_id, c_date, c_pub, c_title) = (
        need("post_id")?,
        need("post_date")?,
        need("is_published")?,
        need("title")?,
    );
    let c_sub = col(&headers, "subtitle");
    let c_audience = col(&headers, "audience");
    let c_type = col(&headers, "type");
    for record in rdr.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                each(Planned::Failed(EntryError {
                    entry: "a row of posts.csv".into(),
                    line,
                    reason: format!("posts.csv is not readable here: {e}"),
                }));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let get = |i: usize| record.get(i).unwrap_or("").trim().to_string();
        let id = get(c_id);
        let title = get(c_title);
        let label = format!("post {id} {title:?}");
        let fail = |reason: String| {
            Planned::Failed(EntryError {
                entry: label.clone(),
                line,
                reason,
            })
        };
        if id.is_empty() || id.contains(['/', '\\']) {
            each(fail(format!("post_id {id:?} is not an id")));
            continue;
        }
        if title.is_empty() {
            each(fail("has no title".into()));
            continue;
        }
        let published = get(c_pub) == "true";
        let date = get(c_date);
        let published_at = OffsetDateTime::parse(&date, &Rfc3339).ok();
        if published && published_at.is_none() {
            each(fail(format!("post_date {date:?} is not a time")));
            continue;
        }
        let body = match read_member(&mut zip, &format!("posts/{id}.html"), MAX_HTML) {
            Ok(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
            Ok(None) => {
                each(fail(format!("posts/{id}.html is not in the archive")));
                continue;
            }
            Err(e) => {
                each(fail(e));
                continue;
            }
        };
        let converted = html::to_markdown(&body);
        let mut notes = converted.notes;
        if let Some(a) = c_audience
            .map(get)
            .filter(|a| !a.is_empty() && a != "everyone")
        {
            notes.push(format!("was for {a} on Substack: imported for everyone"));
        }
        if let Some(t) = c_type.map(get).filter(|t| t == "podcast") {
            notes.push(format!("a {t} episode: its audio is not imported"));
        }
        // `123456.my-post`: the part after the number is the slug of `/p/my-post`.
        let old_slug = id.split_once('.').map_or("", |(_, s)| s).to_string();
        let mut slug = crate::slugify(&old_slug);
        if slug.is_empty() || crate::check_slug(&slug).is_err() {
            slug = format!("post-{}", id.split('.').next().unwrap_or(&id));
        }
        let subtitle = c_sub.map(get).unwrap_or_default();
        let summary = if subtitle.is_empty() {
            crate::frontmatter::summarize(&converted.markdown)
        } else {
            subtitle
        };
        let input = PostInput {
            lang: opts.default_lang,
            slug,
            translation_key: None,
            kind: opts.default_kind,
            title,
            summary,
            body_md: converted.markdown,
            authors: Vec::new(),
            tags: Vec::new(),
            cover: None,
            cover_alt: None,
            featured: false,
            status: if published {
                Status::Published
            } else {
                Status::Draft
            },
            published_at,
            updated_at: None,
            sources: converted.sources,
            corrections: Vec::new(),
        };
        each(Planned::Entry(Box::new(Entry {
            origin: format!("substack:{id}"),
            label,
            line_offset: line,
            is_page: false,
            input,
            // Only a published post has an address on Substack.
            old_paths: if old_slug.is_empty() || !published {
                Vec::new()
            } else {
                vec![format!("/p/{old_slug}")]
            },
            notes,
        })));
    }
    Ok(())
}
