//! The columns of the property table: where a property may appear, which values it may
//! take and how often, and the macro that turns the table into the `Properties` struct.
//!
//! Nothing here knows a particular property: every fact about one lives in its line of
//! the table in `properties.rs`, so that a rule cannot be written in two places that
//! disagree.

use super::value::{Kind, Value};
use super::PropertyContext;
use crate::mqtt::codec::VAR_INT_MAX;

/// Masks of [`PropertyContext`] bits for the table's "allowed in" column.
pub(super) mod on {
    use super::PropertyContext as C;

    const fn bit(ctx: C) -> u16 {
        1 << ctx as u16
    }

    pub const CONNECT: u16 = bit(C::Connect);
    pub const WILL: u16 = bit(C::Will);
    pub const CONNACK: u16 = bit(C::ConnAck);
    pub const PUBLISH: u16 = bit(C::Publish);
    /// PUBACK, PUBREC, PUBREL and PUBCOMP.
    pub const ACK: u16 = bit(C::Ack);
    pub const SUBSCRIBE: u16 = bit(C::Subscribe);
    pub const SUBACK: u16 = bit(C::SubAck);
    pub const UNSUBSCRIBE: u16 = bit(C::Unsubscribe);
    pub const UNSUBACK: u16 = bit(C::UnsubAck);
    pub const DISCONNECT: u16 = bit(C::Disconnect);
    pub const AUTH: u16 = bit(C::Auth);
    /// Every property list.
    pub const ALL: u16 = CONNECT
        | WILL
        | CONNACK
        | PUBLISH
        | ACK
        | SUBSCRIBE
        | SUBACK
        | UNSUBSCRIBE
        | UNSUBACK
        | DISCONNECT
        | AUTH;
}

/// Values a property may take beyond what its wire type can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    /// Every value of the wire type.
    Any,
    /// 0 or 1.
    Flag,
    /// Anything but 0, which the spec calls a protocol error.
    NonZero,
}

/// How many times a property may appear in one property list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// At most once.
    Once,
    /// Any number of times, order kept.
    Many,
    /// Any number of times in PUBLISH, at most once elsewhere.
    ManyInPublish,
}

/// One line of the property table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spec {
    /// The property identifier.
    pub id: u8,
    /// The wire type of its value (derived from the field's Rust type).
    pub kind: Kind,
    /// The values it may take.
    pub range: Range,
    /// How often it may appear.
    pub repeat: Repeat,
    /// The contexts that may carry it, as a mask of [`on`] bits.
    pub allowed: u16,
}

impl Spec {
    /// True when a property list of `ctx` may carry this property.
    pub fn allowed_in(self, ctx: PropertyContext) -> bool {
        self.allowed & (1 << ctx as u16) != 0
    }

    /// True when this property may appear more than once in `ctx`.
    pub fn repeats_in(self, ctx: PropertyContext) -> bool {
        match self.repeat {
            Repeat::Once => false,
            Repeat::Many => true,
            Repeat::ManyInPublish => ctx == PropertyContext::Publish,
        }
    }

    /// True when `value` is in this property's range. A variable byte integer above
    /// 268,435,455 cannot be encoded at all, whatever the property.
    pub fn in_range(self, value: Value<'_>) -> bool {
        let Some(int) = value.int() else {
            return true;
        };
        let fits = !matches!(value, Value::Var(_)) || int <= VAR_INT_MAX;
        fits && match self.range {
            Range::Any => true,
            Range::Flag => int <= 1,
            Range::NonZero => int != 0,
        }
    }
}

/// Defines `Properties` (one field per line), its table `SPECS` (in line order, which is
/// the order properties are written on the wire) and the two pieces of per-field code
/// everything else is built on: `visit` (each present value, in table order) and `store`
/// (a decoded value into its field). The wire type of each property comes from its
/// field's type through [`Slot::KIND`](super::value::Slot::KIND), so the two cannot
/// disagree.
macro_rules! property_table {
    ($(
        $(#[$doc:meta])*
        $id:literal $field:ident: $ty:ty, $range:ident, $repeat:ident, $allowed:expr;
    )*) => {
        /// All MQTT 5.0 properties. `None` / empty means absent.
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct Properties {
            $(
                $(#[$doc])*
                #[doc = concat!("\n\nIdentifier `", stringify!($id), "`; allowed in `",
                    stringify!($allowed), "`; range `", stringify!($range), "`; repeat `",
                    stringify!($repeat), "`.")]
                pub $field: $ty,
            )*
        }

        /// The property table, in identifier order.
        const SPECS: &[Spec] = &[$(Spec {
            id: $id,
            kind: <$ty as Slot>::KIND,
            range: Range::$range,
            repeat: Repeat::$repeat,
            allowed: $allowed,
        }),*];

        impl Properties {
            /// True when no property is set (so a v5 encoder may use a short form): a
            /// test per field, where comparing with `Properties::default()` built, compared
            /// and dropped a whole struct (1.5% of a burst of QoS 0 publishes, which carry
            /// a topic alias).
            pub fn is_empty(&self) -> bool {
                !($(Slot::is_set(&self.$field))||*)
            }

            /// How many fields are set (a list of user properties counts once).
            fn set_count(&self) -> usize {
                0 $(+ usize::from(Slot::is_set(&self.$field)))*
            }

            /// Calls `f` with each present property, in table order.
            fn visit<'a>(&'a self, f: &mut dyn FnMut(u8, Value<'a>)) {
                $(Slot::visit(&self.$field, $id, f);)*
            }

            /// Stores a value of property `id` read with the kind of its table line.
            fn store(&mut self, id: u8, value: Value<'_>) {
                match id {
                    $($id => Slot::store(&mut self.$field, value),)*
                    _ => {}
                }
            }
        }
    };
}
pub(super) use property_table;
