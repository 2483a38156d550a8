//! Checks shared by `connect` and `probe`: the URL, the CA file, secret headers.

use wstether::redact;

use crate::args::Target;
use crate::output::Secrets;

/// Bad input, reported with exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<wstether::Error> for UsageError {
    fn from(e: wstether::Error) -> Self {
        UsageError(e.to_string())
    }
}

/// What `connect` and `probe` need beyond the raw arguments.
pub struct Checked {
    /// The URL with secrets hidden, for the log.
    pub display_url: String,
    /// The extra root CA, read from `--ca-file`.
    pub ca_pem: Option<String>,
    /// The compression to offer (`--no-compression`, `--window-bits`), checked by the core.
    pub compression: wstether::Compression,
}

/// The compression the arguments ask for: the core's default, off, or its windows set.
fn compression(target: &Target) -> Result<wstether::Compression, UsageError> {
    if target.no_compression {
        return Ok(wstether::Compression::disabled());
    }
    let mut c = wstether::Compression::default();
    if let Some(bits) = target.window_bits {
        c.client_max_window_bits = Some(bits);
        c.server_max_window_bits = Some(bits);
    }
    c.validate()
        .map_err(|e| UsageError(format!("--window-bits: {e}")))?;
    Ok(c)
}

/// Validate the URL (the core's rules), read the CA file, and remember secret header values.
pub fn check(target: &Target, secrets: &Secrets) -> Result<Checked, UsageError> {
    let url = wstether::config::parse_url(&target.url).map_err(|e| {
        let hint = match e {
            wstether::Error::InvalidScheme { .. } => {
                " (a WebSocket URL looks like ws://host:port/path or wss://host/path)"
            }
            _ => "",
        };
        UsageError(format!("{e}{hint}"))
    })?;
    for (name, value) in &target.headers {
        if redact::is_secret_header(name) {
            secrets.add(value);
            // "Bearer xyz": the token alone may also show up in server text.
            if let Some((_, token)) = value.split_once(' ') {
                secrets.add(token);
            }
        }
    }
    let ca_pem =
        match &target.ca_file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                UsageError(format!("cannot read --ca-file {}: {e}", path.display()))
            })?),
            None => None,
        };
    Ok(Checked {
        display_url: redact::url(&url),
        ca_pem,
        compression: compression(target)?,
    })
}
