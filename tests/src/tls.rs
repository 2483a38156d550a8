//! Throw-away certificates for TLS test servers, made fresh with rcgen: a CA and a server
//! certificate for `localhost` and 127.0.0.1 (the default), a self-signed end-entity
//! certificate, a self-signed CA-flagged one (what a plain `openssl req -x509` makes), and
//! client identities for mutual TLS.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Which certificate a TLS test server presents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServerCert {
    /// Signed by a fresh CA; the CA is what a client trusts.
    #[default]
    CaSigned,
    /// Self-signed, not a CA (CA:FALSE): trusted as a root or pinned.
    SelfSigned,
    /// Self-signed and CA-flagged, as `openssl req -x509` makes: only a pin accepts it.
    SelfSignedCa,
}

/// How a TLS test server is set up.
#[derive(Clone, Debug, Default)]
pub struct TlsSetup {
    /// The certificate it presents.
    pub cert: ServerCert,
    /// When set, every client must present a certificate signed by this CA (PEM).
    pub client_ca_pem: Option<String>,
}

/// A client certificate for mutual TLS, and the CA a server trusts for it (all PEM).
#[derive(Clone, Debug)]
pub struct ClientIdentity {
    /// The CA that signed the client certificate: a server's `client_ca_pem`.
    pub ca_pem: String,
    /// The client certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

/// A fresh CA and a client certificate signed by it.
pub fn client_identity() -> io::Result<ClientIdentity> {
    let ca_key = KeyPair::generate().map_err(io_err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io_err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wstether-testkit client CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(io_err)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().map_err(io_err)?;
    let mut params = CertificateParams::new(vec!["client.test".to_string()]).map_err(io_err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "wstether test client");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).map_err(io_err)?;
    Ok(ClientIdentity {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A self-signed certificate for `localhost` and 127.0.0.1 and its key (PEM); `ca` sets the
/// CA flag, as `openssl req -x509` does.
pub fn self_signed(ca: bool) -> io::Result<(String, String)> {
    let key = KeyPair::generate().map_err(io_err)?;
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).map_err(io_err)?;
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    let cert = params.self_signed(&key).map_err(io_err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A TLS acceptor presenting `cert_pem` (chain, leaf first) with `key_pem`; with
/// `client_ca_pem`, clients must present a certificate that CA signed.
pub fn acceptor_from_pem(
    cert_pem: &str,
    key_pem: &str,
    client_ca_pem: Option<&str>,
) -> io::Result<TlsAcceptor> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(io_err)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(io_err)?;
    server_config(chain, key, client_ca_pem)
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca_pem: Option<&str>,
) -> io::Result<TlsAcceptor> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(io_err)?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert.map_err(io_err)?).map_err(io_err)?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(io_err)?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).map_err(io_err)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TLS acceptor as `setup` says, and the PEM a client trusts or pins: the CA for
/// [`ServerCert::CaSigned`], the certificate itself for the self-signed kinds.
pub(crate) fn make_acceptor_with(setup: &TlsSetup) -> io::Result<(TlsAcceptor, String)> {
    let client_ca = setup.client_ca_pem.as_deref();
    match setup.cert {
        ServerCert::CaSigned => {
            let (chain, key, ca_pem) = ca_signed()?;
            Ok((server_config(chain, key, client_ca)?, ca_pem))
        }
        kind => {
            let (cert, key) = self_signed(kind == ServerCert::SelfSignedCa)?;
            Ok((acceptor_from_pem(&cert, &key, client_ca)?, cert))
        }
    }
}

/// Returns a TLS acceptor and the PEM of the CA that signed its certificate
/// (the certificate a client must trust).
pub(crate) fn make_acceptor() -> io::Result<(TlsAcceptor, String)> {
    make_acceptor_with(&TlsSetup::default())
}

/// A CA-signed chain for `localhost` and 127.0.0.1, its key, and the CA's PEM.
fn ca_signed() -> io::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String)> {
    let ca_key = KeyPair::generate().map_err(io_err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io_err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wstether-testkit CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(io_err)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(io_err)?;
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).map_err(io_err)?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(io_err)?;

    let chain = vec![
        CertificateDer::from(leaf_cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    Ok((chain, key, ca_cert.pem()))
}
