//! IPv6 dual-stack as AWS runs it, where moto 5.2.1 skips or gets it wrong:
//!
//! - a VPC's IPv6 block is `associating` for a few seconds (moto: `associated`
//!   at once), `disassociating` for a few more once disassociated; until it is
//!   associated no subnet block can come from it and the route tables have no
//!   local IPv6 route;
//! - a subnet's block is `associating`, then `associated`; moto renders its
//!   state as the Python text `{'State': 'associated'}`, which the SDK reads
//!   as an unknown state;
//! - a subnet block must be a /64 inside an associated block of the subnet's
//!   VPC, overlap no other subnet's block, and be the subnet's only one (moto
//!   checks none of it);
//! - associating a block adds rule 101 (all IPv6 allowed) to each direction of
//!   the VPC's default network ACL whose rules were not modified, next to the
//!   `*` IPv6 deny rule (32768);
//! - AssignIpv6AddressOnCreation needs a subnet block; the subnet block is not
//!   disassociated while it is on, nor the VPC block while a subnet has one;
//! - DescribeEgressOnlyInternetGateways takes only tag filters;
//! - a dualstack load balancer needs an associated IPv6 block in each subnet;
//! - an instance launched into a subnet whose `AssignIpv6AddressOnCreation`
//!   is true gets one IPv6 address from the subnet's block on its primary
//!   network interface (moto: none). The model assigns it with moto's
//!   AssignIpv6Addresses the first time it sees the instance, so every later
//!   answer shows it and UnassignIpv6Addresses removes it as on AWS.
//!
//! (A VPC with an egress-only internet gateway is not deleted: see
//! [`super::dependencies`].)

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::Ipv6Addr;
use std::time::Instant;

use aws_sdk_ec2::types::{Filter, RuleAction, Subnet};

use super::clock::{Clock, IPV6_ASSOCIATING, IPV6_DISASSOCIATING};
use super::world::World;
use super::xml::Element;
use super::{Call, Model, Refusal, Verdict};

/// The association states the model times, by association ID (moto's own
/// states are kept for the others).
#[derive(Debug, Default)]
pub struct Ipv6 {
    vpc_blocks: HashMap<String, Association>,
    subnet_blocks: HashMap<String, Association>,
    /// instances whose launch address was decided (once each, even when two
    /// looks see a group's new member at the same time)
    launches_seen: HashSet<String>,
    /// the address each instance got at launch, by its primary interface
    launch_addresses: HashMap<String, String>,
}

/// `associating` until `associated_at`; once disassociated `disassociating`
/// until `disassociated_at`, then `disassociated`.
#[derive(Clone, Debug)]
struct Association {
    block: String,
    associated_at: Instant,
    disassociated_at: Option<Instant>,
}

impl Association {
    fn state(&self, now: Instant) -> &'static str {
        match self.disassociated_at {
            Some(at) if now < at => "disassociating",
            Some(_) => "disassociated",
            None if now < self.associated_at => "associating",
            None => "associated",
        }
    }
}

impl Ipv6 {
    /// Whether the association `id` is usable now (moto's word stands for one
    /// the model does not time).
    fn associated(map: &HashMap<String, Association>, id: &str, now: Instant) -> bool {
        map.get(id).is_none_or(|a| a.state(now) == "associated")
    }
}

/// A CIDR as (network, prefix length).
fn parse(cidr: &str) -> Option<(u128, u8)> {
    let (address, length) = cidr.split_once('/')?;
    let address: Ipv6Addr = address.parse().ok()?;
    let length: u8 = length.parse().ok()?;
    (length <= 128).then_some((u128::from(address), length))
}

fn masked(address: u128, length: u8) -> u128 {
    if length == 0 {
        0
    } else {
        address & (u128::MAX << (128 - u32::from(length)))
    }
}

fn contains(outer: (u128, u8), inner: (u128, u8)) -> bool {
    inner.1 >= outer.1 && masked(inner.0, outer.1) == masked(outer.0, outer.1)
}

fn overlap(a: (u128, u8), b: (u128, u8)) -> bool {
    contains(a, b) || contains(b, a)
}

/// moto's state text: `associated`, or the Python rendering of a dict
/// holding it (`{'State': 'associated'}`, escaped or not).
fn plain_state(text: &str) -> &str {
    [
        "disassociating",
        "disassociated",
        "associating",
        "associated",
        "failing",
        "failed",
    ]
    .into_iter()
    .find(|state| text.contains(state))
    .unwrap_or(text)
}

/// The model's verdict on a call, if the IPv6 rules decide it.
pub async fn admit(model: &Model, call: &Call) -> Option<Verdict> {
    if call.key() == "ec2:AssignIpv6Addresses" {
        return from_the_subnet_block(model, call).await;
    }
    let refusal = match call.key().as_str() {
        "ec2:AssociateSubnetCidrBlock" => {
            let subnet = call.param("SubnetId")?;
            let block = call.param("Ipv6CidrBlock")?;
            let found = subnet_by(model, "subnet-id", subnet).await?;
            if !found.ipv6_cidr_block_association_set().is_empty() {
                // "You can only associate a single IPv6 CIDR block with your subnet"
                // (AssociateSubnetCidrBlock's reference); AWS's wording is not published
                return Some(Verdict::Refuse(Refusal::new(
                    400,
                    "InvalidParameterValue",
                    &format!(
                        "The subnet {subnet} already has an IPv6 CIDR block associated with it."
                    ),
                )));
            }
            subnet_block_refusal(model, found.vpc_id()?, subnet, block).await
        }
        "ec2:CreateSubnet" => {
            let block = call.param("Ipv6CidrBlock")?;
            subnet_block_refusal(model, call.param("VpcId")?, "", block).await
        }
        "ec2:ModifySubnetAttribute" => {
            if call.param("AssignIpv6AddressOnCreation.Value") != Some("true") {
                return None;
            }
            let subnet = call.param("SubnetId")?;
            let found = subnet_by(model, "subnet-id", subnet).await?;
            found.ipv6_cidr_block_association_set().is_empty().then(|| {
                Refusal::new(
                    400,
                    "InvalidParameterValue",
                    &format!("Invalid value 'true' for assign-ipv6-address-on-creation. Cannot set assign-ipv6-address-on-creation to true unless the subnet ({subnet}) has an IPv6 CIDR block associated with it."),
                )
            })
        }
        "ec2:DisassociateSubnetCidrBlock" => {
            let id = call.param("AssociationId")?;
            // moto filters subnets by no association ID
            let all = model.api.ec2.describe_subnets().send().await.ok()?;
            let found = all
                .subnets()
                .iter()
                .find(|s| {
                    s.ipv6_cidr_block_association_set()
                        .iter()
                        .any(|a| a.association_id() == Some(id))
                })?
                .clone();
            (found.assign_ipv6_address_on_creation() == Some(true)).then(|| {
                Refusal::new(
                    400,
                    "InvalidCidrBlock.InUse",
                    &format!("The subnet IPv6 CIDR block with association ID {id} may not be disassociated, because its subnet has assign-ipv6-address-on-creation set to true."),
                )
            })
        }
        "ec2:DisassociateVpcCidrBlock" => {
            vpc_block_in_use(model, call.param("AssociationId")?).await
        }
        "ec2:DescribeEgressOnlyInternetGateways" => {
            // the API reference lists `tag:<key>` and `tag-key` only
            call.list_of("Filter", "Name")
                .into_iter()
                .find(|name| name != "tag-key" && !name.starts_with("tag:"))
                .map(|name| {
                    Refusal::new(
                        400,
                        "InvalidParameterValue",
                        &format!("The filter '{name}' is invalid"),
                    )
                })
        }
        "elasticloadbalancing:CreateLoadBalancer" | "elasticloadbalancing:SetIpAddressType" => {
            if !call
                .param("IpAddressType")
                .is_some_and(|t| t.starts_with("dualstack"))
            {
                return None;
            }
            let subnets = balancer_subnets(model, call).await;
            let mut refusal = None;
            for subnet in subnets {
                if !has_associated_block(model, &subnet).await {
                    refusal = Some(Refusal::new(
                        400,
                        "ValidationError",
                        "You must specify subnets with an associated IPv6 CIDR block.",
                    ));
                    break;
                }
            }
            refusal
        }
        _ => None,
    };
    refusal.map(Verdict::Refuse)
}

/// The subnets a CreateLoadBalancer names, or those of the balancer a
/// SetIpAddressType names.
async fn balancer_subnets(model: &Model, call: &Call) -> Vec<String> {
    if call.action == "CreateLoadBalancer" {
        let mut subnets = call.list("Subnets.member");
        subnets.extend(call.list_of("SubnetMappings.member", "SubnetId"));
        return subnets;
    }
    let Some(arn) = call.param("LoadBalancerArn") else {
        return Vec::new();
    };
    let out = model
        .api
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await;
    out.ok()
        .and_then(|o| o.load_balancers().first().cloned())
        .map(|b| {
            b.availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `subnet` has an IPv6 block that finished associating.
async fn has_associated_block(model: &Model, subnet: &str) -> bool {
    let Some(found) = subnet_by(model, "subnet-id", subnet).await else {
        return false;
    };
    let now = Instant::now();
    let state = model.state();
    found
        .ipv6_cidr_block_association_set()
        .iter()
        .filter_map(|a| a.association_id())
        .any(|id| Ipv6::associated(&state.world.ipv6.subnet_blocks, id, now))
}

/// moto's subnet matching one filter. moto drops a subnet's association once
/// disassociated, so each association it lists is live.
/// AssignIpv6Addresses by count, put as the addresses AWS would pick: from
/// the interface's subnet's associated block. moto picks from the first block
/// the subnet ever had, also once that one was disassociated and another
/// associated.
async fn from_the_subnet_block(model: &Model, call: &Call) -> Option<Verdict> {
    let count: u32 = call.param("Ipv6AddressCount")?.parse().ok()?;
    let interface = call.param("NetworkInterfaceId")?;
    let out = model
        .api
        .ec2
        .describe_network_interfaces()
        .network_interface_ids(interface)
        .send()
        .await
        .ok()?;
    let subnet = out.network_interfaces().first()?.subnet_id()?.to_string();
    let found = subnet_by(model, "subnet-id", &subnet).await?;
    let block = found
        .ipv6_cidr_block_association_set()
        .iter()
        .find_map(|a| {
            // moto's own state text may be `{'State': 'associated'}`
            let state = a.ipv6_cidr_block_state()?.state()?.as_str().to_string();
            (state.contains("associated") && !state.contains("disassociat"))
                .then(|| a.ipv6_cidr_block().map(str::to_string))?
        })?;
    let network: std::net::Ipv6Addr = block.split_once('/')?.0.parse().ok()?;
    let mut changed = call.clone();
    changed
        .params
        .retain(|(name, _)| name != "Ipv6AddressCount");
    let mut state = model.state();
    for index in 1..=count {
        let host = u128::from(state.rng.next_u64() | 1);
        let address = std::net::Ipv6Addr::from(u128::from(network) | host);
        changed
            .params
            .push((format!("Ipv6Addresses.{index}"), address.to_string()));
    }
    Some(Verdict::ForwardAs(changed))
}

async fn subnet_by(model: &Model, filter: &str, value: &str) -> Option<Subnet> {
    let out = model
        .api
        .ec2
        .describe_subnets()
        .filters(Filter::builder().name(filter).values(value).build())
        .send()
        .await
        .ok()?;
    out.subnets().first().cloned()
}

/// Every subnet of `vpc`.
async fn vpc_subnets(model: &Model, vpc: &str) -> Vec<aws_sdk_ec2::types::Subnet> {
    let out = model
        .api
        .ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await;
    out.map(|o| o.subnets().to_vec()).unwrap_or_default()
}

/// Every subnet of `vpc` with its IPv6 blocks.
async fn vpc_subnet_blocks(model: &Model, vpc: &str) -> Vec<(String, String)> {
    let subnets = vpc_subnets(model, vpc).await;
    subnets
        .iter()
        .flat_map(|s| {
            s.ipv6_cidr_block_association_set().iter().filter_map(|a| {
                Some((s.subnet_id()?.to_string(), a.ipv6_cidr_block()?.to_string()))
            })
        })
        .collect()
}

/// Why AWS would refuse `block` for a subnet (`subnet`, "" for a new one) of `vpc`.
async fn subnet_block_refusal(
    model: &Model,
    vpc: &str,
    subnet: &str,
    block: &str,
) -> Option<Refusal> {
    let Some(wanted) = parse(block).filter(|(_, length)| *length == 64) else {
        return Some(Refusal::new(
            400,
            "InvalidParameterValue",
            &format!("invalid value for parameter ipv6-cidr-block: {block}"),
        ));
    };
    let out = model
        .api
        .ec2
        .describe_vpcs()
        .vpc_ids(vpc)
        .send()
        .await
        .ok()?;
    let usable: Vec<(u128, u8)> = {
        let now = Instant::now();
        let state = model.state();
        out.vpcs()
            .iter()
            .flat_map(|v| v.ipv6_cidr_block_association_set())
            .filter(|a| {
                a.ipv6_cidr_block_state()
                    .and_then(|s| s.state())
                    .is_some_and(|s| s.as_str() == "associated")
            })
            .filter(|a| {
                a.association_id()
                    .is_some_and(|id| Ipv6::associated(&state.world.ipv6.vpc_blocks, id, now))
            })
            .filter_map(|a| parse(a.ipv6_cidr_block()?))
            .collect()
    };
    if !usable.iter().any(|outer| contains(*outer, wanted)) {
        return Some(Refusal::new(
            400,
            "InvalidSubnet.Range",
            &format!("The IPv6 CIDR '{block}' is invalid."),
        ));
    }
    let taken = vpc_subnet_blocks(model, vpc).await;
    taken
        .iter()
        .filter(|(other, _)| other != subnet)
        .filter_map(|(_, b)| parse(b))
        .any(|b| overlap(b, wanted))
        .then(|| {
            Refusal::new(
                400,
                "InvalidSubnet.Conflict",
                &format!("The IPv6 CIDR '{block}' conflicts with another subnet"),
            )
        })
}

/// AWS's refusal to disassociate a VPC's block (IPv6, or an IPv4 block
/// besides its primary one) while a subnet holds a block from it.
async fn vpc_block_in_use(model: &Model, association: &str) -> Option<Refusal> {
    let out = model.api.ec2.describe_vpcs().send().await.ok()?;
    let (vpc, block, ipv4) = out.vpcs().iter().find_map(|v| {
        let vpc = v.vpc_id()?.to_string();
        let ipv6 = v
            .ipv6_cidr_block_association_set()
            .iter()
            .find(|a| a.association_id() == Some(association))
            .and_then(|a| a.ipv6_cidr_block());
        let ipv4 = v
            .cidr_block_association_set()
            .iter()
            .find(|a| a.association_id() == Some(association))
            .and_then(|a| a.cidr_block());
        match (ipv6, ipv4) {
            (Some(block), _) => Some((vpc, block.to_string(), false)),
            (None, Some(block)) => Some((vpc, block.to_string(), true)),
            (None, None) => None,
        }
    })?;
    let subnet_blocks = if ipv4 {
        vpc_subnet_ipv4_blocks(model, &vpc).await
    } else {
        vpc_subnet_blocks(model, &vpc)
            .await
            .into_iter()
            .map(|(_, b)| b)
            .collect()
    };
    let outer = parse_either(&block)?;
    let used = subnet_blocks
        .iter()
        .filter_map(|b| parse_either(b))
        .any(|b| contains(outer, b));
    used.then(|| {
        Refusal::new(
            400,
            "InvalidCidrBlock.InUse",
            &format!("The vpc {vpc} currently has a subnet within CIDR block {block}"),
        )
    })
}

/// The IPv4 blocks of the subnets of `vpc`.
async fn vpc_subnet_ipv4_blocks(model: &Model, vpc: &str) -> Vec<String> {
    let subnets = vpc_subnets(model, vpc).await;
    subnets
        .iter()
        .filter_map(|s| s.cidr_block().map(str::to_string))
        .collect()
}

/// An IPv6 block, or an IPv4 one as the IPv4-mapped IPv6 block it stands for
/// (so that one containment test serves both).
fn parse_either(cidr: &str) -> Option<(u128, u8)> {
    let (address, length) = cidr.split_once('/')?;
    match address.parse::<std::net::Ipv4Addr>() {
        Ok(v4) => {
            let length: u8 = length.parse().ok().filter(|l| *l <= 32)?;
            Some((u128::from(v4.to_ipv6_mapped()), length + 96))
        }
        Err(_) => parse(cidr),
    }
}

/// Whether an egress-only internet gateway is attached to `vpc`.
pub async fn egress_only_gateway_attached(model: &Model, vpc: &str) -> bool {
    let out = model
        .api
        .ec2
        .describe_egress_only_internet_gateways()
        .send()
        .await;
    out.map(|o| {
        o.egress_only_internet_gateways()
            .iter()
            .flat_map(|g| g.attachments())
            .any(|a| a.vpc_id() == Some(vpc))
    })
    .unwrap_or(false)
}

/// The IPv6 associations an answer holds: (association ID, block).
fn associations(element: &Element, found: &mut Vec<(String, String)>) {
    if let (Some(id), Some(block)) = (
        element.child_text("associationId"),
        element.child_text("ipv6CidrBlock"),
    ) {
        found.push((id.to_string(), block.to_string()));
    }
    for child in &element.children {
        associations(child, found);
    }
}

/// Learns the blocks a call associated or disassociated, and adds the
/// default network ACL's IPv6 rules AWS adds with a VPC's first block.
pub async fn learn(model: &Model, call: &Call, answer: &Element) {
    let key = call.key();
    let vpc_block = match key.as_str() {
        "ec2:CreateVpc" | "ec2:AssociateVpcCidrBlock" => true,
        "ec2:CreateSubnet" | "ec2:AssociateSubnetCidrBlock" => false,
        "ec2:DisassociateVpcCidrBlock" | "ec2:DisassociateSubnetCidrBlock" => {
            let Some(id) = call.param("AssociationId") else {
                return;
            };
            let now = Instant::now();
            let mut state = model.state();
            let clock = state.clock;
            let ipv6 = &mut state.world.ipv6;
            let map = if key == "ec2:DisassociateVpcCidrBlock" {
                &mut ipv6.vpc_blocks
            } else {
                &mut ipv6.subnet_blocks
            };
            let block = answer.texts("ipv6CidrBlock").into_iter().next();
            let entry = map.entry(id.to_string()).or_insert_with(|| Association {
                block: block.unwrap_or_default(),
                associated_at: now,
                disassociated_at: None,
            });
            entry
                .disassociated_at
                .get_or_insert(now + clock.scaled(IPV6_DISASSOCIATING));
            return;
        }
        _ => return,
    };
    let mut found = Vec::new();
    associations(answer, &mut found);
    if found.is_empty() {
        return;
    }
    {
        let now = Instant::now();
        let mut state = model.state();
        let clock: Clock = state.clock;
        let ipv6 = &mut state.world.ipv6;
        let map = if vpc_block {
            &mut ipv6.vpc_blocks
        } else {
            &mut ipv6.subnet_blocks
        };
        for (id, block) in found {
            map.entry(id).or_insert_with(|| Association {
                block,
                associated_at: now + clock.scaled(IPV6_ASSOCIATING),
                disassociated_at: None,
            });
        }
    }
    if vpc_block {
        let vpc = answer.texts("vpcId").into_iter().next().unwrap_or_default();
        default_acl_rules(model, &vpc).await;
    }
}

/// "If you associate an IPv6 CIDR block with your VPC, we automatically add
/// rules that allow all inbound [outbound] IPv6 traffic" unless that
/// direction's rules were modified; the `*` IPv6 rule (32768) denies the rest.
async fn default_acl_rules(model: &Model, vpc: &str) {
    let ec2 = &model.api.ec2;
    let by = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let Ok(out) = ec2
        .describe_network_acls()
        .filters(by("vpc-id", vpc))
        .filters(by("default", "true"))
        .send()
        .await
    else {
        return;
    };
    let Some(acl) = out.network_acls().first() else {
        return;
    };
    let acl_id = acl.network_acl_id().unwrap_or_default();
    for egress in [false, true] {
        let entries: Vec<_> = acl
            .entries()
            .iter()
            .filter(|e| e.egress() == Some(egress))
            .collect();
        if entries.iter().any(|e| e.ipv6_cidr_block().is_some()) {
            // a block was associated before: its rules are there (or were removed)
            continue;
        }
        // as a new VPC's default ACL has it: all IPv4 allowed (100), the rest denied (`*`)
        let untouched = entries.len() == 2
            && entries.iter().all(|e| {
                e.cidr_block() == Some("0.0.0.0/0")
                    && e.protocol() == Some("-1")
                    && matches!(
                        (e.rule_number(), e.rule_action()),
                        (Some(100), Some(RuleAction::Allow))
                            | (Some(32767), Some(RuleAction::Deny))
                    )
            });
        let rules = [(101, RuleAction::Allow), (32768, RuleAction::Deny)];
        for (number, action) in rules {
            if number == 101 && !untouched {
                continue;
            }
            let _ = ec2
                .create_network_acl_entry()
                .network_acl_id(acl_id)
                .rule_number(number)
                .protocol("-1")
                .rule_action(action)
                .egress(egress)
                .ipv6_cidr_block("::/0")
                .send()
                .await;
        }
    }
}

/// AWS gives an instance launched into a subnet whose
/// `AssignIpv6AddressOnCreation` is true one IPv6 address from the subnet's
/// block on its primary network interface, unless the launch gave that
/// interface addresses itself; moto gives it none. The model assigns it
/// (moto's AssignIpv6Addresses, one address) for each of `ids` it has not
/// seen before: those of a RunInstances answer, and a group's new members.
pub async fn assign_at_launch(model: &Model, ids: Vec<String>) {
    let ids: Vec<String> = {
        let mut state = model.state();
        let seen = &mut state.world.ipv6.launches_seen;
        ids.into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect()
    };
    if ids.is_empty() {
        return;
    }
    let Ok(out) = model
        .api
        .ec2
        .describe_instances()
        .set_instance_ids(Some(ids))
        .send()
        .await
    else {
        return;
    };
    // (primary interface, its subnet) of each instance launched without IPv6
    let primaries: Vec<(String, String)> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|instance| {
            let primary = instance
                .network_interfaces()
                .iter()
                .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))?;
            if !primary.ipv6_addresses().is_empty() {
                return None;
            }
            Some((
                primary.network_interface_id()?.to_string(),
                primary.subnet_id().or(instance.subnet_id())?.to_string(),
            ))
        })
        .collect();
    if primaries.is_empty() {
        return;
    }
    let named: BTreeSet<String> = primaries.iter().map(|(_, s)| s.clone()).collect();
    let Ok(subnets) = model
        .api
        .ec2
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("subnet-id")
                .set_values(Some(named.into_iter().collect()))
                .build(),
        )
        .send()
        .await
    else {
        return;
    };
    let assigning: HashSet<&str> = subnets
        .subnets()
        .iter()
        .filter(|s| s.assign_ipv6_address_on_creation() == Some(true))
        .filter(|s| !s.ipv6_cidr_block_association_set().is_empty())
        .filter_map(|s| s.subnet_id())
        .collect();
    for (interface, subnet) in &primaries {
        if !assigning.contains(subnet.as_str()) {
            continue;
        }
        let Ok(out) = model
            .api
            .ec2
            .assign_ipv6_addresses()
            .network_interface_id(interface)
            .ipv6_address_count(1)
            .send()
            .await
        else {
            continue;
        };
        if let Some(address) = out.assigned_ipv6_addresses().first() {
            model
                .state()
                .world
                .ipv6
                .launch_addresses
                .insert(interface.clone(), address.clone());
        }
    }
}

/// Reports the IPv6 association states as AWS would now, and leaves out the
/// local route of a VPC block not (or no longer) associated.
pub fn rewrite(world: &World, call: &Call, answer: &mut Element, now: Instant) {
    if call.service != "ec2" {
        return;
    }
    let timed = match call.action.as_str() {
        "DescribeSubnets"
        | "CreateSubnet"
        | "AssociateSubnetCidrBlock"
        | "DisassociateSubnetCidrBlock" => &world.ipv6.subnet_blocks,
        "DescribeVpcs" | "CreateVpc" | "AssociateVpcCidrBlock" | "DisassociateVpcCidrBlock" => {
            &world.ipv6.vpc_blocks
        }
        "RunInstances" => {
            // moto answered before the model assigned the launch's addresses
            let addresses = &world.ipv6.launch_addresses;
            answer.for_each_with_child("networkInterfaceId", &mut |interface, item| {
                let Some(address) = addresses.get(interface) else {
                    return;
                };
                let listed = item
                    .child("ipv6AddressesSet")
                    .is_some_and(|set| !set.children.is_empty());
                if item.child("attachment").is_some() && !listed {
                    item.set_path(&["ipv6AddressesSet", "item", "ipv6Address"], address);
                    item.set_path(&["ipv6AddressesSet", "item", "isPrimaryIpv6"], "false");
                }
            });
            return;
        }
        "DescribeRouteTables" => {
            let hidden: Vec<&str> = world
                .ipv6
                .vpc_blocks
                .values()
                .filter(|a| a.state(now) != "associated")
                .map(|a| a.block.as_str())
                .collect();
            if !hidden.is_empty() {
                hide_local_routes(answer, &hidden);
            }
            return;
        }
        _ => return,
    };
    answer.for_each_with_child("associationId", &mut |id, item| {
        let Some(moto) = item.path_text(&["ipv6CidrBlockState", "state"]) else {
            return;
        };
        let state = match timed.get(id) {
            Some(association) => association.state(now).to_string(),
            None => plain_state(moto).to_string(),
        };
        item.set_path(&["ipv6CidrBlockState", "state"], &state);
    });
}

fn hide_local_routes(element: &mut Element, hidden: &[&str]) {
    if element.name == "routeSet" {
        element.children.retain(|route| {
            route.child_text("gatewayId") != Some("local")
                || !route
                    .child_text("destinationIpv6CidrBlock")
                    .is_some_and(|block| hidden.contains(&block))
        });
        return;
    }
    for child in &mut element.children {
        hide_local_routes(child, hidden);
    }
}
