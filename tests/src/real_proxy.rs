//! Real proxies from Debian's packages, started on 127.0.0.1 for one test: tinyproxy (HTTP
//! `CONNECT`, optional Basic credentials) and dante's `danted` (SOCKS5, optional
//! username/password, checked against a system user). `scripts/install-proxies.sh` installs
//! both and creates the SOCKS user ([`SOCKS_USER`]); each test suite's script runs it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The system user dante checks SOCKS5 credentials against (made by the install script).
pub const SOCKS_USER: &str = "wstproxy";
/// Its password.
pub const SOCKS_PASSWORD: &str = "pr0xy-pw";
/// An address every SOCKS proxy started here refuses to connect to (reply 2, not allowed).
pub const SOCKS_BLOCKED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Which program a [`RealProxy`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealProxyKind {
    /// tinyproxy: HTTP `CONNECT`.
    Tinyproxy,
    /// dante's `danted`: SOCKS5.
    Dante,
}

/// A proxy process on 127.0.0.1; dropping it stops the process.
pub struct RealProxy {
    kind: RealProxyKind,
    child: Child,
    port: u16,
    credentials: Option<(String, String)>,
    dir: PathBuf,
}

impl Drop for RealProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn program(kind: RealProxyKind) -> &'static str {
    match kind {
        RealProxyKind::Tinyproxy => "tinyproxy",
        RealProxyKind::Dante => "danted",
    }
}

fn find(program: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .map(|d| PathBuf::from(d).join(program))
        .find(|p| p.exists())
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn missing(program: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{program} is not installed: run scripts/install-proxies.sh (apt-get install tinyproxy dante-server)"),
    )
}

impl RealProxy {
    /// tinyproxy requiring `credentials` (Basic) when given. `connect_ports`, when not empty,
    /// are the only ports it tunnels to (others get 403).
    pub fn tinyproxy(
        credentials: Option<(&str, &str)>,
        connect_ports: &[u16],
    ) -> io::Result<RealProxy> {
        let mut config = String::from(
            "Listen 127.0.0.1\nTimeout 60\nMaxClients 200\nAllow 127.0.0.1\nLogLevel Warning\n",
        );
        if let Some((user, pass)) = credentials {
            config.push_str(&format!("BasicAuth {user} {pass}\n"));
        }
        for port in connect_ports {
            config.push_str(&format!("ConnectPort {port}\n"));
        }
        Self::launch(RealProxyKind::Tinyproxy, config, credentials)
    }

    /// danted; with `authenticate`, clients must log in as [`SOCKS_USER`].
    pub fn dante(authenticate: bool) -> io::Result<RealProxy> {
        let method = if authenticate { "username" } else { "none" };
        let config = format!(
            "logoutput: stderr\nexternal: 127.0.0.1\nsocksmethod: {method}\nclientmethod: none\n\
             user.privileged: root\nuser.unprivileged: nobody\n\
             client pass {{ from: 127.0.0.1/32 to: 0.0.0.0/0 }}\n\
             socks block {{ from: 0.0.0.0/0 to: {SOCKS_BLOCKED}/32 }}\n\
             socks pass {{ from: 127.0.0.1/32 to: 0.0.0.0/0 command: connect }}\n"
        );
        let credentials = authenticate.then_some((SOCKS_USER, SOCKS_PASSWORD));
        Self::launch(RealProxyKind::Dante, config, credentials)
    }

    /// Start `kind` with `config` (the port is added here) and wait until it accepts.
    fn launch(
        kind: RealProxyKind,
        config: String,
        credentials: Option<(&str, &str)>,
    ) -> io::Result<RealProxy> {
        let path = find(program(kind)).ok_or_else(|| missing(program(kind)))?;
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!(
            "wstether-{}-{}-{port}",
            program(kind),
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)?;
        let conf = dir.join("proxy.conf");
        let config = match kind {
            RealProxyKind::Tinyproxy => format!("Port {port}\n{config}"),
            RealProxyKind::Dante => format!("internal: 127.0.0.1 port = {port}\n{config}"),
        };
        std::fs::write(&conf, config)?;
        let mut command = Command::new(path);
        match kind {
            RealProxyKind::Tinyproxy => command.arg("-d").arg("-c").arg(&conf),
            RealProxyKind::Dante => command.arg("-f").arg(&conf).arg("-N").arg("1"),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut proxy = RealProxy {
            kind,
            child,
            port,
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                Duration::from_millis(200),
            )
            .is_ok()
            {
                return Ok(proxy);
            }
            if let Some(status) = proxy.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "{} exited at start: {status}",
                    program(kind)
                )));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "{} did not listen within 10 s",
                    program(kind)
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL with its credentials: `http://user:pass@127.0.0.1:port` or `socks5h://…`.
    pub fn url(&self) -> String {
        self.url_with(
            self.credentials
                .as_ref()
                .map(|(u, p)| (u.as_str(), p.as_str())),
        )
    }

    /// Its URL with other credentials (or none).
    pub fn url_with(&self, credentials: Option<(&str, &str)>) -> String {
        let scheme = match self.kind {
            RealProxyKind::Tinyproxy => "http",
            RealProxyKind::Dante => "socks5h",
        };
        let auth = credentials
            .map(|(u, p)| format!("{u}:{p}@"))
            .unwrap_or_default();
        format!("{scheme}://{auth}127.0.0.1:{}", self.port)
    }
}
