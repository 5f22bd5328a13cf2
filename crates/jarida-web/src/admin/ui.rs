//! The admin's look: its templates, stylesheet and script, compiled into the binary and not
//! replaceable by a site theme (a theme must not be able to break or script the admin). Its
//! strings are Fluent messages beside the site's (`themes/admin/locales/`), loaded by the theme's
//! [`jarida_theme::I18n`] so each language's digits apply here too.

use std::sync::Arc;

use jarida_core::Lang;
use jarida_theme::I18n;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};
use sha2::{Digest, Sha256};

macro_rules! admin_templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../../themes/admin/templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = admin_templates!(
    "layout.html",
    "signin.html",
    "code.html",
    "posts.html",
    "editor.html",
    "revisions.html",
    "side-by-side.html",
    "readers.html",
    "reader.html",
    "reader-new.html",
    "reader-erase.html",
    "reader-import.html",
    "job.html",
    "jobs.html",
    "editions.html",
    "dashboard.html",
    "edition.html",
    "edition-compose.html",
    "account.html",
    "users.html",
    "accept.html",
    "audit.html",
    "message.html",
    "media.html",
    "redirects.html",
    "reset.html",
    "reset-choose.html",
    "settings-tabs.html",
    "settings.html",
    "settings-newsletters.html",
    "settings-mail.html",
);

const CSS: &[u8] = include_bytes!("../../../../themes/admin/static/admin.css");
const JS: &[u8] = include_bytes!("../../../../themes/admin/static/admin.js");

/// A static file of the admin at a URL carrying a hash of its bytes.
pub struct AdminAsset {
    pub url: String,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

fn asset(stem: &str, ext: &str, content_type: &'static str, bytes: &'static [u8]) -> AdminAsset {
    let hash = hex::encode(&Sha256::digest(bytes)[..6]);
    AdminAsset {
        url: format!("/admin/static/{stem}.{hash}.{ext}"),
        content_type,
        bytes,
    }
}

pub struct Ui {
    env: Environment<'static>,
    pub css: AdminAsset,
    pub js: AdminAsset,
}

impl Ui {
    pub fn new(i18n: Arc<I18n>, zone: jiff::tz::TimeZone) -> Result<Ui, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        jarida_theme::escape::install(&mut env);
        for (name, src) in TEMPLATES {
            env.add_template(name, src)?;
        }
        let lang_of = |state: &State| {
            state
                .lookup("lang")
                .and_then(|v| v.as_str().and_then(Lang::parse))
                .unwrap_or(Lang::En)
        };
        let t_i18n = i18n.clone();
        env.add_function(
            "t",
            move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
                let mut args = Vec::new();
                for k in kwargs.args() {
                    let v: Value = kwargs.get(k)?;
                    let fv = match v.as_i64() {
                        Some(n) => jarida_theme::i18n::FluentValue::from(n),
                        None => jarida_theme::i18n::FluentValue::from(v.to_string()),
                    };
                    args.push((k, fv));
                }
                Ok(t_i18n.t(lang_of(state), key, &args))
            },
        );
        let d_i18n = i18n.clone();
        env.add_filter("digits", move |state: &State, v: Value| -> String {
            d_i18n.digits(lang_of(state), &v.to_string())
        });
        // Unix seconds as the newsroom's clock shows them: "2026-12-03 14:05".
        let w_i18n = i18n.clone();
        let i18n_day = i18n;
        env.add_filter("when", move |state: &State, v: Value| -> String {
            let Some(ts) = v.as_i64() else {
                return String::new();
            };
            let Ok(t) = jiff::Timestamp::from_second(ts) else {
                return String::new();
            };
            let z = t.to_zoned(zone.clone());
            w_i18n.digits(lang_of(state), &z.strftime("%Y-%m-%d %H:%M").to_string())
        });
        // A day as readers of the language write it ("3 December 2026"), from Unix seconds or an
        // RFC 3339 time.
        let day_i18n = i18n_day;
        env.add_filter("day", move |state: &State, v: Value| -> String {
            let ts = v.as_i64().or_else(|| {
                v.as_str().and_then(|s| {
                    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .ok()
                        .map(|t| t.unix_timestamp())
                })
            });
            ts.map(|t| day_i18n.date_ts(lang_of(state), t))
                .unwrap_or_default()
        });
        let css = asset("admin", "css", "text/css; charset=utf-8", CSS);
        let js = asset("admin", "js", "text/javascript; charset=utf-8", JS);
        Ok(Ui { env, css, js })
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    pub fn asset(&self, path: &str) -> Option<&AdminAsset> {
        [&self.css, &self.js].into_iter().find(|a| a.url == path)
    }
}
