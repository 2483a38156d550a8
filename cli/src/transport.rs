//! `connect`'s flags for reaching a server: the proxy (`--proxy`, `--no-proxy`; by default the
//! environment's, as curl reads it), pinned certificates (`--pin-cert`), a client certificate
//! (`--client-cert`, `--client-key`) and fixed addresses (`--resolve`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use wstether::{ClientBuilder, Proxy};

use crate::output::Secrets;
use crate::target::UsageError;

/// How to reach the server.
#[derive(Debug, Args)]
pub struct TransportArgs {
    /// Connect through this proxy: `http://[user:pass@]host:port`, `https://…`, `socks5h://…`
    /// (default: HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY from the environment).
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,
    /// Connect directly, ignoring proxy variables in the environment.
    #[arg(long = "no-proxy")]
    pub no_proxy: bool,
    /// Trust exactly this server certificate (PEM file), self-signed or CA-flagged, e.g. one made
    /// by `openssl req -x509` (repeatable). Verification stays on: validity and names are checked.
    #[arg(long = "pin-cert", value_name = "PEM")]
    pub pin_certs: Vec<PathBuf>,
    /// Present this client certificate (PEM file) for mutual TLS; needs --client-key.
    #[arg(long = "client-cert", value_name = "PEM", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM file).
    #[arg(long = "client-key", value_name = "PEM", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Resolve HOST to these addresses instead of asking DNS: `HOST:ADDR[,ADDR…]` (repeatable).
    #[arg(long, value_name = "HOST:ADDRS", value_parser = parse_resolve)]
    pub resolve: Vec<(String, Vec<IpAddr>)>,
}

fn read(flag: &str, path: &Path) -> Result<String, UsageError> {
    std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read {flag} {}: {e}", path.display())))
}

/// `host:addr,addr` (an IPv6 address may be bracketed).
fn parse_resolve(s: &str) -> Result<(String, Vec<IpAddr>), String> {
    let (host, addrs) = s
        .split_once(':')
        .ok_or_else(|| format!("expected HOST:ADDR[,ADDR…], got {s:?}"))?;
    let ips = addrs
        .split(',')
        .map(|a| {
            let a = a.trim().trim_start_matches('[').trim_end_matches(']');
            a.parse::<IpAddr>()
                .map_err(|_| format!("{a:?} is not an IP address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if host.is_empty() || ips.is_empty() {
        return Err(format!("expected HOST:ADDR[,ADDR…], got {s:?}"));
    }
    Ok((host.to_string(), ips))
}

/// Apply the flags; the proxy's credentials are registered as secrets for every printed line.
pub fn apply(
    mut b: ClientBuilder,
    args: &TransportArgs,
    secrets: &Secrets,
) -> Result<ClientBuilder, UsageError> {
    if args.no_proxy {
        b = b.proxy(Proxy::None);
    } else if let Some(url) = &args.proxy {
        // The core never shows proxy credentials; the printer hides them too, in case.
        let password = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .and_then(|(auth, _)| auth.split_once(':'))
            .map(|(_, pass)| pass);
        if let Some(pass) = password.filter(|p| !p.is_empty()) {
            secrets.add(pass);
        }
        b = b.proxy(Proxy::url(url)?);
    }
    for path in &args.pin_certs {
        b = b.pin_certificate_pem(read("--pin-cert", path)?);
    }
    if let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) {
        b = b.client_certificate_pem(read("--client-cert", cert)?, read("--client-key", key)?);
    }
    for (host, ips) in &args.resolve {
        b = b.resolve(host, ips.iter().copied());
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_entries() {
        let (h, ips) = parse_resolve("dual.test:::1,127.0.0.1").unwrap();
        assert_eq!(h, "dual.test");
        assert_eq!(ips.len(), 2);
        assert!(parse_resolve("nohost").is_err());
        assert!(parse_resolve("h:not-ip").is_err());
        let (_, ips) = parse_resolve("h:[::1]").unwrap();
        assert_eq!(ips, vec!["::1".parse::<IpAddr>().unwrap()]);
    }
}
