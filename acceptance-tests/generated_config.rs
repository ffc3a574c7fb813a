//! What the resource page says about `terraform plan -generate-config-out`:
//! the generated configuration carries `user_data = null # sensitive`, and
//! applied as is it would change the app tier; with the script put back the
//! plan only imports.

use crate::harness::faults::FaultLayer;
use crate::harness::moto::Moto;
use crate::harness::terraform::Workspace;

const SCRIPT: &str = "#!/bin/bash\\necho ok > /tmp/ready\\n";

#[test]
fn generated_configuration_needs_the_user_data_back() {
    let moto = Moto::start();
    let layer = FaultLayer::start(&moto.endpoint());
    let original = Workspace::new(Some(layer.endpoint()));
    original.write(&format!(
        "resource \"prodvpc_environment\" \"shop\" {{\n  name = \"shop\"\n  app {{\n    user_data = \"{SCRIPT}\"\n  }}\n  bastion {{\n    enabled = false\n  }}\n}}\n"
    ));
    original.ok(&["apply", "-auto-approve", "-no-color"]);

    let adopter = Workspace::new(Some(layer.endpoint()));
    adopter.write("import {\n  to = prodvpc_environment.shop\n  id = \"shop\"\n}\n");
    adopter.ok(&["plan", "-no-color", "-generate-config-out=generated.tf"]);
    let generated = std::fs::read_to_string(adopter.path().join("generated.tf")).unwrap();
    // Terraform aligns the `=` of neighbouring attributes
    let redacted = generated
        .lines()
        .find(|line| line.trim_start().starts_with("user_data "))
        .filter(|line| line.ends_with("= null # sensitive"))
        .unwrap_or_else(|| panic!("user_data is not written as null:\n{generated}"))
        .to_string();

    let as_generated = adopter.run(&["plan", "-no-color"]);
    assert!(
        as_generated
            .stdout
            .contains("1 to import, 0 to add, 1 to change"),
        "the generated configuration as is must change the app tier:\n{}",
        as_generated.text()
    );

    let fixed = generated.replace(&redacted, &format!("user_data = \"{SCRIPT}\""));
    std::fs::write(adopter.path().join("generated.tf"), fixed).unwrap();
    let plan = adopter.ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("1 to import, 0 to add, 0 to change, 0 to destroy"),
        "with the script back the plan only imports:\n{}",
        plan.text()
    );
}
