//! Starts `moto_server` on a free loopback port and stops it when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts moto's server where moto reports differently from AWS: DescribeLaunchTemplates
/// gives the tags a template was created with (moto 5.x), AWS its current tags; and
/// moto fails to launch a group's instance from a version made by
/// CreateLaunchTemplateVersion with user data.
const AS_AWS: &str = r#"
import sys
from moto.ec2.models.launch_templates import LaunchTemplate
LaunchTemplate.tags = property(lambda self: self.get_tags(), lambda self, value: None)
# versions made by CreateLaunchTemplateVersion keep their user data as a plain
# string, on which moto's own launch path asserts when the group replaces an instance
from moto.core.types import Base64EncodedString
from moto.ec2.models.launch_templates import LaunchTemplateVersion
def _user_data(self):
    data = self.data.get("UserData")
    return Base64EncodedString(data) if isinstance(data, str) else data
LaunchTemplateVersion.user_data = property(_user_data)
from moto.server import main
sys.exit(main(sys.argv[1:]))
"#;

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
        let child = Command::new("python3")
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
            .expect("python3 with moto is installed (pip install 'moto[server]')");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
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
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
