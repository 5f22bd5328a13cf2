//! What spam filters make of an edition: Debian's SpamAssassin with its local rules only
//! (`spamassassin -L -t`, no network tests) scores a standard edition in English and in Arabic,
//! as it arrives at a relay, at 0 or below.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::editions::*;
use common::*;

/// The score SpamAssassin gives `raw`, and the rules that fired.
fn score(raw: &[u8]) -> (f64, String) {
    let mut child = std::process::Command::new("spamassassin")
        .args(["-L", "-t"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spamassassin runs (scripts/test installs Debian's spamassassin)");
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let status = text
        .lines()
        .find(|l| l.starts_with("X-Spam-Status:"))
        .unwrap_or_else(|| panic!("no X-Spam-Status in:\n{text}"));
    let score: f64 = status
        .split("score=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let rules = text
        .split("Content analysis details")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (score, rules)
}

#[test]
fn an_edition_scores_nothing_with_spamassassins_local_rules() {
    let sink = Sink::start(&[]);
    let app = app_with(|c| use_sink(c, &sink));
    let eng = engine(&app);
    add_readers(
        &app,
        &[("lina@example.com", "en"), ("omar@example.com", "ar")],
    );
    let id = compose(&app, &eng, "2026-10-15T09:00:00Z");
    send(&app, &eng, id, Duration::from_secs(30));
    let msgs = sink.messages();
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        let html = m.html();
        assert!(html.contains("display:none"), "the preview line is there");
        let (score, rules) = score(&m.raw);
        assert!(score <= 0.0, "{}: {score}{rules}", m.rcpt);
    }
}
