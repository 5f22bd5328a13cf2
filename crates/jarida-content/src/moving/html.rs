//! Another platform's post HTML made into this site's Markdown: WordPress's stored form (paragraphs
//! as blank lines, shortcodes, page-builder wrappers) first made into plain HTML, then converted by
//! `htmd` (turndown.js's rules) with our own handling of embeds and captions. What could not be
//! kept is returned as notes for the import's report.

use std::sync::LazyLock;

use htmd::element_handler::{HandlerResult, Handlers};
use htmd::{Element, HtmlToMarkdown};

use crate::Source;

/// A converted body and what a person should look at.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Converted {
    pub markdown: String,
    /// Sources recognized in the body ("Source: [Outlet](url)") and taken out of it.
    pub sources: Vec<Source>,
    pub notes: Vec<String>,
}

fn attr(el: &Element, name: &str) -> Option<String> {
    el.attrs
        .iter()
        .find(|a| &*a.name.local == name)
        .map(|a| a.value.to_string())
}

/// A video platform's player address as the page a reader can open.
fn watch_url(src: &str) -> String {
    let src = if src.starts_with("//") {
        format!("https:{src}")
    } else {
        src.to_string()
    };
    for prefix in [
        "https://www.youtube.com/embed/",
        "https://youtube.com/embed/",
        "https://www.youtube-nocookie.com/embed/",
    ] {
        if let Some(rest) = src.strip_prefix(prefix) {
            let id = rest.split(['?', '/', '&']).next().unwrap_or_default();
            return format!("https://www.youtube.com/watch?v={id}");
        }
    }
    if let Some(rest) = src.strip_prefix("https://player.vimeo.com/video/") {
        let id = rest.split(['?', '/']).next().unwrap_or_default();
        return format!("https://vimeo.com/{id}");
    }
    src
}

fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let h = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    h.strip_prefix("www.").unwrap_or(h)
}

/// An embed as a link with its title, on a paragraph of its own.
fn embed_link(_: &dyn Handlers, el: Element) -> Option<HandlerResult> {
    let src = attr(&el, "src").or_else(|| attr(&el, "data-src"))?;
    if !(src.starts_with("http") || src.starts_with("//")) {
        return Some("".into());
    }
    let url = watch_url(&src);
    let title = attr(&el, "title")
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| {
            let kind = if el.tag == "iframe" {
                "Embedded content"
            } else {
                "Media"
            };
            format!("{kind} from {}", host(&url))
        });
    Some(format!("\n\n[{}]({url})\n\n", title.trim().replace(['[', ']'], "")).into())
}

/// A caption in italics below its image.
fn caption(handlers: &dyn Handlers, el: Element) -> Option<HandlerResult> {
    let inner = handlers.walk_children(el.node).content;
    let t = inner.trim();
    if t.is_empty() {
        return Some("".into());
    }
    Some(format!("\n\n*{t}*\n\n").into())
}

static CONVERTER: LazyLock<HtmlToMarkdown> = LazyLock::new(|| {
    HtmlToMarkdown::builder()
        .options(htmd::options::Options {
            // A backslash survives the trimming of trailing spaces that two spaces would not.
            br_style: htmd::options::BrStyle::Backslash,
            ..Default::default()
        })
        .skip_tags(vec![
            "script", "style", "noscript", "form", "button", "input", "select", "textarea",
        ])
        .add_handler(vec!["iframe", "video", "audio", "embed"], embed_link)
        .add_handler(vec!["figcaption"], caption)
        .build()
});

/// Converts a post's HTML (already past [`wordpress_html`] for WordPress) to Markdown.
pub fn to_markdown(html: &str) -> Converted {
    let mut notes = Vec::new();
    let lower = html.to_ascii_lowercase();
    let embeds = lower.matches("<iframe").count()
        + lower.matches("<video").count()
        + lower.matches("<audio").count()
        + lower.matches("<embed").count();
    if embeds > 0 {
        notes.push(format!("{embeds} embedded player(s) became links"));
    }
    if lower.contains("<script") {
        notes.push("scripts removed (embedded widgets)".into());
    }
    if lower.contains("<form") {
        notes.push("a form was removed".into());
    }
    let md = CONVERTER.convert(html).unwrap_or_else(|e| {
        notes.push(format!("the HTML could not be read ({e}); kept as text"));
        html.to_string()
    });
    let (markdown, sources) = take_sources(&md);
    Converted {
        markdown: tidy(&markdown),
        sources,
        notes,
    }
}

/// At most one blank line between blocks, no trailing spaces, one final newline.
fn tidy(md: &str) -> String {
    let mut out = String::with_capacity(md.len() + 1);
    let mut blank = 0;
    for line in md.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() && blank > 0 {
            out.push('\n');
        }
        blank = 0;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Labels newsrooms put before the outlets a story builds on.
const SOURCE_LABELS: &[&str] = &[
    "source",
    "sources",
    "via",
    "المصدر",
    "المصادر",
    "مصدر",
    "نقلا عن",
    "نقلاً عن",
];

/// Takes out paragraphs that name the story's sources ("Source: [Outlet](url)", "المصدر: …") and
/// returns them as sources: the site shows sources in their own box.
fn take_sources(md: &str) -> (String, Vec<Source>) {
    let mut sources = Vec::new();
    let mut kept = Vec::new();
    for para in md.split("\n\n") {
        match source_paragraph(para) {
            Some(found) if !found.is_empty() => sources.extend(found),
            _ => kept.push(para),
        }
    }
    (kept.join("\n\n"), sources)
}

fn source_paragraph(para: &str) -> Option<Vec<Source>> {
    let p = para.trim().trim_start_matches(['*', '_']).trim_start();
    let (label, rest) = p.split_once([':', '：'])?;
    let label = label
        .trim()
        .trim_end_matches(['*', '_'])
        .trim()
        .to_lowercase();
    if !SOURCE_LABELS.contains(&label.as_str()) {
        return None;
    }
    let mut out = Vec::new();
    let mut s = rest;
    while let Some(open) = s.find('[') {
        let after = &s[open + 1..];
        let Some(close) = after.find("](") else { break };
        let text = &after[..close];
        let tail = &after[close + 2..];
        let Some(end) = tail.find(')') else { break };
        let url = tail[..end].split_whitespace().next().unwrap_or_default();
        if url.starts_with("http") {
            let text = text.trim();
            out.push(Source {
                publisher: if text.is_empty() {
                    host(url).to_string()
                } else {
                    text.to_string()
                },
                authors: String::new(),
                title: String::new(),
                url: url.to_string(),
                date: None,
            });
        }
        s = &tail[end + 1..];
    }
    Some(out)
}

/// Block-level tags: a WordPress paragraph that starts with one is not wrapped in `<p>`.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "iframe",
    "li",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
    "script",
    "style",
    "video",
    "audio",
];

fn starts_block(s: &str) -> bool {
    let s = s.trim_start();
    let Some(rest) = s.strip_prefix('<') else {
        return false;
    };
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    BLOCK_TAGS.contains(&name.as_str()) || s.starts_with("<!--")
}

/// WordPress's stored post as the HTML it would show: classic-editor posts keep paragraphs as blank
/// lines (WordPress's `wpautop` adds the `<p>` when it shows them), and shortcodes are expanded or
/// removed. Block-editor posts (with `<!-- wp:` comments) already carry their `<p>`.
pub fn wordpress_html(content: &str, notes: &mut Vec<String>) -> String {
    let content = shortcodes(content, notes);
    if content.contains("<!-- wp:") || content.contains("<p>") || content.contains("<p ") {
        return content;
    }
    autop(&content)
}

/// WordPress's `wpautop`, in the part that matters for conversion: blank-line-separated text
/// becomes paragraphs, single line breaks inside them `<br>`.
fn autop(content: &str) -> String {
    let normalized = content.replace("\r\n", "\n");
    let mut out = String::with_capacity(normalized.len() + 64);
    for block in normalized.split("\n\n") {
        let b = block.trim();
        if b.is_empty() {
            continue;
        }
        if starts_block(b) {
            out.push_str(b);
        } else {
            out.push_str("<p>");
            out.push_str(&b.replace('\n', "<br>"));
            out.push_str("</p>");
        }
        out.push_str("\n\n");
    }
    out
}

/// Shortcodes known to wrap content that should stay (their tags go, the inside stays).
const WRAPPERS: &[&str] = &[
    "column",
    "columns",
    "one_half",
    "one_third",
    "row",
    "section",
];
/// Page builders' shortcode prefixes (WPBakery, Divi, Avada, Enfold, Cornerstone, Shortcodes
/// Ultimate): their tags are layout, never content.
const BUILDER_PREFIXES: &[&str] = &["vc_", "et_pb_", "fusion_", "av_", "cs_", "su_", "tatsu_"];
/// Shortcodes removed with what they hold (forms, galleries built by a plugin at display time).
const DROPPED: &[&str] = &[
    "gallery",
    "contact-form-7",
    "contact-form",
    "wpforms",
    "ninja_form",
    "gravityform",
    "playlist",
    "mc4wp_form",
];

fn shortcode_name(inner: &str) -> Option<&str> {
    let inner = inner.strip_prefix('/').unwrap_or(inner);
    let end = inner
        .find(|c: char| c.is_whitespace() || c == ']' || c == '/')
        .unwrap_or(inner.len());
    let name = &inner[..end];
    let ok = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then_some(name)
}

fn is_shortcode(name: &str) -> bool {
    matches!(name, "caption" | "wp_caption" | "embed" | "video" | "audio")
        || WRAPPERS.contains(&name)
        || DROPPED.contains(&name)
        || BUILDER_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The value of `key="…"` (or `key='…'`, or bare) in a shortcode's attributes.
fn sc_attr(attrs: &str, key: &str) -> Option<String> {
    let mut s = attrs;
    while let Some(i) = s.find(key) {
        let before_ok = i == 0 || s.as_bytes()[i - 1].is_ascii_whitespace();
        let rest = &s[i + key.len()..];
        if before_ok && let Some(v) = rest.strip_prefix('=') {
            return Some(match v.chars().next() {
                Some(q @ ('"' | '\'')) => v[1..].split(q).next().unwrap_or_default().to_string(),
                _ => v
                    .split(|c: char| c.is_whitespace() || c == ']')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        s = rest;
    }
    None
}

/// Expands the shortcodes a post body can be read without: `[caption]` becomes a figure with its
/// caption, `[embed]`/`[video]`/`[audio]` a link; page-builder and layout wrappers are removed
/// with their content kept; forms and plugin galleries are removed. Anything else in square
/// brackets is text ("[1]", "[sic]") and stays. Each removal is noted.
fn shortcodes(content: &str, notes: &mut Vec<String>) -> String {
    if !content.contains('[') {
        return content.to_string();
    }
    let mut out = String::with_capacity(content.len());
    let mut removed: std::collections::BTreeMap<String, usize> = Default::default();
    let mut rest = content;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let inner = &after[..close];
        let name = match shortcode_name(inner) {
            Some(n) if is_shortcode(n) => n,
            _ => {
                out.push('[');
                rest = after;
                continue;
            }
        };
        let tail = &after[close + 1..];
        let closing = inner.starts_with('/');
        if closing {
            // A stray closing tag of a wrapper: dropped.
            rest = tail;
            continue;
        }
        let end_tag = format!("[/{name}]");
        let (body, next) = match tail.find(&end_tag) {
            Some(e) => (&tail[..e], &tail[e + end_tag.len()..]),
            None => ("", tail),
        };
        let attrs = &inner[name.len()..];
        match name {
            "caption" | "wp_caption" => {
                // The image (possibly in a link) comes first, then the caption text.
                let split = body.rfind('>').map_or(0, |i| i + 1);
                let (img, text) = body.split_at(split);
                let text = sc_attr(attrs, "caption").unwrap_or_else(|| text.trim().to_string());
                out.push_str(&format!(
                    "\n\n<figure>{img}<figcaption>{text}</figcaption></figure>\n\n"
                ));
            }
            "embed" | "video" | "audio" => {
                let url = if body.trim().is_empty() {
                    sc_attr(attrs, "src")
                        .or_else(|| sc_attr(attrs, "mp4"))
                        .or_else(|| sc_attr(attrs, "mp3"))
                        .unwrap_or_default()
                } else {
                    body.trim().to_string()
                };
                if url.starts_with("http") {
                    out.push_str(&format!(
                        "\n\n<p><a href=\"{url}\">{}</a></p>\n\n",
                        host(&url)
                    ));
                }
                *removed.entry(format!("[{name}] (now a link)")).or_default() += 1;
            }
            n if DROPPED.contains(&n) => {
                *removed.entry(format!("[{n}]")).or_default() += 1;
            }
            n => {
                // A wrapper: its content stays, converted the same way.
                let kept = shortcodes(body, notes);
                out.push_str(&kept);
                *removed.entry(format!("[{n}]")).or_default() += 1;
            }
        }
        rest = next;
    }
    out.push_str(rest);
    for (name, n) in removed {
        notes.push(format!("shortcode {name} removed {n} time(s)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(html: &str) -> Converted {
        let mut notes = Vec::new();
        let mut c = to_markdown(&wordpress_html(html, &mut notes));
        notes.extend(c.notes);
        c.notes = notes;
        c
    }

    #[test]
    fn classic_paragraphs_headings_lists_and_links() {
        let c = md(
            "First line\nsecond line\n\nA <strong>bold</strong> and <em>emphasis</em> with a <a href=\"https://example.org/x\">link</a>.\n\n<h2>Section</h2>\n\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n\n<blockquote>Said.</blockquote>",
        );
        assert_eq!(
            c.markdown,
            "First line\\\nsecond line\n\nA **bold** and *emphasis* with a [link](https://example.org/x).\n\n## Section\n\n*   one\n*   two\n\n> Said.\n"
        );
    }

    #[test]
    fn captions_embeds_and_shortcodes() {
        let c = md(
            "[caption id=\"attachment_5\" align=\"aligncenter\" width=\"800\"]<img src=\"https://old.example/wp-content/uploads/2024/05/well.jpg\" alt=\"A well\" /> The last well[/caption]\n\n[vc_row][vc_column]Inside the builder[/vc_column][/vc_row]\n\n[contact-form-7 id=\"12\" title=\"Contact\"]\n\nSee [1] and [sic].\n\n<iframe src=\"https://www.youtube.com/embed/abc123?feature=oembed\" title=\"The film\"></iframe>",
        );
        assert!(
            c.markdown
                .contains("![A well](https://old.example/wp-content/uploads/2024/05/well.jpg)"),
            "{}",
            c.markdown
        );
        assert!(c.markdown.contains("*The last well*"), "{}", c.markdown);
        assert!(c.markdown.contains("Inside the builder"));
        assert!(!c.markdown.contains("vc_"));
        assert!(!c.markdown.contains("contact-form"));
        assert!(
            c.markdown.contains("See \\[1\\] and \\[sic\\]."),
            "{}",
            c.markdown
        );
        assert!(
            c.markdown
                .contains("[The film](https://www.youtube.com/watch?v=abc123)"),
            "{}",
            c.markdown
        );
        let notes = c.notes.join("; ");
        assert!(notes.contains("[vc_row]"), "{notes}");
        assert!(notes.contains("[contact-form-7]"), "{notes}");
        assert!(notes.contains("embedded player"), "{notes}");
    }

    #[test]
    fn arabic_text_and_tables_come_through() {
        let c = md(
            "<!-- wp:paragraph -->\n<p dir=\"rtl\">أزمة المياه في <strong>غزة</strong></p>\n<!-- /wp:paragraph -->\n<table><thead><tr><th>السنة</th><th>لتر</th></tr></thead><tbody><tr><td>2024</td><td>82</td></tr></tbody></table>",
        );
        assert!(
            c.markdown.contains("أزمة المياه في **غزة**"),
            "{}",
            c.markdown
        );
        assert!(c.markdown.contains("| السنة | لتر |"), "{}", c.markdown);
        assert!(c.markdown.contains("| 2024  | 82  |"), "{}", c.markdown);
    }

    #[test]
    fn source_lines_become_sources() {
        let c = md(
            "<p>The story.</p><p><strong>Source:</strong> <a href=\"https://outlet.example/story\">The Outlet</a></p><p>المصدر: <a href=\"https://arab.example/x\">الجزيرة</a></p>",
        );
        assert_eq!(c.markdown, "The story.\n");
        assert_eq!(c.sources.len(), 2, "{:?}", c.sources);
        assert_eq!(c.sources[0].publisher, "The Outlet");
        assert_eq!(c.sources[0].url, "https://outlet.example/story");
        assert_eq!(c.sources[1].publisher, "الجزيرة");
    }
}
