//! TLS with rustls (feature `tls`): server and client configurations from PEM, with ALPN
//! `h2` as gRPC requires; mutual TLS (the server requires and verifies client certificates,
//! handlers read them as [`PeerCertificates`]); and server certificates that can be
//! replaced while serving ([`ReloadableCert`]).
//!
//! ```no_run
//! # fn f(chain: &[u8], key: &[u8], clients_ca: &[u8]) -> Result<(), wirecall::tls::TlsError> {
//! // Only clients with a certificate from `clients_ca` get past the handshake.
//! let config = wirecall::tls::server_config_mtls(chain, key, clients_ca)?;
//! let server = wirecall::Server::builder().tls(config);
//! # Ok(()) }
//! ```

use std::sync::{Arc, RwLock};

pub use rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be built.
#[derive(Debug)]
pub struct TlsError(String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("invalid certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError("no certificate in PEM".into()));
    }
    Ok(certs)
}

fn key(key_pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TlsError(format!("invalid private key PEM: {e}")))
}

fn roots(ca_pem: &[u8]) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(ca_pem)? {
        roots
            .add(cert)
            .map_err(|e| TlsError(format!("invalid CA certificate: {e}")))?;
    }
    Ok(roots)
}

fn server_builder(
) -> Result<rustls::ConfigBuilder<rustls::ServerConfig, rustls::WantsVerifier>, TlsError> {
    rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))
}

/// A verifier that requires a client certificate issued by one of `ca_pem`.
fn client_verifier(
    ca_pem: &[u8],
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(ca_pem)?),
        provider(),
    )
    .build()
    .map_err(|e| TlsError(format!("client certificate verifier: {e}")))
}

fn with_h2(mut config: rustls::ServerConfig) -> rustls::ServerConfig {
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

/// A server configuration from a PEM certificate chain and private key, with ALPN `h2`.
pub fn server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<rustls::ServerConfig, TlsError> {
    let config = server_builder()?
        .with_no_client_auth()
        .with_single_cert(certs(cert_chain_pem)?, key(key_pem)?)
        .map_err(|e| TlsError(format!("certificate and key do not match: {e}")))?;
    Ok(with_h2(config))
}

/// Like [`server_config`], and every client must present a certificate issued by one of
/// the CAs in `client_ca_pem`: a client without one, or with another, fails the handshake
/// before any handler runs.
pub fn server_config_mtls(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: &[u8],
) -> Result<rustls::ServerConfig, TlsError> {
    let config = server_builder()?
        .with_client_cert_verifier(client_verifier(client_ca_pem)?)
        .with_single_cert(certs(cert_chain_pem)?, key(key_pem)?)
        .map_err(|e| TlsError(format!("certificate and key do not match: {e}")))?;
    Ok(with_h2(config))
}

/// A server configuration whose certificate comes from `cert` and can be replaced while
/// the server runs ([`ReloadableCert::reload`]); with `client_ca_pem`, mutual TLS as in
/// [`server_config_mtls`].
pub fn server_config_reloadable(
    cert: &ReloadableCert,
    client_ca_pem: Option<&[u8]>,
) -> Result<rustls::ServerConfig, TlsError> {
    let builder = server_builder()?;
    let builder = match client_ca_pem {
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca)?),
        None => builder.with_no_client_auth(),
    };
    Ok(with_h2(builder.with_cert_resolver(Arc::new(cert.clone()))))
}

/// A server certificate that can be swapped without a restart: connections made after a
/// [`reload`](Self::reload) get the new one, open ones keep theirs. Cheap to clone; clones
/// share the certificate.
#[derive(Clone)]
pub struct ReloadableCert {
    current: Arc<RwLock<Arc<rustls::sign::CertifiedKey>>>,
}

impl std::fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadableCert").finish_non_exhaustive()
    }
}

fn certified_key(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::sign::CertifiedKey>, TlsError> {
    rustls::sign::CertifiedKey::from_der(certs(cert_chain_pem)?, key(key_pem)?, &provider())
        .map(Arc::new)
        .map_err(|e| TlsError(format!("certificate and key do not match: {e}")))
}

impl ReloadableCert {
    /// Starts with the PEM certificate chain and key.
    pub fn new(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        Ok(ReloadableCert {
            current: Arc::new(RwLock::new(certified_key(cert_chain_pem, key_pem)?)),
        })
    }

    /// Replaces the certificate for new connections; a chain or key that does not parse,
    /// or a pair that does not match, leaves the current one in place and says why.
    pub fn reload(&self, cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsError> {
        let next = certified_key(cert_chain_pem, key_pem)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = next;
        Ok(())
    }
}

impl rustls::server::ResolvesServerCert for ReloadableCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// The certificate chain a client presented over mutual TLS, leaf first, in the request's
/// extensions (`request.extensions().get::<PeerCertificates>()`) and those interceptors
/// see, for authorization.
#[derive(Debug, Clone)]
pub struct PeerCertificates(pub Arc<[CertificateDer<'static>]>);

fn client_builder(
    ca_pem: &[u8],
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>, TlsError>
{
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_root_certificates(roots(ca_pem)?))
}

/// A client configuration trusting the PEM certificates in `ca_pem`, with ALPN `h2`.
pub fn client_config(ca_pem: &[u8]) -> Result<rustls::ClientConfig, TlsError> {
    let mut config = client_builder(ca_pem)?.with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// A client configuration trusting the operating system's certificate store (on Debian,
/// `/etc/ssl/certs`; `SSL_CERT_FILE` / `SSL_CERT_DIR` override it), with ALPN `h2`: for
/// servers with publicly issued certificates. Certificates of the store that do not parse
/// are skipped; none at all is an error.
pub fn client_config_system_roots() -> Result<rustls::ClientConfig, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Err(TlsError(format!(
            "no usable certificate in the system store {why}"
        )));
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Like [`client_config`], presenting the PEM certificate chain and key to servers that
/// ask for one (mutual TLS).
pub fn client_config_with_identity(
    ca_pem: &[u8],
    cert_chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<rustls::ClientConfig, TlsError> {
    let mut config = client_builder(ca_pem)?
        .with_client_auth_cert(certs(cert_chain_pem)?, key(key_pem)?)
        .map_err(|e| TlsError(format!("client certificate and key do not match: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}
