//! From the command's connection flags to a channel: plaintext or TLS (system roots, a CA
//! file, a client identity for mTLS, a server-name override, or no verification at all),
//! plus the metadata and timeout every call carries.

use std::sync::Arc;
use std::time::Duration;

use wirecall::{Channel, Endpoint, MetadataMap, Request};

use crate::Failure;

/// How to reach the server and what to send with every call.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConnectOptions {
    /// Talk HTTP/2 in cleartext (no TLS). Without it (and without an `http://` or `unix:`
    /// address) the connection uses TLS, as grpcurl does.
    #[arg(long, global = true)]
    pub(crate) plaintext: bool,
    /// Trust the CA certificates in this PEM file instead of the system roots.
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) cacert: Option<String>,
    /// A client certificate chain (PEM) for mutual TLS; needs --key.
    #[arg(long, value_name = "FILE", global = true, requires = "key")]
    pub(crate) cert: Option<String>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", global = true, requires = "cert")]
    pub(crate) key: Option<String>,
    /// Check the server's certificate for this name (and send it as SNI and :authority)
    /// instead of the address's host.
    #[arg(long, value_name = "NAME", global = true)]
    pub(crate) servername: Option<String>,
    /// Do not verify the server's certificate (testing only).
    #[arg(long, global = true)]
    pub(crate) insecure: bool,
    /// Metadata to send, `key: value` (repeatable). A `-bin` key's value is base64.
    #[arg(short = 'H', long = "header", value_name = "KEY: VALUE", global = true)]
    pub(crate) headers: Vec<String>,
    /// The deadline of each call, e.g. `10s`, `250ms`, `1.5` (seconds), `50us`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, global = true)]
    pub(crate) timeout: Option<Duration>,
    /// How long connecting may take (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, global = true)]
    pub(crate) connect_timeout: Option<Duration>,
}

/// A duration: a number with `ns`, `us`, `ms`, `s`, `m` or `h`, or a bare number of
/// seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("us") {
        (n, 0.000_001)
    } else if let Some(n) = text.strip_suffix("ns") {
        (n, 0.000_000_001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 10s, 250ms or 1.5)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?} is not a duration"));
    }
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{text:?}: {e}"))
}

/// One `-H 'key: value'` flag as its key and value.
pub(crate) fn parse_header(text: &str) -> Result<(String, String), Failure> {
    let (key, value) = text
        .split_once(':')
        .ok_or_else(|| Failure::usage(format!("header {text:?} is not `key: value`")))?;
    let key = key.trim().to_ascii_lowercase();
    if key.is_empty() {
        return Err(Failure::usage(format!("header {text:?} has no key")));
    }
    Ok((key, value.trim().to_owned()))
}

impl ConnectOptions {
    /// The metadata of the `-H` flags.
    pub(crate) fn metadata(&self) -> Result<MetadataMap, Failure> {
        let mut metadata = MetadataMap::new();
        for header in &self.headers {
            let (key, value) = parse_header(header)?;
            let added = if key.ends_with("-bin") {
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(value.trim_end_matches('='))
                    .or_else(|_| {
                        base64::engine::general_purpose::STANDARD_NO_PAD
                            .decode(value.trim_end_matches('='))
                    })
                    .map_err(|e| Failure::usage(format!("header {key}: not base64: {e}")))?;
                metadata.append_bin(&key, bytes)
            } else {
                metadata.append(&key, &value)
            };
            added.map_err(|e| Failure::usage(format!("header {header:?}: {e}")))?;
        }
        Ok(metadata)
    }

    /// A request carrying `message`, the `-H` metadata and the `--timeout`.
    pub(crate) fn request<T>(&self, message: T) -> Result<Request<T>, Failure> {
        let mut request = Request::new(message);
        *request.metadata_mut() = self.metadata()?;
        if let Some(timeout) = self.timeout {
            request.set_timeout(timeout);
        }
        Ok(request)
    }

    /// A channel to `address` (`host:port`, `http://`, `https://` or `unix:`), connected.
    pub(crate) async fn connect(&self, address: &str) -> Result<Channel, Failure> {
        let scheme_says_plain = address.starts_with("http://") || address.starts_with("unix:");
        let plaintext = self.plaintext || scheme_says_plain;
        let target = address.strip_prefix("https://").unwrap_or(address);
        let mut endpoint = Endpoint::new(target)
            .map_err(|e| Failure::usage(format!("bad address {address:?}: {e}")))?
            .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)));
        if !plaintext {
            endpoint = endpoint
                .tls(self.tls_config()?)
                .map_err(|e| Failure::usage(format!("TLS to {address:?}: {e}")))?;
            if let Some(name) = &self.servername {
                endpoint = endpoint
                    .tls_server_name(name)
                    .map_err(|e| Failure::usage(format!("--servername: {e}")))?;
            }
        } else if self.cacert.is_some() || self.cert.is_some() || self.insecure {
            return Err(Failure::usage(
                "TLS flags (--cacert, --cert, --insecure) do not go with a plaintext connection",
            ));
        }
        endpoint
            .connect()
            .await
            .map_err(|e| Failure::other(format!("cannot connect to {address}: {e}")))
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, Failure> {
        let read = |path: &str| {
            std::fs::read(path).map_err(|e| Failure::usage(format!("cannot read {path}: {e}")))
        };
        if self.insecure {
            return Ok(insecure_config());
        }
        let tls_error = |e: wirecall::tls::TlsError| Failure::usage(format!("TLS setup: {e}"));
        match (&self.cacert, &self.cert, &self.key) {
            (ca, Some(cert), Some(key)) => {
                let ca =
                    match ca {
                        Some(path) => read(path)?,
                        None => return Err(Failure::usage(
                            "--cert needs --cacert (the CA that signed the server's certificate)",
                        )),
                    };
                wirecall::tls::client_config_with_identity(&ca, &read(cert)?, &read(key)?)
                    .map_err(tls_error)
            }
            (Some(ca), _, _) => wirecall::tls::client_config(&read(ca)?).map_err(tls_error),
            _ => wirecall::tls::client_config_system_roots().map_err(tls_error),
        }
    }
}

/// A TLS configuration that accepts any server certificate (`--insecure`).
fn insecure_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AcceptAnyServer(provider.clone()));
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

/// Takes every certificate, still checking that the handshake's signatures are sound.
#[derive(Debug)]
struct AcceptAnyServer(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3us"), Ok(Duration::from_micros(3)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("Authorization: Bearer abc").unwrap(),
            ("authorization".into(), "Bearer abc".into())
        );
        assert_eq!(
            parse_header("x-a:b:c").unwrap(),
            ("x-a".into(), "b:c".into())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": v").is_err());
    }
}
