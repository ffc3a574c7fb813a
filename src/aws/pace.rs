//! One client-side rate limiter per provider process and API category.
//!
//! AWS meters requests per account and region in token buckets, one per API
//! family: a call drawn from an empty bucket is refused with a throttling
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
    Category::of(service, action).bucket().drain(Instant::now());
}

/// An API category: the bucket AWS meters a call against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// EC2 describes and gets
    Ec2Describe,
    /// every other EC2 action, but the two below
    Ec2Mutating,
    Ec2CreateNatGateway,
    Ec2RunInstances,
    /// Elastic Load Balancing: one bucket for the account
    Elb,
    /// Auto Scaling: one bucket for the account
    AutoScaling,
}

impl Category {
    const ALL: [Category; 6] = [
        Category::Ec2Describe,
        Category::Ec2Mutating,
        Category::Ec2CreateNatGateway,
        Category::Ec2RunInstances,
        Category::Elb,
        Category::AutoScaling,
    ];

    /// The category of `action` of `service` (the SDK's service names: `ec2`,
    /// `elasticloadbalancing`, `autoscaling`).
    pub fn of(service: Service, action: &str) -> Category {
        match service {
            Service::Ec2 => match action {
                "CreateNatGateway" => Category::Ec2CreateNatGateway,
                "RunInstances" => Category::Ec2RunInstances,
                a if a.starts_with("Describe") || a.starts_with("Get") => Category::Ec2Describe,
                _ => Category::Ec2Mutating,
            },
            Service::Elb => Category::Elb,
            Service::AutoScaling => Category::AutoScaling,
        }
    }

    /// AWS's published request rates, as (burst, refill per second): EC2's
    /// documented defaults per family; Elastic Load Balancing and Auto Scaling
    /// meter the whole account with one moderate bucket each.
    pub fn rate(self) -> (f64, f64) {
        match self {
            Category::Ec2Describe => (100.0, 20.0),
            Category::Ec2Mutating => (50.0, 5.0),
            Category::Ec2CreateNatGateway => (10.0, 1.0),
            Category::Ec2RunInstances => (5.0, 2.0),
            Category::Elb => (40.0, 10.0),
            Category::AutoScaling => (40.0, 10.0),
        }
    }

    /// This process's bucket of the category.
    pub fn bucket(self) -> &'static Bucket {
        static BUCKETS: OnceLock<Vec<Bucket>> = OnceLock::new();
        let buckets = BUCKETS.get_or_init(|| {
            Category::ALL
                .iter()
                .map(|c| {
                    let (burst, per_second) = c.rate();
                    Bucket::new(burst, per_second)
                })
                .collect()
        });
        let index = Category::ALL.iter().position(|c| *c == self).unwrap_or(0);
        &buckets[index]
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
        let action = request.body().bytes().map(action_of).unwrap_or_default();
        let category = Category::of(self.service, action);
        let wait = category.bucket().reserve(Instant::now());
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
    fn calls_are_metered_by_their_family() {
        assert_eq!(
            Category::of(Service::Ec2, "DescribeSubnets"),
            Category::Ec2Describe
        );
        assert_eq!(
            Category::of(Service::Ec2, "CreateSubnet"),
            Category::Ec2Mutating
        );
        assert_eq!(
            Category::of(Service::Ec2, "CreateNatGateway"),
            Category::Ec2CreateNatGateway
        );
        assert_eq!(Category::of(Service::Elb, "DescribeTags"), Category::Elb);
        assert_eq!(
            action_of(b"Action=DescribeVpcs&Version=2016-11-15"),
            "DescribeVpcs"
        );
        assert_eq!(action_of(b"Version=1&Action=RunInstances"), "RunInstances");
        assert_eq!(action_of(b""), "");
    }
}
