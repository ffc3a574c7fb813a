//! Instances, from RunInstances or launched by moto for Auto Scaling Groups:
//! `pending` 12-25 s before `running`, `shutting-down` ~60 s after termination,
//! `stopping` 15-40 s before `stopped` and `pending` again when started (only a
//! stopped instance starts). Their interfaces hold their subnet and security
//! groups until terminated. Target health as AWS reports it: `initial` until
//! the target group's healthy threshold times its interval after the instance
//! runs, then `healthy`. A group's members report the type and market AWS
//! launched them as (see [`super::mixed`]). Either kind launched into a subnet
//! that assigns IPv6 on creation gets its address (see
//! [`super::ipv6::assign_at_launch`]).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::clock::{Clock, Rng, INSTANCE_PENDING, INSTANCE_SHUTTING_DOWN, INSTANCE_STOPPING};
use super::world::{Instance, TargetGroup, World};
use super::xml::Element;
use super::{Call, Model, Refusal};

/// Learns launched and terminated instances and target group health checks and registrations.
pub fn learn(
    world: &mut World,
    rng: &mut Rng,
    clock: Clock,
    call: &Call,
    answer: &Element,
    now: Instant,
) {
    match call.key().as_str() {
        "ec2:RunInstances" => {
            let mut launched = Vec::new();
            let mut answer = answer.clone();
            answer.for_each_with_child("instanceId", &mut |id, item| {
                if item.child("instanceState").is_some() {
                    launched.push((
                        id.to_string(),
                        item.child_text("subnetId").unwrap_or_default().to_string(),
                        item.child("groupSet")
                            .map(|g| g.texts("groupId").into_iter().collect())
                            .unwrap_or_default(),
                    ));
                }
            });
            for (id, subnet, security_groups) in launched {
                let running_at = now + clock.scaled(rng.between(INSTANCE_PENDING));
                world.instances.entry(id).or_insert(Instance {
                    subnet,
                    security_groups,
                    group: None,
                    running_at,
                    stopped_at: None,
                    terminated_at: None,
                    template_version: None,
                    failing: false,
                    launch_failed: false,
                    instance_type: None,
                    spot: false,
                });
            }
        }
        "ec2:TerminateInstances" => {
            for id in call.list("InstanceId") {
                terminate(world, &id, clock, now);
            }
        }
        "ec2:StopInstances" => {
            for id in call.list("InstanceId") {
                if let Some(instance) = world.instances.get_mut(&id) {
                    if instance.terminated_at.is_none() && instance.stopped_at.is_none() {
                        instance.stopped_at =
                            Some(now + clock.scaled(rng.between(INSTANCE_STOPPING)));
                    }
                }
            }
        }
        "ec2:StartInstances" => {
            for id in call.list("InstanceId") {
                if let Some(instance) = world.instances.get_mut(&id) {
                    if instance.stopped_at.take().is_some() {
                        instance.running_at = now + clock.scaled(rng.between(INSTANCE_PENDING));
                    }
                }
            }
        }
        "elasticloadbalancing:CreateTargetGroup" | "elasticloadbalancing:ModifyTargetGroup" => {
            let first = |name: &str| answer.texts(name).into_iter().next();
            let Some(arn) = first("TargetGroupArn") else {
                return;
            };
            let group = world
                .target_groups
                .entry(arn)
                .or_insert_with(|| TargetGroup {
                    healthy_threshold: 5,
                    interval_seconds: 30,
                    registered: HashMap::new(),
                });
            if let Some(n) = first("HealthyThresholdCount").and_then(|t| t.parse().ok()) {
                group.healthy_threshold = n;
            }
            if let Some(n) = first("HealthCheckIntervalSeconds").and_then(|t| t.parse().ok()) {
                group.interval_seconds = n;
            }
        }
        "elasticloadbalancing:RegisterTargets" | "elasticloadbalancing:DeregisterTargets" => {
            let arn = call.param("TargetGroupArn").unwrap_or_default();
            let Some(group) = world.target_groups.get_mut(arn) else {
                return;
            };
            for id in call.list_of("Targets.member", "Id") {
                if call.action == "RegisterTargets" {
                    group.registered.insert(id, now);
                } else {
                    group.registered.remove(&id);
                }
            }
        }
        _ => {}
    }
}

fn terminate(world: &mut World, id: &str, clock: Clock, now: Instant) {
    if let Some(instance) = world.instances.get_mut(id) {
        instance
            .terminated_at
            .get_or_insert(now + clock.scaled(INSTANCE_SHUTTING_DOWN));
    }
}

/// A group member the model sees for the first time, as moto launched it.
struct Placed {
    id: String,
    subnet: String,
    security_groups: BTreeSet<String>,
    instance_type: String,
}

/// Learns the instances moto launched or removed for Auto Scaling Groups, by
/// asking moto: new members start `pending` (of the type and market AWS would
/// launch them as, see [`super::mixed::launch_as`]), members that left start
/// shutting down.
pub async fn sync_groups(model: &Model) {
    let Ok(groups) = model
        .api
        .autoscaling
        .describe_auto_scaling_groups()
        .send()
        .await
    else {
        return;
    };
    let members: HashMap<String, String> = groups
        .auto_scaling_groups()
        .iter()
        .flat_map(|g| {
            g.instances().iter().filter_map(|i| {
                Some((
                    i.instance_id()?.to_string(),
                    g.auto_scaling_group_name()?.to_string(),
                ))
            })
        })
        .collect();
    let desired: HashMap<String, usize> = groups
        .auto_scaling_groups()
        .iter()
        .filter_map(|g| {
            let capacity = usize::try_from(g.desired_capacity()?).ok()?;
            Some((g.auto_scaling_group_name()?.to_string(), capacity))
        })
        .collect();
    // what each group launches from now: the version its new members run
    let sources: HashMap<String, (String, String)> = groups
        .auto_scaling_groups()
        .iter()
        .filter_map(|g| {
            let template = g.launch_template()?;
            Some((
                g.auto_scaling_group_name()?.to_string(),
                (
                    template
                        .launch_template_id()
                        .unwrap_or_default()
                        .to_string(),
                    template.version().unwrap_or_default().to_string(),
                ),
            ))
        })
        .collect();
    let unknown: Vec<String> = {
        let state = model.state();
        members
            .keys()
            .filter(|id| !state.world.instances.contains_key(*id))
            .cloned()
            .collect()
    };
    let mut placed = Vec::new();
    if !unknown.is_empty() {
        if let Ok(out) = model
            .api
            .ec2
            .describe_instances()
            .set_instance_ids(Some(unknown))
            .send()
            .await
        {
            for instance in out.reservations().iter().flat_map(|r| r.instances()) {
                let groups: BTreeSet<String> = instance
                    .security_groups()
                    .iter()
                    .filter_map(|g| g.group_id().map(str::to_string))
                    .collect();
                placed.push(Placed {
                    id: instance.instance_id().unwrap_or_default().to_string(),
                    subnet: instance.subnet_id().unwrap_or_default().to_string(),
                    security_groups: groups,
                    instance_type: instance
                        .instance_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                });
            }
        }
    }
    let ids: Vec<String> = placed.iter().map(|p| p.id.clone()).collect();
    mount_image_roots(model, ids.clone()).await;
    super::ipv6::assign_at_launch(model, ids).await;
    propagate_group_tags(model, groups.auto_scaling_groups(), &members, &placed).await;
    // what each new member's template runs, read once per template version
    let marker = model.state().unhealthy_user_data.clone();
    let mut templates: HashMap<(String, String), TemplateFacts> = HashMap::new();
    for Placed { id, .. } in &placed {
        let Some(source) = members.get(id).and_then(|g| sources.get(g)) else {
            continue;
        };
        if !templates.contains_key(source) {
            let facts = template_facts(model, &source.0, &source.1).await;
            templates.insert(source.clone(), facts);
        }
    }
    // AWS fails a member's launch when its template's image cannot launch as
    // its type or with the template's root volume (see [`super::images`])
    let mut image_refusals: HashMap<String, String> = HashMap::new();
    for Placed {
        id, instance_type, ..
    } in &placed
    {
        let Some(template) = members
            .get(id)
            .and_then(|g| sources.get(g))
            .and_then(|s| templates.get(s))
        else {
            continue;
        };
        let Some(image) = &template.image else {
            continue;
        };
        let refusal = super::images::refusal_for(model, image, instance_type, |facts| {
            template.volume_sizes.get(&facts.root_device_name).copied()
        })
        .await;
        if let Some(refusal) = refusal {
            image_refusals.insert(id.clone(), refusal.message);
        }
    }
    // AWS gives a member its template's instance profile; moto gives none
    for Placed { id, .. } in &placed {
        let source = members.get(id.as_str()).and_then(|g| sources.get(g));
        let Some(profile) = source.and_then(|s| templates.get(s)?.profile.clone()) else {
            continue;
        };
        let spec = aws_sdk_ec2::types::IamInstanceProfileSpecification::builder();
        let spec = match profile.starts_with("arn:") {
            true => spec.arn(profile),
            false => spec.name(profile),
        };
        let _already = model
            .api
            .ec2
            .associate_iam_instance_profile()
            .instance_id(id.as_str())
            .iam_instance_profile(spec.build())
            .send()
            .await;
    }
    // AWS puts a member in the groups its template's network interface
    // names; moto leaves it in the VPC's default group
    for Placed {
        id,
        security_groups,
        ..
    } in &mut placed
    {
        let source = members.get(id.as_str()).and_then(|g| sources.get(g));
        let Some(groups) = source
            .and_then(|s| templates.get(s))
            .map(|t| &t.groups)
            .filter(|g| !g.is_empty())
        else {
            continue;
        };
        if *security_groups != groups.iter().cloned().collect::<BTreeSet<_>>() {
            let ec2 = &model.api.ec2;
            let moved = ec2
                .modify_instance_attribute()
                .instance_id(id.as_str())
                .set_groups(Some(groups.clone()))
                .send()
                .await;
            // and its interface, which moto keeps apart
            let described = ec2
                .describe_instances()
                .instance_ids(id.as_str())
                .send()
                .await;
            let interfaces: Vec<String> = described
                .iter()
                .flat_map(|out| out.reservations())
                .flat_map(|r| r.instances())
                .flat_map(|i| i.network_interfaces())
                .filter_map(|n| n.network_interface_id().map(str::to_string))
                .collect();
            for interface in interfaces {
                let _ = ec2
                    .modify_network_interface_attribute()
                    .network_interface_id(interface)
                    .set_groups(Some(groups.clone()))
                    .send()
                    .await;
            }
            if moved.is_ok() {
                *security_groups = groups.iter().cloned().collect();
            }
        }
    }
    // where each new member's subnet sends traffic for the internet, when the
    // model's apps need it at boot (read from moto before the state is taken)
    let boot_needs_way_out = model.state().boot_needs_way_out;
    let mut ways_out: HashMap<String, Option<String>> = HashMap::new();
    if boot_needs_way_out {
        for Placed { subnet, id, .. } in &placed {
            if members.contains_key(id) && !ways_out.contains_key(subnet) {
                let target = default_route_target(model, subnet).await;
                ways_out.insert(subnet.clone(), target);
            }
        }
    }
    let broken = |source: &(String, String)| {
        let user_data = templates.get(source).and_then(|t| t.user_data.as_deref());
        matches!((&marker, user_data), (Some(m), Some(data)) if data.contains(m.as_str()))
    };
    let now = Instant::now();
    let mut state = model.state();
    let state = &mut *state;
    // members that left first: a replacement's market is decided without
    // the instance it replaces
    let left: Vec<String> = state
        .world
        .instances
        .iter()
        .filter(|(id, i)| {
            i.group.is_some() && i.terminated_at.is_none() && !members.contains_key(*id)
        })
        .map(|(id, _)| id.clone())
        .collect();
    for id in left {
        terminate(&mut state.world, &id, state.clock, now);
    }
    for Placed {
        id,
        subnet,
        security_groups,
        instance_type,
    } in placed
    {
        if state.world.instances.contains_key(&id) {
            // learned by another look meanwhile: its launch is decided once
            continue;
        }
        let group = members.get(&id).cloned();
        let refused_image = image_refusals.get(&id).filter(|_| group.is_some());
        if let Some(group) = &group {
            match refused_image {
                Some(message) => {
                    let message = format!("{message} Launching EC2 instance failed.");
                    state.image_failures.insert(group.clone(), message);
                }
                None => {
                    state.image_failures.remove(group);
                }
            }
        }
        let launching_fails =
            group.is_some() && (state.launch_failure.is_some() || refused_image.is_some());
        let source = group.as_ref().and_then(|g| sources.get(g));
        let mut running_at = now + state.clock.scaled(state.rng.between(INSTANCE_PENDING));
        let profile = source.and_then(|s| templates.get(s)?.profile.clone());
        if let (Some(named), Some(group)) = (profile, &group) {
            if let Some(until) =
                super::unpropagated_until(&mut state.unpropagated_profiles, &named, now)
            {
                // AWS's group fails the launch and tries again until EC2 knows
                // the profile: the model starts this member only then
                running_at = running_at.max(until) + (running_at - now);
                let parameter = if named.starts_with("arn:") {
                    "arn"
                } else {
                    "name"
                };
                let message = format!(
                    "{}. Launching EC2 instance failed.",
                    super::unknown_profile_message(&named, parameter)
                );
                state
                    .profile_failures
                    .insert(group.clone(), (until, message));
            }
        }
        let (instance_type, spot) = match &group {
            Some(name) => super::mixed::launch_as(
                &state.world,
                name,
                desired.get(name).copied().unwrap_or(0),
                &instance_type,
            ),
            None => (instance_type, false),
        };
        let cut_off = ways_out
            .get(&subnet)
            .is_some_and(|target| !leads_out(&state.world, target.as_deref(), now));
        state.world.instances.insert(
            id,
            Instance {
                subnet,
                security_groups,
                group,
                running_at,
                stopped_at: None,
                terminated_at: None,
                // a version number; `$Latest` or `$Default` is left to moto's report
                template_version: source
                    .map(|(_, version)| version.clone())
                    .filter(|v| v.parse::<u64>().is_ok()),
                failing: source.is_some_and(broken) || cut_off,
                launch_failed: launching_fails,
                instance_type: Some(instance_type),
                spot,
            },
        );
    }
}

/// The target of `subnet`'s default IPv4 route: its own route table's, or
/// the VPC's main table's when it has none; `None` without a default route.
async fn default_route_target(model: &Model, subnet: &str) -> Option<String> {
    use aws_sdk_ec2::types::Filter;
    let ec2 = &model.api.ec2;
    let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let own = ec2
        .describe_route_tables()
        .filters(filter("association.subnet-id", subnet))
        .send()
        .await
        .ok()?;
    let table = match own.route_tables().first() {
        Some(table) => table.clone(),
        None => {
            let subnets = ec2
                .describe_subnets()
                .subnet_ids(subnet)
                .send()
                .await
                .ok()?;
            let vpc = subnets.subnets().first()?.vpc_id()?.to_string();
            let main = ec2
                .describe_route_tables()
                .filters(filter("vpc-id", &vpc))
                .filters(filter("association.main", "true"))
                .send()
                .await
                .ok()?;
            main.route_tables().first()?.clone()
        }
    };
    table
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
        .and_then(|r| r.nat_gateway_id().or(r.gateway_id()))
        .map(str::to_string)
}

/// Whether a default route to `target` reaches the internet now: an internet
/// gateway, or a NAT gateway that is `available` (a pending one forwards nothing).
fn leads_out(world: &World, target: Option<&str>, now: Instant) -> bool {
    match target {
        Some(igw) if igw.starts_with("igw-") => true,
        Some(nat) => {
            world.regional_nats.contains_key(nat)
                || world
                    .nat_gateways
                    .get(nat)
                    .is_some_and(|g| g.state(now) == "available")
        }
        None => false,
    }
}

/// AWS tags a group's new instance with the group's tags that propagate at
/// launch, over the launch template's instance tags of the same key; moto
/// keeps the template's (and drops the group's). The model writes the group's
/// onto each member the moment it first sees it.
async fn propagate_group_tags(
    model: &Model,
    groups: &[aws_sdk_autoscaling::types::AutoScalingGroup],
    members: &HashMap<String, String>,
    placed: &[Placed],
) {
    for Placed { id, .. } in placed {
        let Some(group) = members.get(id).and_then(|name| {
            groups
                .iter()
                .find(|g| g.auto_scaling_group_name() == Some(name))
        }) else {
            continue;
        };
        let tags: Vec<aws_sdk_ec2::types::Tag> = group
            .tags()
            .iter()
            .filter(|t| t.propagate_at_launch() == Some(true))
            .map(|t| {
                aws_sdk_ec2::types::Tag::builder()
                    .set_key(t.key().map(str::to_string))
                    .set_value(t.value().map(str::to_string))
                    .build()
            })
            .collect();
        if !tags.is_empty() {
            let _ = model
                .api
                .ec2
                .create_tags()
                .resources(id)
                .set_tags(Some(tags))
                .send()
                .await;
        }
    }
}

/// AWS always creates an instance's root volume from its image's root device
/// mapping (`RootDeviceName`, e.g. `/dev/sda1` on Ubuntu or RHEL, `/dev/xvda`
/// on Amazon Linux): a launch's block device mapping changes it only when it
/// names that device; a mapping under another name is one more volume. moto
/// creates the mapped volumes only, so the model attaches the image's root
/// volume (8 GiB, unencrypted, as a public image's snapshot is) to every
/// instance launched without a mapping for its root device.
pub async fn mount_image_roots(model: &Model, ids: Vec<String>) {
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
    for instance in out.reservations().iter().flat_map(|r| r.instances()) {
        let (Some(id), Some(root)) = (instance.instance_id(), instance.root_device_name()) else {
            continue;
        };
        let mapped = instance
            .block_device_mappings()
            .iter()
            .any(|m| m.device_name() == Some(root));
        let zone = instance.placement().and_then(|p| p.availability_zone());
        if mapped || zone.is_none() {
            continue;
        }
        let Ok(volume) = model
            .api
            .ec2
            .create_volume()
            .size(IMAGE_ROOT_GIB)
            .set_availability_zone(zone.map(str::to_string))
            .encrypted(false)
            .send()
            .await
        else {
            continue;
        };
        if let Some(volume) = volume.volume_id() {
            let _ = model
                .api
                .ec2
                .attach_volume()
                .volume_id(volume)
                .instance_id(id)
                .device(root)
                .send()
                .await;
        }
    }
}

/// The size of a public image's root snapshot, which its root volume takes.
pub const IMAGE_ROOT_GIB: i32 = 8;

/// The IDs of the instances a RunInstances answer launched.
pub fn launched(answer: &Element) -> Vec<String> {
    let mut ids = Vec::new();
    let mut answer = answer.clone();
    answer.for_each_with_child("instanceId", &mut |id, item| {
        if item.child("instanceState").is_some() {
            ids.push(id.to_string());
        }
    });
    ids
}

/// What a launch template version says that the model acts on.
#[derive(Default)]
struct TemplateFacts {
    /// the decoded user data
    user_data: Option<String>,
    /// the instance profile, by name or ARN
    profile: Option<String>,
    /// the security groups its network interface (or the template) names
    groups: Vec<String>,
    /// the image it launches
    image: Option<String>,
    /// the size of each volume it maps, by device name
    volume_sizes: HashMap<String, i32>,
}

/// The facts of launch template `id` at `version`, asked of moto.
async fn template_facts(model: &Model, id: &str, version: &str) -> TemplateFacts {
    use base64::Engine;
    let out = model
        .api
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(id)
        .versions(version)
        .send()
        .await
        .ok();
    let Some(data) = out
        .as_ref()
        .and_then(|o| o.launch_template_versions().first())
        .and_then(|v| v.launch_template_data())
    else {
        return TemplateFacts::default();
    };
    TemplateFacts {
        user_data: data
            .user_data()
            .and_then(|encoded| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()
            })
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        profile: data
            .iam_instance_profile()
            .and_then(|p| p.name().or(p.arn()))
            .map(str::to_string),
        groups: data
            .network_interfaces()
            .iter()
            .flat_map(|n| n.groups())
            .chain(data.security_group_ids())
            .cloned()
            .collect(),
        image: data.image_id().map(str::to_string),
        volume_sizes: data
            .block_device_mappings()
            .iter()
            .filter_map(|m| Some((m.device_name()?.to_string(), m.ebs()?.volume_size()?)))
            .collect(),
    }
}

/// When an instance of a group serves, as far as an instance refresh is
/// concerned: running, its target group's health checks passed (when the group
/// has one), and the refresh's warmup over.
pub fn ready_at(
    world: &World,
    instance: &Instance,
    target_group: Option<&str>,
    warmup: Duration,
    clock: Clock,
) -> Instant {
    let healthy = target_group
        .and_then(|arn| world.target_groups.get(arn))
        .map_or(Duration::ZERO, |group| warm_up(group, clock));
    instance.running_at + healthy.max(warmup)
}

/// Makes sure the model knows the health check of the target group a
/// DescribeTargetHealth names (it may have been created before the model ran).
pub async fn know_target_group(model: &Model, call: &Call) {
    let Some(arn) = call.param("TargetGroupArn") else {
        return;
    };
    if model.state().world.target_groups.contains_key(arn) {
        return;
    }
    let Ok(out) = model
        .api
        .elbv2
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
    else {
        return;
    };
    if let Some(group) = out.target_groups().first() {
        model
            .state()
            .world
            .target_groups
            .entry(arn.to_string())
            .or_insert_with(|| TargetGroup {
                healthy_threshold: group.healthy_threshold_count().unwrap_or(5) as u32,
                interval_seconds: group.health_check_interval_seconds().unwrap_or(30) as u32,
                registered: HashMap::new(),
            });
    }
}

/// AWS starts only a stopped instance: one still `stopping` (or on its way
/// out) is refused, where moto starts it at once.
pub fn refusal(world: &World, call: &Call, now: Instant) -> Option<Refusal> {
    if call.key() != "ec2:StartInstances" {
        return None;
    }
    call.list("InstanceId").into_iter().find_map(|id| {
        world.instances.get(&id)?.unstartable(now)?;
        Some(Refusal::new(
            400,
            "IncorrectInstanceState",
            &format!("The instance '{id}' is not in a state from which it can be started."),
        ))
    })
}

/// Reports instance states, Auto Scaling lifecycle states and target health as
/// the model has them.
pub fn rewrite(world: &mut World, clock: Clock, call: &Call, answer: &mut Element, now: Instant) {
    let instances = &world.instances;
    match call.key().as_str() {
        "ec2:RunInstances"
        | "ec2:DescribeInstances"
        | "ec2:TerminateInstances"
        | "ec2:StopInstances"
        | "ec2:StartInstances" => {
            let field = if call.action == "RunInstances" || call.action == "DescribeInstances" {
                "instanceState"
            } else {
                "currentState"
            };
            answer.for_each_with_child("instanceId", &mut |id, item| {
                // an instance's description (not a state change) gives its
                // type, and its market when it is Spot
                if let Some(model) = instances
                    .get(id)
                    .filter(|_| item.child("instanceType").is_some())
                {
                    launched_as(model, item, "instanceType");
                    if model.spot {
                        item.set_path(&["instanceLifecycle"], "spot");
                    }
                }
                if let (Some(model), Some(_)) = (instances.get(id), item.child(field)) {
                    // stopped past the model (straight at moto): moto's word stands
                    let stopped_in_moto = matches!(
                        item.path_text(&[field, "name"]),
                        Some("stopping" | "stopped")
                    );
                    if stopped_in_moto && model.stopped_at.is_none() {
                        return;
                    }
                    let (name, code) = model.state(now);
                    item.set_path(&[field, "code"], &code.to_string());
                    item.set_path(&[field, "name"], name);
                }
            });
        }
        "autoscaling:DescribeAutoScalingGroups" | "autoscaling:DescribeAutoScalingInstances" => {
            // a launch that failed made no instance: AWS lists no member for it
            let launched = &mut |member: &Element| {
                let id = member.child_text("InstanceId").unwrap_or_default();
                !instances.get(id).is_some_and(|i| i.launch_failed)
            };
            answer.retain_in_lists("Instances", launched);
            answer.retain_in_lists("AutoScalingInstances", launched);
            answer.for_each_with_child("InstanceId", &mut |id, member| {
                let Some(instance) = instances.get(id) else {
                    return;
                };
                if instance.state(now).0 == "pending" && member.child("LifecycleState").is_some() {
                    member.set_path(&["LifecycleState"], "Pending");
                }
                // the version it was launched from, where moto reports the
                // template's default for every instance
                if let Some(version) = &instance.template_version {
                    if member.child("LaunchTemplate").is_some() {
                        member.set_path(&["LaunchTemplate", "Version"], version);
                    }
                }
                launched_as(instance, member, "InstanceType");
            });
            if call.action == "DescribeAutoScalingGroups" {
                let refreshes = &world.refreshes;
                answer.for_each_with_child("AutoScalingGroupName", &mut |name, group| {
                    let reported = refreshes
                        .get(name)
                        .and_then(|list| list.iter().rev().find(|r| r.active()))
                        .and_then(|r| r.reported_template());
                    if let Some((_, _, version)) = reported.filter(|t| !t.2.is_empty()) {
                        if group.child("LaunchTemplate").is_some() {
                            group.set_path(&["LaunchTemplate", "Version"], version);
                        }
                    }
                });
            }
        }
        "elasticloadbalancing:DescribeTargetHealth" => {
            let arn = call.param("TargetGroupArn").unwrap_or_default();
            let Some(group) = world.target_groups.get(arn) else {
                return;
            };
            let healthy_after = warm_up(group, clock);
            answer.for_each_with_child("TargetHealth", &mut |_, member| {
                let Some(id) = member.path_text(&["Target", "Id"]) else {
                    return;
                };
                let Some(instance) = instances.get(id) else {
                    return;
                };
                if instance.terminated_at.is_some() {
                    // Auto Scaling deregisters a member it terminates; AWS
                    // drains it (until the deregistration delay ends, when it
                    // is no longer listed), where moto keeps it registered
                    if instance.group.is_some() {
                        set_draining(member);
                    }
                    return;
                }
                let registered = group
                    .registered
                    .get(id)
                    .copied()
                    .unwrap_or(instance.running_at);
                if now < registered.max(instance.running_at) + healthy_after {
                    set_initial(member);
                } else if instance.failing {
                    set_unhealthy(member);
                }
            });
        }
        _ => {}
    }
}

/// The type the model launched an instance as, in its `field`, where moto
/// reports the launch template's.
fn launched_as(instance: &Instance, item: &mut Element, field: &str) {
    if let (Some(instance_type), Some(_)) = (&instance.instance_type, item.child(field)) {
        item.set_path(&[field], instance_type);
    }
}

fn set_initial(member: &mut Element) {
    member.set_path(&["TargetHealth", "State"], "initial");
    member.set_path(&["TargetHealth", "Reason"], "Elb.RegistrationInProgress");
    member.set_path(
        &["TargetHealth", "Description"],
        "Target registration is in progress",
    );
}

fn set_draining(member: &mut Element) {
    member.set_path(&["TargetHealth", "State"], "draining");
    member.set_path(
        &["TargetHealth", "Reason"],
        "Target.DeregistrationInProgress",
    );
    member.set_path(
        &["TargetHealth", "Description"],
        "Target deregistration is in progress",
    );
}

/// A target whose app answers its health checks with errors.
fn set_unhealthy(member: &mut Element) {
    member.set_path(&["TargetHealth", "State"], "unhealthy");
    member.set_path(&["TargetHealth", "Reason"], UNHEALTHY_REASON);
    member.set_path(&["TargetHealth", "Description"], UNHEALTHY_DESCRIPTION);
}

/// What AWS reports for a target whose app answers 500.
pub const UNHEALTHY_REASON: &str = "Target.ResponseCodeMismatch";
pub const UNHEALTHY_DESCRIPTION: &str = "Health checks failed with these codes: [500]";

/// How long after running (and being registered) a target of `group` turns healthy.
fn warm_up(group: &TargetGroup, clock: Clock) -> Duration {
    clock.scaled(f64::from(group.healthy_threshold * group.interval_seconds))
}
