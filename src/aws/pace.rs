//! One client-side rate limiter per account and AWS bucket, shared by every
//! provider process of the machine.
//!
//! AWS meters requests per account and region in token buckets (EC2 one per
//! API action; Elastic Load Balancing one per category of actions and one for
//! the account; see [`Meter`]): a call drawn from an empty bucket is refused with a throttling
//! answer and has to be retried. Terraform asks one provider process for every
//! environment of a configuration at once, so without pacing the process
//! drains the account's buckets by itself from a handful of environments on.
//! Here every attempt (first or retried) first takes a token from a bucket of
//! AWS's published size and rate, waiting when it is empty.
//!
//! The buckets are kept in small files in the machine's temporary directory
//! (one per account, endpoint and meter, read and written under a file lock),
//! so the provider processes of several configurations or workspaces run on
//! one machine at once (`terragrunt run-all`, parallel CI jobs on one runner)
//! pace together as AWS meters them, rather than each spending the account's
//! whole bucket. Where the files cannot be had, a process keeps its buckets to
//! itself. Answers caused by processes elsewhere (other machines, Terraform
//! Cloud runs) are retried by the SDK (see [`super::retry_config`]) and empty
//! the bucket, so the next calls go at the refill rate the account's bucket
//! has.
//!
//! The pacing sits in the HTTP connector the SDK clients send through, so it
//! covers every call of every module, retries included, with no call site
//! knowing about it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

/// Seconds since the Unix epoch: the clock every process of the machine shares.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Tokens left (negative: reserved ahead) and when they were counted.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tokens {
    left: f64,
    counted: f64,
}

/// A token bucket that hands out reservations: a caller takes a token now or
/// the next one to come, and learns how long to wait for it. Reservations keep
/// the order callers arrived in, with no polling.
#[derive(Debug)]
pub struct Bucket {
    /// its name in the shared file
    name: String,
    burst: f64,
    per_second: f64,
    /// the count as this process last saw it
    state: Mutex<Tokens>,
    /// where every process of the machine keeps the count, when it could be
    /// opened
    shared: Option<Arc<SharedFile>>,
}

impl Bucket {
    /// A bucket this process keeps to itself.
    pub fn new(burst: f64, per_second: f64) -> Bucket {
        Bucket {
            name: String::new(),
            burst,
            per_second,
            state: Mutex::new(Tokens {
                left: burst,
                counted: now(),
            }),
            shared: None,
        }
    }

    /// Bucket `name` of `file`, shared with every process that opens it.
    pub fn shared(file: Arc<SharedFile>, name: &str, burst: f64, per_second: f64) -> Bucket {
        Bucket {
            name: name.to_string(),
            shared: Some(file),
            ..Bucket::new(burst, per_second)
        }
    }

    /// Takes a token at `now` (seconds since the epoch): how long the caller
    /// waits before it may send.
    pub fn reserve(&self, now: f64) -> Duration {
        let left = self.update(now, |tokens| {
            tokens.left -= 1.0;
            tokens.left
        });
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / self.per_second)
        }
    }

    /// Spends what the bucket holds: AWS said the account's bucket is empty
    /// (processes elsewhere share it, or this one started on a bucket a
    /// previous one drained), so the calls that follow go at the refill rate.
    pub fn drain(&self, now: f64) {
        self.update(now, |tokens| tokens.left = tokens.left.min(0.0));
    }

    /// Refills the count to `now` and applies `change`: to the shared file's
    /// count under its lock, else (or when the file cannot be read) to this
    /// process's.
    fn update<R>(&self, now: f64, change: impl FnOnce(&mut Tokens) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(shared) = &self.shared else {
            return self.refill_and(&mut state, now, change);
        };
        shared.with(|counts| {
            if let Some(stored) = counts.get(&self.name) {
                *state = self.sane(*stored, now);
            }
            let answer = self.refill_and(&mut state, now, change);
            counts.insert(self.name.clone(), *state);
            answer
        })
    }

    fn refill_and<R>(
        &self,
        tokens: &mut Tokens,
        now: f64,
        change: impl FnOnce(&mut Tokens) -> R,
    ) -> R {
        let elapsed = (now - tokens.counted).max(0.0);
        tokens.left = (tokens.left + elapsed * self.per_second).min(self.burst);
        tokens.counted = tokens.counted.max(now);
        change(tokens)
    }

    /// A stored count this bucket could have made (a file another version
    /// or a stray write left is read as a full bucket): at most the burst, a
    /// debt of at most ten minutes of refills (the longest queue many
    /// environments' creates make of the slowest bucket is a few minutes),
    /// counted no later than an hour ahead.
    fn sane(&self, stored: Tokens, now: f64) -> Tokens {
        let most_debt = self.burst + self.per_second * 600.0;
        let plausible = stored.left.is_finite()
            && stored.counted.is_finite()
            && stored.left <= self.burst
            && stored.left >= -most_debt
            && stored.counted <= now + 3600.0;
        if plausible {
            stored
        } else {
            Tokens {
                left: self.burst,
                counted: now,
            }
        }
    }
}

/// The file the buckets of one scope are kept in: a line per bucket (name,
/// tokens, when counted), read and rewritten whole under an exclusive lock,
/// so the processes' reservations queue in one line.
#[derive(Debug)]
pub struct SharedFile {
    /// a lock belongs to the open file, which this process's threads share:
    /// they take turns here before taking it
    file: Mutex<File>,
}

impl SharedFile {
    /// Opens (or makes) the file at `path`; `None` when it cannot be had.
    pub fn open(path: &Path) -> Option<Arc<SharedFile>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path);
        match file {
            Ok(file) => Some(Arc::new(SharedFile {
                file: Mutex::new(file),
            })),
            Err(error) => {
                tracing::debug!(target: "prodvpc::aws", path = %path.display(), %error, "pacing kept to this process");
                None
            }
        }
    }

    /// Applies `change` to the counts the file holds and writes them back.
    /// When the file cannot be locked or read, `change` gets no counts and
    /// nothing is written: the bucket goes by this process's count.
    fn with<R>(&self, change: impl FnOnce(&mut BTreeMap<String, Tokens>) -> R) -> R {
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if !lock_briefly(&file) {
            return change(&mut BTreeMap::new());
        }
        let answer = match read_counts(&file) {
            Some(mut counts) => {
                let answer = change(&mut counts);
                write_counts(&file, &counts);
                answer
            }
            None => change(&mut BTreeMap::new()),
        };
        let _ = file.unlock();
        answer
    }
}

/// Takes the file's lock, waiting [`LOCK_PATIENCE`] at most: a process holds
/// it for a read and a write, so a longer hold is a process stopped while
/// holding it (a debugger, a suspended job), and a call never waits on that.
fn lock_briefly(file: &File) -> bool {
    let started = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return true,
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(error) => {
                tracing::debug!(target: "prodvpc::aws", %error, "the shared pacing count is not to be had; this call goes by the process's own");
                return false;
            }
        }
    }
}

/// How long a call waits for the shared count's lock.
const LOCK_PATIENCE: Duration = Duration::from_millis(50);

/// The counts a bucket file holds; lines that do not read as one are left
/// out (the bucket starts full).
fn read_counts(mut file: &File) -> Option<BTreeMap<String, Tokens>> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    Some(
        text.lines()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let name = fields.next()?;
                let left = fields.next()?.parse().ok()?;
                let counted = fields.next()?.parse().ok()?;
                Some((name.to_string(), Tokens { left, counted }))
            })
            .collect(),
    )
}

fn write_counts(mut file: &File, counts: &BTreeMap<String, Tokens>) {
    let text: String = counts
        .iter()
        .map(|(name, t)| format!("{name}\t{}\t{}\n", t.left, t.counted))
        .collect();
    let written = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.set_len(0))
        .and_then(|_| file.write_all(text.as_bytes()));
    if let Err(error) = written {
        tracing::debug!(target: "prodvpc::aws", %error, "a shared pacing count could not be written");
    }
}

/// The directory the machine's buckets are kept in: one per user, so
/// another user's files are never read.
fn shared_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_default();
        let user: String = user
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let dir = std::env::temp_dir().join(format!("terraform-provider-prodvpc-pacing-{user}"));
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).ok()?;
        if !private_to_this_user(&dir) {
            tracing::debug!(target: "prodvpc::aws", dir = %dir.display(), "the pacing directory is not this user's alone; pacing kept to this process");
            return None;
        }
        Some(dir)
    })
    .as_deref()
}

/// Whether `dir` belongs to the user this process runs as and nobody else
/// may write in it: a directory another user made in its place (the
/// temporary directory is everyone's) could feed the buckets counts that
/// hold every call back.
#[cfg(unix)]
fn private_to_this_user(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // a file made here is owned by this process's user
    let probe = dir.join(format!(".owner-{}", std::process::id()));
    let mine = File::create(&probe).and_then(|file| file.metadata());
    let _ = std::fs::remove_file(&probe);
    match (mine, std::fs::metadata(dir)) {
        (Ok(mine), Ok(dir)) => dir.uid() == mine.uid() && dir.mode() & 0o022 == 0,
        _ => false,
    }
}

#[cfg(not(unix))]
fn private_to_this_user(_dir: &Path) -> bool {
    true
}

/// A stable name for a scope's file (FNV-1a: the same in every process and
/// release, unlike the standard library's hasher).
fn file_name(scope: &str) -> String {
    let hash = scope.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// Drains the buckets of a call that met a throttling answer (see
/// [`Bucket::drain`]); `service` is the SDK's name for it (`EC2`,
/// `Elastic Load Balancing v2`, `Auto Scaling`), `scope` the account's (see
/// [`Paced::new`]).
pub fn throttled(scope: &str, service: &str, action: &str) {
    let service = match service.to_ascii_lowercase() {
        s if s.contains("ec2") => Service::Ec2,
        s if s.contains("elastic") => Service::Elb,
        s if s.contains("auto") => Service::AutoScaling,
        _ => return,
    };
    let now = now();
    for narrowed in [true, false] {
        for meter in Meter::of(service, action, narrowed) {
            meter.bucket(scope).drain(now);
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

    /// The bucket of the meter for `scope` (an account's calls to one
    /// endpoint), made at its first use in this process: kept in the
    /// machine's shared file for it when the directory can be had.
    pub fn bucket(&self, scope: &str) -> Arc<Bucket> {
        static BUCKETS: OnceLock<Mutex<BucketsByScope>> = OnceLock::new();
        let mut buckets = BUCKETS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        buckets
            .entry((scope.to_string(), self.name.clone()))
            .or_insert_with(|| {
                let burst = paced_burst(self.burst);
                Arc::new(match shared_file(scope) {
                    Some(file) => Bucket::shared(file, &self.name, burst, self.per_second),
                    None => Bucket::new(burst, self.per_second),
                })
            })
            .clone()
    }
}

/// The machine's file of `scope`'s buckets, opened once per process.
fn shared_file(scope: &str) -> Option<Arc<SharedFile>> {
    static FILES: OnceLock<Mutex<HashMap<String, Option<Arc<SharedFile>>>>> = OnceLock::new();
    let mut files = FILES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    files
        .entry(scope.to_string())
        .or_insert_with(|| SharedFile::open(&shared_dir()?.join(file_name(scope))))
        .clone()
}

/// This process's buckets, by scope and meter name.
type BucketsByScope = HashMap<(String, String), Arc<Bucket>>;

/// The burst this process spends of AWS's `burst`: a tenth less for the
/// buckets that many calls draw from at once (20 tokens and more). Calls sent
/// at the bucket's pace can reach AWS bunched (a slow connection, a busy
/// endpoint holding one back until the next is sent), and a full bucket loses
/// the refill of the time one was held: the tokens kept back absorb that,
/// where spending the whole burst would draw a throttling answer and its
/// retry. The small buckets of creates (a load balancer, a NAT gateway, a
/// gateway endpoint) are spent whole: one token there is seconds of refill,
/// and their calls come a few at a time.
fn paced_burst(burst: f64) -> f64 {
    if burst >= 20.0 {
        burst - (burst / 10.0).floor()
    } else {
        burst
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
    scope: Arc<str>,
}

impl Paced {
    /// `scope` names whose buckets the calls draw from: the account (or,
    /// when the credentials do not say it, their access key), the region
    /// and the endpoint (see [`scope`]).
    pub fn new(inner: SharedHttpClient, service: Service, scope: Arc<str>) -> Paced {
        Paced {
            inner,
            service,
            scope,
        }
    }
}

/// Whose buckets a client's calls draw from: AWS meters an account in a
/// region; `endpoint` tells an endpoint the configuration names (an emulator)
/// from AWS's own.
pub fn scope(account: &str, region: &str, endpoint: Option<&str>) -> Arc<str> {
    format!("{account} {region} {}", endpoint.unwrap_or("aws")).into()
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
            scope: Arc::clone(&self.scope),
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
    scope: Arc<str>,
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
        let now = now();
        // a token of every bucket the call draws from: it waits for the last
        let wait = Meter::of(self.service, action, narrowed(body))
            .iter()
            .map(|meter| meter.bucket(&self.scope).reserve(now))
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
pub fn paced(shared: &aws_types::SdkConfig, service: Service, scope: Arc<str>) -> Paced {
    let inner = shared.http_client().unwrap_or_else(default_client);
    Paced::new(inner, service, scope)
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
        let start = now();
        for _ in 0..3 {
            assert_eq!(bucket.reserve(start), Duration::ZERO);
        }
        // the fourth and fifth wait for the next tokens, in order
        let fourth = bucket.reserve(start);
        let fifth = bucket.reserve(start);
        assert!((fourth.as_secs_f64() - 0.1).abs() < 1e-6, "{fourth:?}");
        assert!((fifth.as_secs_f64() - 0.2).abs() < 1e-6, "{fifth:?}");
        // a second later the debt is paid and tokens have come back
        assert_eq!(bucket.reserve(start + 1.0), Duration::ZERO);
    }

    #[test]
    fn a_throttling_answer_empties_the_bucket() {
        let bucket = Bucket::new(10.0, 10.0);
        let start = now();
        assert_eq!(bucket.reserve(start), Duration::ZERO);
        bucket.drain(start);
        let next = bucket.reserve(start);
        assert!((next.as_secs_f64() - 0.1).abs() < 1e-6, "{next:?}");
    }

    #[test]
    fn a_bucket_never_holds_more_than_its_burst() {
        let bucket = Bucket::new(2.0, 100.0);
        let later = now() + 60.0;
        assert_eq!(bucket.reserve(later), Duration::ZERO);
        assert_eq!(bucket.reserve(later), Duration::ZERO);
        assert!(bucket.reserve(later) > Duration::ZERO);
    }

    /// A directory of the test's own, removed when the test ends.
    struct TestDir(PathBuf);

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A bucket's file in a directory of the test's own.
    fn bucket_file(name: &str) -> (TestDir, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("prodvpc-pace-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bucket");
        (TestDir(dir), path)
    }

    #[test]
    fn processes_sharing_a_bucket_file_spend_one_burst_between_them() {
        // two opens of one file stand for two provider processes
        let (_dir, path) = bucket_file("shared");
        let (one, other) = (SharedFile::open(&path), SharedFile::open(&path));
        let first = Bucket::shared(one.clone().unwrap(), "elb", 4.0, 10.0);
        let second = Bucket::shared(other.clone().unwrap(), "elb", 4.0, 10.0);
        let start = now();
        for bucket in [&first, &second, &first, &second] {
            assert_eq!(bucket.reserve(start), Duration::ZERO);
        }
        // the fifth token is the next to come, whichever process asks
        let fifth = second.reserve(start);
        let sixth = first.reserve(start);
        assert!((fifth.as_secs_f64() - 0.1).abs() < 1e-6, "{fifth:?}");
        assert!((sixth.as_secs_f64() - 0.2).abs() < 1e-6, "{sixth:?}");
        // a throttling answer one process met slows the other too
        first.drain(start + 1.0);
        let after = second.reserve(start + 1.0);
        assert!((after.as_secs_f64() - 0.1).abs() < 1e-6, "{after:?}");
        // another bucket of the same file keeps its own count
        let other_bucket = Bucket::shared(one.unwrap(), "ec2:DescribeVpcs", 1.0, 1.0);
        assert_eq!(other_bucket.reserve(start + 1.0), Duration::ZERO);
        // a process that opens the file later sees the same counts
        let third = Bucket::shared(SharedFile::open(&path).unwrap(), "elb", 4.0, 10.0);
        assert!(third.reserve(start + 1.0) > Duration::ZERO);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    #[test]
    fn a_shared_count_no_bucket_could_make_is_read_as_a_full_bucket() {
        let (_dir, path) = bucket_file("garbage");
        let start = now();
        for garbage in [
            format!("b\tNaN\t{start}\n"),
            format!("b\t1e12\t{start}\n"),
            format!("b\t-1e12\t{start}\n"),
            // more than ten minutes of refills owed
            format!("b\t-7000\t{start}\n"),
            format!("b\t0\t{}\n", start + 1e6),
            "b\tnot a number\n".to_string(),
            "\u{0}\u{1}\u{2}".to_string(),
        ] {
            std::fs::write(&path, &garbage).unwrap();
            let bucket = Bucket::shared(SharedFile::open(&path).unwrap(), "b", 2.0, 10.0);
            assert_eq!(bucket.reserve(start), Duration::ZERO, "{garbage:?}");
            assert_eq!(bucket.reserve(start), Duration::ZERO, "{garbage:?}");
            assert!(bucket.reserve(start) > Duration::ZERO, "{garbage:?}");
        }
    }

    #[test]
    fn a_lock_held_too_long_leaves_the_call_to_the_process_s_own_count() {
        let (_dir, path) = bucket_file("held");
        // another process took the lock and stopped
        let holder = std::fs::File::open(&path)
            .or_else(|_| std::fs::File::create(&path))
            .unwrap();
        holder.lock().unwrap();
        let bucket = Bucket::shared(SharedFile::open(&path).unwrap(), "b", 1.0, 10.0);
        let start = now();
        let asked = std::time::Instant::now();
        assert_eq!(bucket.reserve(start), Duration::ZERO);
        assert!(
            bucket.reserve(start) > Duration::ZERO,
            "the process's own count paces"
        );
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
        holder.unlock().unwrap();
        // once it is free again, the process's count (its debt included)
        // goes into the file for the others
        let third = bucket.reserve(start);
        assert!((third.as_secs_f64() - 0.2).abs() < 1e-6, "{third:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("b\t-2\t"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_may_write_in_is_not_shared() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, _) = bucket_file("private");
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(private_to_this_user(&dir.0));
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!private_to_this_user(&dir.0));
        assert_eq!(
            std::fs::read_dir(&dir.0).unwrap().count(),
            0,
            "the probe is removed"
        );
    }

    #[test]
    fn a_bucket_file_that_cannot_be_opened_leaves_the_bucket_to_the_process() {
        let (_dir, path) = bucket_file("missing");
        assert!(SharedFile::open(&path.join("no such directory").join("bucket")).is_none());
    }

    #[test]
    fn a_tenth_of_each_large_burst_is_kept_back_for_calls_that_arrive_bunched() {
        assert_eq!(paced_burst(40.0), 36.0);
        assert_eq!(paced_burst(100.0), 90.0);
        assert_eq!(paced_burst(20.0), 18.0);
        assert_eq!(paced_burst(10.0), 10.0);
        assert_eq!(paced_burst(4.0), 4.0);
    }

    #[test]
    fn accounts_and_endpoints_have_buckets_of_their_own() {
        let meter = &Meter::of(Service::Ec2, "DescribeVpcs", false)[0];
        let ours = scope("111122223333", "us-east-1", None);
        let theirs = scope("444455556666", "us-east-1", None);
        let emulator = scope("111122223333", "us-east-1", Some("http://127.0.0.1:4566"));
        assert!(Arc::ptr_eq(&meter.bucket(&ours), &meter.bucket(&ours)));
        assert!(!Arc::ptr_eq(&meter.bucket(&ours), &meter.bucket(&theirs)));
        assert!(!Arc::ptr_eq(&meter.bucket(&ours), &meter.bucket(&emulator)));
        assert_ne!(file_name(&ours), file_name(&theirs));
        // the same name in every process and release
        assert_eq!(file_name(""), "cbf29ce484222325");
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
        let bucket = || Meter::of(Service::Ec2, "CreateSubnet", false)[0].bucket("test");
        assert!(Arc::ptr_eq(&bucket(), &bucket()));
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
