//! Starts moto's server, corrected as AWS answers, on a free loopback port and
//! stops it when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto's server with the corrections that make it answer as AWS does (the
/// file's docstring lists them), shared with the demo and `make emulator`.
const AS_AWS: &str = include_str!("moto_as_aws.py");

/// The python with the pinned moto: the repository's `.venv` that `.ci/setup`
/// creates, else the first `python3` on PATH.
fn python() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

/// A running moto server, killed on drop (also when a test panics).
pub struct Moto {
    child: Child,
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Moto {
    /// Starts a fresh server (each test gets its own, so tests never see each other's objects).
    pub fn start() -> Moto {
        let port = free_port();
        let python = python();
        let child = Command::new(&python)
            .args(["-c", AS_AWS, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            // PRODVPC_MOTO_LOG=FILE keeps moto's own log (its tracebacks) for debugging
            .stderr(match std::env::var_os("PRODVPC_MOTO_LOG") {
                Some(path) => std::fs::File::create(path)
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
                None => Stdio::null(),
            })
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} cannot start ({e}): run `bash .ci/setup`, which installs moto into .venv/",
                    python.display()
                )
            });
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "moto exited at start ({status}) under {}: PRODVPC_MOTO_LOG=FILE keeps its \
                     message; `bash .ci/setup` installs the moto it needs",
                    python.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not start within 30s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends one request to `service` (as named in the credential scope, from
    /// which moto picks the service; it does not check the signature) and
    /// returns the answer's body. The harness has clients only for the services
    /// the provider calls; tests set up the others (IAM, S3) with this.
    fn send_raw(&self, method: &str, path: &str, service: &str, body: String) -> String {
        use http_body_util::{BodyExt, Full};
        use hyper_util::client::legacy::Client;
        use hyper_util::rt::TokioExecutor;

        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.endpoint()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .body(Full::new(bytes::Bytes::from(body)))
            .expect("a request");
        crate::harness::runtime().block_on(async {
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
                "{method} {service}{path}: {status} {text}"
            );
            text
        })
    }

    /// Creates an instance profile in moto's IAM and returns its ARN. EC2 launches
    /// only with a profile IAM knows.
    pub fn create_instance_profile(&self, name: &str) -> String {
        let text = self.send_raw(
            "POST",
            "/",
            "iam",
            format!(
                "Action=CreateInstanceProfile&Version=2010-05-08&InstanceProfileName={name}&Path=%2F"
            ),
        );
        let arn = text
            .split("<Arn>")
            .nth(1)
            .and_then(|rest| rest.split("</Arn>").next())
            .unwrap_or_else(|| panic!("no Arn in the CreateInstanceProfile answer: {text}"));
        arn.to_string()
    }

    /// Creates an S3 bucket in the emulator's region (a flow log to S3 needs its
    /// bucket to exist, as on AWS).
    pub fn create_bucket(&self, name: &str) {
        self.send_raw("PUT", &format!("/{name}"), "s3", String::new());
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
