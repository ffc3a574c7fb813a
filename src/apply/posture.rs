//! The security posture report: each AWS Foundational Security Best Practices
//! control that applies to the environment's objects, judged from what a
//! refresh observed in AWS (never from the configuration), as `pass` or one
//! line saying why it fails. Pure: one function per control over the
//! [`Inventory`]; a control whose objects were not observed is left out.

use std::collections::{BTreeMap, BTreeSet};

use super::inventory::{Inventory, SUBNET_KEYS};
use crate::aws::ec2::{Found, InstanceSettings, RawRule, RuleSource, SecurityGroup};
use crate::aws::elbv2::REDIRECT_TO_HTTPS;
use crate::plan::spec::attribute;

/// The value of a control that passes.
pub const PASS: &str = "pass";

/// The ports EC2.18 allows open to the world.
const AUTHORIZED_PORTS: [i32; 2] = [80, 443];

/// The ports EC2.19 never allows open to the world.
const HIGH_RISK_PORTS: [i32; 24] = [
    20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500,
    5601, 8080, 8088, 8888, 9200, 9300,
];

/// Every control and what satisfies it, for the schema's description.
pub const CONTROLS: [(&str, &str); 18] = [
    ("EC2.2", "the VPC's default security group has no inbound and no outbound rules"),
    ("EC2.3", "every EBS volume attached to the environment's instances (bastion and app instances) is encrypted: the root volume is made from the launch template's and the bastion's mapping under the image's root device name, encrypted"),
    ("EC2.6", "the VPC has a flow log capturing rejected traffic (`REJECT` or `ALL`), whoever made it: set `flow_logs` (its default `traffic_type`, `ALL`, satisfies it) or add one elsewhere. Left out when the credentials may not call `ec2:DescribeFlowLogs`"),
    ("EC2.8", "the bastion instance requires IMDSv2 (`http_tokens = required`)"),
    ("EC2.9", "no instance of the environment has a public IPv4 address; the bastion has one by design, so this fails while the bastion is enabled"),
    ("EC2.15", "no subnet assigns public IPv4 addresses on launch; with a bastion the public subnets do by design (the bastion's address), so this fails; without one (`bastion { enabled = false }`) no subnet does, and it passes"),
    ("EC2.18", "security groups allow ingress from `0.0.0.0/0` or `::/0` only on TCP 80 and 443"),
    ("EC2.19", "no security group allows ingress from `0.0.0.0/0` or `::/0` to a high-risk port (20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500, 5601, 8080, 8088, 8888, 9200, 9300)"),
    ("EC2.25", "the launch template version the group runs assigns no public IP"),
    ("EC2.170", "the launch template version the group runs requires IMDSv2"),
    ("ELB.1", "every HTTP listener redirects to HTTPS; fails without `load_balancer.certificate_arn`, when HTTP serves the app"),
    ("ELB.4", "the load balancer drops invalid header fields (`load_balancer.drop_invalid_header_fields`)"),
    ("ELB.5", "the load balancer writes access logs (`load_balancer.access_logs`)"),
    ("ELB.6", "the load balancer has deletion protection (`load_balancer.deletion_protection`)"),
    ("ELB.13", "the load balancer spans at least two availability zones"),
    ("AutoScaling.1", "the Auto Scaling group, attached to a target group, uses ELB health checks"),
    ("AutoScaling.2", "the Auto Scaling group spans at least two availability zones"),
    ("AutoScaling.9", "the Auto Scaling group launches from a launch template"),
];

/// The report: control ID -> `pass` or `fail: <why>`.
pub fn posture(inv: &Inventory) -> BTreeMap<String, String> {
    let judged: [(&str, Option<Result<(), String>>); 18] = [
        ("EC2.2", ec2_2_default_group_closed(inv)),
        ("EC2.3", ec2_3_volumes_encrypted(inv)),
        ("EC2.6", ec2_6_flow_logs(inv)),
        ("EC2.8", ec2_8_bastion_imdsv2(inv)),
        ("EC2.9", ec2_9_no_public_ipv4(inv)),
        ("EC2.15", ec2_15_no_auto_public_ip(inv)),
        ("EC2.18", ec2_18_authorized_ports(inv)),
        ("EC2.19", ec2_19_high_risk_ports(inv)),
        ("EC2.25", ec2_25_template_no_public_ip(inv)),
        ("EC2.170", ec2_170_template_imdsv2(inv)),
        ("ELB.1", elb_1_http_redirects(inv)),
        ("ELB.4", elb_4_drop_invalid_headers(inv)),
        ("ELB.5", elb_5_access_logs(inv)),
        ("ELB.6", elb_6_deletion_protection(inv)),
        ("ELB.13", elb_13_multiple_zones(inv)),
        ("AutoScaling.1", autoscaling_1_elb_health_checks(inv)),
        ("AutoScaling.2", autoscaling_2_multiple_zones(inv)),
        ("AutoScaling.9", autoscaling_9_launch_template(inv)),
    ];
    judged
        .into_iter()
        .filter_map(|(control, verdict)| {
            let value = match verdict? {
                Ok(()) => PASS.to_string(),
                Err(why) => format!("fail: {why}"),
            };
            Some((control.to_string(), value))
        })
        .collect()
}

/// `Ok` when the control holds, else why not.
fn holds(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}

/// `Ok` when `failures` is empty, else them joined in one line.
fn verdict(failures: Vec<String>) -> Result<(), String> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

fn ec2_2_default_group_closed(inv: &Inventory) -> Option<Result<(), String>> {
    let group = inv.default_group.as_ref()?;
    let rules = group.ingress.len() + group.egress.len();
    Some(if rules == 0 {
        Ok(())
    } else {
        Err(format!(
            "the VPC's default security group {} has {} ingress and {} egress rules; apply strips them",
            group.id,
            group.ingress.len(),
            group.egress.len()
        ))
    })
}

fn ec2_3_volumes_encrypted(inv: &Inventory) -> Option<Result<(), String>> {
    let volumes = inv.unencrypted_volumes.as_ref().filter(|v| !v.is_empty())?;
    let bastion = inv.bastion.as_ref().map(|b| b.id.as_str());
    Some(verdict(
        volumes
            .iter()
            .filter(|(_, unencrypted)| !unencrypted.is_empty())
            .map(|(instance, unencrypted)| {
                let volumes = unencrypted.join(", ");
                // the bastion is replaced by apply; an app instance is replaced
                // when the template version it runs is (a new image, a mapping
                // under the image's root device name)
                if Some(instance.as_str()) == bastion {
                    format!(
                        "bastion {instance} has unencrypted volume {volumes}; apply replaces it"
                    )
                } else {
                    format!("app instance {instance} has unencrypted volume {volumes}")
                }
            })
            .collect(),
    ))
}

fn ec2_6_flow_logs(inv: &Inventory) -> Option<Result<(), String>> {
    let logs = inv.flow_logs.as_ref()?;
    let rejects =
        |l: &&crate::aws::ec2::FlowLog| matches!(l.traffic_type.as_str(), "REJECT" | "ALL");
    Some(match logs.iter().find(rejects) {
        Some(_) => Ok(()),
        None if logs.is_empty() => Err("the VPC has no flow log: set flow_logs (traffic_type ALL or REJECT)".into()),
        None => Err(format!(
            "the VPC's flow logs ({}) capture only accepted traffic: set flow_logs.traffic_type to ALL or REJECT",
            logs.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(", ")
        )),
    })
}

fn ec2_8_bastion_imdsv2(inv: &Inventory) -> Option<Result<(), String>> {
    let bastion = inv.bastion.as_ref()?;
    let tokens = bastion.detail.get("http_tokens").map(String::as_str);
    Some(if tokens == Some("required") {
        Ok(())
    } else {
        Err(format!(
            "bastion {} does not require IMDSv2 (http_tokens {}); apply requires it",
            bastion.id,
            tokens.filter(|t| !t.is_empty()).unwrap_or("unset")
        ))
    })
}

fn public_ip(instance: &Found) -> Option<&str> {
    instance
        .detail
        .get("public_ip")
        .map(String::as_str)
        .filter(|ip| !ip.is_empty())
}

/// The settings of the version the group runs, else of the default version.
fn template(inv: &Inventory) -> Option<&InstanceSettings> {
    inv.group_template
        .as_ref()
        .or(inv.default_template.as_ref())
        .map(|v| &v.settings)
}

fn ec2_9_no_public_ipv4(inv: &Inventory) -> Option<Result<(), String>> {
    if inv.bastion.is_none() && template(inv).is_none() {
        return None;
    }
    let mut failures = Vec::new();
    if let Some((bastion, ip)) = inv.bastion.as_ref().and_then(|b| Some((b, public_ip(b)?))) {
        failures.push(format!(
            "bastion {} has public IPv4 {ip} by design, as the SSH entry point (disable the bastion to pass)",
            bastion.id
        ));
    }
    if template(inv).is_some_and(|t| t.hardening.public_ip) {
        failures.push("the app instances get public IPv4 addresses from the launch template; apply writes a version without".into());
    }
    Some(verdict(failures))
}

fn ec2_15_no_auto_public_ip(inv: &Inventory) -> Option<Result<(), String>> {
    // no subnet read: nothing to judge
    inv.objects_of(SUBNET_KEYS).next()?;
    let mapping: Vec<&str> = inv
        .objects_of(SUBNET_KEYS)
        .filter(|(_, s)| s.detail.get("map_public_ip").is_some_and(|m| m == "true"))
        .map(|(key, _)| key.as_str())
        .collect();
    let (public, private): (Vec<&str>, Vec<&str>) = mapping
        .into_iter()
        .partition(|key| key.starts_with("subnet/public/"));
    let mut failures = Vec::new();
    // by design only while there is a bastion to address
    if !public.is_empty() && inv.bastion.is_some() {
        failures.push(format!(
            "{} assign public IPv4 on launch by design (the bastion's address); disabling the bastion turns it off",
            public.join(", ")
        ));
    } else if !public.is_empty() {
        failures.push(format!(
            "{} assign public IPv4 on launch, which nothing needs without a bastion; apply turns it off",
            public.join(", ")
        ));
    }
    if !private.is_empty() {
        failures.push(format!(
            "{} assign public IPv4 on launch; apply turns it off",
            private.join(", ")
        ));
    }
    Some(verdict(failures))
}

/// The environment's security groups by component key, the VPC's default one included.
fn groups(inv: &Inventory) -> Vec<(&str, &SecurityGroup)> {
    let mut groups: Vec<(&str, &SecurityGroup)> = inv
        .security_groups
        .iter()
        .map(|(key, g)| (key.as_str(), g))
        .collect();
    groups.extend(inv.default_group.iter().map(|g| ("sg/default", g)));
    groups
}

fn from_anywhere(rule: &RawRule) -> bool {
    match &rule.source {
        RuleSource::Cidr(cidr) => cidr == "0.0.0.0/0",
        RuleSource::Ipv6Cidr(cidr) => cidr == "::/0",
        _ => false,
    }
}

/// Whether a rule lets TCP traffic reach `port`.
fn reaches(rule: &RawRule, port: i32) -> bool {
    match rule.protocol.as_str() {
        "-1" => true,
        "tcp" | "6" => rule.from_port <= port && port <= rule.to_port,
        _ => false,
    }
}

/// `sg/app allows tcp/22 from 0.0.0.0/0` for each rule open to the world that `refused` names.
fn open_rules(inv: &Inventory, refused: impl Fn(&RawRule) -> bool) -> Option<Result<(), String>> {
    let groups = groups(inv);
    if groups.is_empty() {
        return None;
    }
    let failures = groups
        .into_iter()
        .flat_map(|(key, group)| {
            group
                .ingress
                .iter()
                .filter(|rule| from_anywhere(rule) && refused(rule))
                .map(move |rule| format!("{key} allows {} from {}", rule.traffic(), rule.source))
        })
        .collect();
    Some(verdict(failures))
}

fn ec2_18_authorized_ports(inv: &Inventory) -> Option<Result<(), String>> {
    open_rules(inv, |rule| {
        let authorized = (rule.protocol == "tcp" || rule.protocol == "6")
            && rule.from_port == rule.to_port
            && AUTHORIZED_PORTS.contains(&rule.from_port);
        !authorized
    })
}

fn ec2_19_high_risk_ports(inv: &Inventory) -> Option<Result<(), String>> {
    open_rules(inv, |rule| {
        HIGH_RISK_PORTS.iter().any(|&port| reaches(rule, port))
    })
}

fn ec2_25_template_no_public_ip(inv: &Inventory) -> Option<Result<(), String>> {
    let settings = template(inv)?;
    Some(holds(!settings.hardening.public_ip, || {
        "the launch template version the group runs assigns public IPs; apply writes a version without".into()
    }))
}

fn ec2_170_template_imdsv2(inv: &Inventory) -> Option<Result<(), String>> {
    let settings = template(inv)?;
    Some(holds(settings.hardening.tokens_required, || {
        "the launch template version the group runs does not require IMDSv2; apply writes a version that does".into()
    }))
}

fn elb_1_http_redirects(inv: &Inventory) -> Option<Result<(), String>> {
    inv.load_balancer.as_ref()?;
    let failures = inv
        .listeners
        .iter()
        .filter(|l| l.protocol == "HTTP" && l.redirect.as_deref() != Some(REDIRECT_TO_HTTPS))
        .map(|l| {
            format!(
                "HTTP listener on port {} serves without redirecting to HTTPS (set load_balancer.certificate_arn)",
                l.port
            )
        })
        .collect();
    Some(verdict(failures))
}

/// Judges one load balancer attribute that must be `true`.
fn attribute_on(inv: &Inventory, key: &str, why: &str) -> Option<Result<(), String>> {
    let attributes = inv.load_balancer_attributes.as_ref()?;
    Some(holds(
        attributes.get(key).is_some_and(|v| v == "true"),
        || format!("{why} (load_balancer.{})", attribute::setting(key)),
    ))
}

fn elb_4_drop_invalid_headers(inv: &Inventory) -> Option<Result<(), String>> {
    attribute_on(
        inv,
        attribute::DROP_INVALID_HEADER_FIELDS,
        "the load balancer passes invalid header fields on",
    )
}

fn elb_5_access_logs(inv: &Inventory) -> Option<Result<(), String>> {
    attribute_on(
        inv,
        attribute::ACCESS_LOGS,
        "the load balancer writes no access logs",
    )
}

fn elb_6_deletion_protection(inv: &Inventory) -> Option<Result<(), String>> {
    attribute_on(
        inv,
        attribute::DELETION_PROTECTION,
        "the load balancer has no deletion protection",
    )
}

/// Whether these subnets lie in two zones or more, as far as the inventory knows them.
fn multiple_zones(inv: &Inventory, what: &str, subnets: &[String]) -> Result<(), String> {
    let zones: BTreeSet<String> = subnets
        .iter()
        .map(|id| {
            inv.objects_of(SUBNET_KEYS)
                .map(|(_, s)| s)
                .find(|s| &s.id == id)
                .and_then(|s| s.detail.get("zone").cloned())
                // a subnet not found counts once, by its ID
                .unwrap_or_else(|| id.clone())
        })
        .collect();
    holds(zones.len() >= 2, || {
        format!(
            "{what} spans {} availability zone(s); at least 2 are needed",
            zones.len()
        )
    })
}

fn elb_13_multiple_zones(inv: &Inventory) -> Option<Result<(), String>> {
    let lb = inv.load_balancer.as_ref()?;
    Some(multiple_zones(inv, "the load balancer", &lb.subnets))
}

fn autoscaling_1_elb_health_checks(inv: &Inventory) -> Option<Result<(), String>> {
    let group = inv.group.as_ref().filter(|g| !g.target_groups.is_empty())?;
    Some(holds(group.health_check_type == "ELB", || {
        format!(
            "the Auto Scaling group uses {} health checks, not ELB; apply restores ELB health checks",
            group.health_check_type
        )
    }))
}

fn autoscaling_2_multiple_zones(inv: &Inventory) -> Option<Result<(), String>> {
    let group = inv.group.as_ref()?;
    Some(multiple_zones(
        inv,
        "the Auto Scaling group",
        &group.subnets,
    ))
}

fn autoscaling_9_launch_template(inv: &Inventory) -> Option<Result<(), String>> {
    let group = inv.group.as_ref()?;
    Some(holds(!group.launch_template_id.is_empty(), || {
        "the Auto Scaling group does not launch from a launch template".into()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::autoscaling::Group;
    use crate::aws::ec2::{FlowLog, Hardening, TemplateVersion};
    use crate::aws::elbv2::{Listener, LoadBalancer};

    fn subnet(id: &str, zone: &str, maps_public_ip: bool) -> Found {
        Found {
            id: id.into(),
            detail: [
                ("zone", zone.to_string()),
                ("map_public_ip", maps_public_ip.to_string()),
            ]
            .into(),
            ..Found::default()
        }
    }

    fn tcp(port: i32, source: RuleSource) -> RawRule {
        RawRule {
            protocol: "tcp".into(),
            from_port: port,
            to_port: port,
            source,
        }
    }

    fn world() -> RuleSource {
        RuleSource::Cidr("0.0.0.0/0".into())
    }

    fn group_with(ingress: Vec<RawRule>) -> SecurityGroup {
        SecurityGroup {
            id: "sg-1".into(),
            ingress,
            ..SecurityGroup::default()
        }
    }

    /// An environment that satisfies every control: what the provider builds,
    /// with a flow log, access logs, deletion protection, HTTPS and a bastion
    /// without a public address.
    fn compliant() -> Inventory {
        let hardened = TemplateVersion {
            settings: InstanceSettings {
                hardening: Hardening {
                    tokens_required: true,
                    root_volume_encrypted: true,
                    public_ip: false,
                },
                ..InstanceSettings::default()
            },
            ..TemplateVersion::default()
        };
        Inventory {
            listed: [
                (
                    "subnet/private/a".to_string(),
                    subnet("subnet-a", "a", false),
                ),
                (
                    "subnet/private/b".to_string(),
                    subnet("subnet-b", "b", false),
                ),
                (
                    "subnet/public/a".to_string(),
                    subnet("subnet-pa", "a", false),
                ),
                (
                    "subnet/public/b".to_string(),
                    subnet("subnet-pb", "b", false),
                ),
            ]
            .into(),
            security_groups: [
                (
                    "sg/alb".to_string(),
                    group_with(vec![tcp(80, world()), tcp(443, world())]),
                ),
                (
                    "sg/app".to_string(),
                    group_with(vec![tcp(8080, RuleSource::Group("sg-alb".into()))]),
                ),
            ]
            .into(),
            default_group: Some(group_with(Vec::new())),
            flow_logs: Some(vec![FlowLog {
                id: "fl-1".into(),
                traffic_type: "ALL".into(),
            }]),
            load_balancer: Some(LoadBalancer {
                subnets: vec!["subnet-pa".into(), "subnet-pb".into()],
                ..LoadBalancer::default()
            }),
            load_balancer_attributes: Some(
                [
                    (attribute::DROP_INVALID_HEADER_FIELDS, "true"),
                    (attribute::ACCESS_LOGS, "true"),
                    (attribute::DELETION_PROTECTION, "true"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ),
            listeners: vec![
                Listener {
                    port: 80,
                    protocol: "HTTP".into(),
                    redirect: Some(REDIRECT_TO_HTTPS.into()),
                    ..Listener::default()
                },
                Listener {
                    port: 443,
                    protocol: "HTTPS".into(),
                    ..Listener::default()
                },
            ],
            group: Some(Group {
                subnets: vec!["subnet-a".into(), "subnet-b".into()],
                target_groups: vec!["arn:tg".into()],
                launch_template_id: "lt-1".into(),
                health_check_type: "ELB".into(),
                ..Group::default()
            }),
            group_template: Some(hardened),
            bastion: Some(bastion("required", "")),
            unencrypted_volumes: Some(
                [
                    ("i-bastion".to_string(), Vec::new()),
                    ("i-app".to_string(), Vec::new()),
                ]
                .into(),
            ),
            ..Inventory::default()
        }
    }

    fn judged(inv: &Inventory, control: &str) -> String {
        posture(inv)
            .get(control)
            .cloned()
            .unwrap_or_else(|| panic!("{control} not judged"))
    }

    fn assert_fails(inv: &Inventory, control: &str, reason: &str) {
        let value = judged(inv, control);
        assert!(
            value.starts_with("fail: ") && value.contains(reason),
            "{control}: {value:?} should fail saying {reason:?}"
        );
    }

    #[test]
    fn a_compliant_environment_passes_every_control_listed() {
        let report = posture(&compliant());
        let listed: Vec<&str> = CONTROLS.iter().map(|(id, _)| *id).collect();
        let mut judged: Vec<&str> = report.keys().map(String::as_str).collect();
        judged.sort_by_key(|id| listed.iter().position(|l| l == id));
        assert_eq!(judged, listed, "every documented control is judged");
        for (control, value) in &report {
            assert_eq!(value, PASS, "{control}");
        }
    }

    #[test]
    fn controls_without_observed_objects_are_left_out() {
        assert!(posture(&Inventory::default()).is_empty());
    }

    #[test]
    fn ec2_3_fails_for_each_instance_with_an_unencrypted_volume() {
        let mut inv = compliant();
        let bastion = inv.bastion.as_ref().unwrap().id.clone();
        inv.unencrypted_volumes = Some(
            [
                (bastion.clone(), vec!["vol-root".to_string()]),
                ("i-app".to_string(), vec!["vol-1".to_string()]),
            ]
            .into(),
        );
        assert_eq!(
            judged(&inv, "EC2.3"),
            format!("fail: app instance i-app has unencrypted volume vol-1; bastion {bastion} has unencrypted volume vol-root; apply replaces it")
        );
    }

    #[test]
    fn ec2_2_fails_while_the_default_group_has_rules() {
        let mut inv = compliant();
        inv.default_group = Some(SecurityGroup {
            id: "sg-default".into(),
            egress: vec![RawRule::all_traffic_ipv4()],
            ..SecurityGroup::default()
        });
        assert_fails(&inv, "EC2.2", "sg-default has 0 ingress and 1 egress rules");
    }

    #[test]
    fn ec2_6_needs_a_flow_log_of_rejected_traffic() {
        let mut inv = compliant();
        inv.flow_logs = Some(vec![FlowLog {
            id: "fl-accept".into(),
            traffic_type: "ACCEPT".into(),
        }]);
        assert_fails(&inv, "EC2.6", "(fl-accept) capture only accepted traffic");
        inv.flow_logs = Some(Vec::new());
        assert_fails(&inv, "EC2.6", "the VPC has no flow log: set flow_logs");
        inv.flow_logs.as_mut().unwrap().push(FlowLog {
            id: "fl-reject".into(),
            traffic_type: "REJECT".into(),
        });
        assert_eq!(judged(&inv, "EC2.6"), PASS);
    }

    fn bastion(tokens: &str, public_ip: &str) -> Found {
        Found {
            id: "i-bastion".into(),
            detail: [
                ("http_tokens", tokens.to_string()),
                ("public_ip", public_ip.to_string()),
            ]
            .into(),
            ..Found::default()
        }
    }

    #[test]
    fn ec2_8_judges_the_bastions_metadata_tokens() {
        let mut inv = compliant();
        inv.bastion = Some(bastion("required", ""));
        assert_eq!(judged(&inv, "EC2.8"), PASS);
        inv.bastion = Some(bastion("optional", ""));
        assert_fails(
            &inv,
            "EC2.8",
            "i-bastion does not require IMDSv2 (http_tokens optional)",
        );
    }

    #[test]
    fn ec2_9_fails_by_design_for_the_bastions_public_address() {
        let mut inv = compliant();
        inv.bastion = Some(bastion("required", "198.51.100.7"));
        assert_fails(
            &inv,
            "EC2.9",
            "i-bastion has public IPv4 198.51.100.7 by design",
        );
        inv.bastion = None;
        inv.group_template
            .as_mut()
            .unwrap()
            .settings
            .hardening
            .public_ip = true;
        assert_fails(&inv, "EC2.9", "app instances get public IPv4");
    }

    #[test]
    fn ec2_15_names_public_subnets_as_by_design_and_private_ones_as_repaired() {
        let mut inv = compliant();
        inv.listed
            .insert("subnet/public/a".into(), subnet("subnet-pa", "a", true));
        assert_fails(
            &inv,
            "EC2.15",
            "subnet/public/a assign public IPv4 on launch by design",
        );
        inv.listed
            .insert("subnet/private/b".into(), subnet("subnet-b", "b", true));
        assert_fails(
            &inv,
            "EC2.15",
            "subnet/private/b assign public IPv4 on launch; apply turns it off",
        );
    }

    #[test]
    fn ec2_15_without_a_bastion_says_the_public_mapping_is_repaired() {
        let mut inv = compliant();
        inv.bastion = None;
        inv.listed
            .insert("subnet/public/a".into(), subnet("subnet-pa", "a", true));
        assert_eq!(
            judged(&inv, "EC2.15"),
            "fail: subnet/public/a assign public IPv4 on launch, which nothing needs without a bastion; apply turns it off"
        );
    }

    #[test]
    fn ec2_18_allows_only_80_and_443_from_anywhere() {
        let mut inv = compliant();
        inv.security_groups
            .get_mut("sg/app")
            .unwrap()
            .ingress
            .push(RawRule {
                protocol: "tcp".into(),
                from_port: 1500,
                to_port: 2000,
                source: RuleSource::Ipv6Cidr("::/0".into()),
            });
        assert_fails(&inv, "EC2.18", "sg/app allows tcp/1500-2000 from ::/0");
        // a range over no high-risk port is not EC2.19's business
        assert_eq!(judged(&inv, "EC2.19"), PASS);
    }

    #[test]
    fn ec2_19_refuses_high_risk_ports_from_anywhere_in_any_group() {
        let mut inv = compliant();
        inv.security_groups
            .get_mut("sg/app")
            .unwrap()
            .ingress
            .push(tcp(22, world()));
        assert_fails(&inv, "EC2.19", "sg/app allows tcp/22 from 0.0.0.0/0");
        assert_fails(&inv, "EC2.18", "sg/app allows tcp/22 from 0.0.0.0/0");
        let mut inv = compliant();
        inv.default_group = Some(group_with(vec![RawRule {
            protocol: "-1".into(),
            from_port: -1,
            to_port: -1,
            source: world(),
        }]));
        assert_fails(
            &inv,
            "EC2.19",
            "sg/default allows all traffic from 0.0.0.0/0",
        );
    }

    #[test]
    fn a_high_risk_port_open_to_a_network_passes() {
        let mut inv = compliant();
        inv.security_groups
            .get_mut("sg/app")
            .unwrap()
            .ingress
            .push(tcp(22, RuleSource::Cidr("203.0.113.0/24".into())));
        assert_eq!(judged(&inv, "EC2.19"), PASS);
        assert_eq!(judged(&inv, "EC2.18"), PASS);
    }

    #[test]
    fn ec2_170_and_ec2_25_judge_the_version_the_group_runs() {
        let mut inv = compliant();
        let weak = &mut inv.group_template.as_mut().unwrap().settings.hardening;
        weak.tokens_required = false;
        weak.public_ip = true;
        assert_fails(&inv, "EC2.170", "does not require IMDSv2");
        assert_fails(&inv, "EC2.25", "assigns public IPs");
    }

    #[test]
    fn elb_1_fails_while_http_serves_the_app() {
        let mut inv = compliant();
        inv.listeners = vec![Listener {
            port: 80,
            protocol: "HTTP".into(),
            ..Listener::default()
        }];
        assert_fails(&inv, "ELB.1", "port 80 serves without redirecting to HTTPS");
    }

    #[test]
    fn elb_attributes_fail_with_the_setting_that_fixes_them() {
        for (key, control, setting) in [
            (
                attribute::DROP_INVALID_HEADER_FIELDS,
                "ELB.4",
                "load_balancer.drop_invalid_header_fields",
            ),
            (attribute::ACCESS_LOGS, "ELB.5", "load_balancer.access_logs"),
            (
                attribute::DELETION_PROTECTION,
                "ELB.6",
                "load_balancer.deletion_protection",
            ),
        ] {
            let mut inv = compliant();
            inv.load_balancer_attributes
                .as_mut()
                .unwrap()
                .insert(key.to_string(), "false".into());
            assert_fails(&inv, control, setting);
        }
    }

    #[test]
    fn one_zone_fails_elb_13_and_autoscaling_2() {
        let mut inv = compliant();
        inv.load_balancer.as_mut().unwrap().subnets = vec!["subnet-pa".into()];
        inv.group.as_mut().unwrap().subnets = vec!["subnet-a".into()];
        assert_fails(&inv, "ELB.13", "spans 1 availability zone(s)");
        assert_fails(&inv, "AutoScaling.2", "spans 1 availability zone(s)");
    }

    #[test]
    fn autoscaling_1_and_9_judge_the_groups_health_checks_and_template() {
        let mut inv = compliant();
        let group = inv.group.as_mut().unwrap();
        group.health_check_type = "EC2".into();
        group.launch_template_id = String::new();
        assert_fails(&inv, "AutoScaling.1", "uses EC2 health checks, not ELB");
        assert_fails(
            &inv,
            "AutoScaling.9",
            "does not launch from a launch template",
        );
    }
}
