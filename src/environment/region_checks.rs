//! Plan-time checks that only the region can judge: zones, images and their
//! architecture, instance types, key pairs, quotas, and ARNs of another
//! region or partition.

use super::*;

impl EnvironmentResource {
    /// Checks the inputs that only the region can judge (zones, images and
    /// their architecture against the instance types, instance types, key
    /// pairs) and the tag limit that counts the provider's default tags, at
    /// plan time and in one concurrent round, so apply never starts what it
    /// cannot finish. `config` tells an image left to the default from one
    /// not known until apply. Returns the zones apply will build in (`None`
    /// while they cannot be known), chosen as apply chooses them: the zones
    /// `in_use` first.
    pub(super) async fn check_against_region(
        &self,
        diags: &mut Diagnostics,
        planned: &EnvironmentState,
        in_use: &[String],
        config: &EnvironmentState,
    ) -> Option<Option<Vec<String>>> {
        let clients = self.clients(diags)?;
        let mut valid = true;
        let tag_problems = validate::check_tag_total(planned, &clients.default_tags);
        validate::report(&tag_problems, diags);
        valid &= tag_problems.is_empty();
        if let Some(region) = clients.ec2.config().region() {
            valid &= check_arns_against_region(diags, planned, region.as_ref());
        }
        let app = first(&planned.app);
        let bastion = first(&planned.bastion).filter(|_| planned.bastion_enabled());
        let app_path = |name: &str| {
            AttributePath::new("app")
                .index(0)
                .attribute(name.to_string())
        };
        let bastion_path = |name: &str| {
            AttributePath::new("bastion")
                .index(0)
                .attribute(name.to_string())
        };
        let known = |value: &Value<String>| value.as_ref_option().cloned();
        let configured_images: Vec<(AttributePath, String)> = [
            app.and_then(|a| known(&a.ami_id))
                .map(|id| (app_path("ami_id"), id)),
            bastion
                .and_then(|b| known(&b.ami_id))
                .map(|id| (bastion_path("ami_id"), id)),
        ]
        .into_iter()
        .flatten()
        .collect();
        // the defaults apply when the blocks are left out
        let app_type = match app {
            Some(a) => known(&a.instance_type),
            None => Some(AppSpec::default().instance_type),
        };
        let bastion_type = match (first(&planned.bastion), planned.bastion_enabled()) {
            (_, false) => None,
            (Some(b), true) => known(&b.instance_type),
            (None, true) => Some(crate::plan::spec::DEFAULT_BASTION_INSTANCE_TYPE.to_string()),
        };
        // the mix's types launch the app's image as its own type does
        let mix = mix_types(app);
        let own_type = app_type.map(|t| (app_path("instance_type"), t));
        let app_types: Vec<(AttributePath, String)> =
            own_type.clone().into_iter().chain(mix.clone()).collect();
        // set by the configuration, not kept from state: a problem of an
        // image the configuration does not name is reported on the type
        let app_sets_image = first(&config.app).is_some_and(|a| !a.ami_id.is_null());
        let bastion_sets_image = first(&config.bastion).is_some_and(|b| !b.ami_id.is_null());
        let launches: Vec<images::Launch> = app_types
            .iter()
            .map(|(path, t)| images::Launch {
                instance_type_path: path.clone(),
                instance_type: t.clone(),
                image: images::app_image(planned, config),
                ami_attribute: "app.ami_id",
                ami_path: app_sets_image.then(|| app_path("ami_id")),
            })
            .chain(bastion_type.clone().map(|t| images::Launch {
                instance_type_path: bastion_path("instance_type"),
                instance_type: t,
                image: images::bastion_image(planned, config),
                ami_attribute: "bastion.ami_id",
                ami_path: bastion_sets_image.then(|| bastion_path("ami_id")),
            }))
            .collect();
        let bastion_image = launches
            .iter()
            .find(|l| l.ami_attribute == "bastion.ami_id")
            .and_then(|l| match &l.image {
                images::ImageChoice::Id(id) => Some(id.clone()),
                _ => None,
            });
        // each zone must offer the app's and the bastion's own types; of a
        // mix, one type per zone is enough (Auto Scaling skips the others there)
        let instance_types: Vec<(AttributePath, String)> = own_type
            .into_iter()
            .chain(bastion_type.map(|t| (bastion_path("instance_type"), t)))
            .collect();
        let key_name = bastion.and_then(|b| known(&b.key_name));
        let ec2 = &clients.ec2;
        let batches = &clients.batches;
        let image_checks = futures::future::try_join_all(
            configured_images
                .iter()
                .map(|(_, id)| crate::aws::ec2::image(ec2, batches, id)),
        );
        let key_check = async {
            match &key_name {
                Some(name) => crate::aws::ec2::key_pair_exists(ec2, batches, name).await,
                None => Ok(true),
            }
        };
        let type_names: Vec<String> = instance_types
            .iter()
            .chain(&mix)
            .map(|(_, t)| t.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let type_facts = crate::aws::ec2::instance_type_facts(ec2, batches, &type_names);
        // the NAT gateways' addresses count against the account's quota
        let nat_strategy = match &planned.nat_gateways {
            Value::Value(text) => crate::plan::spec::NatStrategy::parse(text),
            Value::Null => Some(crate::plan::spec::NatStrategy::OnePerAz),
            Value::Unknown => None,
        }
        .filter(|s| *s != crate::plan::spec::NatStrategy::None);
        let environment = known(&planned.name);
        let headroom = async {
            match (&environment, nat_strategy) {
                (Some(name), Some(_)) => crate::aws::ec2::address_headroom(ec2, batches, name)
                    .await
                    .map(Some),
                _ => Ok(None),
            }
        };
        // offerings are asked for every zone: which ones are used is known only with the zones
        let offerings = async {
            let zones = crate::aws::ec2::available_zones(ec2, batches).await?;
            let offered = if type_names.is_empty() {
                Default::default()
            } else {
                crate::aws::ec2::instance_type_offerings(ec2, batches, &type_names, &zones).await?
            };
            Ok((zones, offered))
        };
        // only a set the configuration names: one recorded from AWS that is
        // gone since is drift, not bad input
        let dhcp_options = known(&config.dhcp_options_id).filter(|id| id != "default");
        let dhcp_check = async {
            match &dhcp_options {
                Some(id) => crate::aws::ec2::dhcp_options_exist(ec2, id).await,
                None => Ok(true),
            }
        };
        let ((zones, offered), found, key_exists, type_facts, headroom, dhcp_exists) = match futures::try_join!(
            offerings,
            image_checks,
            key_check,
            type_facts,
            headroom,
            dhcp_check
        ) {
            Ok(answers) => answers,
            Err(error) => {
                report_aws(
                    diags,
                    "Could not check the configuration against the region",
                    &error,
                    Phase::Plan,
                );
                return None;
            }
        };
        let found: BTreeMap<String, crate::aws::ec2::Image> = configured_images
            .iter()
            .zip(found)
            .filter_map(|((_, id), image)| Some((id.clone(), image?)))
            .collect();
        let mut problems = images::launch_problems(&launches, &found, &type_facts);
        // each image once, on the first attribute that names it
        let mut judged = std::collections::BTreeSet::new();
        for (path, id) in &configured_images {
            if let (Some(image), true) = (found.get(id), judged.insert(id)) {
                problems.extend(images::image_problems(path, id, image));
            }
        }
        if let Some((id, image)) = bastion_image.and_then(|id| Some((id.clone(), found.get(&id)?)))
        {
            problems.extend(images::bastion_image_problem(
                &bastion_path("ami_id"),
                &id,
                image,
            ));
        }
        // an image kept from state (the one the environment was built with,
        // the configuration naming none) that can no longer launch is news,
        // not bad input: the plan goes on, and says what to do
        let set_by_configuration = |path: &AttributePath| {
            (app_sets_image && *path == app_path("ami_id"))
                || (bastion_sets_image && *path == bastion_path("ami_id"))
        };
        const KEPT: &str = " The configuration names no image, so the environment keeps the one it was built with: set ami_id to a current image to launch new instances from it.";
        for mut problem in problems {
            let kept = configured_images
                .iter()
                .any(|(path, _)| *path == problem.path && !set_by_configuration(path));
            if problem.error && kept {
                problem.error = false;
                problem.detail.push_str(KEPT);
            }
            if problem.error {
                valid = false;
                diags.error(problem.summary, problem.detail, problem.path);
            } else {
                diags.warning(problem.summary, problem.detail, problem.path);
            }
        }
        for (path, id) in configured_images {
            if found.contains_key(&id) {
                continue;
            }
            if set_by_configuration(&path) {
                valid = false;
                diags.error("Image not found", format!("`{id}` does not exist in this region or is not shared with this account. Use an AMI ID of this region, or leave ami_id out for the newest Amazon Linux 2023."), path);
            } else {
                diags.warning("Image not found", format!("`{id}`, which the environment's instances launch from, no longer exists in this region or is no longer shared with this account: new instances (a scale-out, a replacement) cannot start.{KEPT}"), path);
            }
        }
        if let (false, Some(name)) = (key_exists, &key_name) {
            valid = false;
            diags.error("Key pair not found", format!("No key pair named `{name}` exists in this region. Create or import it first (`aws ec2 import-key-pair`), or leave key_name out and reach the bastion through EC2 Instance Connect."), bastion_path("key_name"));
        }
        if let (false, Some(id)) = (dhcp_exists, &dhcp_options) {
            valid = false;
            diags.error("DHCP options set not found", format!("No DHCP options set `{id}` exists in this region and account. Create it first (`aws ec2 create-dhcp-options`), or leave dhcp_options_id out to keep the set AWS gives a new VPC."), AttributePath::new("dhcp_options_id"));
        }
        let mut used_zones: Option<Vec<String>> = None;
        match &planned.availability_zones {
            Value::Value(listed) => {
                for (index, zone) in listed.iter().enumerate() {
                    if let Value::Value(zone) = zone {
                        if !zones.contains(zone) {
                            valid = false;
                            diags.error("Unknown availability zone", format!("`{zone}` is not an available zone of this region. Available: {}.", zones.join(", ")), AttributePath::new("availability_zones").index(index as i64));
                        }
                    }
                }
                used_zones = known_strings(&planned.availability_zones);
            }
            _ => {
                if let Value::Value(count) = planned.az_count {
                    if count as usize > zones.len() {
                        valid = false;
                        diags.error("Not enough availability zones", format!("az_count is {count} but the region has {} available zones ({}). Lower az_count.", zones.len(), zones.join(", ")), AttributePath::new("az_count"));
                    } else {
                        used_zones =
                            ZoneChoice::Count(count.max(0) as usize).choose(in_use, &zones);
                    }
                }
            }
        }
        if let (Some(strategy), Some(headroom), Some(zones)) = (nat_strategy, headroom, &used_zones)
        {
            let needed = crate::plan::blueprint::address_zones(strategy, zones).len();
            if let Some(detail) = quotas::address_shortfall(strategy.as_str(), needed, headroom) {
                valid = false;
                diags.error(
                    "Not enough Elastic IPs",
                    detail,
                    AttributePath::new("nat_gateways"),
                );
            }
        }
        for (path, kind) in &instance_types {
            let missing: Vec<&String> = used_zones
                .iter()
                .flatten()
                .filter(|zone| zones.contains(zone))
                .filter(|zone| !offered.contains(&(kind.clone(), (*zone).clone())))
                .collect();
            if !missing.is_empty() {
                valid = false;
                let offered_in: Vec<&str> = zones
                    .iter()
                    .filter(|zone| offered.contains(&(kind.clone(), (*zone).clone())))
                    .map(String::as_str)
                    .collect();
                let elsewhere = if offered_in.is_empty() {
                    "in no zone of this region".to_string()
                } else {
                    format!("only in {}", offered_in.join(", "))
                };
                diags.error("Instance type not offered", format!("`{kind}` is not offered in {} (it is offered {elsewhere}). Choose an instance type these zones offer, or zones that offer it.", missing.iter().map(|z| z.as_str()).collect::<Vec<_>>().join(", ")), path.clone());
            }
        }
        let zones_used: Vec<&String> = used_zones
            .iter()
            .flatten()
            .filter(|zone| zones.contains(zone))
            .collect();
        valid &= check_mix_offerings(diags, &mix, &zones_used, &offered);
        valid.then_some(used_zones)
    }
}

/// A mix's types against the zones' offerings: an error when a zone offers
/// none of them, a warning for each type some zones lack (Auto Scaling
/// launches the others there). Returns whether every zone has one.
fn check_mix_offerings(
    diags: &mut Diagnostics,
    mix: &[(AttributePath, String)],
    zones: &[&String],
    offered: &std::collections::BTreeSet<(String, String)>,
) -> bool {
    if mix.is_empty() {
        return true;
    }
    let offers = |kind: &String, zone: &String| offered.contains(&(kind.clone(), zone.clone()));
    let bare: Vec<&str> = zones
        .iter()
        .filter(|zone| !mix.iter().any(|(_, kind)| offers(kind, zone)))
        .map(|zone| zone.as_str())
        .collect();
    if !bare.is_empty() {
        let list_path = mix_types_path();
        diags.error("No instance type of the mix is offered", format!("None of {} is offered in {}. Add an instance type these zones offer, or choose zones that offer one of them.", mix.iter().map(|(_, t)| format!("`{t}`")).collect::<Vec<_>>().join(", "), bare.join(", ")), list_path);
        return false;
    }
    for (path, kind) in mix {
        let missing: Vec<&str> = zones
            .iter()
            .filter(|zone| !offers(kind, zone))
            .map(|zone| zone.as_str())
            .collect();
        if !missing.is_empty() {
            diags.warning("Instance type not offered in every zone", format!("`{kind}` is not offered in {}: Auto Scaling launches the mix's other types there.", missing.join(", ")), path.clone());
        }
    }
    true
}

/// Refuses ARNs AWS would refuse from `region`: a certificate of another
/// region or partition, a flow log destination or role of another partition
/// (a log group of another region too). Returns whether all pass.
/// `app[0].mixed_instances[0].instance_types`
fn mix_types_path() -> AttributePath {
    AttributePath::new("app")
        .index(0)
        .attribute("mixed_instances")
        .index(0)
        .attribute("instance_types")
}

/// The known instance types of the app's mix, each with its path.
fn mix_types(app: Option<&crate::environment::model::AppBlock>) -> Vec<(AttributePath, String)> {
    let Some(mix) = app.and_then(|a| first(&a.mixed_instances)) else {
        return Vec::new();
    };
    let Value::Value(types) = &mix.instance_types else {
        return Vec::new();
    };
    types
        .iter()
        .enumerate()
        .filter_map(|(index, t)| {
            let path = mix_types_path().index(index as i64);
            Some((path, t.as_ref_option()?.clone()))
        })
        .collect()
}

fn check_arns_against_region(
    diags: &mut Diagnostics,
    planned: &EnvironmentState,
    region: &str,
) -> bool {
    let in_block = |block: &str, name: &str| {
        AttributePath::new(block.to_string())
            .index(0)
            .attribute(name.to_string())
    };
    let mut arns: Vec<(AttributePath, &str, bool, &str)> = Vec::new();
    if let Some(Value::Value(arn)) = first(&planned.load_balancer).map(|lb| &lb.certificate_arn) {
        arns.push((
            in_block("load_balancer", "certificate_arn"),
            arn,
            true,
            "Use a certificate of this region: ACM certificates serve only load balancers of their own region (request or import one here).",
        ));
    }
    if let Some(logs) = first(&planned.flow_logs) {
        if let Value::Value(arn) = &logs.destination_arn {
            arns.push((
                in_block("flow_logs", "destination_arn"),
                arn,
                arn.split(':').nth(2) == Some("logs"),
                "Use a bucket or log group of this region's partition (a log group of this region).",
            ));
        }
        if let Value::Value(arn) = &logs.iam_role_arn {
            arns.push((
                in_block("flow_logs", "iam_role_arn"),
                arn,
                false,
                "Use a role of this partition's account.",
            ));
        }
    }
    let mut valid = true;
    for (path, arn, regional, fix) in arns {
        if let Some(problem) = crate::plan::spec::arn_region_problem(arn, region, regional) {
            valid = false;
            diags.error(
                "ARN of another region or partition",
                format!("`{arn}` {problem}, so AWS would refuse it. {fix}"),
                path,
            );
        }
    }
    valid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_needs_one_offered_type_per_zone_and_warns_of_the_others() {
        let mix: Vec<(AttributePath, String)> = ["t3.micro", "t2.micro"]
            .iter()
            .enumerate()
            .map(|(i, t)| (mix_types_path().index(i as i64), t.to_string()))
            .collect();
        let (a, b) = ("us-east-1a".to_string(), "us-east-1b".to_string());
        let zones = vec![&a, &b];
        let offered = |pairs: &[(&str, &str)]| -> std::collections::BTreeSet<(String, String)> {
            pairs
                .iter()
                .map(|(t, z)| (t.to_string(), z.to_string()))
                .collect()
        };
        // t2.micro only in a: allowed, with a warning on its entry
        let mut diags = Diagnostics::default();
        let some = offered(&[
            ("t3.micro", "us-east-1a"),
            ("t3.micro", "us-east-1b"),
            ("t2.micro", "us-east-1a"),
        ]);
        assert!(check_mix_offerings(&mut diags, &mix, &zones, &some));
        assert!(diags.errors.is_empty());
        assert_eq!(diags.warnings.len(), 1);
        assert!(diags.warnings[0]
            .detail
            .contains("`t2.micro` is not offered in us-east-1b"));
        assert_eq!(diags.warnings[0].attribute, mix_types_path().index(1));
        // b offers none of them: refused on the list
        let mut diags = Diagnostics::default();
        let none_in_b = offered(&[("t3.micro", "us-east-1a")]);
        assert!(!check_mix_offerings(&mut diags, &mix, &zones, &none_in_b));
        assert_eq!(diags.errors.len(), 1);
        assert_eq!(diags.errors[0].attribute, mix_types_path());
        assert!(diags.errors[0].detail.contains("is offered in us-east-1b"));
        // no mix: nothing to say
        let mut diags = Diagnostics::default();
        assert!(check_mix_offerings(&mut diags, &[], &zones, &none_in_b));
        assert!(diags.warnings.is_empty());
    }
}
