use super::*;
use crate::plan::drift::{Finding, Repair};
use model::{string_list, AppBlock, BastionBlock, LoadBalancerBlock};

fn known(pairs: &[(&str, &str)]) -> model::StrMap {
    string_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// A state as it stands after an apply.
fn applied() -> EnvironmentState {
    let mut state = EnvironmentState {
        id: Value::Value("shop".into()),
        name: Value::Value("shop".into()),
        vpc_cidr: Value::Value("10.0.0.0/16".into()),
        az_count: Value::Value(2),
        availability_zones: string_list(["us-east-1a".to_string(), "us-east-1b".to_string()]),
        nat_gateways: Value::Value("single".into()),
        dhcp_options_id: Value::Value("dopt-1".into()),
        public_subnet_cidrs: known(&[
            ("us-east-1a", "10.0.0.0/20"),
            ("us-east-1b", "10.0.16.0/20"),
        ]),
        private_subnet_cidrs: known(&[
            ("us-east-1a", "10.0.128.0/20"),
            ("us-east-1b", "10.0.144.0/20"),
        ]),
        public_subnet_ids: known(&[("us-east-1a", "subnet-a"), ("us-east-1b", "subnet-b")]),
        private_subnet_ids: known(&[("us-east-1a", "subnet-c"), ("us-east-1b", "subnet-d")]),
        nat_gateway_ids: known(&[("us-east-1a", "nat-a")]),
        nat_public_ips: known(&[("us-east-1a", "198.51.100.1")]),
        security_group_ids: known(&[("alb", "sg-1"), ("app", "sg-2"), ("bastion", "sg-3")]),
        target_group_arn: Value::Value("tg".into()),
        listener_arns: known(&[("http", "listener-http")]),
        launch_template_version: Value::Value(1),
        autoscaling_group_name: Value::Value("shop-app".into()),
        bastion_instance_id: Value::Value("i-1".into()),
        bastion_public_ip: Value::Value("203.0.113.1".into()),
        vpc_endpoint_ids: known(&[("dynamodb", "vpce-d"), ("s3", "vpce-s")]),
        drift: string_list(Vec::new()),
        posture: known(&[
            ("EC2.2", "pass"),
            ("EC2.6", "fail: the VPC has no flow log"),
        ]),
        app: Value::Value(vec![AppBlock::default()]),
        load_balancer: Value::Value(vec![LoadBalancerBlock::default()]),
        bastion: Value::Value(vec![BastionBlock {
            ssh_ingress_cidrs: string_list(["198.51.100.0/24".to_string()]),
            ami_id: Value::Value("ami-1".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    state.apply_defaults();
    if let Some(app) = state.app.as_mut_option().and_then(|a| a.first_mut()) {
        app.ami_id = Value::Value("ami-1".into());
    }
    state
}

fn plan(prior: &EnvironmentState, change: impl FnOnce(&mut EnvironmentState)) -> EnvironmentState {
    let mut planned = prior.clone();
    change(&mut planned);
    let config = EnvironmentState::default();
    plan_outputs(prior, &config, &mut planned, &Refreshed::default());
    planned
}

#[test]
fn input_changes_are_seen_and_output_changes_are_not() {
    let prior = applied();
    let mut refreshed = prior.clone();
    refreshed.bastion_public_ip = Value::Value("203.0.113.99".into());
    assert_eq!(inputs_of(&refreshed), inputs_of(&prior));
    let mut changed = prior.clone();
    changed.app.as_mut_option().unwrap()[0].port = Value::Value(9090);
    assert_ne!(inputs_of(&changed), inputs_of(&prior));
    changed = prior.clone();
    changed.vpc_cidr = Value::Value("10.1.0.0/16".into());
    let paths = crate::environment::schema::replacement_paths(&prior, &changed);
    assert_eq!(paths, vec![tf_provider::AttributePath::new("vpc_cidr")]);
    assert!(crate::environment::schema::replacement_paths(&prior, &prior).is_empty());
}

#[test]
fn a_size_change_keeps_every_output_known() {
    let prior = applied();
    let planned = plan(&prior, |s| {
        s.app.as_mut_option().unwrap()[0].max_size = Value::Value(9)
    });
    assert_eq!(planned.public_subnet_ids, prior.public_subnet_ids);
    assert_eq!(planned.nat_gateway_ids, prior.nat_gateway_ids);
    assert_eq!(planned.security_group_ids, prior.security_group_ids);
    assert_eq!(planned.target_group_arn, prior.target_group_arn);
    assert_eq!(
        planned.launch_template_version,
        prior.launch_template_version
    );
    assert_eq!(planned.bastion_instance_id, prior.bastion_instance_id);
}

#[test]
fn endpoint_ids_stay_known_and_follow_the_services() {
    let prior = applied();
    let planned = plan(&prior, |s| {
        s.app.as_mut_option().unwrap()[0].max_size = Value::Value(9)
    });
    assert_eq!(planned.vpc_endpoint_ids, prior.vpc_endpoint_ids);
    let planned = plan(&prior, |s| {
        s.vpc_endpoints = Value::Value(vec![model::EndpointsBlock {
            s3: Value::Value(true),
            dynamodb: Value::Value(false),
            public_route_table: Value::Value(true),
        }]);
    });
    assert_eq!(planned.vpc_endpoint_ids, known(&[("s3", "vpce-s")]));
    let mut without = prior.clone();
    without.vpc_endpoint_ids = known(&[("s3", "vpce-s")]);
    let planned = plan(&without, |_| {});
    let ids = planned.vpc_endpoint_ids.as_ref_option().unwrap();
    assert!(
        ids["dynamodb"].is_unknown(),
        "a new endpoint's ID is unknown"
    );
    assert_eq!(ids["s3"], Value::Value("vpce-s".to_string()));
}

#[test]
fn a_grace_period_or_refresh_preference_change_keeps_every_output_known() {
    let prior = applied();
    let planned = plan(&prior, |s| {
        let app = &mut s.app.as_mut_option().unwrap()[0];
        app.health_check_grace_period = Value::Value(0);
        app.instance_refresh = Value::Value(vec![model::InstanceRefreshBlock {
            min_healthy_percentage: Value::Value(50),
            max_healthy_percentage: Value::Value(150),
            instance_warmup: Value::Value(30),
            wait_for_completion: Value::Value(false),
        }]);
    });
    assert_ne!(inputs_of(&planned), inputs_of(&prior));
    let mut outputs_only = planned.clone();
    outputs_only.app = prior.app.clone();
    assert_eq!(
        outputs_only, prior,
        "no computed attribute changes, the posture included"
    );
    assert!(disruptions(&prior, &planned, &Refreshed::default()).is_empty());
}

#[test]
fn the_replacement_warning_gives_the_configured_healthy_share() {
    let prior = applied();
    let planned = plan(&prior, |s| {
        let app = &mut s.app.as_mut_option().unwrap()[0];
        app.instance_type = Value::Value("t3.large".into());
        app.instance_refresh = Value::Value(vec![model::InstanceRefreshBlock {
            min_healthy_percentage: Value::Value(75),
            ..Default::default()
        }]);
    });
    let warnings = disruptions(&prior, &planned, &Refreshed::default());
    assert!(
        warnings[0].detail.contains("keep 75% of the group"),
        "{warnings:?}"
    );
    assert!(
        warnings[0]
            .detail
            .contains("Apply returns once every instance runs the new version"),
        "{warnings:?}"
    );
    let without_waiting = plan(&prior, |s| {
        let app = &mut s.app.as_mut_option().unwrap()[0];
        app.instance_type = Value::Value("t3.large".into());
        app.instance_refresh = Value::Value(vec![model::InstanceRefreshBlock {
            wait_for_completion: Value::Value(false),
            ..Default::default()
        }]);
    });
    let warnings = disruptions(&prior, &without_waiting, &Refreshed::default());
    assert!(
        warnings[0]
            .detail
            .contains("Apply returns once the refresh has started"),
        "{warnings:?}"
    );
    let defaults = plan(&prior, |s| {
        s.app.as_mut_option().unwrap()[0].instance_type = Value::Value("t3.large".into())
    });
    let warnings = disruptions(&prior, &defaults, &Refreshed::default());
    assert!(
        warnings[0].detail.contains("keep 90% of the group"),
        "{warnings:?}"
    );
}

#[test]
fn a_port_change_replaces_only_the_target_group() {
    let prior = applied();
    let planned = plan(&prior, |s| {
        s.app.as_mut_option().unwrap()[0].port = Value::Value(9090)
    });
    assert!(planned.target_group_arn.is_unknown());
    assert_eq!(planned.listener_arns, prior.listener_arns);
    assert_eq!(
        planned.launch_template_version,
        prior.launch_template_version
    );
}

#[test]
fn a_new_nat_gateway_is_unknown_and_the_kept_one_known() {
    let prior = applied();
    let planned = plan(&prior, |s| {
        s.nat_gateways = Value::Value("one_per_az".into())
    });
    let nats = planned.nat_gateway_ids.as_ref_option().unwrap();
    assert_eq!(nats["us-east-1a"], Value::Value("nat-a".to_string()));
    assert!(nats["us-east-1b"].is_unknown());
}

#[test]
fn an_added_zone_is_carved_and_the_others_keep_their_blocks() {
    let prior = applied();
    let planned = plan(&prior, |s| {
        s.availability_zones =
            string_list(["us-east-1a", "us-east-1b", "us-east-1c"].map(String::from));
        s.az_count = Value::Value(3);
    });
    let public = known_map(&planned.public_subnet_cidrs).unwrap();
    assert_eq!(public["us-east-1a"], "10.0.0.0/20");
    assert_eq!(public["us-east-1c"], "10.0.32.0/20");
    let ids = planned.public_subnet_ids.as_ref_option().unwrap();
    assert_eq!(ids["us-east-1b"], Value::Value("subnet-b".to_string()));
    assert!(ids["us-east-1c"].is_unknown());
}

#[test]
fn disabling_the_bastion_nulls_its_outputs_and_group() {
    let prior = applied();
    let planned = plan(&prior, |s| {
        s.bastion.as_mut_option().unwrap()[0].enabled = Value::Value(false)
    });
    assert!(planned.bastion_instance_id.is_null());
    assert!(!planned
        .security_group_ids
        .as_ref_option()
        .unwrap()
        .contains_key("bastion"));
}

#[test]
fn a_new_instance_type_rolls_the_template_version() {
    let prior = applied();
    let planned = plan(&prior, |s| {
        s.app.as_mut_option().unwrap()[0].instance_type = Value::Value("t3.large".into())
    });
    assert!(planned.launch_template_version.is_unknown());
    assert_eq!(planned.bastion_instance_id, prior.bastion_instance_id);
    let warnings = disruptions(&prior, &planned, &Refreshed::default());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].summary, "Every app instance will be replaced");
    assert_eq!(
        warnings[0].path,
        AttributePath::new("app")
            .index(0)
            .attribute("instance_type")
    );
}

#[test]
fn instance_profiles_roll_the_app_and_keep_the_bastion() {
    let prior = applied();
    let planned = plan(&prior, |s| {
        s.app.as_mut_option().unwrap()[0].iam_instance_profile = Value::Value("ssm".into());
        s.bastion.as_mut_option().unwrap()[0].iam_instance_profile = Value::Value("ops".into());
    });
    assert!(planned.launch_template_version.is_unknown());
    assert_eq!(planned.bastion_instance_id, prior.bastion_instance_id);
    assert_eq!(planned.bastion_public_ip, prior.bastion_public_ip);
    let warnings = disruptions(&prior, &planned, &Refreshed::default());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].path,
        AttributePath::new("app")
            .index(0)
            .attribute("iam_instance_profile")
    );
}

#[test]
fn a_change_no_control_looks_at_keeps_the_posture_known() {
    let prior = applied();
    for change in [
        (|app: &mut AppBlock| app.cpu_target = Value::Value(70.0)) as fn(&mut AppBlock),
        |app| app.health_check_path = Value::Value("/ready".into()),
        |app| app.min_size = Value::Value(3),
    ] {
        let planned = plan(&prior, |s| change(&mut s.app.as_mut_option().unwrap()[0]));
        assert_eq!(planned.posture, prior.posture);
    }
    for change in [
        (|s: &mut EnvironmentState| {
            s.load_balancer.as_mut_option().unwrap()[0].ingress_cidrs =
                string_list(["10.0.0.0/8".to_string()])
        }) as fn(&mut EnvironmentState),
        |s| s.bastion.as_mut_option().unwrap()[0].enabled = Value::Value(false),
        |s| s.app.as_mut_option().unwrap()[0].instance_type = Value::Value("t3.large".into()),
        |s| {
            s.az_count = Value::Value(3);
            s.availability_zones =
                string_list(["us-east-1a", "us-east-1b", "us-east-1c"].map(String::from));
        },
    ] {
        let planned = plan(&prior, change);
        assert_eq!(planned.posture, Value::Unknown);
    }
}

/// The keys of a planned map, and which of its values are unknown.
fn keys_and_unknowns(map: &model::StrMap) -> (Vec<String>, Vec<String>) {
    let entries = map.as_ref_option().expect("a known map");
    (
        entries.keys().cloned().collect(),
        entries
            .iter()
            .filter(|(_, v)| v.is_unknown())
            .map(|(k, _)| k.clone())
            .collect(),
    )
}

/// A create's planned state once the zones are known, from `config`.
fn first_plan(config: &EnvironmentState) -> EnvironmentState {
    let mut planned = config.clone();
    planned.apply_defaults();
    unknown_outputs(&mut planned);
    planned.availability_zones = string_list(["us-east-1a", "us-east-1b"].map(String::from));
    plan_outputs(
        &EnvironmentState::default(),
        config,
        &mut planned,
        &Refreshed::default(),
    );
    planned
}

#[test]
fn a_first_plan_knows_the_keys_and_the_carved_blocks() {
    let config = EnvironmentState {
        name: Value::Value("shop".into()),
        nat_gateways: Value::Value("one_per_az".into()),
        ..Default::default()
    };
    let planned = first_plan(&config);
    let zones = vec!["us-east-1a".to_string(), "us-east-1b".to_string()];
    for ids in [
        &planned.public_subnet_ids,
        &planned.private_subnet_ids,
        &planned.nat_gateway_ids,
        &planned.nat_public_ips,
    ] {
        assert_eq!(keys_and_unknowns(ids), (zones.clone(), zones.clone()));
    }
    assert_eq!(
        known_map(&planned.public_subnet_cidrs).unwrap(),
        BTreeMap::from([
            ("us-east-1a".to_string(), "10.0.0.0/20".to_string()),
            ("us-east-1b".to_string(), "10.0.16.0/20".to_string()),
        ])
    );
    assert_eq!(
        known_map(&planned.private_subnet_cidrs).unwrap().len(),
        2,
        "{:?}",
        planned.private_subnet_cidrs
    );
    let roles = ["alb", "app", "bastion"].map(String::from).to_vec();
    assert_eq!(
        keys_and_unknowns(&planned.security_group_ids),
        (roles.clone(), roles)
    );
    assert!(planned.vpc_id.is_unknown() && planned.posture.is_unknown());
}

#[test]
fn configured_blocks_unknown_at_plan_are_kept_and_the_carving_waits_for_them() {
    let unknown_blocks: model::StrMap = Value::Value(BTreeMap::from([
        ("us-east-1a".to_string(), Value::Unknown),
        ("us-east-1b".to_string(), Value::Unknown),
    ]));
    let config = EnvironmentState {
        name: Value::Value("shop".into()),
        private_subnet_cidrs: unknown_blocks.clone(),
        ..Default::default()
    };
    let planned = first_plan(&config);
    assert_eq!(
        planned.private_subnet_cidrs, unknown_blocks,
        "as configured"
    );
    assert_eq!(
        planned.public_subnet_cidrs, unknown_blocks,
        "carved at apply, clear of the configured blocks"
    );
    let wholly_unknown = EnvironmentState {
        private_subnet_cidrs: Value::Unknown,
        ..config
    };
    let planned = first_plan(&wholly_unknown);
    assert_eq!(planned.private_subnet_cidrs, Value::Unknown);
    assert_eq!(planned.public_subnet_cidrs, unknown_blocks);
}

#[test]
fn a_zone_count_change_makes_unknown_only_the_added_zone() {
    let mut prior = applied();
    prior.nat_gateways = Value::Value("one_per_az".into());
    prior.nat_gateway_ids = known(&[("us-east-1a", "nat-a"), ("us-east-1b", "nat-b")]);
    prior.nat_public_ips = known(&[("us-east-1a", "192.0.2.1"), ("us-east-1b", "192.0.2.2")]);
    let three = plan(&prior, |s| {
        s.az_count = Value::Value(3);
        s.availability_zones =
            string_list(["us-east-1a", "us-east-1b", "us-east-1c"].map(String::from));
    });
    let added = vec!["us-east-1c".to_string()];
    for (planned, before) in [
        (&three.public_subnet_ids, &prior.public_subnet_ids),
        (&three.private_subnet_ids, &prior.private_subnet_ids),
        (&three.nat_gateway_ids, &prior.nat_gateway_ids),
        (&three.nat_public_ips, &prior.nat_public_ips),
    ] {
        assert_eq!(keys_and_unknowns(planned).1, added);
        let kept = planned.as_ref_option().unwrap();
        for (zone, id) in before.as_ref_option().unwrap() {
            assert_eq!(&kept[zone], id);
        }
    }
    assert_eq!(
        known_map(&three.private_subnet_cidrs).unwrap().len(),
        3,
        "the added zone's blocks are carved at plan"
    );
    assert_eq!(three.bastion_instance_id, prior.bastion_instance_id);
    assert_eq!(three.bastion_public_ip, prior.bastion_public_ip);
    assert_eq!(three.launch_template_version, prior.launch_template_version);
    let mut after = three.clone();
    for map in [
        &mut after.public_subnet_ids,
        &mut after.private_subnet_ids,
        &mut after.nat_gateway_ids,
        &mut after.nat_public_ips,
    ] {
        if let Value::Value(entries) = map {
            for value in entries.values_mut().filter(|v| v.is_unknown()) {
                *value = Value::Value("new".into());
            }
        }
    }
    after.posture = prior.posture.clone();
    let two = plan(&after, |s| {
        s.az_count = Value::Value(2);
        s.availability_zones = prior.availability_zones.clone();
    });
    assert_eq!(two.public_subnet_ids, prior.public_subnet_ids);
    assert_eq!(two.nat_public_ips, prior.nat_public_ips);
    assert_eq!(two.private_subnet_cidrs, prior.private_subnet_cidrs);
    assert_eq!(two.bastion_instance_id, prior.bastion_instance_id);
}

#[test]
fn nat_and_zone_warnings_say_what_each_change_cuts() {
    let with = |nat: &str, zones: &[&str]| {
        let mut state = applied();
        state.nat_gateways = Value::Value(nat.into());
        state.az_count = Value::Value(zones.len() as i64);
        state.availability_zones = string_list(zones.iter().map(|z| z.to_string()));
        state
    };
    let two = ["us-east-1a", "us-east-1b"];
    let warning = |before: EnvironmentState, after: EnvironmentState| {
        let found = disruptions(&before, &after, &Refreshed::default());
        assert_eq!(found.len(), 1, "{found:?}");
        found[0].clone()
    };
    let added = warning(with("none", &two), with("one_per_az", &two));
    assert_eq!(
        added.summary,
        "NAT gateways or subnets will be added: nothing is cut"
    );
    assert!(
        added
            .detail
            .contains("us-east-1a, us-east-1b gain internet egress"),
        "{added:?}"
    );
    assert!(!added.detail.contains(" cut when"), "{added:?}");
    let removed = warning(with("single", &two), with("none", &two));
    assert_eq!(removed.summary, "Private subnets will lose internet egress");
    assert!(
        removed
            .detail
            .contains("The private subnets in us-east-1a, us-east-1b lose all internet egress"),
        "{removed:?}"
    );
    assert!(
        removed
            .detail
            .contains("The NAT gateway in us-east-1a is deleted"),
        "{removed:?}"
    );
    assert_eq!(removed.path, AttributePath::new("nat_gateways"));
    let split = warning(with("single", &two), with("one_per_az", &two));
    assert_eq!(
        split.summary,
        "NAT gateways or subnets will move: connections will be cut"
    );
    assert!(
        split
            .detail
            .contains("The private subnets in us-east-1b switch to another NAT gateway"),
        "{split:?}"
    );
    let grown = warning(
        with("one_per_az", &two),
        with("one_per_az", &["us-east-1a", "us-east-1b", "us-east-1c"]),
    );
    assert_eq!(
        grown.summary,
        "NAT gateways or subnets will be added: nothing is cut"
    );
    assert!(
        grown.detail.contains("Subnets are added in us-east-1c"),
        "{grown:?}"
    );
    assert_eq!(grown.path, AttributePath::new("az_count"));
    let shrunk = warning(
        with("one_per_az", &["us-east-1a", "us-east-1b", "us-east-1c"]),
        with("one_per_az", &two),
    );
    assert_eq!(
        shrunk.summary,
        "NAT gateways or subnets will move: connections will be cut"
    );
    assert!(
        shrunk
            .detail
            .contains("The subnets of us-east-1c are deleted"),
        "{shrunk:?}"
    );
    assert!(
        shrunk
            .detail
            .contains("The NAT gateway in us-east-1c is deleted"),
        "{shrunk:?}"
    );
}

#[test]
fn a_desired_capacity_left_out_follows_the_bounds_as_aws_moves_it() {
    let prior = applied();
    let sized = |min: i64, max: i64, desired: Option<i64>| {
        let config = EnvironmentState {
            app: Value::Value(vec![AppBlock {
                desired_capacity: desired.into(),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let mut planned = prior.clone();
        let app = &mut planned.app.as_mut_option().unwrap()[0];
        app.min_size = Value::Value(min);
        app.max_size = Value::Value(max);
        desired_within_bounds(&mut planned, &config);
        planned
    };
    assert_eq!(desired_capacity(&prior), Some(2));
    let raised = sized(3, 4, None);
    assert_eq!(desired_capacity(&raised), Some(3));
    // AWS raises it with the bound: nothing to set beyond the bounds
    assert!(!sets_desired_capacity(&prior, &raised));
    let lowered = sized(1, 1, None);
    assert_eq!(desired_capacity(&lowered), Some(1));
    assert!(!sets_desired_capacity(&prior, &lowered));
    let mut configured = sized(1, 4, Some(3));
    configured.app.as_mut_option().unwrap()[0].desired_capacity = Value::Value(3);
    assert_eq!(desired_capacity(&configured), Some(3));
    assert!(sets_desired_capacity(&prior, &configured));
}

#[test]
fn settling_after_apply_leaves_no_unknown_entry() {
    let mut state = applied();
    state.public_subnet_ids = Value::Value(BTreeMap::from([
        (
            "us-east-1a".to_string(),
            Value::Value("subnet-a".to_string()),
        ),
        ("us-east-1b".to_string(), Value::Unknown),
    ]));
    state.vpc_endpoint_ids = Value::Unknown;
    state.flow_log_id = Value::Unknown;
    crate::environment::observe::settle(&mut state);
    assert_eq!(
        state.public_subnet_ids,
        known(&[("us-east-1a", "subnet-a")])
    );
    assert!(state.vpc_endpoint_ids.is_null() && state.flow_log_id.is_null());
}

/// As `applied`, with every ID of a complete environment set.
fn complete() -> EnvironmentState {
    let mut state = applied();
    for (slot, id) in [
        (&mut state.vpc_id, "vpc-1"),
        (&mut state.internet_gateway_id, "igw-1"),
        (&mut state.alb_arn, "alb"),
        (&mut state.alb_dns_name, "alb.example"),
        (&mut state.alb_zone_id, "Z1"),
        (&mut state.launch_template_id, "lt-1"),
        (&mut state.autoscaling_group_name, "shop-app"),
    ] {
        *slot = Value::Value(id.into());
    }
    state
}

fn repair(prior: &EnvironmentState, findings: &[Finding]) -> EnvironmentState {
    let mut planned = prior.clone();
    plan_outputs(
        prior,
        &EnvironmentState::default(),
        &mut planned,
        &Refreshed::of(findings),
    );
    planned
}

#[test]
fn posture_is_known_after_apply_only_when_apply_has_work() {
    let prior = complete();
    let planned = repair(
        &prior,
        &[Finding::new(
            "sg/app",
            "has an extra ingress rule tcp/22 from 0.0.0.0/0",
            Repair::InPlace("removes it"),
        )],
    );
    assert_eq!(planned.posture, Value::Unknown);
    // a posture that changed in AWS alone (a flow log added) is no work for apply
    let mut refreshed = prior.clone();
    refreshed.posture = known(&[("EC2.2", "pass"), ("EC2.6", "pass")]);
    assert_eq!(inputs_of(&refreshed), inputs_of(&prior));
}

#[test]
fn a_repair_in_place_keeps_every_id_known() {
    let prior = complete();
    let planned = repair(
        &prior,
        &[
            Finding::new(
                "sg/app",
                "has an extra ingress rule tcp/22 from ::/0",
                Repair::InPlace("removes it"),
            ),
            Finding::new(
                "bastion",
                "has IMDSv2 optional",
                Repair::InPlace("requires it"),
            ),
            Finding::new(
                "lt",
                "has version 2 as its default, where IMDSv2 is optional",
                Repair::InPlace("makes the version the group runs the default again"),
            ),
        ],
    );
    assert_eq!(planned.posture, Value::Unknown);
    let ids_only = EnvironmentState {
        posture: prior.posture.clone(),
        ..planned.clone()
    };
    assert_eq!(ids_only, prior);
    assert!(disruptions(&prior, &planned, &Refreshed::default()).is_empty());
}

#[test]
fn a_repair_makes_unknown_only_what_it_recreates_or_replaces() {
    let mut prior = complete();
    // the refresh found the NAT gateway gone
    prior.nat_gateway_ids = string_map(Vec::<(String, String)>::new());
    let findings = [
        Finding::new("nat/us-east-1a", "is missing", Repair::Create),
        Finding::new(
            "bastion",
            "has type \"t3.large\" instead of \"t3.nano\"",
            Repair::Replace,
        ),
        Finding::new(
            "asg",
            "runs launch template version 2, where IMDSv2 is optional",
            Repair::Roll,
        ),
    ];
    let planned = repair(&prior, &findings);
    let missing_nat: BTreeMap<String, Value<String>> =
        [("us-east-1a".to_string(), Value::Unknown)].into();
    assert_eq!(planned.nat_gateway_ids, Value::Value(missing_nat));
    assert!(planned.bastion_instance_id.is_unknown());
    assert!(planned.launch_template_version.is_unknown());
    for (kept, before) in [
        (&planned.vpc_id, &prior.vpc_id),
        (&planned.target_group_arn, &prior.target_group_arn),
        (&planned.launch_template_id, &prior.launch_template_id),
    ] {
        assert_eq!(kept, before);
    }
    assert_eq!(planned.security_group_ids, prior.security_group_ids);
    assert_eq!(planned.public_subnet_ids, prior.public_subnet_ids);
    assert_eq!(planned.listener_arns, prior.listener_arns);
    let summaries: Vec<&str> = disruptions(&prior, &planned, &Refreshed::of(&findings))
        .iter()
        .map(|d| d.summary)
        .collect();
    assert_eq!(
        summaries,
        vec![
            "Every app instance will be replaced",
            "NAT gateways or subnets will be recreated"
        ]
    );
}

#[test]
fn a_stopped_bastion_keeps_its_id_and_gets_a_new_address() {
    let mut stopped = applied();
    // a refresh of a stopped bastion finds no public address
    stopped.bastion_public_ip = Value::Null;
    let planned = plan(&stopped, |_| {});
    assert_eq!(planned.bastion_instance_id, stopped.bastion_instance_id);
    assert!(planned.bastion_public_ip.is_unknown());
    // a running one keeps its address
    let prior = applied();
    assert_eq!(
        plan(&prior, |_| {}).bastion_public_ip,
        prior.bastion_public_ip
    );
}

#[test]
fn the_instance_connect_endpoint_id_is_known_while_it_stays_and_a_warning_says_what_ssh_loses() {
    let mut prior = applied();
    prior.instance_connect_endpoint = Value::Value(true);
    prior.instance_connect_endpoint_id = Value::Value("eice-0123456789abcdef0".into());
    prior.security_group_ids = known(&[
        ("alb", "sg-1"),
        ("app", "sg-2"),
        ("bastion", "sg-3"),
        ("eice", "sg-4"),
    ]);
    let kept = plan(&prior, |s| {
        s.app.as_mut_option().unwrap()[0].max_size = Value::Value(9)
    });
    assert_eq!(
        kept.instance_connect_endpoint_id,
        prior.instance_connect_endpoint_id
    );
    assert_eq!(kept.security_group_ids, prior.security_group_ids);
    assert!(disruptions(&prior, &kept, &Refreshed::default()).is_empty());

    let off = plan(&prior, |s| {
        s.instance_connect_endpoint = Value::Value(false)
    });
    assert!(off.instance_connect_endpoint_id.is_null());
    let keys: Vec<String> = known_map(&off.security_group_ids)
        .unwrap()
        .into_keys()
        .collect();
    assert_eq!(keys, ["alb", "app", "bastion"]);
    let warnings = disruptions(&prior, &off, &Refreshed::default());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].summary,
        "SSH through the Instance Connect Endpoint will end"
    );
    assert_eq!(
        warnings[0].path,
        AttributePath::new("instance_connect_endpoint")
    );

    let mut without = applied();
    without.instance_connect_endpoint = Value::Value(false);
    let on = plan(&without, |s| {
        s.instance_connect_endpoint = Value::Value(true)
    });
    assert!(on.instance_connect_endpoint_id.is_unknown());
    let groups = on.security_group_ids.as_ref_option().unwrap();
    assert!(groups["eice"].is_unknown());
    assert_eq!(groups["app"], Value::Value("sg-2".to_string()));

    let replaced = Refreshed::of(&[Finding::new("eice", "is create-failed", Repair::Replace)]);
    let mut repaired = prior.clone();
    let config = EnvironmentState::default();
    plan_outputs(&prior, &config, &mut repaired, &replaced);
    assert!(repaired.instance_connect_endpoint_id.is_unknown());
    let warnings = disruptions(&prior, &repaired, &replaced);
    assert!(
        warnings
            .iter()
            .any(|w| w.summary == "The Instance Connect Endpoint will be replaced"),
        "{warnings:?}"
    );
}

#[test]
fn a_block_left_out_and_the_same_block_with_its_defaults_keep_the_posture_known() {
    // as an import records the load balancer block a configuration leaves out
    let prior = applied();
    let planned = plan(&prior, |s| s.load_balancer = Value::Value(Vec::new()));
    assert_eq!(planned.posture, prior.posture);
    // a setting a control looks at does not
    let planned = plan(&prior, |s| {
        s.load_balancer.as_mut_option().unwrap()[0].deletion_protection = Value::Value(true)
    });
    assert!(planned.posture.is_unknown());
}

#[test]
fn a_mix_changes_in_place_keeping_every_output_and_spot_is_announced_once() {
    let prior = applied();
    let with_mix = |percentage: i64| {
        move |s: &mut EnvironmentState| {
            s.app.as_mut_option().unwrap()[0].mixed_instances =
                Value::Value(vec![model::MixedInstancesBlock {
                    instance_types: model::string_list(["t3.micro".to_string()]),
                    on_demand_base_capacity: Value::Value(0),
                    on_demand_percentage_above_base_capacity: Value::Value(percentage),
                    spot_allocation_strategy: Value::Value("price-capacity-optimized".into()),
                }])
        }
    };
    // all On-Demand over several types: nothing to warn of, nothing rolls
    let on_demand = plan(&prior, with_mix(100));
    assert_ne!(inputs_of(&on_demand), inputs_of(&prior));
    assert_eq!(
        on_demand.launch_template_version,
        prior.launch_template_version
    );
    assert_eq!(
        on_demand.autoscaling_group_name,
        prior.autoscaling_group_name
    );
    assert!(disruptions(&prior, &on_demand, &Refreshed::default()).is_empty());
    // a Spot share: said once, when it starts
    let spot = plan(&prior, with_mix(25));
    let warnings = disruptions(&prior, &spot, &Refreshed::default());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        warnings[0].summary,
        "Part of the app capacity will run on Spot"
    );
    let more_spot = plan(&spot, with_mix(0));
    assert!(disruptions(&spot, &more_spot, &Refreshed::default()).is_empty());
}

#[test]
fn moving_between_zonal_and_regional_nat_says_egress_pauses_and_the_addresses_stay() {
    let with = |nat: &str| {
        let mut state = applied();
        state.nat_gateways = Value::Value(nat.into());
        state.az_count = Value::Value(2);
        state.availability_zones = string_list(["us-east-1a".into(), "us-east-1b".into()]);
        state
    };
    for (from, to) in [("one_per_az", "regional"), ("regional", "one_per_az")] {
        let found = disruptions(&with(from), &with(to), &Refreshed::default());
        assert_eq!(found.len(), 1, "{from} -> {to}: {found:?}");
        assert_eq!(
            found[0].summary, "Private subnets will lose internet egress for a few minutes",
            "{from} -> {to}"
        );
        assert!(
            found[0]
                .detail
                .contains("The addresses in `nat_public_ips` are kept")
                && found[0].detail.contains("deletes the old gateway"),
            "{from} -> {to}: {}",
            found[0].detail
        );
    }
    // to one zone's gateway: that address moves, the other is released
    let single = disruptions(&with("regional"), &with("single"), &Refreshed::default());
    assert!(
        single[0]
            .detail
            .contains("The Elastic IP of us-east-1a moves")
            && single[0].detail.contains("That address is kept.")
            && single[0]
                .detail
                .contains("The Elastic IP of us-east-1b is released"),
        "{}",
        single[0].detail
    );
    // to none: the gateway and every address go
    let none = disruptions(&with("regional"), &with("none"), &Refreshed::default());
    assert_eq!(none[0].summary, "Private subnets will lose internet egress");
    assert!(
        none[0]
            .detail
            .contains("The regional NAT gateway is deleted.")
            && none[0]
                .detail
                .contains("The Elastic IPs of us-east-1a, us-east-1b are released"),
        "{}",
        none[0].detail
    );
    // from no gateway at all: nothing to move, nothing cut
    let gained = disruptions(&with("none"), &with("regional"), &Refreshed::default());
    assert_eq!(
        gained[0].summary,
        "NAT gateways or subnets will be added: nothing is cut"
    );
}

#[test]
fn the_regional_gateway_is_keyed_regional_and_its_addresses_by_zone() {
    let mut config = EnvironmentState {
        name: Value::Value("shop".into()),
        nat_gateways: Value::Value("regional".into()),
        ..Default::default()
    };
    config.apply_defaults();
    let planned = first_plan(&config);
    let (keys, unknown) = keys_and_unknowns(&planned.nat_gateway_ids);
    assert_eq!(keys, ["regional"]);
    assert_eq!(unknown, ["regional"]);
    let (zones, _) = keys_and_unknowns(&planned.nat_public_ips);
    assert_eq!(zones, ["us-east-1a", "us-east-1b"]);
}
