//! Interface strings in each language, from the theme's Fluent files (`locales/<lang>.ftl`), for the
//! site and for email alike. The data folder's theme may override any message; the rest fall back
//! to the built-in default theme.

use std::collections::BTreeMap;
use std::path::Path;

pub use fluent_bundle::FluentValue;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use jarida_core::{Digits, Lang, arabic_digits};
use time::OffsetDateTime;

use crate::ThemeError;

/// The built-in strings of each language, in [`Lang::ALL`]'s order.
const DEFAULTS: [(Lang, &str); Lang::ALL.len()] = [
    (
        Lang::En,
        include_str!("../../../themes/default/locales/en.ftl"),
    ),
    (
        Lang::Ar,
        include_str!("../../../themes/default/locales/ar.ftl"),
    ),
];

/// The admin's strings, in [`Lang::ALL`]'s order: part of every bundle, not replaceable by a
/// theme (the admin is not themed).
const ADMIN: [(Lang, &str); Lang::ALL.len()] = [
    (
        Lang::En,
        include_str!("../../../themes/admin/locales/en.ftl"),
    ),
    (
        Lang::Ar,
        include_str!("../../../themes/admin/locales/ar.ftl"),
    ),
];

pub struct I18n {
    /// One bundle per language, in [`Lang::ALL`]'s order.
    bundles: Vec<(Lang, FluentBundle<FluentResource>)>,
    /// The digits each language's interface writes numbers with, in [`Lang::ALL`]'s order.
    digits: Vec<(Lang, Digits)>,
}

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
    /// The strings with each language's default digits.
    pub fn load(theme_dir: Option<&Path>) -> Result<I18n, ThemeError> {
        I18n::load_with(theme_dir, &|l: Lang| l.default_digits())
    }

    /// The strings, with the digits `digits` names for each language.
    pub fn load_with(
        theme_dir: Option<&Path>,
        digits: &dyn Fn(Lang) -> Digits,
    ) -> Result<I18n, ThemeError> {
        let mut bundles = Vec::new();
        for (lang, default) in DEFAULTS {
            let id: unic_langid::LanguageIdentifier =
                lang.code().parse().map_err(|e| ThemeError::Locale {
                    file: format!("{lang}.ftl"),
                    reason: format!("language id: {e}"),
                })?;
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Isolation marks keep Latin names and numbers from reordering the punctuation around them
            // in right-to-left text; in English they would only add invisible characters.
            bundle.set_use_isolating(lang.is_rtl());
            if digits(lang) == Digits::ArabicIndic {
                bundle.set_formatter(Some(arabic_number));
            }
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
            let admin = ADMIN
                .iter()
                .find(|(l, _)| *l == lang)
                .map(|(_, t)| *t)
                .unwrap_or("");
            let res = FluentResource::try_new(admin.to_string()).map_err(|(_, e)| {
                ThemeError::Locale {
                    file: format!("admin {lang}.ftl"),
                    reason: format!("{e:?}"),
                }
            })?;
            bundle.add_resource(res).map_err(|e| ThemeError::Locale {
                file: format!("admin {lang}.ftl"),
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
            bundles.push((lang, bundle));
        }
        Ok(I18n {
            bundles,
            digits: Lang::ALL.iter().map(|l| (*l, digits(*l))).collect(),
        })
    }

    /// The digits `lang`'s interface writes numbers with.
    pub fn digit_rule(&self, lang: Lang) -> Digits {
        self.digits
            .iter()
            .find(|(l, _)| *l == lang)
            .map(|(_, d)| *d)
            .unwrap_or_else(|| lang.default_digits())
    }

    /// `s` with its digits written as `lang`'s interface writes them.
    pub fn digits(&self, lang: Lang, s: &str) -> String {
        self.digit_rule(lang).apply(s)
    }

    /// `n` written as `lang`'s interface writes numbers.
    pub fn number(&self, lang: Lang, n: i64) -> String {
        self.digits(lang, &n.to_string())
    }

    /// The message `key` in `lang`; the key itself when missing, so a gap shows on the page rather
    /// than failing it.
    pub fn t(&self, lang: Lang, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let Some((_, bundle)) = self.bundles.iter().find(|(l, _)| *l == lang) else {
            return key.to_string();
        };
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(%lang, key, "missing interface string");
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
                %lang,
                key,
                ?errors,
                "interface string did not format cleanly"
            );
        }
        out.into_owned()
    }

    /// The message `key` in `lang`, without the isolation marks around its arguments: for a
    /// subject line or a plain-text header, where nothing reorders them.
    pub fn plain(&self, lang: Lang, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        self.t(lang, key, args)
            .replace(['\u{2068}', '\u{2069}'], "")
    }

    /// A date as readers of `lang` write it: "27 November 2026", "٢٧ نوفمبر ٢٠٢٦".
    pub fn date(&self, lang: Lang, d: OffsetDateTime) -> String {
        let month = self.t(lang, &format!("month-{}", d.month() as u8), &[]);
        self.digits(lang, &format!("{} {} {}", d.day(), month, d.year()))
    }

    /// A date and time of day as readers of `lang` write them, with the name of the time zone
    /// `d` is in: "2 April 2026, 14:30 EEST". `d` is already in that zone.
    pub fn date_time(&self, lang: Lang, d: OffsetDateTime, zone: &str) -> String {
        let time = self.digits(lang, &format!("{:02}:{:02}", d.hour(), d.minute()));
        let zone = self.digits(lang, zone);
        self.plain(
            lang,
            "date-time",
            &[
                ("date", self.date(lang, d).into()),
                ("time", time.into()),
                ("zone", zone.into()),
            ],
        )
        .trim_end()
        .to_string()
    }

    /// [`I18n::date`] of a Unix time; empty if it is out of range.
    pub fn date_ts(&self, lang: Lang, ts: i64) -> String {
        OffsetDateTime::from_unix_timestamp(ts)
            .map(|d| self.date(lang, d))
            .unwrap_or_default()
    }

    pub fn month_year(&self, lang: Lang, year: i32, month: u8) -> String {
        let name = self.t(lang, &format!("month-{month}"), &[]);
        self.digits(lang, &format!("{name} {year}"))
    }

    /// Every message whose key starts with `prefix`, keyed by the rest: the words of a layout that
    /// a theme may reword (`edition-label-read` is `labels.read` in `newsletter.mjml`).
    pub fn group(
        &self,
        lang: Lang,
        prefix: &str,
        names: &[&'static str],
    ) -> BTreeMap<&'static str, String> {
        names
            .iter()
            .map(|n| (*n, self.plain(lang, &format!("{prefix}{n}"), &[])))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(i: &I18n, lang: Lang, n: i64) -> String {
        i.t(lang, "posts-count", &[("count", n.into())])
            .replace(['\u{2068}', '\u{2069}'], "")
    }

    #[test]
    fn arabic_has_six_plural_forms() {
        let i = I18n::load(None).unwrap();
        let forms: Vec<String> = [0, 1, 2, 3, 11, 100]
            .iter()
            .map(|n| count(&i, Lang::Ar, *n))
            .collect();
        let distinct: std::collections::HashSet<&String> = forms.iter().collect();
        assert!(
            distinct.len() >= 5,
            "zero, one, two, few, many (other may equal many): {forms:?}"
        );
        assert!(forms[3].contains('٣'), "Arabic-Indic digits: {forms:?}");
        assert!(forms[4].contains("١١"), "{forms:?}");
        assert_eq!(count(&i, Lang::En, 1), "1 post");
        assert_eq!(count(&i, Lang::En, 2), "2 posts");
    }

    #[test]
    fn dates_in_each_language() {
        let i = I18n::load(None).unwrap();
        let d = time::macros::datetime!(2026-11-27 10:00 UTC);
        assert_eq!(i.date(Lang::En, d), "27 November 2026");
        assert_eq!(i.date(Lang::Ar, d), "٢٧ نوفمبر ٢٠٢٦");
        assert_eq!(
            i.date_time(Lang::En, d, "UTC"),
            "27 November 2026, 10:00 UTC"
        );
        assert_eq!(
            i.date_time(Lang::Ar, d, "+03"),
            "٢٧ نوفمبر ٢٠٢٦، الساعة ١٠:٠٠ +٠٣"
        );
    }

    #[test]
    fn one_digit_rule_per_language_is_a_setting() {
        let western = I18n::load_with(None, &|_| Digits::Western).unwrap();
        let d = time::macros::datetime!(2026-11-27 10:00 UTC);
        assert_eq!(western.date(Lang::Ar, d), "27 نوفمبر 2026");
        assert_eq!(western.number(Lang::Ar, 12), "12");
        assert!(
            count(&western, Lang::Ar, 3).contains('3'),
            "Fluent numbers follow the rule too"
        );
        let default = I18n::load(None).unwrap();
        assert_eq!(default.number(Lang::Ar, 12), "١٢");
        assert_eq!(default.number(Lang::En, 12), "12");
    }
}
