//! A group's notification configurations: which SNS topic hears of its
//! launches and terminations. moto 5.2.1 has no such API; AWS keeps one
//! configuration per group and topic (PutNotificationConfiguration replaces
//! its types), lists them by group names, and deletes them with the group.
//! A configuration for a group that does not exist is refused with AWS's
//! `ValidationError`.

use std::collections::{BTreeMap, BTreeSet};

use super::xml::escape;
use super::{Call, Model, Refusal, Verdict};

const NS: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/// Each group's configurations: topic ARN -> notification types.
pub type Configurations = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Answers the notification API from the model's own records.
pub async fn answer(model: &Model, call: &Call) -> Option<Verdict> {
    if call.service != "autoscaling" {
        return None;
    }
    let action = call.action.as_str();
    let done = |result: &str| {
        Verdict::Answer(format!(
            "<{action}Response xmlns=\"{NS}\">{result}<ResponseMetadata><RequestId>model</RequestId></ResponseMetadata></{action}Response>"
        ))
    };
    match action {
        "PutNotificationConfiguration" => {
            let group = call.param("AutoScalingGroupName")?.to_string();
            let topic = call.param("TopicARN")?.to_string();
            if model.group(&group).await.is_none() {
                return Some(Verdict::Refuse(Refusal::new(
                    400,
                    "ValidationError",
                    &format!("AutoScalingGroup name not found - {group}"),
                )));
            }
            let kinds = call.list("NotificationTypes.member").into_iter().collect();
            let mut state = model.state();
            let of_group = state.world.notifications.entry(group).or_default();
            of_group.insert(topic, kinds);
            Some(done(""))
        }
        "DeleteNotificationConfiguration" => {
            let group = call.param("AutoScalingGroupName")?;
            let topic = call.param("TopicARN")?;
            let mut state = model.state();
            if let Some(of_group) = state.world.notifications.get_mut(group) {
                of_group.remove(topic);
            }
            Some(done(""))
        }
        "DescribeNotificationConfigurations" => {
            let named: BTreeSet<String> = call
                .list("AutoScalingGroupNames.member")
                .into_iter()
                .collect();
            let state = model.state();
            let members: String = state
                .world
                .notifications
                .iter()
                .filter(|(group, _)| named.is_empty() || named.contains(*group))
                .flat_map(|(group, topics)| {
                    topics.iter().flat_map(move |(topic, kinds)| {
                        kinds.iter().map(move |kind| {
                            format!(
                                "<member><AutoScalingGroupName>{}</AutoScalingGroupName><TopicARN>{}</TopicARN><NotificationType>{}</NotificationType></member>",
                                escape(group),
                                escape(topic),
                                escape(kind)
                            )
                        })
                    })
                })
                .collect();
            Some(done(&format!(
                "<DescribeNotificationConfigurationsResult><NotificationConfigurations>{members}</NotificationConfigurations></DescribeNotificationConfigurationsResult>"
            )))
        }
        _ => None,
    }
}

/// AWS deletes a group's configurations with the group.
pub fn forget(model: &Model, group: &str) {
    model.state().world.notifications.remove(group);
}
