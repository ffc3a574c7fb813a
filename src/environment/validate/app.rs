//! The `app` block: sizes, health checks, refresh preferences, user data.

use tf_provider::value::Value;

use crate::environment::model::{
    first, AppBlock, EnvironmentState, InstanceRefreshBlock, MixedInstancesBlock,
};
use crate::plan::spec::{
    AppSpec, InstanceMix, RefreshPreferences, MAX_HEALTH_CHECK_GRACE_PERIOD, MAX_INSTANCE_WARMUP,
};

use super::{check_instance_profile, in_block, Checker, Step, MAX_GROUP_SIZE, MAX_USER_DATA_BYTES};

pub(super) fn check_app(c: &mut Checker, config: &EnvironmentState) {
    let Some(app) = first(&config.app) else {
        return;
    };
    if let Value::Value(port) = app.port {
        if !(1..=65535).contains(&port) {
            c.fail(
                in_block("app", "port"),
                "Port out of range",
                format!("port is {port}; use a TCP port from 1 to 65535."),
            );
        }
    }
    check_sizes(c, app);
    if let Value::Value(target) = app.cpu_target {
        if !(target > 0.0 && target <= 100.0) {
            c.fail(in_block("app", "cpu_target"), "cpu_target out of range", format!("cpu_target is {target}; it is a percentage of average CPU, greater than 0 and at most 100 (for example 50)."));
        }
    }
    if let Value::Value(path) = &app.health_check_path {
        if !path.starts_with('/') || path.len() > 1024 {
            c.fail(in_block("app", "health_check_path"), "Invalid health check path", format!("`{path}` must start with `/` and be at most 1024 characters, for example \"/health\"."));
        }
    }
    if let Value::Value(grace) = app.health_check_grace_period {
        if !(0..=i64::from(MAX_HEALTH_CHECK_GRACE_PERIOD)).contains(&grace) {
            c.fail(in_block("app", "health_check_grace_period"), "health_check_grace_period out of range", format!("health_check_grace_period is {grace}; AWS accepts 0 to {MAX_HEALTH_CHECK_GRACE_PERIOD} seconds. Give instances about as long as the application takes to start, for example 300."));
        }
    }
    if let Some(refresh) = first(&app.instance_refresh) {
        check_instance_refresh(c, refresh);
    }
    if let Some(mix) = first(&app.mixed_instances) {
        check_mixed_instances(c, mix);
    }
    check_instance_profile(c, "app", &app.iam_instance_profile);
    check_user_data(c, app);
    for (value, name) in [
        (&app.instance_type, "instance_type"),
        (&app.ami_id, "ami_id"),
    ] {
        if let Value::Value(text) = value {
            let valid = if name == "ami_id" {
                text.starts_with("ami-")
            } else {
                text.contains('.')
            };
            if !valid {
                let example = if name == "ami_id" {
                    "ami-0123456789abcdef0"
                } else {
                    "t3.micro"
                };
                c.fail(
                    in_block("app", name),
                    format!("Invalid {name}"),
                    format!("`{text}` is not a valid {name}; write one like \"{example}\"."),
                );
            }
        }
    }
}

pub(super) fn in_refresh(name: &'static str) -> Vec<Step> {
    let mut path = in_block("app", "instance_refresh");
    path.extend([Step::Index(0), Step::Attribute(name)]);
    path
}

fn in_mix(name: &'static str) -> Vec<Step> {
    let mut path = in_block("app", "mixed_instances");
    path.extend([Step::Index(0), Step::Attribute(name)]);
    path
}

/// AWS's rules for a mixed instances policy: 1-40 distinct types of the
/// form family.size, a base of whole instances, a percentage, a strategy it knows.
fn check_mixed_instances(c: &mut Checker, mix: &MixedInstancesBlock) {
    if let Value::Value(types) = &mix.instance_types {
        let count = types.len();
        if count == 0 || count > InstanceMix::MAX_INSTANCE_TYPES {
            c.fail(in_mix("instance_types"), "Wrong number of instance types", format!("instance_types lists {count}; give 1 to {} instance types, in order of priority.", InstanceMix::MAX_INSTANCE_TYPES));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (index, item) in types.iter().enumerate() {
            let Value::Value(name) = item else { continue };
            let mut path = in_mix("instance_types");
            path.push(Step::Index(index as i64));
            if !name.contains('.') {
                c.fail(
                    path,
                    "Invalid instance type",
                    format!("`{name}` is not an instance type; write one like \"t3.micro\"."),
                );
            } else if !seen.insert(name.as_str()) {
                c.fail(
                    path,
                    "Duplicate instance type",
                    format!("`{name}` is listed twice; list each type once, in order of priority."),
                );
            }
        }
    }
    if let Value::Value(base) = mix.on_demand_base_capacity {
        if !(0..=MAX_GROUP_SIZE).contains(&base) {
            c.fail(
                in_mix("on_demand_base_capacity"),
                "on_demand_base_capacity out of range",
                format!("on_demand_base_capacity is {base}; give a number of instances from 0 up."),
            );
        }
    }
    if let Value::Value(percentage) = mix.on_demand_percentage_above_base_capacity {
        if !(0..=100).contains(&percentage) {
            c.fail(in_mix("on_demand_percentage_above_base_capacity"), "on_demand_percentage_above_base_capacity out of range", format!("on_demand_percentage_above_base_capacity is {percentage}; give a percentage from 0 (all Spot above the base) to 100 (all On-Demand)."));
        }
    }
    if let Value::Value(strategy) = &mix.spot_allocation_strategy {
        if !InstanceMix::SPOT_STRATEGIES.contains(&strategy.as_str()) {
            c.fail(
                in_mix("spot_allocation_strategy"),
                "Unknown Spot allocation strategy",
                format!(
                    "`{strategy}` is not one of {}. \"{}\" is AWS's recommendation.",
                    InstanceMix::SPOT_STRATEGIES
                        .map(|s| format!("\"{s}\""))
                        .join(", "),
                    InstanceMix::DEFAULT_SPOT_STRATEGY
                ),
            );
        }
    }
}

/// AWS's rules for refresh preferences, judged with the defaults of what is not set.
pub(super) fn check_instance_refresh(c: &mut Checker, refresh: &InstanceRefreshBlock) {
    let defaults = RefreshPreferences::default();
    let (min_range, max_range) = (
        RefreshPreferences::MIN_HEALTHY_RANGE,
        RefreshPreferences::MAX_HEALTHY_RANGE,
    );
    let percentage = |value: &Value<i64>, default: u32| match value {
        Value::Value(n) => Some(*n),
        Value::Null => Some(i64::from(default)),
        Value::Unknown => None,
    };
    let min = percentage(
        &refresh.min_healthy_percentage,
        defaults.min_healthy_percentage,
    );
    let max = percentage(
        &refresh.max_healthy_percentage,
        defaults.max_healthy_percentage,
    );
    let mut in_range = true;
    if let Some(min) = min.filter(|m| !contains(&min_range, *m)) {
        in_range = false;
        c.fail(in_refresh("min_healthy_percentage"), "min_healthy_percentage out of range", format!("min_healthy_percentage is {min}; AWS accepts {} to {} percent of the desired capacity, for example 90.", min_range.start(), min_range.end()));
    }
    if let Some(max) = max.filter(|m| !contains(&max_range, *m)) {
        in_range = false;
        c.fail(in_refresh("max_healthy_percentage"), "max_healthy_percentage out of range", format!("max_healthy_percentage is {max}; AWS accepts {} to {} percent of the desired capacity, for example 100 (replace, then launch) or 110 (launch replacements first).", max_range.start(), max_range.end()));
    }
    if let (Some(min), Some(max), true) = (min, max, in_range) {
        let spread = RefreshPreferences::MAX_HEALTHY_SPREAD;
        if max - min > i64::from(spread) {
            c.fail(in_refresh("max_healthy_percentage"), "Healthy percentages too far apart", format!("max_healthy_percentage ({max}) is {} above min_healthy_percentage ({min}); AWS allows at most {spread}. Lower max_healthy_percentage to {} or raise min_healthy_percentage to {}.", max - min, min + i64::from(spread), max - i64::from(spread)));
        }
    }
    if let Value::Value(warmup) = refresh.instance_warmup {
        if !(0..=i64::from(MAX_INSTANCE_WARMUP)).contains(&warmup) {
            c.fail(in_refresh("instance_warmup"), "instance_warmup out of range", format!("instance_warmup is {warmup}; use 0 to {MAX_INSTANCE_WARMUP} seconds, or leave it unset so AWS waits the group's health check grace period."));
        }
    }
}

pub(super) fn contains(range: &std::ops::RangeInclusive<u32>, value: i64) -> bool {
    (i64::from(*range.start())..=i64::from(*range.end())).contains(&value)
}

/// A size as the group will get it: the configured value, else its default;
/// `None` while unknown. The flag says whether it was configured.
pub(super) type Size = Option<(i64, bool)>;

pub(super) fn size_text((value, configured): (i64, bool)) -> String {
    if configured {
        value.to_string()
    } else {
        format!("{value}, the default")
    }
}

/// Sizes are judged as the group gets them, defaults included; a size still
/// unknown at plan time is not judged, and neither is what depends on it.
pub(super) fn check_sizes(c: &mut Checker, app: &crate::environment::model::AppBlock) {
    let defaults = AppSpec::default();
    let configured = |value: &Value<i64>| match value {
        Value::Value(n) => Some(*n),
        _ => None,
    };
    let mut sizes_valid = true;
    for (value, name) in [
        (&app.min_size, "min_size"),
        (&app.max_size, "max_size"),
        (&app.desired_capacity, "desired_capacity"),
    ] {
        match configured(value) {
            Some(n) if n < 0 => c.fail(
                in_block("app", name),
                "Negative size",
                format!("{name} is {n}; sizes count instances and cannot be negative."),
            ),
            Some(n) if n > MAX_GROUP_SIZE => c.fail(
                in_block("app", name),
                "Size too large",
                format!("{name} is {n}; Auto Scaling accepts at most {MAX_GROUP_SIZE}."),
            ),
            _ => continue,
        }
        sizes_valid = false;
    }
    if !sizes_valid {
        return;
    }
    let min: Size = match app.min_size {
        Value::Value(n) => Some((n, true)),
        Value::Null => Some((i64::from(defaults.min_size), false)),
        Value::Unknown => None,
    };
    let max: Size = match (app.max_size, min) {
        (Value::Value(n), _) => Some((n, true)),
        // the default maximum grows with a larger min_size (see apply_defaults)
        (Value::Null, Some((min, _))) => Some((min.max(i64::from(defaults.max_size)), false)),
        _ => None,
    };
    let desired: Size = configured(&app.desired_capacity).map(|n| (n, true));
    if let Some((0, _)) = max {
        c.fail(
            in_block("app", "max_size"),
            "max_size too small",
            "max_size is 0; it must be at least 1 so the group can run the app.",
        );
        return;
    }
    if let (Some(low), Some(high)) = (min, max) {
        if low.0 > high.0 {
            let (path, fix) = if low.1 {
                (
                    "min_size",
                    format!("Raise max_size to at least {} or lower min_size.", low.0),
                )
            } else {
                (
                    "max_size",
                    format!(
                        "Raise max_size to at least {}, or set min_size to {} or less.",
                        low.0, high.0
                    ),
                )
            };
            c.fail(
                in_block("app", path),
                "min_size exceeds max_size",
                format!(
                    "min_size is {} but max_size is {}. {fix}",
                    size_text(low),
                    size_text(high)
                ),
            );
            return;
        }
    }
    if let Some(want) = desired {
        let below = min.is_some_and(|low| want.0 < low.0);
        let above = max.is_some_and(|high| want.0 > high.0);
        if below || above {
            let bound = |size: Size| size.map_or("unknown".to_string(), size_text);
            c.fail(
                in_block("app", "desired_capacity"),
                "desired_capacity outside the bounds",
                format!(
                    "desired_capacity is {}; it must lie between min_size ({}) and max_size ({}). Change desired_capacity or the bound it crosses.",
                    want.0,
                    bound(min),
                    bound(max)
                ),
            );
        }
    }
}

/// One script, plain or write-only (with its version), of a size AWS takes.
fn check_user_data(c: &mut Checker, app: &AppBlock) {
    for (value, name) in [
        (&app.user_data, "user_data"),
        (&app.user_data_wo, "user_data_wo"),
    ] {
        if let Value::Value(data) = value {
            if data.len() > MAX_USER_DATA_BYTES {
                c.fail(in_block("app", name), "User data too long", format!("{name} has {} bytes; AWS accepts at most {MAX_USER_DATA_BYTES} (16 KB). Keep a short script that downloads the rest, for example from S3.", data.len()));
            }
        }
    }
    if !app.user_data.is_null() && !app.user_data_wo.is_null() {
        c.fail(
            in_block("app", "user_data_wo"),
            "Conflicting user data",
            "Set either `user_data` or `user_data_wo`, not both: the instances run one script.",
        );
    }
    match (app.user_data_wo.is_null(), &app.user_data_wo_version) {
        (false, Value::Null) => c.fail(in_block("app", "user_data_wo_version"), "Missing user_data_wo_version", "`user_data_wo` needs `user_data_wo_version`: no state holds the script, so the version is how apply knows it changed. Set it, for example to 1, and raise it whenever the script changes."),
        (true, Value::Value(_)) => c.fail(in_block("app", "user_data_wo_version"), "user_data_wo_version without user_data_wo", "`user_data_wo_version` versions the write-only script `user_data_wo`, which is not set. Set `user_data_wo` too, or remove `user_data_wo_version`."),
        (_, Value::Value(version)) if *version < 0 => c.fail(in_block("app", "user_data_wo_version"), "Negative user_data_wo_version", format!("user_data_wo_version is {version}; use a whole number from 0 up, raised each time the script changes.")),
        _ => {}
    }
}
