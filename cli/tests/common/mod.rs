//! Drives the built `wstether` binary: spawn it with piped stdio, read its lines with
//! deadlines, send it signals, wait for its exit.

#![allow(dead_code)]

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::time::{timeout_at, Instant};

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_wstether");

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A running `wstether` with its output split into lines.
pub struct Run {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Lines<BufReader<ChildStderr>>,
    /// Every line read so far from stdout and stderr (for "no secret leaked" checks).
    pub seen: Vec<String>,
}

impl Run {
    pub fn start(args: &[&str]) -> Run {
        Self::start_with_env(args, &[])
    }

    /// [`Run::start`] with extra environment variables (e.g. `HTTP_PROXY`).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn wstether");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        Run {
            child,
            stdin,
            stdout,
            stderr,
            seen: Vec::new(),
        }
    }

    /// Write one line to the process's stdin.
    pub async fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// Close stdin (EOF).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// The next stdout line that satisfies `want`, within `timeout`.
    pub async fn stdout_until(
        &mut self,
        timeout: Duration,
        want: impl FnMut(&str) -> bool,
    ) -> String {
        line_until("stdout", &mut self.stdout, &mut self.seen, timeout, want).await
    }

    /// The next stderr line that satisfies `want`, within `timeout`.
    pub async fn stderr_until(
        &mut self,
        timeout: Duration,
        want: impl FnMut(&str) -> bool,
    ) -> String {
        line_until("stderr", &mut self.stderr, &mut self.seen, timeout, want).await
    }

    /// The next JSON line on stdout whose `event` is `name` (every line must parse as JSON).
    pub async fn json_event(&mut self, timeout: Duration, name: &str) -> Value {
        let line = self
            .stdout_until(timeout, |l| {
                let v: Value =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}"));
                assert!(v["ts"].is_string(), "no ts in {l}");
                v["event"] == name
            })
            .await;
        serde_json::from_str(&line).unwrap()
    }

    /// All remaining stdout and stderr lines, then the exit status (killed after `timeout`).
    pub async fn finish(&mut self, timeout: Duration) -> (ExitStatus, Vec<String>, Vec<String>) {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (mut out_done, mut err_done) = (false, false);
        while !(out_done && err_done) {
            tokio::select! {
                l = self.stdout.next_line(), if !out_done => match l {
                    Ok(Some(l)) => out.push(l),
                    _ => out_done = true,
                },
                l = self.stderr.next_line(), if !err_done => match l {
                    Ok(Some(l)) => err.push(l),
                    _ => err_done = true,
                },
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = self.child.kill().await;
                    panic!("wstether did not exit within {timeout:?}; stdout:\n{}\nstderr:\n{}", out.join("\n"), err.join("\n"));
                }
            }
        }
        let status = timeout_at(deadline, self.child.wait())
            .await
            .expect("exit in time")
            .unwrap();
        self.seen.extend(out.iter().cloned());
        self.seen.extend(err.iter().cloned());
        (status, out, err)
    }

    /// Send SIGINT, as Ctrl-C would.
    pub fn interrupt(&self) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -INT failed");
    }
}

/// Run to completion with stdin closed; (exit code, stdout, stderr).
pub async fn run_to_end(args: &[&str], timeout: Duration) -> (i32, String, String) {
    let mut run = Run::start(args);
    run.close_stdin();
    let (status, out, err) = run.finish(timeout).await;
    (status.code().unwrap_or(-1), out.join("\n"), err.join("\n"))
}

/// A TCP port on 127.0.0.1 with nothing listening.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A fresh scratch directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir =
        std::env::temp_dir().join(format!("wstether-cli-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Read `lines` until one satisfies `want`, recording every line in `seen` for failure messages.
async fn line_until<R: tokio::io::AsyncBufRead + Unpin>(
    name: &str,
    lines: &mut Lines<R>,
    seen: &mut Vec<String>,
    timeout: Duration,
    mut want: impl FnMut(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        match timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                seen.push(line.clone());
                if want(&line) {
                    return line;
                }
            }
            other => panic!(
                "{name} ended or timed out ({other:?}); seen so far:\n{}",
                seen.join("\n")
            ),
        }
    }
}
