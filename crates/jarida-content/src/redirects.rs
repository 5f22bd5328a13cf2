//! Old addresses that still work: each is answered with a permanent redirect to a page of this
//! site. Imports from another platform fill the table with their posts' old paths; editors can add
//! and remove entries by hand. Owns the `redirects` table.

use jarida_store::{Conn, Db, q_all, q_exec, q_opt};
use percent_encoding::percent_decode_str;
use time::OffsetDateTime;

use crate::ContentError;

/// One old address and where it now leads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Redirect {
    pub from_path: String,
    pub to_path: String,
    /// `wordpress`, `ghost`, `substack` or `editor`.
    pub origin: String,
}

/// The longest old path kept (WordPress permalinks with long Arabic slugs run to a few hundred
/// bytes once percent-encoded; decoded they are shorter).
const MAX_PATH: usize = 2000;

/// The key an old address is stored and looked up under: the path percent-decoded, without a
/// trailing slash (WordPress answers both spellings), with a query only for WordPress's
/// `?p=ID`/`?page_id=ID` forms. `None` for what cannot be an old path of a site (not starting with
/// `/`, not UTF-8 once decoded, too long).
pub fn key(path: &str, query: Option<&str>) -> Option<String> {
    if !path.starts_with('/') || path.len() > MAX_PATH {
        return None;
    }
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    let trimmed = decoded.trim_end_matches('/');
    let mut k = if trimmed.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    };
    if let Some(id) = query.and_then(wordpress_id) {
        if k == "/index.php" {
            k = "/".into();
        }
        k.push_str(&format!("?{}={}", id.0, id.1));
    }
    Some(k)
}

/// WordPress's plain permalinks: `p=123` (a post) or `page_id=123` (a page) in a query.
fn wordpress_id(query: &str) -> Option<(&'static str, u64)> {
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=')?;
        let name = match k {
            "p" => "p",
            "page_id" => "page_id",
            _ => continue,
        };
        if let Ok(id) = v.parse::<u64>() {
            return Some((name, id));
        }
    }
    None
}

/// Whether a query carries one of WordPress's plain permalink forms (so the site's root, which
/// otherwise redirects to the home page, looks it up first).
pub fn is_wordpress_query(query: &str) -> bool {
    wordpress_id(query).is_some()
}

/// Checks where a redirect may lead: a path of this site only, so the table can never send a
/// reader elsewhere (no `//host`, no `/\host`, no scheme).
pub fn check_target(to: &str) -> Result<(), String> {
    if !to.starts_with('/') || to.starts_with("//") || to.starts_with("/\\") {
        return Err(format!(
            "{to:?} is not a path of this site (it must start with one /)"
        ));
    }
    if to.len() > MAX_PATH || to.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("{to:?} is not a valid path"));
    }
    Ok(())
}

/// Where the old address `key` (see [`key`]) now leads.
pub async fn find(db: &Db, key: &str) -> Result<Option<String>, ContentError> {
    let mut c = db.acquire().await?;
    let row: Option<(String,)> = q_opt!(
        c.conn(),
        (String,),
        "SELECT to_path FROM redirects WHERE from_path = $1",
        key
    )?;
    Ok(row.map(|(t,)| t))
}

/// What [`put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Created,
    Updated,
    Unchanged,
}

/// Adds or replaces the redirect from `from` (a key, see [`key`]) inside the caller's transaction.
/// One an editor added is kept against an import's (`origin` other than `editor`): the person
/// chose it, an import only guessed.
pub async fn put(
    mut c: Conn<'_>,
    from: &str,
    to: &str,
    origin: &str,
    now: OffsetDateTime,
) -> Result<Put, ContentError> {
    check_target(to).map_err(|reason| ContentError::Invalid {
        field: "redirect",
        reason,
    })?;
    let existing: Option<(String, String)> = q_opt!(
        crate::repo::reborrow(&mut c),
        (String, String),
        "SELECT to_path, origin FROM redirects WHERE from_path = $1",
        from
    )?;
    match existing {
        Some((t, _)) if t == to => Ok(Put::Unchanged),
        Some((_, o)) if o == "editor" && origin != "editor" => Ok(Put::Unchanged),
        Some(_) => {
            q_exec!(
                c,
                "UPDATE redirects SET to_path = $1, origin = $2 WHERE from_path = $3",
                to,
                origin,
                from
            )?;
            Ok(Put::Updated)
        }
        None => {
            q_exec!(
                c,
                "INSERT INTO redirects (from_path, to_path, origin, created_at) VALUES ($1, $2, $3, $4)",
                from,
                to,
                origin,
                now.unix_timestamp()
            )?;
            Ok(Put::Created)
        }
    }
}

/// Every redirect, by old path.
pub async fn list(db: &Db) -> Result<Vec<Redirect>, ContentError> {
    let mut c = db.acquire().await?;
    let rows: Vec<(String, String, String)> = q_all!(
        c.conn(),
        (String, String, String),
        "SELECT from_path, to_path, origin FROM redirects ORDER BY from_path"
    )?;
    Ok(rows
        .into_iter()
        .map(|(from_path, to_path, origin)| Redirect {
            from_path,
            to_path,
            origin,
        })
        .collect())
}

/// The redirects whose old path starts with `prefix` (all of them for an empty one), by old path,
/// at most `limit`, and how many there are in all.
pub async fn search(
    db: &Db,
    prefix: &str,
    limit: usize,
) -> Result<(Vec<Redirect>, u64), ContentError> {
    let mut c = db.acquire().await?;
    // The start compared as text rather than with LIKE (no wildcards to escape) or a range (whose
    // upper bound depends on PostgreSQL's collation). It reads the table, which holds a site's
    // old addresses: tens of thousands at most.
    let rows: Vec<(String, String, String)> = q_all!(
        c.conn(),
        (String, String, String),
        "SELECT from_path, to_path, origin FROM redirects WHERE substr(from_path, 1, length($1)) = $1 \
         ORDER BY from_path LIMIT $2",
        prefix,
        limit as i64
    )?;
    let (total,): (i64,) = jarida_store::q_one!(
        c.conn(),
        (i64,),
        "SELECT COUNT(*) FROM redirects WHERE substr(from_path, 1, length($1)) = $1",
        prefix
    )?;
    Ok((
        rows.into_iter()
            .map(|(from_path, to_path, origin)| Redirect {
                from_path,
                to_path,
                origin,
            })
            .collect(),
        total as u64,
    ))
}

/// Removes the redirect from `key` inside the caller's transaction; whether there was one.
pub async fn remove_in(c: Conn<'_>, key: &str) -> Result<bool, ContentError> {
    Ok(q_exec!(c, "DELETE FROM redirects WHERE from_path = $1", key)? > 0)
}

/// Removes the redirect from `key`; whether there was one.
pub async fn remove(db: &Db, key: &str) -> Result<bool, ContentError> {
    let mut c = db.acquire().await?;
    let done = q_exec!(c.conn(), "DELETE FROM redirects WHERE from_path = $1", key)?;
    Ok(done > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded_without_a_trailing_slash() {
        assert_eq!(
            key("/2024/05/01/hello-world/", None).as_deref(),
            Some("/2024/05/01/hello-world")
        );
        assert_eq!(
            key("/2024/%D8%AA%D9%82%D8%B1%D9%8A%D8%B1/", None).as_deref(),
            Some("/2024/تقرير")
        );
        assert_eq!(
            key("/2024/%d8%aa%d9%82%d8%b1%d9%8a%d8%b1", None).as_deref(),
            Some("/2024/تقرير")
        );
        assert_eq!(key("/", Some("p=123")).as_deref(), Some("/?p=123"));
        assert_eq!(
            key("/index.php", Some("utm=x&page_id=7")).as_deref(),
            Some("/?page_id=7")
        );
        assert_eq!(key("/", Some("s=water")).as_deref(), Some("/"));
        assert_eq!(key("/x%FF", None), None);
        assert_eq!(key("x", None), None);
        assert!(is_wordpress_query("p=12"));
        assert!(!is_wordpress_query("p=abc"));
    }

    #[test]
    fn targets_stay_on_the_site() {
        assert!(check_target("/en/water-crisis").is_ok());
        assert!(check_target("//evil.example/").is_err());
        assert!(check_target("/\\evil.example/").is_err());
        assert!(check_target("https://evil.example/").is_err());
        assert!(check_target("/en/a b").is_err());
    }
}
