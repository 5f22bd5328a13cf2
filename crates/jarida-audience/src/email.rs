//! Email addresses: the type and its rules live at the bottom of the house ([`jarida_core::email`]);
//! this module keeps the audience's historical path to them.

pub use jarida_core::email::{EmailAddress, EmailError, fingerprint, normalize};
