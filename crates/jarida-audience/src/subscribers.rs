//! The subscriber record and its life: sign-up with double opt-in, confirmation, preferences,
//! unsubscribing, erasure. Owns `subscribers`, `subscriber_newsletters`, `subscriber_events`,
//! `subscriber_tokens`, `suppressions` and `newsletters` (until the newsletter crate takes that one).

use jarida_core::{Lang, Secret, SubscriberId};
use jarida_store::{Conn, Db, q_all, q_exec, q_one, q_opt};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::email;
use crate::{AudienceError, throttle};

use jarida_store::sqlx;

/// Confirmation links expire after this long unless configured otherwise.
pub const CONFIRM_TTL_SECS: i64 = 48 * 3600;

/// Where a subscriber came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Form,
    Api,
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Form => "form",
            Source::Api => "api",
            Source::Import => "import",
        }
    }
}

/// What a sign-up carries: the address and the consent evidence.
#[derive(Debug, Clone)]
pub struct Signup {
    pub email: String,
    pub name: String,
    pub lang: String,
    pub source: Source,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The page the form was on.
    pub form_url: String,
    /// Which wording of the consent text the reader saw.
    pub wording: String,
}

/// Limits on what one sender or one address can cause.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sign-ups accepted per IP address per hour.
    pub per_ip_hour: i64,
    /// Emails sent to one address per day, whoever asks: a flood of sign-ups for a victim's address
    /// sends it no more than this.
    pub per_address_day: i64,
    pub confirm_ttl_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_ip_hour: 20,
            per_address_day: 3,
            confirm_ttl_secs: CONFIRM_TTL_SECS,
        }
    }
}

/// The email a sign-up calls for. The HTTP answer is the same in every case, so a form cannot be used
/// to learn whether an address is known.
#[derive(Debug, Clone, PartialEq)]
pub enum SignupOutcome {
    /// A new or pending reader: send the confirmation link.
    Confirm {
        subscriber: SubscriberId,
        email: String,
        name: String,
        lang: Lang,
        token: String,
    },
    /// Already confirmed: send a link to the preference page instead.
    AlreadyActive {
        subscriber: SubscriberId,
        email: String,
        name: String,
        lang: Lang,
    },
    /// Nothing is sent: suppressed, bounced or complained, or this address had its emails for today.
    Quiet(&'static str),
}

jarida_core::text_enum! {
    /// Where a reader stands. Only `Active` readers are sent editions; `Bounced` and `Complained`
    /// are never written to again, whatever a sign-up asks.
    pub enum SubscriberStatus {
        Pending = "pending",
        Active = "active",
        Unsubscribed = "unsubscribed",
        Bounced = "bounced",
        Complained = "complained",
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Subscriber {
    pub id: SubscriberId,
    pub email: String,
    pub name: String,
    pub lang: Lang,
    pub status: SubscriberStatus,
    pub source: String,
    pub consent_at: Option<i64>,
    pub consent_ip: Option<String>,
    pub consent_user_agent: Option<String>,
    pub consent_form: Option<String>,
    pub consent_wording: Option<String>,
    pub confirmed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const SUB_COLS: &str = "id, email, name, lang, status, source, consent_at, consent_ip, consent_user_agent, \
     consent_form, consent_wording, confirmed_at, created_at, updated_at";

/// Text from outside, trimmed and cut to `max` characters, without control characters (PostgreSQL
/// refuses NUL in text, and nothing else in this set belongs in a name).
pub fn clean_text(s: &str, max: usize) -> String {
    s.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A confirmation link's token: 64 hex digits, one word with no `-` inside, so no part of it looks
/// like a Bitcoin address to spam filters (see [`LINK_SIG_BYTES`]); base64url's `-` split its 43
/// characters into words that sometimes did.
fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub(crate) async fn event(
    c: Conn<'_>,
    subscriber: SubscriberId,
    kind: &str,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), AudienceError> {
    q_exec!(
        c,
        "INSERT INTO subscriber_events (subscriber_id, kind, at, detail) VALUES ($1, $2, $3, $4)",
        subscriber,
        kind,
        now,
        detail.to_string()
    )?;
    Ok(())
}

pub async fn is_suppressed(c: Conn<'_>, normalized: &str) -> Result<bool, AudienceError> {
    let row: Option<(String,)> = q_opt!(
        c,
        (String,),
        "SELECT reason FROM suppressions WHERE email_sha256 = $1",
        email::fingerprint(normalized)
    )?;
    Ok(row.is_some())
}

pub async fn by_email(c: Conn<'_>, normalized: &str) -> Result<Option<Subscriber>, AudienceError> {
    Ok(q_opt!(
        c,
        Subscriber,
        sqlx::AssertSqlSafe(format!(
            "SELECT {SUB_COLS} FROM subscribers WHERE email = $1"
        )),
        normalized
    )?)
}

pub async fn by_id(db: &Db, id: SubscriberId) -> Result<Option<Subscriber>, AudienceError> {
    let mut c = db.acquire().await?;
    Ok(q_opt!(
        c.conn(),
        Subscriber,
        sqlx::AssertSqlSafe(format!("SELECT {SUB_COLS} FROM subscribers WHERE id = $1")),
        id
    )?)
}

async fn default_newsletter(c: Conn<'_>) -> Result<i64, AudienceError> {
    let (id,): (i64,) = q_one!(c, (i64,), "SELECT id FROM newsletters ORDER BY id LIMIT 1")?;
    Ok(id)
}

/// The part of a sign-up that depends only on what was typed and who asks: the address is valid and
/// the asker is within the per-IP limit. Returns the normalized address for [`signup`]. Rate limits
/// hold across processes because their counters are in the database.
///
/// A caller that must not reveal whether an address is known answers after this and runs [`signup`]
/// off the request path: everything that depends on the address's state happens there.
pub async fn admit(
    db: &Db,
    s: &Signup,
    limits: Limits,
    now: OffsetDateTime,
    blocked: &throttle::Blocked,
) -> Result<String, AudienceError> {
    let addr = email::normalize(&s.email).map_err(AudienceError::Email)?;
    if let Some(ip) = &s.ip {
        let key = format!("signup-ip:{}", throttle::ip_bucket(ip));
        let now_s = now.unix_timestamp();
        if blocked.contains(&key, 3600, now_s) {
            return Err(AudienceError::RateLimited);
        }
        if throttle::hit(db, &key, 3600, now_s).await? > limits.per_ip_hour {
            blocked.insert(&key, 3600, now_s);
            return Err(AudienceError::RateLimited);
        }
    }
    Ok(addr)
}

/// Records an admitted sign-up of `addr` (from [`admit`]) and queues the email it calls for, which
/// `compose` writes (it is not called when nothing is to be sent).
pub async fn signup(
    db: &Db,
    s: &Signup,
    addr: &str,
    limits: Limits,
    now: OffsetDateTime,
    compose: impl FnOnce(&SignupOutcome) -> Option<jarida_mail::queue::Outgoing>,
) -> Result<SignupOutcome, AudienceError> {
    let addr = addr.to_string();
    let now_s = now.unix_timestamp();
    let mut tx = db.begin().await?;
    if is_suppressed(tx.conn(), &addr).await? {
        return Ok(SignupOutcome::Quiet("suppressed"));
    }
    let name = clean_text(&s.name, 200);
    // Insert-or-nothing, then read: two first sign-ups of one address at once (a double-submitted
    // form, a sign-up racing an import) both end on the same row instead of one failing.
    let created: Option<(i64,)> = q_opt!(
        tx.conn(),
        (i64,),
        "INSERT INTO subscribers (email, name, lang, status, source, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', $4, $5, $5) ON CONFLICT (email) DO NOTHING RETURNING id",
        &addr,
        &name,
        &s.lang,
        s.source.as_str(),
        now_s
    )?;
    let is_new = created.is_some();
    let (id, status) = match created {
        Some((id,)) => {
            let nl = default_newsletter(tx.conn()).await?;
            q_exec!(
                tx.conn(),
                "INSERT INTO subscriber_newsletters (subscriber_id, newsletter_id) VALUES ($1, $2)",
                id,
                nl
            )?;
            (SubscriberId(id), SubscriberStatus::Pending)
        }
        None => {
            let sub = by_email(tx.conn(), &addr)
                .await?
                .ok_or(AudienceError::NotFound)?;
            (sub.id, sub.status)
        }
    };
    match status {
        SubscriberStatus::Bounced | SubscriberStatus::Complained => {
            tx.commit().await?;
            return Ok(SignupOutcome::Quiet("address bounced or complained"));
        }
        SubscriberStatus::Active => {}
        _ if is_new => {
            // A new reader: the record starts with this sign-up's evidence; it counts once confirmed.
            q_exec!(
                tx.conn(),
                "UPDATE subscribers SET consent_at = $1, consent_ip = $2, consent_user_agent = $3, consent_form = $4, \
                 consent_wording = $5 WHERE id = $6",
                now_s,
                &s.ip,
                s.user_agent.as_deref().map(|u| clean_text(u, 500)),
                clean_text(&s.form_url, 2000),
                &s.wording,
                id
            )?;
            event(
                tx.conn(),
                id,
                "subscribed",
                serde_json::json!({ "source": s.source.as_str(), "ip": s.ip, "form": s.form_url }),
                now_s,
            )
            .await?;
        }
        _ => {
            // A pending or unsubscribed reader signing up again: their record stays as it is until
            // the new link is confirmed (whoever typed the address may not own it); only the log
            // notes the attempt.
            event(
                tx.conn(),
                id,
                "subscribe-requested",
                serde_json::json!({ "source": s.source.as_str(), "ip": s.ip, "form": s.form_url }),
                now_s,
            )
            .await?;
        }
    }
    tx.commit().await?;
    if throttle::hit(
        db,
        &format!("mail-to:{}", email::fingerprint(&addr)),
        86_400,
        now_s,
    )
    .await?
        > limits.per_address_day
    {
        return Ok(SignupOutcome::Quiet(
            "this address had its emails for today",
        ));
    }
    let sub = by_id(db, id).await?.ok_or(AudienceError::NotFound)?;
    // The token and the email that carries it are written in one transaction: a token exists only
    // if its email is queued.
    let mut tx = db.begin().await?;
    let outcome = if status == SubscriberStatus::Active {
        SignupOutcome::AlreadyActive {
            subscriber: id,
            email: sub.email,
            name: sub.name,
            lang: sub.lang,
        }
    } else {
        let token = random_token();
        q_exec!(
            tx.conn(),
            "INSERT INTO subscriber_tokens (token_sha256, subscriber_id, purpose, expires_at, lang, consent_at, consent_ip, \
             consent_user_agent, consent_form, consent_wording, name) VALUES ($1, $2, 'confirm', $3, $4, $5, $6, $7, $8, $9, $10)",
            sha256_hex(&token),
            id,
            now_s + limits.confirm_ttl_secs,
            &s.lang,
            now_s,
            &s.ip,
            s.user_agent.as_deref().map(|u| clean_text(u, 500)),
            clean_text(&s.form_url, 2000),
            &s.wording,
            &name
        )?;
        SignupOutcome::Confirm {
            subscriber: id,
            email: sub.email,
            name: sub.name,
            lang: sub.lang,
            token,
        }
    };
    if let Some(m) = compose(&outcome) {
        jarida_mail::queue::enqueue_in(tx.conn(), &m, now_s).await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// Why a confirmation link does not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Valid(SubscriberId),
    Unknown,
    Used,
    Expired,
}

pub async fn check_confirm(
    db: &Db,
    token: &str,
    now: OffsetDateTime,
) -> Result<TokenState, AudienceError> {
    let mut c = db.acquire().await?;
    token_state(c.conn(), token, now).await
}

async fn token_state(
    c: Conn<'_>,
    token: &str,
    now: OffsetDateTime,
) -> Result<TokenState, AudienceError> {
    if token.len() > 100 {
        return Ok(TokenState::Unknown);
    }
    let row: Option<(i64, i64, Option<i64>)> = q_opt!(
        c,
        (i64, i64, Option<i64>),
        "SELECT subscriber_id, expires_at, used_at FROM subscriber_tokens WHERE token_sha256 = $1 AND purpose = 'confirm'",
        sha256_hex(token)
    )?;
    Ok(match row {
        None => TokenState::Unknown,
        Some((_, _, Some(_))) => TokenState::Used,
        Some((_, exp, None)) if exp < now.unix_timestamp() => TokenState::Expired,
        Some((id, _, None)) => TokenState::Valid(SubscriberId(id)),
    })
}

/// The name to show on a confirmation page: what the sign-up that sent this link typed, else the
/// record's. The person confirming sees it and may change it before the name is kept.
pub async fn confirm_name(db: &Db, token: &str) -> Result<String, AudienceError> {
    let mut c = db.acquire().await?;
    let row: Option<(String,)> = q_opt!(
        c.conn(),
        (String,),
        "SELECT COALESCE(NULLIF(t.name, ''), s.name) FROM subscriber_tokens t \
         JOIN subscribers s ON s.id = t.subscriber_id WHERE t.token_sha256 = $1",
        sha256_hex(token)
    )?;
    Ok(row.map(|r| r.0).unwrap_or_default())
}

/// Confirms the subscription a token was issued for; single use. `name`, when given, is the name
/// the person confirming chose on the confirmation page (a name typed with a sign-up is only
/// shown there: whoever typed it may not be the address's owner); without it the name stays.
pub async fn confirm(
    db: &Db,
    token: &str,
    now: OffsetDateTime,
    name: Option<&str>,
) -> Result<TokenState, AudienceError> {
    let mut tx = db.begin().await?;
    let state = token_state(tx.conn(), token, now).await?;
    let TokenState::Valid(id) = state else {
        return Ok(state);
    };
    let now_s = now.unix_timestamp();
    let used = q_exec!(
        tx.conn(),
        "UPDATE subscriber_tokens SET used_at = $1 WHERE token_sha256 = $2 AND used_at IS NULL",
        now_s,
        sha256_hex(token)
    )?;
    if used == 0 {
        return Ok(TokenState::Used);
    }
    // The evidence of the sign-up this link came from becomes the record's consent.
    let changed = q_exec!(
        tx.conn(),
        "UPDATE subscribers SET status = 'active', confirmed_at = $1, updated_at = $1, \
           name = COALESCE($4, name), \
           lang = COALESCE((SELECT t.lang FROM subscriber_tokens t WHERE t.token_sha256 = $3), lang), \
           consent_at = COALESCE((SELECT t.consent_at FROM subscriber_tokens t WHERE t.token_sha256 = $3), consent_at), \
           consent_ip = (SELECT t.consent_ip FROM subscriber_tokens t WHERE t.token_sha256 = $3), \
           consent_user_agent = (SELECT t.consent_user_agent FROM subscriber_tokens t WHERE t.token_sha256 = $3), \
           consent_form = COALESCE((SELECT t.consent_form FROM subscriber_tokens t WHERE t.token_sha256 = $3), consent_form), \
           consent_wording = COALESCE((SELECT t.consent_wording FROM subscriber_tokens t WHERE t.token_sha256 = $3), consent_wording) \
         WHERE id = $2 AND status IN ('pending', 'unsubscribed')",
        now_s,
        id,
        sha256_hex(token),
        name.map(|n| clean_text(n, 200))
    )?;
    // Every other link of this sign-up dies with it; one confirmed after an unsubscribe must not
    // quietly subscribe the reader again.
    q_exec!(
        tx.conn(),
        "UPDATE subscriber_tokens SET used_at = $1 WHERE subscriber_id = $2 AND used_at IS NULL",
        now_s,
        id
    )?;
    if changed == 0 {
        tx.commit().await?;
        return Ok(TokenState::Used);
    }
    event(tx.conn(), id, "confirmed", serde_json::json!({}), now_s).await?;
    tx.commit().await?;
    Ok(TokenState::Valid(id))
}

/// Bytes of the signature in a link token. Twenty, not sixteen: 32 hex digits after a `-` start
/// with 1 or 3 and hold no 0 one time in sixty, and SpamAssassin's `PDS_BTC_ID` then takes them
/// for a Bitcoin address (a point against every newsletter that reader is sent). Forty digits are
/// too long for its pattern (26 to 35 characters).
const LINK_SIG_BYTES: usize = 20;
/// The signature's length in links sent before: they keep working.
const LEGACY_LINK_SIG_BYTES: usize = 16;

/// The signed token of a subscriber's preference and unsubscribe links: `<id>-<hmac>`. It names the
/// address too, so it stops working if the record is erased.
pub fn link_token(secret: &Secret, id: SubscriberId, email: &str) -> String {
    link_token_of(secret, id, email, LINK_SIG_BYTES)
}

fn link_token_of(secret: &Secret, id: SubscriberId, email: &str, bytes: usize) -> String {
    let sig = secret.sign_hex(
        "subscriber-link",
        &format!("{id}\0{}", email.to_lowercase()),
        bytes,
    );
    format!("{id}-{sig}")
}

/// Whether `token` is one of `expected`'s forms (this one, or the one links carried before),
/// compared in constant time.
fn one_of(expected: [String; 2], token: &str) -> bool {
    expected
        .iter()
        .map(|e| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                e.as_bytes(),
                token.as_bytes(),
            ))
        })
        .fold(false, |a, b| a | b)
}

/// The subscriber a link token names, if its signature holds.
pub async fn from_link(
    db: &Db,
    secret: &Secret,
    token: &str,
) -> Result<Option<Subscriber>, AudienceError> {
    let Some((id, _)) = token.split_once('-') else {
        return Ok(None);
    };
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let Some(sub) = by_id(db, SubscriberId(id)).await? else {
        return Ok(None);
    };
    let expected = [
        link_token(secret, sub.id, &sub.email),
        link_token_of(secret, sub.id, &sub.email, LEGACY_LINK_SIG_BYTES),
    ];
    Ok(one_of(expected, token).then_some(sub))
}

/// How long an emailed "your data" link works.
pub const DATA_LINK_SECS: i64 = 3600;

/// The token of a link to download or erase a subscriber's data: `<id>-<expiry>-<hmac>`. Preference
/// links never expire and travel in every newsletter, so a forwarded newsletter would hand a
/// stranger the reader's data and the power to erase it; these two actions need this fresh link,
/// emailed to the address on request and valid for an hour.
pub fn data_link_token(secret: &Secret, id: SubscriberId, email: &str, expires: i64) -> String {
    data_link_token_of(secret, id, email, expires, LINK_SIG_BYTES)
}

fn data_link_token_of(
    secret: &Secret,
    id: SubscriberId,
    email: &str,
    expires: i64,
    bytes: usize,
) -> String {
    let sig = secret.sign_hex(
        "data-link",
        &format!("{id}\0{}\0{expires}", email.to_lowercase()),
        bytes,
    );
    format!("{id}-{expires}-{sig}")
}

/// The subscriber a data link names, if its signature holds and it has not expired.
pub async fn from_data_link(
    db: &Db,
    secret: &Secret,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<Subscriber>, AudienceError> {
    let mut parts = token.splitn(3, '-');
    let (Some(id), Some(exp), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (Ok(id), Ok(exp)) = (id.parse::<i64>(), exp.parse::<i64>()) else {
        return Ok(None);
    };
    if exp < now.unix_timestamp() {
        return Ok(None);
    }
    let Some(sub) = by_id(db, SubscriberId(id)).await? else {
        return Ok(None);
    };
    let expected = [
        data_link_token(secret, sub.id, &sub.email, exp),
        data_link_token_of(secret, sub.id, &sub.email, exp, LEGACY_LINK_SIG_BYTES),
    ];
    Ok(one_of(expected, token).then_some(sub))
}

#[derive(Debug, Clone, Serialize)]
pub struct NewsletterChoice {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub subscribed: bool,
}

pub async fn newsletters(
    db: &Db,
    subscriber: SubscriberId,
) -> Result<Vec<NewsletterChoice>, AudienceError> {
    let mut c = db.acquire().await?;
    let rows: Vec<(i64, String, String, i64)> = q_all!(
        c.conn(),
        (i64, String, String, i64),
        "SELECT n.id, n.slug, n.name, (SELECT COUNT(*) FROM subscriber_newsletters s WHERE s.newsletter_id = n.id AND s.subscriber_id = $1) \
         FROM newsletters n ORDER BY n.id",
        subscriber
    )?;
    Ok(rows
        .into_iter()
        .map(|(id, slug, name, n)| NewsletterChoice {
            id,
            slug,
            name,
            subscribed: n > 0,
        })
        .collect())
}

/// Preference changes from the preference page.
#[derive(Debug, Clone)]
pub struct Preferences {
    pub name: String,
    pub lang: String,
    pub newsletters: Vec<i64>,
}

pub async fn update_preferences(
    db: &Db,
    id: SubscriberId,
    p: &Preferences,
    now: OffsetDateTime,
) -> Result<(), AudienceError> {
    let now_s = now.unix_timestamp();
    let mut tx = db.begin().await?;
    q_exec!(
        tx.conn(),
        "UPDATE subscribers SET name = $1, lang = $2, updated_at = $3 WHERE id = $4",
        clean_text(&p.name, 200),
        &p.lang,
        now_s,
        id
    )?;
    q_exec!(
        tx.conn(),
        "DELETE FROM subscriber_newsletters WHERE subscriber_id = $1",
        id
    )?;
    join_newsletters(&mut tx, id, &p.newsletters).await?;
    event(
        tx.conn(),
        id,
        "changed",
        serde_json::json!({ "lang": p.lang, "newsletters": p.newsletters }),
        now_s,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Subscribes reader `id` to those of `newsletters` that exist.
async fn join_newsletters(
    tx: &mut jarida_store::Tx,
    id: SubscriberId,
    newsletters: &[i64],
) -> Result<(), AudienceError> {
    for nl in newsletters {
        q_exec!(
            tx.conn(),
            "INSERT INTO subscriber_newsletters (subscriber_id, newsletter_id) SELECT $1, id FROM newsletters WHERE id = $2",
            id,
            *nl
        )?;
    }
    Ok(())
}

/// Why an editor's new reader was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddRefused {
    /// The address is already a reader's (their id).
    Exists(SubscriberId),
    /// The address was erased, bounced or complained: it is never written to again.
    Suppressed,
}

/// Adds a reader an editor vouches for (someone who agreed in person, on paper, by a reply): active
/// at once, consent recorded as given to that editor, in the caller's transaction. The suppression
/// list wins over the editor, as it does over an import.
pub async fn add_by_editor(
    tx: &mut jarida_store::Tx,
    email_addr: &str,
    name: &str,
    lang: Lang,
    newsletters: &[i64],
    editor: &str,
    now: OffsetDateTime,
) -> Result<Result<SubscriberId, AddRefused>, AudienceError> {
    let addr = email::normalize(email_addr)?;
    if let Some(s) = by_email(tx.conn(), &addr).await? {
        return Ok(Err(AddRefused::Exists(s.id)));
    }
    if is_suppressed(tx.conn(), &addr).await? {
        return Ok(Err(AddRefused::Suppressed));
    }
    let now_s = now.unix_timestamp();
    let (id,): (SubscriberId,) = q_one!(
        tx.conn(),
        (SubscriberId,),
        "INSERT INTO subscribers (email, name, lang, status, source, consent_at, consent_form, consent_wording, confirmed_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'active', 'admin', $4, 'admin', $5, $4, $4, $4) RETURNING id",
        &addr,
        clean_text(name, 200),
        lang.code(),
        now_s,
        format!("added by {}", clean_text(editor, 200))
    )?;
    join_newsletters(tx, id, newsletters).await?;
    event(
        tx.conn(),
        id,
        "added",
        serde_json::json!({ "by": editor, "newsletters": newsletters }),
        now_s,
    )
    .await?;
    Ok(Ok(id))
}

/// `ids` as a bound list, the dialect to read it in, and the lowest and highest id; None for no
/// ids. Statements add `BETWEEN` the two: PostgreSQL planned `IN (the list)` as a scan of every
/// reader (a bulk job's chunks took 0.7 s each at a million readers); with the range it reads the
/// primary key's stretch.
fn id_list(
    tx: &mut jarida_store::Tx,
    ids: &[SubscriberId],
) -> Option<(jarida_store::List, jarida_store::Dialect, i64, i64)> {
    let lo = ids.iter().map(|i| i.0).min()?;
    let hi = ids.iter().map(|i| i.0).max()?;
    Some((
        jarida_store::List::ints(&ids.iter().map(|i| i.0).collect::<Vec<_>>()),
        tx.conn().dialect(),
        lo,
        hi,
    ))
}

/// Unsubscribes the pending and active readers among `ids` from everything, each with an
/// `unsubscribed` event saying `how`, in the caller's transaction. Returns how many changed.
pub async fn unsubscribe_many(
    tx: &mut jarida_store::Tx,
    ids: &[SubscriberId],
    how: &serde_json::Value,
    now: i64,
) -> Result<u64, AudienceError> {
    let Some((list, d, lo, hi)) = id_list(tx, ids) else {
        return Ok(0);
    };
    // The events first: afterwards the rows that changed no longer stand out.
    q_exec!(
        tx.conn(),
        sqlx::AssertSqlSafe(format!(
            "INSERT INTO subscriber_events (subscriber_id, kind, at, detail) \
             SELECT id, 'unsubscribed', $2, $3 FROM subscribers \
             WHERE id BETWEEN $4 AND $5 AND id IN ({}) AND status IN ('pending', 'active')",
            list.select(d, 1)
        )),
        list.param(),
        now,
        how.to_string(),
        lo,
        hi
    )?;
    Ok(q_exec!(
        tx.conn(),
        sqlx::AssertSqlSafe(format!(
            "UPDATE subscribers SET status = 'unsubscribed', updated_at = $2 \
             WHERE id BETWEEN $3 AND $4 AND id IN ({}) AND status IN ('pending', 'active')",
            list.select(d, 1)
        )),
        list.param(),
        now,
        lo,
        hi
    )?)
}

/// Adds `ids` to newsletter `newsletter` (those already in it stay as they are); how many joined.
pub async fn join_many(
    tx: &mut jarida_store::Tx,
    ids: &[SubscriberId],
    newsletter: i64,
) -> Result<u64, AudienceError> {
    let Some((list, d, lo, hi)) = id_list(tx, ids) else {
        return Ok(0);
    };
    Ok(q_exec!(
        tx.conn(),
        sqlx::AssertSqlSafe(format!(
            "INSERT INTO subscriber_newsletters (subscriber_id, newsletter_id) \
             SELECT s.id, n.id FROM subscribers s JOIN newsletters n ON n.id = $2 \
             WHERE s.id BETWEEN $3 AND $4 AND s.id IN ({}) ON CONFLICT DO NOTHING",
            list.select(d, 1)
        )),
        list.param(),
        newsletter,
        lo,
        hi
    )?)
}

/// Takes `ids` out of newsletter `newsletter`; how many left it.
pub async fn leave_many(
    tx: &mut jarida_store::Tx,
    ids: &[SubscriberId],
    newsletter: i64,
) -> Result<u64, AudienceError> {
    let Some((list, d, lo, hi)) = id_list(tx, ids) else {
        return Ok(0);
    };
    Ok(q_exec!(
        tx.conn(),
        sqlx::AssertSqlSafe(format!(
            "DELETE FROM subscriber_newsletters WHERE newsletter_id = $2 AND subscriber_id BETWEEN $3 AND $4 \
             AND subscriber_id IN ({})",
            list.select(d, 1)
        )),
        list.param(),
        newsletter,
        lo,
        hi
    )?)
}

/// Unsubscribes from everything; repeating it changes nothing and succeeds.
pub async fn unsubscribe(
    db: &Db,
    id: SubscriberId,
    how: &str,
    now: OffsetDateTime,
) -> Result<bool, AudienceError> {
    let now_s = now.unix_timestamp();
    let mut tx = db.begin().await?;
    let n = q_exec!(
        tx.conn(),
        "UPDATE subscribers SET status = 'unsubscribed', updated_at = $1 WHERE id = $2 AND status IN ('pending', 'active')",
        now_s,
        id
    )?;
    if n > 0 {
        event(
            tx.conn(),
            id,
            "unsubscribed",
            serde_json::json!({ "how": how }),
            now_s,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n > 0)
}

/// Everything we hold about a subscriber, for "download my data".
pub async fn export_data(db: &Db, id: SubscriberId) -> Result<serde_json::Value, AudienceError> {
    let sub = by_id(db, id).await?.ok_or(AudienceError::NotFound)?;
    let nls = newsletters(db, id).await?;
    let mut c = db.acquire().await?;
    let mut events: Vec<(String, i64, String)> = q_all!(
        c.conn(),
        (String, i64, String),
        "SELECT kind, at, detail FROM subscriber_events WHERE subscriber_id = $1 ORDER BY at, id",
        id
    )?;
    // An import's "imported" event is stored once, on the import, for all the readers it brought in.
    let imported: Option<(i64, String, i64)> = q_opt!(
        c.conn(),
        (i64, String, i64),
        "SELECT i.id, i.wording, i.at FROM subscribers s JOIN imports i ON i.id = s.import_id WHERE s.id = $1",
        id
    )?;
    if let Some((import, wording, at)) = imported {
        let detail =
            serde_json::json!({ "source": "import", "wording": wording, "import": import });
        events.insert(0, ("imported".into(), at, detail.to_string()));
    }
    type TokenRow = (
        String,
        i64,
        Option<i64>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let tokens: Vec<TokenRow> = q_all!(
        c.conn(),
        TokenRow,
        "SELECT purpose, expires_at, used_at, lang, consent_at, consent_ip, consent_user_agent, consent_form, \
         consent_wording, name FROM subscriber_tokens WHERE subscriber_id = $1 ORDER BY expires_at",
        id
    )?;
    let ts = |t: i64| {
        OffsetDateTime::from_unix_timestamp(t).ok().and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
    };
    // Each link we sent carries the evidence of the sign-up that asked for it.
    let links: Vec<serde_json::Value> = tokens
        .iter()
        .map(
            |(purpose, exp, used, lang, at, ip, ua, form, wording, name)| {
                serde_json::json!({
                    "purpose": purpose, "expires_at": ts(*exp), "used_at": used.and_then(ts),
                    "language": lang, "requested_at": at.and_then(ts), "ip": ip, "user_agent": ua,
                    "form": form, "wording_version": wording, "name": name,
                })
            },
        )
        .collect();
    Ok(serde_json::json!({
        "links": links,
        "email": sub.email,
        "name": sub.name,
        "language": sub.lang,
        "status": sub.status,
        "source": sub.source,
        "created_at": ts(sub.created_at),
        "consent": {
            "at": sub.consent_at.and_then(ts),
            "ip": sub.consent_ip,
            "user_agent": sub.consent_user_agent,
            "form": sub.consent_form,
            "wording_version": sub.consent_wording,
            "confirmed_at": sub.confirmed_at.and_then(ts),
        },
        "newsletters": nls.iter().filter(|n| n.subscribed).map(|n| &n.name).collect::<Vec<_>>(),
        "events": events.iter().map(|(k, at, d)| serde_json::json!({
            "kind": k, "at": ts(*at), "detail": serde_json::from_str::<serde_json::Value>(d).unwrap_or_default()
        })).collect::<Vec<_>>(),
    }))
}

/// Erases a subscriber: the record, its history, its tokens and their evidence, its queued mail and
/// the per-address rate-limit counter go; a hash of the address stays on the suppression list so that
/// no import can bring it back. Returns the erased address, for the caller to remove what lies
/// outside the database (outbox files). On SQLite the write-ahead log is then checkpointed so the
/// deleted rows do not linger in it (the file itself zeroes deleted rows: `secure_delete`).
pub async fn erase(
    db: &Db,
    id: SubscriberId,
    now: OffsetDateTime,
) -> Result<String, AudienceError> {
    let mut tx = db.begin().await?;
    let email = erase_in(&mut tx, id, now).await?;
    tx.commit().await?;
    Ok(email)
}

/// [`erase`] inside the caller's transaction, so that other holders of the reader's data can be
/// cleared in the same one.
pub async fn erase_in(
    tx: &mut jarida_store::Tx,
    id: SubscriberId,
    now: OffsetDateTime,
) -> Result<String, AudienceError> {
    let sub = email_of(tx.conn(), id)
        .await?
        .ok_or(AudienceError::NotFound)?;
    // Zeroed, not only unlinked.
    tx.conn().secure_delete(true).await?;
    suppress(tx.conn(), &sub, "erased", now).await?;
    // Returned-mail records stay for the editions' counts, without the server's words (which
    // may quote a mailbox name) and unlinked by the delete below.
    q_exec!(
        tx.conn(),
        "UPDATE bounces SET diagnostic = '' WHERE subscriber_id = $1",
        id
    )?;
    q_exec!(tx.conn(), "DELETE FROM subscribers WHERE id = $1", id)?;
    jarida_mail::queue::forget(tx.conn(), &sub).await?;
    q_exec!(
        tx.conn(),
        "DELETE FROM rate_limits WHERE key = $1",
        format!("mail-to:{}", email::fingerprint(&sub))
    )?;
    tx.conn().secure_delete(false).await?;
    Ok(sub)
}

/// The address of subscriber `id`.
async fn email_of(c: Conn<'_>, id: SubscriberId) -> Result<Option<String>, AudienceError> {
    Ok(q_opt!(
        c,
        (String,),
        "SELECT email FROM subscribers WHERE id = $1",
        id
    )?
    .map(|r| r.0))
}

/// What [`purge_expired`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Sign-ups never confirmed whose every link has expired: their addresses, for the caller to
    /// clear what lies outside the database (outbox files).
    pub unconfirmed: Vec<String>,
    /// Used or expired links (and the evidence they carried).
    pub tokens: u64,
    /// Rate-limit windows that ended.
    pub rate_limits: u64,
}

/// Forgets what has no reason to be kept: a sign-up nobody confirmed, once its links have expired
/// and a day has passed (its record holds a stranger's typing as much as the owner's), with its
/// queued mail; used and expired links with their evidence (a confirmed link's evidence lives on in
/// the record); and ended rate-limit windows (they hold address hashes and IPs). Readers imported as
/// pending stay: the operator's list.
pub async fn purge_expired(db: &Db, now: OffsetDateTime) -> Result<Purged, AudienceError> {
    let now_s = now.unix_timestamp();
    let mut tx = db.begin().await?;
    tx.conn().secure_delete(true).await?;
    // The day's grace also keeps this away from a sign-up between its record and its token.
    let gone: Vec<(String,)> = q_all!(
        tx.conn(),
        (String,),
        "DELETE FROM subscribers WHERE status = 'pending' AND source IN ('form', 'api') \
         AND confirmed_at IS NULL AND created_at < $2 \
         AND NOT EXISTS (SELECT 1 FROM subscriber_tokens t WHERE t.subscriber_id = subscribers.id \
                         AND t.used_at IS NULL AND t.expires_at >= $1) \
         RETURNING email",
        now_s,
        now_s - 86_400
    )?;
    for (addr,) in &gone {
        jarida_mail::queue::forget(tx.conn(), addr).await?;
    }
    let tokens = q_exec!(
        tx.conn(),
        "DELETE FROM subscriber_tokens WHERE expires_at < $1",
        now_s
    )?;
    // The longest window is a day; a row whose window started before that is over in every sense.
    let rate_limits = q_exec!(
        tx.conn(),
        "DELETE FROM rate_limits WHERE window_start < $1",
        now_s - 86_400
    )?;
    tx.conn().secure_delete(false).await?;
    tx.commit().await?;
    Ok(Purged {
        unconfirmed: gone.into_iter().map(|r| r.0).collect(),
        tokens,
        rate_limits,
    })
}

pub async fn suppress(
    c: Conn<'_>,
    normalized: &str,
    reason: &str,
    now: OffsetDateTime,
) -> Result<(), AudienceError> {
    q_exec!(
        c,
        "INSERT INTO suppressions (email_sha256, reason, at) VALUES ($1, $2, $3) ON CONFLICT (email_sha256) DO NOTHING",
        email::fingerprint(normalized),
        reason,
        now.unix_timestamp()
    )?;
    Ok(())
}

/// A relay said the address does not exist (5.1.x): the reader is marked bounced and no longer mailed.
pub async fn mark_bounced(
    c: &mut jarida_store::Tx,
    id: SubscriberId,
    reply: &str,
    now: i64,
) -> Result<(), AudienceError> {
    let n = q_exec!(
        c.conn(),
        "UPDATE subscribers SET status = 'bounced', updated_at = $1 WHERE id = $2 AND status = 'active'",
        now,
        id
    )?;
    if n > 0 {
        event(
            c.conn(),
            id,
            "bounced",
            serde_json::json!({ "reply": reply }),
            now,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SpamAssassin's `__BITCOIN_ID` (72_active.cf): a whole word of 26 to 35 characters of
    /// Bitcoin's alphabet starting with 1 or 3, not right after a `/`, not followed by a `.`.
    fn looks_like_bitcoin(text: &str) -> bool {
        let b = text.as_bytes();
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let base58 = |c: u8| c.is_ascii_alphanumeric() && !matches!(c, b'0' | b'O' | b'I' | b'l');
        let mut i = 0;
        while i < b.len() {
            if !word(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && word(b[i]) {
                i += 1;
            }
            let run = &b[start..i];
            if (26..=35).contains(&run.len())
                && matches!(run[0], b'1' | b'3')
                && run.iter().all(|&c| base58(c))
                && (start == 0 || b[start - 1] != b'/')
                && b.get(i) != Some(&b'.')
            {
                return true;
            }
        }
        false
    }

    #[test]
    fn no_link_in_a_readers_email_looks_like_a_bitcoin_address() {
        let secret = Secret::new([7u8; 32]);
        let mut legacy = 0;
        for id in 1..20_000 {
            let email = format!("reader{id}@example.org");
            let sub = SubscriberId(id);
            let unsubscribe = format!(
                "https://example.org/newsletter/unsubscribe/{}",
                link_token(&secret, sub, &email)
            );
            assert!(!looks_like_bitcoin(&unsubscribe), "{unsubscribe}");
            let data = format!(
                "https://example.org/en/newsletter/data/{}",
                data_link_token(&secret, sub, &email, 1_800_000_000 + id)
            );
            assert!(!looks_like_bitcoin(&data), "{data}");
            let confirm = format!("https://example.org/newsletter/confirm/{}", random_token());
            assert!(!looks_like_bitcoin(&confirm), "{confirm}");
            let before = format!(
                "https://example.org/newsletter/unsubscribe/{}",
                link_token_of(&secret, sub, &email, LEGACY_LINK_SIG_BYTES)
            );
            if looks_like_bitcoin(&before) {
                legacy += 1;
            }
        }
        // The check finds what it looks for: the former tokens tripped it about once in sixty.
        assert!(legacy > 100, "{legacy}");
    }
}
