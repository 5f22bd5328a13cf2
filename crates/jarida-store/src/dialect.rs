//! The SQL that differs between the two dialects outside the schema: the lock a claiming `SELECT`
//! takes, and lists of values bound as one parameter for `x IN (…)`. Domain crates ask here instead
//! of matching on the dialect themselves, so each difference is written once.

use std::borrow::Cow;

/// Which SQL dialect a [`Db`](crate::Db) speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// What a [`List`] holds, which decides how PostgreSQL reads its elements back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Of {
    Ints,
    Texts,
}

/// Values for `x IN (…)`, bound as one parameter (a JSON array) and read back by the subquery of
/// [`List::select`]. The SQL text never contains the values, so it is safe by construction, and one
/// text serves lists of every length: one prepared statement, where lists spliced into the SQL made
/// every claim a new statement for sqlx's per-connection cache to keep (memory grew with the size of
/// a send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    json: String,
    of: Of,
    len: usize,
}

impl List {
    pub fn ints(values: &[i64]) -> List {
        let items: Vec<String> = values.iter().map(i64::to_string).collect();
        List {
            json: format!("[{}]", items.join(",")),
            of: Of::Ints,
            len: values.len(),
        }
    }

    pub fn texts<S: AsRef<str>>(values: &[S]) -> List {
        let items: Vec<String> = values.iter().map(|v| json_string(v.as_ref())).collect();
        List {
            json: format!("[{}]", items.join(",")),
            of: Of::Texts,
            len: values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The value to bind as the parameter that [`List::select`] names.
    pub fn param(&self) -> &str {
        &self.json
    }

    /// A subquery yielding the list's elements, reading it from parameter `$n`: put it inside
    /// `IN (…)`. The text depends only on the dialect, the kind of list and `n`.
    pub fn select(&self, dialect: Dialect, n: usize) -> String {
        match (dialect, self.of) {
            (Dialect::Sqlite, _) => format!("SELECT value FROM json_each(${n})"),
            (Dialect::Postgres, Of::Ints) => {
                format!("SELECT value::bigint FROM jsonb_array_elements_text(${n}::jsonb)")
            }
            (Dialect::Postgres, Of::Texts) => {
                format!("SELECT value FROM jsonb_array_elements_text(${n}::jsonb)")
            }
        }
    }
}

/// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Dialect {
    /// What ends a claiming `SELECT` so that concurrent claimers pass over each other's rows instead
    /// of waiting for them or taking them twice: `FOR UPDATE [OF alias] SKIP LOCKED` on PostgreSQL
    /// (`of` names the table to lock when the query joins others). Nothing on SQLite, where a claim
    /// runs in a `BEGIN IMMEDIATE` transaction ([`Db::begin`](crate::Db::begin)) and claimers
    /// therefore take turns. The alias is a `&'static str`: it comes from our code, never from input.
    pub fn skip_locked(self, of: Option<&'static str>) -> Cow<'static, str> {
        match (self, of) {
            (Dialect::Sqlite, _) => Cow::Borrowed(""),
            (Dialect::Postgres, None) => Cow::Borrowed(" FOR UPDATE SKIP LOCKED"),
            (Dialect::Postgres, Some(alias)) => {
                Cow::Owned(format!(" FOR UPDATE OF {alias} SKIP LOCKED"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_carry_values_in_the_parameter_only() {
        let l = List::texts(&["a\"b", "c\\d\n"]);
        assert_eq!(l.param(), r#"["a\"b","c\\d\u000a"]"#);
        assert_eq!(l.len(), 2);
        assert_eq!(
            l.select(Dialect::Postgres, 3),
            "SELECT value FROM jsonb_array_elements_text($3::jsonb)"
        );
        assert_eq!(List::ints(&[1, -2]).param(), "[1,-2]");
        assert!(List::ints(&[]).is_empty());
        assert_eq!(
            List::ints(&[1]).select(Dialect::Postgres, 4),
            "SELECT value::bigint FROM jsonb_array_elements_text($4::jsonb)"
        );
        assert_eq!(
            List::ints(&[1]).select(Dialect::Sqlite, 2),
            "SELECT value FROM json_each($2)"
        );
    }

    #[test]
    fn skip_locked_only_on_postgres() {
        assert_eq!(Dialect::Sqlite.skip_locked(Some("d")), "");
        assert_eq!(
            Dialect::Postgres.skip_locked(Some("d")),
            " FOR UPDATE OF d SKIP LOCKED"
        );
        assert_eq!(
            Dialect::Postgres.skip_locked(None),
            " FOR UPDATE SKIP LOCKED"
        );
    }
}
