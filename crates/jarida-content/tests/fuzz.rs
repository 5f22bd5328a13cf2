//! Property tests over the content parsers that take outside input: front matter, Markdown, and
//! the paths a post names. No input may panic; what is accepted keeps its invariants.
//! `scripts/fuzz` runs them with a million cases each; CI with proptest's default.

use std::path::{Component, Path};

use jarida_content::confined::Confined;
use jarida_content::{frontmatter, markdown};
use proptest::prelude::*;

/// The attributes of an HTML tag (the text after `<`), values unquoted: quoted text is skipped over,
/// so an escaped `onerror=` inside a value is not taken for an attribute.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = tag.chars().peekable();
    // The tag name.
    while chars
        .peek()
        .is_some_and(|c| !c.is_whitespace() && *c != '>')
    {
        chars.next();
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == '/') {
            chars.next();
        }
        match chars.peek() {
            None | Some('>') => return out,
            _ => {}
        }
        let mut name = String::new();
        while let Some(c) = chars.peek().copied() {
            if c.is_whitespace() || c == '=' || c == '>' {
                break;
            }
            name.push(c);
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            match chars.peek().copied() {
                Some(q @ ('"' | '\'')) => {
                    chars.next();
                    for c in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        value.push(c);
                    }
                }
                _ => {
                    while let Some(c) = chars.peek().copied() {
                        if c.is_whitespace() || c == '>' {
                            break;
                        }
                        value.push(c);
                        chars.next();
                    }
                }
            }
        }
        if name.is_empty() {
            chars.next();
        }
        out.push((name, value));
    }
}

fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-01 00:00 UTC)
}

/// Front matter built from plausible keys and values, broken in random places.
fn front_matter() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("title"),
        Just("date"),
        Just("kind"),
        Just("lang"),
        Just("slug"),
        Just("tags"),
        Just("authors"),
        Just("summary"),
        Just("featured"),
        Just("draft"),
        Just("cover"),
        Just("translation_key"),
        Just("updated"),
        Just("cover_alt"),
        Just("nonsense"),
    ];
    let value = prop_oneof![
        "\"[^\"\\\\]{0,30}\"",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)?",
        Just("true".to_string()),
        Just("[\"a\", \"b\"]".to_string()),
        Just("{ x = 1 }".to_string()),
        ".{0,20}",
    ];
    let line = (key, value).prop_map(|(k, v)| format!("{k} = {v}\n"));
    let sources = prop_oneof![
        Just(String::new()),
        Just("[[sources]]\npublisher = \"Reuters\"\n".to_string()),
        Just(
            "[[sources]]\npublisher = \"X\"\nurl = \"ftp://x\"\ndate = \"yesterday\"\n".to_string()
        ),
        Just("[[corrections]]\ndate = 2026-10-03T10:00:00Z\nnote = \"n\"\n".to_string()),
        Just("sources = 3\n".to_string()),
    ];
    let yaml = prop::collection::vec(
        ("[a-z_]{1,10}", ".{0,20}").prop_map(|(k, v)| format!("{k}: {v}\n")),
        0..8,
    )
    .prop_map(|l| format!("---\n{}---\nbody\n", l.concat()));
    let toml = (prop::collection::vec(line, 0..10), sources, ".{0,200}")
        .prop_map(|(l, s, body)| format!("+++\n{}{s}+++\n{body}", l.concat()));
    prop_oneof![toml, yaml, ".{0,300}"]
}

fn markdown_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("# ".to_string()),
        Just("\n\n".to_string()),
        Just("* ".to_string()),
        Just("1. ".to_string()),
        Just("> ".to_string()),
        Just("```\n".to_string()),
        Just("| a | b |\n|---|---|\n".to_string()),
        Just("[^1]".to_string()),
        Just("[^1]: note\n".to_string()),
        Just("![alt](img.png \"t\")".to_string()),
        Just("[link](javascript:alert(1))".to_string()),
        Just("<script>x</script>".to_string()),
        Just("<img src=x onerror=alert(1)>".to_string()),
        Just("**".to_string()),
        Just("_".to_string()),
        Just("مرحبا بالعالم".to_string()),
        Just("\u{200f}".to_string()),
        "[ -~]{0,20}",
        ".{0,10}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_front_matter(text in front_matter()) {
        if let Ok(parsed) = frontmatter::parse(&text, Path::new("post.en.md"), now()) {
            let p = parsed.post;
            prop_assert!(!p.title.trim().is_empty(), "a post has a title");
            prop_assert!(p.lang == "en" || p.lang == "ar");
            prop_assert!(!p.slug.is_empty() && !p.slug.contains('/'));
            for s in &p.sources {
                prop_assert!(s.url.is_empty() || s.url.starts_with("http"));
            }
            prop_assert!(!p.body_md.contains('\0') && !p.title.contains('\0'));
        }
    }

    #[test]
    fn fuzz_markdown(md in markdown_like()) {
        let r = markdown::render(&md);
        // Text is escaped, so every `<` opens a real tag: none may run script.
        for tag in r.html.to_ascii_lowercase().split('<').skip(1) {
            prop_assert!(!tag.starts_with("script"), "{}", r.html);
            for (name, value) in attributes(tag) {
                prop_assert!(!name.starts_with("on"), "an event handler: {}", r.html);
                prop_assert!(!value.trim().starts_with("javascript:"), "{}", r.html);
            }
        }
        // PostgreSQL refuses NUL in text: none may come out.
        prop_assert!(!r.text.contains('\0') && !r.html.contains('\0'));
        let _ = markdown::image_urls(&md);
    }

    #[test]
    fn fuzz_referenced_paths(reference in prop_oneof![
        "[./a-z%2F.]{0,30}",
        "(\\.\\./|%2e%2e/|%2E%2E%2F|/|~|\\\\|%00){0,4}[a-z]{0,5}\\.png",
        ".{0,40}",
    ], from in "([a-z]{1,3}/){0,3}") {
        let dir = tempfile::tempdir().unwrap();
        let c = Confined::new(dir.path()).unwrap();
        if let Ok(rel) = c.resolve(Path::new(&from), &reference) {
            // A resolved path only ever goes down from the root.
            prop_assert!(rel.components().all(|c| matches!(c, Component::Normal(_))), "{rel:?}");
            prop_assert!(c.root().join(&rel).starts_with(c.root()));
        }
    }
}
