//! The newsroom's people: the `users` table and the roles it holds. Every query on it lives here;
//! the site's first-run setup and the editors' notices ask through these functions.

pub mod users;
