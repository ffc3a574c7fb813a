//! One client-side rate limiter per provider process and AWS bucket.
//!
//! AWS meters requests per account and region in token buckets (EC2 one per
//! API action; Elastic Load Balancing one per category of actions and one for
//! the account; see [`Meter`]): a call drawn from an empty bucket is refused with a throttling
//! answer and has to be retried. Terraform asks one provider process for every
//! environment of a configuration at once, so without pacing the process
//! drains the account's buckets by itself from a handful of environments on.
//! Here every attempt (first or retried) first takes a token from a bucket of
//! AWS's published size and rate, waiting when it is empty, so this process
//! alone never draws a throttling answer; answers caused by other processes
//! sharing the account (or by the process before this one, which Terraform
//! starts anew for each command) are retried by the SDK (see
//! [`super::retry_config`]) and empty this process's bucket, so its next calls
//! go at the refill rate the account's bucket has.
//!
//! The pacing sits in the HTTP connector the SDK clients send through, so it
//! covers every call of every module, retries included, with no call site
//! knowing about it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

/// A token bucket that hands out reservations: a caller takes a token now or
/// the next one to come, and learns how long to wait for it. Reservations keep
/// the order callers arrived in, with no polling.
#[derive(Debug)]
pub struct Bucket {
    burst: f64,
    per_second: f64,
    /// tokens left (negative: reserved ahead) and when they were counted
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub fn new(burst: f64, per_second: f64) -> Bucket {
        Bucket {
            burst,
            per_second,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token at `now`: how long the caller waits before it may send.
    pub fn reserve(&self, now: Instant) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, counted) = *state;
        let elapsed = now.saturating_duration_since(counted).as_secs_f64();
        let tokens = (tokens + elapsed * self.per_second).min(self.burst) - 1.0;
        *state = (tokens, now.max(counted));
        if tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-tokens / self.per_second)
        }
    }
}

impl Bucket {
    /// Spends what the bucket holds: AWS said the account's bucket is empty
    /// (other processes share it, or this process started on a bucket a
    /// previous one drained), so the calls that follow go at the refill rate.
    pub fn drain(&self, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, counted) = *state;
        let elapsed = now.saturating_duration_since(counted).as_secs_f64();
        let tokens = (tokens + elapsed * self.per_second).min(self.burst);
        *state = (tokens.min(0.0), now.max(counted));
    }
}

/// Drains the bucket of a call that met a throttling answer (see
/// [`Bucket::drain`]); `service` is the SDK's name for it (`EC2`,
/// `Elastic Load Balancing v2`, `Auto Scaling`).
pub fn throttled(service: &str, action: &str) {
    let service = match service.to_ascii_lowercase() {
        s if s.contains("ec2") => Service::Ec2,
        s if s.contains("elastic") => Service::Elb,
        s if s.contains("auto") => Service::AutoScaling,
        _ => return,
    };
    let now = Instant::now();
    for narrowed in [true, false] {
        for meter in Meter::of(service, action, narrowed) {
            meter.bucket().drain(now);
        }
    }
}

/// A bucket AWS meters calls against: EC2 one per API action, Elastic Load
/// Balancing one per category beside one for the whole account, Auto Scaling
/// one for the account. Sizes and rates are AWS's published defaults (the
/// EC2 and ELB API throttling guides).
#[derive(Clone, Debug, PartialEq)]
pub struct Meter {
    pub name: String,
    pub burst: f64,
    pub per_second: f64,
}

/// EC2 actions metered apart from their category (AWS's "uncategorized
/// actions"), among those the provider calls, as (action, burst, refill per
/// second).
const EC2_OWN_RATES: &[(&str, f64, f64)] = &[
    ("AssignIpv6Addresses", 100.0, 5.0),
    ("AssociateNatGatewayAddress", 10.0, 1.0),
    ("CreateLaunchTemplateVersion", 100.0, 5.0),
    ("CreateNatGateway", 10.0, 1.0),
    ("CreateTags", 100.0, 10.0),
    ("CreateVpcEndpoint", 4.0, 0.3),
    ("DeleteNatGateway", 10.0, 1.0),
    ("DeleteTags", 100.0, 10.0),
    ("DeleteVpcEndpoints", 4.0, 0.3),
    ("DisassociateNatGatewayAddress", 10.0, 1.0),
    ("ModifyInstanceMetadataOptions", 100.0, 5.0),
    ("ModifyLaunchTemplate", 100.0, 5.0),
    ("ModifyVpcEndpoint", 4.0, 0.3),
    ("RunInstances", 5.0, 2.0),
    ("StartInstances", 5.0, 2.0),
    ("TerminateInstances", 100.0, 5.0),
];

/// EC2 describes that, asked with neither a filter nor pagination, draw from
/// a smaller bucket than the other describes.
const EC2_UNFILTERED: &[&str] = &[
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
];

impl Meter {
    fn new(name: String, burst: f64, per_second: f64) -> Meter {
        Meter {
            name,
            burst,
            per_second,
        }
    }

    /// The buckets a call of `action` draws from (it waits for a token of
    /// each); `narrowed`: it carries a filter or pagination.
    pub fn of(service: Service, action: &str, narrowed: bool) -> Vec<Meter> {
        match service {
            Service::Ec2 => {
                let name = format!("ec2:{action}");
                let own = EC2_OWN_RATES.iter().find(|(a, ..)| *a == action);
                let describes = ["Describe", "Get", "List", "Search"];
                let meter = match own {
                    Some((_, burst, rate)) => Meter::new(name, *burst, *rate),
                    None if describes.iter().any(|verb| action.starts_with(verb)) => {
                        if EC2_UNFILTERED.contains(&action) && !narrowed {
                            Meter::new(format!("{name} (unfiltered)"), 50.0, 10.0)
                        } else {
                            Meter::new(name, 100.0, 20.0)
                        }
                    }
                    None => Meter::new(name, 50.0, 5.0),
                };
                vec![meter]
            }
            Service::Elb => {
                let (category, burst, rate) = match action {
                    "CreateLoadBalancer" | "SetSubnets" => ("resource-intensive", 10.0, 0.2),
                    "RegisterTargets" | "DeregisterTargets" => ("registration", 20.0, 4.0),
                    a if a.starts_with("Describe") => ("non-mutating", 40.0, 10.0),
                    _ => ("mutating", 20.0, 3.0),
                };
                vec![
                    Meter::new("elasticloadbalancing".into(), 40.0, 10.0),
                    Meter::new(format!("elasticloadbalancing {category}"), burst, rate),
                ]
            }
            Service::AutoScaling => vec![Meter::new("autoscaling".into(), 40.0, 10.0)],
        }
    }

    /// This process's bucket of the meter, made at its first use.
    pub fn bucket(&self) -> std::sync::Arc<Bucket> {
        static BUCKETS: OnceLock<Mutex<HashMap<String, std::sync::Arc<Bucket>>>> = OnceLock::new();
        let mut buckets = BUCKETS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        buckets
            .entry(self.name.clone())
            .or_insert_with(|| std::sync::Arc::new(Bucket::new(self.burst, self.per_second)))
            .clone()
    }
}

/// The services the provider calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Ec2,
    Elb,
    AutoScaling,
}

/// The `Action` of a query-protocol request body (EC2, ELBv2 and Auto Scaling all use it).
fn action_of(body: &[u8]) -> &str {
    std::str::from_utf8(body)
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or_default()
}

/// Whether a query-protocol request carries a filter or pagination.
fn narrowed(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .unwrap_or_default()
        .split('&')
        .any(|pair| {
            pair.starts_with("Filter.")
                || pair.starts_with("MaxResults=")
                || pair.starts_with("NextToken=")
        })
}

/// The HTTP client of one service's SDK client: the SDK's own, paced.
#[derive(Clone, Debug)]
pub struct Paced {
    inner: SharedHttpClient,
    service: Service,
}

impl Paced {
    pub fn new(inner: SharedHttpClient, service: Service) -> Paced {
        Paced { inner, service }
    }
}

impl HttpClient for Paced {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            service: self.service,
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    service: Service,
}

/// Time this process spent waiting for tokens, in total (for the benchmark's
/// and the logs' accounting).
static PACED_MICROS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long this process's calls have waited for their bucket, in total.
pub fn paced_total() -> Duration {
    Duration::from_micros(PACED_MICROS.load(std::sync::atomic::Ordering::Relaxed))
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().unwrap_or_default();
        let action = action_of(body);
        let now = Instant::now();
        // a token of every bucket the call draws from: it waits for the last
        let wait = Meter::of(self.service, action, narrowed(body))
            .iter()
            .map(|meter| meter.bucket().reserve(now))
            .max()
            .unwrap_or_default();
        let inner = self.inner.clone();
        if wait.is_zero() {
            return inner.call(request);
        }
        PACED_MICROS.fetch_add(
            wait.as_micros() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let action = action.to_string();
        HttpConnectorFuture::new(async move {
            tracing::trace!(
                target: "prodvpc::aws",
                action = action.as_str(),
                wait_ms = wait.as_millis() as u64,
                "paced to AWS's request rate"
            );
            tokio::time::sleep(wait).await;
            inner.call(request).await
        })
    }
}

/// The HTTP client the SDK would use (the configuration's, else its default:
/// hyper with rustls, proxies from the environment), wrapped for `service`.
pub fn paced(shared: &aws_types::SdkConfig, service: Service) -> Paced {
    let inner = shared.http_client().unwrap_or_else(default_client);
    Paced::new(inner, service)
}

/// What the SDK builds when given no client (`aws-smithy-runtime`'s default
/// HTTPS client); the SDK only builds it inside a client, too late to wrap.
fn default_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{tls, Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_hands_out_its_burst_then_paces_at_its_rate() {
        let bucket = Bucket::new(3.0, 10.0);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(bucket.reserve(start), Duration::ZERO);
        }
        // the fourth and fifth wait for the next tokens, in order
        let fourth = bucket.reserve(start);
        let fifth = bucket.reserve(start);
        assert!((fourth.as_secs_f64() - 0.1).abs() < 1e-6, "{fourth:?}");
        assert!((fifth.as_secs_f64() - 0.2).abs() < 1e-6, "{fifth:?}");
        // a second later the debt is paid and tokens have come back
        assert_eq!(
            bucket.reserve(start + Duration::from_secs(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn a_throttling_answer_empties_the_bucket() {
        let bucket = Bucket::new(10.0, 10.0);
        let start = Instant::now();
        assert_eq!(bucket.reserve(start), Duration::ZERO);
        bucket.drain(start);
        let next = bucket.reserve(start);
        assert!((next.as_secs_f64() - 0.1).abs() < 1e-6, "{next:?}");
    }

    #[test]
    fn a_bucket_never_holds_more_than_its_burst() {
        let bucket = Bucket::new(2.0, 100.0);
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(bucket.reserve(later), Duration::ZERO);
        assert_eq!(bucket.reserve(later), Duration::ZERO);
        assert!(bucket.reserve(later) > Duration::ZERO);
    }

    #[test]
    fn calls_are_metered_as_aws_publishes() {
        let names = |service, action, narrowed| -> Vec<String> {
            Meter::of(service, action, narrowed)
                .into_iter()
                .map(|m| m.name)
                .collect()
        };
        // EC2: a bucket per action, sized by its category or its own size
        assert_eq!(
            names(Service::Ec2, "CreateSubnet", false),
            ["ec2:CreateSubnet"]
        );
        // one bucket per action for the whole process
        let bucket = || Meter::of(Service::Ec2, "CreateSubnet", false)[0].bucket();
        assert!(std::sync::Arc::ptr_eq(&bucket(), &bucket()));
        let endpoint = &Meter::of(Service::Ec2, "CreateVpcEndpoint", false)[0];
        assert_eq!((endpoint.burst, endpoint.per_second), (4.0, 0.3));
        let describe = &Meter::of(Service::Ec2, "DescribeSubnets", false)[0];
        assert_eq!((describe.burst, describe.per_second), (100.0, 20.0));
        // unfiltered, unpaginated describes of seven actions draw from a smaller one
        let bare = &Meter::of(Service::Ec2, "DescribeInstances", false)[0];
        assert_eq!((bare.burst, bare.per_second), (50.0, 10.0));
        let filtered = &Meter::of(Service::Ec2, "DescribeInstances", true)[0];
        assert_eq!((filtered.burst, filtered.per_second), (100.0, 20.0));
        assert!(narrowed(b"Action=DescribeInstances&Filter.1.Name=vpc-id"));
        assert!(narrowed(b"Action=DescribeInstances&MaxResults=5"));
        assert!(!narrowed(b"Action=DescribeInstances&Version=2016-11-15"));
        // ELB: the account's bucket and the category's
        assert_eq!(
            names(Service::Elb, "CreateLoadBalancer", false),
            [
                "elasticloadbalancing",
                "elasticloadbalancing resource-intensive"
            ]
        );
        assert_eq!(
            names(Service::Elb, "ModifyLoadBalancerAttributes", false)[1],
            "elasticloadbalancing mutating"
        );
        assert_eq!(
            names(Service::Elb, "DescribeTags", false)[1],
            "elasticloadbalancing non-mutating"
        );
        assert_eq!(
            action_of(b"Action=DescribeVpcs&Version=2016-11-15"),
            "DescribeVpcs"
        );
        assert_eq!(action_of(b"Version=1&Action=RunInstances"), "RunInstances");
        assert_eq!(action_of(b""), "");
    }
}
