use super::*;

fn found(id: &str, tags: &[(&str, &str)]) -> Found {
    Found {
        id: id.into(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Found::default()
    }
}

fn known(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(id, key)| (id.to_string(), key.to_string()))
        .collect()
}

fn ids(strays: &[Found]) -> Vec<&str> {
    strays.iter().map(|f| f.id.as_str()).collect()
}

#[test]
fn the_state_keys_an_object_whose_component_tag_was_changed_or_removed() {
    let mut strays = Vec::new();
    let keyed = key_by_component(
        vec![
            found("subnet-1", &[(TAG_COMPONENT, "tampered")]),
            found("subnet-2", &[(TAG_ENVIRONMENT, "shop")]),
            found("subnet-3", &[(TAG_COMPONENT, "subnet/private/a")]),
        ],
        &known(&[
            ("subnet-1", "subnet/public/a"),
            ("subnet-2", "subnet/public/b"),
        ]),
        &mut strays,
    );
    assert_eq!(keyed["subnet/public/a"].id, "subnet-1");
    assert_eq!(keyed["subnet/public/b"].id, "subnet-2");
    assert_eq!(keyed["subnet/private/a"].id, "subnet-3");
    assert!(strays.is_empty(), "{strays:?}");
}

#[test]
fn the_object_the_state_names_wins_its_key_and_a_copy_is_a_stray() {
    let mut strays = Vec::new();
    // listed first, but the state names the other one
    let keyed = key_by_component(
        vec![
            found("nat-copy", &[(TAG_COMPONENT, "nat/a")]),
            found("nat-1", &[(TAG_COMPONENT, "nat/a")]),
        ],
        &known(&[("nat-1", "nat/a")]),
        &mut strays,
    );
    assert_eq!(keyed["nat/a"].id, "nat-1");
    assert_eq!(ids(&strays), ["nat-copy"]);
}

#[test]
fn without_the_state_the_tag_keys_and_the_unkeyed_and_duplicates_are_strays() {
    let mut strays = Vec::new();
    let keyed = key_by_component(
        vec![
            found("sg-1", &[(TAG_COMPONENT, "sg/app")]),
            found("sg-2", &[(TAG_COMPONENT, "sg/app")]),
            found("sg-3", &[(TAG_ENVIRONMENT, "shop")]),
        ],
        &BTreeMap::new(),
        &mut strays,
    );
    assert_eq!(keyed.len(), 1);
    assert_eq!(keyed["sg/app"].id, "sg-1");
    assert_eq!(ids(&strays), ["sg-2", "sg-3"]);
}

#[test]
fn the_vpc_in_state_is_the_vpc_whatever_its_tags_say() {
    let mut strays = Vec::new();
    let vpc = single(
        vec![found("vpc-1", &[])],
        "vpc",
        &known(&[("vpc-1", "vpc")]),
        &mut strays,
    );
    assert_eq!(vpc.map(|v| v.id), Some("vpc-1".to_string()));
    assert!(strays.is_empty());
}

#[test]
fn a_listed_object_is_keyed_only_under_a_key_of_its_own_kind() {
    fn nothing(
        _: aws_sdk_ec2::Client,
        _: aws_sdk_ec2::types::Filter,
    ) -> futures::future::BoxFuture<'static, Result<Vec<Found>, AwsError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    let listing = |operation, noun| ec2::Listing {
        operation,
        vpc_filter: "vpc-id",
        noun,
        describe: nothing,
    };
    let kinds = [
        ListedKind {
            key: "eigw",
            listing: listing("DescribeGateways", "gateway"),
        },
        ListedKind {
            key: "vpce/*",
            listing: listing("DescribeEndpoints", "endpoint"),
        },
    ];
    let listed = |noun, objects| ec2::Listed { noun, objects };
    let found_now = [
        (
            "DescribeGateways",
            listed(
                "gateway",
                vec![
                    // tagged as another kind's component: not this kind's
                    found("eigw-tagged-as-endpoint", &[(TAG_COMPONENT, "vpce/s3")]),
                    found("eigw-1", &[(TAG_COMPONENT, "eigw")]),
                    found("eigw-copy", &[(TAG_COMPONENT, "eigw")]),
                ],
            ),
        ),
        (
            "DescribeEndpoints",
            listed(
                "endpoint",
                vec![
                    found("vpce-1", &[]),
                    found("vpce-2", &[(TAG_COMPONENT, "vpce/dynamodb")]),
                ],
            ),
        ),
    ]
    .into();
    let mut strays = BTreeMap::new();
    let keyed = key_listed(
        found_now,
        &kinds,
        &known(&[("vpce-1", "vpce/s3")]),
        &mut strays,
    );
    let keys: BTreeMap<&str, &str> = keyed
        .iter()
        .map(|(key, f)| (key.as_str(), f.id.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("eigw", "eigw-1"),
            ("vpce/dynamodb", "vpce-2"),
            ("vpce/s3", "vpce-1")
        ]
        .into()
    );
    assert_eq!(
        ids(&strays["DescribeGateways"].objects),
        ["eigw-copy", "eigw-tagged-as-endpoint"]
    );
    assert!(strays["DescribeEndpoints"].objects.is_empty());
    assert_eq!(strays["DescribeGateways"].noun, "gateway");
}

#[test]
fn the_main_role_goes_back_only_to_a_table_told_to_be_the_vpc_s_own() {
    let table = |id: &str, ours: bool, main: bool, routes: &[(&str, &str)]| RouteTable {
        id: id.into(),
        tags: match ours {
            true => [(TAG_ENVIRONMENT.to_string(), "shop".to_string())].into(),
            false => BTreeMap::new(),
        },
        routes: routes
            .iter()
            .map(|(to, via)| (to.to_string(), via.to_string()))
            .collect(),
        main_association: main.then(|| "rtbassoc-main".to_string()),
        ..RouteTable::default()
    };
    let local = [("10.0.0.0/16", "local")];
    let main_after = |tables: Vec<RouteTable>| {
        let mut e = Ec2Inventory {
            vpcs: vec![found("vpc-1", &[])],
            route_tables: tables,
            ..Ec2Inventory::default()
        };
        let owns = |_: &str, tags: &BTreeMap<String, String>| tags.contains_key(TAG_ENVIRONMENT);
        let (foreign, main) = boundary::separate_foreign(&mut e, "vpc-1", owns);
        let foreign: Vec<String> = foreign.into_iter().map(|f| f.id).collect();
        (main.unwrap().vpc_own, foreign)
    };
    // the environment's table took the main role; another team's has a route of its own
    assert_eq!(
        main_after(vec![
            table("rtb-env", true, true, &local),
            table(
                "rtb-other",
                false,
                false,
                &[("10.0.0.0/16", "local"), ("0.0.0.0/0", "igw-1")]
            ),
            table("rtb-aws", false, false, &local),
        ]),
        (Some("rtb-aws".to_string()), vec!["rtb-other".to_string()])
    );
    // two bare tables: which one AWS made cannot be told, so neither gets the
    // role, and both are reported
    assert_eq!(
        main_after(vec![
            table("rtb-env", true, true, &local),
            table("rtb-b", false, false, &local),
            table("rtb-a", false, false, &local),
        ]),
        (None, vec!["rtb-b".to_string(), "rtb-a".to_string()])
    );
    // AWS's table gone: another team's table, alone but with routes of its
    // own, is still not taken for it
    assert_eq!(
        main_after(vec![
            table("rtb-env", true, true, &local),
            table(
                "rtb-other",
                false,
                false,
                &[("10.0.0.0/16", "local"), ("0.0.0.0/0", "igw-1")]
            ),
        ]),
        (None, vec!["rtb-other".to_string()])
    );
    // untouched: AWS's table is the main one
    assert_eq!(
        main_after(vec![
            table("rtb-env", true, false, &local),
            table("rtb-aws", false, true, &local),
            table("rtb-other", false, false, &local),
        ]),
        (Some("rtb-aws".to_string()), vec!["rtb-other".to_string()])
    );
}

#[test]
fn the_group_is_read_again_only_when_its_members_and_targets_disagree() {
    let member = |id: &str, state: &str| autoscaling::Member {
        id: id.into(),
        lifecycle_state: state.into(),
        ..autoscaling::Member::default()
    };
    let group = |members: Vec<autoscaling::Member>| Group {
        target_groups: vec!["tg".into()],
        members,
        ..Group::default()
    };
    let registered = |ids: &[&str]| {
        BTreeMap::from([(
            "tg".to_string(),
            ids.iter()
                .map(|id| elbv2::Target {
                    id: id.to_string(),
                    port: Some(8080),
                })
                .collect(),
        )])
    };
    let serving = group(vec![member("i-a", "InService"), member("i-b", "Pending")]);
    // a pending member is not registered yet: they agree
    assert!(!members_disagree(&serving, &registered(&["i-a"])));
    // a member in service missing, or a target that is no member
    assert!(members_disagree(&serving, &registered(&[])));
    assert!(members_disagree(&serving, &registered(&["i-a", "i-x"])));
    // targets of another target group than the group's say nothing
    let elsewhere = BTreeMap::from([("other".to_string(), Vec::new())]);
    assert!(!members_disagree(&serving, &elsewhere));
}

#[test]
fn the_vpc_s_listing_stands_in_for_a_lookup_by_name() {
    let group = |arn: &str, name: &str| TargetGroup {
        arn: arn.into(),
        name: name.into(),
        vpc_id: "vpc-1".into(),
        ..TargetGroup::default()
    };
    let scanned = vec![group("arn:old", "shop-tg-8080"), group("arn:tg", "Shop-TG")];
    let named = elb::named(&scanned, "shop-tg").map(|tg| tg.arn);
    assert_eq!(named.as_deref(), Some("arn:tg"));
    assert!(elb::named(&scanned, "shop").is_none());
    // the one of the environment's name comes first, the old port's after it
    let kept = elb::at_home(elb::named(&scanned, "shop-tg"), scanned, Some("vpc-1"));
    let arns: Vec<&str> = kept.iter().map(|tg| tg.arn.as_str()).collect();
    assert_eq!(arns, ["arn:tg", "arn:old"]);
}
