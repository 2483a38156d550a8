//! [`Batch`]: a run of one client's events for a binding that copies every payload into its
//! host language anyway (the shared event threads of `dispatch`, which Kotlin and Python's
//! callbacks use).
//!
//! Messages under [`PACK_LIMIT`] travel packed in one byte buffer: no allocation, reference
//! count or `Event` per message between the socket and the host (those were about a fifth of
//! a Kotlin client's CPU at 64 B). Larger ones and every other event travel as [`Event`]s, so
//! a large payload still crosses without a copy of its own.
//!
//! The packed form, entry after entry in event order:
//! - [`PACKED_TEXT`], the length as `u32` little-endian, then that many bytes of UTF-8;
//! - [`PACKED_BINARY`], the length, then the bytes;
//! - [`PACKED_OTHER`] alone: the next event of [`Batch::others`].

use crate::event::{Event, Message};

/// Tag of a packed text message.
pub const PACKED_TEXT: u8 = 0;
/// Tag of a packed binary message.
pub const PACKED_BINARY: u8 = 1;
/// Tag of an event that travels as an [`Event`].
pub const PACKED_OTHER: u8 = 2;
/// Messages of this size and up are not packed: they travel as [`Event::Message`] (a slice of
/// the buffer they were read into, handed on without a copy).
pub const PACK_LIMIT: usize = 16 * 1024;

/// Bytes before a packed message's payload: its tag and length.
pub(crate) const ENTRY_HEAD: usize = 5;

/// Append one packed message (`payload` under [`PACK_LIMIT`]; text already checked as UTF-8).
pub(crate) fn put_entry(out: &mut Vec<u8>, text: bool, payload: &[u8]) {
    out.reserve(ENTRY_HEAD + payload.len());
    out.push(if text { PACKED_TEXT } else { PACKED_BINARY });
    // Under PACK_LIMIT: the length always fits.
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The payload length of the packed message at the start of `entry`.
pub(crate) fn entry_len(entry: &[u8]) -> usize {
    u32::from_le_bytes([entry[1], entry[2], entry[3], entry[4]]) as usize
}

/// One client's events, in order, for a host binding; see the module docs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Batch {
    data: Vec<u8>,
    others: Vec<Event>,
    len: usize,
}

/// One event of a [`Batch`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
    /// Any other event, or a message of [`PACK_LIMIT`] bytes or more.
    Event(&'a Event),
}

impl Batch {
    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none (from the dispatcher: the client's stream has ended).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its events, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            data: &self.data,
            others: self.others.iter(),
        }
    }

    /// The events that are not packed, in order.
    pub fn others(&self) -> &[Event] {
        &self.others
    }

    /// The packed entries and the other events, for a binding that hands the packed form on.
    pub fn into_parts(self) -> (Vec<u8>, Vec<Event>) {
        (self.data, self.others)
    }

    /// Append an event: a message under [`PACK_LIMIT`] is packed.
    pub fn push(&mut self, event: Event) {
        self.len += 1;
        match &event {
            Event::Message(m) if m.len() < PACK_LIMIT => {
                let (text, payload) = match m {
                    Message::Text(t) => (true, t.as_bytes()),
                    Message::Binary(b) => (false, &b[..]),
                };
                put_entry(&mut self.data, text, payload);
            }
            _ => {
                self.data.push(PACKED_OTHER);
                self.others.push(event);
            }
        }
    }

    /// Append `count` messages already packed (from the engine's queue, which packs them the
    /// same way and checked every text).
    pub(crate) fn push_packed(&mut self, entries: &[u8], count: usize) {
        self.len += count;
        self.data.extend_from_slice(entries);
    }
}

impl FromIterator<Event> for Batch {
    fn from_iter<I: IntoIterator<Item = Event>>(events: I) -> Batch {
        let mut batch = Batch::default();
        for event in events {
            batch.push(event);
        }
        batch
    }
}

/// The events of a [`Batch`], in order.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    data: &'a [u8],
    others: std::slice::Iter<'a, Event>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let (&tag, _) = self.data.split_first()?;
        if tag == PACKED_OTHER {
            self.data = &self.data[1..];
            return self.others.next().map(Item::Event);
        }
        let len = entry_len(self.data);
        let payload = &self.data[ENTRY_HEAD..ENTRY_HEAD + len];
        self.data = &self.data[ENTRY_HEAD + len..];
        Some(if tag == PACKED_TEXT {
            // SAFETY: only `put_entry` writes packed entries, and every text it is given was
            // checked as UTF-8 (a `Utf8Bytes`, or the decoder's check of a text frame).
            Item::Text(unsafe { std::str::from_utf8_unchecked(payload) })
        } else {
            Item::Binary(payload)
        })
    }
}

impl<'a> IntoIterator for &'a Batch {
    type Item = Item<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::State;

    #[test]
    fn small_messages_are_packed_and_the_rest_travel_as_events_in_order() {
        let big = Message::Binary(vec![7u8; PACK_LIMIT].into());
        let mut batch = Batch::default();
        batch.push(Event::StateChanged { state: State::Open });
        batch.push(Event::Message(Message::text("héllo")));
        batch.push(Event::Message(big.clone()));
        batch.push(Event::Message(Message::Binary(vec![1, 2, 3].into())));
        assert_eq!(batch.len(), 4);
        assert_eq!(batch.others().len(), 2, "the state and the large message");
        let items: Vec<Item<'_>> = batch.iter().collect();
        assert_eq!(
            items,
            vec![
                Item::Event(&Event::StateChanged { state: State::Open }),
                Item::Text("héllo"),
                Item::Event(&Event::Message(big.clone())),
                Item::Binary(&[1, 2, 3]),
            ]
        );
        let (data, others) = batch.into_parts();
        assert_eq!(data[0], PACKED_OTHER);
        assert_eq!(&data[1..7], &[PACKED_TEXT, 6, 0, 0, 0, b'h']);
        assert_eq!(others.len(), 2);
    }
}
