//! A small SMTP receiver for the tests and the demo: it speaks enough of RFC 5321 for a client
//! sending one message (EHLO/HELO, AUTH PLAIN/LOGIN accepted as given, MAIL, RCPT, DATA, RSET,
//! NOOP, QUIT), keeps each message, and can be told to refuse the next few (`451`), so e-mail
//! channels are tested against a real conversation, failures included. No TLS: channels that
//! use it say `security = none`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body, as sent (dot-unstuffed).
    pub data: String,
}

#[derive(Default)]
struct State {
    mails: Vec<Mail>,
    refuse_next: u32,
    sessions: u64,
}

#[derive(Clone, Default)]
pub struct SmtpSink {
    state: Arc<Mutex<State>>,
}

/// A running receiver; stops when dropped.
pub struct RunningSmtp {
    pub sink: SmtpSink,
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for RunningSmtp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The longest line or message the receiver reads (a runaway client is cut off).
const MAX_LINE: usize = 4096;
const MAX_MESSAGE: usize = 1 << 20;

impl SmtpSink {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn start(listen: SocketAddr) -> std::io::Result<RunningSmtp> {
        let sink = SmtpSink::default();
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let (serving, cancelled) = (sink.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = cancelled.cancelled() => return,
                    accepted = listener.accept() => {
                        if let Ok((socket, _)) = accepted {
                            let s = serving.clone();
                            tokio::spawn(async move { let _ = s.session(socket).await; });
                        }
                    }
                }
            }
        });
        Ok(RunningSmtp { sink, addr, stop })
    }

    /// Messages received, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        self.lock().mails.clone()
    }

    /// Refuses the next `n` messages at MAIL FROM with `451` (a temporary failure).
    pub fn refuse_next(&self, n: u32) {
        self.lock().refuse_next = n;
    }

    /// Conversations opened since the start.
    pub fn sessions(&self) -> u64 {
        self.lock().sessions
    }

    async fn session(&self, socket: tokio::net::TcpStream) -> std::io::Result<()> {
        self.lock().sessions += 1;
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read);
        write
            .write_all(b"220 sim.smtp ESMTP wxhub test receiver\r\n")
            .await?;
        let mut from = String::new();
        let mut to: Vec<String> = Vec::new();
        let mut auth_steps = 0;
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line).await? == 0 || line.len() > MAX_LINE {
                return Ok(());
            }
            let command = line.trim_end().to_owned();
            if auth_steps > 0 {
                auth_steps -= 1;
                let reply: &[u8] = if auth_steps == 0 {
                    b"235 2.7.0 accepted\r\n"
                } else {
                    b"334 UGFzc3dvcmQ6\r\n"
                };
                write.write_all(reply).await?;
                continue;
            }
            let upper = command.to_ascii_uppercase();
            let reply: Vec<u8> = if upper.starts_with("EHLO") {
                b"250-sim.smtp\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n".to_vec()
            } else if upper.starts_with("HELO") {
                b"250 sim.smtp\r\n".to_vec()
            } else if upper.starts_with("AUTH PLAIN") {
                if upper.len() > "AUTH PLAIN".len() {
                    b"235 2.7.0 accepted\r\n".to_vec()
                } else {
                    auth_steps = 1;
                    b"334 \r\n".to_vec()
                }
            } else if upper.starts_with("AUTH LOGIN") {
                auth_steps = 2;
                b"334 VXNlcm5hbWU6\r\n".to_vec()
            } else if upper.starts_with("MAIL FROM:") {
                let refuse = {
                    let mut s = self.lock();
                    let refuse = s.refuse_next > 0;
                    s.refuse_next = s.refuse_next.saturating_sub(1);
                    refuse
                };
                if refuse {
                    b"451 4.3.0 try again later\r\n".to_vec()
                } else {
                    from = address(&command["MAIL FROM:".len()..]);
                    to.clear();
                    b"250 2.1.0 ok\r\n".to_vec()
                }
            } else if upper.starts_with("RCPT TO:") {
                to.push(address(&command["RCPT TO:".len()..]));
                b"250 2.1.5 ok\r\n".to_vec()
            } else if upper == "DATA" {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if lines.read_line(&mut l).await? == 0 || data.len() > MAX_MESSAGE {
                        return Ok(());
                    }
                    if l == ".\r\n" || l == ".\n" {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                self.lock().mails.push(Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 2.0.0 queued\r\n".to_vec()
            } else if upper == "RSET" || upper == "NOOP" {
                b"250 2.0.0 ok\r\n".to_vec()
            } else if upper == "QUIT" {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            } else {
                b"502 5.5.2 not implemented\r\n".to_vec()
            };
            write.write_all(&reply).await?;
        }
    }
}

/// `<a@b.c> SIZE=…` → `a@b.c`.
fn address(text: &str) -> String {
    let text = text.trim();
    let inner = text
        .strip_prefix('<')
        .and_then(|t| t.split_once('>'))
        .map_or(text, |(a, _)| a);
    inner.to_owned()
}
