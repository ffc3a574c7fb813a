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

    /// Clients that make each call once, so a test sees every throttling and
    /// refusal the layer answers (the SDK would otherwise retry them).
    pub fn without_retries(endpoint: &str) -> Api {
        Api::configured(endpoint, aws_config::retry::RetryConfig::disabled())
    }

    fn configured(endpoint: &str, retries: aws_config::retry::RetryConfig) -> Api {
        let config = runtime().block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(endpoint)
                .retry_config(retries)
                .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    "test", "test", None, None, "harness",
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

/// Creates an instance profile in moto's IAM and returns its ARN. EC2 launches
/// only with a profile IAM knows; the harness has no IAM client, so this sends
/// IAM's query request itself (moto picks the service from the credential
/// scope and does not check the signature).
pub fn create_instance_profile(endpoint: &str, name: &str) -> String {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let body = format!(
        "Action=CreateInstanceProfile&Version=2010-05-08&InstanceProfileName={name}&Path=%2F"
    );
    let request = hyper::Request::post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(Full::new(bytes::Bytes::from(body)))
        .expect("a CreateInstanceProfile request");
    let text = runtime().block_on(async {
        let client: Client<_, Full<bytes::Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let response = client.request(request).await.expect("moto answers");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        assert!(
            status.is_success(),
            "CreateInstanceProfile {name}: {status} {text}"
        );
        text
    });
    let arn = text
        .split("<Arn>")
        .nth(1)
        .and_then(|rest| rest.split("</Arn>").next())
        .unwrap_or_else(|| panic!("no Arn in the CreateInstanceProfile answer: {text}"));
    arn.to_string()
}
