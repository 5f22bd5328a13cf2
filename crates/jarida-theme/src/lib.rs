//! The theme: minijinja templates (the site's pages, its feeds, and every email), the stylesheet and
//! the interface strings in each language, with the one HTML escaper they all use. The site and the
//! mail both render through one [`Theme`], loaded once per process.
//!
//! The built-in default theme is compiled in, so the binary works alone; files in the data folder's
//! `theme/` replace any of its templates, its stylesheet or its messages without recompiling.

pub mod escape;
pub mod i18n;

use std::path::Path;
use std::sync::Arc;

use jarida_core::Lang;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};
use sha2::{Digest, Sha256};

pub use i18n::I18n;

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("theme template {name}: {reason}")]
    Template { name: String, reason: String },
    #[error("theme messages {file}: {reason}")]
    Locale { file: String, reason: String },
}

macro_rules! default_templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../themes/default/templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = default_templates!(
    "base.html",
    "macros.html",
    "home.html",
    "list.html",
    "archive.html",
    "article.html",
    "support.html",
    "newsletter.html",
    "edition.html",
    "error.html",
    "setup.html",
    "message.html",
    "manage.html",
    "data.html",
    "email.html",
    "email.txt",
    "newsletter.mjml",
    "newsletter.txt",
    "rss.xml",
    "atom.xml",
    "sitemap.xml",
);

const DEFAULT_CSS: &str = include_str!("../../../themes/default/static/style.css");

pub struct Theme {
    pub env: Environment<'static>,
    pub i18n: Arc<I18n>,
    pub css: Vec<u8>,
    /// `/static/style.<hash>.css`: the hash lets browsers keep it forever.
    pub css_url: String,
}

impl Theme {
    pub fn load(theme_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        let i18n = Arc::new(I18n::load(theme_dir)?);
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        escape::install(&mut env);
        // An email's MJML is HTML with other tags; its plain-text twin must not be escaped.
        env.set_auto_escape_callback(|name| match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("html" | "htm" | "xml" | "mjml") => minijinja::AutoEscape::Html,
            _ => minijinja::AutoEscape::None,
        });
        env.add_filter("wrap", |s: String, indent: Option<String>| -> String {
            let rest = indent.unwrap_or_default();
            jarida_core::text::wrap(&s, "", &rest)
                .trim_end()
                .to_string()
        });
        for (name, src) in TEMPLATES {
            let over = theme_dir
                .map(|d| d.join("templates").join(name))
                .filter(|p| p.is_file());
            let source = match over {
                Some(p) => std::fs::read_to_string(&p).map_err(|e| ThemeError::Template {
                    name: p.display().to_string(),
                    reason: e.to_string(),
                })?,
                None => src.to_string(),
            };
            env.add_template_owned(*name, source)
                .map_err(|e| ThemeError::Template {
                    name: name.to_string(),
                    reason: e.to_string(),
                })?;
        }
        let t_i18n = i18n.clone();
        env.add_function(
            "t",
            move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
                let lang = state
                    .lookup("lang")
                    .and_then(|v| v.as_str().and_then(Lang::parse))
                    .unwrap_or(Lang::En);
                let mut args = Vec::new();
                for k in kwargs.args() {
                    let v: Value = kwargs.get(k)?;
                    let fv = match v.as_i64() {
                        Some(n) => fluent_bundle::FluentValue::from(n),
                        None => fluent_bundle::FluentValue::from(v.to_string()),
                    };
                    args.push((k, fv));
                }
                Ok(t_i18n.t(lang, key, &args))
            },
        );
        let css = match theme_dir
            .map(|d| d.join("static/style.css"))
            .filter(|p| p.is_file())
        {
            Some(p) => std::fs::read(&p).map_err(|e| ThemeError::Template {
                name: p.display().to_string(),
                reason: e.to_string(),
            })?,
            None => DEFAULT_CSS.as_bytes().to_vec(),
        };
        let css_url = format!(
            "/static/style.{}.css",
            &hex::encode(Sha256::digest(&css))[..12]
        );
        Ok(Theme {
            env,
            i18n,
            css,
            css_url,
        })
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    /// The message `key` in `lang` (see [`I18n::t`]).
    pub fn t(&self, lang: Lang, key: &str) -> String {
        self.i18n.t(lang, key, &[])
    }
}
