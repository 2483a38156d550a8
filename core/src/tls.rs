//! TLS for `wss://` (and `https://` proxies): the trusted roots or pinned certificates, an
//! optional client certificate, and the rustls configuration, with an explicit crypto provider
//! (no process default needed). There is no way to skip verification.
//!
//! Two ways to trust a server:
//! - **roots** (the default): webpki's roots plus any extra root CA; rustls checks the chain,
//!   the name and the validity period;
//! - **pins**: "trust exactly this certificate for this connection". The server's end-entity
//!   certificate must be byte-for-byte (DER) one of the pinned certificates, self-signed or
//!   CA-flagged alike (a plain `openssl req -x509` certificate is both). The pin replaces the
//!   chain check, nothing else: the certificate must be within its validity period, it must
//!   name the host when it carries subject alternative names (a certificate with none, as
//!   `openssl req -x509 -subj /CN=host` makes, is identified by the pin alone), and the server
//!   must prove it holds the certificate's key (the handshake signature is verified as usual).
//!   When pins are set, the roots are not consulted.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::Error;

/// What the caller asked for about TLS: every field as given (PEM text), checked by
/// [`client_config`].
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    /// Extra root CAs (PEM), trusted with webpki's.
    pub extra_roots: Option<String>,
    /// Pinned end-entity certificates (PEM, one or more blocks each).
    pub pins: Vec<String>,
    /// The client certificate chain (PEM) and its private key (PEM) for mutual TLS.
    pub client: Option<(String, String)>,
}

impl TlsOptions {
    fn is_default(&self) -> bool {
        *self == TlsOptions::default()
    }
}

impl fmt::Debug for TlsOptions {
    // The client key is a secret; certificates are public but long: say what is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("extra_roots", &self.extra_roots.is_some())
            .field("pins", &self.pins.len())
            .field(
                "client_certificate",
                &self.client.as_ref().map(|_| "set (key redacted)"),
            )
            .finish()
    }
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The trusted roots: webpki's, plus the caller's extra root CAs (PEM) if any.
pub(crate) fn root_store(extra_root_pem: Option<&str>) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_root_pem {
        for cert in parse_pem_certs(pem)? {
            roots
                .add(cert)
                .map_err(|e| Error::InvalidCertificate(e.to_string()))?;
        }
    }
    Ok(roots)
}

/// The rustls configuration for these options. Without any, every client shares one.
pub(crate) fn client_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, Error> {
    static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if options.is_default() {
        if let Some(config) = DEFAULT.get() {
            return Ok(config.clone());
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidCertificate(e.to_string()))?;
    let builder = if options.pins.is_empty() {
        builder.with_root_certificates(root_store(options.extra_roots.as_deref())?)
    } else {
        if let Some(pem) = &options.extra_roots {
            // Checked anyway, so a bad PEM is reported whatever else is set.
            parse_pem_certs(pem)?;
        }
        let mut pins = Vec::new();
        for pem in &options.pins {
            pins.extend(parse_pem_certs(pem).map_err(|e| match e {
                Error::InvalidCertificate(m) => {
                    Error::InvalidCertificate(format!("pinned certificate: {m}"))
                }
                other => other,
            })?);
        }
        builder
            .dangerous() // rustls's name for "a verifier of your own"; this one is stricter.
            .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
                pins,
                provider: provider(),
            }))
    };
    let config = match &options.client {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let chain = parse_pem_certs(cert_pem).map_err(|e| match e {
                Error::InvalidCertificate(m) => {
                    Error::InvalidCertificate(format!("client certificate: {m}"))
                }
                other => other,
            })?;
            // The key's bytes never reach an error message: only what kind of trouble it is.
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| {
                Error::InvalidCertificate(
                    "client key: no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block found"
                        .into(),
                )
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::InvalidCertificate(format!("client certificate and key: {e}"))
            })?
        }
    };
    let config = Arc::new(config);
    if options.is_default() {
        return Ok(DEFAULT.get_or_init(|| config).clone());
    }
    Ok(config)
}

/// Parse PEM text into certificates, refusing text that holds none.
pub(crate) fn parse_pem_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| Error::InvalidCertificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(Error::InvalidCertificate(
            "no CERTIFICATE block found".into(),
        ));
    }
    Ok(certs)
}

/// Accepts exactly the pinned certificates (see the module's doc for every check it makes).
#[derive(Debug)]
struct PinnedVerifier {
    pins: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

/// The server presented a certificate that is not pinned.
#[derive(Debug)]
struct NotPinned;

impl fmt::Display for NotPinned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the server's certificate is not the pinned certificate")
    }
}

impl std::error::Error for NotPinned {}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self
            .pins
            .iter()
            .any(|pin| pin.as_ref() == end_entity.as_ref())
        {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(NotPinned)),
            )));
        }
        let facts = der::facts(end_entity.as_ref()).ok_or(rustls::Error::InvalidCertificate(
            CertificateError::BadEncoding,
        ))?;
        let now = now.as_secs() as i64;
        if now < facts.not_before {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet,
            ));
        }
        if now > facts.not_after {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
        }
        if facts.has_alt_names {
            let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What went wrong in a TLS handshake, in words that say what to do. `err` is the I/O error
/// tokio-rustls reports; rustls's own error rides inside it.
pub(crate) fn failure_text(err: &std::io::Error) -> String {
    let Some(tls) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return err.to_string();
    };
    const PIN: &str = "pin it with the pinned-certificate option (Rust pin_certificate_pem, \
                       Python pinned_cert_pem, Node tls.pinnedCertPem, Kotlin/Swift \
                       pinnedCertificatePem, CLI --pin-cert)";
    const CA: &str = "add its CA with the root-certificate option (Rust \
                      add_root_certificate_pem, Python ca_pem, Node tls.ca, Kotlin/Swift \
                      rootCertificatePem, CLI --ca-file)";
    match tls {
        // webpki's reason rides in `Other`; its name is all rustls lets through.
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if format!("{:?}", other.0).contains("CaUsedAsEndEntity") =>
        {
            format!(
                "the server's certificate is a CA certificate (CaUsedAsEndEntity), so it cannot \
             be trusted as a root for itself; to trust exactly this certificate, {PIN}"
            )
        }
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
            "the server's certificate is not signed by a trusted CA (UnknownIssuer): {CA}, \
             or, for a self-signed certificate, {PIN}"
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "the server's certificate does not name this host (NotValidForName): connect with \
             a host name the certificate lists ({tls})"
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => format!("the server's certificate has expired: renew it ({tls})"),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => format!("the server's certificate is not valid yet: check the clocks ({tls})"),
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if other.0.downcast_ref::<NotPinned>().is_some() =>
        {
            "the server's certificate is not the pinned certificate: pin the certificate the \
             server presents now, or fix the server"
                .into()
        }
        rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired)
        | rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure)
        | rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate)
        | rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA) => format!(
            "the server refused the handshake ({tls}): it may want a client certificate it \
             trusts (the client-certificate option: Rust client_certificate_pem, Python \
             client_cert_pem/client_key_pem, Node tls.clientCertPem/clientKeyPem, Kotlin/Swift \
             clientCertificatePem/clientKeyPem, CLI \
             --client-cert/--client-key)"
        ),
        other => other.to_string(),
    }
}

/// Just enough DER to read what the pin check needs from a certificate: its validity period and
/// whether it carries subject alternative names. (rustls checks these only along a chain.)
mod der {
    /// What the pin check reads from a certificate.
    pub(super) struct Facts {
        /// Unix seconds.
        pub not_before: i64,
        /// Unix seconds.
        pub not_after: i64,
        pub has_alt_names: bool,
    }

    /// One TLV: its tag, its contents, and what follows it.
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    /// The subjectAltName extension's OID, 2.5.29.17.
    const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

    pub(super) fn facts(cert: &[u8]) -> Option<Facts> {
        let (0x30, cert, _) = tlv(cert)? else {
            return None;
        };
        let (0x30, tbs, _) = tlv(cert)? else {
            return None;
        };
        let mut rest = tbs;
        let (tag, _, after) = tlv(rest)?;
        if tag == 0xa0 {
            rest = after; // version
        }
        let (_, _, after) = tlv(rest)?; // serial number
        let (_, _, after) = tlv(after)?; // signature algorithm
        let (_, _, after) = tlv(after)?; // issuer
        let (0x30, validity, after) = tlv(after)? else {
            return None;
        };
        let (t1, not_before, v) = tlv(validity)?;
        let (t2, not_after, _) = tlv(v)?;
        let (_, _, after) = tlv(after)?; // subject
        let (_, _, mut after) = tlv(after)?; // subject public key info
        let mut has_alt_names = false;
        while !after.is_empty() {
            let (tag, body, next) = tlv(after)?;
            after = next;
            if tag != 0xa3 {
                continue; // issuer/subject unique IDs
            }
            let (0x30, mut exts, _) = tlv(body)? else {
                return None;
            };
            while !exts.is_empty() {
                let (_, ext, next) = tlv(exts)?;
                exts = next;
                let (0x06, oid, _) = tlv(ext)? else {
                    return None;
                };
                has_alt_names |= oid == SAN_OID;
            }
        }
        Some(Facts {
            not_before: time(t1, not_before)?,
            not_after: time(t2, not_after)?,
            has_alt_names,
        })
    }

    /// UTCTime (tag 0x17, `YYMMDDHHMMSSZ`) or GeneralizedTime (0x18, `YYYYMMDDHHMMSSZ`) as Unix
    /// seconds.
    fn time(tag: u8, text: &[u8]) -> Option<i64> {
        let digits = |s: &[u8]| -> Option<i64> {
            s.iter().try_fold(0i64, |acc, b| {
                b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as i64)
            })
        };
        let (year, rest) = match tag {
            0x17 if text.len() == 13 => {
                let yy = digits(&text[..2])?;
                (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
            }
            0x18 if text.len() == 15 => (digits(&text[..4])?, &text[4..]),
            _ => return None,
        };
        if rest[10] != b'Z' {
            return None;
        }
        let (month, day) = (digits(&rest[0..2])?, digits(&rest[2..4])?);
        let (h, m, s) = (
            digits(&rest[4..6])?,
            digits(&rest[6..8])?,
            digits(&rest[8..10])?,
        );
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        // Days since the epoch (Howard Hinnant's days_from_civil).
        let (y, mo) = if month <= 2 {
            (year - 1, month + 9)
        } else {
            (year, month - 3)
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * mo + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(days * 86_400 + h * 3600 + m * 60 + s)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn times() {
            assert_eq!(time(0x17, b"700101000000Z"), Some(0));
            assert_eq!(time(0x17, b"491231235959Z"), Some(2_524_607_999));
            assert_eq!(time(0x18, b"99991231235959Z"), Some(253_402_300_799));
            assert_eq!(time(0x18, b"20240229120000Z"), Some(1_709_208_000));
            assert_eq!(time(0x17, b"700101000000+"), None);
            assert_eq!(time(0x17, b"70010100000Z"), None);
        }

        #[test]
        fn garbage_is_not_a_certificate() {
            assert!(facts(b"").is_none());
            assert!(facts(&[0x30, 0x82, 0xff]).is_none());
            assert!(facts(&[0x30, 0x03, 0x30, 0x01, 0x00]).is_none());
        }
    }
}
