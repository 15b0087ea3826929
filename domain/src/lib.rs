//! Quire's vocabulary, named once: what a request, a job, a delivery and a link are, the states
//! they move through, the copyright bases, the audit chain and the actions it records.
//!
//! This crate does no I/O and loads no configuration: it is what every other part of Quire
//! (the state backends, the services, the CLI, the console and the APIs) agrees on. Storage
//! lives in `quire-state`, and what an operation does (and which event it writes) in the
//! services.

/// Defines an enum of plain variants, each with one stable name: the name it is stored, shown,
/// serialised and parsed as. `ALL` lists the variants in order.
macro_rules! named {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    other => Err(format!(
                        concat!("unknown ", $what, " `{}` (one of: {})"),
                        other,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

pub mod action;
pub mod audit;
pub mod compliance;
pub mod delivery;
pub mod events;
pub mod hold;
pub mod ill;
pub mod job;
pub mod names;
pub mod pages;
pub mod placeholders;
pub mod request;
pub mod spool;
pub mod staff;
pub mod time;

pub use self::time::{Timestamp, Zone};
pub use action::Action;
pub use audit::{Anchor, Break, Event, NewEvent, Summary, Verifier};
pub use delivery::{
    CodeCheck, Delivery, DeliveryState, Grant, Link, LinkState, NoticeState, NoticeStatus,
    PickupPolicy, QueuedNotice,
};
pub use job::{Job, JobState};
pub use request::{Basis, Cancellation, Citation, Request};
