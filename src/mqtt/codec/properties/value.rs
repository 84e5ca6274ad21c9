//! One property value on the wire: the seven value types of MQTT 5.0 section 2.2.2.2,
//! how each is read, sized and written, and how each field type of `Properties` hands its
//! values out and takes a decoded one in.
//!
//! Values pass through one non-generic enum so that reading, sizing and writing exist once
//! per wire type, not once per property: this keeps the compiled code small. Nothing here
//! checks where a property may appear or its range; that is the table's job.

use crate::mqtt::codec::primitives::{
    bin_len, put_bin, put_str, put_u16, put_u32, put_var_int, str_len, var_int_len, Reader,
};
use crate::mqtt::codec::{DecodeError, EncodeError};

/// The wire type of a property value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Byte.
    Byte,
    /// Two Byte Integer.
    Two,
    /// Four Byte Integer.
    Four,
    /// Variable Byte Integer.
    Var,
    /// UTF-8 Encoded String.
    Str,
    /// Binary Data.
    Bin,
    /// UTF-8 String Pair.
    Pair,
}

/// A property value, borrowed from the packet being decoded or the struct being encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Byte(u8),
    Two(u16),
    Four(u32),
    Var(u32),
    Str(&'a str),
    Bin(&'a [u8]),
    Pair(&'a str, &'a str),
}

impl<'a> Value<'a> {
    /// Reads a value of wire type `kind`.
    pub fn read(kind: Kind, r: &mut Reader<'a>) -> Result<Value<'a>, DecodeError> {
        Ok(match kind {
            Kind::Byte => Value::Byte(r.u8()?),
            Kind::Two => Value::Two(r.u16()?),
            Kind::Four => Value::Four(r.u32()?),
            Kind::Var => Value::Var(r.var_int()?),
            Kind::Str => Value::Str(r.str()?),
            Kind::Bin => Value::Bin(r.binary()?),
            Kind::Pair => Value::Pair(r.str()?, r.str()?),
        })
    }

    /// The value of an integer property.
    pub fn int(self) -> Option<u32> {
        match self {
            Value::Byte(v) => Some(v.into()),
            Value::Two(v) => Some(v.into()),
            Value::Four(v) | Value::Var(v) => Some(v),
            Value::Str(_) | Value::Bin(_) | Value::Pair(..) => None,
        }
    }

    /// The encoded size, checking that strings and binaries fit their two-byte length and
    /// that strings hold no U+0000.
    pub fn checked_len(self) -> Result<usize, EncodeError> {
        match self {
            Value::Str(s) => str_len(s),
            Value::Bin(b) => bin_len(b),
            Value::Pair(k, v) => Ok(str_len(k)? + str_len(v)?),
            _ => Ok(self.len()),
        }
    }

    /// The encoded size of a value [`Value::checked_len`] accepted.
    pub fn len(self) -> usize {
        match self {
            Value::Byte(_) => 1,
            Value::Two(_) => 2,
            Value::Four(_) => 4,
            Value::Var(v) => var_int_len(v),
            Value::Str(s) => 2 + s.len(),
            Value::Bin(b) => 2 + b.len(),
            Value::Pair(k, v) => 4 + k.len() + v.len(),
        }
    }

    /// Writes a value [`Value::checked_len`] accepted.
    pub fn write(self, out: &mut Vec<u8>) {
        match self {
            Value::Byte(v) => out.push(v),
            Value::Two(v) => put_u16(out, v),
            Value::Four(v) => put_u32(out, v),
            Value::Var(v) => put_var_int(out, v),
            Value::Str(s) => put_str(out, s),
            Value::Bin(b) => put_bin(out, b),
            Value::Pair(k, v) => {
                put_str(out, k);
                put_str(out, v);
            }
        }
    }
}

/// A field type of `Properties`: `Option` for a property that appears at most once, `Vec`
/// for one that may repeat.
pub(crate) trait Slot {
    /// The wire type of the values this field holds; each field type of `Properties` holds
    /// exactly one wire type.
    const KIND: Kind;

    /// Whether the field holds a value (the property is present).
    fn is_set(&self) -> bool;

    /// Calls `f` with each value held, in order.
    fn visit<'a>(&'a self, id: u8, f: &mut dyn FnMut(u8, Value<'a>));

    /// Stores a decoded value. `Properties::decode` reads it with [`Slot::KIND`], so it
    /// always has this field's shape; another shape is ignored rather than a panic.
    fn store(&mut self, value: Value<'_>);
}

/// `Slot` for an optional integer or a repeated one: `$variant` wraps `$int`.
macro_rules! int_slot {
    ($container:ident, $int:ty, $variant:ident) => {
        impl Slot for $container<$int> {
            const KIND: Kind = Kind::$variant;

            fn is_set(&self) -> bool {
                self.iter().next().is_some()
            }

            fn visit<'a>(&'a self, id: u8, f: &mut dyn FnMut(u8, Value<'a>)) {
                for &v in self.iter() {
                    f(id, Value::$variant(v));
                }
            }

            fn store(&mut self, value: Value<'_>) {
                if let Value::$variant(v) = value {
                    int_slot!(@put $container, self, v);
                }
            }
        }
    };
    (@put Option, $slot:expr, $v:expr) => {
        *$slot = Some($v)
    };
    (@put Vec, $slot:expr, $v:expr) => {
        $slot.push($v)
    };
}

int_slot!(Option, u8, Byte);
int_slot!(Option, u16, Two);
int_slot!(Option, u32, Four);
int_slot!(Vec, u32, Var);

impl Slot for Option<String> {
    const KIND: Kind = Kind::Str;

    fn is_set(&self) -> bool {
        self.is_some()
    }

    fn visit<'a>(&'a self, id: u8, f: &mut dyn FnMut(u8, Value<'a>)) {
        if let Some(s) = self {
            f(id, Value::Str(s));
        }
    }

    fn store(&mut self, value: Value<'_>) {
        if let Value::Str(s) = value {
            *self = Some(s.to_owned());
        }
    }
}

impl Slot for Option<Vec<u8>> {
    const KIND: Kind = Kind::Bin;

    fn is_set(&self) -> bool {
        self.is_some()
    }

    fn visit<'a>(&'a self, id: u8, f: &mut dyn FnMut(u8, Value<'a>)) {
        if let Some(b) = self {
            f(id, Value::Bin(b));
        }
    }

    fn store(&mut self, value: Value<'_>) {
        if let Value::Bin(b) = value {
            *self = Some(b.to_vec());
        }
    }
}

impl Slot for Vec<(String, String)> {
    const KIND: Kind = Kind::Pair;

    fn is_set(&self) -> bool {
        !self.is_empty()
    }

    fn visit<'a>(&'a self, id: u8, f: &mut dyn FnMut(u8, Value<'a>)) {
        for (k, v) in self {
            f(id, Value::Pair(k, v));
        }
    }

    fn store(&mut self, value: Value<'_>) {
        if let Value::Pair(k, v) = value {
            self.push((k.to_owned(), v.to_owned()));
        }
    }
}
