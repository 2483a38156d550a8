//! The Rust examples of README.md and core/README.md run unchanged (but for the URL) against a
//! plain python-websockets echo server, which selects no subprotocol (issue 12, item 9). Each
//! example lives in `tests/readme/` and is compiled here; a test checks the README holds the
//! file verbatim. To see what an example prints, this test binary runs it in a child process
//! of itself (`example_in_child`) and reads its stdout.

use std::process::Command;
use std::time::Duration;

use wstether_testkit::python_echo::PythonEcho;

#[allow(dead_code)]
mod core_readme {
    include!("readme/core.rs");
    pub(super) async fn example(url: &str) -> Result<(), wstether::Error> {
        run(url).await
    }
}

#[allow(dead_code)]
mod root_readme {
    include!("readme/root.rs");
    pub(super) async fn example(url: &str) -> Result<(), wstether::Error> {
        run(url).await
    }
}

const ROOT_README: &str = include_str!("../../README.md");
const CORE_README: &str = include_str!("../README.md");
const ROOT_EXAMPLE: &str = include_str!("readme/root.rs");
const CORE_EXAMPLE: &str = include_str!("readme/core.rs");

#[test]
fn the_readmes_hold_the_examples_verbatim() {
    assert!(
        ROOT_README.contains(&format!("```rust\n{ROOT_EXAMPLE}```")),
        "README.md's Rust block differs from core/tests/readme/root.rs"
    );
    assert!(
        CORE_README.contains(&format!("```rust\n{CORE_EXAMPLE}```")),
        "core/README.md's Rust block differs from core/tests/readme/core.rs"
    );
    for example in [ROOT_EXAMPLE, CORE_EXAMPLE] {
        assert!(example.contains("run(\"ws://localhost:8765\")"));
    }
}

/// Runs one example when this binary was started by [`run_in_child`]; does nothing otherwise.
#[tokio::test]
async fn example_in_child() {
    let (Ok(which), Ok(url)) = (
        std::env::var("WSTETHER_README_EXAMPLE"),
        std::env::var("WSTETHER_README_URL"),
    ) else {
        return;
    };
    let run = async {
        match which.as_str() {
            "root" => root_readme::example(&url).await,
            "core" => core_readme::example(&url).await,
            other => panic!("no example {other}"),
        }
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the example finished in time")
        .expect("the example returned Ok");
}

/// Run example `which` against a fresh echo server; returns what it printed.
fn run_in_child(which: &str) -> String {
    let echo = PythonEcho::start();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "example_in_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WSTETHER_README_EXAMPLE", which)
        .env("WSTETHER_README_URL", &echo.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{which}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_root_readme_example_runs_against_python_websockets() {
    let out = run_in_child("root");
    assert!(out.contains("got Text(\"hello\")"), "{out}");
    assert!(out.contains("0 unsent"), "{out}");
}

#[test]
fn the_core_readme_example_runs_against_python_websockets() {
    let out = run_in_child("core");
    assert!(out.contains("got Text(\"subscribe\")"), "{out}");
    assert!(out.contains("0 unsent"), "{out}");
}
