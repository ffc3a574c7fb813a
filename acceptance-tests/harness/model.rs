//! A stateful model of the AWS behaviour moto lacks, applied by the fault layer
//! to every call it forwards: resources that take minutes to become usable or to
//! go away (at AWS's durations times a `time_scale`: an Auto Scaling group
//! being deleted, see [`group_deletion`]), refusals while network
//! interfaces linger, eventual consistency right after a create, throttling, a
//! real instance refresh, Auto Scaling Groups' mixed instances policies as AWS
//! keeps and launches them (see [`mixed`]), ClientToken idempotency, and the
//! EC2 Instance Connect Endpoints and regional NAT gateways moto does not
//! implement (see [`instance_connect`] and [`regional_nat`]), and IPv6
//! dual-stack as AWS checks and times it (see [`ipv6`]).
//!
//! Each call passes [`Model::admit`] before moto sees it (throttling, eventual
//! consistency, refusals, the answers the model gives itself, and calls put in
//! terms moto handles right) and
//! [`Model::observe`] after moto answered (the model learns what was created
//! and rewrites the states moto reports). What the model learns about
//! relationships it asks moto directly, bypassing the layer.
//!
//! Turn it on with [`super::faults::FaultLayer::start_modelled`].

pub mod clock;
mod consistency;
mod dependencies;
mod dhcp_options;
mod group_deletion;
mod idempotency;
mod images;
mod instance_connect;
mod instances;
mod ipv6;
mod load_balancer;
mod mixed;
mod nat;
mod notifications;
mod propagation;
mod refresh;
mod regional_nat;
mod tagging;
mod throttle;
mod world;
mod xml;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use self::clock::{Clock, Rng};
use self::consistency::Recent;
use self::throttle::Throttle;
use self::world::World;
use self::xml::Document;
use super::Api;

pub use self::xml::escape;

/// How AWS-like the model is.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// AWS's durations are multiplied by this (0.02: a 90 s NAT gateway takes 1.8 s)
    pub time_scale: f64,
    /// chance that a call naming an object younger than `consistency_window` fails
    pub consistency_probability: f64,
    /// real time (not scaled) after a create during which the object may not be found
    pub consistency_window: Duration,
    /// token buckets per API family, in real time
    pub throttling: bool,
    /// seeds every random decision, so a run can be repeated
    pub seed: u64,
    /// instances launched from a launch template whose user data contains this
    /// text fail their target group's health checks (an app that does not start)
    pub unhealthy_user_data: Option<String>,
    /// real time after a create during which a filtered listing leaves the
    /// object out (see [`consistency::Recent::hide_young`])
    pub listing_lag: Option<Duration>,
}

impl ModelConfig {
    /// AWS's APIs without its timing: every duration a millionth (a 90 s NAT
    /// gateway is pending for 90 µs), no throttling, no eventual consistency,
    /// no listing lag.
    pub fn immediate() -> ModelConfig {
        ModelConfig {
            time_scale: 1e-6,
            consistency_probability: 0.0,
            consistency_window: Duration::ZERO,
            throttling: false,
            seed: 1,
            unhealthy_user_data: None,
            listing_lag: None,
        }
    }

    /// AWS's behaviour with its durations scaled by `scale`, AWS's propagation
    /// window, throttling on, `probability` of not finding a new object by its
    /// ID, and new objects left out of filtered listings for half a second.
    pub fn aws_like(scale: f64, probability: f64) -> ModelConfig {
        ModelConfig {
            time_scale: scale,
            consistency_probability: probability,
            consistency_window: Duration::from_millis(1500),
            throttling: true,
            seed: 1,
            unhealthy_user_data: None,
            listing_lag: Some(Duration::from_millis(500)),
        }
    }
}

/// One API call as the model sees it: service, action and decoded form parameters.
#[derive(Clone, Debug)]
pub struct Call {
    pub service: String,
    pub action: String,
    pub params: Vec<(String, String)>,
    /// the region the call was signed for (its SigV4 credential scope)
    pub region: String,
}

impl Call {
    /// Decodes a query-protocol form body.
    pub fn parse(service: &str, body: &[u8]) -> Call {
        let params: Vec<(String, String)> = String::from_utf8_lossy(body)
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(name), percent_decode(value))
            })
            .collect();
        let action = params
            .iter()
            .find(|(name, _)| name == "Action")
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| "Unknown".into());
        Call {
            service: service.to_string(),
            action,
            params,
            region: "us-east-1".into(),
        }
    }

    /// The call as signed for `region` (left in us-east-1 when unknown).
    pub fn in_region(mut self, region: &str) -> Call {
        if !region.is_empty() && region != "unknown" {
            self.region = region.to_string();
        }
        self
    }

    /// The call as a query-protocol form body, encoded as the SDK encodes one.
    pub fn body(&self) -> String {
        self.params
            .iter()
            .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// `service:Action`, as the layer counts calls.
    pub fn key(&self) -> String {
        format!("{}:{}", self.service, self.action)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The values of a list parameter (`prefix.1`, `prefix.2`, ...) in order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.list_of(prefix, "")
    }

    /// A field of each member of a list of structures (`prefix.N.field`) in order.
    pub fn list_of(&self, prefix: &str, field: &str) -> Vec<String> {
        let mut found: Vec<(u32, String)> = self
            .params
            .iter()
            .filter_map(|(name, value)| {
                let rest = name.strip_prefix(prefix)?.strip_prefix('.')?;
                let (index, tail) = rest.split_once('.').unwrap_or((rest, ""));
                (tail == field).then(|| Some((index.parse().ok()?, value.clone())))?
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, v)| v).collect()
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An error answer, as AWS would give it.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Refusal {
    pub fn new(status: u16, code: &str, message: &str) -> Refusal {
        Refusal {
            status,
            code: code.to_string(),
            message: message.to_string(),
        }
    }

    fn dependency(message: String) -> Refusal {
        Refusal::new(400, "DependencyViolation", &message)
    }
}

/// DescribeScalingActivities while launches fail: the group's latest
/// activity, a launch that `Failed` with AWS's message. AWS keeps retrying
/// the launch, so the latest failed attempt is a recent one.
fn failed_launches(failure: Option<&String>, call: &Call) -> Option<Verdict> {
    let message = failure?;
    if call.key() != "autoscaling:DescribeScalingActivities" {
        return None;
    }
    let group = escape(call.param("AutoScalingGroupName").unwrap_or_default());
    let started = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let message = escape(message);
    let ns = "http://autoscaling.amazonaws.com/doc/2011-01-01/";
    Some(Verdict::Answer(format!(
        "<DescribeScalingActivitiesResponse xmlns=\"{ns}\"><DescribeScalingActivitiesResult><Activities><member><ActivityId>model-launch-failure</ActivityId><AutoScalingGroupName>{group}</AutoScalingGroupName><Description>Launching a new EC2 instance.  Status Reason: {message}</Description><Cause>At {started} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 0 to 1.</Cause><StartTime>{started}</StartTime><EndTime>{started}</EndTime><StatusCode>Failed</StatusCode><StatusMessage>{message}</StatusMessage><Progress>100</Progress></member></Activities></DescribeScalingActivitiesResult><ResponseMetadata><RequestId>model</RequestId></ResponseMetadata></DescribeScalingActivitiesResponse>"
    )))
}

/// Until when EC2 does not know profile `named` (a name or an ARN), if it
/// is one IAM has not propagated yet: the window starts with the first call
/// that names it.
fn unpropagated_until(
    profiles: &mut HashMap<String, Propagation>,
    named: &str,
    now: Instant,
) -> Option<Instant> {
    let name = named.rsplit('/').next().unwrap_or(named);
    let propagation = profiles.get_mut(name)?;
    let until = *propagation
        .known_from
        .get_or_insert(now + propagation.window);
    (now < until).then_some(until)
}

/// AWS's answer to a launch naming an instance profile that IAM has not yet
/// propagated to EC2.
fn unpropagated_profile(
    profiles: &mut HashMap<String, Propagation>,
    call: &Call,
    now: Instant,
) -> Option<Refusal> {
    if !matches!(
        call.key().as_str(),
        "ec2:RunInstances"
            | "ec2:AssociateIamInstanceProfile"
            | "ec2:ReplaceIamInstanceProfileAssociation"
    ) {
        return None;
    }
    let (parameter, named) =
        [("Name", "name"), ("Arn", "arn")]
            .into_iter()
            .find_map(|(field, parameter)| {
                Some((
                    parameter,
                    call.param(&format!("IamInstanceProfile.{field}"))?,
                ))
            })?;
    unpropagated_until(profiles, named, now)?;
    Some(Refusal::new(
        400,
        "InvalidParameterValue",
        &unknown_profile_message(named, parameter),
    ))
}

/// AWS's answer to a flow log whose delivery role IAM has not propagated yet.
fn unpropagated_role(
    roles: &mut HashMap<String, Propagation>,
    call: &Call,
    now: Instant,
) -> Option<Refusal> {
    if call.key() != "ec2:CreateFlowLogs" {
        return None;
    }
    let role = call.param("DeliverLogsPermissionArn")?;
    unpropagated_until(roles, role, now)?;
    Some(Refusal::new(
        400,
        "InvalidParameter",
        &format!("Unable to assume given IAM role: '{role}'"),
    ))
}

/// EC2's words for a profile it does not know, named by `parameter` (`name` or `arn`).
fn unknown_profile_message(named: &str, parameter: &str) -> String {
    format!("Value ({named}) for parameter iamInstanceProfile.{parameter} is invalid. Invalid IAM Instance Profile name")
}

/// What the layer does with a call.
pub enum Verdict {
    /// send it to moto
    Forward,
    /// send this call to moto instead: the same request in terms moto handles
    /// as AWS does; its answer is observed as the answer to the original call
    ForwardAs(Call),
    /// answer with this error instead
    Refuse(Refusal),
    /// answer with this body; the model gave the whole answer itself
    Answer(String),
    /// answer with this earlier moto answer (an idempotent repeat), as if moto gave it
    Replay(String),
}

struct State {
    world: World,
    recent: Recent,
    throttle: Throttle,
    clock: Clock,
    rng: Rng,
    consistency_probability: f64,
    consistency_window: Duration,
    /// `Action ClientToken` -> (the other parameters, moto's answer)
    client_tokens: HashMap<String, (String, String)>,
    throttled: HashMap<String, usize>,
    refused: HashMap<String, usize>,
    unhealthy_user_data: Option<String>,
    /// what NAT gateways created from now on fail with (`FailureCode`, `FailureMessage`)
    nat_failure: Option<(String, String)>,
    /// what EC2 Instance Connect Endpoints created from now on fail with (their `StateMessage`)
    instance_connect_failure: Option<String>,
    /// what every launch of a group fails with from now on (AWS's `StatusMessage`)
    launch_failure: Option<String>,
    /// the account's Elastic IP quota, enforced when set (moto reports 5 and
    /// allocates without limit)
    address_quota: Option<usize>,
    /// the region's VPC quota, enforced on CreateVpc when set (moto has none)
    vpc_quota: Option<usize>,
    /// the zone where RunInstances finds no capacity, when set
    no_capacity_zone: Option<String>,
    /// instance profiles EC2 does not know yet (IAM propagates a new profile
    /// to EC2 in seconds, up to about two minutes), by name: until when
    unpropagated_profiles: HashMap<String, Propagation>,
    /// the apps of group instances need the internet at boot (user data
    /// installing packages): one launched while its subnet has no way out
    /// (no default route to an internet gateway or an available NAT gateway)
    /// never comes up, and fails its health checks
    boot_needs_way_out: bool,
    /// IAM roles the flow logs service cannot assume yet (a role made moments
    /// before in the same apply), by name
    unpropagated_roles: HashMap<String, Propagation>,
    /// groups whose launches fail until the given moment because their launch
    /// template names a profile EC2 does not know yet, with AWS's message
    profile_failures: HashMap<String, (Instant, String)>,
    /// groups whose latest launch failed because its template's image cannot
    /// launch as its type (or with its root volume), with AWS's message
    image_failures: HashMap<String, String>,
    /// how many DescribeScalingActivities answers reported a failed launch
    launch_failures_reported: usize,
    /// how long after its create a filtered listing leaves an object out
    listing_lag: Option<Duration>,
}

/// An instance profile IAM has not yet propagated to EC2.
pub struct Propagation {
    window: Duration,
    /// set by the first call that names the profile
    known_from: Option<Instant>,
}

/// The model; shared by the layer's connections and its clock task.
pub struct Model {
    throttling: bool,
    /// straight to moto, bypassing the layer
    api: Api,
    state: Mutex<State>,
    /// set while one task moves the instance refreshes on (their steps call moto)
    refreshing: std::sync::atomic::AtomicBool,
}

/// How often due side effects (an Elastic IP freed, instances replaced) are applied.
const TICK: Duration = Duration::from_millis(25);

impl Model {
    /// A model in front of moto at `upstream`. Call outside the harness runtime.
    pub fn start(upstream: &str, config: ModelConfig) -> Arc<Model> {
        let model = Arc::new(Model {
            throttling: config.throttling,
            api: Api::new(upstream),
            refreshing: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(State {
                world: World::default(),
                recent: Recent::default(),
                throttle: Throttle::default(),
                clock: Clock::new(config.time_scale),
                rng: Rng::new(config.seed),
                consistency_probability: config.consistency_probability,
                consistency_window: config.consistency_window,
                client_tokens: HashMap::new(),
                throttled: HashMap::new(),
                refused: HashMap::new(),
                unhealthy_user_data: config.unhealthy_user_data,
                nat_failure: None,
                instance_connect_failure: None,
                unpropagated_profiles: HashMap::new(),
                unpropagated_roles: HashMap::new(),
                boot_needs_way_out: false,
                profile_failures: HashMap::new(),
                image_failures: HashMap::new(),
                launch_failures_reported: 0,
                listing_lag: config.listing_lag,
                launch_failure: None,
                address_quota: None,
                vpc_quota: None,
                no_capacity_zone: None,
            }),
        });
        let weak: Weak<Model> = Arc::downgrade(&model);
        super::runtime().spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                let Some(model) = weak.upgrade() else { return };
                model.advance().await;
            }
        });
        model
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the chance that a call naming a young object fails, from now on
    /// (1.0 forces every such call to fail until it is set back).
    pub fn set_consistency(&self, probability: f64) {
        self.state().consistency_probability = probability;
    }

    /// Changes the scale of AWS's durations for objects created or deleted from
    /// now on (a test that needs a window to be wide enough to act in widens it).
    pub fn set_time_scale(&self, scale: f64) {
        self.state().clock = Clock::new(scale);
    }

    /// From now on, instances launched from a launch template whose user data
    /// contains `marker` fail their health checks (`None`: every app starts).
    pub fn set_unhealthy_user_data(&self, marker: Option<&str>) {
        self.state().unhealthy_user_data = marker.map(str::to_string);
    }

    /// From now on, NAT gateways created end `failed` after their pending
    /// time with AWS's `code` and `message` (`None`: they become available).
    pub fn fail_nat_gateways(&self, failure: Option<(&str, &str)>) {
        self.state().nat_failure = failure.map(|(c, m)| (c.to_string(), m.to_string()));
    }

    /// From now on, EC2 Instance Connect Endpoints created end `create-failed`
    /// after their creation time with `message` as their `StateMessage`
    /// (`None`: they end `create-complete`).
    pub fn fail_instance_connect_endpoints(&self, message: Option<&str>) {
        self.state().instance_connect_failure = message.map(str::to_string);
    }

    /// Gives the account an Elastic IP quota of `quota` (AWS's default is 5):
    /// DescribeAccountAttributes reports it as `vpc-max-elastic-ips`, and
    /// AllocateAddress is refused with `AddressLimitExceeded` once that many
    /// addresses exist.
    pub fn set_address_quota(&self, quota: usize) {
        self.state().address_quota = Some(quota);
    }

    /// The region's VPC quota (AWS's default is 5, the default VPC included):
    /// CreateVpc is refused with `VpcLimitExceeded` once that many VPCs exist.
    pub fn set_vpc_quota(&self, quota: usize) {
        self.state().vpc_quota = Some(quota);
    }

    /// From now on, instances a group launches never start (their group keeps
    /// them `Pending`) and DescribeScalingActivities reports the launch
    /// `Failed` with AWS's `message` (`None`: launches work again).
    pub fn fail_launches(&self, message: Option<&str>) {
        self.state().launch_failure = message.map(str::to_string);
    }

    /// From now on, RunInstances in `zone` (by its subnet or placement) is
    /// refused with AWS's `InsufficientInstanceCapacity` (HTTP 500, as AWS
    /// answers it), while the other zones launch (`None`: every zone has capacity).
    pub fn refuse_capacity_in(&self, zone: Option<&str>) {
        self.state().no_capacity_zone = zone.map(str::to_string);
    }

    /// EC2 does not know instance profile `name` for `window` (real time) from
    /// the first call that names it, as when IAM created it moments before in
    /// the same apply: RunInstances and AssociateIamInstanceProfile naming it
    /// (by name or ARN) are refused with AWS's `Invalid IAM Instance Profile
    /// name`; a group whose template names it fails its launches with that
    /// message (DescribeScalingActivities) and launches once it is known. The window starts with that call, not with this one, so however
    /// long the run takes to get there, its first use is refused.
    pub fn delay_instance_profile(&self, name: &str, window: Duration) {
        self.state().unpropagated_profiles.insert(
            name.to_string(),
            Propagation {
                window,
                known_from: None,
            },
        );
    }

    /// From now on, a group instance launched while its subnet has no way to
    /// the internet never serves (its boot needed the internet).
    pub fn set_boot_needs_way_out(&self, on: bool) {
        self.state().boot_needs_way_out = on;
    }

    /// The flow logs service cannot assume IAM role `name` for `window` (real
    /// time) from the first CreateFlowLogs that names it as its delivery role,
    /// as when IAM created it moments before: AWS refuses the create with
    /// `InvalidParameter: Unable to assume given IAM role`.
    pub fn delay_role(&self, name: &str, window: Duration) {
        self.state().unpropagated_roles.insert(
            name.to_string(),
            Propagation {
                window,
                known_from: None,
            },
        );
    }

    /// From now on, an EC2 listing by filters leaves out what was created less
    /// than `lag` ago (see [`consistency::Recent::hide_young`]).
    pub fn set_listing_lag(&self, lag: Duration) {
        self.state().listing_lag = Some(lag);
    }

    /// Changes how long after its creation an object may not be found.
    pub fn set_consistency_window(&self, window: Duration) {
        self.state().consistency_window = window;
    }

    /// How many calls of `service:Action` were throttled.
    pub fn throttled(&self, key: &str) -> usize {
        self.state().throttled.get(key).copied().unwrap_or(0)
    }

    /// Throttled calls per `service:Action`.
    pub fn throttled_counts(&self) -> HashMap<String, usize> {
        self.state().throttled.clone()
    }

    /// How many throttled calls in all.
    pub fn throttled_total(&self) -> usize {
        self.state().throttled.values().sum()
    }

    /// How many calls of `service:Action` the model refused (not found yet,
    /// dependency, in use, ...; throttling is counted apart).
    pub fn refused(&self, key: &str) -> usize {
        self.state().refused.get(key).copied().unwrap_or(0)
    }

    /// How many DescribeScalingActivities answers reported a failed launch.
    pub fn launch_failures_reported(&self) -> usize {
        self.state().launch_failures_reported
    }

    /// Refused calls per `service:Action`.
    pub fn refused_counts(&self) -> HashMap<String, usize> {
        self.state().refused.clone()
    }

    /// Decides what happens to a call before moto sees it.
    pub async fn admit(&self, call: &Call) -> Verdict {
        self.advance().await;
        let verdict = self.decide(call).await;
        if let Verdict::Refuse(refusal) = &verdict {
            let mut state = self.state();
            let counter = if refusal.code == "RequestLimitExceeded" || refusal.code == "Throttling"
            {
                &mut state.throttled
            } else {
                &mut state.refused
            };
            *counter.entry(call.key()).or_default() += 1;
        }
        verdict
    }

    async fn decide(&self, call: &Call) -> Verdict {
        let now = Instant::now();
        {
            let mut state = self.state();
            let narrowed = call.params.iter().any(|(name, _)| {
                name.starts_with("Filter.") || name == "MaxResults" || name == "NextToken"
            });
            if self.throttling
                && !state
                    .throttle
                    .admit(&call.service, &call.action, narrowed, now)
            {
                return Verdict::Refuse(throttle::refusal(&call.service));
            }
            let window = state.consistency_window;
            if let Some((_, id)) = state.recent.young(call, window, now) {
                let probability = state.consistency_probability;
                if state.rng.chance(probability) {
                    return Verdict::Refuse(consistency::not_found(call, id));
                }
            }
            let group = call.param("AutoScalingGroupName").unwrap_or_default();
            let launch_failure = state
                .launch_failure
                .as_ref()
                .or(state
                    .profile_failures
                    .get(group)
                    .filter(|(until, _)| now < *until)
                    .map(|(_, message)| message))
                .or(state.image_failures.get(group));
            if let Some(verdict) = failed_launches(launch_failure, call) {
                state.launch_failures_reported += 1;
                return verdict;
            }
            if let Some(refusal) = unpropagated_profile(&mut state.unpropagated_profiles, call, now)
                .or_else(|| unpropagated_role(&mut state.unpropagated_roles, call, now))
            {
                return Verdict::Refuse(refusal);
            }
            if let Some(refusal) = instances::refusal(&state.world, call, now) {
                return Verdict::Refuse(refusal);
            }
            if let Some(refusal) = group_deletion::refusal(&state.world, call) {
                return Verdict::Refuse(refusal);
            }
            if let Some(verdict) = mixed::admit(&state.world, call) {
                return verdict;
            }
            if let Some(verdict) = idempotency::replay(&state.client_tokens, call) {
                return verdict;
            }
            if let Some(verdict) = load_balancer::recreate_target_group(&state.world, call) {
                return verdict;
            }
            if let Some(verdict) = load_balancer::recreate(&state.world, call) {
                return verdict;
            }
            if let Some(verdict) = load_balancer::protected(&state.world, call) {
                return verdict;
            }
        }
        if call.key() == "ec2:DescribeInstances" {
            // a group's instances launched since the last look answer with the
            // tags AWS gave them at launch
            instances::sync_groups(self).await;
        }
        if let Some(verdict) = tagging::answer(self, call).await {
            return verdict;
        }
        if let Some(verdict) = propagation::answer(self, call) {
            return verdict;
        }
        if let Some(verdict) = regional_nat::answer(self, call).await {
            return verdict;
        }
        if let Some(verdict) = instance_connect::answer(self, call).await {
            return verdict;
        }
        if let Some(verdict) = refresh::answer(self, call).await {
            return verdict;
        }
        if let Some(verdict) = notifications::answer(self, call).await {
            return verdict;
        }
        if let Some(verdict) = self.address_quota(call).await {
            return verdict;
        }
        if let Some(refusal) = self.vpc_quota(call).await {
            return Verdict::Refuse(refusal);
        }
        if let Some(refusal) = self.no_capacity(call).await {
            return Verdict::Refuse(refusal);
        }
        if let Some(refusal) = images::refusal(self, call).await {
            return Verdict::Refuse(refusal);
        }
        if let Some(verdict) = ipv6::admit(self, call).await {
            return verdict;
        }
        match dependencies::refusal(self, call).await {
            Some(refusal) => Verdict::Refuse(refusal),
            None => {
                dhcp_options::keep_set_of_deleted_vpc(self, call).await;
                group_deletion::begin(self, call)
                    .await
                    .unwrap_or(Verdict::Forward)
            }
        }
    }

    /// Learns from a successful answer and rewrites it the way AWS would have
    /// answered at this moment. `replayed`: the answer is an earlier one repeated.
    pub async fn observe(&self, call: &Call, body: &str, replayed: bool) -> String {
        let Some(mut doc) = Document::parse(body) else {
            return body.to_string();
        };
        let key = call.key();
        // what a create or an update gives a group is known before the members
        // it launched are learned: they launch by its policy
        mixed::learn(&mut self.state().world, call);
        if call.service == "autoscaling"
            || key == "ec2:DescribeInstances"
            || key == "elasticloadbalancing:DescribeTargetHealth"
        {
            instances::sync_groups(self).await;
        }
        if key == "elasticloadbalancing:DescribeTargetHealth" {
            instances::know_target_group(self, call).await;
        }
        if key == "ec2:RunInstances" && !replayed {
            let launched = instances::launched(&doc.root);
            instances::mount_image_roots(self, launched.clone()).await;
            // an interface the launch attaches keeps the addresses it has
            if call
                .list_of("NetworkInterface", "NetworkInterfaceId")
                .is_empty()
            {
                ipv6::assign_at_launch(self, launched).await;
            }
        }
        // before the lock: the ACL rules it adds are moto calls
        ipv6::learn(self, call, &doc.root).await;
        let now = Instant::now();
        let mut state = self.state();
        let state = &mut *state;
        state.recent.learn(call, &doc.root, now);
        // before the listing lag, which leaves the young ones out
        regional_nat::merge(&state.world, call, &mut doc.root, now);
        if let Some(lag) = state.listing_lag {
            state.recent.hide_young(call, &mut doc.root, lag, now);
        }
        if !replayed {
            idempotency::remember(&mut state.client_tokens, call, body);
        }
        nat::learn(
            &mut state.world,
            state.clock,
            call,
            &doc.root,
            now,
            state.nat_failure.as_ref(),
        );
        load_balancer::learn(&mut state.world, state.clock, call, &doc.root, body, now);
        instances::learn(
            &mut state.world,
            &mut state.rng,
            state.clock,
            call,
            &doc.root,
            now,
        );
        refresh::learn(&mut state.world, call);
        regional_nat::learn(&mut state.world, call);
        images::learn(&mut state.world, call, &doc.root);
        images::rewrite(&state.world, call, &mut doc.root);
        nat::rewrite(&state.world, call, &mut doc.root, now);
        regional_nat::rewrite(&state.world, call, &mut doc.root, now);
        instance_connect::rewrite(&state.world, call, &mut doc.root, now);
        load_balancer::rewrite(&state.world, call, &mut doc.root, now);
        propagation::rewrite(&state.world, call, &mut doc.root);
        ipv6::rewrite(&state.world, call, &mut doc.root, now);
        instances::rewrite(&mut state.world, state.clock, call, &mut doc.root, now);
        // after the instances' rewrite, which sets the group's template version
        // during a refresh: a group with a policy reports it in that
        // template's place
        mixed::rewrite(&state.world, call, &mut doc.root);
        group_deletion::rewrite(&state.world, call, &mut doc.root);
        doc.render()
    }

    /// The region's VPC quota, when one is set, enforced on CreateVpc.
    async fn vpc_quota(&self, call: &Call) -> Option<Refusal> {
        let quota = self.state().vpc_quota?;
        if call.key() != "ec2:CreateVpc" {
            return None;
        }
        let held = self
            .api
            .ec2
            .describe_vpcs()
            .send()
            .await
            .map(|out| out.vpcs().len())
            .unwrap_or(0);
        (held >= quota).then(|| {
            Refusal::new(
                400,
                "VpcLimitExceeded",
                "The maximum number of VPCs has been reached.",
            )
        })
    }

    /// The account's Elastic IP quota, when one is set: reported by
    /// DescribeAccountAttributes, enforced on AllocateAddress.
    async fn address_quota(&self, call: &Call) -> Option<Verdict> {
        let quota = self.state().address_quota?;
        match call.key().as_str() {
            "ec2:DescribeAccountAttributes" => Some(Verdict::Answer(format!(
                "<DescribeAccountAttributesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>model</requestId><accountAttributeSet><item><attributeName>vpc-max-elastic-ips</attributeName><attributeValueSet><item><attributeValue>{quota}</attributeValue></item></attributeValueSet></item><item><attributeName>max-elastic-ips</attributeName><attributeValueSet><item><attributeValue>{quota}</attributeValue></item></attributeValueSet></item></accountAttributeSet></DescribeAccountAttributesResponse>"
            ))),
            "ec2:AllocateAddress" => {
                let held = self
                    .api
                    .ec2
                    .describe_addresses()
                    .send()
                    .await
                    .map(|out| out.addresses().len())
                    .unwrap_or(0);
                (held >= quota).then(|| {
                    Verdict::Refuse(Refusal::new(
                        400,
                        "AddressLimitExceeded",
                        "The maximum number of addresses has been reached.",
                    ))
                })
            }
            _ => None,
        }
    }

    /// AWS's answer to a launch in the zone without capacity.
    async fn no_capacity(&self, call: &Call) -> Option<Refusal> {
        if call.key() != "ec2:RunInstances" {
            return None;
        }
        let short = self.state().no_capacity_zone.clone()?;
        let zone = match call.param("Placement.AvailabilityZone") {
            Some(zone) => zone.to_string(),
            None => {
                let subnet = call
                    .param("SubnetId")
                    .or_else(|| call.param("NetworkInterface.1.SubnetId"))?;
                let out = self
                    .api
                    .ec2
                    .describe_subnets()
                    .subnet_ids(subnet)
                    .send()
                    .await
                    .ok()?;
                out.subnets().first()?.availability_zone()?.to_string()
            }
        };
        let instance_type = call.param("InstanceType").unwrap_or("m1.small");
        (zone == short).then(|| {
            Refusal::new(
                500,
                "InsufficientInstanceCapacity",
                &format!("We currently do not have sufficient {instance_type} capacity in the Availability Zone you requested ({zone}). Our system will be working on provisioning additional capacity. You can currently get {instance_type} capacity by not specifying an Availability Zone in your request or choosing a different Availability Zone."),
            )
        })
    }

    /// moto's view of Auto Scaling Group `name`, if it exists.
    async fn group(&self, name: &str) -> Option<aws_sdk_autoscaling::types::AutoScalingGroup> {
        let out = self
            .api
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .ok()?;
        out.auto_scaling_groups().first().cloned()
    }

    /// Applies what AWS does on its own once a moment has passed: frees the
    /// Elastic IP of a NAT gateway that reached `deleted`, removes the route
    /// table of a regional one, moves instance refreshes on (the next batch of
    /// replacements, success, failure, rollback).
    async fn advance(&self) {
        let now = Instant::now();
        let tables = regional_nat::due_route_tables(&mut self.state().world, now);
        for table in tables {
            let _ = self
                .api
                .ec2
                .delete_route_table()
                .route_table_id(table)
                .send()
                .await;
        }
        let addresses = nat::due_releases(&mut self.state().world, now);
        for ip in addresses {
            let _ = self
                .api
                .ec2
                .disassociate_address()
                .public_ip(ip)
                .send()
                .await;
        }
        group_deletion::finish(self).await;
        refresh::advance(self).await;
    }
}
