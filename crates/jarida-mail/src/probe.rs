//! "Test connection" for a relay: connect, greet, secure, authenticate and offer the sender, then
//! leave without sending anything, reporting each step with what the relay answered. An owner
//! setting up a relay needs the relay's own words ("535 5.7.8 authentication failed", "STARTTLS not
//! offered"), which the send path folds into one error.

use mail_send::SmtpClient;
use mail_send::smtp::tls::build_tls_connector;
use smtp_proto::{EhloResponse, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::{Smtp, TlsMode};

/// The steps of a check, in order; a check stops at the first that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The TCP connection (and, for implicit TLS, the handshake).
    Connect,
    /// The relay's 220 greeting.
    Greeting,
    /// EHLO and the extensions offered.
    Ehlo,
    /// STARTTLS and the handshake after it.
    StartTls,
    /// AUTH with the configured credentials.
    Auth,
    /// MAIL FROM with the sender address (then RSET: nothing is sent).
    Sender,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "ehlo",
            Stage::StartTls => "starttls",
            Stage::Auth => "auth",
            Stage::Sender => "sender",
        }
    }
}

/// One step and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub stage: Stage,
    pub ok: bool,
    /// The relay's reply, or what went wrong before it could answer.
    pub reply: String,
}

fn reply_text(r: &Response<String>) -> String {
    let esc = if r.esc[0] != 0 {
        format!(" {}.{}.{}", r.esc[0], r.esc[1], r.esc[2])
    } else {
        String::new()
    };
    format!("{}{esc} {}", r.code, r.message.trim())
}

fn extensions(e: &EhloResponse<String>) -> String {
    use smtp_proto::*;
    let mut out = vec![e.hostname.clone()];
    for (flag, name) in [
        (EXT_START_TLS, "STARTTLS"),
        (EXT_PIPELINING, "PIPELINING"),
        (EXT_SIZE, "SIZE"),
        (EXT_8BIT_MIME, "8BITMIME"),
        (EXT_SMTP_UTF8, "SMTPUTF8"),
        (EXT_ENHANCED_STATUS_CODES, "ENHANCEDSTATUSCODES"),
        (EXT_DSN, "DSN"),
    ] {
        if e.has_capability(flag) {
            out.push(name.to_string());
        }
    }
    if e.has_capability(EXT_AUTH) {
        let mut mechs = Vec::new();
        for (flag, name) in [
            (AUTH_PLAIN, "PLAIN"),
            (AUTH_LOGIN, "LOGIN"),
            (AUTH_CRAM_MD5, "CRAM-MD5"),
            (AUTH_XOAUTH2, "XOAUTH2"),
        ] {
            if e.auth_mechanisms & flag != 0 {
                mechs.push(name);
            }
        }
        out.push(format!("AUTH {}", mechs.join(" ")));
    }
    out.join(", ")
}

struct Report(Vec<Step>);

impl Report {
    fn push(&mut self, stage: Stage, ok: bool, reply: impl Into<String>) -> bool {
        self.0.push(Step {
            stage,
            ok,
            reply: reply.into(),
        });
        ok
    }
}

/// Checks the relay `s` with `sender` as the envelope sender. Never sends a message.
pub async fn probe(s: &Smtp, sender: &str) -> Vec<Step> {
    let mut r = Report(Vec::new());
    let addr = format!("{}:{}", s.host, s.port);
    let tcp = match tokio::time::timeout(s.timeout, TcpStream::connect(&addr)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            r.push(Stage::Connect, false, format!("{addr}: {e}"));
            return r.0;
        }
        Err(_) => {
            r.push(
                Stage::Connect,
                false,
                format!("{addr}: no answer in {:?}", s.timeout),
            );
            return r.0;
        }
    };
    let _ = tcp.set_nodelay(true);
    let client = SmtpClient {
        stream: tcp,
        timeout: s.timeout,
    };
    let tls = match build_tls_connector(s.accept_invalid_certs) {
        Ok(t) => t,
        Err(e) => {
            r.push(Stage::Connect, false, e);
            return r.0;
        }
    };
    match s.tls {
        TlsMode::Implicit => match client.into_tls(&tls, &s.host).await {
            Ok(mut c) => {
                r.push(Stage::Connect, true, format!("{addr}, TLS"));
                if greet(&mut c, &mut r).await {
                    converse(&mut c, s, sender, &mut r).await;
                }
            }
            Err(e) => {
                r.push(Stage::Connect, false, format!("{addr}: TLS: {e}"));
            }
        },
        TlsMode::StartTls => {
            let mut c = client;
            r.push(Stage::Connect, true, addr.clone());
            if !greet(&mut c, &mut r).await {
                return r.0;
            }
            match c.ehlo(&s.helo).await {
                Ok(e) if e.has_capability(smtp_proto::EXT_START_TLS) => {
                    r.push(Stage::Ehlo, true, extensions(&e));
                }
                Ok(e) => {
                    r.push(
                        Stage::StartTls,
                        false,
                        format!("not offered (EHLO: {})", extensions(&e)),
                    );
                    return r.0;
                }
                Err(e) => {
                    r.push(Stage::Ehlo, false, e.to_string());
                    return r.0;
                }
            }
            match c.start_tls(&tls, &s.host).await {
                Ok(mut c) => {
                    r.push(Stage::StartTls, true, "TLS established");
                    converse(&mut c, s, sender, &mut r).await;
                }
                Err(e) => {
                    r.push(Stage::StartTls, false, e.to_string());
                }
            }
        }
        TlsMode::None => {
            let mut c = client;
            r.push(Stage::Connect, true, addr.clone());
            if greet(&mut c, &mut r).await {
                converse(&mut c, s, sender, &mut r).await;
            }
        }
    }
    r.0
}

async fn greet<T: AsyncRead + AsyncWrite + Unpin>(c: &mut SmtpClient<T>, r: &mut Report) -> bool {
    // mail-send's `read` waits without a limit (its commands have one): a port that accepts and
    // never greets (the wrong port, a tarpit) must end in a step of the report, not a hung page.
    let limit = c.timeout;
    match tokio::time::timeout(limit, c.read()).await {
        Ok(Ok(g)) => r.push(Stage::Greeting, g.code == 220, reply_text(&g)),
        Ok(Err(e)) => r.push(Stage::Greeting, false, e.to_string()),
        Err(_) => r.push(Stage::Greeting, false, format!("no greeting in {limit:?}")),
    }
}

/// EHLO (again, after TLS), AUTH when credentials are set, MAIL FROM, RSET and QUIT.
async fn converse<T: AsyncRead + AsyncWrite + Unpin>(
    c: &mut SmtpClient<T>,
    s: &Smtp,
    sender: &str,
    r: &mut Report,
) {
    let caps = match c.ehlo(&s.helo).await {
        Ok(e) => {
            r.push(Stage::Ehlo, true, extensions(&e));
            e
        }
        Err(e) => {
            r.push(Stage::Ehlo, false, e.to_string());
            return;
        }
    };
    if !s.username.is_empty() {
        let creds = mail_send::Credentials::new(s.username.clone(), s.password.clone());
        match c.authenticate(&creds, &caps).await {
            Ok(_) => r.push(Stage::Auth, true, format!("signed in as {}", s.username)),
            Err(e) => {
                r.push(Stage::Auth, false, e.to_string());
                return;
            }
        };
    }
    match c.cmd(format!("MAIL FROM:<{sender}>\r\n")).await {
        Ok(m) => {
            let ok = (200..300).contains(&m.code);
            r.push(Stage::Sender, ok, reply_text(&m));
        }
        Err(e) => {
            r.push(Stage::Sender, false, e.to_string());
        }
    }
    let _ = c.cmd(b"RSET\r\n").await;
    let _ = c.cmd(b"QUIT\r\n").await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A port that takes the connection and never says a word ends the check at the greeting.
    #[tokio::test]
    async fn a_relay_that_never_greets_is_reported_not_waited_for() {
        #![allow(clippy::unwrap_used)]
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let (sock, _) = l.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(sock);
        });
        let s = Smtp {
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::None,
            username: String::new(),
            password: String::new(),
            helo: "test.example.org".into(),
            timeout: Duration::from_millis(300),
            accept_invalid_certs: false,
        };
        let started = std::time::Instant::now();
        let steps = probe(&s, "news@example.org").await;
        assert!(started.elapsed() < Duration::from_secs(5), "{steps:?}");
        let last = steps.last().unwrap();
        assert!(
            matches!(last.stage, Stage::Greeting) && !last.ok,
            "{steps:?}"
        );
        assert!(last.reply.contains("no greeting"), "{steps:?}");
        hold.abort();
    }
}
