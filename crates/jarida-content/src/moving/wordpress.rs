//! WordPress's export (WXR, the XML from Tools → Export), read as a stream: the file is read twice,
//! once for what posts refer to (authors, attachments and their alt text, categories) and once
//! for the posts and pages, so memory holds one item at a time whatever the file's size.
//!
//! Bilingual sites: Polylang writes each post's language as a `language` term and links
//! translations with a shared `post_translations` term; both are read. WPML keeps its languages in
//! its own tables, which WordPress's export does not carry: such a site is imported with `--lang`
//! per file (one export per language), without translation links.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use quick_xml::events::Event;
use time::OffsetDateTime;
use time::macros::format_description;

use super::{Entry, EntryError, MoveOptions, html};
use crate::{PostInput, Status};

/// What items refer to, from the first pass.
#[derive(Debug, Default)]
pub struct Channel {
    /// The site's address (`wp:base_site_url`, else the channel's `link`).
    pub base_url: String,
    /// Author login → display name.
    pub authors: HashMap<String, String>,
    /// Attachment id → (address, alt text).
    pub attachments: HashMap<String, (String, String)>,
    /// Items of each type, for the report.
    pub types: HashMap<String, u64>,
}

/// One `<item>` as WordPress wrote it.
#[derive(Debug, Default, Clone)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub link: String,
    pub creator: String,
    pub content: String,
    pub excerpt: String,
    pub date_gmt: String,
    pub date: String,
    pub modified_gmt: String,
    pub post_name: String,
    pub status: String,
    pub post_type: String,
    pub attachment_url: String,
    pub sticky: bool,
    /// (domain, nicename, text) of each `<category>`.
    pub terms: Vec<(String, String, String)>,
    pub meta: Vec<(String, String)>,
    /// Byte offset of the item in the file (for its line in error messages).
    pub offset: u64,
}

impl Item {
    fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A failure to read the file itself: where, and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {reason}")]
pub struct WxrError {
    pub path: String,
    pub line: u64,
    pub reason: String,
}

/// The line of byte `offset` in the file: counted only when an error needs it.
pub fn line_at(path: &Path, offset: u64) -> u64 {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else {
        return 0;
    };
    let mut r = std::io::BufReader::new(f).take(offset);
    let mut buf = [0u8; 64 * 1024];
    let mut lines = 1;
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
    lines
}

/// Reads the export, calling `on_item` for every item and filling the channel's fields.
pub fn read(
    path: &Path,
    channel: &mut Channel,
    mut on_item: impl FnMut(Item, &Channel),
) -> Result<(), WxrError> {
    let fail = |offset: u64, reason: String| WxrError {
        path: path.display().to_string(),
        line: line_at(path, offset),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(0, format!("cannot be read: {e}")))?;
    let mut reader =
        quick_xml::Reader::from_reader(std::io::BufReader::with_capacity(256 * 1024, file));
    read_from(&mut reader, channel, &mut on_item).map_err(|(offset, reason)| fail(offset, reason))
}

/// The element names an item keeps (as `wp:` and friends write them).
fn item_field<'a>(item: &'a mut Item, name: &str) -> Option<&'a mut String> {
    Some(match name {
        "title" => &mut item.title,
        "link" => &mut item.link,
        "dc:creator" => &mut item.creator,
        "content:encoded" => &mut item.content,
        "excerpt:encoded" => &mut item.excerpt,
        "wp:post_id" => &mut item.id,
        "wp:post_date_gmt" => &mut item.date_gmt,
        "wp:post_date" => &mut item.date,
        "wp:post_modified_gmt" => &mut item.modified_gmt,
        "wp:post_name" => &mut item.post_name,
        "wp:status" => &mut item.status,
        "wp:post_type" => &mut item.post_type,
        "wp:attachment_url" => &mut item.attachment_url,
        _ => return None,
    })
}

fn read_from<R: BufRead>(
    reader: &mut quick_xml::Reader<R>,
    channel: &mut Channel,
    on_item: &mut impl FnMut(Item, &Channel),
) -> Result<(), (u64, String)> {
    let mut buf = Vec::with_capacity(64 * 1024);
    // The open elements' names, innermost last.
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut item: Option<Item> = None;
    let mut term: Option<(String, String)> = None;
    let mut meta = (String::new(), String::new());
    let mut author = (String::new(), String::new());
    let mut seen_rss = false;
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| (reader.error_position(), format!("not well-formed XML: {e}")))?;
        match event {
            Event::Start(e) => {
                let name = e.name().into_inner().to_string();
                if stack.is_empty() {
                    if name != "rss" {
                        return Err((
                            at,
                            format!("starts with <{name}>, not a WordPress export's <rss>"),
                        ));
                    }
                    seen_rss = true;
                }
                match name.as_str() {
                    "item" if item.is_none() => {
                        item = Some(Item {
                            offset: at,
                            ..Default::default()
                        });
                    }
                    "category" if item.is_some() => {
                        let mut domain = String::new();
                        let mut nicename = String::new();
                        for a in e.attributes().flatten() {
                            let v = a
                                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .map(|v| v.into_owned())
                                .unwrap_or_default();
                            match a.key.into_inner() {
                                "domain" => domain = v,
                                "nicename" => nicename = v,
                                _ => {}
                            }
                        }
                        term = Some((domain, nicename));
                    }
                    _ => {}
                }
                stack.push(name);
                text.clear();
            }
            Event::Empty(_) => {}
            Event::Text(e) => text.push_str(&e.xml10_content()),
            Event::CData(e) => text.push_str(&e.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                Ok(None) => text.push_str(match &*r {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => {
                        return Err((at, format!("unknown entity &{other};")));
                    }
                }),
                Err(e) => return Err((at, format!("bad character reference: {e}"))),
            },
            Event::End(e) => {
                let name = e.name().into_inner().to_string();
                match stack.pop() {
                    Some(open) if open == name => {}
                    Some(open) => {
                        return Err((at, format!("</{name}> closes <{open}>")));
                    }
                    None => return Err((at, format!("</{name}> closes nothing"))),
                }
                let value = std::mem::take(&mut text);
                let parent = stack.last().map(String::as_str);
                if let Some(it) = item.as_mut() {
                    match name.as_str() {
                        "item" => {
                            let done = item.take().expect("an item is open");
                            *channel.types.entry(done.post_type.clone()).or_default() += 1;
                            if done.post_type == "attachment" {
                                let alt = done
                                    .meta("_wp_attachment_image_alt")
                                    .unwrap_or_default()
                                    .to_string();
                                // Some sites export the address without its host.
                                let mut url = done.attachment_url.trim().to_string();
                                if url.is_empty() {
                                    url = done.link.trim().to_string();
                                }
                                if url.starts_with('/') && !url.starts_with("//") {
                                    url =
                                        format!("{}{url}", channel.base_url.trim_end_matches('/'));
                                }
                                channel.attachments.insert(done.id.clone(), (url, alt));
                            }
                            on_item(done, channel);
                        }
                        "category" => {
                            if let Some((d, n)) = term.take() {
                                it.terms.push((d, n, value));
                            }
                        }
                        "wp:meta_key" => meta.0 = value,
                        "wp:meta_value" => meta.1 = value,
                        "wp:postmeta" => it.meta.push(std::mem::take(&mut meta)),
                        "wp:is_sticky" => it.sticky = value.trim() == "1",
                        n if parent == Some("item") => {
                            if let Some(f) = item_field(it, n) {
                                *f = value;
                            }
                        }
                        _ => {}
                    }
                } else {
                    match name.as_str() {
                        "wp:author_login" => author.0 = value,
                        "wp:author_display_name" => author.1 = value,
                        "wp:author" => {
                            let (login, display) = std::mem::take(&mut author);
                            let display = if display.trim().is_empty() {
                                login.clone()
                            } else {
                                display
                            };
                            channel.authors.insert(login, display);
                        }
                        "wp:base_site_url" => channel.base_url = value.trim().to_string(),
                        "link" if parent == Some("channel") && channel.base_url.is_empty() => {
                            channel.base_url = value.trim().to_string();
                        }
                        _ => {}
                    }
                }
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err((at, format!("the file ends inside <{open}>")));
                }
                if !seen_rss {
                    return Err((at, "is empty, not a WordPress export".into()));
                }
                return Ok(());
            }
            _ => {}
        }
        buf.clear();
    }
}

/// The path of an address on the old site (`https://old.example/2024/05/x/` → `/2024/05/x/`).
fn path_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let slash = rest.find('/').unwrap_or(rest.len());
    let p = &rest[slash..];
    let p = p.split('#').next().unwrap_or(p);
    Some(if p.is_empty() { "/".into() } else { p.into() })
}

fn parse_wp_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if s.is_empty() || s.starts_with("0000") {
        return None;
    }
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, fmt)
        .ok()
        .map(|d| d.assume_utc())
}

/// What an item is, or why it is left out.
pub enum Planned {
    Entry(Box<Entry>),
    /// Not content (attachments, menus, revisions…) or in the bin: counted, not reported.
    Skipped(String),
    Failed(EntryError),
}

/// Makes one item into a post to save.
pub fn plan(item: Item, channel: &Channel, opts: &MoveOptions, path: &Path) -> Planned {
    let is_page = match item.post_type.as_str() {
        "post" => false,
        "page" => true,
        other => return Planned::Skipped(format!("{other} items")),
    };
    let what = if is_page { "page" } else { "post" };
    let label = format!("{what} {} {:?}", item.id, item.title.trim());
    let failed = |reason: String| {
        Planned::Failed(EntryError {
            entry: label.clone(),
            line: line_at(path, item.offset),
            reason,
        })
    };
    let status = match item.status.as_str() {
        "publish" => Status::Published,
        "future" => Status::Scheduled,
        "draft" | "pending" | "private" => Status::Draft,
        "trash" | "auto-draft" | "inherit" => return Planned::Skipped("items in the bin".into()),
        other => return failed(format!("unknown status {other:?}")),
    };
    if item.id.trim().parse::<u64>().is_err() {
        return failed(format!("wp:post_id {:?} is not a number", item.id));
    }
    let title = item.title.trim().to_string();
    if title.is_empty() {
        return failed("has no title".into());
    }
    let mut notes = Vec::new();
    if item.status == "private" {
        notes.push("private on WordPress: imported as a draft".into());
    }
    if is_page {
        notes.push(format!(
            "a WordPress page: imported as a {}",
            opts.default_kind.as_str()
        ));
    }
    let lang_term = item
        .terms
        .iter()
        .find(|(d, _, _)| d == "language")
        .map(|(_, n, _)| n.clone());
    let lang = match &lang_term {
        Some(code) => {
            let short = code.split(['-', '_']).next().unwrap_or(code);
            match jarida_core::Lang::parse(short) {
                Some(l) => l,
                None => {
                    return failed(format!(
                        "is in language {code:?}, which this site does not publish in"
                    ));
                }
            }
        }
        None => opts.default_lang,
    };
    let translation_key = item
        .terms
        .iter()
        .find(|(d, _, _)| d == "post_translations")
        .map(|(_, n, _)| n.clone());
    let published_at = parse_wp_date(&item.date_gmt).or_else(|| parse_wp_date(&item.date));
    if published_at.is_none() && status != Status::Draft {
        return failed(format!(
            "wp:post_date_gmt {:?} is not a date (YYYY-MM-DD HH:MM:SS)",
            item.date_gmt
        ));
    }
    let updated_at =
        parse_wp_date(&item.modified_gmt).filter(|m| published_at.is_some_and(|p| *m > p));
    let mut kind = opts.default_kind;
    let mut tags = Vec::new();
    for (domain, nicename, name) in &item.terms {
        match domain.as_str() {
            "category" => {
                if let Some(k) = opts.kinds.get(nicename.as_str()) {
                    kind = *k;
                } else if nicename != "uncategorized" && !name.trim().is_empty() {
                    tags.push(name.trim().to_string());
                }
            }
            "post_tag" if !name.trim().is_empty() => tags.push(name.trim().to_string()),
            _ => {}
        }
    }
    tags.dedup();
    let authors: Vec<String> = match item.creator.trim() {
        "" => Vec::new(),
        login => vec![
            channel
                .authors
                .get(login)
                .cloned()
                .unwrap_or_else(|| login.to_string()),
        ],
    };
    let body_html = html::wordpress_html(&item.content, &mut notes);
    let converted = html::to_markdown(&body_html);
    notes.extend(converted.notes);
    let mut summary = html::to_markdown(&item.excerpt).markdown.trim().to_string();
    if summary.is_empty() {
        summary = crate::frontmatter::summarize(&converted.markdown);
    }
    let (cover, cover_alt) = match item.meta("_thumbnail_id") {
        Some(id) => match channel.attachments.get(id.trim()) {
            Some((url, alt)) => (
                Some(url.clone()),
                (!alt.trim().is_empty()).then(|| alt.trim().to_string()),
            ),
            None => {
                notes.push(format!("featured image {id} is not in the export"));
                (None, None)
            }
        },
        None => (None, None),
    };
    // WordPress keeps non-Latin slugs percent-encoded.
    let decoded = percent_encoding::percent_decode_str(item.post_name.trim())
        .decode_utf8_lossy()
        .into_owned();
    let mut slug = crate::slugify(&decoded);
    if slug.is_empty() {
        slug = crate::slugify(&title);
    }
    if slug.is_empty() || crate::check_slug(&slug).is_err() {
        slug = format!("{what}-{}", item.id.trim());
    }
    let mut old_paths = Vec::new();
    if let Some(p) = path_of(&item.link) {
        old_paths.push(p);
    }
    old_paths.push(format!(
        "/?{}={}",
        if is_page { "page_id" } else { "p" },
        item.id.trim()
    ));
    let input = PostInput {
        lang,
        slug,
        translation_key,
        kind: if is_page { opts.default_kind } else { kind },
        title,
        summary,
        body_md: converted.markdown,
        authors,
        tags,
        cover,
        cover_alt,
        featured: item.sticky,
        status,
        published_at,
        updated_at,
        sources: converted.sources,
        corrections: Vec::new(),
    };
    let base = channel.base_url.trim_end_matches('/');
    Planned::Entry(Box::new(Entry {
        origin: format!("wordpress:{base}:{}", item.id.trim()),
        label,
        line_offset: item.offset,
        is_page,
        input,
        old_paths,
        notes,
    }))
}

/// The old site's paths for its category and tag archives (`/category/news/`, `/tag/water/`),
/// which lead to this site's listing of the same tag (or of the kind a category maps to).
pub fn taxonomy_paths(
    item: &Item,
    opts: &MoveOptions,
    lang: jarida_core::Lang,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (domain, nicename, name) in &item.terms {
        let base = match domain.as_str() {
            "category" => "category",
            "post_tag" => "tag",
            _ => continue,
        };
        if nicename.is_empty() || nicename == "uncategorized" {
            continue;
        }
        let to = match (domain.as_str(), opts.kinds.get(nicename.as_str())) {
            ("category", Some(k)) => format!("/{}/{}/", lang.code(), k.plural()),
            _ => {
                let slug = crate::slugify(name.trim());
                if slug.is_empty() {
                    continue;
                }
                format!("/{}/tags/{slug}/", lang.code())
            }
        };
        let decoded = percent_encoding::percent_decode_str(nicename)
            .decode_utf8_lossy()
            .into_owned();
        out.push((format!("/{base}/{decoded}"), to));
    }
    out
}
