//! A fake SMTP server: a real one on 127.0.0.1 inside the test process, with TLS (tokio-rustls
//! and a certificate for `localhost` / `127.0.0.1` from a CA made at start, whose PEM is a temp
//! file for `HUFU_SMTP_CA_FILE`).
//!
//! It speaks EHLO/HELO, STARTTLS, AUTH PLAIN and LOGIN (checking [`USER`] / [`PASSWORD`]), MAIL
//! FROM, RCPT TO, DATA, RSET, NOOP and QUIT, as a careful server does: AUTH is offered only
//! over TLS (or when no TLS is offered at all, to see the client refuse on its own), MAIL needs
//! AUTH, a new EHLO is needed after STARTTLS. [`TlsMode`] says how TLS is offered.
//!
//! Every message accepted is recorded (envelope and raw data). Knobs, each taken by the next
//! connection or message: [`FakeSmtp::reject_next`] answers an RCPT (or the end of DATA) with
//! a code, [`FakeSmtp::delay_next`] holds the next greeting back, [`FakeSmtp::drop_next`] closes
//! the connection at the end of the next DATA without answering (nothing recorded).

#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The SMTP user the server accepts.
pub const USER: &str = "hufu@example.com";
/// Its password: characters that must be percent-encoded in a URL, and a non-ASCII one.
pub const PASSWORD: &str = "p@ss:w/rd%+ 秘";
/// The `From` that [`FakeSmtp::configure`] sets.
pub const MAIL_FROM: &str = "hufu <no-reply@example.com>";

/// How the server offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain greeting, STARTTLS offered in EHLO (port 587 style): the default.
    StartTls,
    /// TLS from the first byte (port 465 style).
    Implicit,
    /// No TLS at all, AUTH offered in clear.
    None,
}

/// Where a [`FakeSmtp::reject_next_at`] rejection answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The `RCPT TO` command.
    Rcpt,
    /// The end of `DATA` (the message's final answer).
    Data,
}

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `MAIL FROM` address.
    pub from: String,
    /// The `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The data as sent, dot-stuffing undone, lines ending in CRLF.
    pub data: Vec<u8>,
    /// Whether it came over TLS.
    pub tls: bool,
    /// The user that authenticated, if any.
    pub user: Option<String>,
}

/// A message as a user's mail client shows it: headers and parts decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The decoded `Subject`.
    pub subject: String,
    /// The `From` header.
    pub from: String,
    /// The `To` header.
    pub to: String,
    /// The top-level content type (`multipart/alternative`).
    pub content_type: String,
    /// The decoded `text/plain` part.
    pub text: Option<String>,
    /// The decoded `text/html` part.
    pub html: Option<String>,
}

#[derive(Default)]
struct Knobs {
    reject: Option<(Stage, u16)>,
    delay: Option<Duration>,
    drop: bool,
}

#[derive(Default)]
struct State {
    messages: Vec<Received>,
    knobs: Knobs,
    connections: usize,
    auth_failures: usize,
}

/// The server; it stops with the test's runtime.
pub struct FakeSmtp {
    addr: std::net::SocketAddr,
    mode: TlsMode,
    state: Arc<Mutex<State>>,
    ca_file: tempfile::NamedTempFile,
}

impl FakeSmtp {
    /// A server offering STARTTLS.
    pub async fn start() -> FakeSmtp {
        FakeSmtp::start_with(TlsMode::StartTls).await
    }

    /// A server offering TLS as `mode` says.
    pub async fn start_with(mode: TlsMode) -> FakeSmtp {
        let (acceptor, ca_pem) = tls_setup();
        let mut ca_file = tempfile::NamedTempFile::new().unwrap();
        ca_file.write_all(ca_pem.as_bytes()).unwrap();
        ca_file.flush().unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let session = Session {
                    mode,
                    acceptor: acceptor.clone(),
                    state: shared.clone(),
                };
                tokio::spawn(async move {
                    // A client that goes away mid-session is nothing to report.
                    let _ = session.run(tcp).await;
                });
            }
        });
        FakeSmtp {
            addr,
            mode,
            state,
            ca_file,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The PEM file of the CA that signed its certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.ca_file.path().to_owned()
    }

    /// The `HUFU_SMTP_URL` for this server: `smtps://` in implicit mode, else `smtp://`, on
    /// host `localhost`, with [`USER`] and [`PASSWORD`] percent-encoded.
    pub fn url(&self) -> String {
        self.url_with(USER, PASSWORD)
    }

    /// [`FakeSmtp::url`] with other credentials.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        let scheme = match self.mode {
            TlsMode::Implicit => "smtps",
            TlsMode::StartTls | TlsMode::None => "smtp",
        };
        format!(
            "{scheme}://{}:{}@localhost:{}",
            encode(user),
            encode(password),
            self.port()
        )
    }

    /// Points `delivery` at this server: its URL, [`MAIL_FROM`], its CA file.
    pub fn configure(&self, delivery: &mut hufu::delivery::DeliverySettings) {
        delivery.smtp_url = Some(hufu::secret::SecretString::new(self.url()));
        delivery.mail_from = Some(MAIL_FROM.to_owned());
        delivery.smtp_ca_file = Some(self.ca_file());
    }

    /// The next RCPT TO is answered `code` (e.g. 550, 451).
    pub fn reject_next(&self, code: u16) {
        self.reject_next_at(Stage::Rcpt, code);
    }

    /// The next `stage` is answered `code`.
    pub fn reject_next_at(&self, stage: Stage, code: u16) {
        self.lock().knobs.reject = Some((stage, code));
    }

    /// The next connection gets its greeting only after `delay`.
    pub fn delay_next(&self, delay: Duration) {
        self.lock().knobs.delay = Some(delay);
    }

    /// The next message's connection is closed at the end of its DATA, unanswered.
    pub fn drop_next(&self) {
        self.lock().knobs.drop = true;
    }

    /// Every message accepted, oldest first.
    pub fn messages(&self) -> Vec<Received> {
        self.lock().messages.clone()
    }

    /// How many connections it accepted.
    pub fn connections(&self) -> usize {
        self.lock().connections
    }

    /// How many AUTH attempts it refused.
    pub fn auth_failures(&self) -> usize {
        self.lock().auth_failures
    }

    /// The latest message to `email` (an envelope recipient), parsed.
    pub fn mail_for(&self, email: &str) -> Option<Mail> {
        let message = self
            .lock()
            .messages
            .iter()
            .rev()
            .find(|m| m.to.iter().any(|to| to.eq_ignore_ascii_case(email)))
            .cloned()?;
        Some(parse(&message.data))
    }

    /// The six-digit code in the text part of the latest message to `email`.
    pub fn code_for(&self, email: &str) -> Option<String> {
        six_digits(&self.mail_for(email)?.text?)
    }

    /// [`FakeSmtp::code_for`], waiting up to `timeout` for the message.
    pub async fn wait_for_code(&self, email: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.code_for(email) {
                return Some(code);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The first run of exactly six digits in `text`.
pub fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}

/// Parses `data` as a mail client would: decoded headers, transfer encodings and charsets.
pub fn parse(data: &[u8]) -> Mail {
    use mailparse::MailHeaderMap;
    let parsed = mailparse::parse_mail(data).unwrap();
    let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_default();
    let mut text = None;
    let mut html = None;
    let mut stack = vec![&parsed];
    while let Some(part) = stack.pop() {
        match part.ctype.mimetype.as_str() {
            "text/plain" if text.is_none() => text = Some(part.get_body().unwrap()),
            "text/html" if html.is_none() => html = Some(part.get_body().unwrap()),
            _ => stack.extend(part.subparts.iter().rev()),
        }
    }
    Mail {
        subject: header("Subject"),
        from: header("From"),
        to: header("To"),
        content_type: parsed.ctype.mimetype.clone(),
        text,
        html,
    }
}

/// A CA, a certificate it signed for `localhost` and `127.0.0.1`, the acceptor serving it, and
/// the CA's PEM.
fn tls_setup() -> (TlsAcceptor, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hufu fake SMTP test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), CertificateDer::from(ca.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    (TlsAcceptor::from(Arc::new(config)), ca.pem())
}

/// A connection, plain or after the TLS handshake.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

struct Session {
    mode: TlsMode,
    acceptor: TlsAcceptor,
    state: Arc<Mutex<State>>,
}

/// What one connection has said so far.
#[derive(Default)]
struct Envelope {
    greeted: bool,
    user: Option<String>,
    from: Option<String>,
    to: Vec<String>,
}

type Io = std::io::Result<()>;

impl Session {
    async fn run(self, tcp: TcpStream) -> Io {
        let delay = {
            let mut state = self.state.lock().unwrap();
            state.connections += 1;
            state.knobs.delay.take()
        };
        let mut tls = self.mode == TlsMode::Implicit;
        let stream = if tls {
            Stream::Tls(Box::new(self.acceptor.accept(tcp).await?))
        } else {
            Stream::Plain(tcp)
        };
        let mut io = BufReader::new(stream);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        reply(&mut io, "220 localhost ESMTP hufu fake SMTP ready").await?;
        let mut envelope = Envelope::default();
        loop {
            let Some(line) = read_line(&mut io).await? else {
                return Ok(());
            };
            let (verb, rest) = match line.split_once(' ') {
                Some((verb, rest)) => (verb.to_ascii_uppercase(), rest.trim().to_owned()),
                None => (line.to_ascii_uppercase(), String::new()),
            };
            match verb.as_str() {
                "EHLO" => {
                    envelope = Envelope {
                        greeted: true,
                        ..Envelope::default()
                    };
                    let mut lines = vec!["250-localhost greets you".to_owned()];
                    if self.mode == TlsMode::StartTls && !tls {
                        lines.push("250-STARTTLS".to_owned());
                    }
                    if tls || self.mode == TlsMode::None {
                        lines.push("250-AUTH PLAIN LOGIN".to_owned());
                    }
                    lines.push("250-8BITMIME".to_owned());
                    lines.push("250 SMTPUTF8".to_owned());
                    reply(&mut io, &lines.join("\r\n")).await?;
                }
                "HELO" => {
                    envelope = Envelope {
                        greeted: true,
                        ..Envelope::default()
                    };
                    reply(&mut io, "250 localhost").await?;
                }
                "STARTTLS" if self.mode == TlsMode::StartTls && !tls => {
                    reply(&mut io, "220 2.0.0 ready to start TLS").await?;
                    // Anything the client sent ahead of the handshake is dropped, as RFC 3207
                    // asks (no command injection across the upgrade).
                    let Stream::Plain(tcp) = io.into_inner() else {
                        unreachable!("STARTTLS is only offered in clear")
                    };
                    io = BufReader::new(Stream::Tls(Box::new(self.acceptor.accept(tcp).await?)));
                    tls = true;
                    envelope = Envelope::default();
                }
                "STARTTLS" => reply(&mut io, "502 5.5.1 STARTTLS not offered").await?,
                "AUTH" if !(tls || self.mode == TlsMode::None) => {
                    reply(&mut io, "538 5.7.11 encryption required for AUTH").await?;
                }
                "AUTH" if !envelope.greeted => reply(&mut io, "503 5.5.1 EHLO first").await?,
                "AUTH" => {
                    let user = self.auth(&mut io, &rest).await?;
                    match user {
                        Some(user) => {
                            envelope.user = Some(user);
                            reply(&mut io, "235 2.7.0 authentication successful").await?;
                        }
                        None => {
                            self.state.lock().unwrap().auth_failures += 1;
                            reply(&mut io, "535 5.7.8 authentication credentials invalid").await?;
                        }
                    }
                }
                "MAIL" if envelope.user.is_none() => {
                    reply(&mut io, "530 5.7.0 authentication required").await?;
                }
                "MAIL" => match address(&rest, "FROM:") {
                    Some(from) => {
                        envelope.from = Some(from);
                        envelope.to.clear();
                        reply(&mut io, "250 2.1.0 sender ok").await?;
                    }
                    None => reply(&mut io, "501 5.5.4 syntax: MAIL FROM:<address>").await?,
                },
                "RCPT" if envelope.from.is_none() => reply(&mut io, "503 5.5.1 MAIL first").await?,
                "RCPT" => match address(&rest, "TO:") {
                    Some(to) => {
                        if let Some(code) = self.take_reject(Stage::Rcpt) {
                            reply(&mut io, &rejection(code)).await?;
                        } else {
                            envelope.to.push(to);
                            reply(&mut io, "250 2.1.5 recipient ok").await?;
                        }
                    }
                    None => reply(&mut io, "501 5.5.4 syntax: RCPT TO:<address>").await?,
                },
                "DATA" if envelope.to.is_empty() => reply(&mut io, "503 5.5.1 RCPT first").await?,
                "DATA" => {
                    reply(&mut io, "354 end data with <CR><LF>.<CR><LF>").await?;
                    let data = read_data(&mut io).await?;
                    if std::mem::take(&mut self.state.lock().unwrap().knobs.drop) {
                        return Ok(());
                    }
                    if let Some(code) = self.take_reject(Stage::Data) {
                        reply(&mut io, &rejection(code)).await?;
                    } else {
                        self.state.lock().unwrap().messages.push(Received {
                            from: envelope.from.clone().unwrap_or_default(),
                            to: envelope.to.clone(),
                            data,
                            tls,
                            user: envelope.user.clone(),
                        });
                        reply(&mut io, "250 2.0.0 queued").await?;
                    }
                    envelope.from = None;
                    envelope.to.clear();
                }
                "RSET" => {
                    envelope.from = None;
                    envelope.to.clear();
                    reply(&mut io, "250 2.0.0 reset").await?;
                }
                "NOOP" => reply(&mut io, "250 2.0.0 ok").await?,
                "QUIT" => {
                    reply(&mut io, "221 2.0.0 bye").await?;
                    return io.get_mut().shutdown().await;
                }
                _ => reply(&mut io, "500 5.5.2 command not recognized").await?,
            }
        }
    }

    /// Runs AUTH PLAIN or LOGIN; the user when the credentials are right.
    async fn auth(&self, io: &mut BufReader<Stream>, rest: &str) -> std::io::Result<Option<String>> {
        let (mechanism, initial) = match rest.split_once(' ') {
            Some((m, initial)) => (m.to_ascii_uppercase(), Some(initial.trim().to_owned())),
            None => (rest.to_ascii_uppercase(), None),
        };
        let decode = |text: &str| BASE64.decode(text).ok().and_then(|b| String::from_utf8(b).ok());
        let (user, password) = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(initial) => initial,
                    None => {
                        reply(io, "334 ").await?;
                        read_line(io).await?.unwrap_or_default()
                    }
                };
                // authzid NUL authcid NUL password (RFC 4616).
                let Some(decoded) = decode(&response) else {
                    return Ok(None);
                };
                let mut parts = decoded.split('\0');
                let (_, Some(user), Some(password)) = (parts.next(), parts.next(), parts.next()) else {
                    return Ok(None);
                };
                (user.to_owned(), password.to_owned())
            }
            "LOGIN" => {
                let user = match initial {
                    Some(initial) => initial,
                    None => {
                        reply(io, "334 VXNlcm5hbWU6").await?;
                        read_line(io).await?.unwrap_or_default()
                    }
                };
                reply(io, "334 UGFzc3dvcmQ6").await?;
                let password = read_line(io).await?.unwrap_or_default();
                match (decode(&user), decode(&password)) {
                    (Some(user), Some(password)) => (user, password),
                    _ => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        Ok((user == USER && password == PASSWORD).then_some(user))
    }

    fn take_reject(&self, stage: Stage) -> Option<u16> {
        let mut state = self.state.lock().unwrap();
        match state.knobs.reject {
            Some((at, code)) if at == stage => {
                state.knobs.reject = None;
                Some(code)
            }
            _ => None,
        }
    }
}

/// The reply line for a rejection with `code`, with an enhanced status of the same class.
fn rejection(code: u16) -> String {
    match code {
        550 => "550 5.1.1 mailbox unavailable".to_owned(),
        451 => "451 4.3.0 local error, try again later".to_owned(),
        code => format!("{code} {}.0.0 rejected by the test server", code / 100),
    }
}

/// `<address>` after `prefix` (`FROM:`, `TO:`), parameters ignored.
fn address(rest: &str, prefix: &str) -> Option<String> {
    let head = rest.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let tail = rest[prefix.len()..].trim_start();
    let inner = tail.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

async fn reply(io: &mut BufReader<Stream>, text: &str) -> Io {
    let stream = io.get_mut();
    stream.write_all(text.as_bytes()).await?;
    stream.write_all(b"\r\n").await?;
    stream.flush().await
}

/// One command line without its CRLF; `None` at the end of the stream.
async fn read_line(io: &mut BufReader<Stream>) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    if io.read_until(b'\n', &mut line).await? == 0 {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

/// The message up to the lone `.`, dot-stuffing undone.
async fn read_data(io: &mut BufReader<Stream>) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if io.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(line);
    }
}
