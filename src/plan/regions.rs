//! The regions this provider knows, with the constants AWS gives per region.

/// Every region with its application load balancers' Route 53 hosted zone
/// (AWS's table at <https://docs.aws.amazon.com/general/latest/gr/elb.html>,
/// the same as hashicorp/aws's `aws_lb_hosted_zone_id`). Every load balancer
/// of a region answers with its region's zone, so plans know it before AWS.
const ALB_HOSTED_ZONES: &[(&str, &str)] = &[
    ("af-south-1", "Z268VQBMOI5EKX"),
    ("ap-east-1", "Z3DQVH9N71FHZ0"),
    ("ap-northeast-1", "Z14GRHDCWA56QT"),
    ("ap-northeast-2", "ZWKZPGTI48KDX"),
    ("ap-northeast-3", "Z5LXEXXYW11ES"),
    ("ap-south-1", "ZP97RAFLXTNZK"),
    ("ap-south-2", "Z0173938T07WNTVAEPZN"),
    ("ap-southeast-1", "Z1LMS91P8CMLE5"),
    ("ap-southeast-2", "Z1GM3OXH4ZPM65"),
    ("ap-southeast-3", "Z08888821HLRG5A9ZRTER"),
    ("ap-southeast-4", "Z09517862IB2WZLPXG76F"),
    ("ca-central-1", "ZQSVJUPU6J1EY"),
    ("ca-west-1", "Z06473681N0SF6OS049SD"),
    ("cn-north-1", "Z1GDH35T77C1KE"),
    ("cn-northwest-1", "ZM7IZAIOVVDZF"),
    ("eu-central-1", "Z215JYRZR1TBD5"),
    ("eu-central-2", "Z06391101F2ZOEP8P5EB3"),
    ("eu-north-1", "Z23TAZ6LKFMNIO"),
    ("eu-south-1", "Z3ULH7SSC9OV64"),
    ("eu-south-2", "Z0956581394HF5D5LXGAP"),
    ("eu-west-1", "Z32O12XQLNTSW2"),
    ("eu-west-2", "ZHURV8PSTC4K8"),
    ("eu-west-3", "Z3Q77PNBQS71R4"),
    ("il-central-1", "Z09170902867EHPV2DABU"),
    ("me-central-1", "Z08230872XQRWHG2XF6I"),
    ("me-south-1", "ZS929ML54UICD"),
    ("sa-east-1", "Z2P70J7HTTTPLU"),
    ("us-east-1", "Z35SXDOTRQ7X7K"),
    ("us-east-2", "Z3AADJGX6KTTL2"),
    ("us-gov-east-1", "Z166TLBEWOO7G0"),
    ("us-gov-west-1", "Z33AYJ8TM3BH4J"),
    ("us-west-1", "Z368ELLRRE2KJ0"),
    ("us-west-2", "Z1H1FL5HABSF5"),
];

/// The hosted zone of every application load balancer in `region`.
pub fn alb_hosted_zone(region: &str) -> Option<&'static str> {
    ALB_HOSTED_ZONES
        .iter()
        .find(|(name, _)| *name == region)
        .map(|(_, zone)| *zone)
}

/// Whether AWS offers `region` (as far as this provider version knows).
pub fn is_known(region: &str) -> bool {
    alb_hosted_zone(region).is_some()
}

/// The regions of `region`'s area (`eu` for `eu-west-9`), or all of them
/// when AWS has none there: the likely corrections of a mistyped name.
pub fn near(region: &str) -> Vec<&'static str> {
    let area = region.split('-').next().unwrap_or_default();
    let same_area: Vec<&'static str> = ALB_HOSTED_ZONES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| name.split('-').next() == Some(area))
        .collect();
    if same_area.is_empty() {
        ALB_HOSTED_ZONES.iter().map(|(name, _)| *name).collect()
    } else {
        same_area
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_has_one_zone_and_the_table_is_sorted() {
        assert_eq!(alb_hosted_zone("us-east-1"), Some("Z35SXDOTRQ7X7K"));
        assert_eq!(alb_hosted_zone("eu-west-1"), Some("Z32O12XQLNTSW2"));
        assert_eq!(alb_hosted_zone("xx-east-9"), None);
        assert!(ALB_HOSTED_ZONES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn unknown_regions_are_offered_their_area_or_everything() {
        assert!(!is_known("us-east-9"));
        assert_eq!(
            near("us-east-9"),
            [
                "us-east-1",
                "us-east-2",
                "us-gov-east-1",
                "us-gov-west-1",
                "us-west-1",
                "us-west-2"
            ]
        );
        assert_eq!(near("xx-east-9").len(), ALB_HOSTED_ZONES.len());
    }
}
