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
pub(crate) enum Sealed {
    Closed,
    Failed,
}

/// The queue itself. Every message pushed leaves through `pop_batch` (then it was written, or it
/// comes back through `requeue_front`) or through `seal` (then it is handed back as unsent).
///
/// It also tracks what a direct write (`link::DirectLink`) must not overtake: a batch the
/// supervisor has taken and is still writing, and messages a direct write left half-flushed.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: VecDeque<Message>,
    bytes: usize,
    limits: OutboxLimits,
    sealed: Option<Sealed>,
    writing: bool,
    unflushed: Vec<Message>,
}

impl Outbox {
    pub fn new(limits: OutboxLimits) -> Self {
        Outbox {
            queue: VecDeque::new(),
            bytes: 0,
            limits,
            sealed: None,
            writing: false,
            unflushed: Vec::new(),
        }
    }

    /// Whether a message may be written directly now without overtaking another: open for
    /// sends, nothing queued, no batch being written, nothing left half-flushed.
    pub fn is_idle(&self) -> bool {
        self.sealed.is_none() && self.queue.is_empty() && !self.writing && self.unflushed.is_empty()
    }

    /// The supervisor finished writing the batch it took (written or requeued).
    pub fn end_write(&mut self) {
        self.writing = false;
    }

    /// A direct write framed `msg` but the socket has not taken all of it yet.
    pub fn push_unflushed(&mut self, msg: Message) {
        self.unflushed.push(msg);
    }

    /// Whether a direct write is waiting for the supervisor to finish its flush.
    pub fn has_unflushed(&self) -> bool {
        !self.unflushed.is_empty()
    }

    /// Take the half-flushed messages to finish their flush (they count as being written
    /// until `end_write`: the supervisor then counts or requeues them).
    pub fn take_unflushed(&mut self) -> Vec<Message> {
        let taken = std::mem::take(&mut self.unflushed);
        if !taken.is_empty() {
            self.writing = true;
        }
        taken
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

    /// Take up to `max` messages (at least one if any) and at most ~`max_bytes` for one write.
    pub fn pop_batch(&mut self, max: usize, max_bytes: usize, into: &mut Vec<Message>) {
        let mut bytes = 0;
        while into.len() < max {
            let Some(front) = self.queue.front() else {
                break;
            };
            if !into.is_empty() && bytes + front.len() > max_bytes {
                break;
            }
            let msg = self.queue.pop_front().expect("front exists");
            bytes += msg.len();
            self.bytes -= msg.len();
            into.push(msg);
        }
        self.writing = !into.is_empty();
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

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

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
        let mut batch = Vec::new();
        o.pop_batch(2, 100, &mut batch);
        assert_eq!(batch.len(), 2);
        o.requeue_front(batch);
        let unsent = o.seal(Sealed::Closed);
        let texts: Vec<_> = unsent
            .iter()
            .map(|m| m.as_text().unwrap().to_string())
            .collect();
        assert_eq!(texts, ["a", "b", "c"]);
        assert_eq!(o.push("d".into()), Err(Error::Closed));
    }

    #[test]
    fn batch_respects_byte_budget_but_takes_one_big_message() {
        let mut o = ob(10, 1000);
        o.push(Message::binary(vec![0; 300])).unwrap();
        o.push(Message::binary(vec![0; 300])).unwrap();
        let mut batch = Vec::new();
        o.pop_batch(10, 100, &mut batch);
        assert_eq!(batch.len(), 1);
    }
}
