//! `multipart/form-data` of a buffered body: enough for Qiniu's form upload (`token`, `key`,
//! `file`, `crc32`, `x:…`, `x-qn-meta-…` fields). The emulator buffers each request anyway,
//! so a streaming parser (multer, which also pulls in encoding_rs) would buy nothing here.

use bytes::Bytes;

/// One form field: its name, the file part's Content-Type if any, and its bytes.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// The boundary of a `multipart/form-data; boundary=…` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_owned())
    })
}

/// The fields of `body`, or `None` when it is not well-formed.
pub fn parse(body: &Bytes, boundary: &str) -> Option<Vec<Field>> {
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    let mut rest = find(body, delimiter.as_bytes(), 0)? + delimiter.len();
    loop {
        if body.get(rest..rest + 2)? == b"--" {
            return Some(fields);
        }
        let head_start = rest + 2; // CRLF after the delimiter
        let head_end = find(body, b"\r\n\r\n", head_start)?;
        let data_start = head_end + 4;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), data_start)?;
        let head = std::str::from_utf8(&body[head_start..head_end]).ok()?;
        fields.push(field(head, body.slice(data_start..next))?);
        rest = next + 2 + delimiter.len();
    }
}

fn field(head: &str, data: Bytes) -> Option<Field> {
    let mut name = None;
    let mut content_type = None;
    for line in head.split("\r\n") {
        let (k, v) = line.split_once(':')?;
        if k.trim().eq_ignore_ascii_case("content-disposition") {
            name = v.split(';').find_map(|p| {
                let value = p.trim().strip_prefix("name=")?;
                Some(value.trim_matches('"').to_owned())
            });
        } else if k.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(v.trim().to_owned());
        }
    }
    Some(Field {
        name: name?,
        content_type,
        data,
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_file() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nak:s:p\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.ts\"\r\nContent-Type: video/mp2t\r\n\r\n\r\n--X\x00bin\r\n\
--XyZ--\r\n",
        );
        let ct = "multipart/form-data; boundary=\"XyZ\"";
        let fields = parse(&body, &boundary(ct).unwrap()).unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(
            (fields[0].name.as_str(), &fields[0].data[..]),
            ("token", &b"ak:s:p"[..])
        );
        assert_eq!(fields[1].content_type.as_deref(), Some("video/mp2t"));
        assert_eq!(&fields[1].data[..], b"\r\n--X\x00bin");
        assert!(parse(&Bytes::from_static(b"--XyZ\r\nbroken"), "XyZ").is_none());
        assert!(boundary("application/json").is_none());
    }
}
