//! A Terraform working directory wired to the freshly built provider.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary directory with a CLI config whose `dev_overrides` point at the built provider.
pub struct Workspace {
    dir: tempfile::TempDir,
    endpoint: Option<String>,
}

/// The result of one terraform command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The lines of a plan's text that say what changes: changed attributes and
/// the entries of the `drift` list that the update would clear.
fn planned_changes(plan: &str) -> String {
    let lines: Vec<&str> = plan
        .lines()
        .map(str::trim)
        .filter(|l| {
            (l.starts_with("~ ") && !l.starts_with("~ resource"))
                || (l.starts_with("- \"") && l.contains("; apply "))
                || l.starts_with("Error:")
        })
        .collect();
    if lines.is_empty() {
        "(no changed attribute in its text)".into()
    } else {
        lines.join(" | ")
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_terraform-provider-prodvpc"))
        .parent()
        .expect("binary directory")
        .to_path_buf()
}

impl Workspace {
    /// A workspace whose provider talks to `endpoint` (the fault layer), or to nothing.
    pub fn new(endpoint: Option<String>) -> Workspace {
        Workspace::with_provider_dir(endpoint, &provider_dir())
    }

    /// A workspace whose provider binary is taken from `provider` (a directory).
    pub fn with_provider_dir(endpoint: Option<String>, provider: &Path) -> Workspace {
        let rc = format!(
            "provider_installation {{\n  dev_overrides {{\n    \"prodvpc/prodvpc\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            provider.display()
        );
        Workspace::with_cli_config(endpoint, &rc)
    }

    /// A workspace whose Terraform CLI configuration is `rc` (how providers are installed).
    pub fn with_cli_config(endpoint: Option<String>, rc: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::write(dir.path().join("cli.tfrc"), rc).expect("write cli config");
        Workspace { dir, endpoint }
    }

    /// The working directory, for tests that lay out more than `.tf` files.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `main.tf` (the provider requirement is added when missing).
    pub fn write(&self, hcl: &str) {
        let header = if hcl.contains("required_providers") {
            String::new()
        } else {
            "terraform {\n  required_providers {\n    prodvpc = { source = \"prodvpc/prodvpc\" }\n  }\n}\n".to_string()
        };
        std::fs::write(self.dir.path().join("main.tf"), format!("{header}{hcl}"))
            .expect("write main.tf");
    }

    /// Replaces the workspace's state file, as an older release would have left it.
    pub fn write_state(&self, state: &str) {
        std::fs::write(self.dir.path().join("terraform.tfstate"), state).expect("write state");
    }

    /// Copies the `.tf` files of a directory into the workspace.
    pub fn copy_from(&self, source: &Path) {
        for entry in std::fs::read_dir(source).expect("example directory") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "tf") {
                std::fs::copy(&path, self.dir.path().join(path.file_name().unwrap()))
                    .expect("copy example");
            }
        }
    }

    /// Runs `terraform <args>` with automation settings and the emulator's credentials.
    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args)
            .output()
            .expect("terraform is installed")
            .into()
    }

    /// Runs `terraform <args>` with extra environment variables (log levels, for example).
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        command.output().expect("terraform is installed").into()
    }

    /// Starts `terraform <args>` in a process group of its own, as a terminal
    /// runs a command, so a signal can be sent to it and its providers together.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.spawn_with_env(args, &[])
    }

    /// [`Workspace::spawn`] with more environment variables.
    pub fn spawn_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        self.command(args)
            .envs(env.iter().copied())
            .process_group(0)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("terraform is installed")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("terraform");
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            // logs only where a test asks for them
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PROVIDER")
            .env_remove("TF_LOG_PROVIDER_PRODVPC");
        match &self.endpoint {
            Some(url) => command.env("AWS_ENDPOINT_URL", url),
            // nothing listens there: a test without an emulator must not reach AWS
            None => command.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        };
        command
    }

    /// Runs a command that must succeed, with its output in the failure message.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, 0, "terraform {args:?} failed:\n{}", run.text());
        run
    }

    /// Asserts that `terraform plan` has nothing to do; `context` says when.
    /// The failure message starts with what the plan would change (its drift
    /// entries and changed attributes), which a shortened report still shows.
    pub fn assert_no_changes(&self, context: &str) {
        let plan = self.run(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(
            plan.code,
            0,
            "{context}: the plan is not empty: {}\n\nthe whole plan:\n{}",
            planned_changes(&plan.stdout),
            plan.text()
        );
    }

    /// `terraform output -json` as JSON.
    pub fn outputs(&self) -> serde_json::Value {
        let run = self.ok(&["output", "-json"]);
        serde_json::from_str(&run.stdout).expect("output json")
    }

    /// The resource's attributes from `terraform show -json`.
    pub fn resource_values(&self, address: &str) -> serde_json::Value {
        let run = self.ok(&["show", "-json"]);
        let state: serde_json::Value = serde_json::from_str(&run.stdout).expect("show json");
        state["values"]["root_module"]["resources"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["address"] == address))
            .map(|r| r["values"].clone())
            .unwrap_or(serde_json::Value::Null)
    }
}
