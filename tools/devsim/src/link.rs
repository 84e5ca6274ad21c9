//! A small blocking TCP driver for one [`Session`]: the calling order of the session's
//! module doc, with a `TcpStream` as the transport and a monotonic `Instant` as the clock.
//! One link per device thread; reads wait at most until the next deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use mqtt_rtc::mqtt::session::{Event, Millis, Session};

/// How long opening a TCP connection may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a closing connection waits for the broker to close its side.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

pub struct Link {
    pub session: Session,
    host: String,
    port: u16,
    stream: Option<TcpStream>,
    epoch: Instant,
    buf: Vec<u8>,
}

impl Link {
    pub fn new(session: Session, host: &str, port: u16) -> Link {
        Link {
            session,
            host: host.to_string(),
            port,
            stream: None,
            epoch: Instant::now(),
            buf: vec![0; 16 * 1024],
        }
    }

    pub fn now(&self) -> Millis {
        self.epoch.elapsed().as_millis() as Millis
    }

    /// Steps 2 and 3 of the calling order, repeated until nothing moves: writes what the
    /// session wants sent, opens and closes the transport when asked, and hands every
    /// other event to `app` (which may call session commands).
    pub fn pump(&mut self, app: &mut dyn FnMut(&mut Session, Millis, Event)) {
        loop {
            let mut moved = false;
            while let Some(bytes) = self.session.poll_transmit() {
                moved = true;
                let written = match self.stream.as_mut() {
                    Some(s) => s.write_all(&bytes).is_ok(),
                    // The connection is already gone: the bytes belong to it.
                    None => true,
                };
                if !written {
                    self.drop_stream();
                    let now = self.now();
                    self.session.handle_connection_lost(now);
                }
            }
            if let Some(event) = self.session.poll_event() {
                moved = true;
                match event {
                    Event::OpenTransport => self.open(),
                    Event::CloseTransport => self.close(),
                    other => {
                        let now = self.now();
                        app(&mut self.session, now, other);
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Waits for bytes until `deadline` (at the latest) and feeds what happened to the
    /// session: bytes, a lost connection, or nothing. Sleeps when there is no connection.
    pub fn wait(&mut self, deadline: Millis) {
        let now = self.now();
        let wait = Duration::from_millis(deadline.saturating_sub(now).max(1));
        let Some(stream) = self.stream.as_mut() else {
            std::thread::sleep(wait);
            return;
        };
        if stream.set_read_timeout(Some(wait)).is_err() {
            self.lost();
            return;
        }
        match stream.read(&mut self.buf) {
            Ok(0) => self.lost(),
            Ok(n) => {
                let now = self.now();
                self.session.handle_bytes(now, &self.buf[..n]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => self.lost(),
        }
    }

    fn lost(&mut self) {
        self.drop_stream();
        let now = self.now();
        self.session.handle_connection_lost(now);
    }

    fn open(&mut self) {
        self.drop_stream();
        match self.connect() {
            Some(stream) => {
                self.stream = Some(stream);
                let now = self.now();
                self.session.handle_transport_open(now);
            }
            None => {
                let now = self.now();
                self.session.handle_connection_lost(now);
            }
        }
    }

    fn connect(&self) -> Option<TcpStream> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .ok()?
            .collect();
        addrs.iter().find_map(|addr| {
            let stream = TcpStream::connect_timeout(addr, CONNECT_TIMEOUT).ok()?;
            let _ = stream.set_nodelay(true);
            Some(stream)
        })
    }

    /// Closes gracefully: our side first, then a short wait for the broker's, so what was
    /// just written (a DISCONNECT) is not lost to a reset.
    fn close(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            let _ = stream.shutdown(Shutdown::Write);
            let until = Instant::now() + CLOSE_LINGER;
            let mut sink = [0u8; 1024];
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
                    break;
                }
                match stream.read(&mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
    }

    fn drop_stream(&mut self) {
        if let Some(stream) = self.stream.take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }
}
