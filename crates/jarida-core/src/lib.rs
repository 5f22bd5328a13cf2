//! Types at the bottom of the house, which every other crate may use and which use nothing of ours:
//! [`Secret`] (the site's key and the one way anything is signed with it), [`Lang`] (the languages
//! the site publishes in and what each implies), [`EmailAddress`] (an address that can only be
//! valid and normalized), the id types, and the text rules both scripts share.

pub mod email;
pub mod ids;
pub mod lang;
pub mod live;
pub mod secret;
pub mod site;
pub mod text;
mod text_enum;

pub use email::{EmailAddress, EmailError};
pub use ids::{EditionId, SegmentId, SubscriberId};
pub use lang::{LANG_CODES, Lang, UnknownLang};
pub use live::Live;
pub use secret::Secret;
pub use site::SiteInfo;
pub use text::{Digits, arabic_digits};

/// What [`text_enum!`] expands to needs, reachable whatever the calling crate depends on.
#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use sqlx;
}
