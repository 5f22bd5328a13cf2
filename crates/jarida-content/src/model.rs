//! The post as the rest of the program sees it.

use jarida_core::Lang;
use serde::Serialize;
use time::OffsetDateTime;

/// Languages the site publishes in, by code (what each implies is `jarida_core::Lang`).
pub use jarida_core::LANG_CODES as LANGS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Report,
    News,
    Design,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Report, Kind::News, Kind::Design];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Report => "report",
            Kind::News => "news",
            Kind::Design => "design",
        }
    }

    /// The URL segment of the kind's listing (`/en/reports/`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Report => "reports",
            Kind::News => "news",
            Kind::Design => "designs",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "report" => Some(Kind::Report),
            "news" => Some(Kind::News),
            "design" => Some(Kind::Design),
            _ => None,
        }
    }

    pub fn from_plural(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Scheduled,
    Published,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Scheduled => "scheduled",
            Status::Published => "published",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "draft" => Some(Status::Draft),
            "scheduled" => Some(Status::Scheduled),
            "published" => Some(Status::Published),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Named {
    pub name: String,
    pub slug: String,
}

/// Reporting a post builds on ("based on reporting by …").
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Source {
    pub publisher: String,
    #[serde(default)]
    pub authors: String,
    #[serde(default)]
    pub title: String,
    /// Empty when the source has no address (an interview, a book, a print edition).
    #[serde(default)]
    pub url: String,
    /// `YYYY-MM-DD` when known.
    #[serde(default)]
    pub date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Correction {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub note: String,
}

/// Everything needed to create or replace a post.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PostInput {
    pub lang: Lang,
    pub slug: String,
    pub translation_key: Option<String>,
    pub kind: Kind,
    pub title: String,
    pub summary: String,
    pub body_md: String,
    pub authors: Vec<String>,
    pub tags: Vec<String>,
    pub cover: Option<String>,
    pub cover_alt: Option<String>,
    pub featured: bool,
    pub status: Status,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
    pub sources: Vec<Source>,
    pub corrections: Vec<Correction>,
}

/// A stored post with its rendered bodies and related rows.
#[derive(Debug, Clone, Serialize)]
pub struct Post {
    pub id: i64,
    pub lang: Lang,
    pub slug: String,
    pub translation_key: Option<String>,
    pub kind: Kind,
    pub title: String,
    pub summary: String,
    pub body_md: String,
    pub body_html: String,
    pub body_text: String,
    pub cover: Option<String>,
    pub cover_alt: Option<String>,
    pub featured: bool,
    pub status: Status,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub authors: Vec<Named>,
    pub tags: Vec<Named>,
    pub sources: Vec<Source>,
    pub corrections: Vec<Correction>,
}

impl Post {
    /// The summary the article shows under its headline: only one its author wrote. A summary made
    /// from the opening paragraph (or one that repeats words of the body) is left out, since the
    /// body follows right below and would say it twice.
    pub fn standfirst(&self) -> Option<&str> {
        let s = self.summary.trim();
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let core = words(s.trim_end_matches('…'));
        (!core.is_empty() && !words(&self.body_text).contains(&core)).then_some(s)
    }

    /// The time a reader should see as "last modified": the later of the edit time and the newest
    /// correction.
    pub fn modified_at(&self) -> OffsetDateTime {
        self.corrections
            .iter()
            .map(|c| c.at)
            .fold(self.updated_at, |a, b| a.max(b))
    }
}

/// A post as shown in listings and feeds' indexes.
#[derive(Debug, Clone, Serialize)]
pub struct PostSummary {
    pub id: i64,
    pub lang: Lang,
    pub slug: String,
    pub kind: Kind,
    pub title: String,
    pub summary: String,
    pub cover: Option<String>,
    pub cover_alt: Option<String>,
    pub featured: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub authors: Vec<Named>,
}

/// A correction with the post it belongs to: what the newsletter lists as "corrections since".
#[derive(Debug, Clone, Serialize)]
pub struct CorrectionOnPost {
    pub post_id: i64,
    pub lang: Lang,
    pub slug: String,
    pub title: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub note: String,
}

/// Turns a name or title into a URL segment: lower-case letters and digits of any script, joined by
/// single hyphens.
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    out
}

/// Words that name site sections and so cannot be a post's slug.
pub const RESERVED_SLUGS: &[&str] = &[
    "reports",
    "news",
    "designs",
    "tags",
    "authors",
    "archive",
    "support",
    "newsletter",
    "page",
    "feed",
    "search",
    "static",
    "media",
    "admin",
    "api",
    "setup",
];

/// Checks a slug given in front matter; returns the reason it is refused.
pub fn check_slug(slug: &str) -> Result<(), String> {
    if slug.is_empty() {
        return Err("is empty".into());
    }
    if slug.chars().count() > 200 {
        return Err("is longer than 200 characters".into());
    }
    if let Some(c) = slug
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "contains {c:?}; use letters, digits, '-' and '_' only"
        ));
    }
    if RESERVED_SLUGS.contains(&slug) {
        return Err(format!("{slug:?} is reserved for a site section"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("  Hello, World! 2026 "), "hello-world-2026");
        assert_eq!(slugify("تقرير خاص"), "تقرير-خاص");
        assert!(check_slug("a/b").is_err());
        assert!(check_slug("news").is_err());
        assert!(check_slug("تقرير-خاص").is_ok());
    }
}
