//! gRPC's DNS resolver (naming.md, gRFC A2) through hickory-resolver: the DNS server the
//! target names (`dns://10.0.0.10:53/orders:50051`) or the system's, every A and AAAA
//! record a backend, the answer's TTL as the time to resolve again, and, when asked for,
//! the service config of the `_grpc_config.<host>` TXT record.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::TokioResolver;

use super::dns_config::{self, Choice, Client};
use super::resolver::{Address, Resolution, Resolver, Resolving, ResolvingAll};
use crate::service_config::ServiceConfig;

/// The port of a DNS server named without one.
const DNS_PORT: u16 = 53;

/// A `dns:` target's resolver.
pub(crate) struct HickoryDns {
    host: String,
    port: u16,
    /// The DNS server the target names, else `None` for the system's.
    server: Option<SocketAddr>,
    /// Whether to look up `_grpc_config.<host>` (gRFC A2).
    service_config: bool,
    /// Built on first use, inside the runtime.
    resolver: OnceLock<Result<TokioResolver, String>>,
}

impl HickoryDns {
    pub(crate) fn new(host: &str, port: u16, server: Option<SocketAddr>, txt: bool) -> Self {
        HickoryDns {
            host: host.to_owned(),
            port,
            server,
            service_config: txt,
            resolver: OnceLock::new(),
        }
    }

    fn resolver(&self) -> Result<&TokioResolver, std::io::Error> {
        self.resolver
            .get_or_init(|| build(self.server))
            .as_ref()
            .map_err(|why| std::io::Error::other(why.clone()))
    }

    /// The name to look up: the host with `prefix` in front (a name with fewer dots than
    /// the system's `ndots` goes through its search list, as `orders` does in a Kubernetes
    /// namespace).
    fn name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.host)
    }

    async fn addresses(&self) -> std::io::Result<(Vec<Address>, Instant)> {
        let resolver = self.resolver()?;
        resolver.clear_cache();
        let found = resolver
            .lookup_ip(self.name(""))
            .await
            .map_err(|e| std::io::Error::other(format!("{}: {e}", self.host)))?;
        let mut addresses: Vec<Address> = found
            .iter()
            .map(|ip| Address::from(SocketAddr::new(ip, self.port)))
            .collect();
        addresses.sort_by_key(|a| a.addr);
        addresses.dedup();
        Ok((addresses, found.valid_until()))
    }

    /// The TXT records of `_grpc_config.<host>`, each one's strings joined; none when the
    /// name has none. A failed lookup (a timeout, a server failure) is an error, so that the
    /// channel keeps the config it has rather than falling back to its default for one
    /// answer.
    async fn txt_records(&self) -> Result<Vec<String>, String> {
        let resolver = self.resolver().map_err(|e| e.to_string())?;
        match resolver.txt_lookup(self.name("_grpc_config.")).await {
            Ok(found) => Ok(found
                .iter()
                .map(|txt| {
                    let bytes: Vec<u8> = txt.txt_data().iter().flatten().copied().collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                })
                .collect()),
            Err(err) if err.is_no_records_found() => Ok(Vec::new()),
            Err(err) => Err(format!("TXT lookup of _grpc_config.{}: {err}", self.host)),
        }
    }

    async fn config(&self) -> Option<Result<Arc<ServiceConfig>, String>> {
        let records = match self.txt_records().await {
            Ok(records) => records,
            Err(why) => return Some(Err(why)),
        };
        let hostname = hostname();
        let client = Client {
            hostname: &hostname,
            percentile: (crate::random::random_u64() % 100) as u8,
        };
        match dns_config::choose(&records, &client) {
            Ok(Choice::None) => None,
            Ok(Choice::Config(json)) => Some(
                ServiceConfig::from_json(&json)
                    .map(Arc::new)
                    .map_err(|e| e.to_string()),
            ),
            Err(why) => Some(Err(why)),
        }
    }
}

/// The machine's host name, as `clientHostname` is compared with; empty when unknown.
pub(crate) fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// A resolver asking `server`, else the servers of the system's configuration.
fn build(server: Option<SocketAddr>) -> Result<TokioResolver, String> {
    let (config, mut options) = match server {
        Some(server) => (
            ResolverConfig::from_parts(
                None,
                Vec::new(),
                NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true),
            ),
            ResolverOpts::default(),
        ),
        None => hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("reading the system's DNS configuration: {e}"))?,
    };
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    options.use_hosts_file = if server.is_some() {
        ResolveHosts::Never
    } else {
        ResolveHosts::Always
    };
    let mut builder =
        TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
    *builder.options_mut() = options;
    Ok(builder.build())
}

impl Resolver for HickoryDns {
    fn resolve(&self) -> Resolving<'_> {
        Box::pin(async move { Ok(self.addresses().await?.0) })
    }

    fn resolution(&self) -> ResolvingAll<'_> {
        Box::pin(async move {
            let (addresses, valid_until) = self.addresses().await?;
            let mut resolution = Resolution::new(addresses);
            resolution.valid_for = Some(valid_until.saturating_duration_since(Instant::now()));
            if self.service_config {
                resolution.service_config = self.config().await;
            }
            Ok(resolution)
        })
    }
}

/// Parses a `dns:` target's authority, the DNS server: `ip`, `ip:port`, `[ipv6]:port`.
pub(crate) fn server(authority: &str) -> Option<SocketAddr> {
    if let Ok(addr) = authority.parse::<SocketAddr>() {
        return Some(addr);
    }
    let bare = authority.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
}

#[cfg(test)]
mod tests {
    use super::server;

    #[test]
    fn dns_server_authorities_parse_with_port_53_by_default() {
        assert_eq!(server("10.0.0.10"), Some("10.0.0.10:53".parse().unwrap()));
        assert_eq!(
            server("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(server("[::1]:5353"), Some("[::1]:5353".parse().unwrap()));
        assert_eq!(server("::1"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(server("[::1]"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(server("dns.example"), None);
        assert_eq!(server("1.2.3.4:x"), None);
    }
}
