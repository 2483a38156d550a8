//! Messages accepted by `send` and not yet written: bounded, ordered, never silently dropped.

use std::collections::VecDeque;

use crate::error::Error;
use crate::event::Message;

/// Limits on what may wait in the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxLimits {
    /// Most messages that may wait.
    pub max_messages: usize,
    /// Most payload bytes that may wait.
    pub max_bytes: usize,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        OutboxLimits {
            max_messages: 1000,
            max_bytes: 1 << 20,
        }
    }
}

/// Why the outbox no longer accepts messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sealed {
    /// `close()`: `push` answers [`Error::Closed`].
    Closed,
    /// The client gave up: `push` answers [`Error::Failed`].
    Failed,
}

/// The queue itself. Every message pushed leaves through `pop` (then it is being written, and
/// comes back through `requeue_front` if the link dies first) or through `seal` (then it is
/// handed back as unsent).
#[derive(Debug)]
pub struct Outbox {
    queue: VecDeque<Message>,
    bytes: usize,
    limits: OutboxLimits,
    sealed: Option<Sealed>,
}

impl Outbox {
    /// An empty outbox with these limits.
    pub fn new(limits: OutboxLimits) -> Self {
        Outbox {
            queue: VecDeque::new(),
            bytes: 0,
            limits,
            sealed: None,
        }
    }

    /// The oldest message, to be written.
    pub fn pop(&mut self) -> Option<Message> {
        let msg = self.queue.pop_front()?;
        self.bytes -= msg.len();
        Some(msg)
    }

    /// Accept a message, or say why not.
    pub fn push(&mut self, msg: Message) -> Result<(), Error> {
        match self.sealed {
            Some(Sealed::Closed) => return Err(Error::Closed),
            Some(Sealed::Failed) => return Err(Error::Failed),
            None => {}
        }
        if self.queue.len() >= self.limits.max_messages
            || self.bytes + msg.len() > self.limits.max_bytes
        {
            return Err(Error::QueueFull {
                messages: self.queue.len(),
                bytes: self.bytes,
            });
        }
        self.bytes += msg.len();
        self.queue.push_back(msg);
        Ok(())
    }

    /// Put messages whose write did not complete back at the front, in their order.
    /// They may push the queue past its limits for a moment; nothing accepted is dropped.
    pub fn requeue_front(&mut self, msgs: Vec<Message>) {
        for m in msgs.into_iter().rev() {
            self.bytes += m.len();
            self.queue.push_front(m);
        }
    }

    /// Stop accepting and hand back everything still queued.
    pub fn seal(&mut self, why: Sealed) -> Vec<Message> {
        if self.sealed.is_none() {
            self.sealed = Some(why);
        }
        self.bytes = 0;
        self.queue.drain(..).collect()
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Payload bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ob(n: usize, b: usize) -> Outbox {
        Outbox::new(OutboxLimits {
            max_messages: n,
            max_bytes: b,
        })
    }

    #[test]
    fn bounded_by_count_and_bytes() {
        let mut o = ob(2, 10);
        o.push("abcd".into()).unwrap();
        assert!(matches!(
            o.push("0123456".into()),
            Err(Error::QueueFull { .. })
        ));
        o.push("ef".into()).unwrap();
        assert!(matches!(
            o.push("g".into()),
            Err(Error::QueueFull {
                messages: 2,
                bytes: 6
            })
        ));
    }

    #[test]
    fn requeue_keeps_order_and_seal_returns_all() {
        let mut o = ob(10, 100);
        for s in ["a", "b", "c"] {
            o.push(s.into()).unwrap();
        }
        let batch = vec![o.pop().unwrap(), o.pop().unwrap()];
        o.requeue_front(batch);
        let unsent = o.seal(Sealed::Closed);
        let texts: Vec<_> = unsent
            .iter()
            .map(|m| m.as_text().unwrap().to_string())
            .collect();
        assert_eq!(texts, ["a", "b", "c"]);
        assert_eq!(o.push("d".into()), Err(Error::Closed));
    }
}
