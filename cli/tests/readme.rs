//! The `wstether connect` examples of cli/README.md run unchanged (but for the server's address)
//! against a plain python-websockets echo server, which selects no subprotocol (issue 12,
//! item 9). Not run: the `--auth-cmd` example (it needs your token command) and the `probe`
//! examples (they need a TLS server and its CA file); a `| jq` filter is left off (jq is not
//! installed everywhere).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wstether_testkit::python_echo::PythonEcho;

const README: &str = include_str!("../README.md");

/// Every `wstether connect` command line in the README's sh blocks, continuations joined.
fn connect_examples() -> Vec<String> {
    let mut out = Vec::new();
    for block in README.split("```sh\n").skip(1) {
        let block = block
            .split("```")
            .next()
            .unwrap_or_default()
            .replace("\\\n", " ");
        for line in block.lines() {
            let command = line.split("  #").next().unwrap_or_default().trim();
            if command.contains("wstether connect") && !command.contains("--auth-cmd") {
                out.push(command.split(" | jq").next().unwrap().to_string());
            }
        }
    }
    out
}

/// The command with the binary's path and the echo server's origin in place of the README's.
fn localize(command: &str, echo_url: &str) -> String {
    let command = command.replace(
        "wstether connect",
        &format!("{} connect", env!("CARGO_BIN_EXE_wstether")),
    );
    command
        .split(' ')
        .map(|word| {
            match word
                .strip_prefix("ws://")
                .or_else(|| word.strip_prefix("wss://"))
            {
                Some(rest) => {
                    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
                    format!("{echo_url}{path}")
                }
                None => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn connect_examples_run_against_python_websockets() {
    let examples = connect_examples();
    assert!(examples.len() >= 4, "{examples:#?}");
    let echo = PythonEcho::start();
    for example in &examples {
        let command = localize(example, &echo.url);
        let own_stdin = command.contains(" | ") || command.contains(" </dev/null");
        let mut child = Command::new("sh")
            .args(["-c", &command])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if !own_stdin {
            stdin.write_all(b"hello from the README\n").unwrap();
        }
        drop(stdin); // end of input: the command closes once everything is written
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "{example}: still running after 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{example}\n{stdout}\n{stderr}");
        let expect = if command.contains("--json") {
            "\"event\":\"closed\""
        } else if command.contains(" | ") {
            r#"{"op":"subscribe","topic":"prices"}"#
        } else {
            "hello from the README"
        };
        assert!(
            stdout.contains(expect),
            "{example}: no {expect:?} in\n{stdout}\n{stderr}"
        );
    }
}
