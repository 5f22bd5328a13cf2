//! The bounce classifier over the corpus in `tests/fixtures/bounces/` (DSNs in the styles of
//! Postfix, Exim, Sendmail, Gmail, Microsoft 365, Yahoo and Amazon SES; ARF reports; auto-replies;
//! report-less bounces; malformed messages), each with its expected verdict in `expected.toml`,
//! and a property test that no input makes it panic.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use jarida_mail::bounce::{Kind, Token, classify};
use proptest::prelude::*;

const VERP: &str = "b+12-345-0123456789abcdef@bounces.example.org";
const MSGID: &str = "e12.s345.a1b2c3d4e5f6@example.org";

#[derive(serde::Deserialize)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    file: String,
    kind: String,
    recipient: String,
    status: String,
    verp: bool,
    message_id: bool,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces")
}

/// The fixture with its placeholders replaced, byte for byte elsewhere (some are not UTF-8).
fn load(file: &str) -> Vec<u8> {
    let raw = std::fs::read(dir().join(file)).unwrap();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(b"%VERP%") {
            out.extend_from_slice(VERP.as_bytes());
            i += 6;
        } else if raw[i..].starts_with(b"%MSGID%") {
            out.extend_from_slice(MSGID.as_bytes());
            i += 7;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn every_message_of_the_corpus_gets_its_verdict() {
    let m: Manifest =
        toml::from_str(&std::fs::read_to_string(dir().join("expected.toml")).unwrap()).unwrap();
    assert!(m.case.len() >= 40, "the corpus is whole");
    let mut wrong = Vec::new();
    for c in &m.case {
        let r = classify(&load(&c.file));
        let got_verp = r.tokens.iter().any(|t| {
            matches!(t, Token::Verp { edition: 12, subscriber: 345, signature } if signature == "0123456789abcdef")
        });
        let got_id = r.tokens.iter().any(|t| {
            matches!(t, Token::MessageId { edition: 12, subscriber: 345, signature } if signature == "a1b2c3d4e5f6")
        });
        let seen = (
            r.kind.as_str().to_string(),
            r.recipient.clone().unwrap_or_default(),
            r.status.clone().unwrap_or_default(),
            got_verp,
            got_id,
        );
        let want = (
            c.kind.clone(),
            if matches!(c.kind.as_str(), "unknown" | "auto_reply") {
                seen.1.clone()
            } else {
                c.recipient.clone()
            },
            if matches!(c.kind.as_str(), "unknown" | "auto_reply") {
                seen.2.clone()
            } else {
                c.status.clone()
            },
            c.verp,
            c.message_id,
        );
        if seen != want {
            wrong.push(format!("{}: got {seen:?}, want {want:?}", c.file));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {}:\n{}",
        wrong.len(),
        m.case.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_file_of_the_corpus_is_in_the_manifest() {
    let text = std::fs::read_to_string(dir().join("expected.toml")).unwrap();
    for e in std::fs::read_dir(dir()).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".eml") {
            assert!(
                text.contains(&format!("\"{name}\"")),
                "{name} has no verdict"
            );
        }
    }
}

#[test]
fn a_report_is_read_only_so_far() {
    // A report followed by megabytes: the verdict comes from the first part, in bounded time.
    let mut raw = load("postfix-user-unknown.eml");
    raw.extend(std::iter::repeat_n(b'x', 8 * 1024 * 1024));
    let r = classify(&raw);
    assert_eq!(r.kind, Kind::Hard);
}

/// Random bytes, and corpus messages cut, spliced and with bytes flipped.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..4096),
        (
            proptest::sample::select(files),
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(f, cut, at, noise)| {
                let mut b = load(&f);
                let n = cut.index(b.len() + 1);
                b.truncate(n.max(1));
                let at = at.index(b.len() + 1);
                b.splice(at..at, noise);
                b
            }),
    ]
}

proptest! {
    #[test]
    fn fuzz_bounce_messages(raw in mutated()) {
        let r = classify(&raw);
        prop_assert!(r.diagnostic.chars().count() <= 300);
        prop_assert!(r.tokens.len() <= 16);
    }
}
