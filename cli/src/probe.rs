//! `wstether probe`: connect once (the core's `probe`), print what the handshake, TLS and a few
//! pings showed, and exit 0 only when the endpoint is healthy.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use wstether::probe::{ProbeOptions, ProbeReport};
use wstether::AuthRequest;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::args::{exit, ProbeArgs};
use crate::output::{Printer, Secrets};
use crate::{auth, render, target};

/// What a certificate says, in printable form.
struct CertSummary {
    subject: String,
    issuer: String,
    not_before: i64,
    not_after: i64,
    names: Vec<String>,
}

/// Probe the URL; returns the process exit code.
pub async fn run(args: ProbeArgs) -> i32 {
    let secrets = Secrets::default();
    let printer = Printer::new(args.target.json, secrets.clone());
    let checked = match target::check(&args.target, &secrets) {
        Ok(c) => c,
        Err(e) => {
            printer.stderr(&format!("wstether: {e}"));
            return exit::USAGE;
        }
    };
    let mut headers = args.target.headers.clone();
    if let Some(command) = &args.target.auth_cmd {
        let request = AuthRequest {
            attempt: 1,
            after_unauthorized: false,
        };
        match auth::token(command, request, &secrets).await {
            Ok(token) => headers.push(("Authorization".into(), format!("Bearer {token}"))),
            Err(e) => {
                printer.stderr(&format!("wstether: {e}"));
                return exit::FAILED;
            }
        }
    }
    let options = ProbeOptions {
        headers,
        protocols: args.target.protocols.clone(),
        require_protocol: args.target.require_protocol,
        compression: checked.compression.clone(),
        connect_timeout: args.target.connect_timeout,
        extra_root_pem: checked.ca_pem,
        pings: args.pings,
        ping_timeout: args.ping_timeout,
    };
    let report = match wstether::probe::probe(&args.target.url, options).await {
        Ok(r) => r,
        Err(e) => {
            printer.stderr(&format!("wstether: {e}"));
            return exit::USAGE;
        }
    };
    let code = verdict_code(&report);
    if printer.is_json() {
        printer.stdout(&report_json(&report, code).to_string());
    } else {
        for line in report_lines(&report, code) {
            printer.stdout(&line);
        }
    }
    code
}

/// 0 healthy, 3 nothing reachable, 1 anything else.
fn verdict_code(report: &ProbeReport) -> i32 {
    if report.healthy() {
        exit::OK
    } else if report.address.is_none() {
        exit::UNREACHABLE
    } else {
        exit::FAILED
    }
}

fn verdict_text(report: &ProbeReport, code: i32) -> String {
    match code {
        exit::OK => "healthy".into(),
        exit::UNREACHABLE => format!(
            "unreachable: {}",
            report
                .failure
                .as_ref()
                .map_or_else(|| "no connection".into(), render::cause_text)
        ),
        _ => match &report.failure {
            Some(cause) => format!("unhealthy: {}", render::cause_text(cause)),
            None if !report.answers_pings() => "unhealthy: the server does not answer pings".into(),
            None => "unhealthy".into(),
        },
    }
}

fn summarize(der: &[u8]) -> Option<CertSummary> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => names.push((*n).to_string()),
                GeneralName::IPAddress(b) if b.len() == 4 => {
                    names.push(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string())
                }
                GeneralName::IPAddress(b) if b.len() == 16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(b);
                    names.push(std::net::Ipv6Addr::from(a).to_string())
                }
                _ => {}
            }
        }
    }
    Some(CertSummary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        names,
    })
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// "in 89 days" / "EXPIRED 3 days ago".
fn expiry_words(not_after: i64) -> String {
    let days = (not_after - now_unix()) / 86_400;
    if not_after < now_unix() {
        format!("EXPIRED {} days ago", -days)
    } else {
        format!("in {days} days")
    }
}

fn report_lines(report: &ProbeReport, code: i32) -> Vec<String> {
    let mut out = vec![format!("probe {}", report.url)];
    let row = |out: &mut Vec<String>, k: &str, v: String| out.push(format!("  {k:<12} {v}"));
    match (report.address, report.tcp_time) {
        (Some(addr), Some(t)) => row(
            &mut out,
            "address",
            format!("{addr} (TCP {})", render::duration(t)),
        ),
        _ => row(&mut out, "address", "not connected".into()),
    }
    if let Some(tls) = &report.tls {
        let mut v = tls
            .version
            .clone()
            .unwrap_or_else(|| "version unknown".into());
        if let Some(suite) = &tls.cipher_suite {
            v.push_str(&format!(", {suite}"));
        }
        if let Some(err) = &tls.verify_error {
            v.push_str(&format!(", NOT TRUSTED: {err}"));
        }
        row(&mut out, "tls", v);
        for (i, der) in tls.certificates.iter().enumerate() {
            let key = if i == 0 { "certificate" } else { "  issued by" };
            match summarize(der) {
                Some(c) => {
                    let names = if c.names.is_empty() {
                        String::new()
                    } else {
                        format!(", names {}", c.names.join(" "))
                    };
                    row(
                        &mut out,
                        key,
                        format!(
                            "{}{names}; issuer {}; expires {} ({})",
                            c.subject,
                            c.issuer,
                            render::date(c.not_after),
                            expiry_words(c.not_after)
                        ),
                    );
                }
                None => row(&mut out, key, format!("{} bytes, not parseable", der.len())),
            }
        }
    }
    match (report.status, report.handshake_time) {
        (Some(status), Some(t)) => row(
            &mut out,
            "handshake",
            format!(
                "HTTP {status} {} ({})",
                reason_phrase(status),
                render::duration(t)
            ),
        ),
        _ => row(&mut out, "handshake", "no HTTP response".into()),
    }
    for (name, value) in &report.headers {
        row(&mut out, "  header", format!("{name}: {value}"));
    }
    if report.opened() {
        row(
            &mut out,
            "subprotocol",
            report.protocol.clone().unwrap_or_else(|| "(none)".into()),
        );
        row(
            &mut out,
            "compression",
            report
                .compression
                .clone()
                .unwrap_or_else(|| "(none)".into()),
        );
    }
    if !report.pings.is_empty() {
        let answered = report.pings.iter().filter(|p| p.is_some()).count();
        let rtts: Vec<String> = report
            .pings
            .iter()
            .map(|p| p.map_or_else(|| "timeout".into(), render::duration))
            .collect();
        row(
            &mut out,
            "pings",
            format!(
                "{answered}/{} answered: {}",
                report.pings.len(),
                rtts.join(", ")
            ),
        );
    }
    if let Some(hint) = report.failure.as_ref().and_then(render::hint) {
        row(&mut out, "hint", hint.to_string());
    }
    row(
        &mut out,
        "verdict",
        format!("{} (exit {code})", verdict_text(report, code)),
    );
    out
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

fn report_json(report: &ProbeReport, code: i32) -> Value {
    let tls = report.tls.as_ref().map(|tls| {
        let certs: Vec<Value> = tls
            .certificates
            .iter()
            .map(|der| match summarize(der) {
                Some(c) => json!({
                    "subject": c.subject,
                    "issuer": c.issuer,
                    "names": c.names,
                    "not_before": render::date(c.not_before),
                    "not_after": render::date(c.not_after),
                    "days_left": (c.not_after - now_unix()) / 86_400,
                }),
                None => json!({ "unparseable_bytes": der.len() }),
            })
            .collect();
        json!({
            "version": tls.version,
            "cipher_suite": tls.cipher_suite,
            "verify_error": tls.verify_error,
            "certificates": certs,
        })
    });
    let headers: serde_json::Map<String, Value> = report
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "url": report.url,
        "healthy": report.healthy(),
        "exit_code": code,
        "verdict": verdict_text(report, code),
        "address": report.address.map(|a| a.to_string()),
        "tcp_ms": report.tcp_time.map(render::millis),
        "handshake_ms": report.handshake_time.map(render::millis),
        "status": report.status,
        "headers": headers,
        "protocol": report.protocol,
        "compression": report.compression,
        "tls": tls,
        "pings_ms": report.pings.iter().map(|p| p.map(render::millis)).collect::<Vec<_>>(),
        "answers_pings": report.answers_pings(),
        "failure": report.failure.as_ref().map(render::cause_json),
        "hint": report.failure.as_ref().and_then(render::hint),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wstether::Cause;

    #[test]
    fn unreachable_is_exit_3_and_rejection_exit_1() {
        let unreachable = ProbeReport {
            failure: Some(Cause::ConnectFailed("refused".into())),
            ..ProbeReport::default()
        };
        assert_eq!(verdict_code(&unreachable), exit::UNREACHABLE);
        let rejected = ProbeReport {
            address: Some(([127, 0, 0, 1], 1).into()),
            status: Some(503),
            failure: Some(Cause::HandshakeRejected {
                status: 503,
                retry_after: None,
            }),
            ..ProbeReport::default()
        };
        assert_eq!(verdict_code(&rejected), exit::FAILED);
    }
}
