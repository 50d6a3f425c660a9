//! A TLS front for any local test server: terminates HTTPS with a certificate from a
//! throwaway CA and passes the bytes on to the plain-HTTP server behind it, unchanged (so
//! the emulators' signature checks see exactly what the client signed). Real vendors speak
//! only HTTPS; this is how the adapters' TLS paths (private CA, untrusted certificate) are
//! tested over real sockets.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// An HTTPS listener on 127.0.0.1 in front of `backend`.
pub struct TlsFront {
    url: String,
    ca_pem: String,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// Starts the front for the server at `backend` (`http://127.0.0.1:port[/…]` or an
    /// address). Its certificate names `localhost` and `127.0.0.1`.
    pub async fn start(backend: &str) -> TlsFront {
        let backend = backend_addr(backend);
        let (ca_pem, config) = certificates();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to do.
                    if let Ok(mut tls) = acceptor.accept(client).await
                        && let Ok(mut server) = TcpStream::connect(backend).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                    }
                });
            }
        });
        TlsFront {
            url: format!("https://127.0.0.1:{}", addr.port()),
            ca_pem,
            task,
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The CA certificate (PEM) the server's certificate is issued by.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn backend_addr(backend: &str) -> SocketAddr {
    let host_port = backend
        .split("://")
        .last()
        .unwrap_or(backend)
        .split('/')
        .next()
        .unwrap_or_default();
    host_port
        .parse()
        .unwrap_or_else(|e| panic!("backend {backend} is no ip:port: {e}"))
}

/// A throwaway CA and a server certificate it issued for `localhost` and `127.0.0.1`, in PEM.
pub struct IssuedCertificate {
    pub ca_pem: String,
    pub cert_pem: String,
    /// The certificate's private key (PKCS#8).
    pub key_pem: String,
    key_der: Vec<u8>,
    cert_der: Vec<u8>,
}

impl IssuedCertificate {
    /// A fresh CA and server certificate.
    pub fn new() -> IssuedCertificate {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Stowage test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

        let leaf_key = KeyPair::generate().expect("server key");
        let leaf_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("server certificate");
        IssuedCertificate {
            ca_pem: ca.pem(),
            cert_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
            key_der: leaf_key.serialize_der(),
            cert_der: leaf.der().to_vec(),
        }
    }
}

impl Default for IssuedCertificate {
    fn default() -> Self {
        Self::new()
    }
}

/// A fresh CA, and a server configuration with a certificate it issued.
fn certificates() -> (String, rustls::ServerConfig) {
    let issued = IssuedCertificate::new();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_der.clone()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(issued.cert_der.clone())], key)
        .expect("server config");
    (issued.ca_pem, config)
}
