//! Installing the provider as users do: the release packaging (`.ci/release`)
//! applied to the binary this test build made, a provider mirror it writes,
//! `terraform init` through a `filesystem_mirror` (no `dev_overrides`), and a
//! plan and apply with the installed package.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::faults::FaultLayer;
use crate::harness::moto::Moto;
use crate::harness::terraform::Workspace;
use crate::harness::Api;

const NAME: &str = "terraform-provider-prodvpc";
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_terraform-provider-prodvpc")
}

fn gpg_installed() -> bool {
    Command::new("gpg").arg("--version").output().is_ok()
}

/// Stops the gpg-agent a throwaway GNUPGHOME started, also when the test fails.
struct AgentStopper<'a>(&'a Path);

impl Drop for AgentStopper<'_> {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.0)
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

/// A throwaway signing key in its own GNUPGHOME; its fingerprint.
fn throwaway_key(gnupg_home: &Path) -> String {
    std::fs::create_dir_all(gnupg_home).unwrap();
    let gpg = |args: &[&str]| -> Output {
        let out = Command::new("gpg")
            .env("GNUPGHOME", gnupg_home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg runs");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    gpg(&[
        "--quick-gen-key",
        "prodvpc release test <release-test@example.invalid>",
        "ed25519",
        "sign",
        "1d",
    ]);
    let listing = gpg(&["--with-colons", "--list-secret-keys"]);
    String::from_utf8_lossy(&listing.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("fpr:"))
        .map(|rest| rest.trim_matches(':').to_string())
        .expect("the key's fingerprint")
}

/// Runs the release packaging on the test build's binary.
fn package(out: &Path, signing: Option<(&Path, &str)>) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/release");
    let mut command = Command::new("bash");
    command
        .arg(script)
        .args(["--binary", binary(), "--out"])
        .arg(out)
        .env_remove("GPG_FINGERPRINT")
        .env_remove("GPG_PRIVATE_KEY")
        .env_remove("GPG_PASSPHRASE");
    if let Some((home, fingerprint)) = signing {
        command
            .env("GNUPGHOME", home)
            .env("GPG_FINGERPRINT", fingerprint);
    }
    let out = command.output().expect("bash runs");
    assert!(
        out.status.success(),
        "release packaging failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `name mode size` of each zip member, read with Python's zipfile.
fn zip_members(zip: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename, oct(i.external_attr >> 16), i.file_size)",
        ])
        .arg(zip)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

fn mirror_cli_config(mirror: &Path) -> String {
    mirror_cli_config_for(mirror, "prodvpc/prodvpc")
}

/// A CLI configuration installing `source` from the filesystem mirror only.
fn mirror_cli_config_for(mirror: &Path, source: &str) -> String {
    format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"{source}\"]\n  }}\n  direct {{\n    exclude = [\"{source}\"]\n  }}\n}}\n",
        mirror.display()
    )
}

/// The `terraform providers lock -fs-mirror=...` commands a page documents,
/// continuation lines joined, as the words of each.
fn documented_lock_commands(page: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(page))
        .unwrap_or_else(|e| panic!("{page}: {e}"));
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("terraform providers lock") && line.contains("-fs-mirror="))
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect()
}

const CONFIG: &str = r#"terraform {
  required_providers {
    prodvpc = {
      source  = "prodvpc/prodvpc"
      version = "~> 0.1"
    }
  }
}

resource "prodvpc_environment" "installed" {
  name         = "installed"
  nat_gateways = "none"
  bastion {
    enabled = false
  }
}
"#;

/// The lock file entry Terraform writes, with `hashes` replaced.
fn lock_file(hashes: &[&str]) -> String {
    let listed: String = hashes.iter().map(|h| format!("    \"{h}\",\n")).collect();
    format!(
        "provider \"registry.terraform.io/prodvpc/prodvpc\" {{\n  version     = \"{VERSION}\"\n  constraints = \"~> 0.1\"\n  hashes = [\n{listed}  ]\n}}\n"
    )
}

#[test]
fn the_version_flag_prints_the_release_and_platform() {
    let out = Command::new(binary()).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("{NAME} {VERSION} (")), "{text}");
    assert!(text.trim_end().ends_with(&platform()), "{text}");
}

#[test]
fn installs_from_a_mirror_made_by_the_release_packaging() {
    let dist = tempfile::tempdir().unwrap();
    let gnupg_home = dist.path().join("gnupg");
    let _agent = AgentStopper(&gnupg_home);
    let fingerprint = gpg_installed().then(|| throwaway_key(&gnupg_home));
    let out_dir = dist.path().join("dist");
    let packaged = package(
        &out_dir,
        fingerprint.as_deref().map(|f| (gnupg_home.as_path(), f)),
    );

    // the files a registry serves
    let file = |name: String| -> PathBuf { out_dir.join(name) };
    let zip = file(format!("{NAME}_{VERSION}_{}.zip", platform()));
    let sums = file(format!("{NAME}_{VERSION}_SHA256SUMS"));
    let manifest = file(format!("{NAME}_{VERSION}_manifest.json"));
    let binary_size = std::fs::metadata(binary()).unwrap().len();
    assert_eq!(
        zip_members(&zip),
        vec![format!("{NAME}_v{VERSION} 0o100755 {binary_size}")]
    );
    let manifest_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(
        manifest_json,
        serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}})
    );
    let sums_text = std::fs::read_to_string(&sums).unwrap();
    let zip_sum = sha256(&zip);
    for path in [&zip, &manifest] {
        let line = format!(
            "{}  {}",
            sha256(path),
            path.file_name().unwrap().to_string_lossy()
        );
        assert!(
            sums_text.lines().any(|l| l == line),
            "{line} not in:\n{sums_text}"
        );
    }
    let signature = file(format!("{NAME}_{VERSION}_SHA256SUMS.sig"));
    match &fingerprint {
        Some(_) => {
            let verifies = |sums: &Path| {
                let out = Command::new("gpg")
                    .env("GNUPGHOME", &gnupg_home)
                    .args(["--batch", "--verify"])
                    .arg(&signature)
                    .arg(sums)
                    .output()
                    .unwrap();
                (
                    out.status.success(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            };
            let (valid, report) = verifies(&sums);
            assert!(valid, "{report}");
            // the signature covers these sums, not others
            let forged = dist.path().join("forged_SHA256SUMS");
            std::fs::write(&forged, sums_text.replace(&zip_sum, &"0".repeat(64))).unwrap();
            let (valid, _) = verifies(&forged);
            assert!(!valid, "a forged SHA256SUMS verified");
        }
        None => {
            assert!(!signature.exists());
            let stderr = String::from_utf8_lossy(&packaged.stderr);
            assert!(stderr.contains("gpg is not installed"), "{stderr}");
        }
    }

    // the mirror: the zip in the packed layout, and the network mirror's documents
    let mirror = out_dir.join("mirror");
    let provider_dir = mirror.join("registry.terraform.io/prodvpc/prodvpc");
    assert_eq!(
        sha256(&provider_dir.join(zip.file_name().unwrap())),
        zip_sum
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(provider_dir.join("index.json")).unwrap())
            .unwrap();
    assert_eq!(index, serde_json::json!({"versions": {VERSION: {}}}));
    let version_doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(provider_dir.join(format!("{VERSION}.json"))).unwrap(),
    )
    .unwrap();
    let archive = &version_doc["archives"][platform()];
    assert_eq!(archive["url"], &*zip.file_name().unwrap().to_string_lossy());
    let h1 = archive["hashes"][0].as_str().unwrap().to_string();

    // install as a user does
    let moto = Moto::start();
    let layer = FaultLayer::start(&moto.endpoint());
    let api = Api::new(&moto.endpoint());
    let rc = mirror_cli_config(&mirror);
    let ws = Workspace::with_cli_config(Some(layer.endpoint()), &rc);
    ws.write(CONFIG);
    let init = ws.ok(&["init", "-no-color"]);
    assert!(
        init.stdout
            .contains(&format!("Installed prodvpc/prodvpc v{VERSION}")),
        "{}",
        init.text()
    );
    let lock = std::fs::read_to_string(ws.path().join(".terraform.lock.hcl")).unwrap();
    assert!(
        lock.contains(&format!("version     = \"{VERSION}\"")),
        "{lock}"
    );
    // Terraform computed the package's hash itself; the mirror published the same
    assert!(lock.contains(&format!("\"{h1}\"")), "{h1} not in:\n{lock}");

    // a lock file pinned to the zip's SHA256SUMS line (`zh:`) accepts the package ...
    let init_with_lock = |hash: &str| {
        let pinned = Workspace::with_cli_config(None, &rc);
        pinned.write(CONFIG);
        std::fs::write(
            pinned.path().join(".terraform.lock.hcl"),
            lock_file(&[hash]),
        )
        .unwrap();
        pinned.run(&["init", "-no-color"])
    };
    let accepted = init_with_lock(&format!("zh:{zip_sum}"));
    assert_eq!(accepted.code, 0, "{}", accepted.text());
    // ... and one pinned to other bytes refuses it
    let refused = init_with_lock(&format!("zh:{}", "0".repeat(64)));
    assert_ne!(refused.code, 0, "{}", refused.text());
    assert!(refused.text().contains("checksum"), "{}", refused.text());

    // the installed package plans and applies
    let plan = ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 2, "{}", plan.text());
    ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(api.tagged_vpcs("installed"), 1);
    ws.assert_no_changes("after apply with the installed package");
}

/// The configuration of [`CONFIG`] naming the provider by OpenTofu's registry host.
fn opentofu_config() -> String {
    CONFIG.replace(
        "source  = \"prodvpc/prodvpc\"",
        "source  = \"registry.opentofu.org/prodvpc/prodvpc\"",
    )
}

#[test]
fn the_mirror_serves_opentofu_and_the_documented_lock_command_succeeds() {
    let dist = tempfile::tempdir().unwrap();
    let out_dir = dist.path().join("dist");
    package(&out_dir, None);
    let mirror = out_dir.join("mirror");
    let zip_name = format!("{NAME}_{VERSION}_{}.zip", platform());

    // the OpenTofu host holds the very files of the Terraform host
    let terraform_host = mirror.join("registry.terraform.io/prodvpc/prodvpc");
    let opentofu_host = mirror.join("registry.opentofu.org/prodvpc/prodvpc");
    for file in [
        zip_name.clone(),
        "index.json".into(),
        format!("{VERSION}.json"),
    ] {
        assert_eq!(
            sha256(&opentofu_host.join(&file)),
            sha256(&terraform_host.join(&file)),
            "{file} differs between the hosts"
        );
    }

    // a configuration naming OpenTofu's host installs from the mirror (Terraform
    // accepts any host, so this checks the layout OpenTofu reads)
    let source = "registry.opentofu.org/prodvpc/prodvpc";
    let tofu = Workspace::with_cli_config(None, &mirror_cli_config_for(&mirror, source));
    tofu.write(&opentofu_config());
    let init = tofu.ok(&["init", "-no-color"]);
    assert!(
        init.stdout
            .contains(&format!("Installed {source} v{VERSION}")),
        "{}",
        init.text()
    );
    let lock = std::fs::read_to_string(tofu.path().join(".terraform.lock.hcl")).unwrap();
    assert!(lock.contains(&format!("provider \"{source}\"")), "{lock}");
    // the installed package runs: validate loads the provider's schema
    tofu.ok(&["validate", "-no-color"]);

    // the lock command each page documents, on the release's mirror
    for page in ["README.md", "docs/index.md", "docs/guides/install.md"] {
        let commands = documented_lock_commands(page);
        assert!(!commands.is_empty(), "{page} documents no lock command");
        for words in commands {
            let ws = Workspace::with_cli_config(None, &mirror_cli_config(&mirror));
            ws.write(CONFIG);
            let args: Vec<String> = words[1..]
                .iter()
                .map(|word| match word.strip_prefix("-fs-mirror=") {
                    Some(_) => format!("-fs-mirror={}", mirror.display()),
                    None => word.clone(),
                })
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = ws.run(&args);
            assert_eq!(run.code, 0, "{page}: {words:?} fails:\n{}", run.text());
            let lock = std::fs::read_to_string(ws.path().join(".terraform.lock.hcl")).unwrap();
            assert!(
                lock.contains("provider \"registry.terraform.io/prodvpc/prodvpc\""),
                "{page}: {lock}"
            );
        }
    }
}

#[test]
fn a_release_for_another_platform_than_the_machine_is_refused() {
    let other = if platform() == "darwin_arm64" {
        "linux_amd64"
    } else {
        "darwin_arm64"
    };
    let dist = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/release");
    let out = Command::new("bash")
        .arg(script)
        .args(["--platform", other, "--out"])
        .arg(dist.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot build {other} on this {} machine",
            platform()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("make release` on a"), "{stderr}");
    assert!(
        std::fs::read_dir(dist.path()).unwrap().next().is_none(),
        "a refused release wrote files"
    );
}
