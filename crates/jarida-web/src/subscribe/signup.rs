//! Signing up: the footer and newsletter-page form (no JavaScript needed) and its JSON twin. The
//! request only checks the address and the asker's limit and answers; recording the sign-up and
//! queueing its email happen after the answer, so its timing tells nothing about the address.

use super::*;

/// The consent text shown by the form in `lang`, and a short version tag of its exact wording.
pub(super) fn wording(app: &App, lang: Lang) -> String {
    let text = app.t(lang, "newsletter-consent");
    format!(
        "{lang}:{}",
        &hex::encode(Sha256::digest(text.as_bytes()))[..12]
    )
}

pub(super) fn email_error_key(e: &EmailError) -> &'static str {
    match e {
        EmailError::Empty => "email-error-empty",
        EmailError::At => "email-error-at",
        EmailError::Local(_) => "email-error-local",
        EmailError::Domain(_) => "email-error-domain",
        EmailError::TooLong => "email-error-long",
    }
}

#[derive(serde::Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    /// The honeypot: hidden from people.
    #[serde(default)]
    website: String,
    #[serde(default)]
    from: String,
}

/// The reader's address: the socket's, or behind a reverse proxy the one it reports. The proxy
/// appends what it saw to whatever the client sent, as the last entry of the last header line (a
/// client may send its own lines and entries first), so only that rightmost entry is trusted.
pub(crate) fn client_ip(app: &App, peer: SocketAddr, headers: &HeaderMap) -> String {
    app.cfg
        .client_ip_header
        .as_deref()
        .and_then(|h| forwarded_ip(headers, h))
        .unwrap_or(peer.ip())
        .to_string()
}

/// The rightmost entry of the last `name` header line, when it is an IP address.
pub fn forwarded_ip(headers: &HeaderMap, name: &str) -> Option<std::net::IpAddr> {
    let last = headers.get_all(name).iter().next_back()?;
    // Only the last entry must be text: a client's bytes earlier in the line change nothing.
    let entry = last.as_bytes().rsplit(|b| *b == b',').next()?;
    let entry = std::str::from_utf8(entry).ok()?.trim();
    entry
        .parse::<std::net::IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

pub(super) fn user_agent(h: &HeaderMap) -> Option<String> {
    h.get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(super) async fn subscribe_form(
    State(app): State<AppRef>,
    SiteLang(lang): SiteLang,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<SignupForm>,
) -> Response {
    let sent = |app: &App, email: &str| {
        let text = app.theme.i18n.t(
            lang,
            "subscribe-sent-text",
            &[("email", email.to_string().into())],
        );
        message(
            app,
            lang,
            StatusCode::OK,
            &app.t(lang, "subscribe-sent-title"),
            vec![text],
            BTreeMap::new(),
        )
    };
    if !f.website.is_empty() {
        // A bot filled the honeypot: answer as a person would be answered and do nothing. The page
        // repeats an address only once it is a valid one, so this path cannot put arbitrary text
        // on a page of ours either.
        return match jarida_audience::email::normalize(&f.email) {
            Ok(addr) => sent(&app, &addr),
            Err(e) => invalid_address(&app, lang, &e),
        };
    }
    let form_url = if same_site(&app.cfg.base_url, &f.from) {
        f.from.clone()
    } else {
        app.abs(&format!("/{lang}/newsletter/"))
    };
    let s = Signup {
        email: f.email.clone(),
        name: f.name,
        lang: lang.code().to_string(),
        source: Source::Form,
        ip: Some(client_ip(&app, peer, &headers)),
        user_agent: user_agent(&headers),
        form_url,
        wording: wording(&app, lang),
    };
    match admit(&app, &s).await {
        Ok(addr) => {
            let shown = addr.clone();
            record_off_path(&app, s, addr);
            sent(&app, &shown)
        }
        Err(AudienceError::Email(e)) => invalid_address(&app, lang, &e),
        Err(AudienceError::RateLimited) => rate_limited(&app, lang),
        Err(e) => internal(&app, lang, e),
    }
}

/// The part of a sign-up the answer waits for: a valid address, and the asker within their limit.
async fn admit(app: &App, s: &Signup) -> Result<String, AudienceError> {
    subs::admit(
        &app.db,
        s,
        app.cfg.limits,
        OffsetDateTime::now_utc(),
        &app.blocked,
    )
    .await
}

pub(super) fn invalid_address(app: &App, lang: Lang, e: &EmailError) -> Response {
    let reason = app.t(lang, email_error_key(e));
    let mut extra = BTreeMap::new();
    extra.insert("link", ser(json!({ "url": format!("/{lang}/newsletter/"), "label": app.t(lang, "nav-newsletter") })));
    message(
        app,
        lang,
        StatusCode::UNPROCESSABLE_ENTITY,
        &app.t(lang, "subscribe-invalid-title"),
        vec![reason],
        extra,
    )
}

/// Whether `url` is a page of the site at `base` (same scheme, host and port, and a path under the
/// base's): `https://news.example.evil/` starts with `https://news.example` but is not ours.
pub fn same_site(base: &str, url: &str) -> bool {
    url.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[derive(serde::Deserialize)]
pub struct ApiSignup {
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    lang: Option<String>,
}

pub(super) async fn subscribe_api(
    State(app): State<AppRef>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<ApiSignup>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "body", "reason": e.body_text() })),
            )
                .into_response();
        }
    };
    let lang = match requested_lang(&app, req.lang.as_deref()) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let s = Signup {
        email: req.email,
        name: req.name,
        lang: lang.code().to_string(),
        source: Source::Api,
        ip: Some(client_ip(&app, peer, &headers)),
        user_agent: user_agent(&headers),
        form_url: app.abs("/api/v1/subscribers"),
        wording: wording(&app, lang),
    };
    match admit(&app, &s).await {
        Ok(addr) => {
            record_off_path(&app, s, addr);
            (
                StatusCode::ACCEPTED,
                Json(json!({ "status": "check-your-email" })),
            )
                .into_response()
        }
        Err(AudienceError::Email(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "email", "reason": e.to_string() })),
        )
            .into_response(),
        Err(AudienceError::RateLimited) => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "error": "rate-limited", "reason": "too many sign-ups from this address; try again in an hour" }))).into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "API sign-up failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "internal" })),
            )
                .into_response()
        }
    }
}

/// Records an admitted sign-up and queues the email it calls for, after the answer has gone: what
/// happens here depends on whether the address is new, pending, active, bounced or suppressed, and
/// the time the answer takes must not tell which. A failure is logged; the reader, told to check
/// their email, can sign up again.
pub(super) fn record_off_path(app: &AppRef, s: Signup, addr: String) {
    let app = app.clone();
    app.after_answer.clone().spawn(async move {
        let now = OffsetDateTime::now_utc();
        let compose = |o: &SignupOutcome| compose_for(&app, o);
        match subs::signup(&app.db, &s, &addr, app.cfg.limits, now, compose).await {
            Ok(_) => app.mail.wake(),
            Err(e) => tracing::error!(error = %e, "recording a sign-up failed"),
        }
    });
}

/// The email a sign-up calls for, ready for the queue.
pub(super) fn compose_for(
    app: &App,
    outcome: &SignupOutcome,
) -> Option<jarida_mail::queue::Outgoing> {
    let (reader, notice) = match outcome {
        SignupOutcome::Confirm {
            subscriber,
            email,
            lang,
            token,
            ..
        } => (
            // No name: see `ReaderNotice::Confirm`.
            Reader {
                id: *subscriber,
                email,
                name: "",
                lang: *lang,
            },
            ReaderNotice::Confirm {
                token: token.clone(),
            },
        ),
        SignupOutcome::AlreadyActive {
            subscriber,
            email,
            name,
            lang,
        } => (
            Reader {
                id: *subscriber,
                email,
                name,
                lang: *lang,
            },
            ReaderNotice::AlreadySubscribed,
        ),
        SignupOutcome::Quiet(why) => {
            tracing::info!(why, "sign-up sends no email");
            return None;
        }
    };
    outgoing(app, &reader, notice)
}

/// Property tests over request bodies and headers the public sends. `scripts/fuzz` runs a million
/// cases each; CI proptest's default.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn form_body() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            "[a-z_]{0,8}=[a-zA-Z0-9%+.@_-]{0,20}",
            Just("newsletter=1".to_string()),
            Just("csrf=%".to_string()),
            Just("email=%FF%FE".to_string()),
            Just("=&&=".to_string()),
            ".{0,20}",
        ];
        prop::collection::vec(part, 0..8).prop_map(|p| p.join("&"))
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn fuzz_form_bodies(body in form_body()) {
            let fields = url_form(body.as_bytes());
            prop_assert!(fields.len() <= body.split('&').count());
            let _ = serde_urlencoded::from_str::<SignupForm>(&body);
        }

        #[test]
        fn fuzz_json_bodies(body in prop_oneof![
            ".{0,60}",
            "\\{\"email\": \".{0,20}\", \"lang\": \"[a-z]{0,3}\"\\}",
            "\\{\"items\": \\[[0-9, ]{0,20}\\], \"subject\": \".{0,10}\"\\}",
            "\\{\"at\": \".{0,25}\"\\}",
        ]) {
            let _ = serde_json::from_str::<ApiSignup>(&body);
            let _ = serde_json::from_str::<jarida_newsletter::editions::Edit>(&body);
            let _ = serde_json::from_str::<serde_json::Value>(&body);
        }

        #[test]
        fn fuzz_forwarded_header(lines in prop::collection::vec("[0-9a-f.:, \\[\\]]{0,40}", 0..4)) {
            let mut h = HeaderMap::new();
            for l in &lines {
                if let Ok(v) = HeaderValue::from_str(l) {
                    h.append("x-forwarded-for", v);
                }
            }
            if let Some(ip) = forwarded_ip(&h, "x-forwarded-for") {
                // Only ever the last line's last entry.
                let last = h.get_all("x-forwarded-for").iter().next_back().and_then(|v| v.to_str().ok()).unwrap_or("");
                let entry = last.rsplit(',').next().unwrap_or("").trim();
                let parsed = entry.parse::<std::net::IpAddr>().ok()
                    .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()));
                prop_assert_eq!(parsed, Some(ip), "{} -> {}", last, ip);
            }
        }

        #[test]
        fn fuzz_form_origin(url in prop_oneof![".{0,30}", "https://news\\.example[./a-z:0-9]{0,20}"]) {
            if same_site("https://news.example", &url) {
                prop_assert!(url == "https://news.example" || url.starts_with("https://news.example/"));
            }
        }
    }
}
