//! After a failed update: each input recorded as AWS shows it, so the next
//! plan shows exactly what did not reach AWS.

use super::import::{endpoints_block, observed_endpoints};
use super::*;

/// The value to record for one input after a failed update: the planned one where
/// AWS already shows it, otherwise the prior one, so the next plan shows exactly
/// the changes that did not reach AWS.
fn reached<T: PartialEq + Clone>(
    planned: &Value<T>,
    prior: &Value<T>,
    observed: &Value<T>,
) -> Value<T> {
    if planned == observed || planned == prior {
        planned.clone()
    } else {
        prior.clone()
    }
}

/// Sets each named field of a planned block with [`reached`], from the prior
/// and the observed block.
macro_rules! settle_fields {
    ($planned:ident, $prior:ident, $seen:ident: $($field:ident),+ $(,)?) => {
        $( $planned.$field = reached(&$planned.$field, &$prior.$field, &$seen.$field); )+
    };
}

/// After a failed update, sets every input whose change did not reach AWS back to
/// its prior value. Inputs AWS does not record (zones, NAT strategy, timeouts
/// aside) are judged by the blocks import would rebuild from the same inventory;
/// the zone layout and NAT strategy keep their prior values unless the whole
/// update went through, since a half-moved layout is finished by the next apply.
pub(crate) fn settle_failed_update(
    state: &mut EnvironmentState,
    prior: &EnvironmentState,
    inv: &Inventory,
    default_tags: &BTreeMap<String, String>,
    ignored: &IgnoredTags,
) {
    let mut observed = EnvironmentState::default();
    import_blocks(&mut observed, inv);
    if let Some((app, old, seen)) = block_triple(&mut state.app, &prior.app, &observed.app) {
        settle_fields!(app, old, seen: ami_id, instance_type, port, user_data,
            user_data_wo_version, min_size, mixed_instances,
            max_size, desired_capacity, cpu_target, health_check_path, health_check_grace_period,
            iam_instance_profile);
    }
    if let Some((lb, old, seen)) = block_triple(
        &mut state.load_balancer,
        &prior.load_balancer,
        &observed.load_balancer,
    ) {
        settle_fields!(lb, old, seen: ingress_cidrs, certificate_arn, ssl_policy,
            drop_invalid_header_fields, idle_timeout, deletion_protection, access_logs);
    }
    if let Some((bastion, old, mut seen)) =
        block_triple(&mut state.bastion, &prior.bastion, &observed.bastion)
    {
        // the profile is observed by name: a configured ARN that ends in it reached AWS
        if let (Value::Value(planned), Value::Value(found)) =
            (&bastion.iam_instance_profile, &seen.iam_instance_profile)
        {
            if InstanceProfile::new(planned.as_str()) == InstanceProfile::new(found.as_str()) {
                seen.iam_instance_profile = bastion.iam_instance_profile.clone();
            }
        }
        settle_fields!(bastion, old, seen: enabled, instance_type, ssh_ingress_cidrs, key_name,
            ami_id, iam_instance_profile);
    }
    settle_endpoints(state, prior, inv);
    let seen_tags = user_tags(inv, default_tags, ignored);
    state.tags = reached(&state.tags, &prior.tags, &seen_tags);
    state.dhcp_options_id = reached(
        &state.dhcp_options_id,
        &prior.dhcp_options_id,
        &super::opt(inv.dhcp_options().cloned()),
    );
    state.nat_gateways = prior.nat_gateways.clone();
    state.az_count = prior.az_count;
    state.availability_zones = prior.availability_zones.clone();
    state.public_subnet_cidrs = prior.public_subnet_cidrs.clone();
    state.private_subnet_cidrs = prior.private_subnet_cidrs.clone();
}

/// As [`settle_failed_update`] for `vpc_endpoints`, whose absence means its
/// defaults: a block the update failed to bring about is replaced by what stands.
fn settle_endpoints(state: &mut EnvironmentState, prior: &EnvironmentState, inv: &Inventory) {
    let or_defaults = |block: &model::OneBlock<model::EndpointsBlock>| {
        first(block)
            .cloned()
            .or_else(|| first(&endpoints_block(&EndpointsSpec::default())).cloned())
            .unwrap_or_default()
    };
    let planned = or_defaults(&state.vpc_endpoints);
    let old = or_defaults(&prior.vpc_endpoints);
    let seen = or_defaults(&endpoints_block(&observed_endpoints(inv)));
    let settled = model::EndpointsBlock {
        s3: reached(&planned.s3, &old.s3, &seen.s3),
        dynamodb: reached(&planned.dynamodb, &old.dynamodb, &seen.dynamodb),
        public_route_table: reached(
            &planned.public_route_table,
            &old.public_route_table,
            &seen.public_route_table,
        ),
    };
    if settled != planned {
        state.vpc_endpoints = Value::Value(vec![settled]);
    }
}

/// The planned block to settle, with the prior and the observed one; `None` when
/// any of the three is absent (then the planned block stands).
fn block_triple<'a, T: Clone>(
    planned: &'a mut model::OneBlock<T>,
    prior: &model::OneBlock<T>,
    observed: &model::OneBlock<T>,
) -> Option<(&'a mut T, T, T)> {
    let old = first(prior)?.clone();
    let seen = first(observed)?.clone();
    let new = planned.as_mut_option()?.first_mut()?;
    Some((new, old, seen))
}
