//! The provider's `assume_role` block, checked against STS's own limits so a
//! bad value is refused at validate time instead of by AssumeRole at apply.

use std::time::Duration;

use super::spec::parse_duration_text;

/// The session name used when the configuration gives none; it shows in
/// CloudTrail as the assumed role's session, so the provider is recognisable.
pub const DEFAULT_SESSION_NAME: &str = "terraform-provider-prodvpc";

/// The shortest and longest role session STS grants (the longest only when the
/// role's maximum session duration allows it).
pub const SHORTEST_SESSION: Duration = Duration::from_secs(900);
pub const LONGEST_SESSION: Duration = Duration::from_secs(12 * 3600);

/// The role to assume, as STS AssumeRole takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    pub external_id: Option<String>,
    /// `None`: STS's default (one hour)
    pub duration: Option<Duration>,
}

/// One refused field of the block: its attribute name, a summary and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleProblem {
    pub attribute: &'static str,
    pub summary: &'static str,
    pub detail: String,
}

/// Why `arn` is not an IAM role ARN (`arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`).
fn role_arn_problem(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return Some("it does not have the six colon-separated fields of an ARN".into());
    };
    if *prefix != "arn" || !["aws", "aws-cn", "aws-us-gov"].contains(partition) {
        return Some("it does not start with arn:aws:, arn:aws-cn: or arn:aws-us-gov:".into());
    }
    if *service != "iam" || !region.is_empty() {
        return Some("it is not an IAM ARN (arn:aws:iam::ACCOUNT:role/NAME)".into());
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "the account `{account}` is not a 12-digit account ID"
        ));
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Some(format!("`{resource}` does not name a role (role/NAME)"));
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    let name_ok = (1..=64).contains(&name.len()) && name.chars().all(is_iam_name_char);
    if !name_ok {
        return Some(format!(
            "the role name `{name}` is not 1 to 64 letters, digits or +=,.@_-"
        ));
    }
    None
}

/// The characters IAM and STS allow in role and session names (`[\w+=,.@-]`).
fn is_iam_name_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || "_+=,.@-".contains(ch)
}

/// Checks the block's values; `duration` is the text as written (`1h`, `15m`).
pub fn check(
    role_arn: &str,
    session_name: Option<&str>,
    external_id: Option<&str>,
    duration: Option<&str>,
) -> Result<AssumeRole, Vec<RoleProblem>> {
    let mut problems = Vec::new();
    if let Some(why) = role_arn_problem(role_arn) {
        problems.push(RoleProblem {
            attribute: "role_arn",
            summary: "Invalid role ARN",
            detail: format!("`{role_arn}` is not an IAM role ARN: {why}. Write the role's ARN as IAM shows it, such as arn:aws:iam::123456789012:role/terraform."),
        });
    }
    let session_name = session_name.unwrap_or(DEFAULT_SESSION_NAME);
    if !(2..=64).contains(&session_name.len()) || !session_name.chars().all(is_iam_name_char) {
        problems.push(RoleProblem {
            attribute: "session_name",
            summary: "Invalid session name",
            detail: format!("`{session_name}` is not a role session name: STS takes 2 to 64 letters, digits or +=,.@_- (no spaces). Write one such as ci-deploy, or leave session_name out to use {DEFAULT_SESSION_NAME}."),
        });
    }
    if let Some(id) = external_id {
        let id_ok = (2..=1224).contains(&id.len())
            && id
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_+=,.@:/-".contains(ch));
        if !id_ok {
            problems.push(RoleProblem {
                attribute: "external_id",
                summary: "Invalid external ID",
                detail: format!("The external ID has {} characters; STS takes 2 to 1224 letters, digits or +=,.@:/_- (no spaces). Copy it exactly from the role's trust policy (its sts:ExternalId condition).", id.len()),
            });
        }
    }
    let duration = match duration {
        None => None,
        Some(text) => match parse_duration_text(text) {
            Some(length) if (SHORTEST_SESSION..=LONGEST_SESSION).contains(&length) => Some(length),
            parsed => {
                let why = match parsed {
                    Some(length) => format!("it is {}s", length.as_secs()),
                    None => "it is not a duration".to_string(),
                };
                problems.push(RoleProblem {
                    attribute: "duration",
                    summary: "Invalid session duration",
                    detail: format!("`{text}` cannot be a role session's length: {why}, and STS grants 15m to 12h. Write a duration such as 15m, 1h or 1h30m (above 1h, the role's maximum session duration must allow it)."),
                });
                None
            }
        },
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(AssumeRole {
        role_arn: role_arn.to_string(),
        session_name: session_name.to_string(),
        external_id: external_id.map(str::to_string),
        duration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(
        arn: &str,
        session: Option<&str>,
        external_id: Option<&str>,
        duration: Option<&str>,
    ) -> Vec<&'static str> {
        check(arn, session, external_id, duration)
            .err()
            .unwrap_or_default()
            .iter()
            .map(|p| p.attribute)
            .collect()
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/terraform";

    #[test]
    fn role_arns_must_name_an_iam_role() {
        for good in [
            ROLE,
            "arn:aws:iam::123456789012:role/ci/deploy/terraform",
            "arn:aws-us-gov:iam::123456789012:role/a+b=c,d.e@f_g-h",
        ] {
            assert_eq!(
                refused(good, None, None, None),
                Vec::<&str>::new(),
                "{good}"
            );
        }
        for bad in [
            "",
            "terraform",
            "arn:aws:iam::123456789012:user/terraform",
            "arn:aws:iam::12345:role/terraform",
            "arn:aws:sts::123456789012:role/terraform",
            "arn:aws:iam:us-east-1:123456789012:role/terraform",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/has space",
            "arn:azure:iam::123456789012:role/terraform",
        ] {
            assert_eq!(refused(bad, None, None, None), vec!["role_arn"], "{bad}");
        }
    }

    #[test]
    fn session_names_follow_sts_limits() {
        assert_eq!(
            check(ROLE, None, None, None).unwrap().session_name,
            DEFAULT_SESSION_NAME
        );
        assert!(refused(ROLE, Some("ci@example.com"), None, None).is_empty());
        let too_long = "s".repeat(65);
        for bad in ["x", "has space", "ünïcode", too_long.as_str()] {
            assert_eq!(
                refused(ROLE, Some(bad), None, None),
                vec!["session_name"],
                "{bad}"
            );
        }
    }

    #[test]
    fn external_ids_follow_sts_limits() {
        assert!(refused(ROLE, None, Some("tenant-42:prod/x"), None).is_empty());
        let too_long = "e".repeat(1225);
        for bad in ["x", "with space", too_long.as_str()] {
            assert_eq!(refused(ROLE, None, Some(bad), None), vec!["external_id"]);
        }
    }

    #[test]
    fn durations_are_fifteen_minutes_to_twelve_hours() {
        assert_eq!(
            check(ROLE, None, None, Some("1h30m")).unwrap().duration,
            Some(Duration::from_secs(5400))
        );
        assert_eq!(
            check(ROLE, None, None, Some("15m")).unwrap().duration,
            Some(SHORTEST_SESSION)
        );
        assert_eq!(
            check(ROLE, None, None, Some("12h")).unwrap().duration,
            Some(LONGEST_SESSION)
        );
        for bad in ["14m59s", "12h1s", "1 hour", "3600", ""] {
            assert_eq!(
                refused(ROLE, None, None, Some(bad)),
                vec!["duration"],
                "{bad}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        assert_eq!(
            refused("role", Some("a b"), Some("x"), Some("5m")),
            vec!["role_arn", "session_name", "external_id", "duration"]
        );
    }
}
