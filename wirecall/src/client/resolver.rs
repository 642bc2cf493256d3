//! Name resolution: turning a target into the addresses of its servers. Built in: `dns:`
//! (several A/AAAA records make several backends, as a Kubernetes headless service
//! gives), and static `ipv4:`/`ipv6:` lists (gRPC's naming.md); anything else implements
//! [`Resolver`].

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::service_config::ServiceConfig;
use crate::Error;

/// One backend address, with its weight for the weighted round robin (1 unless a resolver
/// says otherwise).
///
/// More attributes may come (`non_exhaustive`): make one with [`Address::new`] (or
/// `Address::from(socket_addr)`) and [`Address::with_weight`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Address {
    /// Where the backend listens.
    pub addr: SocketAddr,
    /// Its share of calls under [`LoadBalancingPolicy::WeightedRoundRobin`](crate::service_config::LoadBalancingPolicy), relative to the others.
    pub weight: u32,
}

impl Address {
    /// The backend at `addr`, of weight 1.
    pub fn new(addr: SocketAddr) -> Self {
        Address { addr, weight: 1 }
    }

    /// The same backend with `weight` as its share of calls.
    pub fn with_weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Address::new(addr)
    }
}

/// The future a [`Resolver`] returns.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = std::io::Result<Vec<Address>>> + Send + 'a>>;

/// The future [`Resolver::resolution`] returns.
pub type ResolvingAll<'a> = Pin<Box<dyn Future<Output = std::io::Result<Resolution>> + Send + 'a>>;

/// All a resolver found: the addresses, and what else it may know.
///
/// More may come (`non_exhaustive`): make one with [`Resolution::new`] and set the fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Resolution {
    /// The backends.
    pub addresses: Vec<Address>,
    /// The service config the name carries (gRFC A2's TXT record): `None` when it carries
    /// none (the channel's own, [`Endpoint::service_config`](crate::Endpoint::service_config),
    /// applies), an error when the one it carries is invalid (the channel keeps the last
    /// good one).
    pub service_config: Option<Result<Arc<ServiceConfig>, String>>,
    /// How long the answer holds (a DNS answer's TTL): the channel resolves again then,
    /// but no sooner than its minimum interval. `None`: on its resolve interval.
    pub valid_for: Option<Duration>,
}

impl Resolution {
    /// Just `addresses`.
    pub fn new(addresses: Vec<Address>) -> Self {
        Resolution {
            addresses,
            service_config: None,
            valid_for: None,
        }
    }
}

/// Finds the current addresses of a service. A channel asks again on its resolve interval
/// (or when the last answer expires) and whenever a connection to a backend fails; an error
/// or an empty answer keeps the addresses it had.
pub trait Resolver: Send + Sync + 'static {
    /// The addresses now.
    fn resolve(&self) -> Resolving<'_>;

    /// The addresses now, with a service config and how long they hold if the resolver
    /// knows them. What the channel calls; by default the addresses of
    /// [`Resolver::resolve`] alone.
    fn resolution(&self) -> ResolvingAll<'_> {
        Box::pin(async move { self.resolve().await.map(Resolution::new) })
    }
}

/// Resolves `host:port` through the system resolver (`getaddrinfo`), every A and AAAA
/// record a backend. (With the `dns` feature, `dns:` targets use gRPC's DNS resolver
/// instead: TTLs, a DNS server of the target's choosing, TXT service config.)
#[derive(Debug, Clone)]
pub struct Dns {
    host_port: String,
}

impl Dns {
    /// A resolver for `host:port`.
    pub fn new(host_port: impl Into<String>) -> Self {
        Dns {
            host_port: host_port.into(),
        }
    }
}

impl Resolver for Dns {
    fn resolve(&self) -> Resolving<'_> {
        Box::pin(async move {
            let mut addresses: Vec<Address> = tokio::net::lookup_host(self.host_port.as_str())
                .await?
                .map(Address::from)
                .collect();
            addresses.sort_by_key(|a| a.addr);
            addresses.dedup();
            Ok(addresses)
        })
    }
}

/// A fixed list of addresses.
#[derive(Debug, Clone)]
pub struct Static(pub Vec<Address>);

impl Resolver for Static {
    fn resolve(&self) -> Resolving<'_> {
        let addresses = self.0.clone();
        Box::pin(async move { Ok(addresses) })
    }
}

/// A parsed name-resolving target: the resolver and the `:authority` its calls carry.
pub(crate) struct Named {
    pub(crate) authority: String,
    pub(crate) resolver: Arc<dyn Resolver>,
}

/// Port used when a `dns:`, `ipv4:` or `ipv6:` target names none (naming.md).
const DEFAULT_PORT: u16 = 443;

/// How a `dns:` target resolves, beyond its name.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DnsOptions {
    /// Whether to look up the service config in TXT records (gRFC A2).
    pub(crate) service_config: bool,
}

/// Parses `dns:[//authority/]host[:port]`, `ipv4:addr[:port][,...]` and
/// `ipv6:addr[,...]` targets (`addr` bracketed when it has a port); `None` for any other
/// scheme.
pub(crate) fn parse(target: &str) -> Option<Result<Named, Error>> {
    parse_with(target, DnsOptions::default())
}

/// [`parse`], with `dns:` targets resolving as `options` say.
pub(crate) fn parse_with(target: &str, options: DnsOptions) -> Option<Result<Named, Error>> {
    let (scheme, rest) = target.split_once(':')?;
    let invalid = |why: &str| Error::invalid_uri(format!("{target:?}: {why}"));
    Some(match scheme {
        "dns" => {
            let (server, name) = match rest.strip_prefix("//") {
                None => (None, rest),
                Some(after) => match after.split_once('/') {
                    Some(("", name)) => (None, name),
                    Some((authority, name)) => (Some(authority), name),
                    None => return Some(Err(invalid("no host"))),
                },
            };
            if name.is_empty() {
                return Some(Err(invalid("no host")));
            }
            let host_port = if has_port(name) {
                name.to_owned()
            } else {
                format!("{name}:{DEFAULT_PORT}")
            };
            dns_resolver(&host_port, server, options)
                .map_err(|why| invalid(&why))
                .map(|resolver| Named {
                    authority: host_port,
                    resolver,
                })
        }
        "ipv4" | "ipv6" => {
            let v6 = scheme == "ipv6";
            rest.split(',')
                .map(|item| {
                    ip_address(item, v6).ok_or_else(|| invalid(&format!("bad address {item:?}")))
                })
                .collect::<Result<Vec<Address>, Error>>()
                .and_then(|addresses| {
                    let first = addresses.first().ok_or_else(|| invalid("no address"))?;
                    Ok(Named {
                        authority: first.addr.to_string(),
                        resolver: Arc::new(Static(addresses)),
                    })
                })
        }
        _ => return None,
    })
}

/// The resolver of a `dns:` target's `host:port`, asking the DNS server `server` names.
/// An IP address needs no resolving.
fn dns_resolver(
    host_port: &str,
    server: Option<&str>,
    options: DnsOptions,
) -> Result<Arc<dyn Resolver>, String> {
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Ok(Arc::new(Static(vec![addr.into()])));
    }
    #[cfg(feature = "dns")]
    {
        let server = match server {
            Some(authority) => Some(super::dns::server(authority).ok_or_else(|| {
                format!("the DNS server {authority:?} is not an IP address with an optional port")
            })?),
            None => None,
        };
        let (host, port) = host_port.rsplit_once(':').expect("a port was added");
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port.parse().map_err(|_| format!("bad port {port:?}"))?;
        Ok(Arc::new(super::dns::HickoryDns::new(
            host,
            port,
            server,
            options.service_config,
        )))
    }
    #[cfg(not(feature = "dns"))]
    {
        let _ = options.service_config;
        if server.is_some() {
            return Err("naming a DNS server needs wirecall's `dns` feature".to_owned());
        }
        Ok(Arc::new(Dns::new(host_port)))
    }
}

fn has_port(host: &str) -> bool {
    match host.rsplit_once(':') {
        Some((before, port)) => {
            (!before.contains(':') || before.ends_with(']')) && port.parse::<u16>().is_ok()
        }
        None => false,
    }
}

fn ip_address(item: &str, v6: bool) -> Option<Address> {
    if let Ok(addr) = item.parse::<SocketAddr>() {
        return (addr.is_ipv6() == v6).then_some(addr.into());
    }
    let ip = item
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()?;
    (ip.is_ipv6() == v6).then(|| SocketAddr::new(ip, DEFAULT_PORT).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(target: &str) -> Vec<String> {
        let named = parse(target).expect("a resolving scheme").expect("valid");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(named.resolver.resolve())
            .unwrap()
            .iter()
            .map(|a| a.addr.to_string())
            .collect()
    }

    #[test]
    fn addresses_start_at_weight_one() {
        let addr: SocketAddr = "10.0.0.1:50051".parse().unwrap();
        assert_eq!(Address::new(addr).weight, 1);
        assert_eq!(Address::from(addr), Address::new(addr));
        let heavy = Address::new(addr).with_weight(3);
        assert_eq!((heavy.addr, heavy.weight), (addr, 3));
    }

    #[test]
    fn static_lists_parse_with_and_without_ports() {
        assert_eq!(
            resolve("ipv4:127.0.0.1:50051,127.0.0.2"),
            ["127.0.0.1:50051", "127.0.0.2:443"]
        );
        assert_eq!(resolve("ipv6:[::1]:8080,::1"), ["[::1]:8080", "[::1]:443"]);
        let named = parse("ipv4:127.0.0.3:9").unwrap().unwrap();
        assert_eq!(named.authority, "127.0.0.3:9");
    }

    #[test]
    fn wrong_families_and_garbage_are_rejected() {
        for target in [
            "ipv4:[::1]:80",
            "ipv6:127.0.0.1:80",
            "ipv4:",
            "ipv4:nope:1",
            "dns:",
            "dns:///",
            "dns://dns.example/host:1",
        ] {
            assert!(parse(target).unwrap().is_err(), "{target}");
        }
        // A DNS server in the authority is the `dns` feature's.
        assert_eq!(
            parse("dns://8.8.8.8/host:1").unwrap().is_ok(),
            cfg!(feature = "dns")
        );
        assert!(parse("http://host:1").is_none());
        assert!(parse("unix:/tmp/s").is_none());
    }

    #[test]
    fn dns_names_resolve_and_default_the_port() {
        assert_eq!(resolve("dns:///127.0.0.1:7000"), ["127.0.0.1:7000"]);
        assert_eq!(resolve("dns:127.0.0.1"), ["127.0.0.1:443"]);
        let localhost = resolve("dns:///localhost:7001");
        assert!(!localhost.is_empty() && localhost.iter().all(|a| a.ends_with(":7001")));
        assert_eq!(
            parse("dns:///localhost").unwrap().unwrap().authority,
            "localhost:443"
        );
    }
}
