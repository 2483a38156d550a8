//! TLS for `wss://`: the trusted roots and the rustls configuration, with an explicit crypto
//! provider (no process default needed). There is no way to skip verification.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::error::Error;

/// The trusted roots: webpki's, plus the caller's extra root CA (PEM) if any.
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

/// Build the rustls configuration with an explicit crypto provider (no process default needed).
pub(crate) fn client_config(
    extra_root_pem: Option<&str>,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let roots = root_store(extra_root_pem)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidCertificate(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
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
