//! What every part that writes to readers needs to know about the site: where it lives and its
//! name in each language.

use crate::Lang;

#[derive(Debug, Clone)]
pub struct SiteInfo {
    /// Absolute URL of the site, without a trailing slash.
    pub base_url: String,
    /// Site name per language; the first stands in for a language without one.
    pub names: Vec<(Lang, String)>,
    /// The newsroom's own language: of its front page at `/`, and of the notices its editors get.
    pub default_lang: Lang,
}

impl SiteInfo {
    pub fn name(&self, lang: Lang) -> &str {
        self.names
            .iter()
            .find(|(l, _)| *l == lang)
            .or(self.names.first())
            .map(|(_, n)| n.as_str())
            .unwrap_or("")
    }

    /// `path` (starting with `/`) as an absolute URL of the site.
    pub fn abs(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}
