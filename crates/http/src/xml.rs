//! XML replies read with quick-xml + serde, the CompleteMultipartUpload body, and the
//! query-string and `encoding-type=url` mechanics both XML APIs use.

/// Parses a response body, naming the operation when it is not the expected XML.
pub fn parse<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> stowage_core::Result<T> {
    let text = std::str::from_utf8(body).map_err(|_| bad_reply(what, "is not UTF-8"))?;
    quick_xml::de::from_str(text).map_err(|e| bad_reply(what, &e.to_string()))
}

fn bad_reply(what: &str, why: &str) -> stowage_core::Error {
    stowage_core::Error::new(
        stowage_core::ErrorKind::Other,
        format!("the server's {what} reply could not be read: {why}"),
    )
}

/// The CompleteMultipartUpload body: part numbers and their ETags, in order.
pub fn complete_body<'a>(parts: impl Iterator<Item = (u32, &'a str)>) -> String {
    let mut out = String::from("<CompleteMultipartUpload>");
    for (n, etag) in parts {
        out.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>\"{}\"</ETag></Part>",
            quick_xml::escape::escape(etag)
        ));
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

/// Undoes `encoding-type=url` where the server applied it.
pub fn decode_if(url_encoded: bool, s: String) -> String {
    match url_encoded {
        true => percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned(),
        false => s,
    }
}

/// Query pairs in the order given, each key and value through `encode` (the vendor's
/// encoding, as its signature covers them).
pub fn query_string(query: &[(String, String)], encode: fn(&str) -> String) -> String {
    query
        .iter()
        .map(|(k, v)| match v.is_empty() {
            true => encode(k),
            false => format!("{}={}", encode(k), encode(v)),
        })
        .collect::<Vec<_>>()
        .join("&")
}
