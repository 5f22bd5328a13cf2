//! Notifications: every email a reader or an editor receives from the site other than the editions
//! themselves (a confirmation link, the preference link, the welcome, the data link, the notice that
//! a draft edition waits for review, and those the admin will add). Each is built here, once, from
//! the theme's `email.html` / `email.txt` and its Fluent strings in the recipient's language, so the
//! site, the delivery worker and the command line all send the same words without the web crate.

use std::sync::Arc;

use fluent_bundle::FluentValue;
use jarida_core::{EditionId, Lang, Secret, SiteInfo, SubscriberId};
use jarida_mail::Message;
use jarida_mail::queue::Outgoing;
use jarida_theme::Theme;
use minijinja::{Value, context};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("email template {template}: {reason}")]
    Template {
        template: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Mail(#[from] jarida_mail::MailError),
}

/// Who the site's own emails come from.
#[derive(Debug, Clone)]
pub struct Sender {
    pub name: String,
    pub address: String,
    pub reply_to: Option<String>,
}

/// What an owner is alerted to about returned mail.
#[derive(Debug, Clone, Copy)]
pub enum Alert<'a> {
    /// A receiving server refused a message for policy; its words (addresses redacted).
    Refused { reply: &'a str },
    /// Edition `number` was paused: `percent` of what went out bounced hard.
    Paused { number: i64, percent: f64 },
}

/// The reader an email is for.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    pub id: SubscriberId,
    pub email: &'a str,
    /// Empty when unknown (then `To:` holds the address alone).
    pub name: &'a str,
    pub lang: Lang,
}

/// What a reader is told.
#[derive(Debug, Clone)]
pub enum ReaderNotice {
    /// Confirm a new subscription. Nothing typed into the sign-up form goes into this email, not
    /// even the name: whoever signs up a stranger's address cannot make us carry their words to it.
    Confirm { token: String },
    /// A second sign-up of an active reader: here is the preference link instead.
    AlreadySubscribed,
    /// The subscription is confirmed; carries the one-click unsubscribe.
    Welcome,
    /// The link to download or erase one's data (signed by the caller, it expires).
    DataLink { token: String },
}

/// One part (language) of a draft edition, as the editors' notice lists it.
#[derive(Debug, Clone)]
pub struct DraftPart {
    pub lang: Lang,
    pub subject: String,
    pub posts: usize,
    pub corrections: usize,
}

/// A draft edition waiting for an editor.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    pub id: EditionId,
    pub number: i64,
    pub newsletter: &'a str,
    pub parts: &'a [DraftPart],
}

/// Builds the site's notifications; cheap to share.
/// What an invitation or password-reset email says.
#[derive(Debug, Clone, Copy)]
pub struct AccountLink<'a> {
    /// A password reset (else an invitation).
    pub reset: bool,
    /// The one-time link.
    pub url: &'a str,
    /// Who invited (empty for a reset).
    pub invited_by: &'a str,
    /// The role an invitation gives (`editor`…).
    pub role: &'a str,
    /// How long the link works.
    pub hours: i64,
}

pub struct Notifier {
    theme: Arc<Theme>,
    /// Both change when an owner edits the site's name or the sender in the admin.
    site: jarida_core::Live<SiteInfo>,
    from: jarida_core::Live<Sender>,
    secret: Secret,
    /// The bounce domain when returned mail reaches us: readers' notices then carry a VERP
    /// return path, so that a confirmation that bounces stops its reader too.
    return_domain: jarida_core::Live<Option<String>>,
}

impl Notifier {
    pub fn new(theme: Arc<Theme>, site: SiteInfo, from: Sender, secret: Secret) -> Notifier {
        Notifier {
            theme,
            site: jarida_core::Live::new(site),
            from: jarida_core::Live::new(from),
            secret,
            return_domain: jarida_core::Live::new(None),
        }
    }

    /// Readers' notices go out with a VERP return path on `domain` (None: the sender's address).
    pub fn set_return_domain(&self, domain: Option<String>) {
        self.return_domain.set(domain);
    }

    /// Takes the settings an owner changed: later notices carry them.
    pub fn update(&self, site: SiteInfo, from: Sender) {
        self.site.set(site);
        self.from.set(from);
    }

    pub fn sender(&self) -> Arc<Sender> {
        self.from.get()
    }

    pub fn site(&self) -> Arc<SiteInfo> {
        self.site.get()
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    /// The reader's preference page (a signed link that does not expire).
    pub fn manage_url(&self, r: &Reader<'_>) -> String {
        let link = jarida_audience::subscribers::link_token(&self.secret, r.id, r.email);
        self.site
            .get()
            .abs(&format!("/{}/newsletter/manage/{link}", r.lang))
    }

    /// The one-click unsubscribe of the reader (RFC 8058's POST target, and a page on GET).
    pub fn unsubscribe_url(&self, r: &Reader<'_>) -> String {
        let link = jarida_audience::subscribers::link_token(&self.secret, r.id, r.email);
        self.site
            .get()
            .abs(&format!("/newsletter/unsubscribe/{link}"))
    }

    /// The email `notice` for reader `r`.
    pub fn to_reader(&self, r: &Reader<'_>, notice: &ReaderNotice) -> Result<Message, NotifyError> {
        let lang = r.lang;
        let (key, button, manage, unsubscribe, name) = match notice {
            ReaderNotice::Confirm { token } => (
                "confirm",
                Some((
                    "confirm-button",
                    self.site
                        .get()
                        .abs(&format!("/{lang}/newsletter/confirm/{token}")),
                )),
                false,
                false,
                "",
            ),
            ReaderNotice::AlreadySubscribed => (
                "manage",
                Some(("manage-link", self.manage_url(r))),
                true,
                false,
                r.name,
            ),
            ReaderNotice::Welcome => ("welcome", None, true, true, r.name),
            ReaderNotice::DataLink { token } => (
                "data",
                Some((
                    "data-link-button",
                    self.site
                        .get()
                        .abs(&format!("/{lang}/newsletter/data/{token}")),
                )),
                true,
                false,
                r.name,
            ),
        };
        let i18n = &self.theme.i18n;
        let info = self.site.get();
        let site = info.name(lang);
        let args = [("site", FluentValue::from(site))];
        let subject = i18n.plain(lang, &format!("email-{key}-subject"), &args);
        let unsubscribe_url = unsubscribe.then(|| self.unsubscribe_url(r));
        let ctx = context! {
            lang => lang.code(),
            dir => lang.dir(),
            site => site,
            subject => &subject,
            paragraphs => vec![i18n.t(lang, &format!("email-{key}-text"), &args)],
            button => button.map(|(label, url)| context! { label => self.theme.t(lang, label), url => url }),
            footer => i18n.t(lang, "email-footer", &args),
            manage_url => manage.then(|| self.manage_url(r)),
            manage_label => manage.then(|| self.theme.t(lang, "manage-link")),
            unsubscribe_url => &unsubscribe_url,
            unsubscribe_label => unsubscribe.then(|| self.theme.t(lang, "unsubscribe-button")),
        };
        let (html, text) = self.render_pair(ctx)?;
        Ok(Message {
            from_name: self.from.get().name.clone(),
            from_address: self.from.get().address.clone(),
            to_name: name.to_string(),
            to_address: r.email.to_string(),
            reply_to: self.from.get().reply_to.clone(),
            subject,
            text,
            html: Some(html),
            list_unsubscribe: unsubscribe_url.into_iter().collect(),
            one_click: true,
            envelope_from: self
                .return_domain
                .get()
                .as_deref()
                .map(|d| jarida_audience::bounces::verp(&self.secret, d, 0, r.id.0)),
            ..Default::default()
        })
    }

    /// The owner's alert that returned mail threatens delivery: a receiving server refused our
    /// mail for policy (its words quoted), or an edition was paused for its hard bounces.
    pub fn delivery_alert(
        &self,
        lang: Lang,
        alert: &Alert<'_>,
        to: &str,
    ) -> Result<Message, NotifyError> {
        let i18n = &self.theme.i18n;
        let site = self.site.get();
        let (key, args): (&str, Vec<(&str, FluentValue<'_>)>) = match alert {
            Alert::Refused { reply } => (
                "email-alert-refused",
                vec![("reply", FluentValue::from(*reply))],
            ),
            Alert::Paused { number, percent } => (
                "email-alert-paused",
                vec![
                    ("number", FluentValue::from(*number)),
                    ("percent", FluentValue::from(format!("{percent:.1}"))),
                ],
            ),
        };
        let mut args = args;
        args.push(("site", FluentValue::from(site.name(lang))));
        args.push(("admin", FluentValue::from(site.abs("/admin/dashboard"))));
        let text = format!(
            "{}\n",
            jarida_core::text::wrap(&i18n.plain(lang, &format!("{key}-text"), &args), "", "")
                .trim_end()
        );
        Ok(Message {
            from_name: self.from.get().name.clone(),
            from_address: self.from.get().address.clone(),
            to_address: to.to_string(),
            subject: i18n.plain(lang, &format!("{key}-subject"), &args),
            text,
            ..Default::default()
        })
    }

    /// The notice that a draft edition waits for review, in `lang` (the newsroom's), from the
    /// newsletter's own sender.
    pub fn draft_ready(
        &self,
        lang: Lang,
        draft: &Draft<'_>,
        from: &Sender,
        to: &str,
    ) -> Result<Message, NotifyError> {
        let i18n = &self.theme.i18n;
        let head = [
            ("newsletter", FluentValue::from(draft.newsletter)),
            ("number", FluentValue::from(draft.number)),
        ];
        let mut text = i18n.plain(lang, "email-draft-text", &head);
        text.push_str("\n\n");
        for p in draft.parts {
            let args = [
                ("lang", FluentValue::from(p.lang.code())),
                ("subject", FluentValue::from(p.subject.as_str())),
                ("posts", FluentValue::from(p.posts)),
                ("corrections", FluentValue::from(p.corrections)),
            ];
            text.push_str(&i18n.plain(lang, "email-draft-part", &args));
            text.push('\n');
        }
        // The id as text: a command is typed with ASCII digits in either language.
        let how = [
            ("id", FluentValue::from(draft.id.to_string())),
            (
                "api",
                FluentValue::from(
                    self.site
                        .get()
                        .abs(&format!("/api/v1/editions/{}", draft.id)),
                ),
            ),
        ];
        // Not wrapped: an editor copies the commands out of it whole.
        text.push('\n');
        text.push_str(&i18n.plain(lang, "email-draft-how", &how));
        text.push('\n');
        Ok(Message {
            from_name: from.name.clone(),
            from_address: from.address.clone(),
            to_address: to.to_string(),
            subject: i18n.plain(lang, "email-draft-subject", &head),
            text,
            ..Default::default()
        })
    }

    /// An invitation to join the newsroom's admin (`role` given, `url` the one-time link), or a
    /// password reset link (`invited_by` empty), in the recipient's language.
    pub fn account_link(&self, lang: Lang, link: &AccountLink<'_>, to: &str) -> Message {
        let AccountLink {
            reset,
            url,
            invited_by,
            role,
            hours,
        } = *link;
        let i18n = &self.theme.i18n;
        let site = self.site.get().name(lang).to_string();
        let args = [
            ("site", FluentValue::from(site.as_str())),
            ("name", FluentValue::from(invited_by)),
            (
                "role",
                FluentValue::from(i18n.plain(lang, &format!("admin-role-{role}"), &[])),
            ),
            ("hours", FluentValue::from(hours)),
        ];
        let (subject, intro) = if reset {
            ("email-reset-subject", "email-reset-text")
        } else {
            ("email-invite-subject", "email-invite-text")
        };
        let text = format!(
            "{}\n\n{url}\n\n{}\n",
            jarida_core::text::wrap(&i18n.plain(lang, intro, &args), "", "").trim_end(),
            jarida_core::text::wrap(&i18n.plain(lang, "email-link-expiry", &args), "", "")
                .trim_end()
        );
        Message {
            from_name: self.from.get().name.clone(),
            from_address: self.from.get().address.clone(),
            to_address: to.to_string(),
            subject: i18n.plain(lang, subject, &args),
            text,
            ..Default::default()
        }
    }

    /// `msg` as the transactional queue takes it, sent from the site's address.
    pub fn outgoing(&self, msg: Message) -> Result<Outgoing, NotifyError> {
        Ok(Outgoing {
            envelope_from: msg.envelope().to_string(),
            body: msg.to_bytes()?,
            to: msg.to_address,
        })
    }

    /// The confirmation email of a reader imported as pending; the import queues it with the
    /// reader's token, in the batch's transaction.
    pub fn confirmation_composer(self: &Arc<Self>) -> jarida_audience::csv_io::Composer {
        let me = self.clone();
        jarida_audience::csv_io::Composer(Arc::new(move |p| {
            let lang = Lang::parse(&p.lang).unwrap_or(me.site.get().default_lang);
            let reader = Reader {
                id: SubscriberId(p.id),
                email: &p.email,
                name: "",
                lang,
            };
            let notice = ReaderNotice::Confirm {
                token: p.token.clone(),
            };
            match me.to_reader(&reader, &notice).and_then(|m| me.outgoing(m)) {
                Ok(o) => Some(o),
                Err(e) => {
                    tracing::error!(error = %e, "building a confirmation email failed");
                    None
                }
            }
        }))
    }

    fn render_pair(&self, ctx: Value) -> Result<(String, String), NotifyError> {
        let render = |template: &'static str| {
            self.theme
                .render(template, ctx.clone())
                .map_err(|e| NotifyError::Template {
                    template,
                    reason: format!("{e:#}"),
                })
        };
        Ok((render("email.html")?, render("email.txt")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notifier() -> Notifier {
        let theme = Arc::new(Theme::load(None).expect("the built-in theme loads"));
        let site = SiteInfo {
            base_url: "https://news.example.org".into(),
            names: vec![(Lang::En, "Jarida".into()), (Lang::Ar, "جريدة".into())],
            default_lang: Lang::En,
        };
        let from = Sender {
            name: "Jarida".into(),
            address: "news@example.org".into(),
            reply_to: None,
        };
        Notifier::new(theme, site, from, Secret::new([3; 32]))
    }

    fn reader(lang: Lang) -> Reader<'static> {
        Reader {
            id: SubscriberId(7),
            email: "lina@example.org",
            name: "Lina",
            lang,
        }
    }

    #[test]
    fn a_confirmation_carries_only_its_link_in_the_readers_language() {
        let n = notifier();
        let token = ReaderNotice::Confirm {
            token: "tok123".into(),
        };
        let m = n.to_reader(&reader(Lang::Ar), &token).unwrap();
        assert!(m.subject.contains("جريدة"), "{}", m.subject);
        assert!(
            !m.subject.contains('\u{2068}'),
            "no isolation marks in a subject"
        );
        let html = m.html.as_deref().unwrap();
        assert!(html.contains("dir=\"rtl\""), "{html}");
        assert!(html.contains("https://news.example.org/ar/newsletter/confirm/tok123"));
        assert!(
            !html.contains("/newsletter/manage/"),
            "no preference link before consent"
        );
        assert!(m.list_unsubscribe.is_empty());
        assert_eq!(m.to_name, "", "nothing typed into the form is carried");
        let en = n.to_reader(&reader(Lang::En), &token).unwrap();
        assert!(
            en.text.contains("/en/newsletter/confirm/tok123"),
            "{}",
            en.text
        );
    }

    #[test]
    fn a_welcome_offers_one_click_unsubscribe_and_the_preference_page() {
        let n = notifier();
        let r = reader(Lang::En);
        let m = n.to_reader(&r, &ReaderNotice::Welcome).unwrap();
        assert_eq!(m.list_unsubscribe, [n.unsubscribe_url(&r)]);
        assert!(m.one_click);
        assert!(m.text.contains(&n.manage_url(&r)), "{}", m.text);
        assert_eq!(m.to_name, "Lina");
        let link = jarida_audience::subscribers::link_token(
            &Secret::new([3; 32]),
            SubscriberId(7),
            r.email,
        );
        assert!(
            n.manage_url(&r)
                .ends_with(&format!("/en/newsletter/manage/{link}"))
        );
    }

    #[test]
    fn editors_are_told_what_the_draft_holds_and_how_to_send_it() {
        let n = notifier();
        let parts = [DraftPart {
            lang: Lang::Ar,
            subject: "النشرة".into(),
            posts: 3,
            corrections: 1,
        }];
        let d = Draft {
            id: EditionId(12),
            number: 4,
            newsletter: "Jarida Weekly",
            parts: &parts,
        };
        let from = n.sender().clone();
        let m = n
            .draft_ready(Lang::En, &d, &from, "editor@example.org")
            .unwrap();
        assert_eq!(m.subject, "Draft ready: Jarida Weekly No. 4");
        assert!(m.text.contains("3 posts, 1 correction"), "{}", m.text);
        assert!(m.text.contains("jarida editions approve 12"), "{}", m.text);
        assert!(
            m.text
                .contains("https://news.example.org/api/v1/editions/12")
        );
        let ar = n
            .draft_ready(Lang::Ar, &d, &from, "editor@example.org")
            .unwrap();
        assert!(ar.subject.contains("مسودة"), "{}", ar.subject);
        assert!(
            ar.text.contains("jarida editions approve 12"),
            "{}",
            ar.text
        );
    }
}
