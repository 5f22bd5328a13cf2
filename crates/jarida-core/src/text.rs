//! Text as both scripts print it: digits and plain-text wrapping, used by the site and by email.

crate::text_enum! {
    /// How the interface writes numbers in one language: a site setting per language, applied to
    /// every number the interface prints (dates, counts, page numbers, edition numbers, the year).
    /// Numbers inside what authors wrote are theirs and stay as written.
    pub enum Digits {
        /// 0123456789
        Western = "western",
        /// ٠١٢٣٤٥٦٧٨٩, as Arabic newspapers print them.
        ArabicIndic = "arabic-indic",
    }
}

impl Digits {
    /// `s` with its ASCII digits written this way.
    pub fn apply(self, s: &str) -> String {
        match self {
            Digits::Western => s.to_string(),
            Digits::ArabicIndic => arabic_digits(s),
        }
    }
}

/// `s` with its ASCII digits as Arabic-Indic ones, as Arabic newspapers print them.
pub fn arabic_digits(s: &str) -> String {
    s.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0x0660 + d).unwrap_or(c),
            None => c,
        })
        .collect()
}

/// Columns of plain text (emails, `.txt` articles).
pub const WIDTH: usize = 72;

/// Wraps text at 72 columns, keeping its hard line breaks: `first` prefixes the first line and `rest`
/// every other (for list bullets and quote markers). Ends with a newline.
pub fn wrap(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut prefix = first.to_string();
    for hard_line in text.split('\n') {
        let mut line = String::new();
        for word in hard_line.split_whitespace() {
            let len = prefix.chars().count() + line.chars().count() + 1 + word.chars().count();
            if !line.is_empty() && len > WIDTH {
                out.push_str(&format!("{prefix}{line}\n"));
                prefix = rest.to_string();
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&format!("{prefix}{line}\n"));
        prefix = rest.to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_wrapping() {
        assert_eq!(arabic_digits("No. 12, 2026"), "No. ١٢, ٢٠٢٦");
        let long = "word ".repeat(40);
        let w = wrap(long.trim(), "- ", "  ");
        assert!(w.lines().all(|l| l.chars().count() <= 72), "{w}");
        assert!(w.starts_with("- word") && w.lines().nth(1).unwrap().starts_with("  word"));
        assert_eq!(wrap("a\nb", "", ""), "a\nb\n", "hard breaks kept");
    }
}
