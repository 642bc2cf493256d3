//! The service config: the JSON document (gRFC A2) in which a service owner tells clients how
//! to call it. It holds per-method settings (timeouts, `waitForReady`, message size limits),
//! retry and hedging policies (gRFC A6), retry throttling, the load-balancing policy
//! (`loadBalancingConfig`, gRFC A24, or the older `loadBalancingPolicy` string) with
//! outlier detection around it (`outlier_detection_experimental`, gRFC A50), and client-side
//! health checking (`healthCheckConfig`, gRFC A17).
//!
//! [`ServiceConfig::from_json`] checks the whole document up front, so a bad config fails
//! when the channel is built, with an error naming the offending field (for example
//! `methodConfig[0].retryPolicy.maxAttempts: must be at least 2`), and never later during a
//! call. Keys this module does not know are ignored. Pure code: no I/O.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::{Code, Error};

mod outlier_detection;

pub use outlier_detection::{
    FailurePercentageEjection, OutlierDetectionConfig, SuccessRateEjection,
};

/// Retry and hedging policies never make more attempts than this (gRFC A6); larger
/// `maxAttempts` values are lowered to it.
const MAX_ATTEMPTS_CAP: u32 = 5;

/// The largest seconds value a protobuf `Duration` can hold (10,000 years).
const MAX_DURATION_SECS: u64 = 315_576_000_000;

/// The top limit of `retryThrottling.maxTokens`.
const MAX_THROTTLING_TOKENS: f64 = 1000.0;

/// The `loadBalancingConfig` name of outlier detection (gRFC A50), the name grpc-go, Java
/// and C-core use.
const OUTLIER_DETECTION: &str = "outlier_detection_experimental";

/// A parsed service config.
///
/// Build one with [`ServiceConfig::from_json`] and hand it to
/// [`Endpoint::service_config`](crate::Endpoint::service_config); the default value is an
/// empty config, which changes nothing.
#[derive(Debug, Clone, Default)]
pub struct ServiceConfig {
    /// The `methodConfig` entries, in document order.
    methods: Vec<MethodConfig>,
    /// Index into `methods` by service name, then by method name.
    services: HashMap<String, ServiceEntry>,
    /// The entry for every method not named anywhere else.
    default_method: Option<usize>,
    load_balancing: Option<LoadBalancingPolicy>,
    /// Outlier detection around `load_balancing`, its child policy.
    outlier_detection: Option<OutlierDetectionConfig>,
    retry_throttling: Option<RetryThrottling>,
    /// `healthCheckConfig.serviceName`, when health checking is on.
    health_check_service_name: Option<String>,
}

/// Which `methodConfig` entries name one service.
#[derive(Debug, Clone, Default)]
struct ServiceEntry {
    /// The entry naming the service without a method.
    whole: Option<usize>,
    /// The entries naming one of its methods.
    methods: HashMap<String, usize>,
}

/// The load-balancing policies wirecall implements. The list grows as policies are added
/// (`non_exhaustive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LoadBalancingPolicy {
    /// Send every call to the first address that connects (`pick_first`).
    #[default]
    PickFirst,
    /// Spread calls evenly over all connected addresses (`round_robin`).
    RoundRobin,
    /// Spread calls over connected addresses in proportion to their weights
    /// (`weighted_round_robin`).
    WeightedRoundRobin,
}

impl LoadBalancingPolicy {
    /// The policy for a `loadBalancingConfig` key or `loadBalancingPolicy` value.
    fn from_name(name: &str) -> Option<Self> {
        const NAMES: [(&str, LoadBalancingPolicy); 3] = [
            ("pick_first", LoadBalancingPolicy::PickFirst),
            ("round_robin", LoadBalancingPolicy::RoundRobin),
            (
                "weighted_round_robin",
                LoadBalancingPolicy::WeightedRoundRobin,
            ),
        ];
        NAMES
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|&(_, policy)| policy)
    }
}

/// The settings of one `methodConfig` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MethodConfig {
    /// The longest a call may take; the earlier of this and the call's own deadline wins.
    pub(crate) timeout: Option<Duration>,
    /// Whether calls wait for a connection instead of failing fast.
    pub(crate) wait_for_ready: Option<bool>,
    /// The largest request message the client sends.
    pub(crate) max_request_message_bytes: Option<usize>,
    /// The largest response message the client accepts.
    pub(crate) max_response_message_bytes: Option<usize>,
    /// Retry failed attempts; never set together with `hedging`.
    pub(crate) retry: Option<RetryPolicy>,
    /// Send extra attempts without waiting for failures; never set together with `retry`.
    pub(crate) hedging: Option<HedgingPolicy>,
}

/// `retryPolicy`: when and how often a failed call is tried again.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RetryPolicy {
    /// Attempts in all, the first included: 2 to 5.
    pub(crate) max_attempts: u32,
    /// The upper bound of the random delay before the first retry.
    pub(crate) initial_backoff: Duration,
    /// The bound the growing delay stops at.
    pub(crate) max_backoff: Duration,
    /// How much the bound grows after each retry.
    pub(crate) backoff_multiplier: f64,
    /// The statuses worth retrying; never empty and never `OK`.
    pub(crate) retryable_status_codes: Vec<Code>,
    /// How long one attempt may wait for a response message before it is abandoned.
    pub(crate) per_attempt_recv_timeout: Option<Duration>,
}

/// `hedgingPolicy`: extra copies of a call sent at intervals, the first answer winning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HedgingPolicy {
    /// Attempts in all, the first included: 2 to 5.
    pub(crate) max_attempts: u32,
    /// The wait between sending one attempt and the next.
    pub(crate) hedging_delay: Duration,
    /// The statuses after which the other attempts carry on; any other status ends the call.
    pub(crate) non_fatal_status_codes: Vec<Code>,
}

/// `retryThrottling`: the token bucket that stops retries and hedges when many calls fail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RetryThrottling {
    /// The bucket size: above 0, at most 1000.
    pub(crate) max_tokens: f64,
    /// What each successful call adds back: above 0, with at most 3 decimal places.
    pub(crate) token_ratio: f64,
}

impl ServiceConfig {
    /// Parses and checks a service config in its JSON form, e.g.
    /// `{"methodConfig": [{"name": [{"service": "pkg.Svc"}], "timeout": "2s"}]}`.
    ///
    /// Fails with a configuration error ([`Error::is_config`]) that names the offending
    /// field when the text is not JSON, a value has the wrong type or range, a retry or
    /// hedging policy is incomplete, a method is named twice, or `loadBalancingConfig`
    /// lists no policy wirecall implements (or an `outlier_detection_experimental` entry
    /// has no `childPolicy` wirecall implements).
    pub fn from_json(text: &str) -> Result<ServiceConfig, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|err| Error::config(format!("service config is not valid JSON: {err}")))?;
        let top = Fields::of(&value, String::new())?;
        let mut config = ServiceConfig::default();
        if let Some(entries) = top.opt("methodConfig", as_array)? {
            for (i, entry) in entries.iter().enumerate() {
                config.add_method(entry, format!("methodConfig[{i}]"))?;
            }
        }
        config.retry_throttling = top.opt("retryThrottling", parse_throttling)?;
        match top.opt("loadBalancingConfig", parse_lb_config)? {
            Some(choice) => {
                config.load_balancing = Some(choice.policy);
                config.outlier_detection = choice.outlier_detection;
            }
            None => config.load_balancing = top.opt("loadBalancingPolicy", parse_lb_policy)?,
        }
        config.health_check_service_name = top.opt("healthCheckConfig", parse_health_check)?;
        Ok(config)
    }

    /// The method config for `/service/method`: an entry naming both the service and the
    /// method wins, then one naming only the service, then the default entry (a name with
    /// neither, or with an empty service).
    #[cfg(test)]
    pub(crate) fn method(&self, service: &str, method: &str) -> Option<&MethodConfig> {
        self.index(service, method).map(|i| &self.methods[i])
    }

    /// Where [`ServiceConfig::method`]'s entry is, for [`ServiceConfig::method_at`].
    fn index(&self, service: &str, method: &str) -> Option<usize> {
        let entry = self.services.get(service);
        entry
            .and_then(|e| e.methods.get(method).copied())
            .or_else(|| entry.and_then(|e| e.whole))
            .or(self.default_method)
    }

    /// [`ServiceConfig::method`] for a gRPC path, `/pkg.Service/Method`; `None` for a path
    /// without that shape.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn for_path(&self, path: &str) -> Option<&MethodConfig> {
        self.index_for_path(path).map(|i| &self.methods[i])
    }

    /// Where [`ServiceConfig::for_path`]'s entry is: a call keeps it with the config, so it
    /// looks the path up once.
    pub(crate) fn index_for_path(&self, path: &str) -> Option<usize> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        self.index(service, method)
    }

    /// The method config at `index`, from [`ServiceConfig::index_for_path`].
    pub(crate) fn method_at(&self, index: usize) -> &MethodConfig {
        &self.methods[index]
    }

    /// The policy chosen by `loadBalancingConfig` (else `loadBalancingPolicy`), if any. When
    /// `loadBalancingConfig` chose `outlier_detection_experimental`, this is its child
    /// policy, and [`ServiceConfig::outlier_detection`] holds the rest.
    pub fn load_balancing(&self) -> Option<LoadBalancingPolicy> {
        self.load_balancing
    }

    /// The outlier detection settings (gRFC A50), when `loadBalancingConfig` chose
    /// `outlier_detection_experimental`, e.g.
    /// `[{"outlier_detection_experimental": {"failurePercentageEjection": {}, "childPolicy":
    /// [{"round_robin": {}}]}}]`. A config with neither `successRateEjection` nor
    /// `failurePercentageEjection` ejects nothing ([`OutlierDetectionConfig::is_enabled`]).
    pub fn outlier_detection(&self) -> Option<&OutlierDetectionConfig> {
        self.outlier_detection.as_ref()
    }

    /// The service whose health the client watches on each backend (gRFC A17), when
    /// `healthCheckConfig` is present: its `serviceName`, `""` (the server's overall health)
    /// when that is absent. `None` means health checking is off.
    pub fn health_check_service_name(&self) -> Option<&str> {
        self.health_check_service_name.as_deref()
    }

    /// The `retryThrottling` settings, if any.
    pub(crate) fn retry_throttling(&self) -> Option<RetryThrottling> {
        self.retry_throttling
    }

    /// Parses one `methodConfig` entry and indexes it under each of its names.
    fn add_method(&mut self, value: &Value, path: String) -> Result<(), Error> {
        let fields = Fields::of(value, path)?;
        let index = self.methods.len();
        let names = fields.opt("name", as_array)?.unwrap_or_default();
        for (i, name) in names.iter().enumerate() {
            let name_path = format!("{}.name[{i}]", fields.path);
            let name = Fields::of(name, name_path.clone())?;
            let service = name.opt("service", as_str)?.unwrap_or_default();
            let method = name.opt("method", as_str)?.unwrap_or_default();
            let slot = match (service.is_empty(), method.is_empty()) {
                (true, false) => {
                    return Err(Error::config(format!(
                        "{name_path}: a method name needs a service name"
                    )))
                }
                (true, true) => &mut self.default_method,
                (false, true) => &mut self.services.entry(service.to_owned()).or_default().whole,
                (false, false) => {
                    let entry = self.services.entry(service.to_owned()).or_default();
                    let methods = &mut entry.methods;
                    if let Some(&earlier) = methods.get(method) {
                        return Err(duplicate(&name_path, service, method, earlier));
                    }
                    methods.insert(method.to_owned(), index);
                    continue;
                }
            };
            if let Some(earlier) = *slot {
                return Err(duplicate(&name_path, service, method, earlier));
            }
            *slot = Some(index);
        }
        let retry = fields.opt("retryPolicy", parse_retry)?;
        let hedging = fields.opt("hedgingPolicy", parse_hedging)?;
        if retry.is_some() && hedging.is_some() {
            return Err(Error::config(format!(
                "{}: retryPolicy and hedgingPolicy cannot both be set",
                fields.path
            )));
        }
        self.methods.push(MethodConfig {
            timeout: fields.opt("timeout", as_duration)?,
            wait_for_ready: fields.opt("waitForReady", as_bool)?,
            max_request_message_bytes: fields.opt("maxRequestMessageBytes", as_size)?,
            max_response_message_bytes: fields.opt("maxResponseMessageBytes", as_size)?,
            retry,
            hedging,
        });
        Ok(())
    }
}

/// The error for a name that an earlier `methodConfig` entry already claimed.
fn duplicate(path: &str, service: &str, method: &str, earlier: usize) -> Error {
    Error::config(format!(
        "{path}: duplicate name {{service: {service:?}, method: {method:?}}} \
         (already in methodConfig[{earlier}])"
    ))
}

fn parse_retry(value: &Value, path: &str) -> Result<RetryPolicy, Error> {
    let fields = Fields::of(value, path.to_owned())?;
    let per_attempt_recv_timeout = fields.opt("perAttemptRecvTimeout", as_duration)?;
    if per_attempt_recv_timeout == Some(Duration::ZERO) {
        return Err(fields.invalid("perAttemptRecvTimeout", "must be greater than 0"));
    }
    // With a per-attempt timeout the policy retries silent attempts, so it may name no code.
    let retryable_status_codes = match per_attempt_recv_timeout {
        Some(_) => fields
            .opt("retryableStatusCodes", as_codes)?
            .unwrap_or_default(),
        None => fields.req("retryableStatusCodes", as_codes)?,
    };
    if retryable_status_codes.is_empty() && per_attempt_recv_timeout.is_none() {
        return Err(fields.invalid(
            "retryableStatusCodes",
            "must not be empty (unless perAttemptRecvTimeout is set)",
        ));
    }
    if retryable_status_codes.contains(&Code::Ok) {
        return Err(fields.invalid("retryableStatusCodes", "OK cannot be retried"));
    }
    Ok(RetryPolicy {
        max_attempts: fields.req("maxAttempts", as_max_attempts)?,
        initial_backoff: fields.req("initialBackoff", as_positive_duration)?,
        max_backoff: fields.req("maxBackoff", as_positive_duration)?,
        backoff_multiplier: fields.req("backoffMultiplier", as_positive_float)?,
        retryable_status_codes,
        per_attempt_recv_timeout,
    })
}

fn parse_hedging(value: &Value, path: &str) -> Result<HedgingPolicy, Error> {
    let fields = Fields::of(value, path.to_owned())?;
    Ok(HedgingPolicy {
        max_attempts: fields.req("maxAttempts", as_max_attempts)?,
        hedging_delay: fields.opt("hedgingDelay", as_duration)?.unwrap_or_default(),
        non_fatal_status_codes: fields
            .opt("nonFatalStatusCodes", as_codes)?
            .unwrap_or_default(),
    })
}

fn parse_throttling(value: &Value, path: &str) -> Result<RetryThrottling, Error> {
    let fields = Fields::of(value, path.to_owned())?;
    let max_tokens = fields.req("maxTokens", as_positive_float)?;
    if max_tokens > MAX_THROTTLING_TOKENS {
        return Err(fields.invalid("maxTokens", "must be at most 1000"));
    }
    let token_ratio = truncate_to_millis(fields.req("tokenRatio", as_positive_float)?);
    if token_ratio <= 0.0 {
        return Err(fields.invalid(
            "tokenRatio",
            "must be at least 0.001 (only 3 decimal places are kept)",
        ));
    }
    Ok(RetryThrottling {
        max_tokens,
        token_ratio,
    })
}

/// Cuts a number to 3 decimal places. Works on the shortest decimal form of the number, the
/// digits the config was written with, so `0.29` stays `0.29` instead of losing a unit to
/// binary rounding.
fn truncate_to_millis(value: f64) -> f64 {
    let mut text = value.to_string();
    if let Some(dot) = text.find('.') {
        text.truncate((dot + 4).min(text.len()));
    }
    text.parse().unwrap_or(value)
}

/// What `loadBalancingConfig` chose.
struct LbChoice {
    /// The policy that picks backends: the entry's, or its `childPolicy`'s for outlier
    /// detection.
    policy: LoadBalancingPolicy,
    /// The outlier detection settings, when the entry was `outlier_detection_experimental`.
    outlier_detection: Option<OutlierDetectionConfig>,
}

/// `loadBalancingConfig`: the first entry naming a policy wirecall implements, outlier
/// detection included.
fn parse_lb_config(value: &Value, path: &str) -> Result<LbChoice, Error> {
    parse_lb_list(value, path, true)
}

/// A list of balancing policies, the first one implemented winning. Outlier detection counts
/// only with `outer` (the top level): it cannot wrap itself.
fn parse_lb_list(value: &Value, path: &str, outer: bool) -> Result<LbChoice, Error> {
    for (i, entry) in as_array(value, path)?.iter().enumerate() {
        let entry_path = format!("{path}[{i}]");
        let fields = Fields::of(entry, entry_path.clone())?;
        let mut keys = fields.map.iter();
        let (Some((name, config)), None) = (keys.next(), keys.next()) else {
            return Err(Error::config(format!(
                "{entry_path}: must hold exactly one policy, e.g. {{\"round_robin\": {{}}}}"
            )));
        };
        let config_path = format!("{entry_path}.{name}");
        if let Some(policy) = LoadBalancingPolicy::from_name(name) {
            Fields::of(config, config_path)?;
            return Ok(LbChoice {
                policy,
                outlier_detection: None,
            });
        }
        if outer && name.eq_ignore_ascii_case(OUTLIER_DETECTION) {
            return parse_outlier_detection(config, &config_path);
        }
    }
    let also = if outer {
        ", and outlier_detection_experimental over one of them"
    } else {
        ""
    };
    Err(Error::config(format!(
        "{path}: lists no supported policy (wirecall implements pick_first, round_robin \
         and weighted_round_robin{also})"
    )))
}

/// `outlier_detection_experimental` (gRFC A50): its settings, the defaults filling in what
/// is absent, and its `childPolicy`, which is required.
fn parse_outlier_detection(value: &Value, path: &str) -> Result<LbChoice, Error> {
    let fields = Fields::of(value, path.to_owned())?;
    let defaults = OutlierDetectionConfig::default();
    let config = OutlierDetectionConfig {
        interval: fields
            .opt("interval", as_duration)?
            .unwrap_or(defaults.interval),
        base_ejection_time: fields
            .opt("baseEjectionTime", as_duration)?
            .unwrap_or(defaults.base_ejection_time),
        max_ejection_time: fields
            .opt("maxEjectionTime", as_duration)?
            .unwrap_or(defaults.max_ejection_time),
        max_ejection_percent: fields
            .opt("maxEjectionPercent", as_percent)?
            .unwrap_or(defaults.max_ejection_percent),
        success_rate_ejection: fields.opt("successRateEjection", parse_success_rate)?,
        failure_percentage_ejection: fields
            .opt("failurePercentageEjection", parse_failure_percentage)?,
    };
    let child = fields.req("childPolicy", |value, path| {
        parse_lb_list(value, path, false)
    })?;
    Ok(LbChoice {
        policy: child.policy,
        outlier_detection: Some(config),
    })
}

/// `successRateEjection`; present, even empty, turns the algorithm on.
fn parse_success_rate(value: &Value, path: &str) -> Result<SuccessRateEjection, Error> {
    let fields = Fields::of(value, path.to_owned())?;
    let defaults = SuccessRateEjection::default();
    Ok(SuccessRateEjection {
        stdev_factor: fields
            .opt("stdevFactor", as_u32)?
            .unwrap_or(defaults.stdev_factor),
        enforcement_percentage: fields
            .opt("enforcementPercentage", as_percent)?
            .unwrap_or(defaults.enforcement_percentage),
        minimum_hosts: fields
            .opt("minimumHosts", as_u32)?
            .unwrap_or(defaults.minimum_hosts),
        request_volume: fields
            .opt("requestVolume", as_u32)?
            .unwrap_or(defaults.request_volume),
    })
}

/// `failurePercentageEjection`; present, even empty, turns the algorithm on.
fn parse_failure_percentage(value: &Value, path: &str) -> Result<FailurePercentageEjection, Error> {
    let fields = Fields::of(value, path.to_owned())?;
    let defaults = FailurePercentageEjection::default();
    Ok(FailurePercentageEjection {
        threshold: fields
            .opt("threshold", as_percent)?
            .unwrap_or(defaults.threshold),
        enforcement_percentage: fields
            .opt("enforcementPercentage", as_percent)?
            .unwrap_or(defaults.enforcement_percentage),
        minimum_hosts: fields
            .opt("minimumHosts", as_u32)?
            .unwrap_or(defaults.minimum_hosts),
        request_volume: fields
            .opt("requestVolume", as_u32)?
            .unwrap_or(defaults.request_volume),
    })
}

/// `healthCheckConfig` (gRFC A17): the service name to watch, `""` when absent.
fn parse_health_check(value: &Value, path: &str) -> Result<String, Error> {
    let fields = Fields::of(value, path.to_owned())?;
    Ok(fields
        .opt("serviceName", as_str)?
        .unwrap_or_default()
        .to_owned())
}

/// `loadBalancingPolicy`: the deprecated policy name.
fn parse_lb_policy(value: &Value, path: &str) -> Result<LoadBalancingPolicy, Error> {
    let name = as_str(value, path)?;
    LoadBalancingPolicy::from_name(name)
        .ok_or_else(|| Error::config(format!("{path}: unsupported policy {name:?}")))
}

/// Parses a protobuf JSON `Duration`: whole seconds, optionally up to 9 fractional digits,
/// then `s`, e.g. `"1s"`, `"0.5s"`, `"1.000340012s"`. Negative or out-of-range durations
/// and anything else are `None`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let number = text.strip_suffix('s')?;
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (number, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) {
        return None;
    }
    let secs: u64 = whole.parse().ok().filter(|&s| s <= MAX_DURATION_SECS)?;
    let nanos = match fraction {
        None => 0,
        Some(f) if all_digits(f) && f.len() <= 9 => {
            let digits: u32 = f.parse().ok()?;
            let scale = u32::try_from(9 - f.len()).ok()?;
            digits * 10u32.pow(scale)
        }
        Some(_) => return None,
    };
    Some(Duration::new(secs, nanos))
}

/// One JSON object of the config, with the path that names it in errors.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    fn of(value: &'a Value, path: String) -> Result<Self, Error> {
        match value {
            Value::Object(map) => Ok(Fields { map, path }),
            other => Err(wrong_type(&path, "an object", other)),
        }
    }

    /// The path of one field, e.g. `methodConfig[0].timeout`.
    fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// A field converted by `convert`; absent (or `null`, as protobuf JSON allows) is `None`.
    fn opt<T>(
        &self,
        key: &str,
        convert: impl FnOnce(&'a Value, &str) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => convert(value, &self.path_of(key)).map(Some),
        }
    }

    /// A field that must be present.
    fn req<T>(
        &self,
        key: &str,
        convert: impl FnOnce(&'a Value, &str) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.opt(key, convert)?
            .ok_or_else(|| self.invalid(key, "is required"))
    }

    fn invalid(&self, key: &str, reason: &str) -> Error {
        Error::config(format!("{}: {reason}", self.path_of(key)))
    }
}

fn wrong_type(path: &str, expected: &str, got: &Value) -> Error {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    Error::config(format!("{path}: expected {expected}, got {got}"))
}

fn as_array<'a>(value: &'a Value, path: &str) -> Result<&'a [Value], Error> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(wrong_type(path, "an array", other)),
    }
}

fn as_str<'a>(value: &'a Value, path: &str) -> Result<&'a str, Error> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(wrong_type(path, "a string", other)),
    }
}

fn as_bool(value: &Value, path: &str) -> Result<bool, Error> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(wrong_type(path, "a boolean", other)),
    }
}

fn as_duration(value: &Value, path: &str) -> Result<Duration, Error> {
    let text = as_str(value, path)
        .map_err(|_| wrong_type(path, "a duration string like \"1.5s\"", value))?;
    parse_duration(text).ok_or_else(|| {
        Error::config(format!(
            "{path}: {text:?} is not a non-negative duration like \"1.5s\""
        ))
    })
}

fn as_positive_duration(value: &Value, path: &str) -> Result<Duration, Error> {
    match as_duration(value, path)? {
        Duration::ZERO => Err(Error::config(format!("{path}: must be greater than 0"))),
        duration => Ok(duration),
    }
}

/// An integer as protobuf JSON writes one: a number without a fraction, or a string of
/// digits (how 64-bit values are often written).
fn as_integer(value: &Value, path: &str) -> Result<i64, Error> {
    let out_of_range = || Error::config(format!("{path}: out of range"));
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if n.is_u64() {
                Err(out_of_range())
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() != 0.0 {
                    Err(Error::config(format!(
                        "{path}: expected an integer, got {n}"
                    )))
                } else if f.abs() < 9.0e18 {
                    // Integral and well inside the i64 range, so the cast is exact.
                    Ok(f as i64)
                } else {
                    Err(out_of_range())
                }
            }
        }
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::config(format!(
                    "{path}: expected an integer, got {s:?}"
                )));
            }
            s.parse().map_err(|_| out_of_range())
        }
        other => Err(wrong_type(path, "an integer", other)),
    }
}

fn as_size(value: &Value, path: &str) -> Result<usize, Error> {
    let n = as_integer(value, path)?;
    if n < 0 {
        return Err(Error::config(format!("{path}: must not be negative")));
    }
    usize::try_from(n).map_err(|_| Error::config(format!("{path}: out of range")))
}

/// A protobuf `UInt32Value`: 0 to 4294967295.
fn as_u32(value: &Value, path: &str) -> Result<u32, Error> {
    let n = as_integer(value, path)?;
    if n < 0 {
        return Err(Error::config(format!("{path}: must not be negative")));
    }
    u32::try_from(n).map_err(|_| Error::config(format!("{path}: out of range")))
}

/// A percentage: 0 to 100.
fn as_percent(value: &Value, path: &str) -> Result<u32, Error> {
    let n = as_u32(value, path)?;
    if n > 100 {
        return Err(Error::config(format!("{path}: must be at most 100")));
    }
    Ok(n)
}

/// `maxAttempts`: at least 2, lowered to [`MAX_ATTEMPTS_CAP`].
fn as_max_attempts(value: &Value, path: &str) -> Result<u32, Error> {
    let n = as_integer(value, path)?;
    if n < 2 {
        return Err(Error::config(format!("{path}: must be at least 2")));
    }
    Ok(u32::try_from(n).map_or(MAX_ATTEMPTS_CAP, |n| n.min(MAX_ATTEMPTS_CAP)))
}

/// A finite number above 0; protobuf JSON also allows it as a string.
fn as_positive_float(value: &Value, path: &str) -> Result<f64, Error> {
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        other => return Err(wrong_type(path, "a number", other)),
    };
    match n {
        Some(n) if n.is_finite() && n > 0.0 => Ok(n),
        Some(n) if n.is_finite() => Err(Error::config(format!("{path}: must be greater than 0"))),
        _ => Err(Error::config(format!("{path}: expected a finite number"))),
    }
}

/// A list of status codes, each a name (`"UNAVAILABLE"`, any case) or a number 0 to 16.
/// Repeats are dropped.
fn as_codes(value: &Value, path: &str) -> Result<Vec<Code>, Error> {
    let mut codes = Vec::new();
    for (i, item) in as_array(value, path)?.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let code = match item {
            Value::String(name) => Code::ALL
                .into_iter()
                .find(|code| code.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    Error::config(format!("{item_path}: unknown status code {name:?}"))
                })?,
            Value::Number(_) => {
                let n = as_integer(item, &item_path)?;
                usize::try_from(n)
                    .ok()
                    .and_then(|n| Code::ALL.get(n).copied())
                    .ok_or_else(|| {
                        Error::config(format!("{item_path}: status code {n} is not in 0..=16"))
                    })?
            }
            other => {
                return Err(wrong_type(
                    &item_path,
                    "a status code name or number",
                    other,
                ))
            }
        };
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER_SERVICE: &str = r#"{
      "loadBalancingConfig": [{"round_robin": {}}],
      "methodConfig": [{
        "name": [{"service": "order.OrderService"}],
        "waitForReady": true,
        "timeout": "5s",
        "retryPolicy": {
          "maxAttempts": 4,
          "initialBackoff": "0.1s",
          "maxBackoff": "1s",
          "backoffMultiplier": 2,
          "retryableStatusCodes": ["UNAVAILABLE"]
        }
      }, {
        "name": [{"service": "order.OrderService", "method": "GetOrder"}],
        "timeout": "2s",
        "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.05s", "nonFatalStatusCodes": ["UNAVAILABLE", "INTERNAL"]}
      }],
      "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
    }"#;

    fn parse(text: &str) -> ServiceConfig {
        ServiceConfig::from_json(text).unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    /// Checks that `text` is rejected with a message containing `expected`.
    fn assert_rejects(text: &str, expected: &str) {
        let err = reject(text);
        assert!(err.contains(expected), "{text}: {err}");
    }

    /// Parses a config that must fail and returns the error message.
    fn reject(text: &str) -> String {
        match ServiceConfig::from_json(text) {
            Ok(config) => panic!("accepted {text}: {config:?}"),
            Err(err) => {
                assert!(err.is_config(), "{err}");
                err.to_string()
            }
        }
    }

    /// A config with one method entry for `pkg.Svc` holding `fields`.
    fn one_method(fields: &str) -> String {
        format!(r#"{{"methodConfig": [{{"name": [{{"service": "pkg.Svc"}}], {fields}}}]}}"#)
    }

    fn with_retry(policy: &str) -> String {
        one_method(&format!(r#""retryPolicy": {{{policy}}}"#))
    }

    const RETRY_FIELDS: &str =
        r#""initialBackoff": "0.1s", "maxBackoff": "1s", "backoffMultiplier": 2"#;

    #[test]
    fn order_service_example_parses() {
        let config = parse(ORDER_SERVICE);
        assert_eq!(
            config.load_balancing(),
            Some(LoadBalancingPolicy::RoundRobin)
        );
        assert_eq!(
            config.retry_throttling(),
            Some(RetryThrottling {
                max_tokens: 10.0,
                token_ratio: 0.1
            })
        );

        let service = config.method("order.OrderService", "ListOrders").unwrap();
        assert_eq!(
            *service,
            MethodConfig {
                timeout: Some(Duration::from_secs(5)),
                wait_for_ready: Some(true),
                retry: Some(RetryPolicy {
                    max_attempts: 4,
                    initial_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(1),
                    backoff_multiplier: 2.0,
                    retryable_status_codes: vec![Code::Unavailable],
                    per_attempt_recv_timeout: None,
                }),
                ..MethodConfig::default()
            }
        );

        let get_order = config.for_path("/order.OrderService/GetOrder").unwrap();
        assert_eq!(
            *get_order,
            MethodConfig {
                timeout: Some(Duration::from_secs(2)),
                hedging: Some(HedgingPolicy {
                    max_attempts: 3,
                    hedging_delay: Duration::from_millis(50),
                    non_fatal_status_codes: vec![Code::Unavailable, Code::Internal],
                }),
                ..MethodConfig::default()
            }
        );
        assert!(
            config.method("order.Other", "GetOrder").is_none(),
            "no default entry"
        );
    }

    #[test]
    fn exact_method_beats_service_beats_default() {
        let config = parse(
            r#"{"methodConfig": [
              {"name": [{}], "timeout": "1s"},
              {"name": [{"service": "a.S"}], "timeout": "2s"},
              {"name": [{"service": "a.S", "method": "M"}, {"service": "b.T", "method": "N"}],
               "timeout": "3s"}
            ]}"#,
        );
        let timeout = |service: &str, method: &str| config.method(service, method)?.timeout;
        assert_eq!(timeout("a.S", "M"), Some(Duration::from_secs(3)));
        assert_eq!(timeout("b.T", "N"), Some(Duration::from_secs(3)));
        assert_eq!(timeout("a.S", "Other"), Some(Duration::from_secs(2)));
        assert_eq!(timeout("b.T", "Other"), Some(Duration::from_secs(1)));
        assert_eq!(timeout("c.U", "M"), Some(Duration::from_secs(1)));
    }

    #[test]
    fn empty_service_name_is_the_default_entry() {
        let config =
            parse(r#"{"methodConfig": [{"name": [{"service": ""}], "waitForReady": false}]}"#);
        assert_eq!(
            config.method("x.Y", "Z").unwrap().wait_for_ready,
            Some(false)
        );
        // `{}` and `{"service": ""}` both name the default, so both at once is a duplicate.
        assert_rejects(
            r#"{"methodConfig": [{"name": [{}]}, {"name": [{"service": ""}]}]}"#,
            "methodConfig[1].name[0]: duplicate name",
        );
    }

    #[test]
    fn for_path_needs_a_grpc_path() {
        let config = parse(r#"{"methodConfig": [{"name": [{}], "timeout": "1s"}]}"#);
        assert!(config.for_path("/pkg.Svc/Method").is_some());
        assert!(config.for_path("pkg.Svc/Method").is_none());
        assert!(config.for_path("/pkg.Svc").is_none());
    }

    #[test]
    fn empty_config_changes_nothing() {
        let config = parse("{}");
        assert!(config.method("a.S", "M").is_none());
        assert_eq!(config.load_balancing(), None);
        assert_eq!(config.retry_throttling(), None);
        assert_eq!(config.outlier_detection(), None);
        assert_eq!(config.health_check_service_name(), None);
    }

    #[test]
    fn max_attempts_below_two_is_rejected() {
        assert_rejects(
            &with_retry(&format!(
                r#""maxAttempts": 1, {RETRY_FIELDS}, "retryableStatusCodes": ["UNAVAILABLE"]"#
            )),
            "methodConfig[0].retryPolicy.maxAttempts: must be at least 2",
        );
        assert_rejects(
            &one_method(r#""hedgingPolicy": {"maxAttempts": 1}"#),
            "methodConfig[0].hedgingPolicy.maxAttempts",
        );
    }

    #[test]
    fn max_attempts_above_five_is_capped() {
        let config = parse(&with_retry(&format!(
            r#""maxAttempts": 7, {RETRY_FIELDS}, "retryableStatusCodes": ["UNAVAILABLE"]"#
        )));
        let retry = config
            .method("pkg.Svc", "M")
            .unwrap()
            .retry
            .as_ref()
            .unwrap();
        assert_eq!(retry.max_attempts, 5);
        let config = parse(&one_method(r#""hedgingPolicy": {"maxAttempts": "9"}"#));
        let hedging = config
            .method("pkg.Svc", "M")
            .unwrap()
            .hedging
            .as_ref()
            .unwrap();
        assert_eq!(hedging.max_attempts, 5);
        assert_eq!(hedging.hedging_delay, Duration::ZERO);
        assert!(hedging.non_fatal_status_codes.is_empty());
    }

    #[test]
    fn missing_retry_fields_are_rejected() {
        assert_rejects(
            &with_retry(&format!(r#""maxAttempts": 3, {RETRY_FIELDS}"#)),
            "methodConfig[0].retryPolicy.retryableStatusCodes: is required",
        );
        assert_rejects(
            &with_retry(&format!(
                r#""maxAttempts": 3, {RETRY_FIELDS}, "retryableStatusCodes": []"#
            )),
            "retryableStatusCodes: must not be empty",
        );
        assert_rejects(
            &with_retry(
                r#""maxAttempts": 3, "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": [14]"#,
            ),
            "retryPolicy.initialBackoff: is required",
        );
        assert_rejects(
            &with_retry(
                r#""maxAttempts": 3, "initialBackoff": "0s", "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": [14]"#,
            ),
            "retryPolicy.initialBackoff: must be greater than 0",
        );
        assert_rejects(
            &with_retry(
                r#""maxAttempts": 3, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 0, "retryableStatusCodes": [14]"#,
            ),
            "retryPolicy.backoffMultiplier: must be greater than 0",
        );
    }

    #[test]
    fn ok_is_not_retryable() {
        assert_rejects(
            &with_retry(&format!(
                r#""maxAttempts": 3, {RETRY_FIELDS}, "retryableStatusCodes": ["OK"]"#
            )),
            "retryableStatusCodes: OK cannot be retried",
        );
    }

    #[test]
    fn retry_and_hedging_together_are_rejected() {
        assert_rejects(
            &one_method(&format!(
                r#""retryPolicy": {{"maxAttempts": 3, {RETRY_FIELDS}, "retryableStatusCodes": [14]}},
               "hedgingPolicy": {{"maxAttempts": 3}}"#
            )),
            "methodConfig[0]: retryPolicy and hedgingPolicy cannot both be set",
        );
    }

    #[test]
    fn duplicate_name_is_rejected() {
        assert_rejects(
            r#"{"methodConfig": [
              {"name": [{"service": "a.S", "method": "M"}]},
              {"name": [{"service": "b.T"}, {"service": "a.S", "method": "M"}]}
            ]}"#,
            "methodConfig[1].name[1]: duplicate name",
        );
        assert_rejects(
            r#"{"methodConfig": [
              {"name": [{"service": "a.S", "method": "M"}]},
              {"name": [{"service": "b.T"}, {"service": "a.S", "method": "M"}]}
            ]}"#,
            "already in methodConfig[0]",
        );
        let err =
            reject(r#"{"methodConfig": [{"name": [{"service": "a.S"}, {"service": "a.S"}]}]}"#);
        assert!(
            err.contains("methodConfig[0].name[1]: duplicate name"),
            "{err}"
        );
    }

    #[test]
    fn method_without_service_is_rejected() {
        assert_rejects(
            r#"{"methodConfig": [{"name": [{"method": "M"}]}]}"#,
            "methodConfig[0].name[0]: a method name needs a service",
        );
        assert_rejects(
            r#"{"methodConfig": [{"name": [{"service": "", "method": "M"}]}]}"#,
            "methodConfig[0].name[0]",
        );
    }

    #[test]
    fn bad_durations_are_rejected() {
        for bad in [
            "5",
            "-1s",
            "abc",
            "1.s",
            ".5s",
            "1.0000000001s",
            "1e3s",
            "1 s",
            "1m",
        ] {
            let err = reject(&one_method(&format!(r#""timeout": "{bad}""#)));
            assert!(err.contains("methodConfig[0].timeout:"), "{bad}: {err}");
        }
        assert_rejects(
            &one_method(r#""timeout": 5"#),
            "methodConfig[0].timeout: expected a duration",
        );
    }

    #[test]
    fn parse_duration_reads_protobuf_json_durations() {
        assert_eq!(parse_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_duration("0.5s"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_duration("1.000340012s"),
            Some(Duration::new(1, 340_012))
        );
        assert_eq!(parse_duration("2.000000001s"), Some(Duration::new(2, 1)));
        assert_eq!(
            parse_duration("315576000000s"),
            Some(Duration::from_secs(315_576_000_000))
        );
        assert_eq!(parse_duration("315576000001s"), None);
        assert_eq!(parse_duration("-0.5s"), None);
        assert_eq!(parse_duration("+1s"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn bad_code_name_is_rejected() {
        assert_rejects(
            &with_retry(&format!(
                r#""maxAttempts": 3, {RETRY_FIELDS}, "retryableStatusCodes": ["UNAVAILABLE", "SOMETIMES"]"#
            )),
            r#"retryPolicy.retryableStatusCodes[1]: unknown status code "SOMETIMES""#,
        );
        assert_rejects(
            &one_method(r#""hedgingPolicy": {"maxAttempts": 2, "nonFatalStatusCodes": [17]}"#),
            "hedgingPolicy.nonFatalStatusCodes[0]: status code 17",
        );
    }

    #[test]
    fn codes_may_be_numbers_or_names_in_any_case() {
        let config = parse(&with_retry(&format!(
            r#""maxAttempts": 2, {RETRY_FIELDS}, "retryableStatusCodes": [14, "deadline_exceeded", "Unavailable"],
               "perAttemptRecvTimeout": "0.25s""#
        )));
        let retry = config
            .method("pkg.Svc", "M")
            .unwrap()
            .retry
            .as_ref()
            .unwrap();
        assert_eq!(
            retry.retryable_status_codes,
            vec![Code::Unavailable, Code::DeadlineExceeded]
        );
        assert_eq!(
            retry.per_attempt_recv_timeout,
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn a_per_attempt_timeout_needs_no_retryable_code() {
        for codes in ["", r#", "retryableStatusCodes": []"#] {
            let config = parse(&with_retry(&format!(
                r#""maxAttempts": 3, {RETRY_FIELDS}, "perAttemptRecvTimeout": "1s"{codes}"#
            )));
            let retry = config
                .method("pkg.Svc", "M")
                .unwrap()
                .retry
                .as_ref()
                .unwrap();
            assert!(retry.retryable_status_codes.is_empty());
            assert_eq!(retry.per_attempt_recv_timeout, Some(Duration::from_secs(1)));
        }
    }

    #[test]
    fn load_balancing_config_picks_first_supported() {
        let config = parse(
            r#"{"loadBalancingConfig": [
              {"xds_wrr_locality_experimental": {"childPolicy": []}},
              {"weighted_round_robin": {"blackoutPeriod": "10s"}},
              {"round_robin": {}}
            ]}"#,
        );
        assert_eq!(
            config.load_balancing(),
            Some(LoadBalancingPolicy::WeightedRoundRobin)
        );
        let config = parse(r#"{"loadBalancingConfig": [{"grpclb": {}}, {"pick_first": {}}]}"#);
        assert_eq!(
            config.load_balancing(),
            Some(LoadBalancingPolicy::PickFirst)
        );
    }

    #[test]
    fn unsupported_load_balancing_config_is_rejected() {
        assert_rejects(
            r#"{"loadBalancingConfig": [{"grpclb": {}}]}"#,
            "loadBalancingConfig: lists no supported policy",
        );
        assert_rejects(
            r#"{"loadBalancingConfig": [{"grpclb": {}, "round_robin": {}}]}"#,
            "loadBalancingConfig[0]: must hold exactly one policy",
        );
        assert_rejects(
            r#"{"loadBalancingConfig": [{"round_robin": 1}]}"#,
            "loadBalancingConfig[0].round_robin: expected an object",
        );
    }

    #[test]
    fn load_balancing_policy_is_the_fallback() {
        let config = parse(r#"{"loadBalancingPolicy": "ROUND_ROBIN"}"#);
        assert_eq!(
            config.load_balancing(),
            Some(LoadBalancingPolicy::RoundRobin)
        );
        let config = parse(
            r#"{"loadBalancingPolicy": "round_robin", "loadBalancingConfig": [{"pick_first": {}}]}"#,
        );
        assert_eq!(
            config.load_balancing(),
            Some(LoadBalancingPolicy::PickFirst)
        );
        assert_rejects(
            r#"{"loadBalancingPolicy": "grpclb"}"#,
            r#"loadBalancingPolicy: unsupported policy "grpclb""#,
        );
    }

    #[test]
    fn throttling_ratio_is_truncated_to_three_decimals() {
        let ratio = |r: &str| {
            let text = format!(r#"{{"retryThrottling": {{"maxTokens": 100, "tokenRatio": {r}}}}}"#);
            parse(&text).retry_throttling().unwrap().token_ratio
        };
        assert_eq!(ratio("0.12345"), 0.123);
        assert_eq!(ratio("0.29"), 0.29);
        assert_eq!(ratio("0.9999"), 0.999);
        assert_eq!(ratio("2"), 2.0);
        assert_rejects(
            r#"{"retryThrottling": {"maxTokens": 100, "tokenRatio": 0.0004}}"#,
            "retryThrottling.tokenRatio: must be at least 0.001",
        );
    }

    #[test]
    fn throttling_limits_are_checked() {
        assert_rejects(
            r#"{"retryThrottling": {"maxTokens": 1001, "tokenRatio": 1}}"#,
            "retryThrottling.maxTokens: must be at most 1000",
        );
        assert_rejects(
            r#"{"retryThrottling": {"maxTokens": 0, "tokenRatio": 1}}"#,
            "retryThrottling.maxTokens: must be greater than 0",
        );
        assert_rejects(
            r#"{"retryThrottling": {"maxTokens": 10}}"#,
            "retryThrottling.tokenRatio: is required",
        );
    }

    #[test]
    fn message_limits_accept_numbers_and_digit_strings() {
        let config = parse(&one_method(
            r#""maxRequestMessageBytes": 1024, "maxResponseMessageBytes": "4194304""#,
        ));
        let method = config.method("pkg.Svc", "M").unwrap();
        assert_eq!(method.max_request_message_bytes, Some(1024));
        assert_eq!(method.max_response_message_bytes, Some(4 << 20));
        assert_rejects(
            &one_method(r#""maxRequestMessageBytes": -1"#),
            "maxRequestMessageBytes: must not be negative",
        );
        assert_rejects(
            &one_method(r#""maxRequestMessageBytes": "1k""#),
            "maxRequestMessageBytes: expected an integer",
        );
    }

    #[test]
    fn wrong_json_types_name_the_field() {
        let cases = [
            (r#"[]"#, "expected an object, got an array"),
            (
                r#"{"methodConfig": {}}"#,
                "methodConfig: expected an array, got an object",
            ),
            (
                r#"{"methodConfig": [3]}"#,
                "methodConfig[0]: expected an object, got a number",
            ),
            (
                r#"{"methodConfig": [{"name": {}}]}"#,
                "methodConfig[0].name: expected an array",
            ),
            (
                r#"{"methodConfig": [{"name": [{"service": 1}]}]}"#,
                "methodConfig[0].name[0].service: expected a string, got a number",
            ),
            (
                r#"{"methodConfig": [{"waitForReady": "yes"}]}"#,
                "methodConfig[0].waitForReady: expected a boolean, got a string",
            ),
            (
                r#"{"methodConfig": [{"retryPolicy": []}]}"#,
                "methodConfig[0].retryPolicy: expected an object, got an array",
            ),
            (
                r#"{"methodConfig": [{"hedgingPolicy": {"maxAttempts": true}}]}"#,
                "methodConfig[0].hedgingPolicy.maxAttempts: expected an integer, got a boolean",
            ),
            (
                r#"{"retryThrottling": 1}"#,
                "retryThrottling: expected an object, got a number",
            ),
            (
                r#"{"loadBalancingConfig": {}}"#,
                "loadBalancingConfig: expected an array",
            ),
            (
                r#"{"loadBalancingPolicy": 1}"#,
                "loadBalancingPolicy: expected a string",
            ),
        ];
        for (text, expected) in cases {
            let err = reject(text);
            assert!(err.contains(expected), "{text}: {err}");
        }
        assert!(reject("{").contains("not valid JSON"));
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let config = parse(
            r#"{"future": [1], "healthCheckConfig": {"serviceName": "x", "extra": true},
                "methodConfig": [{"name": [{"service": "a.S", "extra": 1}], "timeout": null}]}"#,
        );
        assert_eq!(config.method("a.S", "M"), Some(&MethodConfig::default()));
    }

    /// A config whose only `loadBalancingConfig` entry is outlier detection with `fields`.
    fn with_outlier(fields: &str) -> String {
        format!(
            r#"{{"loadBalancingConfig": [{{"outlier_detection_experimental": {{{fields}}}}}]}}"#
        )
    }

    const CHILD: &str = r#""childPolicy": [{"round_robin": {}}]"#;

    #[test]
    fn outlier_detection_wraps_its_child_policy() {
        let config = parse(&with_outlier(&format!(
            r#""interval": "1s", "baseEjectionTime": "2.5s", "maxEjectionTime": "60s",
               "maxEjectionPercent": 50,
               "successRateEjection": {{"stdevFactor": 1000, "enforcementPercentage": 90,
                                        "minimumHosts": 3, "requestVolume": "20"}},
               "failurePercentageEjection": {{"threshold": 40, "enforcementPercentage": 0,
                                              "minimumHosts": 2, "requestVolume": 10}},
               {CHILD}"#
        )));
        assert_eq!(
            config.load_balancing(),
            Some(LoadBalancingPolicy::RoundRobin)
        );
        let outlier = config.outlier_detection().unwrap();
        assert_eq!(
            *outlier,
            OutlierDetectionConfig {
                interval: Duration::from_secs(1),
                base_ejection_time: Duration::from_millis(2500),
                max_ejection_time: Duration::from_secs(60),
                max_ejection_percent: 50,
                success_rate_ejection: Some(SuccessRateEjection {
                    stdev_factor: 1000,
                    enforcement_percentage: 90,
                    minimum_hosts: 3,
                    request_volume: 20,
                }),
                failure_percentage_ejection: Some(FailurePercentageEjection {
                    threshold: 40,
                    enforcement_percentage: 0,
                    minimum_hosts: 2,
                    request_volume: 10,
                }),
            }
        );
        assert!(outlier.is_enabled());
    }

    #[test]
    fn outlier_detection_defaults_fill_in() {
        let config = parse(&with_outlier(CHILD));
        let outlier = config.outlier_detection().unwrap();
        assert_eq!(*outlier, OutlierDetectionConfig::default());
        assert!(!outlier.is_enabled(), "no algorithm: ejects nothing");

        let config = parse(&with_outlier(&format!(
            r#""successRateEjection": {{}}, "failurePercentageEjection": {{}},
               "maxEjectionPercent": null, {CHILD}"#
        )));
        let outlier = config.outlier_detection().unwrap();
        assert_eq!(outlier.interval, Duration::from_secs(10));
        assert_eq!(outlier.base_ejection_time, Duration::from_secs(30));
        assert_eq!(outlier.max_ejection_time, Duration::from_secs(300));
        assert_eq!(outlier.max_ejection_percent, 10);
        assert_eq!(
            outlier.success_rate_ejection,
            Some(SuccessRateEjection::default())
        );
        assert_eq!(
            outlier.failure_percentage_ejection,
            Some(FailurePercentageEjection::default())
        );
    }

    #[test]
    fn outlier_detection_child_is_the_first_supported_policy() {
        for (child, expected) in [
            (
                r#"[{"grpclb": {}}, {"weighted_round_robin": {}}, {"round_robin": {}}]"#,
                LoadBalancingPolicy::WeightedRoundRobin,
            ),
            (r#"[{"PICK_FIRST": {}}]"#, LoadBalancingPolicy::PickFirst),
        ] {
            let config = parse(&with_outlier(&format!(r#""childPolicy": {child}"#)));
            assert_eq!(config.load_balancing(), Some(expected), "{child}");
            assert!(config.outlier_detection().is_some());
        }
        // At the top it is one policy among others: the first supported entry wins.
        let config = parse(&format!(
            r#"{{"loadBalancingConfig": [{{"grpclb": {{}}}},
                 {{"outlier_detection_experimental": {{{CHILD}}}}}, {{"pick_first": {{}}}}]}}"#
        ));
        assert_eq!(
            config.load_balancing(),
            Some(LoadBalancingPolicy::RoundRobin)
        );
        assert!(config.outlier_detection().is_some());
        let config = parse(&format!(
            r#"{{"loadBalancingConfig": [{{"pick_first": {{}}}},
                 {{"outlier_detection_experimental": {{{CHILD}}}}}]}}"#
        ));
        assert_eq!(
            config.load_balancing(),
            Some(LoadBalancingPolicy::PickFirst)
        );
        assert!(config.outlier_detection().is_none());
        // loadBalancingPolicy has no outlier detection.
        let config = parse(r#"{"loadBalancingPolicy": "round_robin"}"#);
        assert!(config.outlier_detection().is_none());
    }

    #[test]
    fn outlier_detection_needs_a_supported_child() {
        const PATH: &str = "loadBalancingConfig[0].outlier_detection_experimental";
        assert_rejects(
            &with_outlier(r#""interval": "1s""#),
            &format!("{PATH}.childPolicy: is required"),
        );
        assert_rejects(
            &with_outlier(r#""childPolicy": [{"grpclb": {}}]"#),
            &format!("{PATH}.childPolicy: lists no supported policy"),
        );
        assert_rejects(
            &with_outlier(r#""childPolicy": []"#),
            &format!("{PATH}.childPolicy: lists no supported policy"),
        );
        // Outlier detection cannot wrap itself.
        assert_rejects(
            &with_outlier(&format!(
                r#""childPolicy": [{{"outlier_detection_experimental": {{{CHILD}}}}}]"#
            )),
            &format!("{PATH}.childPolicy: lists no supported policy"),
        );
        assert_rejects(
            &with_outlier(r#""childPolicy": [{"round_robin": []}]"#),
            &format!("{PATH}.childPolicy[0].round_robin: expected an object"),
        );
        assert_rejects(
            &with_outlier(r#""childPolicy": {"round_robin": {}}"#),
            &format!("{PATH}.childPolicy: expected an array"),
        );
    }

    #[test]
    fn outlier_detection_fields_are_checked() {
        const PATH: &str = "loadBalancingConfig[0].outlier_detection_experimental";
        let cases = [
            (
                r#""maxEjectionPercent": 101"#,
                "maxEjectionPercent: must be at most 100",
            ),
            (
                r#""maxEjectionPercent": -1"#,
                "maxEjectionPercent: must not be negative",
            ),
            (
                r#""maxEjectionPercent": 1.5"#,
                "maxEjectionPercent: expected an integer",
            ),
            (
                r#""interval": "-1s""#,
                "interval: \"-1s\" is not a non-negative duration",
            ),
            (
                r#""baseEjectionTime": 30"#,
                "baseEjectionTime: expected a duration string",
            ),
            (
                r#""maxEjectionTime": "5m""#,
                "maxEjectionTime: \"5m\" is not",
            ),
            (
                r#""successRateEjection": 1"#,
                "successRateEjection: expected an object",
            ),
            (
                r#""successRateEjection": {"enforcementPercentage": 101}"#,
                "successRateEjection.enforcementPercentage: must be at most 100",
            ),
            (
                r#""successRateEjection": {"stdevFactor": -1}"#,
                "successRateEjection.stdevFactor: must not be negative",
            ),
            (
                r#""successRateEjection": {"minimumHosts": 4294967296}"#,
                "successRateEjection.minimumHosts: out of range",
            ),
            (
                r#""successRateEjection": {"requestVolume": "many"}"#,
                "successRateEjection.requestVolume: expected an integer",
            ),
            (
                r#""failurePercentageEjection": {"threshold": 101}"#,
                "failurePercentageEjection.threshold: must be at most 100",
            ),
            (
                r#""failurePercentageEjection": {"enforcementPercentage": 200}"#,
                "failurePercentageEjection.enforcementPercentage: must be at most 100",
            ),
            (
                r#""failurePercentageEjection": {"minimumHosts": true}"#,
                "failurePercentageEjection.minimumHosts: expected an integer, got a boolean",
            ),
            (
                r#""failurePercentageEjection": []"#,
                "failurePercentageEjection: expected an object, got an array",
            ),
        ];
        for (field, expected) in cases {
            assert_rejects(
                &with_outlier(&format!("{field}, {CHILD}")),
                &format!("{PATH}.{expected}"),
            );
        }
        assert_rejects(
            r#"{"loadBalancingConfig": [{"outlier_detection_experimental": 1}]}"#,
            "loadBalancingConfig[0].outlier_detection_experimental: expected an object",
        );
        // The limits themselves are fine.
        let config = parse(&with_outlier(&format!(
            r#""maxEjectionPercent": 100, "interval": "0s",
               "failurePercentageEjection": {{"threshold": 0, "enforcementPercentage": 100,
                                              "minimumHosts": 4294967295}},
               {CHILD}"#
        )));
        let outlier = config.outlier_detection().unwrap();
        assert_eq!(outlier.max_ejection_percent, 100);
        assert_eq!(outlier.interval, Duration::ZERO);
        assert_eq!(
            outlier.failure_percentage_ejection.unwrap().minimum_hosts,
            u32::MAX
        );
    }

    #[test]
    fn health_check_config_names_the_service() {
        let name = |text: &str| parse(text).health_check_service_name().map(str::to_owned);
        assert_eq!(
            name(r#"{"healthCheckConfig": {"serviceName": "pkg.Svc"}}"#).as_deref(),
            Some("pkg.Svc")
        );
        assert_eq!(
            name(r#"{"healthCheckConfig": {"serviceName": ""}}"#).as_deref(),
            Some("")
        );
        assert_eq!(name(r#"{"healthCheckConfig": {}}"#).as_deref(), Some(""));
        assert_eq!(name(r#"{"healthCheckConfig": null}"#), None);
        assert_eq!(name("{}"), None);
        assert_rejects(
            r#"{"healthCheckConfig": "pkg.Svc"}"#,
            "healthCheckConfig: expected an object, got a string",
        );
        assert_rejects(
            r#"{"healthCheckConfig": {"serviceName": 1}}"#,
            "healthCheckConfig.serviceName: expected a string, got a number",
        );
    }
}
