//! Creates that AWS does not make idempotent (no ClientToken: CreateVpc,
//! CreateSubnet, CreateInternetGateway, CreateSecurityGroup, AllocateAddress)
//! made safe to repeat. When AWS did the work but its answer was lost (an HTTP
//! 500 or a dropped connection after the fact), the SDK's own retry would make
//! a second object that nothing records, and that destroy would leave behind.
//! Instead each create is sent once per attempt, carrying a token of its own in
//! its tags; before another attempt, and when an attempt is refused because the
//! object exists already (`InvalidSubnet.Conflict`, `InvalidGroup.Duplicate`),
//! the object carrying the token is looked up and taken.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Tags;
use crate::error::{AwsError, ErrorClass};

pub use crate::plan::spec::TAG_CREATE_TOKEN;

/// Attempts of one create, as many as the SDK's own retries would make.
const ATTEMPTS: u32 = 10;

/// How often, and how far apart, a lost create's object is looked for before
/// the create is sent again: AWS lists a new object within a second or two.
const LOOKS: u32 = 3;
const LOOK_PAUSE: Duration = Duration::from_millis(700);

/// The token of the create of the object `tags` describe, in this provider
/// process: the same for every attempt of it, whether this loop's or a caller's
/// retry (a call that names an object AWS does not see yet is retried whole),
/// and different in every other process, so an earlier apply's token never
/// returns what that apply made. At most 64 characters, as ClientTokens are.
pub fn token_for(tags: &Tags) -> String {
    use crate::plan::spec::{TAG_COMPONENT, TAG_ENVIRONMENT};
    static PROCESS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let process = PROCESS.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{:x}-{nanos:x}", std::process::id())
    });
    let field = |key: &str| tags.get(key).map_or("", String::as_str);
    // FNV-1a: the token shows nothing of the names it stands for
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [field(TAG_ENVIRONMENT), field(TAG_COMPONENT)] {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{process}-{hash:016x}")
}

/// True when a failed attempt may still have made its object, or says that
/// it exists already: worth looking for it before anything else.
fn may_have_made(error: &AwsError) -> bool {
    is_transient(error) || error.class() == ErrorClass::Conflict
}

/// Failures that another attempt can overcome: throttling, AWS's internal
/// errors and unavailability, calls that got no answer.
pub fn is_transient(error: &AwsError) -> bool {
    match error {
        AwsError::Api { code, class, .. } => {
            *class == ErrorClass::Throttled
                || matches!(
                    code.as_str(),
                    "InternalError"
                        | "InternalFailure"
                        | "ServiceUnavailable"
                        | "Unavailable"
                        | "RequestTimeout"
                        | "RequestTimeoutException"
                )
        }
        AwsError::Transport { .. } => true,
        AwsError::Unexpected { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Pause before attempt `attempt` (1-based): doubling from 250 ms, capped at
/// [`super::MAX_BACKOFF`], with jitter from the clock so that many
/// environments retrying at once spread out.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250).saturating_mul(1 << attempt.min(6));
    let capped = base.min(super::MAX_BACKOFF);
    let jitter = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 1000)
        .unwrap_or(500);
    capped.mul_f64(0.5 + f64::from(jitter) / 2000.0)
}

/// Runs `make` with `tags` plus a fresh token until it succeeds, taking the
/// object an earlier attempt made (found by `find` with the token) instead of
/// making another. `make` must send its call once (SDK retries off, see
/// `ec2::once`): this loop is the retry.
pub async fn create_once<T, Make, MakeFut, Find, FindFut>(
    tags: &Tags,
    mut make: Make,
    mut find: Find,
) -> Result<T, AwsError>
where
    Make: FnMut(Tags) -> MakeFut,
    MakeFut: Future<Output = Result<T, AwsError>>,
    Find: FnMut(String) -> FindFut,
    FindFut: Future<Output = Result<Option<T>, AwsError>>,
{
    let token = token_for(tags);
    let mut tagged = tags.clone();
    tagged.insert(TAG_CREATE_TOKEN.to_string(), token.clone());
    let mut attempt = 1;
    loop {
        let error = match make(tagged.clone()).await {
            Ok(made) => return Ok(made),
            Err(error) => error,
        };
        if may_have_made(&error) {
            for look in 0..LOOKS {
                if let Some(made) = find(token.clone()).await? {
                    tracing::debug!(%token, attempt, "took the object a create made before its answer was lost");
                    return Ok(made);
                }
                if look + 1 < LOOKS {
                    tokio::time::sleep(LOOK_PAUSE).await;
                }
            }
        }
        if !is_transient(&error) || attempt >= ATTEMPTS {
            return Err(error);
        }
        let pause = backoff(attempt);
        tracing::debug!(%error, ?pause, attempt, "create failed; nothing made by it was found, sending it again");
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn api(code: &str, class: ErrorClass) -> AwsError {
        AwsError::Api {
            operation: "CreateVpc",
            code: code.into(),
            message: String::new(),
            class,
            request_id: None,
        }
    }

    #[test]
    fn a_token_is_the_same_for_every_attempt_at_one_object_and_differs_between_objects() {
        let tags = |environment: &str, component: &str| {
            Tags::from([
                ("prodvpc:environment".to_string(), environment.to_string()),
                ("prodvpc:component".to_string(), component.to_string()),
                ("team".to_string(), "web".to_string()),
            ])
        };
        let vpc = token_for(&tags("shop", "vpc"));
        assert_eq!(vpc, token_for(&tags("shop", "vpc")));
        assert_ne!(vpc, token_for(&tags("shop", "igw")));
        assert_ne!(vpc, token_for(&tags("blog", "vpc")));
        // the boundary between the two names counts
        assert_ne!(token_for(&tags("ab", "c")), token_for(&tags("a", "bc")));
        assert!(vpc.len() <= 64, "{vpc}");
    }

    #[test]
    fn internal_errors_throttling_and_lost_connections_are_transient_refusals_are_not() {
        assert!(is_transient(&api("InternalError", ErrorClass::Other)));
        assert!(is_transient(&api(
            "RequestLimitExceeded",
            ErrorClass::Throttled
        )));
        assert!(is_transient(&AwsError::Transport {
            operation: "CreateVpc",
            detail: "connection reset".into()
        }));
        assert!(!is_transient(&api("VpcLimitExceeded", ErrorClass::Other)));
        assert!(!is_transient(&api(
            "InvalidGroup.Duplicate",
            ErrorClass::Conflict
        )));
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        assert!(backoff(1) <= Duration::from_millis(500));
        assert!(backoff(9) <= crate::aws::MAX_BACKOFF);
        assert!(backoff(9) >= crate::aws::MAX_BACKOFF / 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_takes_what_the_call_made_and_makes_nothing_more() {
        let made = AtomicU32::new(0);
        let tags = Tags::from([("prodvpc:component".to_string(), "vpc".to_string())]);
        let seen = std::sync::Mutex::new(None::<Tags>);
        let result = create_once(
            &tags,
            |tags| {
                made.fetch_add(1, Ordering::SeqCst);
                *seen.lock().unwrap() = Some(tags);
                async { Err::<String, _>(api("InternalError", ErrorClass::Other)) }
            },
            |token| {
                let carried = seen.lock().unwrap().as_ref().unwrap()[TAG_CREATE_TOKEN].clone();
                async move { Ok((token == carried).then(|| "vpc-1".to_string())) }
            },
        )
        .await;
        assert_eq!(result.unwrap(), "vpc-1");
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_that_made_nothing_is_sent_again_and_a_refusal_is_not() {
        let made = AtomicU32::new(0);
        let result = create_once(
            &Tags::new(),
            |_| {
                let n = made.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Err(api("InternalError", ErrorClass::Other))
                    } else {
                        Ok("vpc-2".to_string())
                    }
                }
            },
            |_| async { Ok(None) },
        )
        .await;
        assert_eq!(result.unwrap(), "vpc-2");
        assert_eq!(made.load(Ordering::SeqCst), 2);

        let refused = create_once(
            &Tags::new(),
            |_| async { Err::<String, _>(api("VpcLimitExceeded", ErrorClass::Other)) },
            |_| async { Ok(None) },
        )
        .await;
        assert!(matches!(refused, Err(AwsError::Api { code, .. }) if code == "VpcLimitExceeded"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_object_that_exists_already_with_the_token_is_taken() {
        let attempts = AtomicU32::new(0);
        let result = create_once(
            &Tags::new(),
            |_| {
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                async move {
                    Err::<String, _>(if n == 0 {
                        api("InternalError", ErrorClass::Other)
                    } else {
                        api("InvalidSubnet.Conflict", ErrorClass::Conflict)
                    })
                }
            },
            // AWS lists the subnet only from the fourth look on
            {
                let looks = AtomicU32::new(0);
                move |_| {
                    let n = looks.fetch_add(1, Ordering::SeqCst);
                    async move { Ok((n >= 3).then(|| "subnet-1".to_string())) }
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), "subnet-1");
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }
}
