//! What sending asks of the audience: which readers an edition goes to, who each ledger row's
//! reader is at send time, which addresses are suppressed, and who unsubscribed. The delivery
//! ledger belongs to the newsletter crate, but `subscribers`, `subscriber_newsletters`,
//! `subscriber_events` and `suppressions` are ours, so the SQL reading them is written here, even
//! the parts that run inside the ledger's own statements (see [`active_readers_sql`]).

use std::collections::HashSet;

use jarida_store::{Conn, List, q_all, sqlx};

use crate::{AudienceError, email};

/// A subquery yielding `id`: the active readers of newsletter `$first` whose language is
/// `$first + 1`.
///
/// It is text rather than a function that runs it because freezing an edition's recipients is one
/// `INSERT INTO deliveries … SELECT … FROM (this)`: a send to a million readers must not carry a
/// million ids through the process and back.
pub fn active_readers_sql(first: usize) -> String {
    format!(
        "SELECT s.id FROM subscribers s \
         JOIN subscriber_newsletters sn ON sn.subscriber_id = s.id AND sn.newsletter_id = ${first} \
         WHERE s.status = 'active' AND s.lang = ${}",
        first + 1
    )
}

/// What a claim of ledger rows selects about each row's reader: `email`, `name` and `status` (all
/// NULL once the reader is erased) and `member` (NULL once they left the newsletter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderSql {
    /// Columns to add to the claim's select list.
    pub columns: &'static str,
    /// Joins to add after the ledger table.
    pub joins: String,
}

/// The columns and joins that bring along the reader of each row of a claim, keyed by the column
/// `subscriber` (such as `d.subscriber_id`), for newsletter `$newsletter`.
///
/// Text, like [`active_readers_sql`], because the claim is the hot loop of a send: one statement
/// that locks the ledger rows and reads their readers, not a second round trip per batch.
pub fn reader_sql(subscriber: &'static str, newsletter: usize) -> ReaderSql {
    ReaderSql {
        columns: "rs.email, rs.name, rs.status, rm.subscriber_id AS member",
        joins: format!(
            "LEFT JOIN subscribers rs ON rs.id = {subscriber} \
             LEFT JOIN subscriber_newsletters rm ON rm.subscriber_id = {subscriber} \
             AND rm.newsletter_id = ${newsletter}"
        ),
    }
}

/// Those of `addresses` (normalized) that are on the suppression list, in one query.
pub async fn suppressed(c: Conn<'_>, addresses: &[&str]) -> Result<HashSet<String>, AudienceError> {
    if addresses.is_empty() {
        return Ok(HashSet::new());
    }
    let hashes: Vec<String> = addresses.iter().map(|a| email::fingerprint(a)).collect();
    let list = List::texts(&hashes);
    let sql = format!(
        "SELECT email_sha256 FROM suppressions WHERE email_sha256 IN ({})",
        list.select(c.dialect(), 1)
    );
    let found: Vec<(String,)> = q_all!(c, (String,), sqlx::AssertSqlSafe(sql), list.param())?;
    let found: HashSet<String> = found.into_iter().map(|(h,)| h).collect();
    Ok(addresses
        .iter()
        .zip(hashes)
        .filter(|(_, h)| found.contains(h))
        .map(|(a, _)| a.to_string())
        .collect())
}

/// A subquery yielding `subscriber_id, at`: every unsubscription a reader made themselves (one-click,
/// the preference page), for counting those that followed an edition; an editor's unsubscribing
/// (one reader or in bulk, `how` starting with "admin") says nothing about the edition. Text so that
/// the count stays one query over the ledger.
pub fn unsubscriptions_sql() -> &'static str {
    "SELECT subscriber_id, at FROM subscriber_events WHERE kind = 'unsubscribed' \
     AND detail NOT LIKE '{\"how\":\"admin%'"
}
