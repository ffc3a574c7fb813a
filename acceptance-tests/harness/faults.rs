//! A layer in front of moto that counts calls per `service:Action` and injects
//! the AWS behaviour moto lacks: throttling, server errors, DependencyViolation
//! while network interfaces linger, and added latency. Started with
//! [`FaultLayer::start_modelled`], it also runs every call through the AWS
//! behaviour model (see [`super::model`]).

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::iam::PolicyCheck;
use super::model::{Call, Model, ModelConfig, Verdict};
use super::runtime;

/// What to answer instead of forwarding.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// HTTP 400 with an AWS error code, e.g. `DependencyViolation` or `Throttling`
    Error { status: u16, code: String },
    /// wait, then forward
    Latency(Duration),
    /// forward, then replace `from` by `to` in the response (e.g. report a
    /// resource as `pending` the way AWS does while it is being created)
    Rewrite { from: String, to: String },
    /// forward (AWS does the work), then answer HTTP 500 `InternalError` as if
    /// the answer had been lost on its way back: a repeat of a call without a
    /// ClientToken makes a second object
    LostAnswer,
}

impl Fault {
    pub fn throttling() -> Fault {
        Fault::Error {
            status: 400,
            code: "Throttling".into(),
        }
    }
    pub fn dependency_violation() -> Fault {
        Fault::Error {
            status: 400,
            code: "DependencyViolation".into(),
        }
    }
    pub fn internal_error() -> Fault {
        Fault::Error {
            status: 500,
            code: "InternalError".into(),
        }
    }
}

#[derive(Default)]
struct Rules {
    /// `service:Action` -> (fault, remaining count)
    faults: HashMap<String, Vec<(Fault, usize)>>,
    counts: HashMap<String, usize>,
    /// the last request body of each `service:Action`
    last: HashMap<String, String>,
    /// added to every call, like the round trip to a real region
    latency: Duration,
    /// every `service:Action` forwarded, kept by `reset_counts` for the IAM policy check
    seen: BTreeSet<String>,
    /// `service:Action` -> the access key IDs that signed its calls
    signers: HashMap<String, BTreeSet<String>>,
}

/// Answers for calls moto does not implement, as AWS gives them.
fn emulated_answer(key: &str) -> Option<Response<Full<Bytes>>> {
    const NS: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";
    let body = match key {
        // moto 5.2.1 answers HTTP 500 to the instance refresh calls
        "autoscaling:StartInstanceRefresh" => format!(
            "<StartInstanceRefreshResponse xmlns=\"{NS}\"><StartInstanceRefreshResult><InstanceRefreshId>refresh-emulated</InstanceRefreshId></StartInstanceRefreshResult><ResponseMetadata><RequestId>emulated</RequestId></ResponseMetadata></StartInstanceRefreshResponse>"
        ),
        "autoscaling:CancelInstanceRefresh" => format!(
            "<CancelInstanceRefreshResponse xmlns=\"{NS}\"><CancelInstanceRefreshResult><InstanceRefreshId>refresh-emulated</InstanceRefreshId></CancelInstanceRefreshResult><ResponseMetadata><RequestId>emulated</RequestId></ResponseMetadata></CancelInstanceRefreshResponse>"
        ),
        "autoscaling:DescribeInstanceRefreshes" => format!(
            // the one refresh it ever started, done at once
            "<DescribeInstanceRefreshesResponse xmlns=\"{NS}\"><DescribeInstanceRefreshesResult><InstanceRefreshes><member><InstanceRefreshId>refresh-emulated</InstanceRefreshId><Status>Successful</Status><PercentageComplete>100</PercentageComplete><InstancesToUpdate>0</InstancesToUpdate></member></InstanceRefreshes></DescribeInstanceRefreshesResult><ResponseMetadata><RequestId>emulated</RequestId></ResponseMetadata></DescribeInstanceRefreshesResponse>"
        ),
        _ => return None,
    };
    Some(xml_response(body))
}

fn xml_response(body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(200)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body)))
        .expect("static response")
}

/// The running layer; cheap to clone.
#[derive(Clone)]
pub struct FaultLayer {
    pub addr: SocketAddr,
    rules: Arc<Mutex<Rules>>,
    /// fails the test, once its last handle is dropped, on a call the IAM policy does not
    /// allow (absent for layers that tests or demos drive themselves)
    _policy: Option<Arc<PolicyCheck>>,
    model: Option<Arc<Model>>,
}

fn emulator_client(upstream: &str) -> aws_sdk_ec2::Client {
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new("us-east-1"))
        .endpoint_url(upstream)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "fault-layer",
        ))
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

/// Field `index` of the SigV4 credential (`AKID/date/region/service/aws4_request`)
/// of the request's `Authorization` header.
fn credential_field(req: &Request<Incoming>, index: usize) -> String {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|cred| cred.split(['/', ',']).nth(index))
        .unwrap_or("unknown")
        .to_string()
}

/// `ec2`, `autoscaling`, `elasticloadbalancing` or `sts`, from the SigV4 credential scope.
fn service_of(req: &Request<Incoming>) -> String {
    credential_field(req, 3)
}

/// The region the request was signed for, from the SigV4 credential scope.
fn region_of(req: &Request<Incoming>) -> String {
    credential_field(req, 2)
}

/// The access key ID that signed the request (`ASIA...` for a role's temporary credentials).
fn access_key_of(req: &Request<Incoming>) -> String {
    credential_field(req, 0)
}

fn param_of(body: &[u8], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix(prefix.as_str()).map(str::to_string))
}

fn action_of(body: &[u8]) -> String {
    param_of(body, "Action").unwrap_or_else(|| "Unknown".into())
}

/// What AWS does on its own after some calls and moto does not: applied to the
/// emulator through its API once the call has succeeded.
async fn emulate_aws(ec2: &aws_sdk_ec2::Client, key: &str, request: &[u8]) {
    if key == "ec2:DeleteNatGateway" {
        // AWS disassociates the gateway's Elastic IP when the deletion completes;
        // moto keeps it associated with the deleted gateway forever.
        let Some(id) = param_of(request, "NatGatewayId") else {
            return;
        };
        let Ok(out) = ec2
            .describe_nat_gateways()
            .nat_gateway_ids(&id)
            .send()
            .await
        else {
            return;
        };
        for address in out
            .nat_gateways()
            .iter()
            .flat_map(|g| g.nat_gateway_addresses())
        {
            if let Some(ip) = address.public_ip() {
                let _ = ec2.disassociate_address().public_ip(ip).send().await;
            }
        }
    }
}

fn error_response(service: &str, status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let message = super::model::escape(message);
    let body = if service == "ec2" {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>fault</RequestID></Response>")
    } else {
        format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>")
    };
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body)))
        .expect("static response")
}

/// The scale of AWS's durations behind [`FaultLayer::aws_like`].
pub const AWS_LIKE_TIME_SCALE: f64 = 0.02;

impl FaultLayer {
    /// Starts the layer on a free loopback port, forwarding to `upstream`
    /// (moto), with the model answering only what moto lacks (EC2 Instance
    /// Connect Endpoints): AWS's durations, throttling and eventual
    /// consistency are off, so what a test sees is moto's (plus what it injects).
    pub fn start(upstream: &str) -> FaultLayer {
        FaultLayer::start_modelled(upstream, ModelConfig::immediate())
    }

    /// The layer the lifecycle, update, import and drift tests run behind: the
    /// AWS behaviour model with AWS's durations at 2% (a NAT gateway pending
    /// 1.8 s, the load balancer provisioning 3 s), throttling on, and one call in
    /// two that names an object younger than 1.5 s answered "not found", as AWS's
    /// eventual consistency can. Nothing in those tests retries: the provider must.
    pub fn aws_like(upstream: &str) -> FaultLayer {
        FaultLayer::start_modelled(upstream, ModelConfig::aws_like(AWS_LIKE_TIME_SCALE, 0.5))
    }

    /// Starts the layer with the AWS behaviour model on a free loopback port,
    /// forwarding to `upstream` (moto), for the provider's calls (checked
    /// against the IAM policy like [`FaultLayer::start`]).
    pub fn start_modelled(upstream: &str, config: ModelConfig) -> FaultLayer {
        let model = Model::start(upstream, config);
        FaultLayer::start_on("127.0.0.1:0", upstream, Some(model), true)
    }

    /// Starts the layer with the AWS behaviour model on `listen` (`host:port`)
    /// for callers other than the provider (the model's own tests, the
    /// emulator): their calls are not checked against the IAM policy.
    pub fn start_modelled_on(listen: &str, upstream: &str, config: ModelConfig) -> FaultLayer {
        FaultLayer::start_on(
            listen,
            upstream,
            Some(Model::start(upstream, config)),
            false,
        )
    }

    fn start_on(
        listen: &str,
        upstream: &str,
        model: Option<Arc<Model>>,
        checked: bool,
    ) -> FaultLayer {
        let rules: Arc<Mutex<Rules>> = Arc::default();
        let ec2 = emulator_client(upstream);
        let upstream: hyper::Uri = upstream.parse().expect("upstream url");
        let listener = runtime()
            .block_on(tokio::net::TcpListener::bind(listen))
            .expect("bind fault layer");
        let addr = listener.local_addr().expect("fault layer address");
        let shared = rules.clone();
        let shared_model = model.clone();
        runtime().spawn(async move {
            let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let rules = shared.clone();
                let client = client.clone();
                let upstream = upstream.clone();
                let ec2 = ec2.clone();
                let model = shared_model.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let upstream = Upstream {
                            client: client.clone(),
                            uri: upstream.clone(),
                            ec2: ec2.clone(),
                        };
                        let rules = rules.clone();
                        let model = model.clone();
                        async move {
                            Ok::<_, Infallible>(forward(req, rules, upstream, model).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let policy = checked.then(|| {
            let seen = rules.clone();
            Arc::new(PolicyCheck::new(move || seen.lock().unwrap().seen.clone()))
        });
        FaultLayer {
            addr,
            rules,
            _policy: policy,
            model,
        }
    }

    /// The AWS behaviour model (the layer must have been started with
    /// [`FaultLayer::start_modelled`]).
    pub fn model(&self) -> &Model {
        self.model
            .as_deref()
            .expect("the layer was started with FaultLayer::start_modelled")
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next `times` calls of `service:Action` with `fault`.
    pub fn inject(&self, key: &str, fault: Fault, times: usize) {
        let mut rules = self.rules.lock().unwrap();
        rules
            .faults
            .entry(key.to_string())
            .or_default()
            .push((fault, times));
    }

    /// How many calls of `service:Action` reached the layer (faulted ones included).
    pub fn count(&self, key: &str) -> usize {
        self.rules
            .lock()
            .unwrap()
            .counts
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// All counts, for reports.
    pub fn counts(&self) -> HashMap<String, usize> {
        self.rules.lock().unwrap().counts.clone()
    }

    /// Forgets the counts and the signers of the calls so far.
    pub fn reset_counts(&self) {
        let mut rules = self.rules.lock().unwrap();
        rules.counts.clear();
        rules.signers.clear();
    }

    /// The access key IDs that signed the calls of each `service:Action` so far.
    pub fn signers(&self) -> HashMap<String, BTreeSet<String>> {
        self.rules.lock().unwrap().signers.clone()
    }

    /// Drops every fault not yet used up.
    pub fn clear_faults(&self) {
        self.rules.lock().unwrap().faults.clear();
    }

    /// Delays every call by `latency` from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.rules.lock().unwrap().latency = latency;
    }

    /// The body of the last `service:Action` request, URL-encoded as sent.
    pub fn last_request(&self, key: &str) -> Option<String> {
        self.rules.lock().unwrap().last.get(key).cloned()
    }
}

/// Where the layer forwards to: moto, and a client for emulating AWS through its API.
struct Upstream {
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    uri: hyper::Uri,
    ec2: aws_sdk_ec2::Client,
}

async fn forward(
    req: Request<Incoming>,
    rules: Arc<Mutex<Rules>>,
    upstream: Upstream,
    model: Option<Arc<Model>>,
) -> Response<Full<Bytes>> {
    let service = service_of(&req);
    let signer = access_key_of(&req);
    let region = region_of(&req);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let key = format!("{service}:{}", action_of(&body));
    let (fault, latency) = {
        let mut rules = rules.lock().unwrap();
        // an operator's change is not the provider's call: not counted, not
        // checked against its policy, not given the provider's faults
        let operator = signer == super::api::OPERATOR_KEY;
        if !operator {
            *rules.counts.entry(key.clone()).or_default() += 1;
            rules.seen.insert(key.clone());
            rules.signers.entry(key.clone()).or_default().insert(signer);
            rules
                .last
                .insert(key.clone(), String::from_utf8_lossy(&body).into_owned());
        }
        let fault = rules
            .faults
            .get_mut(&key)
            .filter(|_| !operator)
            .and_then(|list| {
                let slot = list.iter_mut().find(|(_, left)| *left > 0)?;
                slot.1 -= 1;
                Some(slot.0.clone())
            });
        (fault, rules.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Some(Fault::Error { status, code }) => {
            return error_response(&service, status, &code, "injected by the test fault layer")
        }
        Some(Fault::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Rewrite { .. }) | Some(Fault::LostAnswer) | None => {}
    }
    let call = model
        .as_ref()
        .map(|_| Call::parse(&service, &body).in_region(&region));
    let mut forwarded = body.clone();
    if let (Some(model), Some(call)) = (&model, &call) {
        match model.admit(call).await {
            Verdict::Forward => {}
            Verdict::ForwardAs(changed) => forwarded = Bytes::from(changed.body()),
            Verdict::Refuse(r) => return error_response(&service, r.status, &r.code, &r.message),
            Verdict::Answer(answer) => return xml_response(answer),
            Verdict::Replay(answer) => {
                return xml_response(model.observe(call, &answer, true).await)
            }
        }
    } else if let Some(answer) = emulated_answer(&key) {
        return answer;
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let uri: hyper::Uri = format!("{}{}", upstream.uri.to_string().trim_end_matches('/'), path)
        .parse()
        .expect("forward uri");
    let mut out = Request::builder().method(parts.method).uri(uri);
    for (name, value) in parts.headers.iter() {
        // a changed body has another length, which hyper sets from the body
        if name == hyper::header::CONTENT_LENGTH && forwarded != body {
            continue;
        }
        out = out.header(name, value);
    }
    let out = out.body(Full::new(forwarded)).expect("forward request");
    match upstream.client.request(out).await {
        Ok(resp) => {
            let (mut parts, answer) = resp.into_parts();
            // the body may be rewritten below; hyper sets the length of what is sent
            parts.headers.remove(hyper::header::CONTENT_LENGTH);
            let mut answer = answer
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if parts.status.is_success() {
                match (&model, &call) {
                    (Some(model), Some(call)) => {
                        let text = String::from_utf8_lossy(&answer).into_owned();
                        answer = Bytes::from(model.observe(call, &text, false).await);
                    }
                    _ => emulate_aws(&upstream.ec2, &key, &body).await,
                }
                if let Some(Fault::Rewrite { from, to }) = &fault {
                    answer =
                        Bytes::from(String::from_utf8_lossy(&answer).replace(from.as_str(), to));
                }
                if fault == Some(Fault::LostAnswer) {
                    return error_response(
                        &service,
                        500,
                        "InternalError",
                        "An internal error has occurred",
                    );
                }
            }
            Response::from_parts(parts, Full::new(answer))
        }
        Err(_) => error_response(&service, 503, "ServiceUnavailable", "moto did not answer"),
    }
}
