//! Rendering an edition: once per language, the MJML layout (a theme template, through minijinja) is
//! turned into email HTML by mrml, and a plain-text part is rendered beside it. The per-reader links
//! are left as slots (see `jarida_mail::bulk`) so delivery only splices them in.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use minijinja::{Environment, Value, context};
use time::OffsetDateTime;

use crate::NewsletterError;
use crate::editions::{Edition, LangPart};

/// Gmail clips messages above about 102 KB and hides what follows, the unsubscribe links included.
pub const MAX_HTML_BYTES: usize = 100_000;

/// Slot numbers of the per-reader parts.
pub const SLOT_UNSUBSCRIBE: usize = 0;
pub const SLOT_MANAGE: usize = 1;
pub const SLOTS: usize = 2;

const MJML: &str = include_str!("../../../themes/default/templates/newsletter.mjml");
const TEXT: &str = include_str!("../../../themes/default/templates/newsletter.txt");

/// Site facts the layout needs.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    pub base_url: String,
    /// Site name per language.
    pub names: Vec<(String, String)>,
}

impl SiteInfo {
    pub fn name(&self, lang: &str) -> &str {
        self.names
            .iter()
            .find(|(l, _)| l == lang)
            .or(self.names.first())
            .map(|(_, n)| n.as_str())
            .unwrap_or("")
    }

    pub fn abs(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// HTML escaping for the site's and the email's templates. minijinja's own also escapes `/`, which
/// bloats every URL for no safety gain; these five characters are what HTML text and quoted
/// attributes need.
pub fn install_html_formatter(env: &mut Environment<'_>) {
    env.set_formatter(|out, state, value| {
        if !matches!(state.auto_escape(), minijinja::AutoEscape::Html)
            || value.is_safe()
            || value.is_undefined()
            || value.is_none()
        {
            return minijinja::escape_formatter(out, state, value);
        }
        let s = value.to_string();
        let mut last = 0;
        for (i, b) in s.bytes().enumerate() {
            let rep = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            out.write_str(&s[last..i])?;
            out.write_str(rep)?;
            last = i + 1;
        }
        out.write_str(&s[last..])?;
        Ok(())
    });
}

/// One language of an edition, ready to send.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub lang: String,
    pub subject: String,
    /// HTML and text with slot markers for the per-reader links.
    pub html: String,
    pub text: String,
    /// Items left out to stay under [`MAX_HTML_BYTES`].
    pub trimmed: usize,
}

/// The email templates: the built-in ones, or the data folder's theme where it has them.
pub struct Renderer {
    env: Environment<'static>,
}

impl Renderer {
    pub fn new(theme_dir: Option<&Path>) -> Result<Renderer, NewsletterError> {
        let mut env = Environment::new();
        install_html_formatter(&mut env);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".mjml") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.add_filter("wrap", |s: String, indent: Option<String>| -> String {
            let rest = indent.unwrap_or_default();
            jarida_content::markdown::wrap(&s, "", &rest)
                .trim_end()
                .to_string()
        });
        let load = |name: &str, builtin: &'static str| -> Result<String, NewsletterError> {
            if let Some(dir) = theme_dir {
                let p: PathBuf = dir.join("templates").join(name);
                if p.is_file() {
                    return std::fs::read_to_string(&p).map_err(|e| {
                        NewsletterError::Render(format!("reading {}: {e}", p.display()))
                    });
                }
            }
            Ok(builtin.to_string())
        };
        for (name, builtin) in [("newsletter.mjml", MJML), ("newsletter.txt", TEXT)] {
            let src = load(name, builtin)?;
            env.add_template_owned(name.to_string(), src)
                .map_err(|e| NewsletterError::Render(format!("{name}: {e}")))?;
        }
        Ok(Renderer { env })
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
                        edition = e.id,
                        lang = %part.lang,
                        dropped = total - keep,
                        "edition trimmed to stay under the 100 KB Gmail clips at"
                    );
                }
                return Ok(Rendered {
                    lang: part.lang.clone(),
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
        let lang = part.lang.as_str();
        let ar = lang == "ar";
        let labels = labels(lang);
        let items = &part.items[..keep];
        let mut sections: Vec<(String, Vec<Value>)> = Vec::new();
        let mut push = |title: &str, v: Value| match sections.iter_mut().find(|s| s.0 == title) {
            Some(s) => s.1.push(v),
            None => sections.push((title.to_string(), vec![v])),
        };
        for it in items {
            let title = if it.featured {
                labels["featured"]
            } else {
                match it.kind.as_str() {
                    "report" => labels["reports"],
                    "news" => labels["news"],
                    _ => labels["designs"],
                }
            };
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
                    url => site.abs(&format!("/{lang}/{}", it.slug)),
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
                    url => site.abs(&format!("/{lang}/{}", c.slug)),
                    date => date(c.at, ar),
                    note => c.note.clone(),
                }
            })
            .collect();
        let number = if ar {
            crate::editions::arabic_digits(&e.number.to_string())
        } else {
            e.number.to_string()
        };
        let intro: Vec<&str> = part
            .intro
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let preview = part
            .intro
            .lines()
            .next()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .or_else(|| items.first().map(|i| i.title.clone()))
            .unwrap_or_default();
        let ctx = context! {
            lang => lang.to_string(),
            dir => if jarida_content::is_rtl(lang) { "rtl" } else { "ltr" },
            site => site.name(lang).to_string(),
            newsletter => newsletter_name.to_string(),
            subject => part.subject.clone(),
            preview => preview,
            number => number,
            date => date(e.period_end, ar),
            intro => intro.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
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
            .env
            .get_template("newsletter.mjml")
            .and_then(|t| t.render(&ctx))
            .map_err(|e| NewsletterError::Render(format!("newsletter.mjml: {e:#}")))?;
        let text = self
            .env
            .get_template("newsletter.txt")
            .and_then(|t| t.render(&ctx))
            .map_err(|e| NewsletterError::Render(format!("newsletter.txt: {e:#}")))?;
        let html = mjml_to_html(&mjml)?;
        Ok((html, text + "\n"))
    }
}

/// MJML to HTML with no web fonts: mrml would otherwise link Google Fonts for some families.
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

fn date(ts: i64, ar: bool) -> String {
    let Ok(d) = OffsetDateTime::from_unix_timestamp(ts) else {
        return String::new();
    };
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const AR: [&str; 12] = [
        "يناير",
        "فبراير",
        "مارس",
        "أبريل",
        "مايو",
        "يونيو",
        "يوليو",
        "أغسطس",
        "سبتمبر",
        "أكتوبر",
        "نوفمبر",
        "ديسمبر",
    ];
    let m = usize::from(u8::from(d.month())) - 1;
    if ar {
        crate::editions::arabic_digits(&format!("{} {} {}", d.day(), AR[m], d.year()))
    } else {
        format!("{} {} {}", d.day(), EN[m], d.year())
    }
}

/// The few words of the email's frame. They sit with the layout rather than the site's Fluent files
/// because a theme that overrides the layout may reword them through the `labels` it receives.
fn labels(lang: &str) -> HashMap<&'static str, &'static str> {
    let pairs: &[(&str, &str)] = if lang == "ar" {
        &[
            ("web", "اقرأ هذه النشرة في المتصفح"),
            ("number", "العدد"),
            ("featured", "مختارات"),
            ("reports", "تقارير"),
            ("news", "أخبار"),
            ("designs", "تصاميم"),
            ("read", "اقرأ المزيد"),
            ("corrections", "تصحيحات"),
            ("more", "المزيد في نسخة الويب من هذا العدد"),
            ("support", "لا ننشر إعلانات. ادعمنا لنبقى مستقلين"),
            ("why", "وصلتك هذه الرسالة لأنك اشتركت في نشرتنا البريدية."),
            ("manage", "إدارة الاشتراك"),
            ("unsubscribe", "إلغاء الاشتراك"),
        ]
    } else {
        &[
            ("web", "Read this edition in your browser"),
            ("number", "No."),
            ("featured", "Featured"),
            ("reports", "Reports"),
            ("news", "News"),
            ("designs", "Designs"),
            ("read", "Read more"),
            ("corrections", "Corrections"),
            ("more", "More in the web version of this edition"),
            ("support", "We don't run ads. Help us stay independent"),
            (
                "why",
                "You receive this email because you subscribed to our newsletter.",
            ),
            ("manage", "Manage your subscription"),
            ("unsubscribe", "Unsubscribe"),
        ]
    };
    pairs.iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::editions::{CorrectionItem, Item};

    fn edition() -> Edition {
        Edition {
            id: 7,
            newsletter_id: 1,
            newsletter: "main".into(),
            number: 12,
            status: "draft".into(),
            period_start: 1_790_000_000,
            period_end: 1_791_000_000,
            slot_at: None,
            send_at: None,
            created_at: 0,
            started_at: None,
            finished_at: None,
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
            names: vec![
                ("en".into(), "Jarida".into()),
                ("ar".into(), "جريدة".into()),
            ],
        }
    }

    #[test]
    fn renders_rtl_arabic_with_sections_corrections_and_slots() {
        let r = Renderer::new(None).unwrap();
        let part = LangPart {
            lang: "ar".into(),
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
        let r = Renderer::new(None).unwrap();
        let part = LangPart {
            lang: "en".into(),
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
