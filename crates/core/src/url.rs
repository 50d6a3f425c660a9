//! Storage URLs: `s3://bucket/prefix`, `oss://…`, `cos://…`, `kodo://…`, `az://container/prefix`
//! (also `azure://`), `gs://bucket/prefix` (also `gcs://`), `file:///abs/dir`.
//! A plain path (no `scheme://`) means a local directory, like `file://`.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Which kind of store a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    S3,
    Oss,
    Cos,
    Kodo,
    /// Azure Blob: the URL's bucket is the container (the account comes with the credentials).
    Azure,
    /// Google Cloud Storage.
    Gcs,
    File,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::S3 => "s3",
            Scheme::Oss => "oss",
            Scheme::Cos => "cos",
            Scheme::Kodo => "kodo",
            Scheme::Azure => "az",
            Scheme::Gcs => "gs",
            Scheme::File => "file",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "s3" => Scheme::S3,
            "oss" => Scheme::Oss,
            "cos" => Scheme::Cos,
            "kodo" | "qiniu" => Scheme::Kodo,
            "az" | "azure" => Scheme::Azure,
            "gs" | "gcs" => Scheme::Gcs,
            "file" => Scheme::File,
            _ => return None,
        })
    }
}

/// A parsed storage URL. For [`Scheme::File`] `bucket` is empty and `key` is the absolute
/// local path; for buckets `key` is the key or prefix after `bucket/` (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageUrl {
    pub scheme: Scheme,
    pub bucket: String,
    pub key: String,
}

impl StorageUrl {
    /// Parses a URL or a plain local path.
    pub fn parse(input: &str) -> Result<Self> {
        let Some((scheme, rest)) = input.split_once("://") else {
            return Self::local(input);
        };
        let scheme = Scheme::parse(scheme).ok_or_else(|| {
            Error::invalid_input(format!(
                "unknown storage URL scheme `{scheme}://` in `{input}`; expected s3://, oss://, cos://, kodo://, az://, gs:// or file://"
            ))
        })?;
        if scheme == Scheme::File {
            if !rest.starts_with('/') {
                return Err(Error::invalid_input(format!(
                    "`{input}` is not an absolute file URL; write file:///absolute/dir (three slashes) or a plain path"
                )));
            }
            return Self::local(rest);
        }
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        validate_bucket(bucket, input)?;
        Ok(StorageUrl {
            scheme,
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    fn local(path: &str) -> Result<Self> {
        if path.is_empty() {
            return Err(Error::invalid_input("empty path"));
        }
        let abs = std::path::absolute(path)
            .map_err(|e| Error::invalid_input(format!("cannot resolve path `{path}`: {e}")))?;
        let mut key = abs.to_string_lossy().into_owned();
        if path.ends_with('/') && !key.ends_with('/') {
            key.push('/'); // keep "this is a directory" intent
        }
        Ok(StorageUrl {
            scheme: Scheme::File,
            bucket: String::new(),
            key,
        })
    }

    /// For file URLs, the local path.
    pub fn local_path(&self) -> Option<PathBuf> {
        (self.scheme == Scheme::File).then(|| PathBuf::from(&self.key))
    }

    /// True when the URL ends in `/` (names a directory or prefix, not one object).
    pub fn is_dir_like(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    /// This URL with `name` appended under it as a path segment.
    pub fn join(&self, name: &str) -> StorageUrl {
        let mut key = self.key.clone();
        if !key.is_empty() && !key.ends_with('/') {
            key.push('/');
        }
        key.push_str(name);
        StorageUrl {
            key,
            ..self.clone()
        }
    }
}

fn validate_bucket(bucket: &str, input: &str) -> Result<()> {
    let bad = bucket.is_empty()
        || bucket.len() > 255
        || !bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if bad {
        return Err(Error::invalid_input(format!(
            "`{bucket}` in `{input}` is not a valid bucket name; use letters, digits, `-`, `.` (as created in the vendor's console)"
        )));
    }
    Ok(())
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            Scheme::File => write!(f, "file://{}", self.key),
            s => write!(f, "{}://{}/{}", s.as_str(), self.bucket, self.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls() {
        let u = StorageUrl::parse("s3://rec-bucket/agora/2024/").unwrap();
        assert_eq!(
            (u.scheme, u.bucket.as_str(), u.key.as_str()),
            (Scheme::S3, "rec-bucket", "agora/2024/")
        );
        assert!(u.is_dir_like());
        let u = StorageUrl::parse("oss://b").unwrap();
        assert_eq!((u.scheme, u.key.as_str()), (Scheme::Oss, ""));
        assert_eq!(
            StorageUrl::parse("cos://b-1250000000/x.ts").unwrap().key,
            "x.ts"
        );
        assert_eq!(
            StorageUrl::parse("kodo://b/x").unwrap().scheme,
            Scheme::Kodo
        );
        let u = StorageUrl::parse("azure://rec-container/agora/").unwrap();
        assert_eq!(
            (u.scheme, u.bucket.as_str()),
            (Scheme::Azure, "rec-container")
        );
        assert_eq!(u.to_string(), "az://rec-container/agora/");
        let u = StorageUrl::parse("gcs://rec-bucket/agora/").unwrap();
        assert_eq!((u.scheme, u.bucket.as_str()), (Scheme::Gcs, "rec-bucket"));
        assert_eq!(u.to_string(), "gs://rec-bucket/agora/");
        assert_eq!(
            StorageUrl::parse("s3://b/a b+c.ts").unwrap().to_string(),
            "s3://b/a b+c.ts"
        );
    }

    #[test]
    fn file_urls_and_plain_paths() {
        let u = StorageUrl::parse("file:///tmp/bucket").unwrap();
        assert_eq!(u.local_path().unwrap(), PathBuf::from("/tmp/bucket"));
        let p = StorageUrl::parse("some/dir/").unwrap();
        assert_eq!(p.scheme, Scheme::File);
        assert!(p.local_path().unwrap().is_absolute());
        assert!(p.is_dir_like());
    }

    #[test]
    fn bad_urls_say_why() {
        let e = StorageUrl::parse("ftp://b/k").unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown storage URL scheme `ftp://`"),
            "{e}"
        );
        let e = StorageUrl::parse("s3:///k").unwrap_err();
        assert!(e.to_string().contains("not a valid bucket name"), "{e}");
        let e = StorageUrl::parse("file://relative/x").unwrap_err();
        assert!(e.to_string().contains("three slashes"), "{e}");
    }

    #[test]
    fn join_adds_one_separator() {
        let u = StorageUrl::parse("s3://b/p").unwrap();
        assert_eq!(u.join("x.ts").key, "p/x.ts");
        assert_eq!(
            StorageUrl::parse("s3://b").unwrap().join("x.ts").key,
            "x.ts"
        );
    }
}
