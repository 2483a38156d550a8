//! Where lines go: messages on stdout, the timestamped event log on stderr, or everything as
//! JSON lines on stdout. Every line passes through the secret scrubber first.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::Value;
use wstether::Event;

use crate::render;

/// Secrets seen at run time (tokens from `--auth-cmd`, secret header values), hidden from output.
#[derive(Clone, Debug, Default)]
pub struct Secrets(Arc<Mutex<Vec<String>>>);

impl Secrets {
    /// Remember a secret so no printed line ever contains it.
    pub fn add(&self, secret: &str) {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !secret.is_empty() && !list.iter().any(|s| s == secret) {
            list.push(secret.to_string());
        }
    }

    /// `text` with every known secret replaced by `[redacted]`.
    pub fn scrub(&self, text: &str) -> String {
        let list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        wstether::redact::scrub(text, &list)
    }
}

/// Writes the session's output in the chosen format.
#[derive(Clone, Debug)]
pub struct Printer {
    json: bool,
    secrets: Secrets,
}

impl Printer {
    /// A printer for human output (`json == false`) or JSON lines.
    pub fn new(json: bool, secrets: Secrets) -> Self {
        Printer { json, secrets }
    }

    /// Whether output is JSON lines.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Print one client event: a message on stdout, anything else in the log (or as JSON).
    pub fn event(&self, event: &Event) {
        if self.json {
            self.json_line(render::event_json(event));
            return;
        }
        match event {
            Event::Message(m) => self.stdout(&render::message_text(m)),
            other => {
                if let Some(line) = render::describe(other) {
                    self.log(&line);
                }
            }
        }
    }

    /// A timestamped line in the event log (stderr); nothing in JSON mode.
    pub fn log(&self, text: &str) {
        if !self.json {
            let line = format!("{} {text}", render::clock(SystemTime::now()));
            self.stderr(&line);
        }
    }

    /// A JSON object as one stdout line, with a `ts` field added.
    pub fn json_line(&self, mut value: Value) {
        if let Value::Object(map) = &mut value {
            map.insert(
                "ts".into(),
                Value::String(render::timestamp(SystemTime::now())),
            );
        }
        self.stdout(&value.to_string());
    }

    /// A line on stdout. Write errors (a closed pipe) are ignored: output is best effort.
    pub fn stdout(&self, text: &str) {
        let line = self.secrets.scrub(text);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// A line on stderr, in every mode (problems, the stats line).
    pub fn stderr(&self, text: &str) {
        let line = self.secrets.scrub(text);
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}
