//! Rendering an edition: once per language, the theme's MJML layout (`newsletter.mjml`, through
//! minijinja) is turned into email HTML by mrml, and a plain-text part (`newsletter.txt`) is
//! rendered beside it. The per-reader links are left as slots (see `jarida_mail::bulk`) so delivery
//! only splices them in. The words of the frame are the theme's Fluent strings (`edition-label-*`).

use std::collections::HashMap;
use std::sync::Arc;

use jarida_core::Lang;
pub use jarida_core::SiteInfo;
use jarida_theme::Theme;
use minijinja::{Value, context};

use crate::NewsletterError;
use crate::editions::{Edition, LangPart};

/// Gmail clips messages above about 102 KB and hides what follows, the unsubscribe links included.
pub const MAX_HTML_BYTES: usize = 100_000;

/// Slot numbers of the per-reader parts.
pub const SLOT_UNSUBSCRIBE: usize = 0;
pub const SLOT_MANAGE: usize = 1;
pub const SLOTS: usize = 2;

/// The words of the frame a layout receives as `labels`.
const LABELS: &[&str] = &[
    "web",
    "number",
    "featured",
    "reports",
    "news",
    "designs",
    "read",
    "corrections",
    "more",
    "support",
    "why",
    "manage",
    "unsubscribe",
];

/// One language of an edition, ready to send.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub lang: Lang,
    pub subject: String,
    /// HTML and text with slot markers for the per-reader links.
    pub html: String,
    pub text: String,
    /// Items left out to stay under [`MAX_HTML_BYTES`].
    pub trimmed: usize,
}

/// Renders editions with the site's theme.
pub struct Renderer {
    theme: Arc<Theme>,
}

impl Renderer {
    pub fn new(theme: Arc<Theme>) -> Renderer {
        Renderer { theme }
    }

    /// Renders one language of an edition. Items are dropped from the end (and a link to the web
    /// version added) while the HTML is over [`MAX_HTML_BYTES`].
    pub fn render(
        &self,
        site: &SiteInfo,
        newsletter_name: &str,
        e: &Edition,
        part: &LangPart,
    ) -> Result<Rendered, NewsletterError> {
        let total = part.items.len();
        let mut keep = total;
        loop {
            let (html, text) = self.render_with(site, newsletter_name, e, part, keep)?;
            if html.len() <= MAX_HTML_BYTES || keep == 0 {
                if keep < total {
                    tracing::warn!(
                        edition = %e.id,
                        lang = %part.lang,
                        dropped = total - keep,
                        "edition trimmed to stay under the 100 KB Gmail clips at"
                    );
                }
                return Ok(Rendered {
                    lang: part.lang,
                    subject: part.subject.clone(),
                    html,
                    text,
                    trimmed: total - keep,
                });
            }
            keep -= 1;
        }
    }

    fn render_with(
        &self,
        site: &SiteInfo,
        newsletter_name: &str,
        e: &Edition,
        part: &LangPart,
        keep: usize,
    ) -> Result<(String, String), NewsletterError> {
        let lang = part.lang;
        let i18n = &self.theme.i18n;
        let labels = i18n.group(lang, "edition-label-", LABELS);
        let items = &part.items[..keep];
        let mut sections: Vec<(String, Vec<Value>)> = Vec::new();
        let mut push = |title: &str, v: Value| match sections.iter_mut().find(|s| s.0 == title) {
            Some(s) => s.1.push(v),
            None => sections.push((title.to_string(), vec![v])),
        };
        for it in items {
            let section = if it.featured {
                "featured"
            } else {
                match it.kind.as_str() {
                    "report" => "reports",
                    "news" => "news",
                    _ => "designs",
                }
            };
            let title = labels.get(section).map(String::as_str).unwrap_or(section);
            let cover = it.cover.as_ref().map(|c| {
                if c.starts_with('/') {
                    site.abs(c)
                } else {
                    c.clone()
                }
            });
            push(
                title,
                context! {
                    title => it.title.clone(),
                    summary => it.summary.clone(),
                    // The same `ref` for every reader: the site credits the visit to the edition,
                    // never to a person.
                    url => site.abs(&format!("/{lang}/{}?ref=e{}", it.slug, e.id.0)),
                    cover => cover,
                    cover_alt => it.cover_alt.clone(),
                },
            );
        }
        let sections: Vec<Value> = sections
            .into_iter()
            .map(|(title, items)| context! { title => title, items => items })
            .collect();
        let corrections: Vec<Value> = part
            .corrections
            .iter()
            .map(|c| {
                context! {
                    title => c.title.clone(),
                    url => site.abs(&format!("/{lang}/{}?ref=e{}", c.slug, e.id.0)),
                    date => i18n.date_ts(lang, c.at),
                    note => c.note.clone(),
                }
            })
            .collect();
        let number = i18n.number(lang, e.number);
        let (intro_html, intro) = intro(site, &part.intro);
        let preview = part
            .intro
            .lines()
            .next()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .or_else(|| items.first().map(|i| i.title.clone()))
            .unwrap_or_default();
        let ctx = context! {
            lang => lang.code(),
            dir => lang.dir(),
            site => site.name(lang).to_string(),
            newsletter => newsletter_name.to_string(),
            subject => part.subject.clone(),
            preview => preview,
            number => number,
            date => i18n.date_ts(lang, e.period_end),
            intro => intro,
            intro_html => intro_html,
            sections => sections,
            corrections => corrections,
            trimmed => keep < part.items.len(),
            web_url => site.abs(&format!("/{lang}/newsletter/{}", e.number)),
            support_url => site.abs(&format!("/{lang}/support")),
            unsubscribe_url => jarida_mail::bulk::slot(SLOT_UNSUBSCRIBE),
            manage_url => jarida_mail::bulk::slot(SLOT_MANAGE),
            labels => labels,
        };
        let mjml = self
            .theme
            .render("newsletter.mjml", ctx.clone())
            .map_err(|e| NewsletterError::Render(format!("newsletter.mjml: {e:#}")))?;
        let text = self
            .theme
            .render("newsletter.txt", ctx)
            .map_err(|e| NewsletterError::Render(format!("newsletter.txt: {e:#}")))?;
        let html = mjml_to_html(&mjml)?;
        Ok((html, text + "\n"))
    }
}

/// MJML to HTML with no web fonts: mrml would otherwise link Google Fonts for some families.
/// An edition's intro, written in Markdown: as sanitized HTML whose site links are absolute (mail
/// clients have no base URL), and as plain-text paragraphs.
pub fn intro(site: &SiteInfo, md: &str) -> (String, Vec<String>) {
    if md.trim().is_empty() {
        return (String::new(), Vec::new());
    }
    let r = jarida_content::markdown::render_short(md);
    let base = &site.base_url;
    let html = r
        .html
        .replace("href=\"/", &format!("href=\"{base}/"))
        .replace("src=\"/", &format!("src=\"{base}/"));
    let text = r
        .text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    (html, text)
}

pub fn mjml_to_html(mjml: &str) -> Result<String, NewsletterError> {
    let parsed = mrml::parse(mjml).map_err(|e| NewsletterError::Render(format!("MJML: {e}")))?;
    let opts = mrml::prelude::render::RenderOptions {
        disable_comments: true,
        social_icon_origin: None,
        fonts: HashMap::new(),
    };
    parsed
        .element
        .render(&opts)
        .map_err(|e| NewsletterError::Render(format!("MJML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::editions::{CorrectionItem, Item};

    fn edition() -> Edition {
        Edition {
            id: jarida_core::EditionId(7),
            newsletter_id: 1,
            newsletter: "main".into(),
            number: 12,
            status: crate::editions::EditionStatus::Draft,
            period_start: 1_790_000_000,
            period_end: 1_791_000_000,
            slot_at: None,
            send_at: None,
            created_at: 0,
            started_at: None,
            finished_at: None,
            segment_id: None,
        }
    }

    fn item(i: i64, lang: &str, summary_len: usize) -> Item {
        Item {
            post_id: i,
            position: i,
            slug: format!("post-{i}"),
            kind: ["report", "news", "design"][i as usize % 3].into(),
            title: if lang == "ar" {
                format!("تقرير رقم {i}")
            } else {
                format!("Report number {i}")
            },
            summary: "word ".repeat(summary_len / 5),
            cover: Some(format!("/media/cover-{i}.jpg")),
            cover_alt: Some("A <cover> & \"alt\"".into()),
            featured: i == 0,
            published_at: Some(1_790_500_000),
        }
    }

    fn site() -> SiteInfo {
        SiteInfo {
            base_url: "https://news.example.org".into(),
            names: vec![(Lang::En, "Jarida".into()), (Lang::Ar, "جريدة".into())],
            default_lang: Lang::En,
        }
    }

    #[test]
    fn renders_rtl_arabic_with_sections_corrections_and_slots() {
        let r = Renderer::new(Arc::new(jarida_theme::Theme::load(None).unwrap()));
        let part = LangPart {
            lang: Lang::Ar,
            subject: "النشرة".into(),
            intro: "أهلاً <b>بكم</b>".into(),
            items: (0..3).map(|i| item(i, "ar", 100)).collect(),
            corrections: vec![CorrectionItem {
                post_id: 9,
                slug: "old".into(),
                title: "تقرير قديم".into(),
                at: 1_790_600_000,
                note: "صححنا رقماً".into(),
            }],
        };
        let out = r.render(&site(), "النشرة", &edition(), &part).unwrap();
        assert_eq!(out.trimmed, 0);
        let h = &out.html;
        assert!(h.contains("dir=\"rtl\""), "{h}");
        assert!(h.contains("lang=\"ar\""));
        assert!(h.contains("مختارات") && h.contains("تصحيحات") && h.contains("صححنا رقماً"));
        assert!(h.contains("https://news.example.org/ar/post-1"));
        assert!(h.contains("https://news.example.org/media/cover-1.jpg"));
        assert!(h.contains("&lt;b&gt;بكم&lt;/b&gt;"), "intro is escaped");
        assert!(!h.contains("<b>بكم"));
        assert!(!h.contains("googleapis"), "no web fonts");
        assert!(h.contains(&format!(
            "href=\"{}\"",
            jarida_mail::bulk::slot(SLOT_UNSUBSCRIBE)
        )));
        assert!(h.contains(&format!(
            "href=\"{}\"",
            jarida_mail::bulk::slot(SLOT_MANAGE)
        )));
        assert!(out.text.contains("تقرير رقم 2"));
        assert!(out.text.contains("https://news.example.org/ar/post-2"));
        assert!(
            out.text
                .contains(&jarida_mail::bulk::slot(SLOT_UNSUBSCRIBE))
        );
        assert!(out.text.contains("١٢"), "Arabic digits for the number");
    }

    #[test]
    fn an_edition_over_100_kb_is_trimmed_with_a_link_to_the_web_version() {
        let r = Renderer::new(Arc::new(jarida_theme::Theme::load(None).unwrap()));
        let part = LangPart {
            lang: Lang::En,
            subject: "Big".into(),
            intro: String::new(),
            items: (0..80).map(|i| item(i, "en", 1500)).collect(),
            corrections: vec![],
        };
        let out = r.render(&site(), "News", &edition(), &part).unwrap();
        assert!(out.html.len() <= MAX_HTML_BYTES, "{}", out.html.len());
        assert!(out.trimmed > 0 && out.trimmed < 80, "{}", out.trimmed);
        assert!(out.html.contains("More in the web version of this edition"));
        assert!(
            out.html
                .contains("https://news.example.org/en/newsletter/12")
        );
        // The unsubscribe link survives the trim.
        assert!(
            out.html
                .contains(&jarida_mail::bulk::slot(SLOT_UNSUBSCRIBE))
        );
    }
}
