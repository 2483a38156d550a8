//! `FfiBytes`: a byte string that crosses as uniffi's `bytes` type, copied in one piece.
//!
//! uniffi 0.32 serialises a `Vec<u8>` one element at a time (`put_u8` per byte). For message
//! payloads that loop was the largest cost on the host's event thread (about a sixth of its CPU
//! when receiving 64-byte messages). This newtype keeps the wire format and the generated host
//! type (`ByteArray` / `Data`) of `Vec<u8>` and writes and reads the bytes with one copy.

use uniffi::{Lift, Lower, MetadataBuffer, RustBuffer, TypeId};

/// Bytes crossing the FFI: the same wire format as `Vec<u8>` (an `i32` length, then the bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FfiBytes(pub Vec<u8>);

impl From<Vec<u8>> for FfiBytes {
    fn from(bytes: Vec<u8>) -> Self {
        FfiBytes(bytes)
    }
}

impl From<FfiBytes> for Vec<u8> {
    fn from(bytes: FfiBytes) -> Self {
        bytes.0
    }
}

// SAFETY: the wire format and `FfiType` are exactly those of uniffi's own `Vec<u8>` converter
// (an i32 length then the bytes, in a `RustBuffer`), and `TYPE_ID_META` declares `Vec<u8>`, so
// the generated host code reads and writes it as plain bytes.
unsafe impl uniffi::FfiConverter<crate::UniFfiTag> for FfiBytes {
    type FfiType = RustBuffer;

    fn lower(obj: Self) -> RustBuffer {
        <Self as Lower<crate::UniFfiTag>>::lower_into_rust_buffer(obj)
    }

    fn try_lift(v: RustBuffer) -> uniffi::Result<Self> {
        <Self as Lift<crate::UniFfiTag>>::try_lift_from_rust_buffer(v)
    }

    fn write(obj: Self, buf: &mut Vec<u8>) {
        // uniffi limits sequences to i32::MAX items; a payload is bounded by max_message_size.
        let len = i32::try_from(obj.0.len()).unwrap_or(i32::MAX);
        buf.reserve(4 + obj.0.len());
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(&obj.0[..len as usize]);
    }

    fn try_read(buf: &mut &[u8]) -> uniffi::Result<Self> {
        let Some((len, rest)) = buf.split_first_chunk::<4>() else {
            uniffi::deps::anyhow::bail!("bytes: buffer ends inside the length");
        };
        let len = usize::try_from(i32::from_be_bytes(*len))?;
        if rest.len() < len {
            uniffi::deps::anyhow::bail!("bytes: buffer ends inside the payload");
        }
        let (bytes, rest) = rest.split_at(len);
        *buf = rest;
        Ok(FfiBytes(bytes.to_vec()))
    }

    const TYPE_ID_META: MetadataBuffer = <Vec<u8> as TypeId<crate::UniFfiTag>>::TYPE_ID_META;
}

uniffi::derive_ffi_traits!(local FfiBytes);

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path must produce exactly uniffi's own `Vec<u8>` encoding, and read it back.
    #[test]
    fn same_wire_format_as_vec_u8() {
        for payload in [
            vec![],
            vec![0u8, 1, 2, 255],
            (0..=255u8).cycle().take(5000).collect(),
        ] {
            let mut ours = Vec::new();
            <FfiBytes as Lower<crate::UniFfiTag>>::write(FfiBytes(payload.clone()), &mut ours);
            let mut theirs = Vec::new();
            <Vec<u8> as Lower<crate::UniFfiTag>>::write(payload.clone(), &mut theirs);
            assert_eq!(ours, theirs);
            let mut cursor = ours.as_slice();
            let back = <FfiBytes as Lift<crate::UniFfiTag>>::try_read(&mut cursor).unwrap();
            assert_eq!(back.0, payload);
            assert!(cursor.is_empty());
        }
    }

    #[test]
    fn truncated_buffers_are_errors() {
        let mut short: &[u8] = &[0, 0];
        assert!(<FfiBytes as Lift<crate::UniFfiTag>>::try_read(&mut short).is_err());
        let mut cut: &[u8] = &[0, 0, 0, 9, 1, 2];
        assert!(<FfiBytes as Lift<crate::UniFfiTag>>::try_read(&mut cut).is_err());
    }
}
