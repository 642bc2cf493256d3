//! The settings of outlier detection (gRFC A50), the `outlier_detection_experimental`
//! balancing policy of a service config; `client::outlier` runs the algorithm.

use std::time::Duration;

/// The settings of the `outlier_detection_experimental` balancing policy (gRFC A50), from
/// [`ServiceConfig::outlier_detection`](crate::service_config::ServiceConfig::outlier_detection).
///
/// Every `interval` the client looks at the calls each address finished in the interval
/// just ended (any status other than OK counts as a failure) and ejects outliers: an ejected
/// address gets no calls until its ejection time has passed. The ejection time is
/// `baseEjectionTime` times the number of times the address has been ejected (that number
/// drops by one for every interval the address spends in service), at most
/// `max(baseEjectionTime, maxEjectionTime)`.
///
/// The default value has neither algorithm, so it ejects nothing; each algorithm's own
/// default ([`SuccessRateEjection::default`], [`FailurePercentageEjection::default`]) holds
/// the A50 defaults. More settings may come (`non_exhaustive`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OutlierDetectionConfig {
    /// The time between two sweeps (`interval`, default 10 s).
    pub interval: Duration,
    /// How long a first ejection lasts (`baseEjectionTime`, default 30 s).
    pub base_ejection_time: Duration,
    /// The longest an ejection lasts, unless `base_ejection_time` is longer
    /// (`maxEjectionTime`, default 300 s).
    pub max_ejection_time: Duration,
    /// The share of addresses, in percent, that may be ejected at once; one address may
    /// always be ejected, whatever the value (`maxEjectionPercent`, 0 to 100, default 10).
    pub max_ejection_percent: u32,
    /// The success-rate algorithm (`successRateEjection`); `None` turns it off.
    pub success_rate_ejection: Option<SuccessRateEjection>,
    /// The failure-percentage algorithm (`failurePercentageEjection`); `None` turns it off.
    pub failure_percentage_ejection: Option<FailurePercentageEjection>,
}

impl Default for OutlierDetectionConfig {
    fn default() -> Self {
        OutlierDetectionConfig {
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
            success_rate_ejection: None,
            failure_percentage_ejection: None,
        }
    }
}

impl OutlierDetectionConfig {
    /// Whether either algorithm is on. Without one, nothing is counted and nothing ejected.
    pub fn is_enabled(&self) -> bool {
        self.success_rate_ejection.is_some() || self.failure_percentage_ejection.is_some()
    }

    /// How long an address ejected `multiplier` times stays out:
    /// `min(base × multiplier, max(base, max_ejection_time))`.
    pub(crate) fn ejection_time(&self, multiplier: u32) -> Duration {
        let cap = self.base_ejection_time.max(self.max_ejection_time);
        self.base_ejection_time.saturating_mul(multiplier).min(cap)
    }
}

/// The success-rate algorithm: eject an address whose success rate is far below the mean of
/// all addresses' rates. More settings may come (`non_exhaustive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SuccessRateEjection {
    /// How many standard deviations below the mean, in thousandths, a rate must fall to
    /// count as an outlier: an address is an outlier below
    /// `mean − stdev × stdev_factor / 1000` (`stdevFactor`, default 1900, i.e. 1.9).
    pub stdev_factor: u32,
    /// The chance, in percent, that an outlier is actually ejected
    /// (`enforcementPercentage`, 0 to 100, default 100).
    pub enforcement_percentage: u32,
    /// How many addresses need `request_volume` calls in the interval for the algorithm to
    /// run at all (`minimumHosts`, default 5).
    pub minimum_hosts: u32,
    /// The calls an address needs in the interval to be judged (`requestVolume`, default
    /// 100).
    pub request_volume: u32,
}

impl Default for SuccessRateEjection {
    fn default() -> Self {
        SuccessRateEjection {
            stdev_factor: 1900,
            enforcement_percentage: 100,
            minimum_hosts: 5,
            request_volume: 100,
        }
    }
}

/// The failure-percentage algorithm: eject an address whose calls fail more often than a
/// fixed share. More settings may come (`non_exhaustive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailurePercentageEjection {
    /// The failure percentage above which an address is an outlier (`threshold`, 0 to 100,
    /// default 85).
    pub threshold: u32,
    /// The chance, in percent, that an outlier is actually ejected
    /// (`enforcementPercentage`, 0 to 100, default 100).
    pub enforcement_percentage: u32,
    /// How many addresses need `request_volume` calls in the interval for the algorithm to
    /// run at all (`minimumHosts`, default 5).
    pub minimum_hosts: u32,
    /// The calls an address needs in the interval to be judged (`requestVolume`, default
    /// 50).
    pub request_volume: u32,
}

impl Default for FailurePercentageEjection {
    fn default() -> Self {
        FailurePercentageEjection {
            threshold: 85,
            enforcement_percentage: 100,
            minimum_hosts: 5,
            request_volume: 50,
        }
    }
}
