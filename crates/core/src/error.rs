//! One error type for every store: a [`ErrorKind`] that says what went wrong, whether a
//! retry can help, and the context a person needs to fix it (vendor code, HTTP status,
//! request id, bucket, key). Its `Display` names the likely cause and the fix.
//!
//! Secrets never enter an [`Error`]: adapters build them from status codes, vendor error
//! codes and messages, never from request headers or signed URLs.

use std::fmt;

/// What went wrong, independent of the vendor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object does not exist.
    NotFound,
    /// The bucket does not exist (or the name is misspelt).
    BucketNotFound,
    /// The credentials are valid but lack permission for this operation.
    AccessDenied,
    /// The access key is unknown, expired, or missing.
    InvalidCredentials,
    /// The server computed a different signature: usually a wrong secret key.
    SignatureMismatch,
    /// The bucket lives in another region than the endpoint used.
    WrongRegion {
        /// The bucket's real region, when the server said it.
        bucket_region: Option<String>,
    },
    /// The local clock differs too much from the server's.
    ClockSkew,
    /// The server asked us to slow down.
    RateLimited,
    /// The server failed (5xx).
    ServerError,
    /// The connection failed, was reset, or timed out.
    Network,
    /// The TLS handshake failed: the server's certificate is not trusted, names another
    /// host, or has expired. Not retried: the same certificate comes back.
    Tls,
    /// The bytes stored differ from the bytes sent.
    ChecksumMismatch,
    /// The request itself is invalid: a bad key, URL, option, or unreadable local file.
    InvalidInput,
    /// The store does not support this operation.
    Unsupported,
    /// The multipart upload id is unknown (completed, aborted, or expired).
    UploadNotFound,
    /// The store answered success but gave no proof (a checksum or an MD5 ETag matching
    /// the bytes sent, on the reply or on a HEAD) that it holds them. Never a landing.
    NotConfirmed,
    /// The endpoint did not answer in the vendor's protocol: an HTML page, an empty body
    /// where XML or JSON is due, a redirect to a login page. Usually a wrong endpoint, a
    /// proxy or a captive portal.
    UnexpectedReply,
    /// A local file changed (size, time or content) while it was being sent; what was sent
    /// is not what the file now holds.
    LocalFileChanged,
    /// A local filesystem is full (ENOSPC or a quota).
    DiskFull,
    /// A local path cannot be read or written: permissions, a missing directory, a
    /// read-only or failing disk.
    LocalIo,
    /// The upload journal cannot be used: damaged, unreadable, or locked.
    Journal,
    /// Anything not classified above.
    Other,
}

impl ErrorKind {
    /// Whether retrying the same request may succeed.
    pub fn is_retryable_by_default(&self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::ServerError
                | ErrorKind::Network
                | ErrorKind::ChecksumMismatch
                | ErrorKind::NotConfirmed
                | ErrorKind::LocalFileChanged
        )
    }

    /// Whether the error is about this machine (its files, disks or journal) rather than
    /// the store: such errors never carry a vendor's fix.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            ErrorKind::LocalFileChanged
                | ErrorKind::DiskFull
                | ErrorKind::LocalIo
                | ErrorKind::Journal
        )
    }

    fn summary(&self) -> &'static str {
        match self {
            ErrorKind::NotFound => "object not found",
            ErrorKind::BucketNotFound => "bucket not found",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::InvalidCredentials => "invalid credentials",
            ErrorKind::SignatureMismatch => "signature mismatch",
            ErrorKind::WrongRegion { .. } => "wrong region",
            ErrorKind::ClockSkew => "clock skew",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::ServerError => "server error",
            ErrorKind::Network => "network error",
            ErrorKind::Tls => "TLS certificate not accepted",
            ErrorKind::ChecksumMismatch => "checksum mismatch",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::UploadNotFound => "multipart upload not found",
            ErrorKind::NotConfirmed => "not confirmed",
            ErrorKind::UnexpectedReply => "not the storage protocol",
            ErrorKind::LocalFileChanged => "local file changed",
            ErrorKind::DiskFull => "disk full",
            ErrorKind::LocalIo => "local I/O error",
            ErrorKind::Journal => "journal unusable",
            ErrorKind::Other => "storage error",
        }
    }

    /// The likely cause and the fix, in the words of the Agora FAQ where it applies.
    pub fn hint(&self) -> String {
        match self {
            ErrorKind::NotFound => {
                "the key is not in the bucket: check the prefix and that the upload finished".into()
            }
            ErrorKind::BucketNotFound => {
                "check the bucket name (the bucket you created in the vendor's console) and that it is in the configured account".into()
            }
            ErrorKind::AccessDenied => {
                "the key pair works but may not write or read this bucket: grant the access key permission on the bucket (or the prefix)".into()
            }
            ErrorKind::InvalidCredentials => {
                "check the accessKey (from the vendor's key management); if it is a temporary token, it may have expired".into()
            }
            ErrorKind::SignatureMismatch => {
                "the secretKey does not match the accessKey: copy both again from the vendor's key management".into()
            }
            ErrorKind::WrongRegion { bucket_region: Some(r) } => format!(
                "the bucket is in region `{r}`: use that region (cross-region uploads are slow or fail)"
            ),
            ErrorKind::WrongRegion { bucket_region: None } => {
                "the bucket is in another region than the endpoint: set the bucket's own region".into()
            }
            ErrorKind::ClockSkew => {
                "this machine's clock is off: sync it (for example with chrony or systemd-timesyncd)".into()
            }
            ErrorKind::RateLimited => "the server throttled requests: lower concurrency or retry later".into(),
            ErrorKind::ServerError => "the server failed: retry; if it persists, check the vendor's status page".into(),
            ErrorKind::Network => {
                "the endpoint could not be reached or the connection broke: check the endpoint URL, DNS and network".into()
            }
            ErrorKind::Tls => {
                "the server's certificate is not trusted (or names another host, or has expired): for a private CA pass --ca-bundle FILE (PEM); check the endpoint's host name is the one the certificate names".into()
            }
            ErrorKind::ChecksumMismatch => {
                "the stored bytes differ from the local file: upload it again, and check the file is not being written meanwhile".into()
            }
            ErrorKind::InvalidInput => "correct the input named above".into(),
            ErrorKind::Unsupported => "this store cannot do that operation".into(),
            ErrorKind::UploadNotFound => {
                "the upload id is gone (completed, aborted or expired): start a new multipart upload".into()
            }
            ErrorKind::NotConfirmed => {
                "the store said success without proof that it holds these bytes (no matching checksum or ETag, on the reply or a HEAD): the local file is kept and the object is sent again or to the backup; check that the endpoint is the bucket's own API, not a proxy that answers for it".into()
            }
            ErrorKind::UnexpectedReply => {
                "the endpoint answered with something other than the storage API (an HTML page, an empty body, a login redirect): check the endpoint (--endpoint) points at the bucket's API, not a web server, proxy or captive portal".into()
            }
            ErrorKind::LocalFileChanged => {
                "the file was rewritten while it was being sent, so what was sent is not what it holds: it is sent again from its new content; if a recorder is still writing it, upload once the recording is finished".into()
            }
            ErrorKind::DiskFull => {
                "the filesystem named above is full: free space on it, or use a directory on another filesystem".into()
            }
            ErrorKind::LocalIo => {
                "check the path named above: that it exists, that this user may read and write it, and that its disk is mounted and healthy".into()
            }
            ErrorKind::Journal => {
                "the upload journal named above cannot be used: if another stowage process is uploading this recording (its pid is named above), wait for it or stop it; otherwise check the journal's disk and permissions (a damaged journal is moved aside by the next run, which rebuilds it from the spool and the bucket)".into()
            }
            ErrorKind::Other => "see the vendor code and request id".into(),
        }
    }
}

/// A storage error with the context needed to act on it. Boxed, so that `Result<T>` stays
/// one pointer wide on the happy path.
#[derive(Debug)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    retryable: bool,
    message: String,
    key: Option<String>,
    bucket: Option<String>,
    vendor_code: Option<String>,
    http_status: Option<u16>,
    request_id: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Result with a Stowage [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error; retryable as [`ErrorKind::is_retryable_by_default`] says.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let retryable = kind.is_retryable_by_default();
        let inner = Inner {
            kind,
            retryable,
            message: message.into(),
            key: None,
            bucket: None,
            vendor_code: None,
            http_status: None,
            request_id: None,
            source: None,
        };
        Error {
            inner: Box::new(inner),
        }
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// A local I/O failure on `path`, classified: a missing file is bad input, a full disk
    /// is [`ErrorKind::DiskFull`], anything else (permissions, a failing disk) is
    /// [`ErrorKind::LocalIo`]. The message names the path; the fix is a local one.
    pub fn local_io(path: &std::path::Path, err: std::io::Error) -> Self {
        let (kind, what) = classify_io(&err);
        Self::new(kind, format!("{what} {}: {err}", path.display())).with_source(err)
    }

    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.inner.key = Some(key.into());
        self
    }
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.inner.bucket = Some(bucket.into());
        self
    }
    pub fn with_vendor_code(mut self, code: impl Into<String>) -> Self {
        self.inner.vendor_code = Some(code.into());
        self
    }
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.inner.http_status = Some(status);
        self
    }
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.inner.request_id = Some(id.into());
        self
    }
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.inner.retryable = retryable;
        self
    }
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }
    /// Sets the key only when none is set yet (adapters add it at the outermost layer).
    pub fn or_key(mut self, key: &str) -> Self {
        if self.inner.key.is_none() {
            self.inner.key = Some(key.to_string());
        }
        self
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }
    pub fn is_retryable(&self) -> bool {
        self.inner.retryable
    }
    pub fn message(&self) -> &str {
        &self.inner.message
    }
    pub fn key(&self) -> Option<&str> {
        self.inner.key.as_deref()
    }
    pub fn bucket(&self) -> Option<&str> {
        self.inner.bucket.as_deref()
    }
    pub fn vendor_code(&self) -> Option<&str> {
        self.inner.vendor_code.as_deref()
    }
    pub fn http_status(&self) -> Option<u16> {
        self.inner.http_status
    }
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }
    /// The bucket's real region, for [`ErrorKind::WrongRegion`] errors that carry it.
    pub fn bucket_region(&self) -> Option<&str> {
        match &self.inner.kind {
            ErrorKind::WrongRegion { bucket_region } => bucket_region.as_deref(),
            _ => None,
        }
    }
}

/// The kind of a local I/O error, and how to introduce the path in its message.
fn classify_io(err: &std::io::Error) -> (ErrorKind, &'static str) {
    use std::io::ErrorKind as Io;
    match err.kind() {
        Io::NotFound => (ErrorKind::InvalidInput, "local file"),
        Io::StorageFull | Io::QuotaExceeded => (ErrorKind::DiskFull, "the filesystem is full at"),
        Io::PermissionDenied | Io::ReadOnlyFilesystem => {
            (ErrorKind::LocalIo, "no permission to use")
        }
        _ if err.raw_os_error() == Some(28) => (ErrorKind::DiskFull, "the filesystem is full at"),
        _ => (ErrorKind::LocalIo, "local file"),
    }
}

impl Error {
    /// What went wrong with its context (bucket, key, vendor code, status, request id), without
    /// the fix: the display text is this, then `. Fix: ` and [`ErrorKind::hint`].
    pub fn cause(&self) -> String {
        let mut out = String::new();
        let _ = self.write_cause(&mut out);
        out
    }

    fn write_cause(&self, f: &mut impl fmt::Write) -> fmt::Result {
        write!(f, "{}", self.inner.kind.summary())?;
        if !self.inner.message.is_empty() {
            write!(f, ": {}", self.inner.message)?;
        }
        let mut context = Vec::new();
        if let Some(b) = &self.inner.bucket {
            context.push(format!("bucket `{b}`"));
        }
        if let Some(k) = &self.inner.key {
            context.push(format!("key `{k}`"));
        }
        if let Some(c) = &self.inner.vendor_code {
            context.push(format!("code {c}"));
        }
        if let Some(s) = self.inner.http_status {
            context.push(format!("HTTP {s}"));
        }
        if let Some(r) = &self.inner.request_id {
            context.push(format!("request id {r}"));
        }
        if !context.is_empty() {
            write!(f, " ({})", context.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_cause(f)?;
        write!(f, ". Fix: {}", self.inner.kind.hint())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_cause_context_and_fix() {
        let e = Error::new(ErrorKind::SignatureMismatch, "request signature rejected")
            .with_bucket("rec")
            .with_key("a/b.ts")
            .with_vendor_code("SignatureDoesNotMatch")
            .with_http_status(403)
            .with_request_id("abc");
        let s = e.to_string();
        assert!(
            s.starts_with("signature mismatch: request signature rejected"),
            "{s}"
        );
        assert!(
            s.contains("bucket `rec`") && s.contains("key `a/b.ts`"),
            "{s}"
        );
        assert!(
            s.contains("HTTP 403") && s.contains("request id abc"),
            "{s}"
        );
        assert!(s.contains("Fix: the secretKey does not match"), "{s}");
        assert!(!e.is_retryable());
    }

    #[test]
    fn wrong_region_names_the_bucket_region() {
        let e = Error::new(
            ErrorKind::WrongRegion {
                bucket_region: Some("eu-west-1".into()),
            },
            "",
        );
        assert_eq!(e.bucket_region(), Some("eu-west-1"));
        assert!(e.to_string().contains("use that region"), "{e}");
    }

    #[test]
    fn retryable_follows_kind_unless_overridden() {
        assert!(Error::new(ErrorKind::ServerError, "").is_retryable());
        assert!(Error::new(ErrorKind::Network, "").is_retryable());
        assert!(!Error::new(ErrorKind::NotFound, "").is_retryable());
        assert!(
            !Error::new(ErrorKind::ServerError, "")
                .with_retryable(false)
                .is_retryable()
        );
    }

    #[test]
    fn missing_local_file_is_invalid_input_with_path() {
        let path = std::path::Path::new("/nonexistent/seg0.ts");
        let io = std::fs::File::open(path).unwrap_err();
        let e = Error::local_io(path, io);
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
        assert!(e.to_string().contains("/nonexistent/seg0.ts"));
    }

    #[test]
    fn local_errors_name_the_path_and_a_local_fix() {
        let path = std::path::Path::new("/srv/bucket/rec/seg0.ts");
        let full = Error::local_io(path, std::io::Error::from_raw_os_error(28));
        assert_eq!(full.kind(), &ErrorKind::DiskFull);
        let s = full.to_string();
        assert!(
            s.contains("full") && s.contains("/srv/bucket/rec/seg0.ts"),
            "{s}"
        );
        assert!(!s.contains("vendor code"), "{s}");
        let denied = Error::local_io(path, std::io::Error::from_raw_os_error(13));
        assert_eq!(denied.kind(), &ErrorKind::LocalIo);
        assert!(
            denied.to_string().contains("may read and write"),
            "{denied}"
        );
        for kind in [
            ErrorKind::DiskFull,
            ErrorKind::LocalIo,
            ErrorKind::Journal,
            ErrorKind::LocalFileChanged,
        ] {
            assert!(kind.is_local());
            assert!(!kind.hint().contains("vendor code"), "{kind:?}");
        }
        assert!(Error::new(ErrorKind::NotConfirmed, "").is_retryable());
        assert!(!Error::new(ErrorKind::UnexpectedReply, "").is_retryable());
    }
}
