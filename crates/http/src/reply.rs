//! Telling the vendor's answer from something else answering in its place: a web server an
//! `--endpoint` points at, a reverse proxy, a captive portal, a login redirect. Such answers
//! become [`ErrorKind::UnexpectedReply`] errors that say what came back (the status, "an
//! HTML page" with its `Content-Type` and at most its `<title>`, "an empty body", "a redirect
//! to <host>"), never the body itself.
//!
//! The judgement uses only what every HTTP answer shows, so every store (S3 through the
//! SDK's interceptor, OSS and COS through [`crate::read_reply`], Kodo through its call loop)
//! makes the same one:
//! - 2xx where the API answers (not an object's own bytes or headers): an HTML page (labelled
//!   `text/html` with a body, or a body that begins `<!DOCTYPE html` / `<html`), or for a
//!   HEAD, an HTML type without any of the vendor's headers;
//! - 3xx without any of the vendor's headers (a login page, a portal; the vendors' own
//!   redirects carry their request id or region header);
//! - 4xx that is an HTML page without the vendor's headers;
//! - 5xx is left to the vendor's mapping: load balancers in front of real servers answer
//!   those with HTML too, and a retry may help.
//!
//! A 2xx body that must be XML or JSON but is empty, not XML/JSON, or another document is
//! reported by [`Unexpected::not_document`].

use stowage_core::{Error, ErrorKind};

/// Who should have answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vendor {
    /// How messages name it: `S3`, `OSS`, `COS`, `Qiniu Kodo`.
    pub name: &'static str,
    /// `an` or `a`, as `name` is read aloud ("an OSS server", "a COS server").
    pub article: &'static str,
    /// The prefix (lower case) of the headers only the vendor sends: `x-oss-`, `x-cos-`,
    /// `x-amz-`; or a whole header name (`x-reqid`).
    pub mark: &'static str,
}

impl Vendor {
    /// Whether any of `names` (header names, any case) is one of the vendor's.
    pub fn marks<'n>(&self, mut names: impl Iterator<Item = &'n str>) -> bool {
        names.any(|n| {
            n.len() >= self.mark.len() && n[..self.mark.len()].eq_ignore_ascii_case(self.mark)
        })
    }

    fn server(&self) -> String {
        format!("{} {} server", self.article, self.name)
    }
}

/// What an answer shows, for [`Unexpected::check`].
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub location: Option<&'a str>,
    /// Whether it carries one of the vendor's headers ([`Vendor::marks`]).
    pub marked: bool,
    /// The answer to a HEAD (no body, whatever `Content-Length` says).
    pub head: bool,
    /// The body, as far as it was read (empty when not read).
    pub body: &'a [u8],
}

impl<'a> Answer<'a> {
    /// From a reqwest answer's headers and its body.
    pub fn from_headers(
        vendor: &Vendor,
        status: u16,
        headers: &'a reqwest::header::HeaderMap,
        head: bool,
        body: &'a [u8],
    ) -> Answer<'a> {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        Answer {
            status,
            content_type: header("content-type"),
            location: header("location"),
            marked: vendor.marks(headers.keys().map(|k| k.as_str())),
            head,
            body,
        }
    }
}

/// Builds the errors for answers that are not the vendor's.
#[derive(Debug, Clone, Copy)]
pub struct Unexpected<'a> {
    pub vendor: Vendor,
    /// The endpoint the request went to, named in the message when known.
    pub endpoint: Option<&'a str>,
}

/// The formats a vendor's API answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Xml => "XML",
            Format::Json => "JSON",
        }
    }
}

impl Unexpected<'_> {
    /// `Err` when `answer` is not the vendor's (see the module's rules). `object` says the
    /// answer is an object's own (a GET's bytes or a HEAD's headers): its 2xx is not judged
    /// by its content type, which is the object's.
    pub fn check(&self, answer: &Answer<'_>, object: bool) -> Result<(), Error> {
        let html = is_html_page(answer.content_type, answer.body);
        let unexpected = match answer.status {
            200..=299 if object => false,
            200..=299 => {
                html || (answer.head && is_html_type(answer.content_type) && !answer.marked)
            }
            300..=399 => !answer.marked,
            400..=499 => html && !answer.marked,
            _ => false,
        };
        if !unexpected {
            return Ok(());
        }
        Err(match answer.status {
            300..=399 => self.redirect(answer),
            _ => self.html_page(answer),
        })
    }

    /// "the endpoint answered HTTP 200 with an HTML page (text/html, titled "…"), not an
    /// S3 reply: it is not an S3 server".
    pub fn html_page(&self, answer: &Answer<'_>) -> Error {
        let mut about = media_type(answer.content_type);
        if let Some(title) = page_title(answer.body) {
            about.push_str(&format!(", titled \"{title}\""));
        }
        let v = &self.vendor;
        self.error(
            answer.status,
            format!(
                "{} answered HTTP {} with an HTML page ({about}), not {} {} reply: it is not {} (or a proxy or captive portal answers in its place)",
                self.who(),
                answer.status,
                v.article,
                v.name,
                v.server()
            ),
        )
    }

    /// "the endpoint answered HTTP 302, a redirect to login.example, not an OSS reply".
    pub fn redirect(&self, answer: &Answer<'_>) -> Error {
        let to = match answer.location.map(location_host) {
            Some(Some(host)) => format!("a redirect to {host}"),
            Some(None) => "a redirect to another page of the same host".to_string(),
            None => "a redirect without a location".to_string(),
        };
        let v = &self.vendor;
        self.error(
            answer.status,
            format!(
                "{} answered HTTP {}, {to} (a login page?), not {} {} reply: it is not {}, or something (a proxy, a captive portal) answers in its place",
                self.who(),
                answer.status,
                v.article,
                v.name,
                v.server()
            ),
        )
    }

    /// A 2xx answer to an upload with none of the vendor's headers: no request id, no
    /// `crc64_header`, no ETag.
    pub fn unmarked_upload(&self, answer: &Answer<'_>, crc64_header: &str) -> Error {
        let v = &self.vendor;
        self.error(
            answer.status,
            format!(
                "{} answered the upload with HTTP {} and none of {}'s headers (no {}… request id, no {crc64_header}, no ETag): it is not {} (or something answers in its place), and nothing says the bytes were stored",
                self.who(),
                answer.status,
                v.name,
                v.mark,
                v.server()
            ),
        )
    }

    /// A 2xx whose body must be the vendor's `format` document answering `what` (an
    /// operation) but is not: empty, an HTML page, not `format` at all, or another document
    /// (`why`, from the parser, is kept short).
    pub fn not_document(
        &self,
        what: &str,
        format: Format,
        answer: &Answer<'_>,
        why: Option<&str>,
    ) -> Error {
        if is_html_page(answer.content_type, answer.body) {
            return self.html_page(answer);
        }
        let v = &self.vendor;
        let f = format.name();
        let body = trim_start(answer.body);
        let what_came = if body.is_empty() {
            "an empty body".to_string()
        } else if !starts_like(format, body) {
            format!("{} bytes that are not {f}", answer.body.len())
        } else {
            match why.map(short) {
                Some(why) => format!("{f} but not the answer expected ({why})"),
                None => format!("{f} but not the answer expected"),
            }
        };
        self.error(
            answer.status,
            format!(
                "{} answered {what} with HTTP {} and {what_came}: the endpoint's answer is not {}'s {f}, so it is not {} (or something answers in its place)",
                self.who(),
                answer.status,
                v.name,
                v.server()
            ),
        )
    }

    fn who(&self) -> String {
        match self.endpoint {
            Some(e) => format!("the endpoint {}", e.trim_end_matches('/')),
            None => "the endpoint".to_string(),
        }
    }

    fn error(&self, status: u16, message: String) -> Error {
        Error::new(ErrorKind::UnexpectedReply, message).with_http_status(status)
    }
}

/// Whether `content_type` names an HTML document.
pub fn is_html_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let media = ct.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("text/html") || media.eq_ignore_ascii_case("application/xhtml+xml")
}

/// Whether `body` begins like an HTML document, whatever it is labelled.
pub fn starts_like_html(body: &[u8]) -> bool {
    let body = trim_start(body);
    let starts = |prefix: &[u8]| {
        body.len() >= prefix.len() && body[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    starts(b"<!doctype html") || starts(b"<html>") || starts(b"<html ")
}

/// An HTML page: labelled HTML with something in it, or a body that begins like one. (An
/// empty `text/html` answer is no page: moto labels its empty answers so.)
pub fn is_html_page(content_type: Option<&str>, body: &[u8]) -> bool {
    (is_html_type(content_type) && !trim_start(body).is_empty()) || starts_like_html(body)
}

/// The page's `<title>`: whitespace collapsed, control characters and angle brackets
/// dropped, at most 80 characters.
pub fn page_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    // ASCII lowercasing keeps every byte offset.
    let lower = text.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let len = lower[start..].find("</title")?;
    let title = text[start..start + len]
        .replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let clean: String = title
        .chars()
        .filter(|c| !c.is_control() && *c != '<' && *c != '>')
        .collect();
    let clean = truncate(&clean, 80);
    (!clean.is_empty()).then_some(clean)
}

/// "text/html", "no Content-Type": the media type only, printable, short.
fn media_type(content_type: Option<&str>) -> String {
    match content_type.map(|ct| ct.split(';').next().unwrap_or_default().trim()) {
        Some(m) if !m.is_empty() => {
            let m: String = m.chars().filter(|c| c.is_ascii_graphic()).collect();
            truncate(&m, 40)
        }
        _ => "no Content-Type".to_string(),
    }
}

/// The host (and port) of an absolute `location`; `None` for a relative one. Never the
/// path or query, which may carry the original request's signed URL.
fn location_host(location: &str) -> Option<String> {
    let (_, rest) = location.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        .collect();
    (!host.is_empty()).then(|| truncate(&host, 80))
}

fn starts_like(format: Format, body: &[u8]) -> bool {
    match format {
        Format::Xml => body.first() == Some(&b'<'),
        Format::Json => matches!(body.first(), Some(b'{' | b'[')),
    }
}

/// Without a leading byte-order mark and ASCII whitespace.
fn trim_start(body: &[u8]) -> &[u8] {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let skip = body.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &body[skip..]
}

/// A parser's complaint, short and on one line, without the values it quotes from the body
/// (`invalid type: string "…"`).
fn short(why: &str) -> String {
    let unquoted: String = why
        .split('"')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { "…" } else { part })
        .collect::<Vec<_>>()
        .join("\"");
    let one_line = unquoted.split_whitespace().collect::<Vec<_>>().join(" ");
    let clean: String = one_line
        .chars()
        .filter(|c| !c.is_control() && *c != '<' && *c != '>')
        .collect();
    truncate(&clean, 120)
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OSS: Vendor = Vendor {
        name: "OSS",
        article: "an",
        mark: "x-oss-",
    };
    const PAGE: &[u8] = b"\n<!DOCTYPE html>\n<html><head><title>\n  Welcome to\n nginx! </title></head><body><h1>Welcome</h1></body></html>";

    fn answer<'a>(status: u16, content_type: Option<&'a str>, body: &'a [u8]) -> Answer<'a> {
        Answer {
            status,
            content_type,
            location: None,
            marked: false,
            head: false,
            body,
        }
    }

    fn unexpected() -> Unexpected<'static> {
        Unexpected {
            vendor: OSS,
            endpoint: Some("http://127.0.0.1:9000/"),
        }
    }

    #[test]
    fn html_is_told_by_type_with_a_body_or_by_its_start() {
        assert!(is_html_page(Some("text/html; charset=utf-8"), b"hello"));
        assert!(is_html_page(Some("TEXT/HTML"), b"<p>hi"));
        assert!(!is_html_page(Some("text/html; charset=utf-8"), b" \n"));
        assert!(is_html_page(None, PAGE));
        assert!(is_html_page(
            Some("application/xml"),
            b"\xEF\xBB\xBF<html lang=en>"
        ));
        assert!(!is_html_page(
            Some("application/xml"),
            b"<?xml version=\"1.0\"?><a/>"
        ));
        assert!(!is_html_page(None, b"<htmlx/>"));
    }

    #[test]
    fn the_message_names_the_status_type_and_title_never_the_body() {
        let a = answer(200, Some("text/html; charset=utf-8"), PAGE);
        let e = unexpected().check(&a, false).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::UnexpectedReply);
        assert!(!e.is_retryable());
        assert_eq!(e.http_status(), Some(200));
        let text = e.to_string();
        assert!(
            text.contains("the endpoint http://127.0.0.1:9000 answered HTTP 200 with an HTML page (text/html, titled \"Welcome to nginx!\"), not an OSS reply: it is not an OSS server"),
            "{text}"
        );
        assert!(!text.contains('<') && !text.contains("<h1>"), "{text}");
        // An object's own answer is judged by nobody's content type but its own.
        assert!(unexpected().check(&a, true).is_ok());
    }

    #[test]
    fn titles_are_cleaned_and_cut() {
        let long = format!("<title>{}</title>", "x".repeat(200));
        let t = page_title(long.as_bytes()).unwrap();
        assert_eq!(t.chars().count(), 81, "80 and an ellipsis");
        assert_eq!(
            page_title(b"<TITLE>A &amp; B\x07 <script></TITLE>").as_deref(),
            Some("A & B script")
        );
        assert_eq!(page_title(b"<title></title>"), None);
        assert_eq!(page_title(b"no title"), None);
    }

    #[test]
    fn redirects_name_the_host_only_and_the_vendors_own_pass() {
        let mut a = answer(302, Some("text/html"), PAGE);
        a.location =
            Some("https://user@login.portal.test:8443/p?orig=https%3A%2F%2Fb%3FSignature%3Dsecret");
        let text = unexpected().check(&a, false).unwrap_err().to_string();
        assert!(
            text.contains("a redirect to login.portal.test:8443"),
            "{text}"
        );
        assert!(
            !text.contains("Signature") && !text.contains("user"),
            "{text}"
        );
        a.location = Some("/login");
        let text = unexpected().check(&a, false).unwrap_err().to_string();
        assert!(text.contains("another page of the same host"), "{text}");
        a.marked = true;
        assert!(unexpected().check(&a, false).is_ok(), "OSS's own redirect");
    }

    #[test]
    fn client_errors_only_as_pages_and_server_errors_never() {
        assert!(
            unexpected()
                .check(&answer(403, Some("text/html"), PAGE), false)
                .is_err()
        );
        let empty_moto_404 = answer(404, Some("text/html; charset=utf-8"), b"");
        assert!(unexpected().check(&empty_moto_404, false).is_ok());
        let mut marked = answer(403, Some("text/html"), PAGE);
        marked.marked = true;
        assert!(unexpected().check(&marked, false).is_ok());
        assert!(
            unexpected()
                .check(&answer(502, Some("text/html"), PAGE), false)
                .is_ok()
        );
    }

    #[test]
    fn heads_without_a_body_are_judged_by_type_and_marks() {
        let mut a = answer(200, Some("text/html"), b"");
        a.head = true;
        assert!(
            unexpected().check(&a, false).is_err(),
            "HEAD / from a portal"
        );
        assert!(
            unexpected().check(&a, true).is_ok(),
            "an HTML object's HEAD"
        );
        a.marked = true;
        assert!(unexpected().check(&a, false).is_ok());
    }

    #[test]
    fn documents_that_are_not_the_vendors() {
        let u = unexpected();
        let text = |body: &[u8], why| {
            u.not_document("ListObjectsV2", Format::Xml, &answer(200, None, body), why)
                .to_string()
        };
        let empty = text(b"", None);
        assert!(
            empty.contains("answered ListObjectsV2 with HTTP 200 and an empty body: the endpoint's answer is not OSS's XML, so it is not an OSS server"),
            "{empty}"
        );
        assert!(text(b"OK", None).contains("2 bytes that are not XML"));
        let other = text(b"<a/>", Some("missing field `Contents`\n<b>"));
        assert!(
            other.contains("answered ListObjectsV2 with HTTP 200 and XML but not the answer expected (missing field `Contents` b): the endpoint's answer is not OSS's XML"),
            "{other}"
        );
        assert!(text(PAGE, None).contains("an HTML page (no Content-Type"));
        let quoted = text(
            b"<a/>",
            Some("invalid type: string \"s3cr3t\", expected u64"),
        );
        assert!(
            quoted.contains("(invalid type: string \"…\", expected u64)")
                && !quoted.contains("s3cr3t"),
            "{quoted}"
        );
        let json = u.not_document("rs /stat", Format::Json, &answer(200, None, b"<x/>"), None);
        assert!(
            json.to_string().contains("4 bytes that are not JSON"),
            "{json}"
        );
    }

    #[test]
    fn vendor_marks_are_prefixes_or_names() {
        assert!(OSS.marks(["Content-Type", "X-Oss-Request-Id"].into_iter()));
        assert!(!OSS.marks(["content-type", "x-cos-request-id"].into_iter()));
        let kodo = Vendor {
            name: "Qiniu Kodo",
            article: "a",
            mark: "x-reqid",
        };
        assert!(kodo.marks(["X-Reqid"].into_iter()));
    }
}
