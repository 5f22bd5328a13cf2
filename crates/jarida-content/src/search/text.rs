//! Words as the search index and the query both see them: split, normalized and stemmed the same
//! way on both sides, so a reader's spelling meets the writer's.
//!
//! Arabic is written many ways for one word: with or without diacritics (tashkeel) and tatweel,
//! with any alef form (أ إ آ ٱ ا), ta marbuta or ha (ة / ه), alef maqsura or ya (ى / ي), Arabic-Indic
//! or Persian digits, and with prefixes attached (و ف ب ك ل and ال). Normalization folds the
//! spellings; light stemming (in the manner of Larkey's light10, which no maintained crate
//! implements) takes off the attached prefixes and the common suffixes of sound plurals, duals and
//! pronouns. Broken plurals (تقرير / تقارير) are different words to it. English goes through the
//! Snowball English stemmer (`rust-stemmers`). Other scripts are lower-cased only.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Changes whenever what `terms` returns for some text changes: the index is rebuilt when the
/// stored version differs.
pub const VERSION: i64 = 2;

fn is_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0621}'..='\u{064A}' | '\u{0671}'..='\u{06D3}' | '\u{06FA}'..='\u{06FF}')
}

/// Marks and fillers that change no word: tashkeel, the superscript alef, Quranic marks, tatweel,
/// and invisible direction and joining controls.
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}' | '\u{0640}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        | '\u{00AD}')
}

/// One character as the index keeps it; `None` to drop it.
fn fold(c: char) -> Option<char> {
    if is_ignorable(c) {
        return None;
    }
    Some(match c {
        'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
        'ة' => 'ه',
        'ى' => 'ي',
        'ؤ' => 'و',
        'ئ' => 'ي',
        'ک' => 'ك',
        'ی' | 'ې' => 'ي',
        '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
        '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
        _ => return Some(c),
    })
}

/// Whether a character belongs to a word (letters of any script, digits, marks inside words).
fn in_word(c: char) -> bool {
    c.is_alphanumeric() || is_ignorable(c) && !c.is_whitespace()
}

/// A word of a text: where it is (bytes) and its term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub term: String,
}

/// The words of `text` with their place, each normalized and stemmed.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let inside = in_word(c) || (c == '\'' || c == '’') && start.is_some();
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                push_word(&mut out, text, s, i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        push_word(&mut out, text, s, text.len());
    }
    out
}

/// Where the words of `text` are, as [`tokens`] finds them, without stemming them: the same
/// words in the same order as [`terms`] (a word is kept when its folded form is not empty, and
/// stemming never empties a word).
pub fn spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    let keep = |s: usize, e: usize, out: &mut Vec<(usize, usize)>| {
        if !normalize(text[s..e].trim_end_matches(['\'', '’'])).is_empty() {
            out.push((s, e));
        }
    };
    for (i, c) in text.char_indices() {
        let inside = in_word(c) || (c == '\'' || c == '’') && start.is_some();
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                keep(s, i, &mut out);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        keep(s, text.len(), &mut out);
    }
    out
}

fn push_word(out: &mut Vec<Token>, text: &str, start: usize, end: usize) {
    let word = &text[start..end];
    let term = term_of(word.trim_end_matches(['\'', '’']));
    if !term.is_empty() {
        out.push(Token { start, end, term });
    }
}

/// The terms of a text, in order (what the index stores, space-separated).
pub fn terms(text: &str) -> Vec<String> {
    tokens(text).into_iter().map(|t| t.term).collect()
}

/// The folded form of one word, before stemming: lower case, Arabic spellings folded.
pub fn normalize(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if let Some(f) = fold(c) {
            out.extend(f.to_lowercase());
        }
    }
    // English possessives ("gaza's") are the word itself.
    if let Some(stripped) = out.strip_suffix("'s").or_else(|| out.strip_suffix("’s")) {
        out.truncate(stripped.len());
    }
    out.retain(|c| c != '\'' && c != '’');
    out
}

/// The term of one word: normalized, then stemmed by its script.
pub fn term_of(word: &str) -> String {
    let n = normalize(word);
    if n.chars().any(is_arabic_letter) {
        arabic_stem(&n)
    } else if n.chars().all(|c| c.is_ascii_alphanumeric())
        && n.chars().any(|c| c.is_ascii_alphabetic())
    {
        ENGLISH.stem(&singular(&n)).into_owned()
    } else {
        n
    }
}

/// English plurals Snowball leaves apart from their singular (it stems, it does not know words):
/// the common irregular endings, so "midwives" meets "midwife" and "fishermen" "fisherman".
const IRREGULAR: &[(&str, &str)] = &[
    ("wives", "wife"),
    ("knives", "knife"),
    ("lives", "life"),
    ("leaves", "leaf"),
    ("halves", "half"),
    ("selves", "self"),
    ("children", "child"),
    ("women", "woman"),
    ("men", "man"),
    ("people", "person"),
    ("teeth", "tooth"),
    ("feet", "foot"),
    ("mice", "mouse"),
];

fn singular(word: &str) -> std::borrow::Cow<'_, str> {
    for (plural, one) in IRREGULAR {
        if let Some(stem) = word.strip_suffix(plural)
            // "omen", "amen", "specimen": a whole word or a compound's end, not any "-men".
            && (stem.is_empty() || *plural != "men" || stem.len() >= 3)
        {
            return format!("{stem}{one}").into();
        }
    }
    word.into()
}

/// Prefixes taken off an Arabic word, longest first (after folding: the article with the
/// conjunctions and prepositions written onto it).
const AR_PREFIXES: &[&str] = &["وال", "فال", "بال", "كال", "لل", "ال"];
/// Suffixes taken off, longest first: duals, sound plurals, pronouns, the nisba and the folded
/// ta marbuta.
const AR_SUFFIXES: &[&str] = &[
    "هما", "كم", "هم", "هن", "ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي",
];

/// Light stemming of a folded Arabic word. Words of three letters are left alone.
pub fn arabic_stem(word: &str) -> String {
    let len = |s: &str| s.chars().count();
    let mut w: &str = word;
    // A leading و (and) on a longer word, as light10 does.
    if len(w) > 3 && w.starts_with('و') && !w.starts_with("وال") {
        w = &w['و'.len_utf8()..];
    }
    let mut article = false;
    for p in AR_PREFIXES {
        if let Some(rest) = w.strip_prefix(p)
            && len(rest) >= 2
        {
            w = rest;
            article = true;
            break;
        }
    }
    // A single preposition written onto a word (ب ل ك ف), without the article: only on words of
    // four letters or more, so three letters always stay.
    if !article && len(w) >= 4 {
        for p in ['ب', 'ل', 'ك', 'ف'] {
            if let Some(rest) = w.strip_prefix(p) {
                w = rest;
                break;
            }
        }
    }
    // Each suffix of the list in turn, as light10 does: "مستشفيات" loses ات, then ي.
    for s in AR_SUFFIXES {
        if len(w) > 3
            && let Some(rest) = w.strip_suffix(s)
            && len(rest) >= 2
        {
            w = rest;
        }
    }
    w.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> String {
        terms(s).join(" ")
    }

    #[test]
    fn arabic_spellings_meet() {
        // Diacritics and tatweel.
        assert_eq!(t("غَزَّة"), t("غزة"));
        assert_eq!(t("غـــزة"), t("غزة"));
        // Alef forms.
        assert_eq!(t("أزمة"), t("ازمة"));
        assert_eq!(t("إسرائيل"), t("اسرائيل"));
        assert_eq!(t("آبار"), t("ابار"));
        // Ta marbuta and ha, alef maqsura and ya.
        assert_eq!(t("غزه"), t("غزة"));
        assert_eq!(t("مستشفى"), t("مستشفي"));
        // The article and attached prepositions and conjunctions.
        assert_eq!(t("المياه"), t("مياه"));
        assert_eq!(t("والمياه"), t("مياه"));
        assert_eq!(t("بالمياه"), t("مياه"));
        assert_eq!(t("للمياه"), t("مياه"));
        assert_eq!(t("وغزة"), t("غزة"));
        assert_eq!(t("بغزة"), t("غزة"));
        assert_eq!(t("لغزة"), t("غزة"));
        // Sound plurals and duals.
        assert_eq!(t("المستشفيات"), t("مستشفى"));
        assert_eq!(t("المهندسون"), t("مهندس"));
        assert_eq!(t("المهندسين"), t("مهندس"));
        // Digits.
        assert_eq!(t("٢٠٢٤"), "2024");
        assert_eq!(t("۲۰۲۴"), "2024");
        // Short words are left whole.
        assert_eq!(t("بيت"), "بيت");
    }

    #[test]
    fn english_words_are_stemmed() {
        assert_eq!(t("Hospitals"), t("hospital"));
        assert_eq!(t("flooding floods"), t("flood flood"));
        assert_eq!(t("Gaza's"), t("Gaza"));
        assert_eq!(t("don't"), "dont");
        assert_eq!(t("fishermen"), t("fisherman"));
        assert_eq!(t("Midwives"), t("midwife"));
        assert_eq!(t("children"), t("child"));
        assert_eq!(t("omen"), "omen");
    }

    #[test]
    fn tokens_keep_their_place() {
        let text = "Water, الْمِيَاه!";
        let toks = tokens(text);
        assert_eq!(toks.len(), 2);
        assert_eq!(&text[toks[0].start..toks[0].end], "Water");
        assert_eq!(&text[toks[1].start..toks[1].end], "الْمِيَاه");
        assert_eq!(toks[1].term, t("مياه"));
        assert!(tokens("... !!! ،؛").is_empty());
    }
}
