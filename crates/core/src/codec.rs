//! Little-endian writer and a strict, bounds-checked reader for the byte layouts in
//! docs/format.md. The reader never panics and never allocates more than the input holds.

use crate::error::{DecodeError, FieldError};

/// Appends fixed-width little-endian fields.
#[derive(Default)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// A string: u16 length, then UTF-8 bytes. A longer string is refused, naming `field`:
    /// cutting it would encode (and have signed) something other than what was submitted.
    pub fn str(&mut self, field: &str, s: &str) -> Result<(), FieldError> {
        let b = s.as_bytes();
        let n = u16::try_from(b.len()).map_err(|_| {
            FieldError::new(
                field,
                format!(
                    "is {} bytes, the layout holds at most {}",
                    b.len(),
                    u16::MAX
                ),
            )
        })?;
        self.u16(n);
        self.raw(b);
        Ok(())
    }
    /// A u8 count of what follows; refused, naming `field`, rather than wrapped past 255.
    pub fn count(&mut self, field: &str, n: usize) -> Result<(), FieldError> {
        let n = u8::try_from(n).map_err(|_| {
            FieldError::new(field, format!("{n} entries, the layout holds at most 255"))
        })?;
        self.u8(n);
        Ok(())
    }
}

/// Reads the layout back; every method fails with the offset instead of panicking.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Starts reading `buf`, naming `what` in errors.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }
    /// Current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }
    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// An error at the current offset.
    pub fn err(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            what: self.what,
            offset: self.pos,
            reason: reason.into(),
        }
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(self.err(format!(
                "truncated: needs {n} more bytes, {} left",
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    /// A u16-length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<String, DecodeError> {
        let n = self.u16()? as usize;
        let at = self.pos;
        let b = self.take(n)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|e| DecodeError {
                what: self.what,
                offset: at,
                reason: format!("invalid UTF-8: {e}"),
            })
    }
    /// A boolean flag byte: 0 or 1, nothing else.
    pub fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError {
                what: self.what,
                offset: self.pos - 1,
                reason: format!("flag byte must be 0 or 1, found {v}"),
            }),
        }
    }
    /// Fails unless every byte was consumed: the layout is canonical, trailing bytes are tampering.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.remaining() != 0 {
            return Err(self.err(format!("{} trailing bytes", self.remaining())));
        }
        Ok(())
    }
}
