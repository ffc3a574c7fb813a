//! The harness's own runtime and SDK clients pointed straight at moto: all the
//! fault layer and its model need, so the emulator example can use them without
//! the Terraform parts of the harness.

use std::sync::OnceLock;

/// One runtime for the harness's own async work (the fault layer and API checks),
/// so blocking Terraform calls in tests do not stall it.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("harness runtime")
    })
}

/// The access key that marks a call as an operator's, not the provider's.
pub const OPERATOR_KEY: &str = "OPERATOR";

/// SDK clients pointed straight at moto, bypassing the fault layer, for checks.
pub struct Api {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
}

impl Api {
    pub fn new(endpoint: &str) -> Api {
        Api::configured(endpoint, aws_config::retry::RetryConfig::standard())
    }

    /// Clients of an operator working through the AWS behaviour model (a
    /// console user, another team's script): the model sees and times what
    /// they do, while the fault layer leaves their calls out of what it
    /// counts and checks against the provider's IAM policy.
    pub fn operator(layer_endpoint: &str) -> Api {
        Api::signed_by(
            layer_endpoint,
            aws_config::retry::RetryConfig::standard(),
            OPERATOR_KEY,
        )
    }

    /// Clients that make each call once, so a test sees every throttling and
    /// refusal the layer answers (the SDK would otherwise retry them).
    pub fn without_retries(endpoint: &str) -> Api {
        Api::configured(endpoint, aws_config::retry::RetryConfig::disabled())
    }

    fn configured(endpoint: &str, retries: aws_config::retry::RetryConfig) -> Api {
        Api::signed_by(endpoint, retries, "test")
    }

    fn signed_by(endpoint: &str, retries: aws_config::retry::RetryConfig, access_key: &str) -> Api {
        let config = runtime().block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(endpoint)
                .retry_config(retries)
                .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    access_key, "test", None, None, "harness",
                ))
                .load(),
        );
        Api {
            ec2: aws_sdk_ec2::Client::new(&config),
            autoscaling: aws_sdk_autoscaling::Client::new(&config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&config),
        }
    }
}
