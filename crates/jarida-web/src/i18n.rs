//! Interface strings in each language, from the theme's Fluent files (`locales/<lang>.ftl`). The data
//! folder's theme may override any message; the rest fall back to the built-in default theme.

use std::collections::HashMap;
use std::path::Path;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use jarida_content::LANGS;
use time::OffsetDateTime;

use crate::ThemeError;

const DEFAULTS: &[(&str, &str)] = &[
    ("en", include_str!("../../../themes/default/locales/en.ftl")),
    ("ar", include_str!("../../../themes/default/locales/ar.ftl")),
];

pub struct I18n {
    bundles: HashMap<&'static str, FluentBundle<FluentResource>>,
}

pub use jarida_core::arabic_digits;

fn arabic_number(
    v: &FluentValue,
    _: &intl_memoizer::concurrent::IntlLangMemoizer,
) -> Option<String> {
    match v {
        FluentValue::Number(n) => Some(arabic_digits(&n.as_string())),
        _ => None,
    }
}

impl I18n {
    pub fn load(theme_dir: Option<&Path>) -> Result<I18n, ThemeError> {
        let mut bundles = HashMap::new();
        for lang in LANGS {
            let id: unic_langid::LanguageIdentifier =
                lang.parse().expect("static language ids parse");
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Isolation marks keep Latin names and numbers from reordering the punctuation around them
            // in right-to-left text; in English they would only add invisible characters.
            bundle.set_use_isolating(jarida_core::is_rtl(lang));
            if jarida_core::Lang::parse(lang).is_some_and(jarida_core::Lang::arabic_digits) {
                bundle.set_formatter(Some(arabic_number));
            }
            let default = DEFAULTS
                .iter()
                .find(|(l, _)| *l == lang)
                .map(|(_, s)| *s)
                .unwrap_or("");
            let res = FluentResource::try_new(default.to_string()).map_err(|(_, e)| {
                ThemeError::Locale {
                    file: format!("default {lang}.ftl"),
                    reason: format!("{e:?}"),
                }
            })?;
            bundle.add_resource(res).map_err(|e| ThemeError::Locale {
                file: format!("default {lang}.ftl"),
                reason: format!("{e:?}"),
            })?;
            if let Some(dir) = theme_dir {
                let path = dir.join("locales").join(format!("{lang}.ftl"));
                if path.is_file() {
                    let text = std::fs::read_to_string(&path).map_err(|e| ThemeError::Locale {
                        file: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                    let res =
                        FluentResource::try_new(text).map_err(|(_, errs)| ThemeError::Locale {
                            file: path.display().to_string(),
                            reason: errs
                                .iter()
                                .map(|e| e.to_string())
                                .collect::<Vec<_>>()
                                .join("; "),
                        })?;
                    bundle.add_resource_overriding(res);
                }
            }
            bundles.insert(lang, bundle);
        }
        Ok(I18n { bundles })
    }

    /// The message `key` in `lang`; the key itself when missing, so a gap shows on the page rather
    /// than failing it.
    pub fn t(&self, lang: &str, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let Some(bundle) = self.bundles.get(lang).or_else(|| self.bundles.get("en")) else {
            return key.to_string();
        };
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(lang, key, "missing interface string");
            return key.to_string();
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, v.clone());
        }
        let mut errors = Vec::new();
        let out = bundle.format_pattern(
            pattern,
            if args.is_empty() { None } else { Some(&fargs) },
            &mut errors,
        );
        if !errors.is_empty() {
            tracing::warn!(
                lang,
                key,
                ?errors,
                "interface string did not format cleanly"
            );
        }
        out.into_owned()
    }

    /// A date as readers of `lang` write it: "27 November 2026", "٢٧ نوفمبر ٢٠٢٦".
    pub fn date(&self, lang: &str, d: OffsetDateTime) -> String {
        let month = self.t(lang, &format!("month-{}", d.month() as u8), &[]);
        let s = format!("{} {} {}", d.day(), month, d.year());
        if lang == "ar" { arabic_digits(&s) } else { s }
    }

    pub fn month_year(&self, lang: &str, year: i32, month: u8) -> String {
        let name = self.t(lang, &format!("month-{month}"), &[]);
        let s = format!("{name} {year}");
        if lang == "ar" { arabic_digits(&s) } else { s }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(i: &I18n, lang: &str, n: i64) -> String {
        i.t(lang, "posts-count", &[("count", n.into())])
            .replace(['\u{2068}', '\u{2069}'], "")
    }

    #[test]
    fn arabic_has_six_plural_forms() {
        let i = I18n::load(None).unwrap();
        let forms: Vec<String> = [0, 1, 2, 3, 11, 100]
            .iter()
            .map(|n| count(&i, "ar", *n))
            .collect();
        let distinct: std::collections::HashSet<&String> = forms.iter().collect();
        assert!(
            distinct.len() >= 5,
            "zero, one, two, few, many (other may equal many): {forms:?}"
        );
        assert!(forms[3].contains('٣'), "Arabic-Indic digits: {forms:?}");
        assert!(forms[4].contains("١١"), "{forms:?}");
        assert_eq!(count(&i, "en", 1), "1 post");
        assert_eq!(count(&i, "en", 2), "2 posts");
    }

    #[test]
    fn dates_in_each_language() {
        let i = I18n::load(None).unwrap();
        let d = time::macros::datetime!(2026-11-27 10:00 UTC);
        assert_eq!(i.date("en", d), "27 November 2026");
        assert_eq!(i.date("ar", d), "٢٧ نوفمبر ٢٠٢٦");
    }
}
