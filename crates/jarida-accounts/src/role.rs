//! The roles a newsroom gives its people, and what each may do. The web side asks these questions
//! on every page and API call; nothing is allowed by a button being hidden.

jarida_core::text_enum! {
    /// From most to least trusted.
    pub enum Role {
        /// Everything, including users and settings.
        Owner = "owner",
        /// Every post, publishing, readers, editions.
        Editor = "editor",
        /// Writes their own posts and submits them; cannot publish or see readers.
        Author = "author",
        /// Writes drafts of their own; cannot delete media.
        Contributor = "contributor",
    }
}

impl Role {
    /// Publish, unpublish and schedule any post; add corrections.
    pub fn can_publish(self) -> bool {
        matches!(self, Role::Owner | Role::Editor)
    }

    /// Edit posts written by someone else.
    pub fn can_edit_others(self) -> bool {
        self.can_publish()
    }

    /// See and manage readers (subscribers) and editions.
    pub fn can_see_readers(self) -> bool {
        matches!(self, Role::Owner | Role::Editor)
    }

    /// Invite people, change roles, read the audit log, change settings.
    pub fn can_manage_users(self) -> bool {
        self == Role::Owner
    }

    /// Delete images from the media library.
    pub fn can_delete_media(self) -> bool {
        self != Role::Contributor
    }

    /// Whether someone holding `self` may give `other` to a person (or a token): never more than
    /// one holds.
    pub fn may_grant(self, other: Role) -> bool {
        self.can_manage_users() || (self <= other && self.can_publish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_do_what() {
        assert!(Role::Owner.can_manage_users());
        assert!(!Role::Editor.can_manage_users());
        assert!(Role::Editor.can_publish() && Role::Editor.can_see_readers());
        assert!(!Role::Author.can_publish() && !Role::Author.can_see_readers());
        assert!(Role::Author.can_delete_media());
        assert!(!Role::Contributor.can_delete_media() && !Role::Contributor.can_publish());
        assert!(Role::Owner.may_grant(Role::Owner));
        assert!(Role::Editor.may_grant(Role::Author) && !Role::Editor.may_grant(Role::Owner));
        assert!(!Role::Author.may_grant(Role::Contributor));
    }
}
