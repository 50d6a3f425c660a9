//! OAuth tokens from apache object_store's GCP credential chain (service-account JWT
//! exchange, gcloud's application-default credentials, the metadata server), fetched
//! through our reqwest 0.12 client (object_store's `HttpConnector`), so no second HTTP
//! stack is built. object_store caches each token and renews it before it expires.

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::BodyExt;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::gcp::{GcpCredentialProvider, GoogleCloudStorage, GoogleCloudStorageBuilder};
use stowage_core::{Error, ErrorKind, Result};

use crate::config::{GcsAuth, GcsConfig};

/// Where each request's `Authorization` comes from.
#[derive(Debug, Clone)]
pub(crate) enum Tokens {
    Provider(GcpCredentialProvider),
    Fixed(String),
    None,
}

impl Tokens {
    /// The tokens, and object_store's client where a service-account key can sign URLs.
    pub(crate) fn new(
        cfg: &GcsConfig,
        base_url: &str,
        client: reqwest::Client,
    ) -> Result<(Tokens, Option<GoogleCloudStorage>)> {
        let mut builder = GoogleCloudStorageBuilder::new()
            .with_bucket_name(&cfg.bucket)
            .with_base_url(base_url)
            .with_http_connector(Connector(client));
        let signs = matches!(
            cfg.auth,
            GcsAuth::ServiceAccountFile(_) | GcsAuth::ServiceAccountKey(_)
        );
        builder = match &cfg.auth {
            GcsAuth::Anonymous => return Ok((Tokens::None, None)),
            GcsAuth::Bearer(t) => return Ok((Tokens::Fixed(t.clone()), None)),
            GcsAuth::ServiceAccountFile(path) => {
                if !path.is_file() {
                    return Err(Error::new(
                        ErrorKind::InvalidCredentials,
                        format!(
                            "the Google credentials file {} does not exist: set {} to a service-account key file (JSON)",
                            path.display(),
                            crate::config::CREDENTIALS_ENV
                        ),
                    ));
                }
                builder.with_application_credentials(path.to_string_lossy())
            }
            GcsAuth::ServiceAccountKey(key) => builder.with_service_account_key(key),
            GcsAuth::ApplicationDefault => builder,
        };
        let gcs = builder.build().map_err(|e| {
            Error::new(
                ErrorKind::InvalidCredentials,
                format!(
                    "cannot read the Google credentials ({}): give a service-account key file (JSON) in {}",
                    first_line(&e.to_string()),
                    crate::config::CREDENTIALS_ENV
                ),
            )
        })?;
        let tokens = Tokens::Provider(gcs.credentials().clone());
        Ok((tokens, signs.then_some(gcs)))
    }

    /// The `Authorization` value for the next request, if any.
    pub(crate) async fn header(&self) -> Result<Option<String>> {
        match self {
            Tokens::None => Ok(None),
            Tokens::Fixed(t) => Ok(Some(format!("Bearer {t}"))),
            Tokens::Provider(p) => {
                let c = p.get_credential().await.map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidCredentials,
                        format!(
                            "could not get an OAuth token for Google Cloud Storage ({}): check the service-account key in {} (active, of the bucket's project) and that oauth2.googleapis.com is reachable",
                            first_line(&e.to_string()),
                            crate::config::CREDENTIALS_ENV
                        ),
                    )
                    .with_retryable(true)
                })?;
                if c.bearer.is_empty() {
                    return Ok(None);
                }
                Ok(Some(format!("Bearer {}", c.bearer)))
            }
        }
    }
}

/// object_store's errors can quote a token endpoint's answer; one line of it, queries cut.
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    let cut: String = line
        .split_whitespace()
        .map(|w| match w.find('?') {
            Some(i) if w.contains("://") => &w[..i],
            _ => w,
        })
        .collect::<Vec<_>>()
        .join(" ");
    cut.chars().take(300).collect()
}

#[derive(Debug, Clone)]
struct Connector(reqwest::Client);

impl HttpConnector for Connector {
    fn connect(&self, _options: &object_store::ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(Service(self.0.clone())))
    }
}

#[derive(Debug)]
struct Service(reqwest::Client);

#[async_trait]
impl HttpService for Service {
    async fn call(&self, req: HttpRequest) -> std::result::Result<HttpResponse, HttpError> {
        let (parts, body) = req.into_parts();
        let body: Bytes = body.collect().await?.to_bytes();
        let reply = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let kind = if e.is_timeout() {
                    HttpErrorKind::Timeout
                } else if e.is_connect() {
                    HttpErrorKind::Connect
                } else {
                    HttpErrorKind::Request
                };
                HttpError::new(kind, e.without_url())
            })?;
        let response: http::Response<reqwest::Body> = reply.into();
        Ok(response.map(|body| {
            HttpResponseBody::new(
                body.map_err(|e| HttpError::new(HttpErrorKind::Interrupted, e.without_url())),
            )
        }))
    }
}
