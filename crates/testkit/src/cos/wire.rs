//! Header-name case on the wire, as COS writes it: `ETag`, `Content-Length`,
//! `Last-Modified`…, but `x-cos-*` in lower case.
//!
//! HTTP header names are case-insensitive, yet Tencent's Python SDK copies response headers
//! into a plain `dict` and reads `ETag` and `x-cos-hash-crc64ecma` with exactly that case.
//! hyper writes every name in lower case and offers no per-name case for responses, so the
//! emulator's socket is wrapped: the names in the response head are re-cased in place (same
//! length, so partial writes stay aligned). Connections serve one request each (no
//! keep-alive), so everything after the first head is body and passes untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where the writer is in the response head.
#[derive(Clone)]
struct Head {
    done: bool,
    status_line: bool,
    line_start: bool,
    /// The last four bytes, to see the blank line that ends the head.
    last4: u32,
    /// The re-cased bytes of a name not yet written (a write can stop mid-name).
    pending: Vec<u8>,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            done: false,
            status_line: true,
            line_start: true,
            last4: 0,
            pending: Vec::new(),
        }
    }
}

/// COS's case for a (lower-case) header name.
fn cos_case(name: &[u8]) -> Vec<u8> {
    if name.starts_with(b"x-cos-") {
        return name.to_vec();
    }
    if name == b"etag" {
        return b"ETag".to_vec();
    }
    let mut upper = true;
    name.iter()
        .map(|&b| {
            let out = if upper { b.to_ascii_uppercase() } else { b };
            upper = b == b'-';
            out
        })
        .collect()
}

/// Walks the first `limit` bytes of `buf` from state `head`, re-casing header names (seen
/// whole in `buf`); returns the bytes to write in their place.
fn walk(head: &mut Head, buf: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit);
    let mut i = 0;
    while i < limit {
        if head.done {
            out.extend_from_slice(&buf[i..limit]);
            break;
        }
        if !head.pending.is_empty() {
            let k = head.pending.len().min(limit - i);
            out.extend(head.pending.drain(..k));
            i += k;
            continue;
        }
        if head.line_start && !head.status_line {
            head.line_start = false;
            let rest = &buf[i..];
            if let Some(p) = rest.iter().position(|&b| b == b':' || b == b'\r')
                && rest[p] == b':'
            {
                head.pending = cos_case(&rest[..p]);
                continue;
            }
        }
        let b = buf[i];
        out.push(b);
        head.last4 = (head.last4 << 8) | u32::from(b);
        head.line_start = b == b'\n';
        if b == b'\n' {
            head.status_line = false;
            head.done = head.last4 == u32::from_be_bytes(*b"\r\n\r\n");
        }
        i += 1;
    }
    out
}

/// A socket whose response heads carry COS's header-name case.
pub(super) struct CosCase<T> {
    inner: T,
    head: Head,
}

impl<T> CosCase<T> {
    pub(super) fn new(inner: T) -> Self {
        CosCase {
            inner,
            head: Head::default(),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CosCase<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CosCase<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let fixed = walk(&mut self.head.clone(), buf, buf.len());
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, &fixed) {
            Poll::Ready(Ok(n)) => {
                // Same length: the first n bytes written are the first n of `buf`.
                walk(&mut this.head, buf, n);
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_cos_case_and_the_body_is_untouched() {
        let raw = b"HTTP/1.1 200 OK\r\netag: \"ab\"\r\ncontent-length: 12\r\nx-cos-hash-crc64ecma: 1\r\nlast-modified: x\r\n\r\netag: body\r\n";
        let out = walk(&mut Head::default(), raw, raw.len());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nETag: \"ab\"\r\nContent-Length: 12\r\nx-cos-hash-crc64ecma: 1\r\nLast-Modified: x\r\n\r\netag: body\r\n"
        );
    }

    /// A socket that takes the head in pieces, cutting names in two.
    #[test]
    fn partial_writes_stay_aligned() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: a\r\netag: b\r\n\r\ncontent-type: body";
        let mut head = Head::default();
        let mut out = Vec::new();
        let mut at = 0;
        for n in [20, 3, 9, 1, 100] {
            let buf = &raw[at..];
            let fixed = walk(&mut head.clone(), buf, buf.len());
            let n = n.min(buf.len());
            out.extend_from_slice(&fixed[..n]);
            walk(&mut head, buf, n);
            at += n;
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: a\r\nETag: b\r\n\r\ncontent-type: body"
        );
    }
}
