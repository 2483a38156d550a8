//! A TCP socket whose readability is watched by the consumer's own event loop instead of the
//! runtime's (Unix). A consumer that runs on a loop of its own (Node's JS thread) and reads the
//! link itself would otherwise be woken through a runtime thread on every arrival: the runtime
//! polls every socket registered with it, whether or not anyone waits to read. Here the runtime
//! only hears of the socket when a write had to wait (write interest alone), and reads are
//! plain non-blocking reads: `Pending` on a read registers nothing, because the consumer's loop
//! polls a duplicate of the descriptor (`Events::duplicate_watched_socket`) and comes back when it is readable. Timers
//! and commands still drive the engine, and every drive tries a read, so a link whose consumer
//! is away is still read at each heartbeat.

use std::io::{self, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// A connected, non-blocking TCP socket with write interest only in the runtime.
pub(crate) struct Watched {
    socket: AsyncFd<std::net::TcpStream>,
}

impl Watched {
    /// Take `tcp` out of the runtime's read polling (it stays non-blocking).
    /// Must run on the runtime (the driver's task does), which registers the write interest.
    pub(crate) fn new(tcp: tokio::net::TcpStream) -> io::Result<Watched> {
        let std = tcp.into_std()?;
        std.set_nonblocking(true)?;
        // SAFETY: the `TcpStream` owns its descriptor for as long as the `AsyncFd` holds it.
        let socket = unsafe { AsyncFd::register_with_interest(std, Interest::WRITABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Watched { socket })
    }

    /// The descriptor the consumer's loop watches for readability.
    pub(crate) fn fd(&self) -> RawFd {
        self.socket.get_ref().as_raw_fd()
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let fd = self.fd();
        loop {
            // Straight into the uninitialised room: `initialize_unfilled` would zero all of it
            // first (up to a 64 KiB payload's buffer per read; a memset was 3 % of the CPU of
            // a Python client receiving 64 KiB messages).
            // SAFETY: `read` writes at most `unfilled.len()` bytes into it and reports how many;
            // only those are marked initialised and filled.
            let read = unsafe {
                let unfilled = buf.unfilled_mut();
                libc::read(fd, unfilled.as_mut_ptr().cast(), unfilled.len())
            };
            match usize::try_from(read).map_err(|_| io::Error::last_os_error()) {
                Ok(n) => {
                    // SAFETY: the kernel initialised the first `n` bytes of the unfilled part.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The consumer's loop watches the socket: nothing to register here.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl Watched {
    /// Write with `op` once the runtime says the socket can take bytes.
    fn poll_write_with(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&std::net::TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.socket.poll_write_ready(cx))?;
            if let Ok(result) = guard.try_io(|s| op(s.get_ref())) {
                return Poll::Ready(result);
            }
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |mut s| s.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(cx, |mut s| s.write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.socket.get_ref().shutdown(Shutdown::Write) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }
}
