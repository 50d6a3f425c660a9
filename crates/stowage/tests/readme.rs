//! The README's "Use it from Rust" code is the tested example, not a copy that drifts.

#[test]
fn the_readme_shows_the_tested_upload_example() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!(
        "{root}/crates/stowage/examples/upload_recording.rs"
    ))
    .unwrap();
    let section = readme
        .split("## Use it from Rust")
        .nth(1)
        .expect("README has a \"Use it from Rust\" section");
    let code = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has a rust code block");
    assert!(code.len() > 200, "{code}");
    assert!(
        example.contains(code),
        "README's code differs from examples/upload_recording.rs:\n{code}"
    );
}
