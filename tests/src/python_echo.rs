//! A plain python-websockets echo server (`tests/echo/echo_server.py`) as a child process: the
//! ordinary third-party server the README examples are run against. Needs `python3`; the
//! `websockets` package is installed once into a venv by `tests/echo/python.sh`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// A running echo server; dropping it stops the process (its stdin closes).
pub struct PythonEcho {
    /// `ws://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    stdin: Option<ChildStdin>,
    child: Child,
}

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

impl PythonEcho {
    /// Start the server; panics with the reason if Python or `websockets` cannot be had.
    pub fn start() -> PythonEcho {
        let echo = repo_root().join("tests").join("echo");
        let out = Command::new("bash")
            .arg(echo.join("python.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run tests/echo/python.sh");
        assert!(out.status.success(), "tests/echo/python.sh failed");
        let python = String::from_utf8(out.stdout)
            .expect("a path")
            .trim()
            .to_string();
        let mut child = Command::new(python)
            .arg(echo.join("echo_server.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the python-websockets echo server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the echo server's URL");
        let url = line.trim().trim_end_matches('/').to_string();
        assert!(url.starts_with("ws://"), "echo server printed {line:?}");
        PythonEcho {
            url,
            stdin: child.stdin.take(),
            child,
        }
    }
}

impl Drop for PythonEcho {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}
