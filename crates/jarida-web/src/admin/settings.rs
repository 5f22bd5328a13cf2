//! The owner's settings: the site (names, descriptions, logo), the support page (ways to give, bank
//! details), the newsletters (cadence, time zone, sender, languages, fallback, auto-send, editors)
//! and mail (the relays and their check, the DKIM keys and their DNS records, key rotation).
//!
//! A change is checked by the configuration before it is stored (a bad cadence or address is
//! refused with the field named), stored with its audit line in one transaction, and applied at
//! once in this process; the others apply it when they see the settings version move. A value set
//! back to what the configuration file says is removed, so the file governs that key again.

use axum::extract::{Multipart, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::Response;
use jarida_accounts::audit;
use jarida_core::Lang;
use jarida_store::settings::{self, Stored};
use minijinja::Value;
use serde_json::{Value as Json, json};

use super::auth::{csrf_failed, forbidden};
use super::media::{NotAdded, add_image};
use super::{Signed, fail, form_page, frame, now, redirect};
use crate::settings::{NEWSLETTER_FIELDS, SettingError, SettingsHost, Step};
use crate::{App, AppRef};

#[derive(serde::Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// The value at a dotted key of the configuration's JSON.
fn at<'a>(values: &'a Json, key: &str) -> Option<&'a Json> {
    key.split('.').try_fold(values, |v, part| v.get(part))
}

/// Where each key's value comes from: changed in the admin (by whom, when), or the file's, the
/// environment's or the default (the template words it).
fn sources(
    host: &dyn SettingsHost,
    stored: &[Stored],
    keys: &[String],
) -> serde_json::Map<String, Json> {
    let mut out = serde_json::Map::new();
    for key in keys {
        let v = match stored.iter().find(|s| &s.key == key) {
            Some(s) => json!({ "kind": "admin", "who": s.updated_by, "at": s.updated_at }),
            None => match host.base_source(key).as_str() {
                "default" => json!({ "kind": "default" }),
                "environment" => json!({ "kind": "env" }),
                file => json!({ "kind": "file", "file": file }),
            },
        };
        out.insert(key.clone(), v);
    }
    out
}

/// An action this page does not know (a hand-made request).
fn bad_request(app: &App, s: &Signed) -> Response {
    super::message(
        app,
        s.lang(),
        Some(s),
        StatusCode::BAD_REQUEST,
        "admin-settings-title",
        app.theme.t(s.lang(), "admin-set-unknown-action"),
    )
}

/// What a settings page shows: the values now, where each comes from, the owner's notice.
struct Shown {
    values: Json,
    stored: Vec<Stored>,
}

async fn shown(app: &App, host: &dyn SettingsHost) -> Result<Shown, String> {
    let mut c = app.db.acquire().await.map_err(|e| e.to_string())?;
    let stored = settings::all(c.conn()).await.map_err(|e| e.to_string())?;
    let values = values_lenient(host, &stored).map_err(|e| e.to_string())?;
    Ok(Shown { values, stored })
}

/// The effective values, leaving out stored ones the configuration no longer takes (the file
/// changed under them, or a check became stricter), as the processes do when they apply them:
/// the page must still open, so that saving the form gives such a key back to the file.
fn values_lenient(host: &dyn SettingsHost, stored: &[Stored]) -> Result<Json, SettingError> {
    let mut kept = stored.to_vec();
    loop {
        match host.values(&kept) {
            Ok(v) => return Ok(v),
            Err(e) => {
                let before = kept.len();
                kept.retain(|st| st.key != e.key && !st.key.starts_with(&format!("{}.", e.key)));
                if kept.len() == before {
                    return Err(e);
                }
                tracing::warn!(key = %e.key, why = %e.why, "a stored setting no longer applies");
            }
        }
    }
}

fn no_host(app: &App, s: &Signed) -> Response {
    super::message(
        app,
        s.lang(),
        Some(s),
        StatusCode::SERVICE_UNAVAILABLE,
        "admin-settings-title",
        app.theme.t(s.lang(), "admin-set-unavailable"),
    )
}

/// The owner only, and a process that can apply settings.
fn allowed<'a>(app: &'a App, s: &Signed) -> Result<&'a dyn SettingsHost, Box<Response>> {
    if !s.user.role.can_manage_users() {
        return Err(Box::new(forbidden(app, s)));
    }
    match app.settings_host() {
        Some(h) => Ok(h.as_ref()),
        None => Err(Box::new(no_host(app, s))),
    }
}

fn notice_for(app: &App, lang: Lang, done: Option<&str>) -> Option<String> {
    done.map(|d| match d {
        "dkim-made" => app.theme.t(lang, "admin-dkim-made"),
        "dkim-next" => app.theme.t(lang, "admin-dkim-next-made"),
        "dkim-switched" => app.theme.t(lang, "admin-dkim-switched"),
        "dkim-abandoned" => app.theme.t(lang, "admin-dkim-abandoned"),
        _ => app.theme.t(lang, "admin-saved"),
    })
}

/// The frame of a settings page: its tab, and the notice of what was just done.
fn settings_frame(
    app: &App,
    s: &Signed,
    tab: &str,
    notice: Option<String>,
) -> std::collections::BTreeMap<&'static str, Value> {
    let lang = s.lang();
    let mut ctx = frame(
        app,
        lang,
        Some(s),
        app.theme.t(lang, "admin-settings-title"),
        "settings",
    );
    ctx.insert("tab", Value::from(tab.to_string()));
    if let Some(n) = notice {
        ctx.insert("notice", Value::from(n));
    }
    ctx
}

// --- the site and its support page ------------------------------------------------------------

const SITE_KEYS: &[&str] = &[
    "site.name_en",
    "site.name_ar",
    "site.description_en",
    "site.description_ar",
    "site.logo",
    "support.providers",
    "support.bank_details",
];

async fn site_page(
    app: &App,
    s: &Signed,
    host: &dyn SettingsHost,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let sh = match shown(app, host).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let keys: Vec<String> = SITE_KEYS.iter().map(|k| k.to_string()).collect();
    let mut ctx = settings_frame(app, s, "site", notice);
    ctx.insert("sources", crate::ser(sources(host, &sh.stored, &keys)));
    ctx.insert("cfg", crate::ser(&sh.values));
    ctx.insert(
        "max_mb",
        Value::from(jarida_content::media::MAX_IMAGE_BYTES / 1024 / 1024),
    );
    form_page(app, "settings.html", ctx, error)
}

pub(crate) async fn site(State(app): State<AppRef>, s: Signed, Query(q): Query<Done>) -> Response {
    let host = match allowed(&app, &s) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let notice = notice_for(&app, s.lang(), q.done.as_deref());
    site_page(&app, &s, host, notice, None).await
}

/// The form's fields in order (repeated names, such as the support page's rows, kept apart).
fn fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn all_of<'a>(f: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    f.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Browsers send `\r\n` in text areas; the configuration file writes `\n`.
fn text(v: &str) -> Json {
    Json::from(v.replace("\r\n", "\n").trim().to_string())
}

pub(crate) async fn save_site(
    State(app): State<AppRef>,
    s: Signed,
    RawForm(body): RawForm,
) -> Response {
    let f = fields(&body);
    if !s.csrf_ok(field(&f, "csrf")) {
        return csrf_failed(&app, &s);
    }
    let host = match allowed(&app, &s) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let changes: Vec<(String, Json)> = match field(&f, "section") {
        "site" => ["name_en", "name_ar", "description_en", "description_ar"]
            .iter()
            .map(|k| (format!("site.{k}"), text(field(&f, k))))
            .collect(),
        "logo-remove" => vec![("site.logo".into(), Json::from(""))],
        "support" => {
            let (names, urls, notes) = (
                all_of(&f, "provider_name"),
                all_of(&f, "provider_url"),
                all_of(&f, "provider_note"),
            );
            let rows: Vec<Json> = (0..names.len().max(urls.len()))
                .map(|i| {
                    let get =
                        |v: &[&str]| v.get(i).map(|s| s.trim().to_string()).unwrap_or_default();
                    (get(&names), get(&urls), get(&notes))
                })
                .filter(|(n, u, o)| !(n.is_empty() && u.is_empty() && o.is_empty()))
                .map(|(name, url, note)| json!({ "name": name, "url": url, "note": note }))
                .collect();
            vec![
                ("support.providers".into(), Json::Array(rows)),
                (
                    "support.bank_details".into(),
                    text(field(&f, "bank_details")),
                ),
            ]
        }
        _ => return bad_request(&app, &s),
    };
    match save(&app, &s, host, &changes).await {
        Ok(()) => redirect("/admin/settings?done=saved"),
        Err(Failure::Refused(e)) => {
            let msg = refusal(&app, s.lang(), &e);
            site_page(&app, &s, host, None, Some(msg)).await
        }
        Err(Failure::Failed(r)) => r,
    }
}

/// The logo: an image uploaded into the media library and named by `site.logo`.
pub(crate) async fn upload_logo(
    State(app): State<AppRef>,
    s: Signed,
    mut form: Multipart,
) -> Response {
    let lang = s.lang();
    let (mut csrf, mut file) = (String::new(), None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let msg = format!("{}: {e}", app.theme.t(lang, "admin-set-logo"));
                return match allowed(&app, &s) {
                    Ok(h) => site_page(&app, &s, h, None, Some(msg)).await,
                    Err(r) => *r,
                };
            }
        };
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let Ok(data) = field.bytes().await else {
            let msg = app.theme.t(lang, "admin-media-choose");
            return match allowed(&app, &s) {
                Ok(h) => site_page(&app, &s, h, None, Some(msg)).await,
                Err(r) => *r,
            };
        };
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&data).into_owned(),
            "file" if !data.is_empty() => {
                file = Some((file_name.unwrap_or_else(|| "logo".into()), data.to_vec()))
            }
            _ => {}
        }
    }
    if !s.csrf_ok(&csrf) {
        return csrf_failed(&app, &s);
    }
    let host = match allowed(&app, &s) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let Some((file_name, bytes)) = file else {
        let msg = app.theme.t(lang, "admin-media-choose");
        return site_page(&app, &s, host, None, Some(msg)).await;
    };
    // The logo stands for the site's name: that is its alternative text in the library too.
    let settings = app.settings();
    let (en, ar) = (settings.name(Lang::En), settings.name(Lang::Ar));
    let url = match add_image(&app, &s, file_name, bytes, en, ar).await {
        Ok((_, url)) => url,
        Err(NotAdded::Refused(reason)) => {
            return site_page(&app, &s, host, None, Some(reason)).await;
        }
        Err(NotAdded::Failed(r)) => return r,
    };
    match save(&app, &s, host, &[("site.logo".into(), Json::from(url))]).await {
        Ok(()) => redirect("/admin/settings?done=saved"),
        Err(Failure::Refused(e)) => {
            let msg = refusal(&app, lang, &e);
            site_page(&app, &s, host, None, Some(msg)).await
        }
        Err(Failure::Failed(r)) => r,
    }
}

// --- newsletters --------------------------------------------------------------------------------

async fn newsletters_page(
    app: &App,
    s: &Signed,
    host: &dyn SettingsHost,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let sh = match shown(app, host).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let slugs: Vec<String> = at(&sh.values, "newsletters")
        .and_then(Json::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let keys: Vec<String> = slugs
        .iter()
        .flat_map(|slug| {
            NEWSLETTER_FIELDS
                .iter()
                .map(move |f| format!("newsletters.{slug}.{f}"))
        })
        .collect();
    let mut ctx = settings_frame(app, s, "newsletters", notice);
    ctx.insert("sources", crate::ser(sources(host, &sh.stored, &keys)));
    ctx.insert("cfg", crate::ser(&sh.values));
    ctx.insert("slugs", crate::ser(&slugs));
    ctx.insert(
        "langs",
        crate::ser(Lang::ALL.iter().map(|l| l.code()).collect::<Vec<_>>()),
    );
    form_page(app, "settings-newsletters.html", ctx, error)
}

pub(crate) async fn newsletters(
    State(app): State<AppRef>,
    s: Signed,
    Query(q): Query<Done>,
) -> Response {
    let host = match allowed(&app, &s) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let notice = notice_for(&app, s.lang(), q.done.as_deref());
    newsletters_page(&app, &s, host, notice, None).await
}

pub(crate) async fn save_newsletter(
    State(app): State<AppRef>,
    s: Signed,
    RawForm(body): RawForm,
) -> Response {
    let f = fields(&body);
    if !s.csrf_ok(field(&f, "csrf")) {
        return csrf_failed(&app, &s);
    }
    let host = match allowed(&app, &s) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let slug = field(&f, "slug").trim().to_lowercase();
    let is_slug = slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if slug.is_empty() || !is_slug || slug.len() > 40 {
        let msg = format!(
            "{}: {}",
            app.theme.t(s.lang(), "admin-set-slug"),
            app.theme.t(s.lang(), "admin-set-slug-invalid")
        );
        return newsletters_page(&app, &s, host, None, Some(msg)).await;
    }
    if field(&f, "section") == "add" {
        // "Add" with a taken name would quietly rename that newsletter.
        let taken = match shown(&app, host).await {
            Ok(sh) => sh.values["newsletters"].get(&slug).is_some(),
            Err(e) => return fail(e),
        };
        if taken {
            let msg = format!(
                "{}: {}",
                app.theme.t(s.lang(), "admin-set-slug"),
                app.theme.t(s.lang(), "admin-set-slug-taken")
            );
            return newsletters_page(&app, &s, host, None, Some(msg)).await;
        }
    }
    let key = |f: &str| format!("newsletters.{slug}.{f}");
    let changes: Vec<(String, Json)> = match field(&f, "section") {
        "add" => vec![(key("name"), text(field(&f, "name")))],
        "newsletter" => {
            let lines = |name: &str| {
                Json::Array(
                    field(&f, name)
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(Json::from)
                        .collect(),
                )
            };
            vec![
                (key("name"), text(field(&f, "name"))),
                (key("cadence"), text(field(&f, "cadence"))),
                (key("timezone"), text(field(&f, "timezone"))),
                (key("from_name"), text(field(&f, "from_name"))),
                (key("from_address"), text(field(&f, "from_address"))),
                (key("reply_to"), text(field(&f, "reply_to"))),
                (
                    key("langs"),
                    Json::Array(all_of(&f, "langs").into_iter().map(Json::from).collect()),
                ),
                (key("fallback"), text(field(&f, "fallback"))),
                (key("auto_send"), Json::from(field(&f, "auto_send") == "on")),
                (key("editors"), lines("editors")),
            ]
        }
        _ => return bad_request(&app, &s),
    };
    match save(&app, &s, host, &changes).await {
        Ok(()) => redirect("/admin/settings/newsletters?done=saved"),
        Err(Failure::Refused(e)) => {
            let msg = refusal(&app, s.lang(), &e);
            newsletters_page(&app, &s, host, None, Some(msg)).await
        }
        Err(Failure::Failed(r)) => r,
    }
}

// --- mail: relays and DKIM ----------------------------------------------------------------------

async fn mail_page(
    app: &App,
    s: &Signed,
    host: &dyn SettingsHost,
    checked: Option<(usize, Vec<Step>)>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let mut ctx = settings_frame(app, s, "mail", notice);
    ctx.insert("relays", crate::ser(host.relays()));
    match host.dkim() {
        Ok(d) => ctx.insert("dkim", crate::ser(d)),
        Err(e) => ctx.insert("dkim_error", Value::from(e)),
    };
    if let Some((i, steps)) = checked {
        let ok = steps.iter().all(|st| st.ok);
        let shown: Vec<Json> = steps
            .iter()
            .map(|st| json!({ "stage": st.stage.as_str(), "ok": st.ok, "reply": st.reply }))
            .collect();
        ctx.insert(
            "checked",
            crate::ser(json!({ "index": i, "ok": ok, "steps": shown })),
        );
    }
    form_page(app, "settings-mail.html", ctx, error)
}

pub(crate) async fn mail(State(app): State<AppRef>, s: Signed, Query(q): Query<Done>) -> Response {
    let host = match allowed(&app, &s) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let notice = notice_for(&app, s.lang(), q.done.as_deref());
    mail_page(&app, &s, host, None, notice, None).await
}

/// "Test connection": the relay's answers, step by step, on the page. Nothing is sent.
pub(crate) async fn test_relay(
    State(app): State<AppRef>,
    s: Signed,
    RawForm(body): RawForm,
) -> Response {
    let f = fields(&body);
    if !s.csrf_ok(field(&f, "csrf")) {
        return csrf_failed(&app, &s);
    }
    let host = match allowed(&app, &s) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let Some(index) = field(&f, "relay").parse::<usize>().ok() else {
        return bad_request(&app, &s);
    };
    match host.probe(index).await {
        Some(steps) => {
            let ok = steps.iter().all(|st| st.ok);
            if let Err(e) = record(
                &app,
                &s,
                "settings.relay_test",
                &format!("relay {index}"),
                if ok { "ok" } else { "failed" },
            )
            .await
            {
                return fail(e);
            }
            mail_page(&app, &s, host, Some((index, steps)), None, None).await
        }
        None => bad_request(&app, &s),
    }
}

/// A selector for the next key: `<prefix>-<YYYYMMDD>`, different from the one in use.
fn next_selector(current: &str, today: time::Date) -> String {
    let prefix = current
        .rsplit_once('-')
        .filter(|(_, tail)| tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()))
        .map(|(head, _)| head)
        .unwrap_or(current);
    let stamp = format!(
        "{prefix}-{:04}{:02}{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    if stamp == current {
        format!("{stamp}-2")
    } else {
        stamp
    }
}

/// The DKIM keys: make them, prepare a new one (a rotation), switch to it, or give it up.
pub(crate) async fn dkim(State(app): State<AppRef>, s: Signed, RawForm(body): RawForm) -> Response {
    let f = fields(&body);
    if !s.csrf_ok(field(&f, "csrf")) {
        return csrf_failed(&app, &s);
    }
    let host = match allowed(&app, &s) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let status = match host.dkim() {
        Ok(d) => d,
        Err(e) => return mail_page(&app, &s, host, None, None, Some(e)).await,
    };
    let action = field(&f, "action");
    let result: Result<&str, Failure> = async {
        match action {
            "generate" => {
                host.dkim_generate(&status.selector)
                    .map_err(refused("dkim.selector"))?;
                // The key files changed what every process signs with: the version moves with
                // the audit line so that the others (and `jarida worker`) load the keys too.
                record_change(&app, &s, "settings.dkim_generate", &status.selector)
                    .await
                    .map_err(|e| Failure::Failed(fail(e)))?;
                host.reload().await.map_err(|e| Failure::Failed(fail(e)))?;
                Ok("dkim-made")
            }
            "prepare" => {
                let next = next_selector(&status.selector, time::OffsetDateTime::now_utc().date());
                host.dkim_generate(&next)
                    .map_err(refused("dkim.next_selector"))?;
                save(
                    &app,
                    &s,
                    host,
                    &[("dkim.next_selector".into(), Json::from(next))],
                )
                .await?;
                Ok("dkim-next")
            }
            "switch" if !status.next_selector.is_empty() && !status.next_records.is_empty() => {
                save(
                    &app,
                    &s,
                    host,
                    &[
                        (
                            "dkim.selector".into(),
                            Json::from(status.next_selector.clone()),
                        ),
                        ("dkim.next_selector".into(), Json::from("")),
                    ],
                )
                .await?;
                Ok("dkim-switched")
            }
            "abandon" if !status.next_selector.is_empty() => {
                save(
                    &app,
                    &s,
                    host,
                    &[("dkim.next_selector".into(), Json::from(""))],
                )
                .await?;
                host.dkim_forget(&status.next_selector)
                    .map_err(refused("dkim.next_selector"))?;
                Ok("dkim-abandoned")
            }
            _ => Err(Failure::Failed(bad_request(&app, &s))),
        }
    }
    .await;
    match result {
        Ok(done) => redirect(&format!("/admin/settings/mail?done={done}")),
        Err(Failure::Refused(e)) => {
            let msg = refusal(&app, s.lang(), &e);
            mail_page(&app, &s, host, None, None, Some(msg)).await
        }
        Err(Failure::Failed(r)) => r,
    }
}

// --- storing a change ---------------------------------------------------------------------------

enum Failure {
    /// The configuration refused a value: shown on the form.
    Refused(SettingError),
    /// Answered already (a database failure).
    Failed(Response),
}

fn refused(key: &'static str) -> impl Fn(String) -> Failure {
    move |why| {
        Failure::Refused(SettingError {
            key: key.into(),
            why,
        })
    }
}

/// A refusal in the owner's words: the field's label, then the configuration's reason.
fn refusal(app: &App, lang: Lang, e: &SettingError) -> String {
    let last = e
        .key
        .rsplit('.')
        .next()
        .unwrap_or(&e.key)
        .split('[')
        .next()
        .unwrap_or_default();
    let label_key = format!("admin-set-{}", last.replace('_', "-"));
    let label = app.theme.t(lang, &label_key);
    let label = if label == label_key {
        e.key.clone()
    } else {
        label
    };
    format!("{label}: {}", e.why)
}

/// An audit line of its own (a check or a key made, which change no stored setting).
async fn record(
    app: &App,
    s: &Signed,
    action: &str,
    object: &str,
    detail: &str,
) -> Result<(), jarida_store::StoreError> {
    let mut tx = app.db.begin().await?;
    audit::record(&mut tx, &s.actor(), action, object, detail, now()).await?;
    tx.commit().await
}

/// An audit line for a change made outside the stored settings (key files), with the version bump
/// that makes every other process reload.
async fn record_change(
    app: &App,
    s: &Signed,
    action: &str,
    object: &str,
) -> Result<(), jarida_store::StoreError> {
    let mut tx = app.db.begin().await?;
    audit::record(&mut tx, &s.actor(), action, object, "", now()).await?;
    settings::bump_in(&mut tx).await?;
    tx.commit().await
}

/// Stores `changes` (dotted keys and their new values): a value equal to the configuration file's
/// is removed rather than stored. Checked whole by the configuration first; then written with the
/// audit line and the version bump in one transaction, and applied in this process.
async fn save(
    app: &App,
    s: &Signed,
    host: &dyn SettingsHost,
    changes: &[(String, Json)],
) -> Result<(), Failure> {
    let failed = |e: jarida_store::StoreError| Failure::Failed(fail(e));
    let stored = {
        let mut c = app.db.acquire().await.map_err(failed)?;
        settings::all(c.conn()).await.map_err(failed)?
    };
    let base = host.values(&[]).map_err(Failure::Refused)?;
    let current = values_lenient(host, &stored).map_err(Failure::Refused)?;
    let label = s.actor().label;
    let mut next: Vec<Stored> = stored
        .iter()
        .filter(|st| !changes.iter().any(|(k, _)| k == &st.key))
        .cloned()
        .collect();
    let mut changed = Vec::new();
    for (key, value) in changes {
        let keep = at(&base, key) != Some(value);
        if keep {
            next.push(Stored {
                key: key.clone(),
                value: value.to_string(),
                updated_at: now(),
                updated_by: label.clone(),
            });
        }
        // A stored value that has come to equal the file's (the file changed since) goes too,
        // though what the site shows does not move.
        let had = stored.iter().any(|st| &st.key == key);
        if at(&current, key) != Some(value) || (had && !keep) {
            changed.push(key.as_str());
        }
    }
    host.values(&next).map_err(Failure::Refused)?;
    if changed.is_empty() {
        return Ok(());
    }
    let mut tx = app.db.begin().await.map_err(failed)?;
    for key in &changed {
        match next.iter().find(|st| st.key == *key) {
            Some(st) => settings::put_in(&mut tx, key, &st.value, &label, now())
                .await
                .map_err(failed)?,
            None => {
                settings::remove_in(&mut tx, key).await.map_err(failed)?;
            }
        }
    }
    settings::bump_in(&mut tx).await.map_err(failed)?;
    audit::record(
        &mut tx,
        &s.actor(),
        "settings.change",
        "settings",
        &changed.join(", "),
        now(),
    )
    .await
    .map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    host.reload().await.map_err(|e| Failure::Failed(fail(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_selectors_are_dated_and_never_the_current_one() {
        let d = time::macros::date!(2026 - 12 - 04);
        assert_eq!(next_selector("jarida", d), "jarida-20261204");
        assert_eq!(next_selector("jarida-20250101", d), "jarida-20261204");
        assert_eq!(next_selector("jarida-20261204", d), "jarida-20261204-2");
        assert_eq!(next_selector("news-2", d), "news-2-20261204");
    }

    #[test]
    fn dotted_keys_reach_nested_values() {
        let v = json!({ "newsletters": { "main": { "cadence": "0 9 * * *" } } });
        assert_eq!(
            at(&v, "newsletters.main.cadence"),
            Some(&Json::from("0 9 * * *"))
        );
        assert_eq!(at(&v, "newsletters.weekly.cadence"), None);
    }
}
