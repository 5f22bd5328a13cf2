//! One reader's message: the VERP envelope, the Message-ID, the headers, the spliced body and the
//! DKIM signature.

use super::*;

pub use jarida_audience::bounces::verp;

/// The same Message-ID every time this edition goes to this reader, so a resent message after a crash
/// is recognisable as a duplicate.
pub fn message_id(
    secret: &jarida_core::Secret,
    domain: &str,
    edition: i64,
    subscriber: i64,
) -> String {
    let t = format!("e{edition}.s{subscriber}");
    format!("{t}.{}@{domain}", secret.sign_hex("message-id", &t, 6))
}

/// Everything needed to build one reader's message, owned so that sender tasks can share it.
pub(super) struct Builder {
    pub(super) edition_id: i64,
    pub(super) edition_number: i64,
    pub(super) nl: Newsletter,
    pub(super) prepared: Arc<HashMap<String, Prepared>>,
    pub(super) secret: jarida_core::Secret,
    pub(super) site: SiteInfo,
    pub(super) bounce_domain: String,
    /// `List-Unsubscribe` also offers the mailto address.
    pub(super) mailto_unsubscribe: bool,
    pub(super) dkim: Option<Arc<DkimSigner>>,
}

impl Builder {
    pub(super) fn envelope(&self, subscriber: i64) -> String {
        verp(
            &self.secret,
            &self.bounce_domain,
            self.edition_id,
            subscriber,
        )
    }

    /// Builds the message of one reader: headers, the spliced body, then the DKIM signature.
    pub(super) fn build(&self, job: &Job) -> Result<Vec<u8>, NewsletterError> {
        let nl = &self.nl;
        let p = self.prepared.get(&job.row.lang).ok_or_else(|| {
            NewsletterError::Render(format!(
                "edition has no rendering for language {}",
                job.row.lang
            ))
        })?;
        let sid = job.row.subscriber_id;
        let token = jarida_audience::subscribers::link_token(
            &self.secret,
            jarida_core::SubscriberId(sid),
            &job.email,
        );
        let unsubscribe = self.site.abs(&format!("/newsletter/unsubscribe/{token}"));
        let manage = self
            .site
            .abs(&format!("/{}/newsletter/manage/{token}", job.row.lang));
        let from_domain = nl.from_address.rsplit('@').next().unwrap_or("localhost");
        let mut m = Vec::with_capacity(p.body.len_hint() + 1024);
        bulk::address_header(&mut m, "From", &nl.from_name, &nl.from_address);
        if let Some(r) = &nl.reply_to {
            bulk::address_header(&mut m, "Reply-To", "", r);
        }
        bulk::address_header(
            &mut m,
            "To",
            job.row.name.as_deref().unwrap_or(""),
            &job.email,
        );
        m.extend_from_slice(&p.subject_header);
        let date = OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        bulk::raw_header(&mut m, "Date", &date);
        bulk::raw_header(
            &mut m,
            "Message-ID",
            &format!(
                "<{}>",
                message_id(&self.secret, from_domain, self.edition_id, sid)
            ),
        );
        bulk::raw_header(&mut m, "MIME-Version", "1.0");
        bulk::raw_header(
            &mut m,
            "List-Id",
            &format!("{} <{}.{from_domain}>", ascii_phrase(&nl.name), nl.slug),
        );
        // The mailto target only when mail to the bounce domain reaches us (the receiver, a
        // pipe, a mailbox): an address that goes unread would lose those unsubscribes.
        let list_unsubscribe = if self.mailto_unsubscribe {
            format!(
                "<{unsubscribe}>, <mailto:{}?subject=unsubscribe>",
                crate::bounces::unsubscribe_address(
                    &self.secret,
                    &self.bounce_domain,
                    self.edition_id,
                    sid
                )
            )
        } else {
            format!("<{unsubscribe}>")
        };
        bulk::raw_header(&mut m, "List-Unsubscribe", &list_unsubscribe);
        bulk::raw_header(
            &mut m,
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click",
        );
        bulk::raw_header(
            &mut m,
            "Feedback-ID",
            &format!(
                "{}:{}:{}:jarida",
                self.edition_number, nl.slug, job.row.lang
            ),
        );
        bulk::raw_header(&mut m, "Content-Type", &p.body.content_type());
        m.extend_from_slice(b"\r\n");
        let mut values = [""; SLOTS];
        values[SLOT_UNSUBSCRIBE] = &unsubscribe;
        values[SLOT_MANAGE] = &manage;
        p.body.render(&values, &mut m);
        match &self.dkim {
            Some(s) => s
                .sign(&m, OffsetDateTime::now_utc().unix_timestamp())
                .map_err(|e| NewsletterError::Render(format!("DKIM: {e}"))),
            None => Ok(m),
        }
    }
}

/// A display name fit for `List-Id` (ASCII phrase); non-ASCII names fall back to the slug's owner.
pub(super) fn ascii_phrase(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '-')
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "Newsletter".into()
    } else {
        format!("\"{clean}\"")
    }
}
