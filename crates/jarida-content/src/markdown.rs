//! Markdown -> sanitized HTML, and Markdown -> plain text.
//!
//! The HTML goes through ammonia whatever comrak produced, so raw HTML in a post is allowed but
//! nothing executable survives. The plain text is written by hand from comrak's syntax tree: crates
//! that turn HTML into text (html2text and the like) wrap and mark up in their own way, and this text is
//! the text/plain part of every newsletter, so we want its exact shape (numbered link references,
//! underlined headings, `- item` lists) under our control.

use std::collections::HashSet;
use std::sync::LazyLock;

use comrak::nodes::{AstNode, ListType, NodeValue};
use comrak::{Arena, Options};

/// One Markdown body rendered both ways.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub html: String,
    pub text: String,
    pub words: usize,
}

fn options() -> Options<'static> {
    let mut o = Options::default();
    o.extension.strikethrough = true;
    o.extension.table = true;
    o.extension.autolink = true;
    o.extension.tasklist = true;
    o.extension.footnotes = true;
    o.extension.header_id_prefix = Some(String::new());
    o.render.r#unsafe = true; // ammonia is the gate, not comrak
    o
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.add_generic_attributes(["id", "dir", "lang", "class", "aria-hidden", "aria-label"]);
    b.add_generic_attribute_prefixes(["data-footnote"]);
    b.add_tag_attributes("img", ["loading", "width", "height"]);
    b.add_tag_attributes("th", ["align"]);
    b.add_tag_attributes("td", ["align"]);
    b.add_tag_attributes("input", ["type", "checked", "disabled"]);
    b.add_tags(["input", "section"]);
    b.set_tag_attribute_value("input", "disabled", "");
    b.url_schemes(HashSet::from(["http", "https", "mailto", "tel"]));
    b
});

/// Cleans HTML from any source (a post body, an editor's note) down to the allowed subset.
pub fn sanitize(html: &str) -> String {
    SANITIZER.clean(html).to_string()
}

/// Renders a short Markdown text where only Markdown's own marks belong (an edition's intro, read
/// in mail clients): HTML typed into it is shown as text, then the result is sanitized as a body is.
pub fn render_short(md: &str) -> Rendered {
    let mut opts = options();
    opts.render.r#unsafe = false;
    opts.render.escape = true;
    render_with(md, &opts)
}

/// Renders a Markdown body.
pub fn render(md: &str) -> Rendered {
    render_with(md, &options())
}

fn render_with(md: &str, opts: &Options<'_>) -> Rendered {
    // CommonMark replaces NUL with U+FFFD; comrak does so in its HTML but not in the tree our text
    // writer walks, and PostgreSQL refuses NUL in text.
    let cleaned;
    let md = if md.contains('\0') {
        cleaned = md.replace('\0', "\u{FFFD}");
        cleaned.as_str()
    } else {
        md
    };
    let arena = Arena::new();
    let root = comrak::parse_document(&arena, md, opts);
    let mut raw = String::new();
    comrak::format_html(root, opts, &mut raw).expect("writing to a String cannot fail");
    let html = sanitize(&raw);
    let text = TextWriter::render(root);
    let words = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count();
    Rendered { html, text, words }
}

/// URLs of images (not links) in a Markdown body, in order, as written.
pub fn image_urls(md: &str) -> Vec<String> {
    let opts = options();
    let arena = Arena::new();
    let root = comrak::parse_document(&arena, md, &opts);
    root.descendants()
        .filter_map(|n| match &n.data().value {
            NodeValue::Image(l) => Some(l.url.clone()),
            _ => None,
        })
        .collect()
}

pub use jarida_core::text::{WIDTH, wrap};

/// Builds the plain-text rendering block by block.
struct TextWriter {
    out: String,
    links: Vec<String>,
}

impl TextWriter {
    fn render<'a>(root: &'a AstNode<'a>) -> String {
        let mut w = TextWriter {
            out: String::new(),
            links: Vec::new(),
        };
        let mut footnotes = Vec::new();
        for child in root.children() {
            if let NodeValue::FootnoteDefinition(_) = child.data().value {
                footnotes.push(child);
                continue;
            }
            w.block(child, "", "");
        }
        let mut out = w.out.trim_end().to_string();
        if !footnotes.is_empty() {
            out.push_str("\n\nNotes\n-----\n");
            for (i, f) in footnotes.iter().enumerate() {
                let mut inner = TextWriter {
                    out: String::new(),
                    links: std::mem::take(&mut w.links),
                };
                for c in f.children() {
                    inner.block(c, "", "");
                }
                w.links = inner.links;
                let body = inner.out.trim().to_string();
                out.push_str(&format!("\n[^{}] {}\n", i + 1, body));
            }
            out = out.trim_end().to_string();
        }
        if !w.links.is_empty() {
            out.push_str("\n\nLinks\n-----\n");
            for (i, l) in w.links.iter().enumerate() {
                out.push_str(&format!("\n[{}] {}", i + 1, l));
            }
        }
        out.push('\n');
        out
    }

    /// Writes one block. `first` prefixes its first line, `rest` every following line (list bullets
    /// and quote markers nest this way).
    fn block<'a>(&mut self, node: &'a AstNode<'a>, first: &str, rest: &str) {
        let value = node.data().value.clone();
        match value {
            NodeValue::Paragraph => {
                let text = self.inline_children(node);
                self.para(&text, first, rest);
            }
            NodeValue::Heading(h) => {
                let text = self.inline_children(node).trim().to_string();
                let ch = match h.level {
                    1 => '=',
                    2 => '-',
                    _ => '~',
                };
                self.gap();
                let underline: String =
                    std::iter::repeat_n(ch, text.chars().count().clamp(3, WIDTH)).collect();
                self.out
                    .push_str(&format!("{first}{text}\n{rest}{underline}\n\n"));
            }
            NodeValue::List(list) => {
                let mut n = list.start;
                let tight = list.tight;
                let mut first_item = true;
                for item in node.children() {
                    let bullet = match list.list_type {
                        ListType::Bullet => "- ".to_string(),
                        ListType::Ordered => {
                            let b = format!("{n}. ");
                            n += 1;
                            b
                        }
                    };
                    let pad = " ".repeat(bullet.chars().count());
                    let lead = if first_item {
                        format!("{first}{bullet}")
                    } else {
                        format!("{rest}{bullet}")
                    };
                    first_item = false;
                    let cont = format!("{rest}{pad}");
                    let mut first_child = true;
                    let before = self.out.len();
                    for c in item.children() {
                        if first_child {
                            self.block_tight(c, &lead, &cont, tight || !first_child);
                        } else {
                            self.block_tight(c, &cont, &cont, tight);
                        }
                        first_child = false;
                    }
                    if self.out.len() == before {
                        self.out.push_str(lead.trim_end());
                        self.out.push('\n');
                    }
                }
                if !self.out.ends_with("\n\n") {
                    self.out.push('\n');
                }
            }
            NodeValue::BlockQuote | NodeValue::MultilineBlockQuote(_) => {
                for c in node.children() {
                    self.block(c, &format!("{rest}> "), &format!("{rest}> "));
                }
            }
            NodeValue::CodeBlock(cb) => {
                self.gap();
                for line in cb.literal.trim_end_matches('\n').lines() {
                    self.out.push_str(&format!("{rest}    {line}\n"));
                }
                self.out.push('\n');
            }
            NodeValue::ThematicBreak => {
                self.gap();
                self.out.push_str(&format!("{rest}* * *\n\n"));
            }
            NodeValue::Table(_) => {
                self.gap();
                for row in node.children() {
                    let cells: Vec<String> = row
                        .children()
                        .map(|c| self.inline_children(c).trim().to_string())
                        .collect();
                    self.out.push_str(&format!("{rest}{}\n", cells.join(" | ")));
                }
                self.out.push('\n');
            }
            NodeValue::HtmlBlock(_) | NodeValue::FrontMatter(_) => {}
            NodeValue::Item(_) | NodeValue::TaskItem(_) => {
                for c in node.children() {
                    self.block(c, first, rest);
                }
            }
            _ => {
                let text = self.inline_children(node);
                if !text.trim().is_empty() {
                    self.para(&text, first, rest);
                }
            }
        }
    }

    fn block_tight<'a>(&mut self, node: &'a AstNode<'a>, first: &str, rest: &str, tight: bool) {
        self.block(node, first, rest);
        if tight && self.out.ends_with("\n\n") && matches!(node.data().value, NodeValue::Paragraph)
        {
            self.out.pop();
        }
    }

    fn gap(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            if self.out.ends_with('\n') {
                self.out.push('\n');
            } else {
                self.out.push_str("\n\n");
            }
        }
    }

    /// A wrapped paragraph followed by a blank line.
    fn para(&mut self, text: &str, first: &str, rest: &str) {
        self.out.push_str(&wrap(text, first, rest));
        self.out.push('\n');
    }

    fn inline_children<'a>(&mut self, node: &'a AstNode<'a>) -> String {
        let mut s = String::new();
        for c in node.children() {
            self.inline(c, &mut s);
        }
        s
    }

    fn inline<'a>(&mut self, node: &'a AstNode<'a>, s: &mut String) {
        let value = node.data().value.clone();
        match value {
            NodeValue::Text(t) => s.push_str(&t),
            NodeValue::Code(c) => s.push_str(&c.literal),
            NodeValue::SoftBreak => s.push(' '),
            NodeValue::LineBreak => s.push('\n'),
            NodeValue::HtmlInline(_) => {}
            NodeValue::Link(l) => {
                let text = self.inline_children(node);
                let bare = l.url.trim_start_matches("mailto:");
                if text.trim() == l.url || text.trim() == bare || l.url.starts_with('#') {
                    s.push_str(&text);
                } else {
                    s.push_str(&text);
                    let n = match self.links.iter().position(|u| u == &l.url) {
                        Some(i) => i + 1,
                        None => {
                            self.links.push(l.url.clone());
                            self.links.len()
                        }
                    };
                    s.push_str(&format!(" [{n}]"));
                }
            }
            NodeValue::Image(_) => {
                let alt = self.inline_children(node);
                if !alt.trim().is_empty() {
                    s.push_str(&format!("[{}]", alt.trim()));
                }
            }
            NodeValue::FootnoteReference(f) => {
                s.push_str(&format!("[^{}]", f.ix));
            }
            _ => {
                for c in node.children() {
                    self.inline(c, s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_do_not_survive() {
        let md = "Hi <script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[x](javascript:alert(3))\n\n<a href=\"JaVaScRiPt:alert(4)\">y</a>\n\n<iframe src=\"https://evil\"></iframe><svg onload=alert(5)></svg>";
        let r = render(md);
        let h = r.html.to_lowercase();
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("onerror"), "{h}");
        assert!(!h.contains("javascript:"), "{h}");
        assert!(!h.contains("<iframe"), "{h}");
        assert!(!h.contains("onload"), "{h}");
        assert!(h.contains("hi"));
    }

    #[test]
    fn gfm_features_render() {
        let md = "## Key findings\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nText[^n].\n\n[^n]: A note.\n\n> quoted\n";
        let r = render(md);
        assert!(r.html.contains("id=\"key-findings\""), "{}", r.html);
        assert!(r.html.contains("<table>"), "{}", r.html);
        assert!(r.html.contains("data-footnote"), "{}", r.html);
        assert!(r.html.contains("<blockquote>"), "{}", r.html);
    }

    #[test]
    fn plain_text_reads_well() {
        let md = "# Title\n\nSee [the report](https://example.org/r) and [again](https://example.org/r).\n\n## Findings\n\n- one\n- two\n  - nested\n\n1. first\n2. second\n\nVisit <https://example.org>.\n";
        let t = render(md).text;
        assert!(t.starts_with("Title\n=====\n\nSee"), "{t}");
        assert!(t.contains("See the report [1] and again [1]."), "{t}");
        assert!(t.contains("Findings\n--------\n\n- one"), "{t}");
        assert!(t.contains("- one\n- two\n  - nested\n"), "{t}");
        assert!(t.contains("1. first\n2. second\n"), "{t}");
        assert!(t.contains("Visit https://example.org."), "{t}");
        assert!(t.trim_end().ends_with("[1] https://example.org/r"), "{t}");
        assert_eq!(t.matches("[1] https://example.org/r").count(), 1);
    }

    #[test]
    fn long_paragraphs_wrap() {
        let md = "word ".repeat(60);
        let t = render(&md).text;
        assert!(t.lines().all(|l| l.chars().count() <= WIDTH), "{t}");
        assert!(t.lines().count() > 3);
    }

    #[test]
    fn image_urls_are_found() {
        let md = "![chart](img/chart.png) and [a link](x.html) ![b](https://cdn/x.png)";
        assert_eq!(image_urls(md), vec!["img/chart.png", "https://cdn/x.png"]);
    }
}
