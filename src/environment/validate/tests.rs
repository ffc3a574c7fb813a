use super::*;
use super::{bastion::*, load_balancer::*, tags::*};
use crate::environment::model::{string_list, string_map, AccessLogsBlock, AppBlock, BastionBlock};
use crate::environment::model::{InstanceRefreshBlock, LoadBalancerBlock};
use std::collections::BTreeMap;

fn config() -> EnvironmentState {
    EnvironmentState {
        name: Value::Value("shop".into()),
        bastion: Value::Value(vec![BastionBlock {
            enabled: Value::Value(false),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn problems(change: impl FnOnce(&mut EnvironmentState)) -> Vec<(String, String)> {
    let mut c = config();
    change(&mut c);
    check(&c)
        .into_iter()
        .map(|p| (p.path_text(), p.detail))
        .collect()
}

#[test]
fn a_plain_configuration_is_valid() {
    assert_eq!(problems(|_| {}), Vec::<(String, String)>::new());
}

#[test]
fn sizes_name_the_block_attribute() {
    let found = problems(|c| {
        c.app = Value::Value(vec![AppBlock {
            min_size: Value::Value(4),
            max_size: Value::Value(2),
            ..Default::default()
        }])
    });
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "app[0].min_size");
    assert!(found[0].1.contains("Raise max_size to at least 4"));
}

#[test]
fn unknown_values_are_not_judged() {
    let found = problems(|c| {
        c.vpc_cidr = Value::Unknown;
        c.az_count = Value::Unknown;
        c.app = Value::Value(vec![AppBlock {
            port: Value::Unknown,
            min_size: Value::Unknown,
            ..Default::default()
        }]);
        c.tags = Value::Unknown;
    });
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn subnet_maps_must_cover_the_named_zones() {
    let zones = string_list(["us-east-1a".to_string(), "us-east-1b".to_string()]);
    let found = problems(|c| {
        c.availability_zones = zones;
        c.public_subnet_cidrs = string_map([("us-east-1a".to_string(), "10.0.0.0/24".to_string())]);
    });
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "public_subnet_cidrs");
    assert!(found[0].1.contains("`us-east-1b`"));
    let without_zones = problems(|c| {
        c.public_subnet_cidrs = string_map([("us-east-1a".to_string(), "10.0.0.0/24".to_string())]);
    });
    assert!(
        without_zones[0].1.contains("availability_zones is not set"),
        "{without_zones:?}"
    );
}

#[test]
fn tag_keys_are_paths_with_keys() {
    let found = problems(|c| c.tags = string_map([("prodvpc:x".to_string(), "1".to_string())]));
    assert_eq!(found[0].0, "tags[\"prodvpc:x\"]");
}

fn app(change: impl FnOnce(&mut AppBlock)) -> impl FnOnce(&mut EnvironmentState) {
    move |c| {
        let mut block = AppBlock::default();
        change(&mut block);
        c.app = Value::Value(vec![block]);
    }
}

fn refresh(
    min: Value<i64>,
    max: Value<i64>,
    warmup: Value<i64>,
) -> impl FnOnce(&mut EnvironmentState) {
    app(move |a| {
        a.instance_refresh = Value::Value(vec![InstanceRefreshBlock {
            min_healthy_percentage: min,
            max_healthy_percentage: max,
            instance_warmup: warmup,
            ..Default::default()
        }])
    })
}

#[test]
fn grace_period_and_refresh_preferences_follow_aws_rules() {
    use Value::{Null, Unknown};
    let v = Value::Value;
    for grace in [0, 300, 7200] {
        let found = problems(app(|a| a.health_check_grace_period = v(grace)));
        assert!(found.is_empty(), "{grace}: {found:?}");
    }
    for grace in [-1, 7201] {
        let found = problems(app(|a| a.health_check_grace_period = v(grace)));
        assert_eq!(found.len(), 1, "{grace}: {found:?}");
        assert_eq!(found[0].0, "app[0].health_check_grace_period");
        assert!(found[0].1.contains("0 to 7200 seconds"), "{found:?}");
    }
    for fine in [
        (Null, Null, Null),
        (v(0), v(100), v(0)),
        (v(100), v(200), v(3600)),
        (v(50), v(150), Null),
        // the default minimum (90) with the largest maximum it allows
        (Null, v(190), Null),
        (Unknown, v(200), Unknown),
    ] {
        let found = problems(refresh(fine.0, fine.1, fine.2));
        assert!(found.is_empty(), "{fine:?}: {found:?}");
    }
    let path = |name: &str| format!("app[0].instance_refresh[0].{name}");
    for (bad, attribute, fix) in [
        ((v(101), Null, Null), "min_healthy_percentage", "0 to 100"),
        ((v(-1), Null, Null), "min_healthy_percentage", "0 to 100"),
        ((Null, v(99), Null), "max_healthy_percentage", "100 to 200"),
        ((Null, v(201), Null), "max_healthy_percentage", "100 to 200"),
        (
            (v(40), v(150), Null),
            "max_healthy_percentage",
            "Lower max_healthy_percentage to 140 or raise min_healthy_percentage to 50",
        ),
        (
            (Null, v(191), Null),
            "max_healthy_percentage",
            "is 101 above min_healthy_percentage (90)",
        ),
        (
            (Null, Null, v(3601)),
            "instance_warmup",
            "0 to 3600 seconds",
        ),
    ] {
        let found = problems(refresh(bad.0, bad.1, bad.2));
        assert_eq!(found.len(), 1, "{bad:?}: {found:?}");
        assert_eq!(found[0].0, path(attribute), "{bad:?}");
        assert!(found[0].1.contains(fix), "{bad:?}: {found:?}");
    }
}

fn ssh<'a>(cidrs: &'a [&'a str]) -> impl FnOnce(&mut EnvironmentState) + 'a {
    move |c| {
        c.bastion = Value::Value(vec![BastionBlock {
            ssh_ingress_cidrs: string_list(cidrs.iter().map(|s| s.to_string())),
            ..Default::default()
        }])
    }
}

fn load_balancer(
    change: impl FnOnce(&mut LoadBalancerBlock),
) -> impl FnOnce(&mut EnvironmentState) {
    move |c| {
        let mut block = LoadBalancerBlock::default();
        change(&mut block);
        c.load_balancer = Value::Value(vec![block]);
    }
}

fn access_logs(bucket: &str, prefix: Option<&str>) -> impl FnOnce(&mut EnvironmentState) {
    let logs = AccessLogsBlock {
        bucket: Value::Value(bucket.to_string()),
        prefix: prefix.map(str::to_string).into(),
    };
    load_balancer(move |lb| lb.access_logs = Value::Value(vec![logs]))
}

#[test]
fn load_balancer_settings_name_their_attribute_and_the_fix() {
    for (seconds, valid) in [
        (0, false),
        (1, true),
        (60, true),
        (4000, true),
        (4001, false),
    ] {
        let found = problems(load_balancer(|lb| lb.idle_timeout = Value::Value(seconds)));
        assert_eq!(found.is_empty(), valid, "{seconds}: {found:?}");
        if !valid {
            assert_eq!(found[0].0, "load_balancer[0].idle_timeout");
            assert!(found[0].1.contains("1 to 4000"), "{found:?}");
        }
    }
    for (policy, valid) in [
        ("ELBSecurityPolicy-TLS13-1-2-2021-06", true),
        ("ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04", true),
        ("ELBSecurityPolicy-2016-08", true),
        ("TLS13-1-2-2021-06", false),
        ("ELBSecurityPolicy-", false),
        ("ELBSecurityPolicy-TLS 1.3", false),
    ] {
        let found = problems(load_balancer(|lb| {
            lb.ssl_policy = Value::Value(policy.to_string())
        }));
        assert_eq!(found.is_empty(), valid, "{policy}: {found:?}");
        if !valid {
            assert_eq!(found[0].0, "load_balancer[0].ssl_policy");
            assert!(found[0].1.contains("describe-ssl-policies"), "{found:?}");
        }
    }
}

#[test]
fn access_log_buckets_and_prefixes_follow_aws_rules() {
    for bucket in ["shop-alb-logs", "abc", "logs.example.com"] {
        assert!(
            problems(access_logs(bucket, Some("shop/prod"))).is_empty(),
            "{bucket}"
        );
    }
    for (bucket, says) in [
        ("ab", "3-63"),
        ("Shop-Logs", "lowercase"),
        ("arn:aws:s3:::logs", "lowercase"),
        ("-logs", "start and end"),
        ("logs..old", "two dots"),
        ("192.168.5.4", "IP address"),
        ("xn--logs", "reserves"),
    ] {
        let found = problems(access_logs(bucket, None));
        assert_eq!(found.len(), 1, "{bucket}: {found:?}");
        assert_eq!(found[0].0, "load_balancer[0].access_logs[0].bucket");
        assert!(found[0].1.contains(says), "{bucket}: {found:?}");
    }
    for (prefix, says) in [
        ("/shop", "without the slashes"),
        ("shop/", "\"shop\""),
        ("shop/AWSLogs", "AWSLogs"),
    ] {
        let found = problems(access_logs("shop-logs", Some(prefix)));
        assert_eq!(found.len(), 1, "{prefix}: {found:?}");
        assert_eq!(found[0].0, "load_balancer[0].access_logs[0].prefix");
        assert!(found[0].1.contains(says), "{prefix}: {found:?}");
    }
}

#[test]
fn names_are_judged_against_every_aws_name_they_feed() {
    for (name, says) in [
        ("shop--prod", "two hyphens"),
        ("sg-shop", "`sg-`"),
        ("internal-shop", "internal-"),
        ("shop_prod", "letters, digits and hyphens"),
    ] {
        let found = problems(|c| c.name = Value::Value(name.into()));
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        assert_eq!(found[0].0, "name");
        assert!(found[0].1.contains(says), "{name}: {}", found[0].1);
    }
    assert!(problems(|c| c.name = Value::Value("shop-prod-2".into())).is_empty());
}

#[test]
fn sizes_are_judged_with_their_defaults() {
    let alone_max = problems(app(|a| a.max_size = Value::Value(1)));
    assert_eq!(alone_max.len(), 1, "{alone_max:?}");
    assert_eq!(alone_max[0].0, "app[0].max_size");
    assert!(
        alone_max[0].1.contains("min_size is 2, the default"),
        "{alone_max:?}"
    );
    let zero = problems(app(|a| a.max_size = Value::Value(0)));
    assert_eq!(zero.len(), 1, "{zero:?}");
    assert!(zero[0].1.contains("at least 1"));
    let desired = problems(app(|a| a.desired_capacity = Value::Value(10)));
    assert_eq!(desired[0].0, "app[0].desired_capacity");
    assert!(
        desired[0].1.contains("max_size (4, the default)"),
        "{desired:?}"
    );
    // a larger min_size raises the default maximum with it
    assert!(problems(app(|a| a.min_size = Value::Value(6))).is_empty());
    let huge = problems(app(|a| a.max_size = Value::Value(1 << 40)));
    assert!(huge[0].1.contains("at most"), "{huge:?}");
}

#[test]
fn sizes_depending_on_an_unknown_are_not_judged() {
    let found = problems(app(|a| {
        a.min_size = Value::Unknown;
        a.desired_capacity = Value::Value(1);
    }));
    assert!(found.is_empty(), "{found:?}");
    let unknown_max = problems(app(|a| {
        a.max_size = Value::Unknown;
        a.desired_capacity = Value::Value(1);
    }));
    assert_eq!(unknown_max.len(), 1, "{unknown_max:?}");
    assert!(unknown_max[0].1.contains("min_size (2, the default)"));
    assert!(!unknown_max[0].1.contains("(max_size)"));
}

#[test]
fn ssh_sources_are_judged_by_the_addresses_they_cover_together() {
    let halves = problems(ssh(&["0.0.0.0/1", "128.0.0.0/1"]));
    assert_eq!(halves.len(), 1, "{halves:?}");
    assert_eq!(halves[0].0, "bastion[0].ssh_ingress_cidrs");
    assert!(halves[0].1.contains("at most 16777216"), "{halves:?}");
    let world = problems(ssh(&["0.0.0.0/0"]));
    assert_eq!(world.len(), 1, "{world:?}");
    assert!(world[0].1.contains("every address"));
    let private_and_office = problems(ssh(&["10.0.0.0/8", "192.168.0.0/16", "203.0.113.0/24"]));
    assert!(private_and_office.is_empty(), "{private_and_office:?}");
    assert_eq!(public_addresses(&["10.0.0.0/7".parse().unwrap()]), 1 << 24);
    assert_eq!(
        public_addresses(&[
            "203.0.113.0/24".parse().unwrap(),
            "203.0.113.0/25".parse().unwrap()
        ]),
        256
    );
}

#[test]
fn certificate_arns_have_the_acm_or_iam_shape() {
    assert!(is_certificate_arn(
        "arn:aws:acm:us-east-1:123456789012:certificate/0b1c-22"
    ));
    assert!(is_certificate_arn(
        "arn:aws:iam::123456789012:server-certificate/wide"
    ));
    for bad in [
        "arn:nonsense",
        "arn:aws:acm:us-east-1:123:certificate/x",
        "arn:aws:s3:::bucket",
        "arn:aws:acm::123456789012:certificate/x",
        "arn:aws:acm:us-east-1:123456789012:certificate/",
    ] {
        assert!(!is_certificate_arn(bad), "{bad}");
    }
}

#[test]
fn tags_follow_aws_limits() {
    let many = problems(|c| {
        c.tags = string_map((0..48).map(|i| (format!("k{i}"), "v".to_string())));
    });
    assert_eq!(many.len(), 1, "{many:?}");
    assert!(many[0].1.contains("leaves 47"), "{many:?}");
    for (key, value, summary) in [
        ("", "v", "cannot be empty"),
        ("Name", "x", "names every object"),
        (&"k".repeat(129)[..], "v", "129 characters"),
        ("team", &"v".repeat(257)[..], "257 characters"),
        ("team", "a;b", "characters the load balancer refuses"),
    ] {
        let found = problems(|c| c.tags = string_map([(key.to_string(), value.to_string())]));
        assert_eq!(found.len(), 1, "{key}: {found:?}");
        assert!(found[0].1.contains(summary), "{key}: {found:?}");
    }
    let config = EnvironmentState {
        tags: string_map((0..40).map(|i| (format!("k{i}"), "v".to_string()))),
        ..config()
    };
    let defaults = (0..10)
        .map(|i| (format!("d{i}"), "v".to_string()))
        .collect();
    assert_eq!(check_tag_total(&config, &defaults).len(), 1);
    assert!(check_tag_total(&config, &BTreeMap::new()).is_empty());
}

#[test]
fn instance_profiles_are_names_or_profile_arns() {
    let good = "arn:aws:iam::123456789012:instance-profile/ops/app-ssm";
    assert!(problems(app(|a| a.iam_instance_profile = Value::Value(good.into()))).is_empty());
    assert!(problems(app(|a| a.iam_instance_profile = Value::Unknown)).is_empty());
    let role = problems(app(|a| {
        a.iam_instance_profile = Value::Value("arn:aws:iam::123456789012:role/app-ssm".into())
    }));
    assert_eq!(role.len(), 1, "{role:?}");
    assert_eq!(role[0].0, "app[0].iam_instance_profile");
    assert!(role[0].1.contains("is not an instance profile"), "{role:?}");
    assert!(
        role[0].1.contains("leave iam_instance_profile out"),
        "{role:?}"
    );
    let bastion = problems(|c| {
        c.bastion = Value::Value(vec![BastionBlock {
            enabled: Value::Value(false),
            iam_instance_profile: Value::Value("ops profile".into()),
            ..Default::default()
        }])
    });
    assert_eq!(bastion.len(), 1, "{bastion:?}");
    assert_eq!(bastion[0].0, "bastion[0].iam_instance_profile");
    assert!(bastion[0].1.contains("not ` `"), "{bastion:?}");
}

#[test]
fn user_data_and_durations_have_usable_sizes() {
    let long = problems(app(|a| {
        a.user_data = Value::Value("x".repeat(16 * 1024 + 1))
    }));
    assert_eq!(long[0].0, "app[0].user_data");
    let found = problems(|c| {
        c.timeouts = Value::Value(vec![super::super::model::TimeoutsBlock {
            create: Value::Value("99999999999999999999999h".into()),
            delete: Value::Value("169h".into()),
            update: Value::Value("soon".into()),
        }])
    });
    let summaries: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "timeouts[0].create",
            "timeouts[0].update",
            "timeouts[0].delete"
        ]
    );
    assert!(found[0].1.contains("\"168h\""), "{found:?}");
    assert!(found[1].1.contains("not a duration"), "{found:?}");
}

#[test]
fn subnets_leave_room_for_the_load_balancer_and_the_other_tier() {
    let small_vpc = problems(|c| c.vpc_cidr = Value::Value("10.0.0.0/24".into()));
    assert_eq!(small_vpc.len(), 1, "{small_vpc:?}");
    assert_eq!(small_vpc[0].0, "vpc_cidr");
    assert!(small_vpc[0].1.contains("/23 or larger"), "{small_vpc:?}");
    let zones = || string_list(["us-east-1a".to_string(), "us-east-1b".to_string()]);
    let tiny_public = problems(|c| {
        c.availability_zones = zones();
        c.public_subnet_cidrs = string_map([
            ("us-east-1a".to_string(), "10.0.0.0/28".to_string()),
            ("us-east-1b".to_string(), "10.0.1.0/24".to_string()),
        ]);
    });
    assert_eq!(tiny_public.len(), 1, "{tiny_public:?}");
    assert_eq!(tiny_public[0].0, "public_subnet_cidrs[\"us-east-1a\"]");
    let no_room = problems(|c| {
        c.availability_zones = zones();
        c.public_subnet_cidrs = string_map([
            ("us-east-1a".to_string(), "10.0.0.0/17".to_string()),
            ("us-east-1b".to_string(), "10.0.128.0/17".to_string()),
        ]);
    });
    assert_eq!(no_room.len(), 1, "{no_room:?}");
    assert_eq!(no_room[0].0, "public_subnet_cidrs");
    assert!(no_room[0].1.contains("private"), "{no_room:?}");
}

#[test]
fn zone_count_advice_fits_the_number() {
    let found = problems(|c| c.az_count = Value::Value(100));
    assert!(found[0].1.contains("from 2 to 8"), "{found:?}");
    assert!(!found[0].1.contains("2 or more"), "{found:?}");
}

#[test]
fn ingress_blocks_are_counted_as_the_rules_they_make() {
    let blocks = |count: usize| string_list((0..count).map(|i| format!("198.51.100.{i}/32")));
    let with = |count: usize, certificate: Option<&str>| {
        problems(|c| {
            c.load_balancer = Value::Value(vec![LoadBalancerBlock {
                ingress_cidrs: blocks(count),
                certificate_arn: certificate.map(str::to_string).into(),
                ..Default::default()
            }])
        })
    };
    assert!(with(60, None).is_empty());
    let found = with(61, None);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "load_balancer[0].ingress_cidrs");
    assert!(
        found[0].1.contains("These 61 blocks make 61 inbound rules")
            && found[0].1.contains("AWS allows 60"),
        "{found:?}"
    );
    let certificate = "arn:aws:iam::123456789012:server-certificate/shop";
    assert!(with(30, Some(certificate)).is_empty());
    let found = with(31, Some(certificate));
    assert!(
        found[0].1.contains("make 62 inbound rules")
            && found[0].1.contains("tcp/80 and tcp/443")
            && found[0].1.contains("List at most 30 blocks"),
        "{found:?}"
    );
    let found = problems(|c| {
        c.bastion = Value::Value(vec![BastionBlock {
            ssh_ingress_cidrs: blocks(61),
            ..Default::default()
        }])
    });
    assert!(
        found
            .iter()
            .any(|(path, detail)| path == "bastion[0].ssh_ingress_cidrs"
                && detail.contains("make 61 inbound rules on the bastion's security group")),
        "{found:?}"
    );
}

#[test]
fn write_only_user_data_comes_alone_with_its_version() {
    let script = || Value::Value("#!/bin/sh\necho hi".to_string());
    let paths = |found: Vec<(String, String)>| -> Vec<String> {
        found.into_iter().map(|(path, _)| path).collect()
    };
    assert!(problems(app(|a| {
        a.user_data_wo = script();
        a.user_data_wo_version = Value::Value(1);
    }))
    .is_empty());
    // an unknown script (a variable, an ephemeral value) is judged at apply
    assert!(problems(app(|a| {
        a.user_data_wo = Value::Unknown;
        a.user_data_wo_version = Value::Value(1);
    }))
    .is_empty());
    let both = problems(app(|a| {
        a.user_data = script();
        a.user_data_wo = script();
        a.user_data_wo_version = Value::Value(1);
    }));
    assert_eq!(paths(both.clone()), ["app[0].user_data_wo"]);
    assert!(both[0].1.contains("not both"), "{both:?}");
    let unversioned = problems(app(|a| a.user_data_wo = script()));
    assert_eq!(paths(unversioned), ["app[0].user_data_wo_version"]);
    let stray_version = problems(app(|a| a.user_data_wo_version = Value::Value(2)));
    assert_eq!(paths(stray_version), ["app[0].user_data_wo_version"]);
    let negative = problems(app(|a| {
        a.user_data_wo = script();
        a.user_data_wo_version = Value::Value(-1);
    }));
    assert_eq!(paths(negative), ["app[0].user_data_wo_version"]);
    let long = problems(app(|a| {
        a.user_data_wo = Value::Value("x".repeat(16 * 1024 + 1));
        a.user_data_wo_version = Value::Value(1);
    }));
    assert_eq!(paths(long), ["app[0].user_data_wo"]);
}

#[test]
fn a_terraform_without_write_only_support_is_refused_only_when_the_script_is_set() {
    let mut c = config();
    assert!(write_only_unsupported(&c).is_empty());
    c.app = Value::Value(vec![AppBlock {
        user_data: Value::Value("plain".into()),
        ..Default::default()
    }]);
    assert!(write_only_unsupported(&c).is_empty());
    c.app = Value::Value(vec![AppBlock {
        user_data_wo: Value::Unknown,
        user_data_wo_version: Value::Value(1),
        ..Default::default()
    }]);
    let refused = write_only_unsupported(&c);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].path_text(), "app[0].user_data_wo");
    assert!(refused[0].detail.contains("Terraform 1.11"));
}

#[test]
fn a_mix_needs_distinct_types_a_percentage_and_a_strategy_aws_knows() {
    use crate::environment::model::MixedInstancesBlock;
    let mixed = |change: fn(&mut MixedInstancesBlock)| {
        let mut block = MixedInstancesBlock {
            instance_types: string_list(["t3.micro".to_string(), "t3a.micro".to_string()]),
            ..Default::default()
        };
        change(&mut block);
        problems(app(move |a| a.mixed_instances = Value::Value(vec![block])))
            .into_iter()
            .map(|(path, _)| path)
            .collect::<Vec<_>>()
    };
    assert!(mixed(|_| {}).is_empty());
    assert!(mixed(|m| {
        m.on_demand_base_capacity = Value::Value(2);
        m.on_demand_percentage_above_base_capacity = Value::Value(0);
        m.spot_allocation_strategy = Value::Value("capacity-optimized".into());
    })
    .is_empty());
    assert_eq!(
        mixed(|m| m.instance_types = string_list(Vec::new())),
        ["app[0].mixed_instances[0].instance_types"]
    );
    assert_eq!(
        mixed(|m| m.instance_types = string_list(["t3.micro".to_string(), "t3.micro".to_string()])),
        ["app[0].mixed_instances[0].instance_types[1]"]
    );
    assert_eq!(
        mixed(|m| m.instance_types = string_list(["large".to_string()])),
        ["app[0].mixed_instances[0].instance_types[0]"]
    );
    assert_eq!(
        mixed(|m| m.instance_types = string_list((0..41).map(|i| format!("t{i}.micro")))),
        ["app[0].mixed_instances[0].instance_types"]
    );
    assert_eq!(
        mixed(|m| m.on_demand_percentage_above_base_capacity = Value::Value(101)),
        ["app[0].mixed_instances[0].on_demand_percentage_above_base_capacity"]
    );
    assert_eq!(
        mixed(|m| m.on_demand_base_capacity = Value::Value(-1)),
        ["app[0].mixed_instances[0].on_demand_base_capacity"]
    );
    assert_eq!(
        mixed(|m| m.spot_allocation_strategy = Value::Value("cheapest".into())),
        ["app[0].mixed_instances[0].spot_allocation_strategy"]
    );
}

#[test]
fn ipv6_blocks_are_well_formed_need_ipv6_and_never_open_ssh_to_all() {
    let ipv6_ssh = |ipv6: bool, blocks: &'static [&'static str]| {
        move |c: &mut EnvironmentState| {
            c.ipv6 = Value::Value(ipv6);
            c.bastion = Value::Value(vec![BastionBlock {
                ssh_ingress_cidrs: string_list(["203.0.113.0/24".to_string()]),
                ssh_ingress_ipv6_cidrs: string_list(blocks.iter().map(|s| s.to_string())),
                ..Default::default()
            }]);
        }
    };
    assert_eq!(problems(ipv6_ssh(true, &["2001:db8::/48"])), vec![]);
    let found = problems(ipv6_ssh(true, &["::/0"]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "bastion[0].ssh_ingress_ipv6_cidrs[0]");
    let found = problems(ipv6_ssh(true, &["2001:db8::1/48"]));
    assert_eq!(found[0].0, "bastion[0].ssh_ingress_ipv6_cidrs[0]");
    assert!(found[0].1.contains("2001:db8::/48"), "{found:?}");
    let found = problems(ipv6_ssh(false, &["2001:db8::/48"]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "bastion[0].ssh_ingress_ipv6_cidrs");
    assert!(found[0].1.contains("ipv6 = true"), "{found:?}");
    let found = problems(load_balancer(|lb| {
        lb.ingress_ipv6_cidrs = string_list(["::/0".to_string()]);
    }));
    assert_eq!(found[0].0, "load_balancer[0].ingress_ipv6_cidrs");
}

#[test]
fn a_dhcp_options_set_is_named_by_its_id_or_default() {
    for fine in ["dopt-0123456789abcdef0", "dopt-1a2b3c4d", "default"] {
        let found = problems(|c| c.dhcp_options_id = Value::Value(fine.into()));
        assert!(found.is_empty(), "{fine}: {found:?}");
    }
    for wrong in [
        "dopt-xyz",
        "0123456789abcdef0",
        "dopt-0123456789ABCDEF0",
        "Default",
    ] {
        let found = problems(|c| c.dhcp_options_id = Value::Value(wrong.into()));
        assert_eq!(found.len(), 1, "{wrong}: {found:?}");
        assert_eq!(found[0].0, "dhcp_options_id");
        assert!(found[0].1.contains("dopt-0123456789abcdef0"), "{found:?}");
    }
}
