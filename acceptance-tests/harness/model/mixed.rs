//! Auto Scaling Groups with a mixed instances policy, and capacity
//! rebalancing, which moto 5.2.1 gets wrong in ways a caller notices:
//! UpdateAutoScalingGroup without a policy wipes the group's (AWS keeps it:
//! what an update leaves out is unchanged) and ignores `CapacityRebalance`;
//! a policy's `InstancesDistribution` is not filled with AWS's defaults when
//! given in part or by an update; a group switched to a policy reports its old
//! launch template beside it; members run the template's instance type, not
//! the overrides'; and a fractional On-Demand share loses instances (desired
//! 3 at 50% On-Demand launches 2).
//!
//! So the model keeps each group's policy and `CapacityRebalance` in
//! [`World::groups`] and hands moto the policy's launch template alone (a
//! [`Verdict::ForwardAs`]), which moto launches right: the desired capacity,
//! from that version. An update merges what it gives into the policy the group
//! has (overrides are replaced only by new ones, `SpotMaxPrice` is removed by
//! an empty one), a create starts from AWS's defaults. DescribeAutoScalingGroups
//! reports the policy as AWS fills it (`prioritized` On-Demand, base 0, 100%
//! On-Demand, `lowest-price` Spot in 2 pools) in the template's place, and
//! `CapacityRebalance` as last set. A new member runs the first override's type
//! (the order `prioritized` On-Demand capacity follows; the model launches Spot
//! capacity from it too) and is Spot once the On-Demand share of the desired
//! capacity is filled, the share rounded up in favour of On-Demand. Policies
//! AWS refuses are refused with its code (and its words where known).
//! `WeightedCapacity` is echoed but not applied; `InstanceRequirements` are
//! not modelled.
//!
//! moto also drops a group's `DefaultCooldown`, `MaxInstanceLifetime`,
//! `DefaultInstanceWarmup`, `InstanceMaintenancePolicy` and
//! `TerminationPolicies` (it lists 300, none, none, none and `Default`
//! whatever was set): the model keeps them with the policy and lists them as
//! given (a lifetime of 0, a warmup of -1 and maintenance bounds of -1 clear
//! theirs).
//!
//! An instance refresh may name a policy as its desired configuration (see
//! [`super::refresh`]): it is read here, from AWS's defaults, and the group
//! takes it when the refresh succeeds.

use std::collections::BTreeMap;

use super::world::{TemplateRef, World};
use super::xml::{escape, Document, Element};
use super::{Call, Refusal, Verdict};

/// AWS's limit of overrides (instance types) in one policy.
const MAX_OVERRIDES: usize = 40;
const ON_DEMAND_STRATEGIES: [&str; 2] = ["prioritized", "lowest-price"];
const SPOT_STRATEGIES: [&str; 4] = [
    "lowest-price",
    "capacity-optimized",
    "capacity-optimized-prioritized",
    "price-capacity-optimized",
];
/// The Spot strategy whose pools `SpotInstancePools` counts (2 unless given).
const LOWEST_PRICE: &str = "lowest-price";
const DEFAULT_SPOT_POOLS: i64 = 2;

/// What AWS keeps of a group that moto does not.
#[derive(Clone, Debug, Default)]
pub struct GroupSettings {
    pub policy: Option<MixedPolicy>,
    pub capacity_rebalance: bool,
    /// the settings of [`IGNORED_BY_MOTO`] a create or update gave, as given
    pub kept: BTreeMap<&'static str, Vec<String>>,
}

/// Settings of a group that moto accepts in a create or an update and then
/// drops (it lists its own defaults), where AWS keeps and lists them: the
/// scalars, then the list of strings.
const IGNORED_BY_MOTO: [&str; 5] = [
    "DefaultCooldown",
    "MaxInstanceLifetime",
    "DefaultInstanceWarmup",
    "InstanceMaintenancePolicy.MinHealthyPercentage",
    "InstanceMaintenancePolicy.MaxHealthyPercentage",
];
const TERMINATION_POLICIES: &str = "TerminationPolicies";

/// The settings of [`IGNORED_BY_MOTO`] and the termination policies a call gives.
fn ignored_by_moto(call: &Call) -> Vec<(&'static str, Vec<String>)> {
    let scalars = IGNORED_BY_MOTO
        .into_iter()
        .filter_map(|name| Some((name, vec![call.param(name)?.to_string()])));
    let policies = call.list(&format!("{TERMINATION_POLICIES}.member"));
    let policies = (!policies.is_empty()).then_some((TERMINATION_POLICIES, policies));
    scalars.chain(policies).collect()
}

/// How AWS lists a setting it was given: a lifetime of 0 and a warmup of -1
/// clear theirs, so the group lists none.
fn listed_as_given(name: &str, given: &[String]) -> bool {
    let cleared = match name {
        "MaxInstanceLifetime" => "0",
        "DefaultInstanceWarmup"
        | "InstanceMaintenancePolicy.MinHealthyPercentage"
        | "InstanceMaintenancePolicy.MaxHealthyPercentage" => "-1",
        _ => return true,
    };
    given.first().map(String::as_str) != Some(cleared)
}

/// A mixed instances policy as AWS holds it: every field of the distribution
/// filled.
#[derive(Clone, Debug, PartialEq)]
pub struct MixedPolicy {
    /// the launch template as named (ID or name) with its version
    pub template: TemplateRef,
    /// the overrides in priority order: instance type, and `WeightedCapacity` if given
    pub overrides: Vec<(String, Option<String>)>,
    pub distribution: Distribution,
}

/// An `InstancesDistribution`.
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    pub on_demand_allocation_strategy: String,
    pub on_demand_base_capacity: i64,
    pub on_demand_percentage_above_base_capacity: i64,
    pub spot_allocation_strategy: String,
    /// only with the `lowest-price` Spot strategy
    pub spot_instance_pools: Option<i64>,
    pub spot_max_price: Option<String>,
}

impl Default for Distribution {
    /// AWS's defaults for a group without `InstanceRequirements`.
    fn default() -> Distribution {
        Distribution {
            on_demand_allocation_strategy: ON_DEMAND_STRATEGIES[0].into(),
            on_demand_base_capacity: 0,
            on_demand_percentage_above_base_capacity: 100,
            spot_allocation_strategy: LOWEST_PRICE.into(),
            spot_instance_pools: Some(DEFAULT_SPOT_POOLS),
            spot_max_price: None,
        }
    }
}

fn invalid(message: &str) -> Refusal {
    Refusal::new(400, "ValidationError", message)
}

/// AWS's answer to a launch template named by both its ID and its name, or by neither.
fn unnamed_template() -> Refusal {
    invalid("Valid requests must contain either launchTemplateId or LaunchTemplateName")
}

/// Whether the call gives a structure under `prefix` (any `prefix.*` parameter).
fn gives(call: &Call, prefix: &str) -> bool {
    let dotted = format!("{prefix}.");
    call.params
        .iter()
        .any(|(name, _)| name.starts_with(&dotted))
}

/// The highest member number of the list `prefix` (`prefix.N.*`).
fn members(call: &Call, prefix: &str) -> u32 {
    let dotted = format!("{prefix}.");
    call.params
        .iter()
        .filter_map(|(name, _)| {
            let rest = name.strip_prefix(&dotted)?;
            rest.split('.').next()?.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// The launch template a policy under `prefix` names: by its ID or by its
/// name, as AWS requires; an update may leave out the one it has.
fn template_given(
    call: &Call,
    prefix: &str,
    current: Option<&MixedPolicy>,
) -> Result<TemplateRef, Refusal> {
    let spec = format!("{prefix}.LaunchTemplate.LaunchTemplateSpecification");
    if !gives(call, &spec) {
        return Ok(current.ok_or_else(unnamed_template)?.template.clone());
    }
    let part = |name: &str| {
        call.param(&format!("{spec}.{name}"))
            .unwrap_or_default()
            .to_string()
    };
    let (id, name) = (part("LaunchTemplateId"), part("LaunchTemplateName"));
    if id.is_empty() == name.is_empty() {
        return Err(unnamed_template());
    }
    Ok((id, name, part("Version")))
}

/// The overrides of a policy under `prefix`, at most AWS's 40; an update that
/// gives none keeps the ones the group has (AWS replaces overrides but never
/// drops them).
fn overrides_given(
    call: &Call,
    prefix: &str,
    current: Option<&MixedPolicy>,
) -> Result<Vec<(String, Option<String>)>, Refusal> {
    let list = format!("{prefix}.LaunchTemplate.Overrides.member");
    let count = members(call, &list);
    if count == 0 {
        return Ok(current.map(|c| c.overrides.clone()).unwrap_or_default());
    }
    let overrides: Vec<(String, Option<String>)> = (1..=count)
        .filter_map(|n| {
            let instance_type = call.param(&format!("{list}.{n}.InstanceType"))?;
            let weight = call.param(&format!("{list}.{n}.WeightedCapacity"));
            Some((instance_type.to_string(), weight.map(str::to_string)))
        })
        .collect();
    if overrides.len() > MAX_OVERRIDES {
        return Err(invalid(&format!(
            "The number of instance types in the overrides ({}) exceeds the maximum of {MAX_OVERRIDES}.",
            overrides.len()
        )));
    }
    Ok(overrides)
}

impl MixedPolicy {
    /// The policy a call gives under `prefix` (`MixedInstancesPolicy`, or a
    /// refresh's `DesiredConfiguration.MixedInstancesPolicy`), merged into
    /// `current` (an update) or into AWS's defaults; refused as AWS refuses it.
    /// `None` when the call gives none.
    fn given(
        call: &Call,
        prefix: &str,
        current: Option<&MixedPolicy>,
    ) -> Result<Option<MixedPolicy>, Refusal> {
        if !gives(call, prefix) {
            return Ok(None);
        }
        let distribution = Distribution::given(
            call,
            &format!("{prefix}.InstancesDistribution"),
            current.map(|c| &c.distribution),
        )?;
        Ok(Some(MixedPolicy {
            template: template_given(call, prefix, current)?,
            overrides: overrides_given(call, prefix, current)?,
            distribution,
        }))
    }

    /// The policy as DescribeAutoScalingGroups and DescribeInstanceRefreshes
    /// report it, naming the template as `template` does.
    fn xml(&self, template: &TemplateRef) -> String {
        let tag = |name: &str, value: &str| format!("<{name}>{}</{name}>", escape(value));
        let (id, name, version) = template;
        let spec: String = [
            ("LaunchTemplateId", id),
            ("LaunchTemplateName", name),
            ("Version", version),
        ]
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| tag(name, value))
        .collect();
        let overrides: String = self
            .overrides
            .iter()
            .map(|(instance_type, weight)| {
                let weight = weight
                    .as_deref()
                    .map(|w| tag("WeightedCapacity", w))
                    .unwrap_or_default();
                format!(
                    "<member>{}{weight}</member>",
                    tag("InstanceType", instance_type)
                )
            })
            .collect();
        let d = &self.distribution;
        let optional =
            |name: &str, value: Option<String>| value.map(|v| tag(name, &v)).unwrap_or_default();
        format!(
            "<MixedInstancesPolicy><LaunchTemplate><LaunchTemplateSpecification>{spec}</LaunchTemplateSpecification><Overrides>{overrides}</Overrides></LaunchTemplate><InstancesDistribution>{}{}{}{}{}{}</InstancesDistribution></MixedInstancesPolicy>",
            tag("OnDemandAllocationStrategy", &d.on_demand_allocation_strategy),
            tag("OnDemandBaseCapacity", &d.on_demand_base_capacity.to_string()),
            tag(
                "OnDemandPercentageAboveBaseCapacity",
                &d.on_demand_percentage_above_base_capacity.to_string()
            ),
            tag("SpotAllocationStrategy", &d.spot_allocation_strategy),
            optional("SpotInstancePools", d.spot_instance_pools.map(|p| p.to_string())),
            optional("SpotMaxPrice", d.spot_max_price.clone()),
        )
    }

    /// The policy as a refresh's desired configuration echoes it: as given.
    pub fn desired_xml(&self) -> String {
        self.xml(&self.template)
    }
}

impl Distribution {
    /// The distribution a call gives under `prefix`, merged into `current` or
    /// into AWS's defaults, with AWS's ranges and allowed values.
    fn given(
        call: &Call,
        prefix: &str,
        current: Option<&Distribution>,
    ) -> Result<Distribution, Refusal> {
        let mut distribution = current.cloned().unwrap_or_default();
        let given = |name: &str| call.param(&format!("{prefix}.{name}"));
        let number = |name: &str| -> Result<Option<i64>, Refusal> {
            given(name)
                .map(|text| {
                    text.parse()
                        .map_err(|_| invalid(&format!("Invalid value '{text}' for {name}.")))
                })
                .transpose()
        };
        if let Some(strategy) = given("OnDemandAllocationStrategy") {
            distribution.on_demand_allocation_strategy = strategy.to_string();
        }
        if let Some(base) = number("OnDemandBaseCapacity")? {
            distribution.on_demand_base_capacity = base;
        }
        if let Some(percentage) = number("OnDemandPercentageAboveBaseCapacity")? {
            distribution.on_demand_percentage_above_base_capacity = percentage;
        }
        if let Some(strategy) = given("SpotAllocationStrategy") {
            distribution.spot_allocation_strategy = strategy.to_string();
        }
        let pools = number("SpotInstancePools")?;
        let lowest_price = distribution.spot_allocation_strategy == LOWEST_PRICE;
        if pools.is_some() && !lowest_price {
            return Err(invalid(
                "SpotInstancePools option is only available with the lowest-price allocation strategy.",
            ));
        }
        distribution.spot_instance_pools = match pools {
            Some(pools) => Some(pools),
            None if lowest_price => distribution
                .spot_instance_pools
                .or(Some(DEFAULT_SPOT_POOLS)),
            None => None,
        };
        if let Some(price) = given("SpotMaxPrice") {
            // an empty price removes the one set before
            distribution.spot_max_price = (!price.is_empty()).then(|| price.to_string());
        }
        distribution.check()?;
        Ok(distribution)
    }

    /// AWS's ranges and allowed values.
    fn check(&self) -> Result<(), Refusal> {
        if !ON_DEMAND_STRATEGIES.contains(&self.on_demand_allocation_strategy.as_str()) {
            return Err(invalid(&format!(
                "The specified OnDemandAllocationStrategy is not valid. Valid options are [{}].",
                ON_DEMAND_STRATEGIES.join(", ")
            )));
        }
        if !SPOT_STRATEGIES.contains(&self.spot_allocation_strategy.as_str()) {
            return Err(invalid(&format!(
                "The specified SpotAllocationStrategy is not valid. Valid options are [{}].",
                SPOT_STRATEGIES.join(", ")
            )));
        }
        if self.on_demand_base_capacity < 0 {
            return Err(invalid("OnDemandBaseCapacity must be 0 or more."));
        }
        if !(0..=100).contains(&self.on_demand_percentage_above_base_capacity) {
            return Err(invalid(
                "OnDemandPercentageAboveBaseCapacity must be between 0 and 100.",
            ));
        }
        if self
            .spot_instance_pools
            .is_some_and(|p| !(1..=20).contains(&p))
        {
            return Err(invalid("SpotInstancePools must be between 1 and 20."));
        }
        Ok(())
    }

    /// How many of `desired` instances are On-Demand: the base first, then the
    /// percentage of the rest, rounded up in favour of On-Demand.
    fn on_demand_share(&self, desired: usize) -> usize {
        let base = usize::try_from(self.on_demand_base_capacity).unwrap_or(0);
        if desired <= base {
            return desired;
        }
        let percentage =
            usize::try_from(self.on_demand_percentage_above_base_capacity).unwrap_or(0);
        base + ((desired - base) * percentage).div_ceil(100)
    }
}

const POLICY: &str = "MixedInstancesPolicy";

/// The policy an update or a create gives, merged into the group's.
fn given_for_group(world: &World, call: &Call) -> Result<Option<MixedPolicy>, Refusal> {
    let group = call.param("AutoScalingGroupName").unwrap_or_default();
    let current = (call.action == "UpdateAutoScalingGroup")
        .then(|| world.groups.get(group)?.policy.as_ref())
        .flatten();
    MixedPolicy::given(call, POLICY, current)
}

/// A create or an update that gives a policy, refused as AWS refuses it, or
/// forwarded with the policy's launch template alone in its place (the model
/// keeps the policy; see [`learn`]).
pub fn admit(world: &World, call: &Call) -> Option<Verdict> {
    let key = call.key();
    let create = key == "autoscaling:CreateAutoScalingGroup";
    if !(create || key == "autoscaling:UpdateAutoScalingGroup") || !gives(call, POLICY) {
        return None;
    }
    if gives(call, "LaunchTemplate") || call.param("LaunchConfigurationName").is_some() {
        return Some(Verdict::Refuse(invalid(if create {
            "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter."
        } else {
            "Valid requests must contain either LaunchTemplate, LaunchConfigurationName or MixedInstancesPolicy parameter."
        })));
    }
    if let Err(refusal) = given_for_group(world, call) {
        return Some(Verdict::Refuse(refusal));
    }
    let spec = format!("{POLICY}.LaunchTemplate.LaunchTemplateSpecification.");
    let dotted = format!("{POLICY}.");
    let mut changed = call.clone();
    changed.params = call
        .params
        .iter()
        .filter_map(|(name, value)| {
            if let Some(field) = name.strip_prefix(&spec) {
                // an update without a template keeps the one moto has
                Some((format!("LaunchTemplate.{field}"), value.clone()))
            } else {
                (!name.starts_with(&dotted)).then(|| (name.clone(), value.clone()))
            }
        })
        .collect();
    Some(Verdict::ForwardAs(changed))
}

/// The policy a refresh's desired configuration gives, from AWS's defaults
/// ("for any mixed instances policy parameters not provided in the desired
/// configuration, Amazon EC2 Auto Scaling resets the parameter value to a
/// default value"); refused as AWS refuses it.
pub fn desired(call: &Call) -> Result<Option<MixedPolicy>, Refusal> {
    MixedPolicy::given(call, "DesiredConfiguration.MixedInstancesPolicy", None)
}

/// Learns what a create or an update that moto accepted gives the group, and
/// forgets a deleted group.
pub fn learn(world: &mut World, call: &Call) {
    let group = call.param("AutoScalingGroupName").unwrap_or_default();
    match call.action.as_str() {
        "CreateAutoScalingGroup" | "UpdateAutoScalingGroup" if call.service == "autoscaling" => {
            // admitted, so it reads as it did then
            let Ok(policy) = given_for_group(world, call) else {
                return;
            };
            let rebalance = call.param("CapacityRebalance");
            let kept = ignored_by_moto(call);
            let tracked = call.action == "CreateAutoScalingGroup"
                || world.groups.contains_key(group)
                || policy.is_some()
                || rebalance.is_some()
                || !kept.is_empty();
            if !tracked {
                // a group made past the model: moto's word stands
                return;
            }
            let settings = world.groups.entry(group.to_string()).or_default();
            match policy {
                Some(policy) => settings.policy = Some(policy),
                // a group given a template alone leaves its policy
                None if gives(call, "LaunchTemplate") => settings.policy = None,
                None => {}
            }
            if let Some(rebalance) = rebalance {
                settings.capacity_rebalance = rebalance == "true";
            }
            settings.kept.extend(kept);
        }
        "DeleteAutoScalingGroup" if call.service == "autoscaling" => {
            world.groups.remove(group);
        }
        _ => {}
    }
}

/// The group element's launch template as moto reports it (the policy's
/// template, which the model handed moto), to name the policy's template by
/// both its ID and its name as AWS does.
fn named_as_moto_does(policy: &MixedPolicy, group: &Element) -> TemplateRef {
    let (id, name, version) = policy.template.clone();
    let moto = |field: &str| {
        group
            .path_text(&["LaunchTemplate", field])
            .unwrap_or_default()
            .to_string()
    };
    let (moto_id, moto_name) = (moto("LaunchTemplateId"), moto("LaunchTemplateName"));
    if (!id.is_empty() && id == moto_id) || (!name.is_empty() && name == moto_name) {
        (moto_id, moto_name, version)
    } else {
        (id, name, version)
    }
}

/// DescribeAutoScalingGroups as AWS answers it: a group with a policy reports
/// it in its template's place, and every group its `CapacityRebalance` and
/// the settings moto drops.
pub fn rewrite(world: &World, call: &Call, answer: &mut Element) {
    if call.key() != "autoscaling:DescribeAutoScalingGroups" {
        return;
    }
    answer.for_each_with_child("AutoScalingGroupName", &mut |name, group| {
        let Some(settings) = world.groups.get(name) else {
            return;
        };
        group.set_path(
            &["CapacityRebalance"],
            if settings.capacity_rebalance {
                "true"
            } else {
                "false"
            },
        );
        for (name, given) in &settings.kept {
            // a nested setting (`InstanceMaintenancePolicy.MinHealthyPercentage`)
            // is listed in its structure, which goes when it holds nothing
            let path: Vec<&str> = name.split('.').collect();
            match *name {
                TERMINATION_POLICIES => group.set_members(name, given),
                _ if listed_as_given(name, given) => group.set_path(&path, &given[0]),
                _ => match path.as_slice() {
                    [structure, field] => {
                        if let Some(parent) =
                            group.children.iter_mut().find(|c| c.name == *structure)
                        {
                            parent.remove_child(field);
                        }
                        if group
                            .child(structure)
                            .is_some_and(|c| c.children.is_empty())
                        {
                            group.remove_child(structure);
                        }
                    }
                    _ => group.remove_child(name),
                },
            }
        }
        let Some(policy) = &settings.policy else {
            return;
        };
        let template = named_as_moto_does(policy, group);
        let Some(element) = Document::parse(&policy.xml(&template)).map(|d| d.root) else {
            return;
        };
        let at = group
            .children
            .iter()
            .position(|c| c.name == "LaunchTemplate" || c.name == POLICY);
        group
            .children
            .retain(|c| c.name != "LaunchTemplate" && c.name != POLICY);
        let at = at.unwrap_or(group.children.len()).min(group.children.len());
        group.children.insert(at, element);
    });
}

/// The policy `group` launches from now: while a refresh replaces its
/// instances towards a desired configuration (from `InProgress`, when moto
/// starts launching from its template), that configuration's, none for a
/// template alone; otherwise the group's own.
fn launching<'a>(world: &'a World, group: &str) -> Option<&'a MixedPolicy> {
    use super::world::Phase;
    let own = world.groups.get(group).and_then(|g| g.policy.as_ref());
    let towards_desired = world
        .refreshes
        .get(group)
        .and_then(|list| list.iter().rev().find(|r| r.active()))
        .filter(|r| matches!(r.phase, Phase::InProgress | Phase::Cancelling(_)))
        .filter(|r| r.desired_template.is_some());
    match towards_desired {
        Some(refresh) => refresh.desired_policy.as_ref(),
        None => own,
    }
}

/// How AWS launches a new member of `group`, whose desired capacity is
/// `desired`, where moto launched one of `launched` type: with a policy, of
/// the first override's type, and Spot once the On-Demand share is filled by
/// the members that are not on their way out (the caller learns each new
/// member before deciding the next).
pub fn launch_as(world: &World, group: &str, desired: usize, launched: &str) -> (String, bool) {
    let Some(policy) = launching(world, group) else {
        return (launched.to_string(), false);
    };
    let instance_type = policy
        .overrides
        .first()
        .map_or(launched, |(first, _)| first.as_str());
    let on_demand = world
        .instances
        .values()
        .filter(|i| i.group.as_deref() == Some(group) && i.terminated_at.is_none() && !i.spot)
        .count();
    let spot = on_demand >= policy.distribution.on_demand_share(desired);
    (instance_type.to_string(), spot)
}

/// The override types a desired configuration's policy allows: an instance of
/// another type does not match it (skip matching replaces it).
pub fn allowed_types(policy: &MixedPolicy) -> Vec<&str> {
    policy.overrides.iter().map(|(t, _)| t.as_str()).collect()
}
