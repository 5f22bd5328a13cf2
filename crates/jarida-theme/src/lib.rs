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
    "search.html",
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

macro_rules! default_assets {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../../../themes/default/static/", $name)).as_slice())),*]
    };
}

/// The theme's other static files: fonts (SIL Open Font License, subsetted per script by
/// Fontsource, so a page downloads only the scripts it shows), the favicon and the default image
/// shared links show. Compiled in like the templates; `static/<name>` in the data folder's theme
/// replaces any of them.
const ASSETS: &[(&str, &[u8])] = default_assets!(
    "fonts/source-serif-4-latin-400-normal.woff2",
    "fonts/source-serif-4-latin-400-italic.woff2",
    "fonts/source-serif-4-latin-700-normal.woff2",
    "fonts/source-serif-4-latin-700-italic.woff2",
    "fonts/noto-naskh-arabic-arabic-400-normal.woff2",
    "fonts/noto-naskh-arabic-arabic-700-normal.woff2",
    "fonts/noto-naskh-arabic-latin-400-normal.woff2",
    "fonts/noto-naskh-arabic-latin-700-normal.woff2",
    "favicon.svg",
    "social.png",
);

/// A static file of the theme, served at a URL that carries a hash of its bytes (so browsers keep
/// it for a year and a new version is a new URL).
#[derive(Debug, Clone)]
pub struct Asset {
    /// Its name in the theme's `static/` folder (`fonts/x.woff2`, `favicon.svg`).
    pub name: String,
    /// `/static/<stem>.<hash>.<ext>`.
    pub url: String,
    pub content_type: &'static str,
    pub bytes: Arc<Vec<u8>>,
}

impl Asset {
    pub fn new(name: &str, bytes: Vec<u8>) -> Asset {
        let file = name.rsplit('/').next().unwrap_or(name);
        let (stem, ext) = file.rsplit_once('.').unwrap_or((file, ""));
        let hash = hex::encode(&Sha256::digest(&bytes)[..6]);
        Asset {
            name: name.to_string(),
            url: format!("/static/{stem}.{hash}.{ext}"),
            content_type: content_type(ext),
            bytes: Arc::new(bytes),
        }
    }
}

/// The type of a theme file by its extension: only what themes ship.
pub fn content_type(ext: &str) -> &'static str {
    match ext.to_ascii_lowercase().as_str() {
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "css" => "text/css; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// What a site may set about its theme beyond the theme folder.
#[derive(Default)]
pub struct ThemeOptions {
    /// The digits each language's interface writes numbers with (default: [`Lang::default_digits`]).
    pub digits: Vec<(Lang, jarida_core::Digits)>,
    /// Files that replace the theme's own: (`favicon.svg` or `social.png`, the file's name, bytes).
    pub replace: Vec<(String, String, Vec<u8>)>,
}

pub struct Theme {
    pub env: Environment<'static>,
    pub i18n: Arc<I18n>,
    pub css: Vec<u8>,
    /// `/static/style.<hash>.css`: the hash lets browsers keep it forever.
    pub css_url: String,
    /// Every other static file, by its name in `static/`.
    pub assets: Vec<Asset>,
}

impl Theme {
    pub fn load(theme_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        Theme::load_with(theme_dir, ThemeOptions::default())
    }

    pub fn load_with(theme_dir: Option<&Path>, opts: ThemeOptions) -> Result<Theme, ThemeError> {
        let digits = |l: Lang| {
            opts.digits
                .iter()
                .find(|(x, _)| *x == l)
                .map(|(_, d)| *d)
                .unwrap_or_else(|| l.default_digits())
        };
        let i18n = Arc::new(I18n::load_with(theme_dir, &digits)?);
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
        // Numbers a template writes itself (the year, a count) follow the page language's digits.
        let d_i18n = i18n.clone();
        env.add_filter("digits", move |state: &State, v: Value| -> String {
            let lang = state
                .lookup("lang")
                .and_then(|v| v.as_str().and_then(Lang::parse))
                .unwrap_or(Lang::En);
            d_i18n.digits(lang, &v.to_string())
        });
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
        let read = |rel: &str| -> Result<Option<Vec<u8>>, ThemeError> {
            match theme_dir
                .map(|d| d.join("static").join(rel))
                .filter(|p| p.is_file())
            {
                Some(p) => std::fs::read(&p)
                    .map(Some)
                    .map_err(|e| ThemeError::Template {
                        name: p.display().to_string(),
                        reason: e.to_string(),
                    }),
                None => Ok(None),
            }
        };
        let mut assets = Vec::with_capacity(ASSETS.len());
        for (name, default) in ASSETS {
            let bytes = read(name)?.unwrap_or_else(|| default.to_vec());
            assets.push(Asset::new(name, bytes));
        }
        for (name, file, bytes) in opts.replace {
            // A configured favicon may be a PNG where the theme's is an SVG: the URL follows the
            // file given, so the type it is served with does too.
            let a = Asset::new(&file, bytes);
            match assets.iter_mut().find(|x| x.name == name) {
                Some(slot) => {
                    *slot = Asset { name, ..a };
                }
                None => assets.push(Asset { name, ..a }),
            }
        }
        let mut css = match read("style.css")? {
            Some(b) => String::from_utf8(b).map_err(|_| ThemeError::Template {
                name: "static/style.css".into(),
                reason: "is not UTF-8".into(),
            })?,
            None => DEFAULT_CSS.to_string(),
        };
        // The stylesheet names fonts by their place in `static/`; browsers get the hashed URLs.
        for a in &assets {
            css = css.replace(
                &format!("url(\"{}\")", a.name),
                &format!("url(\"{}\")", a.url),
            );
        }
        let css = css.into_bytes();
        let css_url = format!(
            "/static/style.{}.css",
            &hex::encode(Sha256::digest(&css))[..12]
        );
        Ok(Theme {
            env,
            i18n,
            css,
            css_url,
            assets,
        })
    }

    /// The static file at `path` (`/static/…`), if the theme has one there.
    pub fn asset_at(&self, path: &str) -> Option<&Asset> {
        self.assets.iter().find(|a| a.url == path)
    }

    /// The static file named `name` in `static/` (`favicon.svg` even when a configured PNG replaced it).
    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.iter().find(|a| a.name == name)
    }

    /// The URL of the static file named `name` in `static/`.
    pub fn asset_url(&self, name: &str) -> Option<&str> {
        self.asset(name).map(|a| a.url.as_str())
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }

    /// The message `key` in `lang` (see [`I18n::t`]).
    pub fn t(&self, lang: Lang, key: &str) -> String {
        self.i18n.t(lang, key, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_names_fonts_by_their_hashed_urls() {
        let t = Theme::load(None).unwrap();
        let css = String::from_utf8(t.css.clone()).unwrap();
        for a in t.assets.iter().filter(|a| a.name.starts_with("fonts/")) {
            assert!(css.contains(&format!("url(\"{}\")", a.url)), "{}", a.name);
            assert!(!css.contains(&format!("url(\"{}\")", a.name)), "{}", a.name);
            assert_eq!(a.content_type, "font/woff2");
            assert!(a.bytes.starts_with(b"wOF2"));
            assert_eq!(t.asset_at(&a.url).map(|x| &x.name), Some(&a.name));
        }
        assert!(t.asset_url("favicon.svg").unwrap().ends_with(".svg"));
    }

    #[test]
    fn a_configured_favicon_replaces_the_themes_with_its_own_type() {
        let png = b"\x89PNG\r\n\x1a\nicon".to_vec();
        let opts = ThemeOptions {
            digits: vec![(Lang::Ar, jarida_core::Digits::Western)],
            replace: vec![("favicon.svg".into(), "newsroom.png".into(), png.clone())],
        };
        let t = Theme::load_with(None, opts).unwrap();
        let icon = t.asset("favicon.svg").unwrap();
        assert_eq!(icon.content_type, "image/png");
        assert!(icon.url.starts_with("/static/newsroom.") && icon.url.ends_with(".png"));
        assert_eq!(*icon.bytes, png);
        assert_eq!(t.assets.len(), ASSETS.len(), "replaced, not added");
        assert_eq!(
            t.i18n.number(Lang::Ar, 15),
            "15",
            "the digit setting reaches the strings"
        );
        let default = Theme::load(None).unwrap();
        assert_ne!(default.asset_url("favicon.svg"), t.asset_url("favicon.svg"));
    }
}
