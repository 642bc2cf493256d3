//! The transport error: failures to bind, connect or configure, with the cause kept as
//! `source()`. RPC outcomes are [`Status`](crate::Status), not this.

use std::fmt;
use std::net::SocketAddr;

/// A connection or configuration failure.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

#[derive(Debug)]
enum Kind {
    /// The address or socket path.
    Bind(String),
    Connect(String),
    InvalidUri(String),
    /// A rejected configuration, e.g. a malformed service config.
    Config(String),
}

impl Error {
    pub(crate) fn bind(addr: SocketAddr, source: std::io::Error) -> Self {
        Error {
            kind: Kind::Bind(addr.to_string()),
            source: Some(Box::new(source)),
        }
    }

    #[cfg(unix)]
    pub(crate) fn bind_path(path: &std::path::Path, source: std::io::Error) -> Self {
        Error {
            kind: Kind::Bind(path.display().to_string()),
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn connect(
        target: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error {
            kind: Kind::Connect(target.into()),
            source: Some(source.into()),
        }
    }

    pub(crate) fn invalid_uri(reason: impl Into<String>) -> Self {
        Error {
            kind: Kind::InvalidUri(reason.into()),
            source: None,
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Error {
            kind: Kind::Config(reason.into()),
            source: None,
        }
    }

    /// Whether a configuration (such as a service config) was rejected.
    pub fn is_config(&self) -> bool {
        matches!(self.kind, Kind::Config(_))
    }

    /// Whether binding a listening address failed.
    pub fn is_bind(&self) -> bool {
        matches!(self.kind, Kind::Bind(_))
    }

    /// Whether connecting to a server failed.
    pub fn is_connect(&self) -> bool {
        matches!(self.kind, Kind::Connect(_))
    }

    /// Whether a target URI was malformed.
    pub fn is_invalid_uri(&self) -> bool {
        matches!(self.kind, Kind::InvalidUri(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Bind(addr) => write!(f, "failed to bind {addr}")?,
            Kind::Connect(target) => write!(f, "failed to connect to {target}")?,
            Kind::InvalidUri(reason) => write!(f, "invalid target: {reason}")?,
            Kind::Config(reason) => write!(f, "invalid configuration: {reason}")?,
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for crate::Status {
    fn from(err: Error) -> Self {
        if err.is_invalid_uri() || err.is_config() {
            crate::Status::invalid_argument(err.to_string())
        } else {
            crate::Status::unavailable(err.to_string())
        }
    }
}
