//! XML replies read with quick-xml + serde (after checking the root element: serde alone
//! would read any document, an HTML page too, as an empty listing), the
//! CompleteMultipartUpload body, and the query-string and `encoding-type=url` mechanics
//! both XML APIs use.

/// Parses a response body whose root element must be `root`; `Err` says why it is not that
/// document (short, never the body itself).
pub fn parse<T: serde::de::DeserializeOwned>(root: &str, body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|_| "not UTF-8".to_string())?;
    match root_element(text) {
        Ok(Some(found)) if found == root => {}
        Ok(Some(found)) => {
            return Err(format!("its root element is `{found}`, not `{root}`"));
        }
        Ok(None) => return Err("no root element".to_string()),
        Err(why) => return Err(why),
    }
    quick_xml::de::from_str(text).map_err(|e| e.to_string())
}

/// The local name of the document's first element, skipping the declaration, comments and
/// a doctype.
fn root_element(text: &str) -> Result<Option<String>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                let name = e.local_name();
                return Ok(Some(String::from_utf8_lossy(name.as_ref()).into_owned()));
            }
            Ok(Event::Eof) => return Ok(None),
            Ok(Event::Text(t)) if !t.iter().all(u8::is_ascii_whitespace) => {
                return Err("text before the root element".to_string());
            }
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Listing {
        #[serde(default)]
        contents: Vec<String>,
    }

    #[test]
    fn only_the_expected_document_is_read() {
        let ok: Listing = parse(
            "ListBucketResult",
            b"<?xml version=\"1.0\"?>\n<!-- x --><ListBucketResult xmlns=\"http://doc/\"><Contents>a</Contents></ListBucketResult>",
        )
        .unwrap();
        assert_eq!(ok.contents, ["a"]);
        let other = parse::<Listing>("ListBucketResult", b"<Foo/>").unwrap_err();
        assert_eq!(other, "its root element is `Foo`, not `ListBucketResult`");
        assert!(parse::<Listing>("ListBucketResult", b"").is_err());
        assert!(parse::<Listing>("ListBucketResult", b"hello").is_err());
        let page = b"<!DOCTYPE html><html><head><title>x</title></head></html>";
        assert!(parse::<Listing>("ListBucketResult", page).is_err());
    }
}
