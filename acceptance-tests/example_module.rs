//! `examples/module` and its `terraform test` suite, run the way its users run
//! them: `terraform test` against the emulated AWS, with the built provider
//! (installed through dev_overrides, so no `terraform init`). A failing assertion fails the suite.

use std::path::Path;

use crate::harness::faults::FaultLayer;
use crate::harness::moto::Moto;
use crate::harness::terraform::Workspace;
use crate::harness::Api;

/// A copy of the module and its tests in a fresh workspace wired to the emulator.
fn module_workspace(layer: &FaultLayer) -> Workspace {
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/module");
    let ws = Workspace::new(Some(layer.endpoint()));
    ws.copy_from(&module);
    let tests = ws.path().join("tests");
    std::fs::create_dir(&tests).unwrap();
    for entry in std::fs::read_dir(module.join("tests")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, tests.join(path.file_name().unwrap())).unwrap();
    }
    // no `terraform init`: with dev_overrides Terraform needs none and would ask the registry
    ws
}

/// VPCs still tagged for the environment `name`.
fn vpcs_left(api: &Api, name: &str) -> usize {
    api.tagged_vpcs(name)
}

#[test]
fn the_module_passes_its_terraform_tests() {
    let moto = Moto::start();
    let layer = FaultLayer::start(&moto.endpoint());
    let api = Api::new(&moto.endpoint());
    let ws = module_workspace(&layer);

    let run = ws.run(&["test", "-no-color"]);
    assert_eq!(run.code, 0, "terraform test failed:\n{}", run.text());
    assert!(
        run.stdout.contains("2 passed, 0 failed"),
        "both runs must pass:\n{}",
        run.text()
    );
    // the apply run really built the environment through the provider, and `terraform test` removed it
    assert!(layer.count("ec2:CreateVpc") >= 1, "nothing was created");
    assert_eq!(
        vpcs_left(&api, "module-apply"),
        0,
        "terraform test left the VPC"
    );
}

#[test]
fn a_failing_module_assertion_fails_terraform_test() {
    let moto = Moto::start();
    let layer = FaultLayer::start(&moto.endpoint());
    let ws = module_workspace(&layer);
    let apply = std::fs::read_to_string(ws.path().join("tests/apply.tftest.hcl")).unwrap();
    let wrong = apply.replace(
        "length(output.public_subnet_ids) == 2",
        "length(output.public_subnet_ids) == 3",
    );
    assert_ne!(
        apply, wrong,
        "the assertion to break is in tests/apply.tftest.hcl"
    );
    std::fs::write(ws.path().join("tests/apply.tftest.hcl"), wrong).unwrap();

    let run = ws.run(&["test", "-no-color", "-filter=tests/apply.tftest.hcl"]);
    assert_ne!(
        run.code,
        0,
        "terraform test passed a false assertion:\n{}",
        run.text()
    );
    assert!(
        run.text()
            .contains("not one public and one private subnet per zone"),
        "the failure names the assertion:\n{}",
        run.text()
    );
}
