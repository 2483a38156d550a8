//! `--auth-cmd`: a shell command run before every attempt, its output used as a bearer token.
//! Implemented as a core auth provider (an async closure), so the core decides when it runs —
//! including the immediate re-run after a 401.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use wstether::{AuthFuture, AuthProvider, AuthRequest};

use crate::output::Secrets;

/// How long the command may take before the attempt fails with an auth error.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// An auth provider that runs `command` through the shell for every attempt.
///
/// The command sees `WSTETHER_ATTEMPT` (attempt number) and `WSTETHER_AFTER_UNAUTHORIZED`
/// (`1` when the previous attempt got a 401, so a cached token must be refreshed).
pub fn provider(command: String, secrets: Secrets) -> impl AuthProvider {
    move |request: AuthRequest| -> AuthFuture {
        let command = command.clone();
        let secrets = secrets.clone();
        Box::pin(async move {
            let token = token(&command, request, &secrets).await?;
            Ok(vec![(
                "Authorization".to_string(),
                format!("Bearer {token}"),
            )])
        })
    }
}

/// Run the command once and return the token it printed (registered as a secret).
pub async fn token(
    command: &str,
    request: AuthRequest,
    secrets: &Secrets,
) -> Result<String, String> {
    let mut cmd = shell(command);
    cmd.env("WSTETHER_ATTEMPT", request.attempt.to_string())
        .env(
            "WSTETHER_AFTER_UNAUTHORIZED",
            if request.after_unauthorized { "1" } else { "0" },
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(COMMAND_TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("auth command did not finish within {COMMAND_TIMEOUT:?}"))?
        .map_err(|e| format!("cannot run auth command: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let token = stdout.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
    // Register before any check can put the text into an error message.
    secrets.add(token);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("").trim();
        return Err(secrets.scrub(&format!(
            "auth command failed ({}){}{first}",
            output.status,
            if first.is_empty() { "" } else { ": " }
        )));
    }
    if token.is_empty() {
        return Err("auth command printed no token".into());
    }
    if token.contains(['\r', '\n']) {
        return Err("auth command printed more than one line; print only the token".into());
    }
    Ok(token.to_string())
}

#[cfg(unix)]
fn shell(command: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(command);
    c
}

#[cfg(windows)]
fn shell(command: &str) -> Command {
    let mut c = Command::new("cmd");
    c.arg("/C").arg(command);
    c
}
