//! The dashboard, for owners and editors: readers over time (new, confirmed, unsubscribed, net)
//! as a chart and its table, the confirmation rate of the site's sign-ups, the last editions'
//! figures, and warnings about what would hurt delivery (no DKIM signature, messages waiting on a
//! relay that refuses them, an edition whose hard bounces pass what mailbox providers tolerate),
//! and page views per day, the most read pages, the sites that sent readers and the visits each
//! edition brought. Nothing here comes from watching readers: their own records, the delivery
//! ledger, and request counts summed on the server (`crate::views`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use jarida_newsletter::deliver;
use jarida_newsletter::editions::{self, EditionStatus};
use minijinja::Value;

use super::auth::forbidden;
use super::chart::{self, Series};
use super::{Signed, fail, frame, now, page};
use crate::AppRef;

/// Hard bounces above this share of an edition's recipients draw a warning: the large mailbox
/// providers start filtering a sender past about 2%.
const BOUNCE_WARN_PERCENT: f64 = 2.0;
/// Complaints above this share of an edition's delivered messages draw a warning: the large
/// mailbox providers' bulk-sender rules ask senders to stay under 0.3%.
const COMPLAINT_WARN_PERCENT: f64 = 0.3;

#[derive(serde::Deserialize, Default)]
pub struct DashQuery {
    /// 30 or 90.
    #[serde(default)]
    days: Option<i64>,
}

pub(crate) async fn show(
    State(app): State<AppRef>,
    s: Signed,
    Query(q): Query<DashQuery>,
) -> Response {
    if !s.user.role.can_see_readers() {
        return forbidden(&app, &s);
    }
    let lang = s.lang();
    let days = match q.days {
        Some(90) => 90,
        _ => 30,
    };
    let t = now();
    let offset = jiff::Timestamp::from_second(t)
        .map(|ts| i64::from(app.cfg.timezone.to_offset(ts).seconds()))
        .unwrap_or(0);
    let figures = match jarida_audience::figures::over_time(&app.db, t, offset, days).await {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let labels: Vec<String> = figures
        .days
        .iter()
        .map(|d| {
            app.theme
                .i18n
                .date_ts(lang, d.day * 86_400 + 43_200 - offset)
        })
        .collect();
    let (joined, left, confirmed) = (
        app.theme.t(lang, "admin-dash-new"),
        app.theme.t(lang, "admin-dash-confirmed"),
        app.theme.t(lang, "admin-dash-unsubscribed"),
    );
    let summary = app.theme.i18n.t(
        lang,
        "admin-dash-readers-summary",
        &[
            ("days", days.into()),
            ("new", figures.new.into()),
            ("confirmed", figures.confirmed.into()),
            ("unsubscribed", figures.unsubscribed.into()),
            ("net", (figures.confirmed - figures.unsubscribed).into()),
        ],
    );
    let svg = chart::bars(
        "readers-chart",
        &app.theme.t(lang, "admin-dash-readers-chart"),
        &summary,
        &labels,
        &[
            Series {
                name: &joined,
                values: figures.days.iter().map(|d| d.new).collect(),
                colour: "#8fb3da",
                down: false,
            },
            Series {
                name: &confirmed,
                values: figures.days.iter().map(|d| d.confirmed).collect(),
                colour: "#0b4f8a",
                down: false,
            },
            Series {
                name: &left,
                values: figures.days.iter().map(|d| d.unsubscribed).collect(),
                colour: "#8a1010",
                down: true,
            },
        ],
        lang.is_rtl(),
    );
    let rows: Vec<serde_json::Value> = figures
        .days
        .iter()
        .zip(&labels)
        .rev()
        .map(|(d, label)| serde_json::json!({"label": label, "day": d}))
        .collect();

    // Page views, counted on the server (see `crate::views`).
    let first_day = figures.days.first().map_or(0, |d| d.day);
    let (per_day, pages, referrers) = match tokio::try_join!(
        jarida_content::views::per_day(&app.db, first_day),
        jarida_content::views::top_pages(&app.db, first_day, 10),
        jarida_content::views::top_referrers(&app.db, first_day, 10),
    ) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let views: Vec<i64> = figures
        .days
        .iter()
        .map(|d| {
            per_day
                .iter()
                .find(|(day, _)| *day == d.day)
                .map_or(0, |(_, n)| *n)
        })
        .collect();
    let views_total: i64 = views.iter().sum();
    let views_label = app.theme.t(lang, "admin-dash-views");
    let views_svg = chart::bars(
        "views-chart",
        &app.theme.t(lang, "admin-dash-views-chart"),
        &app.theme.i18n.t(
            lang,
            "admin-dash-views-summary",
            &[("days", days.into()), ("views", views_total.into())],
        ),
        &labels,
        &[Series {
            name: &views_label,
            values: views.clone(),
            colour: "#0b4f8a",
            down: false,
        }],
        lang.is_rtl(),
    );
    let view_rows: Vec<serde_json::Value> = labels
        .iter()
        .zip(&views)
        .rev()
        .map(|(l, n)| serde_json::json!({"label": l, "views": n}))
        .collect();

    // The last editions that went out, with their figures.
    let sent = match editions::list(&app.db, None).await {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let mut last = Vec::new();
    let mut warnings = Vec::new();
    for e in sent
        .iter()
        .filter(|e| {
            matches!(
                e.status,
                EditionStatus::Sending | EditionStatus::Paused | EditionStatus::Sent
            )
        })
        .take(5)
    {
        let f = match deliver::figures(&app.db, e.id).await {
            Ok(f) => f,
            Err(err) => return fail(err),
        };
        let delivered = f.sent + f.failed;
        if delivered > 0 {
            let share = f.complaints as f64 * 100.0 / delivered as f64;
            if share > COMPLAINT_WARN_PERCENT {
                warnings.push(app.theme.i18n.t(
                    lang,
                    "admin-dash-warn-complaints",
                    &[
                        ("number", e.number.into()),
                        ("percent", format!("{share:.2}").into()),
                    ],
                ));
            }
        }
        if f.recipients > 0 {
            let share = f.bounced as f64 * 100.0 / f.recipients as f64;
            if share > BOUNCE_WARN_PERCENT {
                warnings.push(app.theme.i18n.t(
                    lang,
                    "admin-dash-warn-bounces",
                    &[
                        ("number", e.number.into()),
                        ("percent", format!("{share:.1}").into()),
                    ],
                ));
            }
        }
        let visits = match jarida_content::views::from_edition(&app.db, e.id.0).await {
            Ok(n) => n,
            Err(err) => return fail(err),
        };
        last.push(serde_json::json!({"edition": e, "figures": f, "visits": visits}));
    }
    match app.engine() {
        Some(engine) if engine.cfg.dkim.get().is_none() => {
            warnings.push(app.theme.t(lang, "admin-dash-warn-dkim"));
        }
        Some(_) => {}
        None => warnings.push(app.theme.t(lang, "admin-dash-warn-no-delivery")),
    }
    let week_ago = now() - 7 * 86_400;
    match jarida_audience::bounces::refusals_since(&app.db, week_ago).await {
        Ok((n, reply)) if n > 0 => warnings.push(app.theme.i18n.t(
            lang,
            "admin-dash-warn-refused",
            &[
                ("count", n.into()),
                ("reply", reply.unwrap_or_default().into()),
            ],
        )),
        Ok(_) => {}
        Err(e) => return fail(e),
    }
    match waiting_on_relay(&app).await {
        Ok(Some((n, reply))) => warnings.push(app.theme.i18n.t(
            lang,
            "admin-dash-warn-relay",
            &[("count", n.into()), ("reply", reply.into())],
        )),
        Ok(None) => {}
        Err(e) => return fail(e),
    }

    let mut ctx = frame(
        &app,
        lang,
        Some(&s),
        app.theme.t(lang, "admin-dash-title"),
        "dashboard",
    );
    ctx.insert("days", Value::from(days));
    ctx.insert("figures", crate::ser(&figures));
    ctx.insert("rate", Value::from(figures.confirmation_rate()));
    ctx.insert("chart", Value::from_safe_string(svg));
    ctx.insert("rows", crate::ser(&rows));
    ctx.insert("last", crate::ser(&last));
    ctx.insert("views_chart", Value::from_safe_string(views_svg));
    ctx.insert("views_total", Value::from(views_total));
    ctx.insert("view_rows", crate::ser(&view_rows));
    ctx.insert("pages", crate::ser(&pages));
    ctx.insert("referrers", crate::ser(&referrers));
    ctx.insert("warnings", crate::ser(&warnings));
    page(&app, StatusCode::OK, "dashboard.html", ctx)
}

/// Messages deferred now in the editions going out (read through the ledger's index by edition), with the latest relay reply, when there are any.
async fn waiting_on_relay(
    app: &crate::App,
) -> Result<Option<(i64, String)>, jarida_store::StoreError> {
    let mut c = app.db.acquire().await?;
    let (n,): (i64,) = jarida_store::q_one!(
        c.conn(),
        (i64,),
        "SELECT COUNT(*) FROM deliveries WHERE state = 'deferred' \
         AND edition_id IN (SELECT id FROM editions WHERE status IN ('sending', 'paused'))"
    )?;
    if n == 0 {
        return Ok(None);
    }
    let reply: Option<(Option<String>,)> = jarida_store::q_opt!(
        c.conn(),
        (Option<String>,),
        "SELECT last_reply FROM deliveries WHERE state = 'deferred' \
         AND edition_id IN (SELECT id FROM editions WHERE status IN ('sending', 'paused')) \
         ORDER BY next_try_at DESC LIMIT 1"
    )?;
    let reply = reply.and_then(|r| r.0).unwrap_or_default();
    Ok(Some((n, jarida_mail::redact_addresses(&reply))))
}
