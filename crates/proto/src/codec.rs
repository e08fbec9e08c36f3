//! The codec every Imprint service is generated with: prost's, with two differences where a
//! message comes in. A message that does not decode (malformed protobuf, a string field that is
//! not UTF-8) is INVALID_ARGUMENT, the sender's fault, not INTERNAL. And every decoded message
//! is measured against [`Bounded`] before a handler sees it: a list past its length or a string
//! past its size is INVALID_ARGUMENT naming the field, before any work in proportion to it
//! (de-duplicating 12,000 topics once froze the process) is done.

use std::marker::PhantomData;

use imprint_domain::Violations;
use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

/// What a message may hold at most; checked by the codec as it decodes.
pub trait Bounded {
    /// Records each field of `self` past its limit, with its path under `prefix`. Counts and
    /// byte lengths only: nothing here costs more than the message did to decode.
    fn bounds(&self, _prefix: &str, _out: &mut Bounds) {}
}

/// The fields found past their limits.
#[derive(Debug, Default)]
pub struct Bounds {
    violations: Violations,
}

/// UTF-8 holds a character in at most 4 bytes: a string of more bytes than 4 per allowed
/// character is too long whatever it holds, and is refused without being counted.
const MAX_UTF8_BYTES: usize = 4;

fn path(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{field}"),
    }
}

impl Bounds {
    /// A string of at most `max_chars` characters.
    pub fn text(&mut self, prefix: &str, field: &str, value: &str, max_chars: usize) {
        if value.len() > max_chars.saturating_mul(MAX_UTF8_BYTES) {
            self.violations.push(
                path(prefix, field),
                format!(
                    "must be at most {max_chars} characters (got {} bytes)",
                    value.len()
                ),
            );
        }
    }

    /// A string of at most `max_bytes` bytes (tokens, which are ASCII).
    pub fn bytes(&mut self, prefix: &str, field: &str, value: &str, max_bytes: usize) {
        if value.len() > max_bytes {
            self.violations.push(
                path(prefix, field),
                format!("must be at most {max_bytes} bytes (got {})", value.len()),
            );
        }
    }

    /// A list of at most `max` items; `false` (and its items left unchecked) when longer.
    pub fn count(&mut self, prefix: &str, field: &str, len: usize, max: usize) -> bool {
        if len > max {
            self.violations.push(
                path(prefix, field),
                format!("at most {max} entries (got {len})"),
            );
            return false;
        }
        true
    }

    /// A list of at most `max` strings of at most `max_chars` characters each.
    pub fn texts(
        &mut self,
        prefix: &str,
        field: &str,
        values: &[String],
        max: usize,
        max_chars: usize,
    ) {
        if self.count(prefix, field, values.len(), max) {
            for (i, value) in values.iter().enumerate() {
                self.text(prefix, &format!("{field}[{i}]"), value, max_chars);
            }
        }
    }

    /// A list of at most `max` messages, each within its own bounds.
    pub fn each<T: Bounded>(&mut self, prefix: &str, field: &str, items: &[T], max: usize) {
        if self.count(prefix, field, items.len(), max) {
            for (i, item) in items.iter().enumerate() {
                item.bounds(&path(prefix, &format!("{field}[{i}]")), self);
            }
        }
    }

    /// A message field, when set.
    pub fn nested<T: Bounded>(&mut self, prefix: &str, field: &str, item: Option<&T>) {
        if let Some(item) = item {
            item.bounds(&path(prefix, field), self);
        }
    }

    /// The violations of `message`, or `Ok`.
    pub fn check<T: Bounded>(message: &T) -> Result<(), Violations> {
        let mut bounds = Self::default();
        message.bounds("", &mut bounds);
        bounds.violations.into_result(|| ())
    }
}

/// prost's codec, decoding as the module says.
#[derive(Debug, Clone)]
pub struct BoundedCodec<T, U> {
    _types: PhantomData<(T, U)>,
}

impl<T, U> Default for BoundedCodec<T, U> {
    fn default() -> Self {
        Self {
            _types: PhantomData,
        }
    }
}

impl<T, U> Codec for BoundedCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Bounded + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = BoundedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        BoundedDecoder { _type: PhantomData }
    }
}

/// Decodes a message, then checks its bounds.
#[derive(Debug)]
pub struct BoundedDecoder<U> {
    _type: PhantomData<U>,
}

impl<U: Message + Default + Bounded> Decoder for BoundedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let message = U::decode(buf).map_err(|e| {
            Status::invalid_argument(format!("the message is not valid protobuf: {e}"))
        })?;
        Bounds::check(&message).map_err(|v| crate::status::invalid_argument(&v))?;
        Ok(Some(message))
    }
}
