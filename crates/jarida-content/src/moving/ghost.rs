//! Ghost's export (Settings → Migrate → Export content, a JSON file): posts and pages from their
//! HTML, tags, authors, feature images with their alt text and caption, published and updated
//! times, and the members with their newsletter choices and the suppression list where the file
//! has them (members are handed to the readers' import by the command line).
//!
//! Ghost keeps no language per post: a post carrying the internal tag `#ar` (or `#en`) is in that
//! language, the others in `--lang`'s. Ghost 4 and later write the site's own address as
//! `__GHOST_URL__`; it is read as the old site's root.
//!
//! Ghost writes one JSON document, with a post's tags, authors and image texts in tables beside
//! the posts, in any order. So the file is read twice, as a stream both times: first everything
//! but the posts ([`read`]: tags, authors, members and the rest are small), then the posts one at
//! a time ([`each_post`]), so memory holds one post's HTML whatever the export's size.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Entry, EntryError, MoveOptions, html};
use crate::{PostInput, Status};

/// An id as Ghost writes it: a string (Ghost 1+) or a number (older exports).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        Ok(Id(match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            other => other.to_string(),
        }))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GPost {
    pub id: Id,
    pub title: Option<String>,
    pub slug: Option<String>,
    pub html: Option<String>,
    pub feature_image: Option<String>,
    pub featured: serde_json::Value,
    /// `post` or `page` (Ghost 3+); older exports have `page: true`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub page: serde_json::Value,
    pub status: Option<String>,
    pub published_at: serde_json::Value,
    pub updated_at: serde_json::Value,
    pub custom_excerpt: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GPostMeta {
    post_id: Id,
    feature_image_alt: Option<String>,
    feature_image_caption: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GTag {
    id: Id,
    name: String,
    slug: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GLink {
    post_id: Id,
    tag_id: Id,
    author_id: Id,
    sort_order: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GUser {
    id: Id,
    name: String,
    slug: String,
}

/// A member as the readers' import takes them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GMember {
    pub id: Id,
    pub email: String,
    pub name: Option<String>,
    /// Ghost before 5: one flag for the newsletter.
    pub subscribed: Option<bool>,
    /// Their address bounced or complained: Ghost stopped mailing it.
    pub email_disabled: serde_json::Value,
    #[serde(skip)]
    pub newsletters: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GMemberNewsletter {
    member_id: Id,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GSuppression {
    email: String,
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Data {
    /// Skipped here; read one by one by [`each_post`].
    posts: serde::de::IgnoredAny,
    posts_meta: Vec<GPostMeta>,
    tags: Vec<GTag>,
    posts_tags: Vec<GLink>,
    users: Vec<GUser>,
    posts_authors: Vec<GLink>,
    members: Vec<GMember>,
    newsletters: Vec<serde_json::Value>,
    members_newsletters: Vec<GMemberNewsletter>,
    suppressions: Vec<GSuppression>,
}

#[derive(Debug, Deserialize)]
struct Section {
    data: Data,
}

/// `{"db": [{"data": ...}]}` (Ghost 1+) or `{"data": ...}`. Both fields optional rather than an
/// untagged enum: serde reads an untagged enum by buffering the whole document first, posts and
/// all (97 MB resident for a 58 MB export in `bench/import-site.sh`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct File {
    db: Option<Vec<Section>>,
    data: Option<Box<Data>>,
}

/// A Ghost export, read.
#[derive(Debug, Default)]
pub struct Export {
    meta: HashMap<Id, (Option<String>, Option<String>)>,
    tags_of: HashMap<Id, Vec<(String, String)>>,
    authors_of: HashMap<Id, Vec<(String, String)>>,
    pub members: Vec<GMember>,
    /// (address, reason).
    pub suppressions: Vec<(String, String)>,
}

/// Reads a Ghost export but its posts; an error names the file, the line and column, and what was wrong.
pub fn read(path: &Path) -> Result<Export, String> {
    let f = std::fs::File::open(path)
        .map_err(|e| format!("{}: cannot be read: {e}", path.display()))?;
    let file: File = serde_json::from_reader(std::io::BufReader::new(f)).map_err(|e| {
        format!(
            "{}:{}:{}: not a Ghost export: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let data = match file {
        File {
            db: Some(mut db), ..
        } if !db.is_empty() => db.swap_remove(0).data,
        File {
            data: Some(data), ..
        } => *data,
        _ => return Err(format!("{}: the export holds no data", path.display())),
    };
    let tags: HashMap<&Id, &GTag> = data.tags.iter().map(|t| (&t.id, t)).collect();
    let users: HashMap<&Id, &GUser> = data.users.iter().map(|u| (&u.id, u)).collect();
    let mut tags_of: HashMap<Id, Vec<(i64, String, String)>> = HashMap::new();
    for l in &data.posts_tags {
        if let Some(t) = tags.get(&l.tag_id) {
            tags_of.entry(l.post_id.clone()).or_default().push((
                l.sort_order,
                t.name.clone(),
                t.slug.clone(),
            ));
        }
    }
    let mut authors_of: HashMap<Id, Vec<(i64, String, String)>> = HashMap::new();
    for l in &data.posts_authors {
        if let Some(u) = users.get(&l.author_id) {
            authors_of.entry(l.post_id.clone()).or_default().push((
                l.sort_order,
                u.name.clone(),
                u.slug.clone(),
            ));
        }
    }
    let sorted = |m: HashMap<Id, Vec<(i64, String, String)>>| {
        m.into_iter()
            .map(|(k, mut v)| {
                v.sort_by_key(|x| x.0);
                (k, v.into_iter().map(|(_, a, b)| (a, b)).collect())
            })
            .collect()
    };
    let mut newsletters: HashMap<Id, usize> = HashMap::new();
    for mn in &data.members_newsletters {
        *newsletters.entry(mn.member_id.clone()).or_default() += 1;
    }
    let has_newsletters = !data.newsletters.is_empty() || !data.members_newsletters.is_empty();
    let members = data
        .members
        .into_iter()
        .map(|mut m| {
            m.newsletters = if has_newsletters {
                newsletters.get(&m.id).copied().unwrap_or(0)
            } else {
                usize::from(m.subscribed.unwrap_or(true))
            };
            m
        })
        .collect();
    Ok(Export {
        meta: data
            .posts_meta
            .into_iter()
            .map(|m| (m.post_id, (m.feature_image_alt, m.feature_image_caption)))
            .collect(),
        tags_of: sorted(tags_of),
        authors_of: sorted(authors_of),
        members,
        suppressions: data
            .suppressions
            .into_iter()
            .map(|s| (s.email, s.reason.unwrap_or_else(|| "suppressed".into())))
            .collect(),
    })
}

/// Reads the export's posts one at a time, handing each to `f` until it returns false: the second
/// pass over the file, after [`read`] kept the tables a post needs. Memory holds one post.
pub fn each_post(path: &Path, f: &mut dyn FnMut(GPost) -> bool) -> Result<(), String> {
    use serde::de::DeserializeSeed;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("{}: cannot be read: {e}", path.display()))?;
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(file));
    Walk::Top(f).deserialize(&mut de).map_err(|e| {
        format!(
            "{}:{}:{}: not a Ghost export: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Where [`each_post`] is in the file: the top (`{"db": [...]}` or `{"data": ...}`), the list of
/// sections (the first is read, as by [`read`]), a section, its `data`, and its `posts`.
enum Walk<'a> {
    Top(&'a mut dyn FnMut(GPost) -> bool),
    Sections(&'a mut dyn FnMut(GPost) -> bool),
    Section(&'a mut dyn FnMut(GPost) -> bool),
    Data(&'a mut dyn FnMut(GPost) -> bool),
    Posts(&'a mut dyn FnMut(GPost) -> bool),
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self {
            Walk::Sections(_) | Walk::Posts(_) => d.deserialize_seq(self),
            _ => d.deserialize_map(self),
        }
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Walk::Top(_) => "a Ghost export (an object with \"db\" or \"data\")",
            Walk::Sections(_) => "a list of export sections",
            Walk::Section(_) => "an export section (an object with \"data\")",
            Walk::Data(_) => "the export's data (an object)",
            Walk::Posts(_) => "a list of posts",
        })
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        use serde::de::IgnoredAny;
        // 0: the top, 1: a section, 2: its data.
        let (f, level) = match self {
            Walk::Top(f) => (f, 0),
            Walk::Section(f) => (f, 1),
            Walk::Data(f) => (f, 2),
            Walk::Sections(_) | Walk::Posts(_) => {
                return Err(serde::de::Error::custom("expected a list"));
            }
        };
        while let Some(key) = map.next_key::<String>()? {
            match (level, key.as_str()) {
                (0, "db") => map.next_value_seed(Walk::Sections(&mut *f))?,
                // A bare export is `{"data": {...}}`.
                (0 | 1, "data") => map.next_value_seed(Walk::Data(&mut *f))?,
                (2, "posts") => map.next_value_seed(Walk::Posts(&mut *f))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        use serde::de::IgnoredAny;
        match self {
            Walk::Sections(f) => {
                seq.next_element_seed(Walk::Section(f))?;
            }
            Walk::Posts(f) => {
                while let Some(post) = seq.next_element::<GPost>()? {
                    if !f(post) {
                        break;
                    }
                }
            }
            _ => return Err(serde::de::Error::custom("expected an object")),
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

impl GMember {
    /// Whether Ghost would mail them: on a newsletter and their address not disabled.
    pub fn subscribed(&self) -> bool {
        let disabled = match &self.email_disabled {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::Number(n) => n.as_i64().unwrap_or(0) != 0,
            _ => false,
        };
        self.newsletters > 0 && !disabled
    }
}

fn truthy(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_i64().unwrap_or(0) != 0,
        _ => false,
    }
}

/// Ghost's times: ISO 8601 strings (Ghost 1+) or milliseconds (older exports).
fn time_of(v: &serde_json::Value) -> Option<OffsetDateTime> {
    match v {
        serde_json::Value::String(s) => OffsetDateTime::parse(s, &Rfc3339).ok(),
        serde_json::Value::Number(n) => {
            OffsetDateTime::from_unix_timestamp(n.as_i64()? / 1000).ok()
        }
        _ => None,
    }
}

/// The listings of a post's tags and authors on the old site (`/tag/x/`, `/author/y/`) and where
/// they lead here.
pub fn listing_paths(
    export: &Export,
    post: &GPost,
    lang: jarida_core::Lang,
    opts: &MoveOptions,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, slug) in export.tags_of.get(&post.id).into_iter().flatten() {
        if name.starts_with('#') || slug.is_empty() {
            continue;
        }
        let to = match opts.kinds.get(slug.as_str()) {
            Some(kind) => format!("/{}/{}/", lang.code(), kind.plural()),
            None => format!("/{}/tags/{}/", lang.code(), crate::slugify(name)),
        };
        out.push((format!("/tag/{slug}/"), to));
    }
    for (name, slug) in export.authors_of.get(&post.id).into_iter().flatten() {
        if slug.is_empty() {
            continue;
        }
        out.push((
            format!("/author/{slug}/"),
            format!("/{}/authors/{}/", lang.code(), crate::slugify(name)),
        ));
    }
    out
}

/// The kind a post's tags map it to (by the tag's slug, as `--kind news=news` names it).
pub fn kind_of(export: &Export, post: &GPost, opts: &MoveOptions) -> Option<crate::Kind> {
    export
        .tags_of
        .get(&post.id)
        .into_iter()
        .flatten()
        .find_map(|(_, slug)| opts.kinds.get(slug.as_str()).copied())
}

/// The language a post is in: its `#ar`/`#en` internal tag, else the default.
pub fn lang_of(export: &Export, post: &GPost, default: jarida_core::Lang) -> jarida_core::Lang {
    export
        .tags_of
        .get(&post.id)
        .into_iter()
        .flatten()
        .find_map(|(name, _)| jarida_core::Lang::parse(name.strip_prefix('#')?))
        .unwrap_or(default)
}

/// Makes one Ghost post into an entry; `site` is the old site's root, put where Ghost wrote
/// `__GHOST_URL__`.
pub fn plan(
    export: &Export,
    post: &GPost,
    opts: &MoveOptions,
    site: &str,
) -> Result<Option<Entry>, EntryError> {
    let is_page = post.kind.as_deref() == Some("page") || truthy(&post.page);
    let what = if is_page { "page" } else { "post" };
    let title = post.title.clone().unwrap_or_default().trim().to_string();
    let label = format!("{what} {} {title:?}", post.id.0);
    let failed = |reason: String| EntryError {
        entry: label.clone(),
        line: 0,
        reason,
    };
    let mut notes = Vec::new();
    let status = match post.status.as_deref().unwrap_or("draft") {
        "published" => Status::Published,
        "scheduled" => Status::Scheduled,
        "draft" => Status::Draft,
        "sent" => {
            notes.push("sent by email only on Ghost: imported as published".into());
            Status::Published
        }
        other => return Err(failed(format!("unknown status {other:?}"))),
    };
    if title.is_empty() {
        return Err(failed("has no title".into()));
    }
    let Some(raw_html) = post.html.as_deref() else {
        return Err(failed(
            "has no HTML, only Ghost's editor format: export it from Ghost 4 or later".into(),
        ));
    };
    let lang = lang_of(export, post, opts.default_lang);
    let local = |s: &str| s.replace("__GHOST_URL__", site);
    let converted = html::to_markdown(&local(raw_html));
    notes.extend(converted.notes);
    let published_at = time_of(&post.published_at);
    if published_at.is_none() && status != Status::Draft {
        return Err(failed(format!(
            "published_at {} is not a time",
            post.published_at
        )));
    }
    let updated_at = time_of(&post.updated_at).filter(|u| published_at.is_some_and(|p| *u > p));
    let tags: Vec<String> = export
        .tags_of
        .get(&post.id)
        .into_iter()
        .flatten()
        .filter(|(name, _)| !name.starts_with('#'))
        .map(|(name, _)| name.clone())
        .collect();
    let authors: Vec<String> = export
        .authors_of
        .get(&post.id)
        .into_iter()
        .flatten()
        .map(|(name, _)| name.clone())
        .collect();
    let (alt, caption) = export.meta.get(&post.id).cloned().unwrap_or_default();
    if let Some(c) = caption
        .map(|c| html::to_markdown(&c).markdown.trim().to_string())
        .filter(|c| !c.is_empty())
    {
        notes.push(format!("feature image caption not kept: {c:?}"));
    }
    let mut summary = post
        .custom_excerpt
        .clone()
        .unwrap_or_default()
        .trim()
        .to_string();
    if summary.is_empty() {
        summary = crate::frontmatter::summarize(&converted.markdown);
    }
    let wanted = crate::slugify(post.slug.as_deref().unwrap_or(""));
    let slug = if wanted.is_empty() || crate::check_slug(&wanted).is_err() {
        format!("{what}-{}", post.id.0)
    } else {
        wanted
    };
    // Ghost shows only published posts at their address.
    let mut old_paths = Vec::new();
    if let Some(s) = post
        .slug
        .as_deref()
        .filter(|s| !s.is_empty() && status == Status::Published)
    {
        old_paths.push(format!("/{s}/"));
    }
    if is_page {
        notes.push(format!(
            "a Ghost page: imported as a {}",
            opts.default_kind.as_str()
        ));
    }
    Ok(Some(Entry {
        origin: format!("ghost:{}", post.id.0),
        label,
        line_offset: 0,
        is_page,
        input: PostInput {
            lang,
            slug,
            translation_key: None,
            kind: opts.default_kind,
            title,
            summary,
            body_md: converted.markdown,
            authors,
            tags,
            cover: post
                .feature_image
                .as_deref()
                .filter(|c| !c.is_empty())
                .map(local),
            cover_alt: alt.filter(|a| !a.trim().is_empty()),
            featured: truthy(&post.featured),
            status,
            published_at,
            updated_at,
            sources: converted.sources,
            corrections: Vec::new(),
        },
        old_paths,
        notes,
    }))
}
