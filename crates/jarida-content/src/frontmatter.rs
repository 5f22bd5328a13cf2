//! Reading and writing a post file: TOML (`+++`) or YAML (`---`) front matter, then the Markdown body.
//!
//! Field names follow Hugo and Zola where they overlap (title, date, draft, tags, summary/description,
//! slug, lang, translationKey, authors), plus ours (kind, featured, sources, corrections, cover).
//! Every error names the field and the line it is on.

use jarida_core::Lang;
use std::path::Path;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::model::*;

/// Why a file could not become a post, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{reason}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct FileError {
    pub line: Option<usize>,
    pub reason: String,
}

fn err(line: Option<usize>, reason: impl Into<String>) -> FileError {
    FileError {
        line,
        reason: reason.into(),
    }
}

/// A parsed file, before its media is resolved: the post and the line each body line starts at.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub post: PostInput,
    /// 1-based line in the file where the Markdown body starts.
    pub body_line: usize,
}

struct Fields<'a> {
    map: Map<String, Value>,
    fm: &'a str,
    /// 1-based line of the first front matter line.
    first_line: usize,
}

impl Fields<'_> {
    /// The file line where `key` is set, for error messages.
    fn line_of(&self, key: &str) -> Option<usize> {
        self.fm
            .lines()
            .position(|l| {
                let t = l.trim_start();
                t.strip_prefix(key).is_some_and(|rest| {
                    let rest = rest.trim_start();
                    rest.starts_with('=') || rest.starts_with(':')
                }) || t == format!("[{key}]")
                    || t == format!("[[{key}]]")
            })
            .map(|i| i + self.first_line)
    }

    fn bad(&self, key: &str, why: impl std::fmt::Display) -> FileError {
        err(self.line_of(key), format!("field `{key}` {why}"))
    }

    fn take(&mut self, keys: &[&str]) -> Option<(String, Value)> {
        keys.iter()
            .find_map(|k| self.map.remove(*k).map(|v| (k.to_string(), v)))
    }

    fn string(&mut self, keys: &[&str]) -> Result<Option<String>, FileError> {
        match self.take(keys) {
            None | Some((_, Value::Null)) => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s.trim().to_string())),
            Some((k, v)) => Err(self.bad(&k, format!("must be text, found {}", kind_of(&v)))),
        }
    }

    fn boolean(&mut self, keys: &[&str]) -> Result<bool, FileError> {
        match self.take(keys) {
            None | Some((_, Value::Null)) => Ok(false),
            Some((_, Value::Bool(b))) => Ok(b),
            Some((k, v)) => {
                Err(self.bad(&k, format!("must be true or false, found {}", kind_of(&v))))
            }
        }
    }

    fn strings(&mut self, keys: &[&str]) -> Result<Vec<String>, FileError> {
        match self.take(keys) {
            None | Some((_, Value::Null)) => Ok(Vec::new()),
            Some((_, Value::String(s))) => Ok(vec![s.trim().to_string()]),
            Some((k, Value::Array(a))) => a
                .into_iter()
                .map(|v| match v {
                    Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                    other => Err(self.bad(
                        &k,
                        format!("must list text items, found {}", kind_of(&other)),
                    )),
                })
                .collect(),
            Some((k, v)) => {
                Err(self.bad(&k, format!("must be a list of text, found {}", kind_of(&v))))
            }
        }
    }

    fn date(&mut self, keys: &[&str]) -> Result<Option<OffsetDateTime>, FileError> {
        match self.string(keys)? {
            None => Ok(None),
            Some(s) => parse_date(&s).map(Some).map_err(|e| self.bad(keys[0], e)),
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// Accepts RFC 3339, `YYYY-MM-DD HH:MM[:SS]`, `YYYY-MM-DDTHH:MM[:SS]` (UTC) and `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<OffsetDateTime, String> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let norm = s.replacen('T', " ", 1);
    for f in [
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]"),
    ] {
        if let Ok(t) = PrimitiveDateTime::parse(&norm, f) {
            return Ok(t.assume_utc());
        }
    }
    if let Ok(d) = Date::parse(s, format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc());
    }
    Err(format!(
        "is not a date: {s:?} (use YYYY-MM-DD or 2026-11-27T09:00:00Z)"
    ))
}

/// TOML datetimes become their RFC 3339 text so both front matter formats reach one shape.
fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses one post file. `rel` is its path inside the import folder: the slug, language and translation
/// key default from its name as Hugo does (`story.ar.md` is the Arabic version of `story`).
pub fn parse(text: &str, rel: &Path, now: OffsetDateTime) -> Result<ParsedFile, FileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // NUL is no character of a text (and PostgreSQL refuses it): CommonMark's replacement.
    let cleaned;
    let text = if text.contains('\0') {
        cleaned = text.replace('\0', "\u{FFFD}");
        cleaned.as_str()
    } else {
        text
    };
    let mut lines = text.split_inclusive('\n');
    let opener = lines.next().unwrap_or("").trim_end();
    let is_toml = match opener {
        "+++" => true,
        "---" => false,
        _ => {
            return Err(err(
                Some(1),
                "no front matter: the file must start with a line `+++` (TOML) or `---` (YAML)",
            ));
        }
    };
    let mut offset = lines.clone().next().map_or(text.len(), |_| {
        text.find('\n').map_or(text.len(), |i| i + 1)
    });
    let fm_start = offset;
    let mut close = None;
    let mut line_no = 1;
    for l in lines {
        line_no += 1;
        if l.trim_end() == opener {
            close = Some((offset, offset + l.len(), line_no));
            break;
        }
        offset += l.len();
    }
    let Some((fm_end, body_start, close_line)) = close else {
        return Err(err(
            Some(1),
            format!("front matter opened with `{opener}` is never closed"),
        ));
    };
    let fm = &text[fm_start..fm_end];
    let body = &text[body_start..];
    let value = if is_toml {
        let table: toml::Table = toml::from_str(fm).map_err(|e| {
            let line = e.span().map(|s| line_at(fm, s.start) + 1);
            err(line, format!("TOML front matter: {}", e.message().trim()))
        })?;
        toml_to_json(toml::Value::Table(table))
    } else if fm.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        let y: serde_yaml_ng::Value = serde_yaml_ng::from_str(fm).map_err(|e| {
            let line = e.location().map(|l| l.line() + 1);
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            err(line, format!("YAML front matter: {msg}"))
        })?;
        serde_json::to_value(y).map_err(|e| err(Some(2), format!("YAML front matter: {e}")))?
    };
    let Value::Object(map) = value else {
        return Err(err(Some(2), "front matter must be a table of fields"));
    };
    let mut f = Fields {
        map,
        fm,
        first_line: 2,
    };

    // Hugo: `story.ar.md` is the Arabic translation of `story.md` / `story.en.md`.
    let file_stem = rel.file_stem().and_then(|s| s.to_str()).unwrap_or("post");
    let (stem, name_lang) = match file_stem.rsplit_once('.') {
        Some((s, l)) if LANGS.contains(&l) => (s, Some(l)),
        _ => (file_stem, None),
    };
    let stem = if stem == "index" || stem == "_index" {
        rel.parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .unwrap_or(stem)
    } else {
        stem
    };

    let title = f
        .string(&["title"])?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| f.bad("title", "is missing or empty"))?;
    let lang = f
        .string(&["lang", "language"])?
        .or(name_lang.map(str::to_string))
        .unwrap_or_else(|| "en".into());
    let Some(lang) = Lang::parse(&lang) else {
        return Err(f.bad(
            "lang",
            format!("is {lang:?}; this site publishes in {}", LANGS.join(", ")),
        ));
    };
    let slug = match f.string(&["slug"])? {
        Some(s) => {
            check_slug(&s).map_err(|e| f.bad("slug", e))?;
            s
        }
        None => {
            let s = slugify(stem);
            check_slug(&s).map_err(|e| {
                err(
                    None,
                    format!("the slug taken from the file name {e}; set `slug`"),
                )
            })?;
            s
        }
    };
    let kind_text = f
        .string(&["kind", "type"])?
        .unwrap_or_else(|| "news".into());
    let kind = Kind::parse(&kind_text).ok_or_else(|| {
        f.bad(
            "kind",
            format!("is {kind_text:?}; use report, news or design"),
        )
    })?;
    let draft = f.boolean(&["draft"])?;
    let published_at = f.date(&["date", "publishDate"])?;
    let updated_at = f.date(&["updated", "lastmod"])?;
    let explicit_status = f.string(&["status"])?;
    let status = if draft {
        Status::Draft
    } else if let Some(s) = explicit_status {
        Status::parse(&s).ok_or_else(|| {
            f.bad(
                "status",
                format!("is {s:?}; use draft, scheduled or published"),
            )
        })?
    } else if published_at.is_some_and(|d| d > now) {
        Status::Scheduled
    } else {
        Status::Published
    };
    if status != Status::Draft && published_at.is_none() {
        return Err(err(
            None,
            "field `date` is missing: a post that is not a draft needs a publication date",
        ));
    }
    let mut tags = f.strings(&["tags"])?;
    if tags.is_empty()
        && let Some(Value::Object(mut tax)) = f.map.remove("taxonomies")
        && let Some(Value::Array(t)) = tax.remove("tags")
    {
        tags = t
            .into_iter()
            .filter_map(|v| v.as_str().map(|s| s.trim().to_string()))
            .collect();
    }
    let authors = f.strings(&["authors", "author"])?;
    let summary = f.string(&["summary", "description"])?.unwrap_or_default();
    let featured = f.boolean(&["featured"])?;
    let translation_key = f
        .string(&["translation_key", "translationKey"])?
        .or_else(|| {
            let dir = rel
                .parent()
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            Some(if dir.is_empty() {
                stem.to_string()
            } else {
                format!("{dir}/{stem}")
            })
        });
    let (cover, mut cover_alt) = match f.take(&["cover", "image"]) {
        None | Some((_, Value::Null)) => (None, None),
        Some((_, Value::String(s))) => (Some(s), None),
        Some((k, Value::Object(mut o))) => {
            let image = match o.remove("image").or_else(|| o.remove("src")) {
                Some(Value::String(s)) => s,
                _ => return Err(f.bad(&k, "is a table without `image`")),
            };
            let alt = o.remove("alt").and_then(|v| v.as_str().map(str::to_string));
            (Some(image), alt)
        }
        Some((k, v)) => {
            return Err(f.bad(
                &k,
                format!("must be a path or a table, found {}", kind_of(&v)),
            ));
        }
    };
    if let Some(a) = f.string(&["cover_alt"])? {
        cover_alt = Some(a);
    }
    let sources = parse_sources(&mut f)?;
    let corrections = parse_corrections(&mut f)?;

    let body_md = body.to_string();
    let summary = if summary.is_empty() {
        summarize(&body_md)
    } else {
        summary
    };
    Ok(ParsedFile {
        post: PostInput {
            lang,
            slug,
            translation_key,
            kind,
            title,
            summary,
            body_md,
            authors,
            tags,
            cover,
            cover_alt,
            featured,
            status,
            published_at,
            updated_at,
            sources,
            corrections,
        },
        body_line: close_line + 1,
    })
}

fn parse_sources(f: &mut Fields<'_>) -> Result<Vec<Source>, FileError> {
    let Some((key, v)) = f.take(&["sources", "source", "based_on"]) else {
        return Ok(Vec::new());
    };
    let items = match v {
        Value::Array(a) => a,
        Value::Object(o) => vec![Value::Object(o)],
        other => {
            return Err(f.bad(
                &key,
                format!("must be a list of tables, found {}", kind_of(&other)),
            ));
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let n = i + 1;
        let Value::Object(mut o) = item else {
            return Err(f.bad(
                &key,
                format!(
                    "entry {n} must be a table with a publisher (and url, title, authors, date)"
                ),
            ));
        };
        let mut text = |k: &str| -> Result<Option<String>, FileError> {
            match o.remove(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
                Some(Value::Array(a)) if k == "authors" => Ok(Some(
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                )),
                Some(other) => Err(f.bad(
                    &key,
                    format!("entry {n}: `{k}` must be text, found {}", kind_of(&other)),
                )),
            }
        };
        let publisher = text("publisher")?.filter(|s| !s.is_empty());
        let url = text("url")?.filter(|s| !s.is_empty());
        let title = text("title")?.unwrap_or_default();
        let authors = text("authors")?.or(text("author")?).unwrap_or_default();
        let date = text("date")?;
        let publisher =
            publisher.ok_or_else(|| f.bad(&key, format!("entry {n} has no `publisher`")))?;
        // Reporting is often cited by publisher and authors alone (an interview, a book, a print
        // investigation): the URL is optional, and an empty one means none.
        let url = url.unwrap_or_default();
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
            return Err(f.bad(
                &key,
                format!("entry {n}: url {url:?} must start with https:// or http://"),
            ));
        }
        let date = match date {
            Some(d) => Some(
                parse_date(&d)
                    .map_err(|e| f.bad(&key, format!("entry {n}: date {e}")))?
                    .date()
                    .to_string(),
            ),
            None => None,
        };
        out.push(Source {
            publisher,
            authors,
            title,
            url,
            date,
        });
    }
    Ok(out)
}

fn parse_corrections(f: &mut Fields<'_>) -> Result<Vec<Correction>, FileError> {
    let Some((key, v)) = f.take(&["corrections"]) else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = v else {
        return Err(f.bad(&key, "must be a list of tables with date and note"));
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let n = i + 1;
        let Value::Object(mut o) = item else {
            return Err(f.bad(
                &key,
                format!("entry {n} must be a table with date and note"),
            ));
        };
        let date = match o.remove("date") {
            Some(Value::String(s)) => {
                parse_date(&s).map_err(|e| f.bad(&key, format!("entry {n}: date {e}")))?
            }
            _ => return Err(f.bad(&key, format!("entry {n} has no `date`"))),
        };
        let note = match o.remove("note").or_else(|| o.remove("text")) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            _ => return Err(f.bad(&key, format!("entry {n} has no `note`"))),
        };
        out.push(Correction { at: date, note });
    }
    out.sort_by_key(|c| c.at);
    Ok(out)
}

/// A summary from the body's first paragraph when the file gives none: up to 300 characters, cut at
/// a word boundary.
pub fn summarize(md: &str) -> String {
    summarize_text(&crate::markdown::render(md).text)
}

/// [`summarize`] of a body already rendered to plain text.
pub fn summarize_text(text: &str) -> String {
    let para = text
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|p| p.chars().count() > 40 && !p.ends_with("===") && !p.ends_with("---"))
        .unwrap_or_default();
    if para.chars().count() <= 300 {
        return para;
    }
    let mut out = String::new();
    for w in para.split(' ') {
        if out.chars().count() + w.chars().count() + 1 > 297 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out.push('…');
    out
}

/// Writes a post back in the import format (TOML front matter), so export then import round-trips.
pub fn write(post: &Post) -> String {
    use toml::Value as V;
    let mut t = toml::Table::new();
    let s = |v: &str| V::String(v.to_string());
    let rfc = |d: OffsetDateTime| V::String(d.format(&Rfc3339).expect("dates format"));
    t.insert("title".into(), s(&post.title));
    t.insert("slug".into(), s(&post.slug));
    t.insert("lang".into(), s(post.lang.code()));
    t.insert("kind".into(), s(post.kind.as_str()));
    t.insert("status".into(), s(post.status.as_str()));
    if post.status == Status::Draft {
        t.insert("draft".into(), V::Boolean(true));
    }
    if let Some(d) = post.published_at {
        t.insert("date".into(), rfc(d));
    }
    t.insert("updated".into(), rfc(post.updated_at));
    if let Some(k) = &post.translation_key {
        t.insert("translation_key".into(), s(k));
    }
    t.insert("summary".into(), s(&post.summary));
    t.insert("featured".into(), V::Boolean(post.featured));
    let list = |v: &[Named]| V::Array(v.iter().map(|n| V::String(n.name.clone())).collect());
    t.insert("authors".into(), list(&post.authors));
    t.insert("tags".into(), list(&post.tags));
    if let Some(c) = &post.cover {
        t.insert("cover".into(), s(c));
        if let Some(a) = &post.cover_alt {
            t.insert("cover_alt".into(), s(a));
        }
    }
    if !post.sources.is_empty() {
        let arr = post
            .sources
            .iter()
            .map(|src| {
                let mut m = toml::Table::new();
                m.insert("publisher".into(), s(&src.publisher));
                if !src.url.is_empty() {
                    m.insert("url".into(), s(&src.url));
                }
                if !src.title.is_empty() {
                    m.insert("title".into(), s(&src.title));
                }
                if !src.authors.is_empty() {
                    m.insert("authors".into(), s(&src.authors));
                }
                if let Some(d) = &src.date {
                    m.insert("date".into(), s(d));
                }
                V::Table(m)
            })
            .collect();
        t.insert("sources".into(), V::Array(arr));
    }
    if !post.corrections.is_empty() {
        let arr = post
            .corrections
            .iter()
            .map(|c| {
                let mut m = toml::Table::new();
                m.insert("date".into(), rfc(c.at));
                m.insert("note".into(), s(&c.note));
                V::Table(m)
            })
            .collect();
        t.insert("corrections".into(), V::Array(arr));
    }
    format!(
        "+++\n{}+++\n{}",
        toml::to_string(&t).expect("front matter serializes"),
        post.body_md
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-27 12:00 UTC);

    #[test]
    fn toml_and_yaml_reach_the_same_post() {
        let toml = "+++\ntitle = \"Water\"\ndate = 2026-11-01T09:00:00Z\ntags = [\"Water\", \"Gaza\"]\nkind = \"report\"\n[[sources]]\npublisher = \"Reuters\"\nurl = \"https://reuters.com/x\"\n+++\nBody text.\n";
        let yaml = "---\ntitle: Water\ndate: 2026-11-01T09:00:00Z\ntags: [Water, Gaza]\nkind: report\nsources:\n  - publisher: Reuters\n    url: https://reuters.com/x\n---\nBody text.\n";
        let a = parse(toml, &PathBuf::from("water.md"), NOW).unwrap().post;
        let b = parse(yaml, &PathBuf::from("water.md"), NOW).unwrap().post;
        assert_eq!(a, b);
        assert_eq!(a.slug, "water");
        assert_eq!(a.status, Status::Published);
        assert_eq!(a.sources[0].publisher, "Reuters");
        assert_eq!(a.published_at, Some(datetime!(2026-11-01 09:00 UTC)));
    }

    #[test]
    fn language_and_key_come_from_the_file_name() {
        let p = parse(
            "+++\ntitle = \"ماء\"\ndate = \"2026-11-01\"\n+++\nنص\n",
            &PathBuf::from("r/water.ar.md"),
            NOW,
        )
        .unwrap()
        .post;
        assert_eq!(p.lang, "ar");
        assert_eq!(p.slug, "water");
        assert_eq!(p.translation_key.as_deref(), Some("r/water"));
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = parse(
            "+++\ntitle = \"x\"\ndate = \"yesterday\"\n+++\n",
            &PathBuf::from("a.md"),
            NOW,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.reason.contains("`date`"), "{e}");
        let e = parse(
            "+++\ntitle = \"x\"\ndate = \n+++\n",
            &PathBuf::from("a.md"),
            NOW,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("---\ntitle: [unclosed\n---\n", &PathBuf::from("a.md"), NOW).unwrap_err();
        assert!(e.line.is_some() && e.reason.contains("YAML"), "{e}");
        let e = parse("no front matter", &PathBuf::from("a.md"), NOW).unwrap_err();
        assert_eq!(e.line, Some(1));
        let e = parse("+++\ntitle = \"x\"\n", &PathBuf::from("a.md"), NOW).unwrap_err();
        assert!(e.reason.contains("never closed"), "{e}");
        let e = parse(
            "+++\ntitle = \"x\"\ndate = \"2026-01-01\"\nkind = \"blog\"\n+++\n",
            &PathBuf::from("a.md"),
            NOW,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(4));
    }

    #[test]
    fn future_date_schedules() {
        let p = parse(
            "+++\ntitle = \"x\"\ndate = \"2027-01-01\"\n+++\n",
            &PathBuf::from("a.md"),
            NOW,
        )
        .unwrap()
        .post;
        assert_eq!(p.status, Status::Scheduled);
    }
}
